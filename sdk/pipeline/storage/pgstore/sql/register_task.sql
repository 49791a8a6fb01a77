INSERT INTO pipeline_task (stage, name, position, type, script_path, script_filename, log_path, log_filename)
VALUES ($1, $2, CASE WHEN $3::bigint > 0 THEN $3::bigint ELSE (SELECT coalesce(max(t.position), 0) + 1 FROM pipeline_task t WHERE t.stage = $1) END,
    $4, $5, $6, $7, $8)
ON CONFLICT (stage, name) DO UPDATE SET
    position = CASE WHEN $3::bigint > 0 THEN $3::bigint ELSE pipeline_task.position END,
    type = coalesce(excluded.type, pipeline_task.type),
    script_path = coalesce(excluded.script_path, pipeline_task.script_path),
    script_filename = coalesce(excluded.script_filename, pipeline_task.script_filename),
    log_path = coalesce(excluded.log_path, pipeline_task.log_path),
    log_filename = coalesce(excluded.log_filename, pipeline_task.log_filename)
