package mysql_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/taskmodel/taskmodel/backends"
	"github.com/taskmodel/taskmodel/backends/backendtest"
	"github.com/taskmodel/taskmodel/backends/groupcommit"
	"github.com/taskmodel/taskmodel/backends/mysql"
	"github.com/taskmodel/taskmodel/backends/mysql/mysqltest"
	"github.com/taskmodel/taskmodel/backends/sqltable"
	"github.com/taskmodel/taskmodel/gen/analysis"
	"github.com/taskmodel/taskmodel/gen/analysis/mysqldb"
	"github.com/taskmodel/taskmodel/gen/catalog"
	catalogdb "github.com/taskmodel/taskmodel/gen/catalog/mysqldb"
	evaluationdb "github.com/taskmodel/taskmodel/gen/evaluation/mysqldb"
	pipelinerundb "github.com/taskmodel/taskmodel/gen/pipelinerun/mysqldb"
	"github.com/taskmodel/taskmodel/gen/training"
	trainingdb "github.com/taskmodel/taskmodel/gen/training/mysqldb"
	"github.com/taskmodel/taskmodel/tasktype"
)

func TestConformance(t *testing.T) {
	backendtest.Run(t, func(t testing.TB) backends.Driver[analysis.Task] {
		db, err := mysql.Open(context.Background(), mysqltest.Database(t), analysis.Migrations(mysql.Engine))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return mysqldb.NewDriver(db)
	})
}

func TestStoredValues(t *testing.T) {
	backendtest.RunStoredValues(t, func(t testing.TB) (backends.Driver[analysis.Task], backendtest.StoreJSON) {
		db, err := mysql.Open(context.Background(), mysqltest.Database(t), analysis.Migrations(mysql.Engine))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return mysqldb.NewDriver(db), func(ctx context.Context, id uuid.UUID, v string) error {
			_, err := db.ExecContext(ctx, `UPDATE analysis SET progress_detail = ? WHERE id = ?`, v, id.String())
			return err
		}
	})
}

// TestUndeclaredValues: see backendtest.RunUndeclaredValues. The column's
// CHECK goes, as a newer spec's migration would have rewritten it.
func TestUndeclaredValues(t *testing.T) {
	backendtest.RunUndeclaredValues(t, func(t testing.TB) (backends.Driver[analysis.Task], backendtest.StoreText) {
		db, err := mysql.Open(context.Background(), mysqltest.Database(t), analysis.Migrations(mysql.Engine))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return mysqldb.NewDriver(db), func(ctx context.Context, id uuid.UUID, column, v string) error {
			if _, err := db.ExecContext(ctx, "ALTER TABLE analysis DROP CONSTRAINT analysis_"+column+"_check"); err != nil {
				return err
			}
			_, err := db.ExecContext(ctx, "UPDATE analysis SET `"+column+"` = ? WHERE id = ?", v, id.String())
			return err
		}
	})
}

// TestOldWriter: see backendtest.RunOldWriter.
func TestOldWriter(t *testing.T) {
	backendtest.RunOldWriter(t, func(t testing.TB) (backends.Driver[analysis.Task], func(context.Context) error) {
		db, err := mysql.Open(context.Background(), mysqltest.Database(t), analysis.Migrations(mysql.Engine))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return mysqldb.NewDriver(db), func(ctx context.Context) error {
			if _, err := db.ExecContext(ctx, "ALTER TABLE analysis ADD COLUMN extra TEXT NOT NULL DEFAULT 'x'"); err != nil {
				return err
			}
			_, err := db.ExecContext(ctx, "ALTER TABLE analysis ALTER COLUMN extra DROP DEFAULT")
			return err
		}
	})
}

func TestListing(t *testing.T) {
	backendtest.RunListing(t, func(t testing.TB) backendtest.ListingDrivers {
		db, err := mysql.Open(context.Background(), mysqltest.Database(t), catalog.Migrations(mysql.Engine))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return backendtest.ListingDrivers{Training: trainingdb.NewDriver(db), Evaluation: evaluationdb.NewDriver(db), Analysis: mysqldb.NewDriver(db), PipelineRun: pipelinerundb.NewDriver(db), Lister: catalogdb.NewLister(db)}
	})
}

