-- The first statement of a registration: see pipeline_registry_lock.
SELECT `id` FROM pipeline_registry_lock WHERE `id` = 1 FOR UPDATE
