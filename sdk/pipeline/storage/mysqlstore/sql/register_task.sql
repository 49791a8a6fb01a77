-- As register_stage: the new row comes from a SELECT over the parameters,
-- the text through CAST so that MariaDB never cuts it.
INSERT INTO pipeline_task (`stage`, `name`, `position`, `type`, `script_path`, `script_filename`, `log_path`, `log_filename`)
SELECT n.stage, n.name,
    IF(n.pos > 0, n.pos, (SELECT coalesce(max(t.`position`), 0) + 1 FROM pipeline_task t WHERE t.`stage` = n.stage)),
    n.type, CAST(n.script_path AS CHAR), CAST(n.script_filename AS CHAR), CAST(n.log_path AS CHAR), CAST(n.log_filename AS CHAR)
FROM (SELECT ? AS stage, ? AS name, CAST(? AS SIGNED) AS pos, ? AS type,
    ? AS script_path, ? AS script_filename, ? AS log_path, ? AS log_filename) AS n
ON DUPLICATE KEY UPDATE
    `position` = IF(n.pos > 0, n.pos, pipeline_task.`position`),
    `type` = coalesce(n.type, pipeline_task.`type`),
    `script_path` = coalesce(n.script_path, pipeline_task.`script_path`),
    `script_filename` = coalesce(n.script_filename, pipeline_task.`script_filename`),
    `log_path` = coalesce(n.log_path, pipeline_task.`log_path`),
    `log_filename` = coalesce(n.log_filename, pipeline_task.`log_filename`)
