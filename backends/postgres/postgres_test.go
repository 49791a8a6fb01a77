package postgres_test

import (
	"context"
	"fmt"
	"github.com/google/uuid"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/taskmodel/taskmodel/backends"
	"github.com/taskmodel/taskmodel/backends/backendtest"
	"github.com/taskmodel/taskmodel/backends/postgres"
	"github.com/taskmodel/taskmodel/backends/postgres/pgtest"
	"github.com/taskmodel/taskmodel/gen/analysis"
	"github.com/taskmodel/taskmodel/gen/analysis/pgdb"
	"github.com/taskmodel/taskmodel/gen/catalog"
	catalogdb "github.com/taskmodel/taskmodel/gen/catalog/pgdb"
	evaluationdb "github.com/taskmodel/taskmodel/gen/evaluation/pgdb"
	pipelinerundb "github.com/taskmodel/taskmodel/gen/pipelinerun/pgdb"
	trainingdb "github.com/taskmodel/taskmodel/gen/training/pgdb"
	"github.com/taskmodel/taskmodel/tasktype"
)

func TestConformance(t *testing.T) {
	backendtest.Run(t, func(t testing.TB) backends.Driver[analysis.Task] {
		cfg := pgtest.Schema(t)
		pool, err := postgres.OpenConfig(context.Background(), cfg, analysis.Migrations(postgres.Engine))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(pool.Close)
		return pgdb.NewDriver(pool)
	})
}

func TestStoredValues(t *testing.T) {
	backendtest.RunStoredValues(t, func(t testing.TB) (backends.Driver[analysis.Task], backendtest.StoreJSON) {
		pool, err := postgres.OpenConfig(context.Background(), pgtest.Schema(t), analysis.Migrations(postgres.Engine))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(pool.Close)
		return pgdb.NewDriver(pool), func(ctx context.Context, id uuid.UUID, v string) error {
			_, err := pool.Exec(ctx, `UPDATE analysis SET progress_detail = $1::jsonb WHERE id = $2`, v, id)
			return err
		}
	})
}

// TestUndeclaredValues: see backendtest.RunUndeclaredValues. The column's
// CHECK goes, as a newer spec's migration would have rewritten it.
func TestUndeclaredValues(t *testing.T) {
	backendtest.RunUndeclaredValues(t, func(t testing.TB) (backends.Driver[analysis.Task], backendtest.StoreText) {
		pool, err := postgres.OpenConfig(context.Background(), pgtest.Schema(t), analysis.Migrations(postgres.Engine))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(pool.Close)
		return pgdb.NewDriver(pool), func(ctx context.Context, id uuid.UUID, column, v string) error {
			if _, err := pool.Exec(ctx, `ALTER TABLE analysis DROP CONSTRAINT analysis_`+column+`_check`); err != nil {
				return err
			}
			_, err := pool.Exec(ctx, `UPDATE analysis SET `+column+` = $1 WHERE id = $2`, v, id)
			return err
		}
	})
}

// TestOldWriter: see backendtest.RunOldWriter.
func TestOldWriter(t *testing.T) {
	backendtest.RunOldWriter(t, func(t testing.TB) (backends.Driver[analysis.Task], func(context.Context) error) {
		pool, err := postgres.OpenConfig(context.Background(), pgtest.Schema(t), analysis.Migrations(postgres.Engine))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(pool.Close)
		return pgdb.NewDriver(pool), func(ctx context.Context) error {
			_, err := pool.Exec(ctx, `ALTER TABLE analysis ADD COLUMN extra text NOT NULL DEFAULT 'x'; ALTER TABLE analysis ALTER COLUMN extra DROP DEFAULT`)
			return err
		}
	})
}

