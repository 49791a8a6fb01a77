-- The two statements of the training model's batch of transitions that
-- taskgen generated differently before text and JSON columns were set
-- apart: TransitionLock without @tm_long, and one TransitionUpdate of every
-- column. TestTransitionBatchGeneratedBefore puts them in place of the
-- current ones.

-- name: TransitionLock
-- Locks the tasks of the batch that still have the status and version its
-- transitions start from, in the batch's order (by id), and keeps their ids in
-- @tm_ids: the transitions applied.
SELECT JSON_ARRAYAGG(id) INTO @tm_ids FROM (
    SELECT t.id FROM training AS t JOIN JSON_TABLE(@tm_batch, '$[*]' COLUMNS (
        tm_from_status VARCHAR(255) CHARACTER SET ascii COLLATE ascii_bin PATH '$[0]',
        tm_from_version BIGINT PATH '$[1]',
        `id` CHAR(36) CHARACTER SET ascii PATH '$[7][0]')) AS b ON t.id = b.id AND t.status = b.tm_from_status AND t.version = b.tm_from_version
    FOR UPDATE
) AS tm_locked;

-- name: TransitionUpdate
-- The transitions applied: every column but the id and creation time.
UPDATE training AS t JOIN JSON_TABLE(@tm_batch, '$[*]' COLUMNS (
        tm_from_status VARCHAR(255) CHARACTER SET ascii COLLATE ascii_bin PATH '$[0]',
        tm_from_version BIGINT PATH '$[1]',
        `id` CHAR(36) CHARACTER SET ascii PATH '$[7][0]',
        `status` LONGTEXT PATH '$[8][0]',
        `version` BIGINT PATH '$[9][0]',
        `updated_at` DATETIME(6) PATH '$[11][0]',
        `tag` LONGTEXT PATH '$[12][0]',
        `error_message` LONGTEXT PATH '$[13][0]',
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
    t.`error_message` = b.`error_message`,
    t.`base_model` = b.`base_model`,
    t.`epochs` = b.`epochs`,
    t.`user_id` = b.`user_id`,
    t.`progress` = b.`progress`,
    t.`queued_at` = b.`queued_at`,
    t.`started_at` = b.`started_at`,
    t.`end_date` = b.`end_date`,
    t.tm_history_seq = t.tm_history_seq + 1;
