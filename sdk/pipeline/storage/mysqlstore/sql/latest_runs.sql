SELECT r.* FROM pipeline_task t
JOIN pipeline_run r ON r.id = (
    SELECT r2.id FROM pipeline_run r2 WHERE r2.stage = t.`stage` AND r2.task = t.`name`
    ORDER BY r2.created_at DESC, r2.id DESC LIMIT 1)
