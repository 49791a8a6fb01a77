// Package storage is the contract between the pipeline tracker (package
// pipeline) and the engines that keep its data, and the helpers the SQL
// engines share.
//
// # What is stored
//
// Runs (tasker's task_runs) and subtasks (subtask_progress) are the
// generated models pipelinerun.PipelineRun and pipelinesubtask.PipelineSubtask.
// Their status changes go through the generated drivers and a backends.Store,
// so every move is checked against the generated lifecycle and recorded in
// the model's history table. Everything the generator does not emit lives
// here, in each engine's own SQL and own versioned migrations:
//
//   - registrations: stages and tasks (tasker's tables stages and tasks), with
//     their order, upserted in one transaction;
//   - tasker's queries: the latest run of every registered task,
//     active runs, run history by stage and task, the subtasks of a run;
//   - the atomic increment of a subtask's items_complete, one statement in the
//     database, so parallel workers never lose a count;
//   - a unique index on (run_id, subtask_number), which the spec language
//     cannot express.
//
// # Engines
//
// memstore keeps everything in memory (tests, programs without
// persistence); sqlitestore, pgstore and mysqlstore keep it in SQLite,
// PostgreSQL and MySQL or MariaDB. Each SQL engine's statements are embedded
// .sql files, one per statement; its migrations (named "pipeline/NNNN_…")
// are applied after the generated models' own by backends/sqlite.Open,
// backends/postgres.Open or backends/mysql.Open. The tests in package
// pipeline run one suite over all four.
package storage
