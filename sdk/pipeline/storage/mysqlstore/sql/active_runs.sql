-- The store repeats the mark of the status list once per status.
SELECT r.* FROM pipeline_run r WHERE r.status IN (?) ORDER BY r.created_at, r.id
