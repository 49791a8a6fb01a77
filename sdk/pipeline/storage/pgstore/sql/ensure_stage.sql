INSERT INTO pipeline_stage (name, position)
VALUES ($1, (SELECT coalesce(max(position), 0) + 1 FROM pipeline_stage))
ON CONFLICT (name) DO NOTHING
