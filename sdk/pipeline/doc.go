// Package pipeline tracks pipeline runs for scripts in any language (a port
// of the R package tasker): stages, the tasks registered in them, each run
// of a task with its process, progress and outcome, and the subtasks within
// a run with item-level progress.
//
// # Model
//
//	Stage (pipeline phase: PREREQ, STATIC, DAILY)
//	  └─ Task (work unit / script), registered in order
//	       └─ Run (one execution: run_id, host, PID, user, version, git commit, …)
//	            └─ Subtask 1, 2, … (steps, with items_total and items_complete)
//
// Runs and subtasks are the generated models gen/pipelinerun and
// gen/pipelinesubtask, which share the lifecycle of
// schema/lifecycles/pipeline.yaml:
//
//	NOT_STARTED → STARTED → RUNNING → COMPLETED | FAILED | CANCELLED
//	                 └→ COMPLETED | FAILED | SKIPPED | CANCELLED
//
// Every status change goes through the generated Fire, so an illegal one
// (completing a run twice) is refused with the model's *TransitionError,
// which names the allowed events. An operation that needs a run or
// subtask in other statuses (updating a failed subtask, starting a
// subtask of a finished run) is refused with a *StateError. Both match
// tasktype.ErrTransitionNotAllowed.
//
// # Use
//
//	tr := pipeline.New(store) // a storage.Storage: memstore, sqlitestore, pgstore or mysqlstore; see Open
//	tr.Register(ctx, nil, []pipeline.Task{{Stage: "STATIC", Name: "Build Database"}})
//	run, _ := tr.Start(ctx, "STATIC", "Build Database", pipeline.StartOptions{Subtasks: 2})
//	tr.StartSubtask(ctx, run.ID, 1, pipeline.SubtaskStart{Name: "Loading data", ItemsTotal: &n})
//	tr.IncrementSubtask(ctx, run.ID, 1, 1)          // from any number of workers
//	tr.CompleteSubtask(ctx, run.ID, 1, "All states loaded")
//	tr.StartSubtask(ctx, run.ID, 2, pipeline.SubtaskStart{Name: "Indexing"})
//	tr.CompleteSubtask(ctx, run.ID, 2, "Indexed")
//	tr.Complete(ctx, run.ID, "Finished successfully") // once every declared subtask has finished
//
// (Example runs it.)
//
// # Decisions
//
// These fill gaps in tasker's requirement; each is tested.
//
//   - A run needs its task registered: a typo in a stage or task name is a
//     *NotFoundError listing the stage's registered tasks, not a new task.
//     Registering a task registers its stage.
//   - Registration is idempotent and keeps order: a new stage or task goes
//     last unless it gives a positive Order; registering it again keeps its
//     position and the optional fields left nil.
//   - Progress moves STARTED to RUNNING: the first Update, UpdateSubtask or
//     IncrementSubtask of a run or subtask fires the lifecycle's "run" event,
//     and starting a subtask does so for its run (and makes it the run's
//     current_subtask).
//   - Fail fails the run's unfinished subtasks first ("run failed: …"); Cancel
//     and Skip move them with the same event. Complete refuses while a subtask
//     is unfinished or a declared one never started (an *UnfinishedError;
//     CompleteWith with Force cancels them instead): the record would otherwise claim
//     success for work nobody finished.
//   - IncrementSubtask is one UPDATE in the database (a compare-and-set loop in
//     memory), so parallel workers in any number of processes never lose a
//     count; it may not pass items_total, and the percent follows from it.
//   - Refused calls write nothing: inputs and moves are checked before the
//     first write, and a run or subtask whose start fails after its creation
//     is deleted again.
//   - Concurrent writers of the same run or subtask are retried (read,
//     decide, compare-and-set) a bounded number of times.
//   - Completion estimates come from items per second with a 95% range
//     (see Estimate).
//
// # Logging
//
// Every tracking call logs one line through log/slog, in tasker's form:
//
//	[TASK START] STATIC / Build Database (run_id: 0190…)
//	[SUBTASK START] Subtask 1: Loading data (run_id: 0190…)
//	[SUBTASK UPDATE] Subtask 1 - RUNNING: Processing state 28/56
//	[TASK UPDATE] 0190… - COMPLETED: Finished successfully
//
// with run_id, stage, task and status as attributes. Failures log at
// error level.
package pipeline
