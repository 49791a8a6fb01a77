-- Parameters: the stage, twice.
SELECT t.`stage`, t.`name`, t.`type`, t.`position` AS `order`, t.`script_path`, t.`script_filename`, t.`log_path`, t.`log_filename`
FROM pipeline_task t JOIN pipeline_stage s ON s.`name` = t.`stage`
WHERE ? = '' OR t.`stage` = ?
ORDER BY s.`position`, s.`name`, t.`position`, t.`name`
