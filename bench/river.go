package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/riverqueue/river/rivertype"
	_ "modernc.org/sqlite" // the "sqlite" database/sql driver, as taskmodel's
)

// riverSystem is River at its defaults: a client with one queue of
// MaxWorkers workers (the concurrency), its leader election, rescuer and
// job cleaner on, FetchCooldown 100 ms and FetchPollInterval 1 s.
var riverSystem = system{name: "River", open: openRiver(0), sqlite: true}

// riverTunedSystem is River with FetchCooldown 1 ms, River's minimum: its
// producers fetch as soon as a worker is free or a job is announced.
var riverTunedSystem = system{name: "River tuned", open: openRiver(time.Millisecond), sqlite: true}

// noopArgs is the arguments of the no-op job: At is when its insert was
// asked for (Unix nanoseconds), 0 for a filled job.
type noopArgs struct {
	At int64 `json:"at,omitempty"`
}

func (noopArgs) Kind() string { return "bench_noop" }

// noopWorker calls started as each job starts.
type noopWorker struct {
	river.WorkerDefaults[noopArgs]
	started func(at int64)
}

func (w *noopWorker) Work(_ context.Context, job *river.Job[noopArgs]) error {
	w.started(job.Args.At)
	return nil
}

// riverAPI is what the harness uses of a *river.Client, whichever its driver.
type riverAPI interface {
	Insert(ctx context.Context, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error)
	InsertManyFast(ctx context.Context, params []river.InsertManyParams) (int, error)
	Start(ctx context.Context) error
	Stop(ctx context.Context) error
	SubscribeConfig(config *river.SubscribeConfig) (<-chan *river.Event, func())
}

// riverInstance is River over one store: an insert-only client until work
// starts a client with a queue, which then inserts too.
type riverInstance struct {
	cooldown  time.Duration
	newClient func(*river.Config) (riverAPI, error)
	client    riverAPI // the client that inserts
	working   bool     // client works jobs (work started it)
	pool      *pgxpool.Pool
	db        *sql.DB
	countSQL  string
}

func openRiver(cooldown time.Duration) func(context.Context, store) (instance, error) {
	return func(ctx context.Context, st store) (inst instance, err error) {
		in := &riverInstance{cooldown: cooldown, countSQL: `SELECT count(*) FROM river_job WHERE state = 'completed'`}
		defer func() {
			if err != nil {
				err = errors.Join(err, in.close())
			}
		}()
		if st.sqlite {
			if in.db, err = openRiverSQLite(st.path); err != nil {
				return nil, err
			}
			if err := migrateRiver(ctx, riversqlite.New(in.db)); err != nil {
				return nil, err
			}
			in.newClient = func(cfg *river.Config) (riverAPI, error) { return river.NewClient(riversqlite.New(in.db), cfg) }
		} else {
			cfg, err := poolConfig(st)
			if err != nil {
				return nil, err
			}
			if in.pool, err = pgxpool.NewWithConfig(ctx, cfg); err != nil {
				return nil, err
			}
			if err := migrateRiver(ctx, riverpgxv5.New(in.pool)); err != nil {
				return nil, err
			}
			in.newClient = func(cfg *river.Config) (riverAPI, error) { return river.NewClient(riverpgxv5.New(in.pool), cfg) }
		}
		if in.client, err = in.newClient(in.config(nil, 0)); err != nil {
			return nil, err
		}
		return in, nil
	}
}

// config is the client configuration: River's defaults, with the
// instance's FetchCooldown when it has one, and one queue of conc workers
// running workers when workers is not nil.
func (in *riverInstance) config(workers *river.Workers, conc int) *river.Config {
	cfg := &river.Config{Logger: quietLogger()}
	if in.cooldown > 0 {
		cfg.FetchCooldown = in.cooldown
	}
	if workers != nil {
		cfg.Workers = workers
		cfg.Queues = map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: conc}}
	}
	return cfg
}

// migrateRiver creates River's tables with its migrator.
func migrateRiver[TTx any](ctx context.Context, d riverdriver.Driver[TTx]) error {
	m, err := rivermigrate.New(d, &rivermigrate.Config{Logger: quietLogger()})
	if err != nil {
		return err
	}
	_, err = m.Migrate(ctx, rivermigrate.DirectionUp, nil)
	return err
}

// openRiverSQLite opens River's SQLite file with the pragmas taskmodel's
// sqlite.Open sets (WAL, synchronous NORMAL, a 10 s busy timeout, the same
// memory map and page cache) and one connection, as riversqlite's
// documentation advises.
func openRiverSQLite(path string) (*sql.DB, error) {
	q := url.Values{}
	for _, p := range []string{"busy_timeout(10000)", "foreign_keys(1)", "synchronous(NORMAL)", "journal_mode(WAL)", "mmap_size(268435456)", "cache_size(-32768)"} {
		q.Add("_pragma", p)
	}
	db, err := sql.Open("sqlite", "file:"+(&url.URL{Path: path}).EscapedPath()+"?"+q.Encode())
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	return db, nil
}

func (in *riverInstance) fill(ctx context.Context, n int) error {
	for done := 0; done < n; {
		k := min(fillBatch, n-done)
		ps := make([]river.InsertManyParams, k)
		for i := range ps {
			ps[i] = river.InsertManyParams{Args: noopArgs{}}
		}
		if _, err := in.client.InsertManyFast(ctx, ps); err != nil {
			return err
		}
		done += k
	}
	return nil
}

func (in *riverInstance) insert(ctx context.Context, at int64) error {
	_, err := in.client.Insert(ctx, noopArgs{At: at}, nil)
	return err
}

func (in *riverInstance) work(ctx context.Context, conc int, started func(at int64)) (*counter, error) {
	workers := river.NewWorkers()
	if err := river.AddWorkerSafely(workers, &noopWorker{started: started}); err != nil {
		return nil, err
	}
	client, err := in.newClient(in.config(workers, conc))
	if err != nil {
		return nil, err
	}
	// A buffer no run fills: River drops the events a full one would take.
	events, _ := client.SubscribeConfig(&river.SubscribeConfig{Kinds: []river.EventKind{river.EventKindJobCompleted}, ChanSize: 1 << 17})
	c := newCounter(func() int { return 0 })
	go func() {
		for range events {
			c.add()
		}
	}()
	if err := client.Start(ctx); err != nil {
		return nil, err
	}
	in.client, in.working = client, true
	return c, nil
}

func (in *riverInstance) countDone(ctx context.Context) (int, error) {
	var n int
	if in.pool != nil {
		return n, in.pool.QueryRow(ctx, in.countSQL).Scan(&n)
	}
	return n, in.db.QueryRowContext(ctx, in.countSQL).Scan(&n)
}

func (in *riverInstance) analyze(ctx context.Context) error {
	if in.pool == nil {
		return nil
	}
	_, err := in.pool.Exec(ctx, `ANALYZE river_job`)
	return err
}

func (in *riverInstance) close() error {
	var err error
	if in.working {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if e := in.client.Stop(ctx); e != nil {
			err = fmt.Errorf("river: stop: %w", e)
		}
	}
	if in.pool != nil {
		in.pool.Close()
	}
	if in.db != nil {
		err = errors.Join(err, in.db.Close())
	}
	return err
}