func TestMigrations(t *testing.T) {
	ctx := context.Background()
	cfg := pgtest.Schema(t)
	// Several processes starting at once: the advisory lock serialises them.
	var wg sync.WaitGroup
	errs := make(chan error, 6)
	for range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pool, err := postgres.OpenConfig(ctx, cfg.Copy(), analysis.Migrations(postgres.Engine))
			if err == nil {
				pool.Close()
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("concurrent open: %v", err)
		}
	}
	pool, err := postgres.OpenConfig(ctx, cfg.Copy(), analysis.Migrations(postgres.Engine))
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	var n int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM taskmodel_migrations`).Scan(&n); err != nil || n != len(analysis.Migrations(postgres.Engine)) {
		t.Fatalf("migrations recorded: %d, %v", n, err)
	}
	changed := analysis.Migrations(postgres.Engine)
	changed[0].SQL = "CREATE TABLE other (x int);"
	if _, err := postgres.OpenConfig(ctx, cfg.Copy(), changed); err == nil || !strings.Contains(err.Error(), "was applied with different SQL") {
		t.Fatalf("changed migration: %v", err)
	}
	// A program whose spec is older than the database's refuses it.
	older := analysis.Migrations(postgres.Engine)[:3]
	all := analysis.Migrations(postgres.Engine)
	want := "the database is at migration " + strings.TrimPrefix(all[len(all)-1].Name, "analysis/") + " of model analysis, newer than this program, whose spec of analysis ends at 0003_changes: run a build of the newer spec"
	if _, err := postgres.OpenConfig(ctx, cfg.Copy(), older); err == nil || err.Error() != want {
		t.Fatalf("older program: %v\nwant %s", err, want)
	}
}

// TestChecksMirrorTheSpec writes rows the spec forbids straight into
// PostgreSQL: the table's CHECK constraints refuse them.
func TestChecksMirrorTheSpec(t *testing.T) {
	ctx := context.Background()
	pool, err := postgres.OpenConfig(ctx, pgtest.Schema(t), analysis.Migrations(postgres.Engine))
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	tests := []struct {
		name, status, tool, agents string
		progress                   int
		ok                         bool
	}{
		{"valid", "CREATED", "t", `["a"]`, 0, true},
		{"unknown status", "DONE", "t", `["a"]`, 0, false},
		{"256 characters", "CREATED", strings.Repeat("é", 256), `["a"]`, 0, false},
		{"255 multi-byte characters", "CREATED", strings.Repeat("é", 255), `["a"]`, 0, true},
		{"no agents", "CREATED", "t", `[]`, 0, false},
		{"progress 101", "CREATED", "t", `["a"]`, 101, false},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := pool.Exec(ctx, `INSERT INTO analysis (id, status, version, created_at, updated_at, user_id, tool_id, agents, progress, blobs_cleaned)
				VALUES ($1, $2, 1, now(), now(), 'u', $3, $4, $5, false)`, fmt.Sprintf("00000000-0000-0000-0000-%012d", i), tt.status, tt.tool, tt.agents, tt.progress)
			if (err == nil) != tt.ok {
				t.Errorf("insert: %v, want ok=%v", err, tt.ok)
			}
		})
	}
}

// go test ./backends/postgres -run '^$' -bench Transitions
func BenchmarkTransitions(b *testing.B) {

	backendtest.BenchmarkTransitions(b, func(t testing.TB) backends.Driver[analysis.Task] {
		cfg := pgtest.Schema(t)
		cfg.MaxConns = 32
		if v := os.Getenv("BENCH_SYNC_COMMIT"); v != "" {
			cfg.ConnConfig.RuntimeParams["synchronous_commit"] = v // diagnostic only: splits fsync cost from CPU cost
		}
		pool, err := postgres.OpenConfig(context.Background(), cfg, analysis.Migrations(postgres.Engine))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(pool.Close)
		return pgdb.NewDriver(pool)
	})
}

func TestListing(t *testing.T) {
	backendtest.RunListing(t, func(t testing.TB) backendtest.ListingDrivers {
		pool, err := postgres.OpenConfig(context.Background(), pgtest.Schema(t), catalog.Migrations(postgres.Engine))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(pool.Close)
		return backendtest.ListingDrivers{Training: trainingdb.NewDriver(pool), Evaluation: evaluationdb.NewDriver(pool), Analysis: pgdb.NewDriver(pool), PipelineRun: pipelinerundb.NewDriver(pool), Lister: catalogdb.NewLister(pool)}
	})
}

// TestOpenFromDSN opens by DSN, as programs do, with the schema in the DSN.
func TestOpenFromDSN(t *testing.T) {
	cfg := pgtest.Schema(t)
	dsn := pgtest.URL() + "&search_path=" + cfg.ConnConfig.RuntimeParams["search_path"]
	pool, err := postgres.Open(context.Background(), dsn, analysis.Migrations(postgres.Engine))
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	var mode string
	if err := pool.QueryRow(context.Background(), "SHOW plan_cache_mode").Scan(&mode); err != nil || mode != "force_generic_plan" {
		t.Errorf("plan_cache_mode = %q, %v", mode, err)
	}
	if _, err := postgres.Open(context.Background(), "postgres://nobody@127.0.0.1:1/x?connect_timeout=1"); err == nil {
		t.Error("Open of a closed port succeeded")
	}
	if _, err := postgres.Open(context.Background(), "::not a dsn::"); err == nil || !strings.Contains(err.Error(), "postgres:") {
		t.Errorf("Open of a bad DSN: %v", err)
	}
}

func TestLeases(t *testing.T) {
	backendtest.RunLeases(t, func(t testing.TB) backends.Leases {
		pool, err := postgres.OpenConfig(context.Background(), pgtest.Schema(t))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(pool.Close)
		return postgres.NewLeases(pool)
	})
}

// TestMigrateReport: MigrateReport reports the migrations it applied, not
// those applied before; AppliedMigrations lists them all, in name order,
// with when, and reads a schema never migrated (or missing) in a read-only
// session.
func TestMigrateReport(t *testing.T) {
	ctx := context.Background()
	cfg := pgtest.Schema(t)
	all := analysis.Migrations(postgres.Engine)

	readOnly := func(schema string) *pgxpool.Pool {
		t.Helper()
		c := cfg.Copy()
		c.ConnConfig.RuntimeParams["search_path"] = schema
		c.ConnConfig.RuntimeParams["default_transaction_read_only"] = "on"
		pool, err := pgxpool.NewWithConfig(ctx, c)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(pool.Close)
		return pool
	}
	for _, schema := range []string{cfg.ConnConfig.RuntimeParams["search_path"], "t_no_such_schema"} {
		got, err := postgres.AppliedMigrations(ctx, readOnly(schema))
		if err != nil || len(got) != 0 {
			t.Fatalf("schema %s never migrated: %v, %v; want none", schema, got, err)
		}
	}

	var start time.Time
	if err := readOnly("public").QueryRow(ctx, `SELECT now()`).Scan(&start); err != nil {
		t.Fatal(err)
	}
	pool, err := postgres.OpenConfig(ctx, cfg.Copy())
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	var reported []string
	report := func(m tasktype.Migration, took time.Duration) {
		if took <= 0 {
			t.Errorf("%s took %s", m.Name, took)
		}
		reported = append(reported, m.Name)
	}
	for _, tt := range []struct {
		name       string
		migrations []tasktype.Migration
		want       []tasktype.Migration
	}{
		{"first three", all[:3], all[:3]},
		{"the rest", all, all[3:]},
		{"again", all, nil},
	} {
		reported = nil
		if err := postgres.MigrateReport(ctx, pool, tt.migrations, report); err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		var want []string
		for _, m := range tt.want {
			want = append(want, m.Name)
		}
		if !slices.Equal(reported, want) {
			t.Errorf("%s: reported %v, want %v", tt.name, reported, want)
		}
	}
	got, err := postgres.AppliedMigrations(ctx, readOnly(cfg.ConnConfig.RuntimeParams["search_path"]))
	if err != nil || len(got) != len(all) {
		t.Fatalf("applied: %d, %v; want %d", len(got), err, len(all))
	}
	for i, a := range got {
		if a.Name != all[i].Name || a.Checksum != all[i].Checksum() {
			t.Errorf("applied %d: %s %.12s, want %s %.12s", i, a.Name, a.Checksum, all[i].Name, all[i].Checksum())
		}
		if a.AppliedAt.Before(start) || a.AppliedAt.After(time.Now().Add(time.Minute)) {
			t.Errorf("%s applied at %v (test started at %v)", a.Name, a.AppliedAt, start)
		}
	}
}

// notes are three migrations of a small model; the third one's data check
// refuses notes longer than 5 characters.
func notes() []tasktype.Migration {
	return []tasktype.Migration{
		{Name: "job/0001_schema", SQL: "CREATE TABLE job (id text PRIMARY KEY, note text NOT NULL);\n"},
		{Name: "job/0002_at", SQL: "ALTER TABLE job ADD COLUMN at timestamptz;\n"},
		{Name: "job/0003_short_note", SQL: "-- taskmodel:check job.note | at most 5 characters | tasks\nSELECT count(*), min(id) FROM job WHERE length(note) > 5;\n-- taskmodel:migrate\nCREATE INDEX job_note ON job (note);\n"},
	}
}

// TestMigrationRules: the refusals of a migration's data checks and of a
// broken numbering, as on every engine.
func TestMigrationRules(t *testing.T) {
	backendtest.RunMigrationRules(t, backendtest.Migrating{Engine: postgres.Engine, Jobs: notes(),
		Open: func(t testing.TB, ms []tasktype.Migration) backendtest.MigratingDB {
			pool, err := postgres.OpenConfig(context.Background(), pgtest.Schema(t), ms)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(pool.Close)
			return pgMigrating{pool}
		}})
}

type pgMigrating struct{ pool *pgxpool.Pool }

func (m pgMigrating) Exec(ctx context.Context, sql string) error {
	_, err := m.pool.Exec(ctx, sql)
	return err
}

func (m pgMigrating) Migrate(ctx context.Context, ms []tasktype.Migration) error {
	return postgres.Migrate(ctx, m.pool, ms)
}

func (m pgMigrating) Applied(ctx context.Context) (map[string]string, error) {
	return postgres.Applied(ctx, m.pool)
}

// warnings collects the log records of slog.Default at level WARN and
// above while a test runs.
type warnings struct {
	mu   sync.Mutex
	msgs []string
}

func captureWarnings(t *testing.T) *warnings {
	w := &warnings{}
	old := slog.Default()
	slog.SetDefault(slog.New(w))
	t.Cleanup(func() { slog.SetDefault(old) })
	return w
}

func (w *warnings) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelWarn }
func (w *warnings) Handle(_ context.Context, r slog.Record) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.msgs = append(w.msgs, r.Message)
	return nil
}
func (w *warnings) WithAttrs([]slog.Attr) slog.Handler { return w }
func (w *warnings) WithGroup(string) slog.Handler      { return w }

func (w *warnings) take() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := w.msgs
	w.msgs = nil
	return out
}

// TestUnvalidatedConstraint: a migration adds a narrower CHECK NOT VALID
// and validates it after the commit; a row that breaks it, written by a
// program of the earlier spec in a transaction under way while the
// migration ran (its data check did not see the row), makes the
// validation fail. The program starts all the same, and so does every
// later start, each warning with the rule, how many rows break it, an
// example and how to find them; the constraint refuses new rows that
// break it, and once the rows are fixed the next start validates it.
func TestUnvalidatedConstraint(t *testing.T) {
	ctx := context.Background()
	schema := []tasktype.Migration{{Name: "job/0001_schema", SQL: `CREATE TABLE job (id text PRIMARY KEY, note text NOT NULL CHECK (char_length(note) <= 20));
