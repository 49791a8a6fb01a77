SELECT t.`stage`, t.`name`, t.`type`, t.`position` AS `order`, t.`script_path`, t.`script_filename`, t.`log_path`, t.`log_filename`
FROM pipeline_task t WHERE t.`stage` = ? AND t.`name` = ?
