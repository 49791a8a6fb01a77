-- One statement: concurrent increments from any number of processes add up.
UPDATE pipeline_subtask SET
    items_complete = items_complete + ?3,
    percent = CASE WHEN items_total > 0 THEN min(100.0, 100.0 * (items_complete + ?3) / items_total) ELSE percent END,
    version = version + 1,
    updated_at = ?4
WHERE run_id = ?1 AND subtask_number = ?2
    AND status IN (SELECT value FROM json_each(?5))
    AND (items_total IS NULL OR items_complete + ?3 <= items_total)
RETURNING *
