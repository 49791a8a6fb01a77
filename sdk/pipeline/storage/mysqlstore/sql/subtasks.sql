SELECT s.* FROM pipeline_subtask s WHERE s.run_id = ? ORDER BY s.subtask_number
