// Package worker runs handlers on the queued tasks of a model whose spec has
// a worker section, in as many pools and processes as you like over one
// database.
//
// # Running a pool
//
// Give the engine the model's worker section, make a pool with a Handler,
// and run it until its context ends (the package's examples, in
// example_test.go, run one on the memory backend):
//
//	db, err := sqlite.Open(ctx, "tasks.db", training.Migrations(sqlite.Engine)) // or postgres.Open and pgdb
//	if err != nil { … }
//	eng := engine.New[training.Training, training.Event](sqlitedb.NewDriver(db),
//		engine.WithWorker(training.Worker)) // the spec's worker section
//	pool, err := worker.New(eng, func(ctx context.Context, x *training.Training, p *worker.Progress[training.Training]) error {
//		// … the work, with p.Report(ctx, done, nil) as it goes …
//		return nil // or an error: worker.Fail(code, format, args...) names a code of the spec
//	}, worker.Config{Concurrency: 4})
//	if err != nil { … }
//	// The spec's status timeouts: the sweeper enforces them, not the pool.
//	var sweeping sync.WaitGroup
//	sweeping.Go(func() {
//		sweep.New(eng.Store(), sweep.Config[training.Training]{}).Run(ctx, time.Minute, func(err error) { log.Print(err) })
//	})
//	err = pool.Run(ctx) // until ctx ends; it returns once its handlers' ends are written
//	sweeping.Wait()
//	db.Close() // last: an end written after Close is lost, and its task runs again
//
// The pool claims the tasks in the worker section's queue status (training:
// QUEUED), whoever created them: an engine over the same database in any
// process, or taskmodel serve's HTTP API. The pool enforces none of the spec's status timeouts (a status's timeout in the
// spec, such as the analysis model's 30 minutes in PROCESSING): run a
// sweeper of package sdk/sweep beside it, in one process or more (its
// Config.Leases lets one sweep at a time). When a sweep fails or moves a
// running task, the pool cancels its handler's context as it does for a
// cancelled task.
//
// # The life of a claimed task
//
// A Pool reserves queued tasks by writing its lease into them — on PostgreSQL
// with FOR UPDATE SKIP LOCKED, so concurrent pools never wait on each other
// and never reserve the same task — and fires the spec's claim event on each,
// guarded by the version it read (analysis: QUEUED → PROCESSING). A driver
// that is a backends.Claimer (a generated PostgreSQL driver whose claim
// event needs no fields) does both in one statement for the whole batch, as
// Fire would, with the history rows. The handler then runs with a context
// and a Progress; the pool renews the
// lease by heartbeats, and every CancelCheck it reads the statuses of its
// running tasks (those started before the previous check) in one query
// (backends.KeyReader):
//
//   - the handler returns nil: the complete event (→ COMPLETED);
//   - it returns an error: the fail event, with the code of an *Error (see
//     Fail) or the worker section's error_code, and the message; a panic fails
//     the task with that code and the stack in the history message;
//   - the task left the running status (a Cancel, from any process, or a
//     sweeper's timeout) or the lease was lost: the handler's context is
//     cancelled with that cause (context.Cause: ErrTaskEnded, as a
//     *TaskEndedError naming the status, or ErrLeaseLost) and the pool
//     writes nothing.
//
// # Claim order
//
// Tasks are claimed in the order of their creation time, then id, as far as
// concurrent pools and the look-behind below allow. A pool over a Claimer
// (a generated PostgreSQL driver whose claim event needs no fields) claims
// after the last task it claimed (backends.QueuePosition): a claimed task's
// entry stays, dead, at the head of the queue's range of the status index
// until VACUUM removes it, and a claim from the head stepped over every one
// of them, a cost that grew with each task claimed since the last vacuum.
// Once a second the pool claims from the head instead and takes up the
// position of the last task it found there, so a task that became
// claimable behind the position (requeued, created early and queued late
// as an upload-then-process task is, or created by a process whose clock is
// behind) is claimed within about a second (plus a PollInterval when the
// pool is idle), and the tasks behind the position then go before the
// newer ones. Tasks created at once by concurrent callers commit in an
// order of their own, so some land behind the position. One queued in the
// pool's own process waits for no claim from the head: the pool hears of
// it through its engine and its next claim starts there. Of those that
// other processes queue (an API server's concurrent requests), the claim
// from the head finds the first — an eighth of a second after the pool
// first claimed a task, then a quarter, a half, and every second — and
// the claims then start before the position by twice the furthest such
// lag found (at most a quarter of a second), for ten seconds after the
// last one: the next ones wait for no claim from the head either. With 8
// concurrent producers in another process, the 99.9th percentile of their
// tasks' wait went from 0.6–1.6 s to about 20 ms on PostgreSQL
// (BenchmarkPickupUnderLoad). A claim that finds fewer tasks than it asked
// for has read the queue to its end, and the next one starts after the
// furthest task claimed.
//
// # Waking up
//
// An idle pool claims again when a task is queued: at once for tasks queued
// through its own engine (engine.SubscribeLocal), within milliseconds for
// tasks queued by other processes when its driver is a backends.Waker — the
// generated PostgreSQL and SQLite drivers are — and otherwise at its next
// PollInterval (1 s by default), which also remains the safety net.
//
// A pool that has found nothing to claim and waited 10 ms since signals its
// Waker, which then watches until the next task: on PostgreSQL the model's
// wake trigger is armed, and the first task queued by any process sends one
// NOTIFY, heard on a connection the pool keeps listening, and disarms it
// (postgres.WakeListener); on SQLite the process reads PRAGMA data_version
// every 5 ms and, after a commit of another connection, whether a task is
// claimable (sqlite.Wake). A pool kept busy, by a backlog or by its own
// process's creations, arms nothing, so writers do not pay for NOTIFY
// (which serializes commits) under load. Config.NoWake turns this off.
// The claim that follows such a wake-up starts from the head of the queue:
// the task may lie behind the position the claims reached (see Claim
// order), where a claim after it would miss it, and the pool would wait
// for its poll. While it waits, a pool whose driver is a
// backends.ClaimWarmer keeps its claims warm: on PostgreSQL a claim's
// prepared statement and plan are renewed once a second on each connection
// (postgres.Replanned), and the pool runs a claim of nothing right after
// each renewal, on the connection its next claim usually gets, so that
// claim usually does not pay for them.
// Figures are in docs/benchmarks.md ("Pickup across processes").
//
// # Crash safety
//
// A worker that dies (SIGKILL, a lost machine) stops renewing its leases.
// Rescue, which every pool runs at RescueInterval, finds running tasks whose
// lease expired and, per the spec, requeues them while attempts remain or
// fails them (the analysis model has no way back to QUEUED: such a task fails with
// INTERNAL_ERROR). Every move is guarded by the task's version, so a
// rescuer and a worker that was merely slow never both win, and a reserved
// task is never run by two workers at once: a worker that cannot renew its
// lease for a whole lease period cancels its handler itself.
//
// # Giving a task back
//
// A worker that claimed a task it cannot run — its program is missing, it
// is shutting down, it claimed more than it can take — gives it back with
// Leases.Release rather than let the lease expire: the worker section's
// requeue event (the rescue's) moves it back to the queue at once, the
// lease ends, and any worker may claim it right away. The claim is not
// counted as an attempt: a task of a model with max_attempts 1 can still
// run. The history row names the lease's owner and attempt ("released by
// <owner> (attempt <n>, not counted)", and the worker's reason), and
// Rescue leaves such claims out of its count. A model without a requeue
// event cannot give a task back (ErrNoRequeue). A Pool whose Run is
// stopping gives back the tasks it claimed as it stopped instead of
// starting them; taskmodel serve's POST /worker/tasks/{id}/release is
// Release over HTTP.
//
// # Workers in other processes
//
// Leases is the lease protocol a Pool runs on, for workers that are not a
// Pool: taskmodel serve's worker protocol (POST /worker/claim and the
// heartbeat, progress, complete, fail and release of a claimed task) runs
// workers in any language on it. Its Claim, Heartbeat, Progress, Finish,
// Release and Rescue are
// the Pool's own — the same claim event, lease and attempt, the same end
// events with the same failure codes and retries, the same rescue — and
// CheckCode refuses an error code the spec does not declare, which a
// remote worker may send.
//
// # Shutdown
//
// When Run's context ends the pool stops claiming and lets running handlers
// finish for ShutdownGrace, then cancels them. A cancelled handler that
// returns an error leaves its task to be rescued when its lease expires;
// one that returns nil has finished, and its task's end is written before
// Run returns. Tasks claimed as the context ended are given back
// (see Giving a task back), not started.
//
// # Throughput
//
// A busy pool allocates a few kilobytes per task (most of it pgx's buffers
// for a batch statement) over a small live heap, so at Go's default
// GOGC=100 its process collects garbage many times a second, and about a
// quarter of its CPU per task goes to the collector. A service that runs
// busy pools can raise GOGC for its process: GOGC=400 cut the client CPU
// per task from 18 to 13 µs and raised a PostgreSQL burn-down from 38k to
// 43k tasks/s on two cores (docs/benchmarks.md, "Side by side with
// River"). A library cannot set it for you.
package worker
