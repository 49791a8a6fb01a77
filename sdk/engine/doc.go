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
// # Progress
//
// Progress takes the fraction of the work done and lets the status's
// progress mapping turn it into the task's percent: for seed 004,
// PROCESSING reports 15 + 80 × done, so a handler that ran 2 of 4 agents
// reports 0.5 and the task shows 55. A detail function sets typed fields
// alongside (seed 004's progress_detail).
//
// # Changes
//
// Subscribe streams the changes this engine makes, to one task or to all, as
// they happen; Watch follows one task across processes, polling the store
// for changes made elsewhere, and ends after a terminal status. Slow
// subscribers lose changes rather than slow writers down; Dropped says how
// many.
//
// With a change source (WithChanges: backends/postgres.Notifier, which
// LISTENs to notifications a trigger sends on commit, or
// backends/sqlite.Poller, which polls the tasks changed since its last read),
// Subscribe also streams the changes other processes make: for each notice
// the engine reads the task and delivers it, unless a version at least as
// new was delivered already. Each task's changes then arrive once, in
// version order; another process's changes in quick succession may coalesce
// into the latest, which carries no Event. The engine listens only while it
// has subscribers.
//
// # Cancellation
//
// Cancel fires the worker section's cancel event. Workers (package
// sdk/worker) read their running tasks at a short interval, so a handler in
// any process sees its context cancelled soon after.
package engine
