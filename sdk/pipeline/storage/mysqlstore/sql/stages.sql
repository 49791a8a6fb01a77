SELECT `name`, `position` AS `order`, `description` FROM pipeline_stage ORDER BY `position`, `name`
