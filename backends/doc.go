// Package backends is the storage contract every model and every engine
// shares, and the logic that sits on top of it.
//
// # Two layers
//
// A Driver stores the tasks of one generated model in one engine. It is a
// handful of guarded reads and writes and nothing else. taskgen generates the
// PostgreSQL and SQLite drivers of each model next to the sqlc code they call
// (gen/<model>/pgdb, gen/<model>/sqlitedb); package memory provides one
// driver for any model, for unit tests of user code. No hand-written code
// knows a particular model.
//
// A Store wraps a Driver with the rules, written once: Create validates and
// stamps a new task; Fire reads the task, applies the event with the model's
// generated Fire method on a copy (the lifecycle table, the fields the event
// requires, entry timestamps, version), validates the result and writes it
// with a compare-and-set on the status and version the copy was made from,
// together with its history row. A lost race is ErrConflict; nothing is
// half-written.
//
// The design follows River's driver split: the engine and the HTTP layer code
// against Store, and the conformance suite in package backendtest proves
// every Driver against the same tests.
//
// # Errors
//
// Every error is usable with errors.Is or errors.As: tasktype.ErrNotFound,
// tasktype.ErrConflict (a lost guarded write is a *ConflictError saying what
// the task had become), tasktype.ErrDuplicate, tasktype.ErrValidation (a
// *tasktype.ValidationError or *tasktype.FieldError naming the field) and
// tasktype.ErrTransitionNotAllowed (the model's *TransitionError, with the
// events allowed from the task's status).
package backends