// BenchmarkTransitions: guarded transitions with their history rows, at
// concurrency 1 and 32 (see backendtest.BenchmarkTransitions):
//
//	go test ./backends/mysql -run '^$' -bench Transitions -benchtime 3s
func BenchmarkTransitions(b *testing.B) {
	backendtest.BenchmarkTransitions(b, func(t testing.TB) backends.Driver[analysis.Task] {
		db, err := mysql.Open(context.Background(), mysqltest.Database(t), analysis.Migrations(mysql.Engine))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return mysqldb.NewDriver(db)
	})
}

// TestTransitionBatches writes batches of transitions as the group commit
// does, small (a pair of statements a transition) and large (through the
// batch's table): a transition applies, one whose task another transition
// moved first does not, and the other tasks' values, text that needs
// escaping and NULLs included, are written as given, as is a history row
// without an event.
func TestTransitionBatches(t *testing.T) {
	for _, others := range []int{0, mysql.MinTableBatch} {
		t.Run(fmt.Sprintf("%d other tasks", others), func(t *testing.T) {
			testTransitionBatch(t, others)
		})
	}
}

func testTransitionBatch(t *testing.T, others int) {
	ctx := context.Background()
	db := openOneConnection(t, training.Migrations(mysql.Engine))
	d := trainingdb.NewDriver(db)
	now := time.Now().UTC().Truncate(time.Microsecond)
	create := func() *training.Training {
		x := training.NewTraining()
		x.ID, x.Version, x.CreatedAt, x.UpdatedAt = uuid.New(), 1, now, now
		tag := "old"
		x.Tag = &tag
		if err := d.Insert(ctx, x, backends.History{To: string(x.Status), At: now, Actor: "test"}); err != nil {
			t.Fatal(err)
		}
		return x
	}
	// move returns the call that moves x to status by event.
	move := func(x *training.Training, status training.Status, event string, mutate func(*training.Training)) sqltable.Call[training.Training] {
		y := *x
		y.Status, y.Version, y.UpdatedAt = status, x.Version+1, x.UpdatedAt.Add(1500*time.Microsecond)
		if mutate != nil {
			mutate(&y)
		}
		return sqltable.Call[training.Training]{Task: &y, From: x.Key(), ID: x.ID, ToStatus: string(status),
			History: backends.History{Event: event, At: y.UpdatedAt, Actor: "test", Message: event}}
	}
	x, y := create(), create()
	if errs := mysql.FlushTransitions(d.Driver, []sqltable.Call[training.Training]{move(y, training.StatusRunning, "start", nil)}); errs[0] != nil {
		t.Fatal(errs[0])
	}
	// y's cancel starts from the queued task, which the start above moved.
	calls := []sqltable.Call[training.Training]{move(x, training.StatusRunning, "start", nil), move(y, training.StatusCancelled, "cancel", nil)}
	for i := range others {
		msg := fmt.Sprintf("line 1 \"%d\" \\ é 🎉\n\tline 2", i)
		epochs, started := int64(1<<62), now.Add(-time.Duration(i)*time.Second-time.Microsecond)
		c := move(create(), training.StatusRunning, "start", func(y *training.Training) {
			y.Tag, y.ErrorMessage, y.Epochs, y.StartedAt, y.Progress = nil, &msg, &epochs, &started, int64(i)
		})
		if i == 1 {
			c.History.Event = "" // a history row without an event: NULL
		}
		calls = append(calls, c)
	}
	errs := mysql.FlushTransitions(d.Driver, calls)
	if errs[0] != nil || !errors.Is(errs[1], groupcommit.ErrNotApplied) {
		t.Fatalf("errors %v, want nil, %v", errs[:2], groupcommit.ErrNotApplied)
	}
	if len(calls) >= mysql.MinTableBatch && batchTableUsable(t, db) {
		if rows, err := batchRows(db); err != nil || rows != len(calls) {
			t.Fatalf("the batch's table holds %d rows (%v), want the batch's %d: the batch did not go through it", rows, err, len(calls))
		}
	}
	for i, err := range errs[2:] {
		if err != nil {
			t.Fatalf("other task %d: %v", i, err)
		}
	}
	for _, id := range []uuid.UUID{x.ID, y.ID} {
		got, err := d.Get(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != training.StatusRunning || got.Version != 2 {
			t.Errorf("task %s version %d, want RUNNING version 2", got.Status, got.Version)
		}
		hs, err := d.History(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		var events []string
		for _, h := range hs {
			events = append(events, fmt.Sprintf("%d %s→%s %s", h.Seq, h.From, h.To, h.Event))
		}
		if want := "1 →QUEUED |2 QUEUED→RUNNING start"; strings.Join(events, "|") != want {
			t.Errorf("history %q, want %q", strings.Join(events, "|"), want)
		}
	}
	for _, c := range calls[2:] {
		got, err := d.Get(ctx, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		gotJSON, _ := json.Marshal(got)
		wantJSON, _ := json.Marshal(c.Task)
		if string(gotJSON) != string(wantJSON) {
			t.Errorf("task read back\n%s\nwant\n%s", gotJSON, wantJSON)
		}
		hs, err := d.History(ctx, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		if h := hs[len(hs)-1]; len(hs) != 2 || h.Seq != 2 || h.From != "QUEUED" || h.To != "RUNNING" || h.Event != c.History.Event || !h.At.Equal(c.History.At) || h.Actor != "test" {
			t.Errorf("history %+v", hs)
		}
	}
}

// TestTransitionBatchLongColumns writes batches of transitions in which one
// transition changes a TEXT column (the training model's error_message)
// and the others change only short columns. TransitionUpdateLong updates
// rows only when the lock finds such a change (@tm_long), which it compares
// byte for byte, so a change that a collation would call equal (a trailing
// space, a letter's case or accent) is written too; a transition whose
// guard fails counts for nothing.
func TestTransitionBatchLongColumns(t *testing.T) {
	text := func(s string) *string { return &s }
	cases := []struct {
		name          string
		before, after *string
		stale         bool // the changing transition's guard fails
		long          int  // @tm_long after the batch
	}{
		{"unchanged", text("boom"), text("boom"), false, 0},
		{"unchanged null", nil, nil, false, 0},
		{"changed", text("boom"), text("bang"), false, 1},
		{"a trailing space", text("boom"), text("boom "), false, 1},
		{"a letter's case", text("boom"), text("Boom"), false, 1},
		{"an accent", text("resume"), text("résumé"), false, 1},
		{"to null", text("boom"), nil, false, 1},
		{"from null to empty", nil, text(""), false, 1},
		{"from empty to null", text(""), nil, false, 1},
		{"a stale transition's change", text("boom"), text("bang"), true, 0},
	}
	db := openOneConnection(t, training.Migrations(mysql.Engine))
	d := trainingdb.NewDriver(db)
	usable := batchTableUsable(t, db)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before, calls := insertBatch(t, d.Driver, func() *training.Training {
				x := training.NewTraining()
				x.ErrorMessage = tc.before
				return x
			}, "start", func(i int, y *training.Training) {
				y.Status = training.StatusRunning
				if i == 0 {
					y.ErrorMessage = tc.after
				} else {
					y.Tag = text(fmt.Sprint("tag ", i))
				}
			})
			stale := -1
			if tc.stale {
				stale, calls[0].From.Version = 0, 7
			}
			flushAndReadBack(t, d.Driver, before, calls, stale)
			if got := longFlag(t, db); usable && got != tc.long {
				t.Errorf("@tm_long = %d, want %d", got, tc.long)
			}
		})
	}
}

// TestTransitionBatchJSONColumns: the same for JSON columns (the analysis
// model's agents list and progress detail).
func TestTransitionBatchJSONColumns(t *testing.T) {
	detail := &analysis.ProgressDetail{CurrentStage: "agent_execution", AgentsTotal: 2}
	done := *detail
	done.AgentsCompleted = 1
	cases := []struct {
		name          string
		before, after *analysis.ProgressDetail
		agents        []string
		long          int
	}{
		{"unchanged", detail, detail, []string{"unified-profiler"}, 0},
		{"a list", nil, nil, []string{"unified-profiler", "score-risk"}, 1},
		{"an object from null", nil, detail, []string{"unified-profiler"}, 1},
		{"an object's field", detail, &done, []string{"unified-profiler"}, 1},
		{"an object to null", detail, nil, []string{"unified-profiler"}, 1},
	}
	db := openOneConnection(t, analysis.Migrations(mysql.Engine))
	d := mysqldb.NewDriver(db)
	usable := batchTableUsable(t, db)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before, calls := insertBatch(t, d.Driver, func() *analysis.Task {
				x := analysis.NewTask()
				x.UserID, x.ToolID, x.Agents, x.ProgressDetail = "ana", "profile", []string{"unified-profiler"}, tc.before
				return x
			}, "verify_uploads", func(i int, y *analysis.Task) {
				y.Status = analysis.StatusQueued
				if i == 0 {
					y.Agents, y.ProgressDetail = tc.agents, tc.after
				}
			})
			flushAndReadBack(t, d.Driver, before, calls, -1)
			if got := longFlag(t, db); usable && got != tc.long {
				t.Errorf("@tm_long = %d, want %d", got, tc.long)
			}
		})
	}
}

