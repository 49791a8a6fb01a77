SELECT s.* FROM pipeline_subtask s WHERE s.run_id = ?1 ORDER BY s.subtask_number
