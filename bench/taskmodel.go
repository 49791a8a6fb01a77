package main

import (
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"os"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/taskmodel/taskmodel/backends"
	"github.com/taskmodel/taskmodel/backends/postgres"
	"github.com/taskmodel/taskmodel/backends/sqlite"
	"github.com/taskmodel/taskmodel/gen/training"
	trainingpg "github.com/taskmodel/taskmodel/gen/training/pgdb"
	trainingsqlite "github.com/taskmodel/taskmodel/gen/training/sqlitedb"
	"github.com/taskmodel/taskmodel/sdk/engine"
	"github.com/taskmodel/taskmodel/sdk/worker"
)

// taskmodelSystem is taskmodel's training model (gen/training, a
// generated model with a worker section) as a queue: its engine built as
// taskmodel serve builds one (with the model's change source: PostgreSQL
// LISTEN/NOTIFY, SQLite polling), a worker.Pool at its defaults but for
// Concurrency, with its rescue loop on and every transition's history row
// written.
var taskmodelSystem = system{name: "taskmodel", open: openTaskmodel, sqlite: true}

type trainingEngine = engine.Engine[training.Training, training.Event, *training.Training]

type taskmodelInstance struct {
	eng   *trainingEngine
	drv   *countingDriver
	pg    *pgxpool.Pool
	db    *sql.DB
	stop  context.CancelFunc
	ended chan error
}

// workDriver is what the training model's generated drivers (PostgreSQL
// and SQLite) implement and the engine and its pools use.
type workDriver interface {
	backends.WorkDriver[training.Training]
	backends.Claimer[training.Training]
	backends.BatchInserter[training.Training]
	backends.KeyReader
	backends.Waker
}

// countingDriver is the model's driver, counting the transitions to DONE
// it applied: how the harness sees taskmodel's completions. The engine's
// change subscription drops changes when completions come in bursts
// faster than its reader runs, and the harness then read the store every
// 250 ms, which cut a 1.1 s burn-down to 1.25 s.
type countingDriver struct {
	workDriver
	onDone atomic.Pointer[func()]
}

var _ workDriver = (*countingDriver)(nil)

// ClaimsCold and WarmClaims keep the driver's warming of an idle pool's
// claims (backends.ClaimWarmer: the PostgreSQL driver has it, the SQLite
// driver not, and then the claims never go cold).
func (d *countingDriver) ClaimsCold(t time.Time) time.Time {
	if w, ok := d.workDriver.(backends.ClaimWarmer); ok {
		return w.ClaimsCold(t)
	}
	return time.Time{}
}

func (d *countingDriver) WarmClaims(ctx context.Context) error {
	if w, ok := d.workDriver.(backends.ClaimWarmer); ok {
		return w.WarmClaims(ctx)
	}
	return nil
}

// Transition implements backends.Driver, counting a task that reached DONE.
func (d *countingDriver) Transition(ctx context.Context, from backends.Key, next *training.Training, h backends.History) (bool, error) {
	ok, err := d.workDriver.Transition(ctx, from, next, h)
	if ok && err == nil && next.Status == training.StatusDone {
		if f := d.onDone.Load(); f != nil {
			(*f)()
		}
	}
	return ok, err
}

func openTaskmodel(ctx context.Context, st store) (instance, error) {
	in := &taskmodelInstance{}
	var drv workDriver
	opts := []engine.Option{engine.WithWorker(training.Worker)}
	if st.sqlite {
		db, err := sqlite.Open(ctx, st.path, training.Migrations(sqlite.Engine))
		if err != nil {
			return nil, err
		}
		in.db = db
		d := trainingsqlite.NewDriver(db)
		drv = d
		opts = append(opts, engine.WithChanges(backends.NewPoller(d)))
	} else {
		cfg, err := poolConfig(st)
		if err != nil {
			return nil, err
		}
		pool, err := postgres.OpenConfig(ctx, cfg, training.Migrations(postgres.Engine))
		if err != nil {
			return nil, err
		}
		in.pg = pool
		drv = trainingpg.NewDriver(pool)
		opts = append(opts, engine.WithChanges(postgres.NewNotifier(pool, "training")))
	}
	in.drv = &countingDriver{workDriver: drv}
	in.eng = engine.New[training.Training, training.Event](in.drv, opts...)
	return in, nil
}

// poolConfig is the pgx pool configuration of a run's schema.
func poolConfig(st store) (*pgxpool.Config, error) {
	cfg, err := pgxpool.ParseConfig(st.url)
	if err != nil {
		return nil, err
	}
	cfg.ConnConfig.RuntimeParams["search_path"] = st.schema
	return cfg, nil
}

var benchMeta = engine.Meta{Actor: "bench"}

func (in *taskmodelInstance) fill(ctx context.Context, n int) error {
	for done := 0; done < n; {
		k := min(fillBatch, n-done)
		xs := make([]*training.Training, k)
		for i := range xs {
			xs[i] = training.NewTraining()
		}
		if _, err := in.eng.CreateMany(ctx, xs, benchMeta); err != nil {
			return err
		}
		done += k
	}
	return nil
}

func (in *taskmodelInstance) insert(ctx context.Context, at int64) error {
	x := training.NewTraining()
	if at != 0 {
		tag := strconv.FormatInt(at, 10)
		x.Tag = &tag
	}
	_, err := in.eng.Create(ctx, x, benchMeta)
	return err
}

func (in *taskmodelInstance) work(ctx context.Context, conc int, started func(at int64)) (*counter, error) {
	handler := func(_ context.Context, x *training.Training, _ *worker.Progress[training.Training]) error {
		var at int64
		if x.Tag != nil {
			at, _ = strconv.ParseInt(*x.Tag, 10, 64)
		}
		started(at)
		return nil
	}
	pool, err := worker.New(in.eng, handler, worker.Config{Concurrency: conc, Logger: quietLogger()})
	if err != nil {
		return nil, err
	}
	ctx, in.stop = context.WithCancel(ctx)
	c := newCounter(func() int { return 0 })
	add := c.add
	in.drv.onDone.Store(&add)
	in.ended = make(chan error, 1)
	go func() { in.ended <- pool.Run(ctx) }()
	return c, nil
}

func (in *taskmodelInstance) countDone(ctx context.Context) (int, error) {
	var n int
	const q = `SELECT count(*) FROM training WHERE status = 'DONE'`
	if in.pg != nil {
		return n, in.pg.QueryRow(ctx, q).Scan(&n)
	}
	return n, in.db.QueryRowContext(ctx, q).Scan(&n)
}

func (in *taskmodelInstance) analyze(ctx context.Context) error {
	if in.pg == nil {
		return nil
	}
	_, err := in.pg.Exec(ctx, `ANALYZE training, training_history`)
	return err
}

func (in *taskmodelInstance) close() error {
	var err error
	if in.stop != nil {
		in.stop()
		if e := <-in.ended; e != nil && !errors.Is(e, context.Canceled) {
			err = e
		}
	}
	if in.pg != nil {
		in.pg.Close()
	}
	if in.db != nil {
		err = errors.Join(err, in.db.Close())
	}
	return err
}

// fillBatch is how many jobs one bulk insert of fill holds, for both systems.
const fillBatch = 1000

// quietLogger logs warnings and errors only, to standard error: the
// systems' informational lines would interleave with the results.
func quietLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
}
