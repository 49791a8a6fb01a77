INSERT INTO pipeline_stage (name, position, description)
VALUES ($1, CASE WHEN $2::bigint > 0 THEN $2::bigint ELSE (SELECT coalesce(max(position), 0) + 1 FROM pipeline_stage) END, $3)
ON CONFLICT (name) DO UPDATE SET
    position = CASE WHEN $2::bigint > 0 THEN $2::bigint ELSE pipeline_stage.position END,
    description = coalesce(excluded.description, pipeline_stage.description)
