SELECT r.* FROM pipeline_run r WHERE r.status IN (SELECT value FROM json_each(?1)) ORDER BY r.created_at, r.id
