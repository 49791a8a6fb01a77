-- The training model's statements of a batch of transitions as taskgen
-- generated them before the batch's table: the batch was one JSON parameter
-- (TestTransitionBatchWithoutTable).

-- name: TransitionBatch
-- A batch of many transitions is one transaction of the statements Transition…,
-- each run once for the whole batch. This one keeps the batch in @tm_batch, a
-- JSON array with an array per transition: its task's status and version before
-- it (the guard), its history row's event, time, attempt, actor and message,
-- then the value of every column of the table in driver.go's Columns order.
-- A value that may be null (the event, every column's) is an array of one, or
-- an empty array for null, read at [0]: a path that finds nothing is NULL on
-- MySQL and MariaDB, a JSON null read as text is "null" on MySQL 8.
SET @tm_batch = sqlc.arg(tm_batch);

-- name: TransitionLock
-- Locks the tasks of the batch that still have the status and version its
-- transitions start from, in the batch's order (by id), and keeps their ids in
-- @tm_ids: the transitions applied.
-- It also sets @tm_long to 1 when a transition changes a column of
-- TransitionUpdateLong, to 0 when none does.
SELECT JSON_ARRAYAGG(id), COALESCE(MAX(tm_long), 0) INTO @tm_ids, @tm_long FROM (
    SELECT t.id, NOT (CAST(t.`error_message` AS BINARY) <=> CAST(b.`error_message` AS BINARY)) AS tm_long
    FROM training AS t JOIN JSON_TABLE(@tm_batch, '$[*]' COLUMNS (
        tm_from_status VARCHAR(255) CHARACTER SET ascii COLLATE ascii_bin PATH '$[0]',
        tm_from_version BIGINT PATH '$[1]',
        `id` CHAR(36) CHARACTER SET ascii PATH '$[7][0]',
        `error_message` LONGTEXT PATH '$[13][0]')) AS b ON t.id = b.id AND t.status = b.tm_from_status AND t.version = b.tm_from_version
    FOR UPDATE
) AS tm_locked;

-- name: TransitionUpdateLong
-- The columns of the transitions applied that MariaDB's in-memory temporary
-- tables cannot hold (TEXT, JSON), when a transition changes one
-- (@tm_long): otherwise MariaDB finds the WHERE impossible and updates
-- nothing. An UPDATE of a join keeps the new values in a temporary table
-- until the join is read: with one of these columns, a table on disk for
-- every batch. TransitionUpdateShort sets the other columns; this runs
-- before it, while the guard holds.
UPDATE training AS t JOIN JSON_TABLE(@tm_batch, '$[*]' COLUMNS (
        tm_from_status VARCHAR(255) CHARACTER SET ascii COLLATE ascii_bin PATH '$[0]',
        tm_from_version BIGINT PATH '$[1]',
        `id` CHAR(36) CHARACTER SET ascii PATH '$[7][0]',
        `error_message` LONGTEXT PATH '$[13][0]')) AS b ON t.id = b.id AND t.status = b.tm_from_status AND t.version = b.tm_from_version
SET t.`error_message` = b.`error_message`
WHERE @tm_long = 1;

-- name: TransitionHistory
-- The history rows of the transitions applied, numbered after the task's last.
INSERT INTO training_history (task_id, seq, from_status, to_status, event, at, attempt, actor, message)
SELECT t.id, t.tm_history_seq + 1, b.tm_from_status, b.status, b.tm_event, b.tm_at, b.tm_attempt, b.tm_actor, b.tm_message
FROM training AS t JOIN JSON_TABLE(@tm_batch, '$[*]' COLUMNS (
        tm_from_status VARCHAR(255) CHARACTER SET ascii COLLATE ascii_bin PATH '$[0]',
        tm_from_version BIGINT PATH '$[1]',
        tm_event VARCHAR(255) CHARACTER SET ascii COLLATE ascii_bin PATH '$[2][0]',
        tm_at DATETIME(6) PATH '$[3]',
        tm_attempt INT PATH '$[4]',
        tm_actor LONGTEXT PATH '$[5]',
        tm_message LONGTEXT PATH '$[6]',
        `id` CHAR(36) CHARACTER SET ascii PATH '$[7][0]',
        `status` LONGTEXT PATH '$[8][0]')) AS b ON t.id = b.id AND t.status = b.tm_from_status AND t.version = b.tm_from_version;

-- name: TransitionUpdateShort
-- The transitions applied: every column but the id, the creation time and
-- those of TransitionUpdateLong.
UPDATE training AS t JOIN JSON_TABLE(@tm_batch, '$[*]' COLUMNS (
        tm_from_status VARCHAR(255) CHARACTER SET ascii COLLATE ascii_bin PATH '$[0]',
        tm_from_version BIGINT PATH '$[1]',
        `id` CHAR(36) CHARACTER SET ascii PATH '$[7][0]',
        `status` LONGTEXT PATH '$[8][0]',
        `version` BIGINT PATH '$[9][0]',
        `updated_at` DATETIME(6) PATH '$[11][0]',
        `tag` LONGTEXT PATH '$[12][0]',
        `base_model` LONGTEXT PATH '$[14][0]',
        `epochs` BIGINT PATH '$[15][0]',
        `user_id` LONGTEXT PATH '$[16][0]',
        `progress` BIGINT PATH '$[17][0]',
        `queued_at` DATETIME(6) PATH '$[18][0]',
        `started_at` DATETIME(6) PATH '$[19][0]',
        `end_date` DATETIME(6) PATH '$[20][0]')) AS b ON t.id = b.id AND t.status = b.tm_from_status AND t.version = b.tm_from_version
SET t.`status` = b.`status`,
    t.`version` = b.`version`,
    t.`updated_at` = b.`updated_at`,
    t.`tag` = b.`tag`,
    t.`base_model` = b.`base_model`,
    t.`epochs` = b.`epochs`,
    t.`user_id` = b.`user_id`,
    t.`progress` = b.`progress`,
    t.`queued_at` = b.`queued_at`,
    t.`started_at` = b.`started_at`,
    t.`end_date` = b.`end_date`,
    t.tm_history_seq = t.tm_history_seq + 1;
