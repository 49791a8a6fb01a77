-- A subtask's items_complete back to an integer where an increment stored
-- a REAL. The increment computed items_complete + by in its WHERE clause,
-- and SQLite turned a sum past the largest integer into a REAL, which the
-- SET then wrote (the INTEGER column keeps a REAL it cannot convert
-- exactly); every read of the subtask, of its run and of the active runs
-- failed on it. PostgreSQL and MySQL refused such a sum, so only SQLite has
-- this migration.
--
-- Such a REAL is a count that overflowed: the subtask gets the largest
-- count allowed, its items_total when it has one (the count may not pass
-- it), else 9223372036854775807, which is what CAST makes of a REAL past
-- it. A REAL within range, which no increment writes, loses its fraction.
-- version and updated_at stay as the increment left them.
UPDATE pipeline_subtask SET items_complete = CASE
        WHEN items_total IS NOT NULL AND items_complete > items_total THEN items_total
        ELSE CAST(items_complete AS INTEGER)
    END
WHERE typeof(items_complete) = 'real';
