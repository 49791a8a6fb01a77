SELECT r.* FROM pipeline_run r
WHERE (?1 = '' OR r.stage = ?1) AND (?2 = '' OR r.task = ?2)
ORDER BY r.created_at DESC, r.id DESC
LIMIT ?3