// TestTransitionBatchWithoutTable writes a batch of transitions whole where
// the driver cannot use the batch's table: with the training model's
// statements as taskgen generated them before it (the batch was a JSON
// parameter), and for a user without the CREATE TEMPORARY TABLES
// privilege; the driver writes pairs of statements instead. A user with
// that privilege but not DROP (which a TRUNCATE of a table that does not
// exist asks for) uses the table.
func TestTransitionBatchWithoutTable(t *testing.T) {
	old, err := os.ReadFile("testdata/training_query_before_batch_table.sql")
	if err != nil {
		t.Fatal(err)
	}
	generatedBefore := func(t *testing.T) (*sql.DB, *sqltable.Table[training.Training]) {
		db := openOneConnection(t, training.Migrations(mysql.Engine))
		table := *mysql.TableOf(trainingdb.NewDriver(db).Driver)
		table.Stmts = maps.Clone(table.Stmts)
		for _, name := range []string{"TransitionTable", "TransitionClear", "TransitionFill", "TransitionLock", "TransitionUpdateLong", "TransitionHistory", "TransitionUpdateShort"} {
			delete(table.Stmts, name)
		}
		maps.Copy(table.Stmts, sqltable.MustParseStatements(string(old)))
		return db, &table
	}
	// userWith opens the database, migrated, as a new user with privileges
	// on it, over one connection.
	userWith := func(privileges string) func(t *testing.T) (*sql.DB, *sqltable.Table[training.Training]) {
		return func(t *testing.T) (*sql.DB, *sqltable.Table[training.Training]) {
			dsn := mysqltest.Database(t)
			root, err := mysql.Open(context.Background(), dsn, training.Migrations(mysql.Engine))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { root.Close() })
			cfg, err := mysql.ParseDSN(dsn)
			if err != nil {
				t.Fatal(err)
			}
			user := "tm_" + uuid.NewString()[:8]
			for _, stmt := range []string{
				fmt.Sprintf("CREATE USER '%s'@'%%'", user),
				fmt.Sprintf("GRANT %s ON `%s`.* TO '%s'@'%%'", privileges, cfg.DBName, user),
			} {
				if _, err := root.Exec(stmt); err != nil {
					t.Fatal(err)
				}
			}
			t.Cleanup(func() { root.Exec(fmt.Sprintf("DROP USER '%s'@'%%'", user)) })
			cfg.User, cfg.Passwd = user, ""
			db, err := mysql.OpenConfig(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			db.SetMaxOpenConns(1)
			return db, mysql.TableOf(trainingdb.NewDriver(db).Driver)
		}
	}
	cases := []struct {
		name  string
		open  func(t *testing.T) (*sql.DB, *sqltable.Table[training.Training])
		table bool // the batch goes through the batch's table
	}{
		{"generated before", generatedBefore, false},
		{"no temporary tables", userWith("SELECT, INSERT, UPDATE, DELETE, CREATE"), false},
		{"temporary tables but no drop", userWith("SELECT, INSERT, UPDATE, DELETE, CREATE, CREATE TEMPORARY TABLES"), true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			db, table := tc.open(t)
			d := mysql.NewDriver(db, table)
			useTable := tc.table && batchTableUsable(t, db)
			for range 2 { // the second batch after the table was refused
				before, calls := insertBatch(t, d, training.NewTraining, "fail", func(i int, y *training.Training) {
					msg := fmt.Sprint("failed ", i)
					y.Status, y.ErrorMessage = training.StatusFailed, &msg
				})
				flushAndReadBack(t, d, before, calls, -1)
				rows, err := batchRows(db)
				if useTable && (err != nil || rows != len(calls)) {
					t.Errorf("the batch's table after the batch: %d rows, %v; want the batch's %d", rows, err, len(calls))
				}
				if !useTable && err == nil {
					t.Errorf("the batch's table exists (%d rows); want none", rows)
				}
				// Statements generated before never try the table; the
				// others stop trying once it is refused.
				if want := tc.name == "generated before" || useTable; mysql.UsesBatchTable(d) != want {
					t.Errorf("UsesBatchTable = %v after a batch, want %v", !want, want)
				}
			}
		})
	}
}

