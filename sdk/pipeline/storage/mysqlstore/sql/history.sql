-- Parameters: the stage twice, the task twice, the limit.
SELECT r.* FROM pipeline_run r
WHERE (? = '' OR r.stage = ?) AND (? = '' OR r.task = ?)
ORDER BY r.created_at DESC, r.id DESC
LIMIT ?