CREATE TABLE job_history (task_id text NOT NULL, seq int NOT NULL, to_status text NOT NULL CHECK (to_status IN ('QUEUED', 'DONE', 'LOST')), PRIMARY KEY (task_id, seq));
`}}
	tests := []struct {
		name    string
		narrow  tasktype.Migration
		write   string // the earlier program's row, breaking the new rule
		another string // a row breaking it written after the migration
		fix     string
		warning string
	}{
		{"a task, with its data check",
			tasktype.Migration{Name: "job/0002_short_note", SQL: `-- taskmodel:check job.note | at most 5 characters | tasks
SELECT count(*), min(id::text) FROM job WHERE (char_length(note) <= 5) IS FALSE;
-- taskmodel:migrate
ALTER TABLE job DROP CONSTRAINT job_note_check;
ALTER TABLE job ADD CONSTRAINT job_note_check CHECK (char_length(note) <= 5) NOT VALID;
-- taskmodel:validate
ALTER TABLE job VALIDATE CONSTRAINT job_note_check;
`},
			"INSERT INTO job (id, note) VALUES ('b', 'far too long'), ('c', 'too long too')",
			"INSERT INTO job (id, note) VALUES ('d', 'far too long')",
			"UPDATE job SET note = left(note, 5)",
			`postgres: migration job/0002_short_note is applied, but the constraint job_note_check it added is not validated: job.note: 2 tasks break the rule "at most 5 characters" (for example task b), most likely written by a program still running the earlier spec while the migration ran. ` +
				`This program starts: the constraint refuses every new row and every change that breaks it, so events, updates and worker claims of those tasks fail until they are fixed (a worker pool stalls on such a queued task). ` +
				`Find them with SELECT * FROM job WHERE NOT (char_length(note) <= 5); change them to keep the rule, or delete them; the next start validates the constraint (or run ALTER TABLE job VALIDATE CONSTRAINT job_note_check;)`},
		{"history rows, without a data check",
			tasktype.Migration{Name: "job/0002_no_lost", SQL: `ALTER TABLE job_history DROP CONSTRAINT job_history_to_status_check;
