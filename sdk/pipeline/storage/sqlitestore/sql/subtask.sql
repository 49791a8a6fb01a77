SELECT s.* FROM pipeline_subtask s WHERE s.run_id = ?1 AND s.subtask_number = ?2