// TestTransitionBatchTable: the driver creates the batch's table on a
// connection that has none, and empties it before each batch: a batch
// that fails leaves nothing in it.
func TestTransitionBatchTable(t *testing.T) {
	db := openOneConnection(t, training.Migrations(mysql.Engine))
	if !batchTableUsable(t, db) {
		t.Skip("the server logs statements on temporary tables for its replicas: the driver does not use the batch's table")
	}
	d := trainingdb.NewDriver(db)
	start := func(i int, y *training.Training) { y.Status = training.StatusRunning }
	before, calls := insertBatch(t, d.Driver, training.NewTraining, "start", start)
	flushAndReadBack(t, d.Driver, before, calls, -1)

	// A batch that breaks a CHECK fails whole.
	before, calls = insertBatch(t, d.Driver, training.NewTraining, "start", start)
	calls[len(calls)-1].Task.Progress = 1000
	for i, err := range mysql.FlushTransitions(d.Driver, calls) {
		if err == nil || !strings.Contains(err.Error(), "training_progress_check") {
			t.Fatalf("transition %d of a batch with a progress of 1000: %v", i, err)
		}
	}
	if rows, err := batchRows(db); err != nil || rows != 0 {
		t.Fatalf("%d rows in the batch's table after the failed batch (%v), want 0", rows, err)
	}
	calls[len(calls)-1].Task.Progress = 50
	flushAndReadBack(t, d.Driver, before, calls, -1)

	// The table gone (a new connection has none): created again.
	if _, err := db.Exec("DROP TEMPORARY TABLE tm_batch_training"); err != nil {
		t.Fatal(err)
	}
	before, calls = insertBatch(t, d.Driver, training.NewTraining, "start", start)
	flushAndReadBack(t, d.Driver, before, calls, -1)
	if rows, err := batchRows(db); err != nil || rows != len(calls) {
		t.Fatalf("the batch's table after a batch: %d rows, %v; want the batch's %d", rows, err, len(calls))
	}
}

