-- One statement: concurrent increments from any number of processes add up.
-- The WHERE clause never computes items_complete + by, which could pass the
-- largest integer (SQLite would turn it into a REAL, and write it): by (at
-- least 1) is subtracted from the limits instead. Its conditions may be
-- evaluated in any order, so each is safe on its own; SET runs only on the
-- row they let through, whose sum fits.
UPDATE pipeline_subtask SET
    items_complete = items_complete + ?3,
    percent = CASE WHEN items_total > 0 THEN min(100.0, 100.0 * (items_complete + ?3) / items_total) ELSE percent END,
    version = version + 1,
    updated_at = ?4
WHERE run_id = ?1 AND subtask_number = ?2
    AND status IN (SELECT value FROM json_each(?5))
    AND items_complete <= 9223372036854775807 - ?3
    AND (items_total IS NULL OR items_complete <= items_total - ?3)
RETURNING *
