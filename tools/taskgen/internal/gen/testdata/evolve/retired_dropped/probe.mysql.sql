INSERT INTO job_history (task_id, seq, from_status, to_status, at, actor, message) VALUES ('00000000-0000-4000-8000-000000000001', 99, NULL, 'HELD', '2026-01-01 00:00:00', '', '')
