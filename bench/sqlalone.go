package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// sqlAloneSystem is no queue at all: the fewest rows and statements a queue
// that keeps a history row per transition can write for a job, sent by one
// loop per connection of a pgx pool at pgx's defaults. It is a reference,
// not a competitor: what PostgreSQL itself allows on the machine, with
// almost nothing spent in the client, so that the table shows how near
// each queue comes to the database's own limit. It runs only the
// PostgreSQL burn-downs.
//
// A job is one row of a table with a bigint identity key and a partial
// index of the queued rows (which a job's updates never add to), and one
// history row per status (its key: job and sequence number). A loop claims
// up to its share of the concurrency in one statement (the rows locked
// with SKIP LOCKED, moved to running, their history rows written; the
// commit does not wait for the disk flush, as taskmodel's claim), calls no
// handler, then completes them all in one statement with their history
// rows, and commits with the flush.
var sqlAloneSystem = system{name: "SQL alone", open: openSQLAlone, burnOnly: true}

const sqlAloneSchema = `
CREATE TABLE job (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    status text NOT NULL,
    attempt integer NOT NULL DEFAULT 0,
    seq integer NOT NULL DEFAULT 1,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE job_history (
    job_id bigint NOT NULL,
    seq integer NOT NULL,
    to_status text NOT NULL,
    at timestamptz NOT NULL,
    PRIMARY KEY (job_id, seq)
);`

// sqlAloneQueuedIndex is the claims' index: the queued jobs only.
const sqlAloneQueuedIndex = `
CREATE INDEX job_queued_idx ON job (id) WHERE status = 'queued';`

// sqlAloneLikeTaskmodel (-sql-alone-like-taskmodel) gives SQL alone's
// tables the indexes taskmodel's have, with the same statements: instead
// of the index of the queued jobs, one of every status by creation (the
// listing's, which the claims read as taskmodel's do), and one of the
// finished jobs by their last change (retention's), one of the history by
// time, and history rows as wide as taskmodel's (an actor and a message).
var sqlAloneLikeTaskmodel bool

const sqlAloneTaskmodelIndexes = `
CREATE INDEX job_status_created_at_idx ON job (status, created_at DESC, id DESC);
CREATE INDEX job_finished_idx ON job (updated_at) WHERE status IN ('done', 'failed', 'cancelled');
CREATE INDEX job_history_at_idx ON job_history (at, to_status, job_id);
ALTER TABLE job_history
    ADD COLUMN actor text NOT NULL DEFAULT 'bench-host/123456/0a1b2c3d',
    ADD COLUMN message text NOT NULL DEFAULT 'claimed by bench-host/123456/0a1b2c3d (attempt 1)';`

const (
	sqlAloneFill = `WITH t AS (
    INSERT INTO job (status) SELECT 'queued' FROM generate_series(1, $1) RETURNING id
)
INSERT INTO job_history (job_id, seq, to_status, at) SELECT id, 1, 'queued', now() FROM t`

	sqlAloneClaim = `WITH c AS (
    SELECT id FROM job
    WHERE status = 'queued' AND (SELECT set_config('synchronous_commit', 'off', true)) = 'off'
    ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED
), t AS (
    UPDATE job SET status = 'running', attempt = attempt + 1, seq = seq + 1, updated_at = now()
    FROM c WHERE job.id = c.id RETURNING job.id, job.seq
), h AS (
    INSERT INTO job_history (job_id, seq, to_status, at) SELECT id, seq, 'running', now() FROM t
)
SELECT id FROM t`

	sqlAloneComplete = `WITH t AS (
    UPDATE job SET status = 'done', seq = seq + 1, updated_at = now()
    WHERE id = ANY ($1) AND status = 'running' RETURNING id, seq
)
INSERT INTO job_history (job_id, seq, to_status, at) SELECT id, seq, 'done', now() FROM t`
)

