-- One statement: concurrent increments from any number of processes add up.
-- MySQL assigns from left to right, each assignment seeing the ones before:
-- percent comes first, from the count before the increment; 1e2 is a DOUBLE,
-- so the percent is computed in floating point, as on the other engines.
-- Parameters: by, by, at, the run, the number, the statuses (the store
-- repeats the mark of the status list once per status), by. MySQL has no
-- RETURNING here: the store reads the row right after.
UPDATE pipeline_subtask SET
    percent = CASE WHEN items_total > 0 THEN LEAST(1e2, 1e2 * (items_complete + ?) / items_total) ELSE percent END,
    items_complete = items_complete + ?,
    version = version + 1,
    updated_at = ?
WHERE run_id = ? AND subtask_number = ?
    AND status IN (?)
    AND (items_total IS NULL OR items_complete + ? <= items_total)
