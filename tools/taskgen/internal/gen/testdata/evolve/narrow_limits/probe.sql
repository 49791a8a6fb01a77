UPDATE job SET note = 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx' WHERE id = '00000000-0000-4000-8000-000000000001'
UPDATE job SET priority = 0 WHERE id = '00000000-0000-4000-8000-000000000001'