// sqlAloneInstance is the reference over one schema.
type sqlAloneInstance struct {
	pool   *pgxpool.Pool
	claim  string // the claim statement
	cancel context.CancelFunc
	wg     sync.WaitGroup
	mu     sync.Mutex
	err    error // the first error of a loop
}

func openSQLAlone(ctx context.Context, st store) (instance, error) {
	if st.sqlite {
		return nil, errors.New("SQL alone runs on PostgreSQL only")
	}
	cfg, err := poolConfig(st)
	if err != nil {
		return nil, err
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	schema, claim := sqlAloneSchema+sqlAloneQueuedIndex, sqlAloneClaim
	if sqlAloneLikeTaskmodel {
		schema = sqlAloneSchema + sqlAloneTaskmodelIndexes
		claim = strings.Replace(claim, "ORDER BY id", "ORDER BY created_at, id", 1)
	}
	if _, err := pool.Exec(ctx, schema); err != nil {
		pool.Close()
		return nil, err
	}
	return &sqlAloneInstance{pool: pool, claim: claim}, nil
}

func (in *sqlAloneInstance) fill(ctx context.Context, n int) error {
	for done := 0; done < n; {
		k := min(fillBatch, n-done)
		if _, err := in.pool.Exec(ctx, sqlAloneFill, k); err != nil {
			return err
		}
		done += k
	}
	return nil
}

func (in *sqlAloneInstance) insert(context.Context, int64) error {
	return errors.New("SQL alone runs only the burn-downs")
}

// work starts one loop per connection of the pool; each keeps its share of
// conc jobs in flight.
func (in *sqlAloneInstance) work(ctx context.Context, conc int, started func(at int64)) (*counter, error) {
	ctx, in.cancel = context.WithCancel(ctx)
	c := newCounter(func() int { return 0 })
	loops := int(in.pool.Config().MaxConns)
	share := max(1, conc/loops)
	for range loops {
		in.wg.Add(1)
		go func() {
			defer in.wg.Done()
			if err := in.loop(ctx, share, started, c); err != nil && ctx.Err() == nil {
				in.mu.Lock()
				if in.err == nil {
					in.err = err
				}
				in.mu.Unlock()
			}
		}()
	}
	return c, nil
}

// loop claims up to share jobs, starts them (no handler), completes them,
// and again, until ctx ends; it waits a moment when the queue is empty.
func (in *sqlAloneInstance) loop(ctx context.Context, share int, started func(int64), c *counter) error {
	var ids []int64
	for ctx.Err() == nil {
		rows, err := in.pool.Query(ctx, in.claim, share)
		if err != nil {
			return err
		}
		ids = ids[:0]
		var id int64
		for rows.Next() {
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return err
			}
			ids = append(ids, id)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		if len(ids) == 0 {
			select {
			case <-ctx.Done():
			case <-time.After(5 * time.Millisecond):
			}
			continue
		}
		for range ids {
			started(0)
		}
		tag, err := in.pool.Exec(ctx, sqlAloneComplete, ids)
		if err != nil {
			return err
		}
		if tag.RowsAffected() != int64(len(ids)) {
			return fmt.Errorf("completed %d of %d claimed jobs", tag.RowsAffected(), len(ids))
		}
		for range ids {
			c.add()
		}
	}
	return nil
}

func (in *sqlAloneInstance) countDone(ctx context.Context) (int, error) {
	var n int
	err := in.pool.QueryRow(ctx, `SELECT count(*) FROM job WHERE status = 'done'`).Scan(&n)
	return n, err
}

func (in *sqlAloneInstance) analyze(ctx context.Context) error {
	_, err := in.pool.Exec(ctx, `ANALYZE job, job_history`)
	return err
}

func (in *sqlAloneInstance) close() error {
	if in.cancel != nil {
		in.cancel()
	}
	in.wg.Wait()
	in.pool.Close()
	return in.err
}
