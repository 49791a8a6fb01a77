INSERT INTO pipeline_stage (`name`, `position`)
SELECT n.name, (SELECT coalesce(max(s.`position`), 0) + 1 FROM pipeline_stage s)
FROM (SELECT ? AS name) AS n
ON DUPLICATE KEY UPDATE `name` = pipeline_stage.`name`
