SELECT s.* FROM pipeline_subtask s WHERE s.run_id = ? AND s.subtask_number = ?