ALTER TABLE job_history ADD CONSTRAINT job_history_to_status_check CHECK (to_status IN ('QUEUED', 'DONE')) NOT VALID;
-- taskmodel:validate
ALTER TABLE job_history VALIDATE CONSTRAINT job_history_to_status_check;
`},
			"INSERT INTO job_history (task_id, seq, to_status) VALUES ('b', 1, 'LOST')",
			"INSERT INTO job_history (task_id, seq, to_status) VALUES ('d', 1, 'LOST')",
			"DELETE FROM job_history WHERE to_status = 'LOST'",
			`postgres: migration job/0002_no_lost is applied, but the constraint job_history_to_status_check it added is not validated: job_history_to_status_check: 1 history row breaks the rule "(to_status = ANY (ARRAY['QUEUED'::text, 'DONE'::text]))" (for example task b), most likely written by a program still running the earlier spec while the migration ran. ` +
				`This program starts: the constraint refuses every new row and every change that breaks it. ` +
				`Find them with SELECT * FROM job_history WHERE NOT (to_status = ANY (ARRAY['QUEUED'::text, 'DONE'::text])); change them to keep the rule, or delete them; the next start validates the constraint (or run ALTER TABLE job_history VALIDATE CONSTRAINT job_history_to_status_check;)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			warned := captureWarnings(t)
			pool, err := postgres.OpenConfig(ctx, pgtest.Schema(t), schema)
			if err != nil {
				t.Fatal(err)
			}
			defer pool.Close()
			if _, err := pool.Exec(ctx, "INSERT INTO job (id, note) VALUES ('a', 'short')"); err != nil {
				t.Fatal(err)
			}
			all := append(slices.Clone(schema), tt.narrow)
			table, _, _ := strings.Cut(strings.TrimPrefix(tt.write, "INSERT INTO "), " ")

			// The earlier program's write, under way when the migration
			// starts: its data check does not see the row, and its ALTER
			// TABLE waits for the write's lock.
			tx, err := pool.Begin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer tx.Rollback(ctx)
			if _, err := tx.Exec(ctx, tt.write); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- postgres.Migrate(ctx, pool, all) }()
			for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
				var waiting bool
				if err := pool.QueryRow(ctx, `SELECT EXISTS (SELECT FROM pg_locks WHERE NOT granted AND relation = $1::regclass)`, table).Scan(&waiting); err != nil {
					t.Fatal(err)
				}
				if waiting {
					break
				}
				select {
				case err := <-done:
					t.Fatalf("the migration did not wait for the write under way: %v", err)
				default:
				}
				if time.Now().After(deadline) {
					t.Fatal("the migration does not wait for the write's lock")
				}
			}
			if err := tx.Commit(ctx); err != nil {
				t.Fatal(err)
			}
			if err := <-done; err != nil {
				t.Fatalf("the start that migrated: %v, want it to start with a warning", err)
			}
			if got := warned.take(); !slices.Equal(got, []string{tt.warning}) {
				t.Fatalf("warnings %q\nwant %q", got, tt.warning)
			}
			validated := func() bool {
				var ok bool
				if err := pool.QueryRow(ctx, `SELECT bool_and(convalidated) FROM pg_constraint WHERE conrelid = $1::regclass AND contype = 'c'`, table).Scan(&ok); err != nil {
					t.Fatal(err)
				}
				return ok
			}
			if validated() {
				t.Fatal("the constraint is validated")
			}
			// It refuses a new row that breaks it.
			if _, err := pool.Exec(ctx, tt.another); err == nil || !strings.Contains(err.Error(), "SQLSTATE 23514") {
				t.Errorf("a row breaking the rule written after the migration: %v, want refused", err)
			}
			// The next start starts, and warns again.
			if err := postgres.Migrate(ctx, pool, all); err != nil {
				t.Fatalf("the next start: %v", err)
			}
			if got := warned.take(); !slices.Equal(got, []string{tt.warning}) {
				t.Fatalf("the next start's warnings %q\nwant %q", got, tt.warning)
			}
			// The rows fixed, the next start validates the constraint.
			if _, err := pool.Exec(ctx, tt.fix); err != nil {
				t.Fatal(err)
			}
			if err := postgres.Migrate(ctx, pool, all); err != nil {
				t.Fatalf("the start after the fix: %v", err)
			}
			if got := warned.take(); len(got) != 0 || !validated() {
				t.Fatalf("after the fix: warnings %q, validated %v; want none, validated", got, validated())
			}
		})
	}
}