// insertBatch inserts mysql.MinTableBatch tasks that newTask makes,
// started by Init (a new id, version 1, now), and returns them with the
// calls that move each as move changes the i-th task's copy, then Touch:
// version 2, a millisecond later, by event.
func insertBatch[T any, PT interface {
	*T
	Key() backends.Key
	Init(uuid.UUID, time.Time)
	Touch(time.Time)
}](t *testing.T, d *mysql.Driver[T], newTask func() PT, event string, move func(i int, y PT)) ([]*T, []sqltable.Call[T]) {
	t.Helper()
	now := time.Now().UTC().Truncate(time.Microsecond)
	var before []*T
	var calls []sqltable.Call[T]
	for i := range mysql.MinTableBatch {
		x := newTask()
		x.Init(uuid.New(), now)
		if err := d.Insert(context.Background(), x, backends.History{To: x.Key().Status, At: now, Actor: "test"}); err != nil {
			t.Fatal(err)
		}
		y := PT(new(T))
		*y = *x
		move(i, y)
		y.Touch(now.Add(time.Millisecond))
		before = append(before, x)
		calls = append(calls, sqltable.Call[T]{Task: y, From: x.Key(), ID: x.Key().ID, ToStatus: y.Key().Status,
			History: backends.History{Event: event, At: now.Add(time.Millisecond), Actor: "test"}})
	}
	return before, calls
}

