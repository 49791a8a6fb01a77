-- MySQL cannot read the table an INSERT … VALUES writes: the new row comes
-- from a SELECT, its parameters from the derived table n.
INSERT INTO pipeline_stage (`name`, `position`, `description`)
SELECT n.name, IF(n.pos > 0, n.pos, (SELECT coalesce(max(s.`position`), 0) + 1 FROM pipeline_stage s)), n.description
FROM (SELECT ? AS name, CAST(? AS SIGNED) AS pos, ? AS description) AS n
ON DUPLICATE KEY UPDATE
    `position` = IF(n.pos > 0, n.pos, pipeline_stage.`position`),
    `description` = coalesce(n.description, pipeline_stage.`description`)
