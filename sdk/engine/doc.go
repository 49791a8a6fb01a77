// Package engine runs the lifecycle of a generated model over any backend:
// create, fire events, report progress, cancel, and follow changes.
//
// An Engine is thin code over backends.Store and the generated contracts.
// Every rule comes from the spec through the generated model: Fire checks the
// move against the transition table and the fields the event requires, sets
// the status's entry timestamp and its progress; Validate checks every limit;
// the store writes the change guarded by the task's status and version, with
// a history row naming the actor and a message. A failed call writes nothing.
//
// # Running tasks
//
// An engine only records what happens to tasks. To run them, give it the
// model's worker section (WithWorker) and run a worker pool of package
// sdk/worker over it, which claims the queued tasks and calls your handler on
// each; the spec's status timeouts are enforced by a sweeper of package
// sdk/sweep (over Store), not by the engine or the pool. Package sdk/worker's
// documentation shows the whole wiring, and its examples (example_test.go)
// run it.
//
// # Bulk creates
//
// CreateMany creates many tasks at once, all or none: every task is
// validated before any is written (an error names the task's index), and
// the drivers write them in one statement (PostgreSQL), one transaction
// (SQLite) or under one lock (memory), each with its first history row. On
// PostgreSQL a batch costs one round trip and one commit, where Create's
// cost is a commit shared only with the creates that happen to arrive
// together; a producer with many tasks at hand should use it.
//
// # Progress
//
// Progress takes the fraction of the work done and lets the status's
// progress mapping turn it into the task's percent: for the upload →
// process lifecycle (schema/analysis.yaml), PROCESSING reports 15 + 80 × done, so a handler that ran 2 of 4 agents
// reports 0.5 and the task shows 55. A detail function sets typed fields
// alongside (the analysis model's progress_detail).
//
// # Changes
//
// Subscribe streams the changes this engine makes, to one task or to all, as
// they happen; Watch follows one task across processes, polling the store
// for changes made elsewhere (and, with a change source, hearing them at
// once), and ends after a terminal status. Slow
// subscribers lose changes rather than slow writers down; Dropped says how
// many.
//
// With a change source (WithChanges: backends/postgres.Notifier, which
// LISTENs to notifications a trigger sends on commit, or
// backends.Poller, which polls the tasks changed since its last read),
// Subscribe also streams the changes other processes make: for each notice
// the engine reads the task and delivers it, unless a version at least as
// new was delivered already. Each task's changes then arrive once, in
// version order; another process's changes in quick succession may coalesce
// into the latest, which carries no Event. The engine listens only while it
// has Subscribe or Watch subscribers. SubscribeLocal streams this engine's
// own changes only, and does not make it listen: long-lived subscribers
// that count or react to this process's work (metrics, sdk/worker's wake-ups)
// use it, so that the source — for PostgreSQL, a trigger that notifies on
// every write while someone listens — runs only while someone follows
// other processes' changes.
//
// Watch also polls its task every WithPollInterval, as a safety net for the
// changes the source does not deliver: those stamped or committed later
// than the source's lookback.
//
// # Cancellation
//
// Cancel fires the worker section's cancel event. Workers (package
// sdk/worker) read their running tasks at a short interval, so a handler in
// any process sees its context cancelled soon after.
package engine
