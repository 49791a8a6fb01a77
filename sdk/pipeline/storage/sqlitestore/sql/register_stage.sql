INSERT INTO pipeline_stage (name, position, description)
VALUES (?1, CASE WHEN ?2 > 0 THEN ?2 ELSE (SELECT coalesce(max(position), 0) + 1 FROM pipeline_stage) END, ?3)
ON CONFLICT (name) DO UPDATE SET
    position = CASE WHEN ?2 > 0 THEN ?2 ELSE pipeline_stage.position END,
    description = coalesce(excluded.description, pipeline_stage.description)
