-- MySQL cannot read the table an INSERT … VALUES writes: the new row comes
-- from a SELECT, its parameters from the derived table n. The text goes
-- through CAST: MariaDB inserts a derived table's long text column into a
-- TEXT column cut to its length modulo 65,536, silently, while an
-- expression's value too long for the column is an error, as it should be.
INSERT INTO pipeline_stage (`name`, `position`, `description`)
SELECT n.name, IF(n.pos > 0, n.pos, (SELECT coalesce(max(s.`position`), 0) + 1 FROM pipeline_stage s)), CAST(n.description AS CHAR)
FROM (SELECT ? AS name, CAST(? AS SIGNED) AS pos, ? AS description) AS n
ON DUPLICATE KEY UPDATE
    `position` = IF(n.pos > 0, n.pos, pipeline_stage.`position`),
    `description` = coalesce(n.description, pipeline_stage.`description`)
