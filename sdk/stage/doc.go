// Package stage runs tasks made of ordered stages (the stage-execution
// model, schema/stage.yaml) over any storage backend, with retries, backoff,
// checkpoints, rollback and cancellation.
//
// # Model
//
// A task is a list of Stage values sharing one typed state S (a Go type
// parameter: all stages in a task share the same state class).
// A stage has a Name (non-empty, unique, at most 150 characters), a Run
// function and an optional Rollback. The final stage's result, a
// SimpleRecordsResult, is the task's result.
//
// Each stage of each task is one row of the generated stage model
// (package gen/stage, struct StageState) in a backends.Store over any
// backends.Driver: memory, SQLite or PostgreSQL. The row's id is RowID(task
// id, stage name), a name-based UUID, so that any Runner finds a task's rows
// with Store.Get and no query beyond the generated ones is needed. A row
// holds the stage's status, its attempt count, the per-attempt history
// entries, its result, and the task's state checkpointed as JSON when the
// stage completed (the checkpoint field, added to schema/stage.yaml for this
// package).
//
// Every status change is a generated event fired with Store.FireFrom: a
// guarded compare-and-set write that also writes the store's history row.
// Moves the stage lifecycle does not allow are impossible, and a history
// entry or checkpoint goes in the same write as the status change it belongs
// to, so nothing is ever half-written:
//
//	(create)  → UNBOUND                  every row, when Run first sees the task
//	bind      UNBOUND → CREATED          every row, before the first stage runs
//	start     CREATED|RETRY → RUNNING    attempts + 1
//	complete  RUNNING → COMPLETE         + result, checkpoint, history entry
//	retry     RUNNING → RETRY            + history entry; the policy allows another attempt
//	error     RUNNING → ERROR            + history entry; the task failed
//	error     RETRY → ERROR              a restart finds the attempts used up; no entry (no attempt ran)
//	cancel    UNBOUND|CREATED|RUNNING|RETRY → CANCELED   Cancel; + history entry from RUNNING
//
// A history entry (StageStateHistoryEntry) records one attempt: its number,
// the status before it (CREATED for the first, RETRY for the others) and the
// one it ended in, begin_ts (the row's started_at) and end_ts as RFC 3339 UTC
// strings with microseconds (the spec types them as strings without a
// format), the message ("completed", the error's text, "canceled",
// "interrupted: …") and run_time_seconds. Timestamps come from Config.Clock,
// which should be the Store's clock.
//
// # Retry policies
//
// Config.Policy and Config.MaxAttempts follow the stage model's RetryPolicy (an
// empty Policy is NONE, so the zero Config never retries):
//
//   - NONE: each stage runs once; one failure fails the task. MaxAttempts
//     is 0 or 1.
//   - STAGE: each stage may run MaxAttempts times; the counter is the
//     stage's own, so it starts afresh at every stage.
//   - GLOBAL: the task may run MaxAttempts stage executions in all, shared
//     by all stages; every execution consumes one, successful ones included.
//     MaxAttempts must be at least the number of stages. A failed attempt is
//     retried only if the attempts left still cover one execution of every
//     later stage: a retry that leaves a later stage no attempt cannot make
//     the task succeed, so the stage fails at once instead (the requirement does not
//     say when an exhausted task fails; this fails it at the stage that used
//     the attempts up, where the cause is, and before wasted work).
//
// Before each retry the runner waits Config.Backoff.Delay(n), n being the
// stage's failed attempts so far, through Config.Sleep (injectable: tests
// advance a fake clock instead of sleeping); a restart that finds a stage in
// RETRY waits the whole delay again. DefaultBackoff is exponential
// from 1 s, doubling, capped at one minute; Exponential and Constant are the
// package's Backoffs, and any type with a Delay method will do.
//
// A panic in Run or Rollback is recovered and counts as the attempt's
// error. A result that fails SimpleRecordsResult's validation (a negative
// count) or a state that no longer encodes as JSON fails the attempt too.
//
// # Checkpoints and restarts
//
// The first row is created with the task's initial state as its checkpoint;
// every completed stage's row gets the state as it stood after the stage.
// Each attempt runs on a fresh copy decoded from the checkpoint of the last
// completed stage (or the initial state), so a failed attempt's changes to
// the state are discarded and a retry sees what the first attempt saw.
//
// A restarted task (Run again with the same task id, by the same or a new
// Runner over the same store) skips its COMPLETE stages and resumes from the
// first incomplete one with the state as checkpointed; the initial argument
// is used only when the task is new. A stage found RUNNING was interrupted by
// a crash (or by its Run's context ending): that attempt consumed its count
// and is recorded as failed ("interrupted: …"), then retried if the policy
// allows (so under NONE an interrupted stage fails the task). A stage that
// completed but whose completion was not written runs again: stages run at
// least once, and should be idempotent.
//
// # Rollback
//
// When a stage fails for good (the ERROR event), the Rollback of every
// COMPLETE stage runs in reverse stage order, on the state as checkpointed
// before the failed stage. Each is recorded as a history entry of its own
// row from COMPLETE to COMPLETE ("rolled back", "rollback failed: …", or "no
// rollback: the stage has none"), written with Store.Update since the row's
// status does not change. A failed rollback does not stop the others; Run
// returns a *FailedError (errors.Is ErrFailed) carrying the stage's error and
// the rollbacks' errors. The failed stage itself is not rolled back: it did
// not complete. A rollback interrupted by a crash resumes at the next Run,
// skipping the stages whose rollback is recorded. A canceled task is not
// rolled back: cancel stops work, it does not undo it.
//
// # Cancel
//
// Cancel moves every row in one of the spec's CANCELABLE states (UNBOUND,
// CREATED, RUNNING, RETRY) to CANCELED; a RUNNING row gets a history entry
// ending its attempt. If the task is running in the same Runner, the running
// stage's context (and a backoff wait) is then cancelled with cause
// ErrCanceled and Run returns an error wrapping ErrCanceled. A Runner in
// another process sees the cancel within Config.CancelCheck (default 250ms):
// while a stage runs, and while it waits to retry, the runner reads the
// stage's row every CancelCheck and, when it finds it CANCELED, cancels the
// stage's context (or the backoff wait) with cause ErrCanceled too. Either
// way the attempt's outcome is discarded (its guarded write fails since the
// row is CANCELED; the history entry is the one Cancel wrote), no later
// stage runs, nothing is rolled back, and Run returns an error wrapping
// ErrCanceled. A poll that finds the row moved otherwise (another runner took
// the task over) cancels the context with a cause wrapping
// tasktype.ErrConflict; a poll that fails (a storage or context error)
// cancels nothing. Canceling a finished task (COMPLETE, ERROR or CANCELED)
// is an error wrapping the model's *TransitionError
// (tasktype.ErrTransitionNotAllowed) that names the status.
//
// # Concurrency
//
// A Runner runs any number of tasks at once, one Run per task id; a second
// Run of a running task in the same Runner is tasktype.ErrConflict. Two
// Runners in different processes must not run the same task at once: take a
// backends.Leases lease named after the task id around Run. If they do, the
// guarded writes keep every row consistent (the runner that loses a race
// stops with tasktype.ErrConflict), but a stage may run twice at once.
//
// # Errors
//
// NewRunner reports every problem of the stages and the Config at once in a
// *tasktype.ValidationError of *tasktype.FieldErrors naming the field
// ("stages[2].name", "max_attempts", "backoff.initial"). A bad task id or an
// initial state that does not encode as JSON is a *tasktype.FieldError, with
// nothing written. Storage errors are wrapped with the task and the stage.
package stage
