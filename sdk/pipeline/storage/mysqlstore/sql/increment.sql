-- One statement: concurrent increments from any number of processes add up.
-- MySQL assigns from left to right, each assignment seeing the ones before:
-- percent comes first, from the count before the increment; 1e2 is a DOUBLE,
-- so the percent is computed in floating point, as on the other engines.
-- The WHERE clause never computes items_complete + by, which could pass the
-- largest BIGINT (error 1690): by (at least 1) is subtracted from the limits
-- instead. Its conditions may be evaluated in any order, so each is safe on
-- its own; SET runs only on the row they let through, whose sum fits.
-- Parameters: by, by, at, the run, the number, the statuses (the store
-- repeats the mark of the status list once per status), by, by. MySQL has no
-- RETURNING here: the store reads the row right after.
UPDATE pipeline_subtask SET
    percent = CASE WHEN items_total > 0 THEN LEAST(1e2, 1e2 * (items_complete + ?) / items_total) ELSE percent END,
    items_complete = items_complete + ?,
    version = version + 1,
    updated_at = ?
WHERE run_id = ? AND subtask_number = ?
    AND status IN (?)
    AND items_complete <= 9223372036854775807 - ?
    AND (items_total IS NULL OR items_complete <= items_total - ?)