// openOneConnection opens a new database with migrations, over one
// connection: the user variables a script sets can be read after it.
func openOneConnection(t *testing.T, migrations []tasktype.Migration) *sql.DB {
	t.Helper()
	db, err := mysql.Open(context.Background(), mysqltest.Database(t), migrations)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	db.SetMaxOpenConns(1)
	return db
}

// batchTableUsable reports whether the driver may use the batch's table on
// db's server: not where it logs statements on temporary tables for its
// replicas (a binary log in statement format, or mixed on MariaDB).
func batchTableUsable(t *testing.T, db *sql.DB) bool {
	t.Helper()
	logged, err := mysql.ServerLogsBatchTable(db)
	if err != nil {
		t.Fatal(err)
	}
	return !logged
}

// batchRows counts the rows of the training model's batch table on db's
// one connection; an error when the connection has no such table.
func batchRows(db *sql.DB) (int, error) {
	var n int
	err := db.QueryRow("SELECT COUNT(*) FROM tm_batch_training").Scan(&n)
	return n, err
}

// longFlag returns @tm_long as the last batch of transitions on db's one
// connection left it.
func longFlag(t *testing.T, db *sql.DB) int {
	t.Helper()
	var v sql.NullInt64
	if err := db.QueryRow("SELECT @tm_long").Scan(&v); err != nil {
		t.Fatal(err)
	}
	return int(v.Int64)
}

// flushAndReadBack writes calls as one batch and reads each task back.
// Every call but calls[stale], whose guard names a stale version, must
// apply and leave the task it wrote; calls[stale] must not apply, and
// leave its task as before[stale].
func flushAndReadBack[T any](t *testing.T, d *mysql.Driver[T], before []*T, calls []sqltable.Call[T], stale int) {
	t.Helper()
	for i, err := range mysql.FlushTransitions(d, calls) {
		switch {
		case i == stale && !errors.Is(err, groupcommit.ErrNotApplied):
			t.Fatalf("stale transition %d: %v, want %v", i, err, groupcommit.ErrNotApplied)
		case i != stale && err != nil:
			t.Fatalf("transition %d: %v", i, err)
		}
	}
	for i, c := range calls {
		got, err := d.Get(context.Background(), c.ID)
		if err != nil {
			t.Fatal(err)
		}
		want := c.Task
		if i == stale {
			want = before[i]
		}
		gotJSON, _ := json.Marshal(got)
		wantJSON, _ := json.Marshal(want)
		if string(gotJSON) != string(wantJSON) {
			t.Errorf("task %d read back\n%s\nwant\n%s", i, gotJSON, wantJSON)
		}
	}
}
