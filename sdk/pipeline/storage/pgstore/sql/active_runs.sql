SELECT r.* FROM pipeline_run r WHERE r.status = ANY($1::text[]) ORDER BY r.created_at, r.id
