// Package evolutiontest applies the migrations taskgen writes when a spec
// changes to real databases, SQLite, PostgreSQL and MySQL (or MariaDB), that hold a task in
// every status with its history. The cases are taskgen's own
// (tools/taskgen/internal/gen/testdata/evolve): a base spec, and per case a
// changed spec. For each case and engine it checks that:
//   - a migrated database ends with exactly the schema of a database created
//     from the changed spec (catalog dumps compared);
//   - no task and no history row is lost, and stored values are kept
//     (renamed columns included); retired statuses' tasks moved with a
//     history row each;
//   - the new rules are enforced by the database (<case>/probe.sql: writes
//     that must fail);
//   - a data check refuses with its exact message (<case>/refused.txt) and
//     leaves the database exactly as it was;
//   - a migration that fails halfway leaves the old schema (on MySQL, which
//     commits each schema change, it resumes at the failed statement).
package evolutiontest_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.yaml.in/yaml/v3"

	"github.com/taskmodel/taskmodel/backends/backendtest"
	"github.com/taskmodel/taskmodel/backends/mysql"
	"github.com/taskmodel/taskmodel/backends/mysql/mysqltest"
	"github.com/taskmodel/taskmodel/backends/postgres"
	"github.com/taskmodel/taskmodel/backends/postgres/pgtest"
	"github.com/taskmodel/taskmodel/backends/sqlite"
	"github.com/taskmodel/taskmodel/tasktype"
)

const casesDir = "../../tools/taskgen/internal/gen/testdata/evolve"

// engines are the engines every case runs on.
var engines = []string{sqlite.Engine, postgres.Engine, mysql.Engine}

var taskgen string // the taskgen binary, built by TestMain

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "evolutiontest")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	taskgen = filepath.Join(dir, "taskgen")
	cmd := exec.Command("go", "build", "-o", taskgen, "./taskgen")
	cmd.Dir = "../../tools"
	if out, err := cmd.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build taskgen: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// module is a Go module of its own in a temporary directory, with a spec at
// spec/job.yaml generated into gen/job.
type module struct{ dir string }

func newModule(t testing.TB) *module {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module example.com/evolution\n\ngo 1.26\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "spec"), 0o755); err != nil {
		t.Fatal(err)
	}
	return &module{dir: dir}
}

// generate writes the spec at path as spec/job.yaml and runs taskgen; it
// returns taskgen's output when it fails.
func (mod *module) generate(t testing.TB, path string) (string, error) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(mod.dir, "spec", "job.yaml"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(taskgen, "-spec", "spec/job.yaml", "-out", "gen/job", "-sqlc", "gen/sqlc.yaml")
	cmd.Dir = mod.dir
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// migrations reads the model's migrations for an engine, in order.
func (mod *module) migrations(t testing.TB, engine string) []tasktype.Migration {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(mod.dir, "gen", "job", "migrations", engine, "*.sql"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no migrations for %s: %v", engine, err)
	}
	sort.Strings(files)
	var out []tasktype.Migration
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, tasktype.Migration{Name: "job/" + strings.TrimSuffix(filepath.Base(f), ".sql"), SQL: string(data)})
	}
	return out
}

// db is one engine's database under test.
type db interface {
	migrate(ctx context.Context, ms []tasktype.Migration) error
	exec(ctx context.Context, query string, args ...any) error
	rows(ctx context.Context, query string) ([]map[string]string, error)
	catalog(ctx context.Context) (string, error)
}

// sqlDB is what SQLite and MySQL share, through database/sql.
type sqlDB struct{ *sql.DB }

func (d sqlDB) exec(ctx context.Context, query string, args ...any) error {
	_, err := d.ExecContext(ctx, query, args...)
	return err
}

func (d sqlDB) rows(ctx context.Context, query string) ([]map[string]string, error) {
	rows, err := d.QueryContext(ctx, query)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var out []map[string]string
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		row := map[string]string{}
		for i, c := range cols {
			row[c] = text(vals[i])
		}
		out = append(out, row)
	}
	return out, rows.Err()
}

type sqliteDB struct{ sqlDB }

func (d sqliteDB) migrate(ctx context.Context, ms []tasktype.Migration) error {
	return sqlite.Migrate(ctx, d.DB, ms)
}

func (d sqliteDB) catalog(ctx context.Context) (string, error) {
	return backendtest.CatalogSQLite(ctx, d.DB)
}

type mysqlDB struct{ sqlDB }

func (d mysqlDB) migrate(ctx context.Context, ms []tasktype.Migration) error {
	return mysql.Migrate(ctx, d.DB, ms)
}

func (d mysqlDB) catalog(ctx context.Context) (string, error) {
	return backendtest.CatalogMySQL(ctx, d.DB)
}

type pgDB struct{ *pgxpool.Pool }

func (d pgDB) migrate(ctx context.Context, ms []tasktype.Migration) error {
	return postgres.Migrate(ctx, d.Pool, ms)
}

func (d pgDB) exec(ctx context.Context, query string, args ...any) error {
	for i := 1; strings.Contains(query, "?"); i++ {
		query = strings.Replace(query, "?", fmt.Sprintf("$%d", i), 1)
	}
	_, err := d.Exec(ctx, query, args...)
	return err
}

func (d pgDB) rows(ctx context.Context, query string) ([]map[string]string, error) {
	// Not a prepared statement: the table's columns change under it.
	rows, err := d.Query(ctx, query, pgx.QueryExecModeSimpleProtocol)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []map[string]string
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			return nil, err
		}
		row := map[string]string{}
		for i, f := range rows.FieldDescriptions() {
			row[f.Name] = text(vals[i])
		}
		out = append(out, row)
	}
	return out, rows.Err()
}

func (d pgDB) catalog(ctx context.Context) (string, error) {
	return backendtest.CatalogPostgres(ctx, d.Pool)
}

// text renders a scanned value the same way on both engines.
func text(v any) string {
	switch x := v.(type) {
	case nil:
		return "NULL"
	case []byte:
		return string(x)
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	case [16]byte:
		return fmt.Sprintf("%x-%x-%x-%x-%x", x[0:4], x[4:6], x[6:8], x[8:10], x[10:16])
	case float64:
		return fmt.Sprint(x)
	case map[string]any, []any:
		return fmt.Sprint(x)
	}
	return fmt.Sprint(v)
}

func openDB(t testing.TB, engine string) db {
	t.Helper()
	ctx := context.Background()
	if engine == sqlite.Engine {
		d, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "tasks.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { d.Close() })
		return sqliteDB{sqlDB{d}}
	}
	if engine == mysql.Engine {
		d, err := mysql.Open(ctx, mysqltest.Database(t))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { d.Close() })
		return mysqlDB{sqlDB{d}}
	}
	pool, err := postgres.OpenConfig(ctx, pgtest.Schema(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pgDB{pool}
}

func id(n int) string { return fmt.Sprintf("00000000-0000-4000-8000-%012d", n) }

// traceparent is the trace context some of the stored tasks hold, which every
// migration keeps.
const traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

// seed stores a task in every status of the base spec, with the history
// rows that brought it there and values near the base spec's limits.
func seed(t *testing.T, engine string, d db, worker bool) {
	t.Helper()
	ctx := context.Background()
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	type task struct {
		status  string
		cols    map[string]any
		history [][2]string // from, event
	}
	tasks := []task{
		{"QUEUED", map[string]any{"tag": "a"}, [][2]string{{"", ""}}},
		{"RUNNING", map[string]any{"note": strings.Repeat("x", 40), "priority": 8, "weight": 2, "size": "large", "labels": `["a", "b"]`, "user_id": "alice", "started_at": t0,
			"tm_lease_owner": "w1", "tm_lease_expires_at": t0.Add(time.Hour), "tm_lease_attempt": 1, "tm_traceparent": traceparent}, [][2]string{{"", ""}, {"QUEUED", "start"}}},
		{"PAUSED", map[string]any{"note": "short", "priority": 3, "size": "small", "started_at": t0}, [][2]string{{"", ""}, {"QUEUED", "start"}, {"RUNNING", "pause"}}},
		{"DONE", map[string]any{"end_date": t0, "started_at": t0}, [][2]string{{"", ""}, {"QUEUED", "start"}, {"RUNNING", "complete"}}},
		{"FAILED", map[string]any{"error_code": "CRASH", "end_date": t0, "started_at": t0}, [][2]string{{"", ""}, {"QUEUED", "start"}, {"RUNNING", "fail"}}},
		{"CANCELLED", map[string]any{"end_date": t0, "tm_traceparent": traceparent}, [][2]string{{"", ""}, {"QUEUED", "cancel"}}},
	}
	for i, tk := range tasks {
		cols := []string{"id", "status", "version", "created_at", "updated_at", "weight"}
		args := []any{id(i + 1), tk.status, len(tk.history), t0, t0, 1}
		if engine == postgres.Engine || engine == mysql.Engine {
			cols, args = append(cols, "tm_history_seq"), append(args, len(tk.history))
		}
		keys := make([]string, 0, len(tk.cols))
		for k := range tk.cols {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if strings.HasPrefix(k, "tm_lease_") && !worker {
				continue
			}
			if k == "weight" {
				args[5] = tk.cols[k]
				continue
			}
			cols, args = append(cols, k), append(args, tk.cols[k])
		}
		q := fmt.Sprintf("INSERT INTO job (%s) VALUES (%s)", strings.Join(cols, ", "), strings.TrimSuffix(strings.Repeat("?, ", len(cols)), ", "))
		if err := d.exec(ctx, q, args...); err != nil {
			t.Fatalf("seed task %d: %v", i+1, err)
		}
		for seq, h := range tk.history {
			to := tk.status
			if seq+1 < len(tk.history) {
				to = tk.history[seq+1][0]
			}
			var from, event any
			if h[0] != "" {
				from, event = h[0], h[1]
			}
			// MySQL's history has no default message (a TEXT column).
			if err := d.exec(ctx, "INSERT INTO job_history (task_id, seq, from_status, to_status, event, at, actor, message) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
				id(i+1), seq+1, from, to, event, t0.Add(time.Duration(seq)*time.Minute), "seed", ""); err != nil {
				t.Fatalf("seed history of task %d: %v", i+1, err)
			}
		}
	}
}

func TestEvolution(t *testing.T) {
	cases, err := filepath.Glob(filepath.Join(casesDir, "*", "v2.yaml"))
	if err != nil || len(cases) == 0 {
		t.Fatalf("no cases in %s: %v", casesDir, err)
	}
	for _, v2 := range cases {
		dir := filepath.Dir(v2)
		name := filepath.Base(dir)
		base := filepath.Join(casesDir, "base.yaml")
		if _, err := os.Stat(filepath.Join(dir, "v1.yaml")); err == nil {
			base = filepath.Join(dir, "v1.yaml") // the case starts from a spec of its own
		}
		if _, err := os.Stat(filepath.Join(dir, "error.golden")); err == nil {
			continue // taskgen refuses the change; TestEvolve in tools checks the message
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			mod := newModule(t)
			if out, err := mod.generate(t, base); err != nil {
				t.Fatalf("taskgen v1: %v\n%s", err, out)
			}
			v1 := map[string][]tasktype.Migration{}
			for _, e := range engines {
				v1[e] = mod.migrations(t, e)
			}
			if out, err := mod.generate(t, v2); err != nil {
				t.Fatalf("taskgen v2: %v\n%s", err, out)
			}
			fresh := newModule(t)
			if out, err := fresh.generate(t, v2); err != nil {
				t.Fatalf("taskgen v2 as a new model: %v\n%s", err, out)
			}
			refused, _ := os.ReadFile(filepath.Join(dir, "refused.txt"))
			for _, e := range engines {
				t.Run(e, func(t *testing.T) {
					all := mod.migrations(t, e)
					if len(all) != len(v1[e])+1 || !slices.Equal(all[:len(v1[e])], v1[e]) {
						t.Fatalf("v2 did not append one migration to v1's: %d then %d", len(v1[e]), len(all))
					}
					checkCase(t, e, dir, v1[e], all, fresh.migrations(t, e), strings.TrimSpace(string(refused)), specKeys(t, v2, "renamed_from"), backfills(t, v2), retiredStatuses(t, v2),
						entryColumns{old: enteredAt(t, base), new: enteredAt(t, v2)})
				})
			}
		})
	}
}

func checkCase(t *testing.T, engine, caseDir string, v1, v2, fresh []tasktype.Migration, refused string, renamed, filled, retired map[string]string, entry entryColumns) {
	ctx := context.Background()
	d := openDB(t, engine)
	if err := d.migrate(ctx, v1); err != nil {
		t.Fatalf("v1: %v", err)
	}
	seed(t, engine, d, hasWorker(v1))
	before := snapshot(t, d)
	err := d.migrate(ctx, v2)
	if refused != "" {
		if err == nil || err.Error() != refused {
			t.Fatalf("migration: %v\nwant refused: %s", err, refused)
		}
		if after := snapshot(t, d); after.text != before.text {
			t.Fatalf("a refused migration changed the database:\n%s", backendtest.DiffCatalogs(before.text, after.text))
		}
		return
	}
	if err != nil {
		t.Fatalf("migration: %v", err)
	}
	checkFresh(t, engine, d, fresh)
	// The new rules are the database's own: each probe breaks one.
	probes, err := os.ReadFile(filepath.Join(caseDir, "probe."+engine+".sql"))
	if err != nil {
		probes, _ = os.ReadFile(filepath.Join(caseDir, "probe.sql"))
	}
	for _, q := range strings.Split(strings.TrimSpace(string(probes)), "\n") {
		if q == "" {
			continue
		}
		if err := d.exec(ctx, q); !refusedByConstraint(engine, err) {
			t.Errorf("the migrated database took %s (%v), want a constraint to refuse it", q, err)
		}
	}
	// Every task and history row is there.
	tasks, err := d.rows(ctx, "SELECT * FROM job ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	history, err := d.rows(ctx, "SELECT task_id, seq, from_status, to_status, event FROM job_history ORDER BY task_id, seq")
	if err != nil {
		t.Fatal(err)
	}
	if len(tasks) != 6 {
		t.Fatalf("%d tasks after the migration, want 6", len(tasks))
	}
	oldTasks, oldHistory := before.tasks, before.history
	for i, row := range tasks {
		for col, v := range oldTasks[i] {
			if to, ok := renamed[col]; ok {
				col = to
			}
			nv, ok := row[col]
			if !ok || col == "status" || col == "version" || col == "updated_at" || col == "tm_history_seq" {
				continue // dropped, or moved by a retired status (checked below)
			}
			if v == "NULL" && nv == filled[col] {
				continue // backfilled
			}
			if nv != v && !(strings.TrimSuffix(v, ".0") == strings.TrimSuffix(nv, ".0")) {
				t.Errorf("task %d %s = %s, was %s", i+1, col, nv, v)
			}
		}
	}
	if len(history) < len(oldHistory) {
		t.Fatalf("%d history rows after the migration, %d before", len(history), len(oldHistory))
	}
	// The tasks of a retired status moved to its replacement, one history
	// row each, their other values kept (above).
	moved := 0
	for _, h := range history {
		if to, ok := retired[h["from_status"]]; ok && h["to_status"] == to {
			moved++
		}
	}
	if moved != len(history)-len(oldHistory) {
		t.Errorf("%d history rows added, %d of them for moved tasks", len(history)-len(oldHistory), moved)
	}
	want := 0
	for i, old := range oldTasks {
		to, ok := retired[old["status"]]
		if !ok {
			continue
		}
		want++
		if v, _ := strconv.Atoi(old["version"]); tasks[i]["status"] != to || tasks[i]["version"] != strconv.Itoa(v+1) {
			t.Errorf("task %d in %s moved to %s at version %s, want %s at version %d", i+1, old["status"], tasks[i]["status"], tasks[i]["version"], to, v+1)
		}
	}
	if moved != want {
		t.Errorf("%d history rows for moved tasks, want %d", moved, want)
	}
	checkEntryTimes(t, d, entry, renamed)
	if engine == sqlite.Engine {
		checkSQLiteTimes(t, d)
	}
}

// sqliteTime is the text the SQLite driver writes a UTC time in (Go's
// time.Time.String, without the monotonic clock reading).
var sqliteTime = regexp.MustCompile(`^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d*[1-9])? \+0000 UTC$`)

// checkSQLiteTimes checks that every time of the tasks and their history
// is text in the format the driver writes, those the migration wrote
// included: a column holds one format, whose text sorts as its times do.
func checkSQLiteTimes(t *testing.T, d db) {
	t.Helper()
	for _, q := range []string{
		"SELECT id, CAST(created_at AS TEXT) AS t FROM job UNION ALL SELECT id, CAST(updated_at AS TEXT) FROM job UNION ALL SELECT id, CAST(end_date AS TEXT) FROM job WHERE end_date IS NOT NULL",
		"SELECT task_id AS id, CAST(at AS TEXT) AS t FROM job_history",
	} {
		rows, err := d.rows(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rows {
			if !sqliteTime.MatchString(r["t"]) {
				t.Errorf("task %s has the time %q, not in the SQLite driver's format", r["id"], r["t"])
			}
		}
	}
}

// entryColumns are the columns the statuses record their entry in (their
// entered_at), before and after the change.
type entryColumns struct{ old, new map[string]string }

// enteredAt maps each status of the spec to the column it records its
// entry in ("" when it has no entered_at).
func enteredAt(t *testing.T, specPath string) map[string]string {
	data, err := os.ReadFile(specPath)
	if err != nil {
		t.Fatal(err)
	}
	var s struct {
		Statuses map[string]struct {
			EnteredAt string `yaml:"entered_at"`
		} `yaml:"statuses"`
	}
	if err := yaml.Unmarshal(data, &s); err != nil {
		t.Fatalf("%s: %v", specPath, err)
	}
	out := map[string]string{}
	for name, st := range s.Statuses {
		out[name] = st.EnteredAt
	}
	return out
}

// checkEntryTimes checks that every task in a status with entered_at has
// its entry time after the migration (a task whose entry time is null never
// times out), and that where the status's column is new, or another one
// than before (not renamed), it is the time of the task's latest history
// row into the status, else its updated_at. A new status's tasks moved
// there from a retired one (checkCase).
func checkEntryTimes(t *testing.T, d db, entry entryColumns, renamed map[string]string) {
	t.Helper()
	ctx := context.Background()
	tasks, err := d.rows(ctx, "SELECT * FROM job ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	history, err := d.rows(ctx, "SELECT task_id, to_status, at FROM job_history ORDER BY task_id, seq")
	if err != nil {
		t.Fatal(err)
	}
	for _, task := range tasks {
		status := task["status"]
		col := entry.new[status]
		if col == "" || col == "created_at" {
			continue
		}
		got := task[col]
		if got == "NULL" {
			t.Errorf("task %s in %s has no entry time (%s is null): it would never time out", task["id"], status, col)
			continue
		}
		was, had := entry.old[status]
		if !had || was == col || renamed[was] == col {
			continue // a new status, or the same column: its values are kept (checkCase)
		}
		want := task["updated_at"]
		for _, h := range history {
			if h["task_id"] == task["id"] && h["to_status"] == status {
				want = h["at"]
			}
		}
		if got != want {
			t.Errorf("task %s in %s has %s = %s, want %s: the time of its latest history row into %s, else its updated_at", task["id"], status, col, got, want, status)
		}
	}
}

// retiredStatuses maps each status the spec retires to its replacement.
func retiredStatuses(t *testing.T, specPath string) map[string]string {
	data, err := os.ReadFile(specPath)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	re := regexp.MustCompile(`(?m)^    ([A-Za-z0-9_-]+): \{replaced_by: ([A-Za-z0-9_-]+)\}`)
	for _, m := range re.FindAllStringSubmatch(string(data), -1) {
		out[m[1]] = m[2]
	}
	return out
}

// checkFresh checks that d has the schema of a fresh database to which
// fresh, the migrations of a new model of the changed spec, applied.
func checkFresh(t *testing.T, engine string, d db, fresh []tasktype.Migration) {
	t.Helper()
	ctx := context.Background()
	f := openDB(t, engine)
	if err := f.migrate(ctx, fresh); err != nil {
		t.Fatalf("fresh v2: %v", err)
	}
	want, err := f.catalog(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got, err := d.catalog(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := backendtest.DiffCatalogs(want, got); diff != "" {
		t.Errorf("migrated schema differs from a fresh one (- fresh, + migrated):\n%s", diff)
	}
}

// refusedByConstraint reports whether err is a write refused by one of the
// database's rules: a constraint, or on MySQL a value its column's type
// cannot hold (a VARCHAR(n) holds n characters).
func refusedByConstraint(engine string, err error) bool {
	if err == nil {
		return false
	}
	if engine == mysql.Engine {
		return errors.Is(mysql.Classify(err), tasktype.ErrValidation)
	}
	return strings.Contains(err.Error(), "constraint")
}

// state is the catalog and every row of both tables: what a refused
// migration must leave as it was.
type state struct {
	text           string
	tasks, history []map[string]string
}

func snapshot(t *testing.T, d db) state {
	t.Helper()
	ctx := context.Background()
	cat, err := d.catalog(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s := state{text: cat}
	for i, q := range []string{"SELECT * FROM job ORDER BY id", "SELECT * FROM job_history ORDER BY task_id, seq"} {
		rows, err := d.rows(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			s.tasks = rows
		} else {
			s.history = rows
		}
		for _, r := range rows {
			keys := make([]string, 0, len(r))
			for k := range r {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			s.text += "\nrow"
			for _, k := range keys {
				s.text += fmt.Sprintf(" %s=%q", k, r[k])
			}
		}
	}
	return s
}

// specKeys maps the value of a key of the spec's fields to the field's
// name: renamed_from gives the new name of each old one.
func specKeys(t *testing.T, specPath, key string) map[string]string {
	data, err := os.ReadFile(specPath)
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`(?m)^  ([a-z0-9_]+): \{[^}]*` + key + `: ([a-z0-9_]+)`)
	out := map[string]string{}
	for _, m := range re.FindAllStringSubmatch(string(data), -1) {
		out[m[2]] = m[1]
	}
	return out
}

// backfills maps the fields with a backfill to its value.
func backfills(t *testing.T, specPath string) map[string]string {
	out := map[string]string{}
	for v, f := range specKeys(t, specPath, "backfill") {
		out[f] = v
	}
	return out
}

// TestFailedMigrationChangesNothing runs a migration whose body fails after
// its first statements ran (as a migration killed halfway would stop): the
// database keeps its old schema and rows, and nothing is recorded. MySQL
// commits each schema change as it runs: TestMySQLMigrationResumes.
func TestFailedMigrationChangesNothing(t *testing.T) {
	mod := newModule(t)
	if out, err := mod.generate(t, filepath.Join(casesDir, "base.yaml")); err != nil {
		t.Fatalf("taskgen: %v\n%s", err, out)
	}
	v1 := map[string][]tasktype.Migration{}
	for _, e := range []string{sqlite.Engine, postgres.Engine} {
		v1[e] = mod.migrations(t, e)
	}
	if out, err := mod.generate(t, filepath.Join(casesDir, "retire_status", "v2.yaml")); err != nil {
		t.Fatalf("taskgen: %v\n%s", err, out)
	}
	for _, e := range []string{sqlite.Engine, postgres.Engine} {
		t.Run(e, func(t *testing.T) {
			ctx := context.Background()
			all := mod.migrations(t, e)
			last := &all[len(all)-1]
			// Fail at the end of the body, after the moves, the table
			// rebuild (SQLite) and the constraint changes ran.
			last.SQL = strings.Replace(last.SQL, "\n"+tasktype.MarkerValidate, "\nSELECT no_such_column FROM job;\n"+tasktype.MarkerValidate, 1)
			if e == sqlite.Engine {
				last.SQL += "SELECT no_such_column FROM job;\n"
			}
			d := openDB(t, e)
			if err := d.migrate(ctx, v1[e]); err != nil {
				t.Fatal(err)
			}
			seed(t, e, d, true)
			before := snapshot(t, d)
			err := d.migrate(ctx, all)
			if err == nil || !strings.Contains(err.Error(), "no_such_column") {
				t.Fatalf("migration: %v, want the failure", err)
			}
			if after := snapshot(t, d); after.text != before.text {
				t.Fatalf("a failed migration changed the database:\n%s", backendtest.DiffCatalogs(before.text, after.text))
			}
			rows, err := d.rows(ctx, "SELECT count(*) AS n FROM taskmodel_migrations WHERE name = '"+last.Name+"'")
			if err != nil || rows[0]["n"] != "0" {
				t.Fatalf("the failed migration is recorded: %v %v", rows, err)
			}
		})
	}
}

// hasWorker reports whether a model's migrations give it the lease columns.
func hasWorker(ms []tasktype.Migration) bool {
	for _, m := range ms {
		if strings.Contains(m.SQL, "tm_lease_owner") {
			return true
		}
	}
	return false
}

// TestPostgresNoLateWriteInRetiredStatus: on PostgreSQL the moves and the
// status CHECK (added NOT VALID) are one transaction, whose ALTER TABLE
// waits for the writes under way and holds off every other until the
// commit; the CHECK then refuses the retired status in every new row. No
// task can land in the retired status between the moves and the
// validation, which MySQL's separate statements allow: a write of the
// earlier program that began first is moved, a later one refused, and the
// validation succeeds.
func TestPostgresNoLateWriteInRetiredStatus(t *testing.T) {
	ctx := context.Background()
	r := retirements[0]
	mod := newModule(t)
	if out, err := mod.generate(t, filepath.Join(casesDir, "base.yaml")); err != nil {
		t.Fatalf("taskgen: %v\n%s", err, out)
	}
	v1 := mod.migrations(t, postgres.Engine)
	if out, err := mod.generate(t, filepath.Join(casesDir, r.name, "v2.yaml")); err != nil {
		t.Fatalf("taskgen: %v\n%s", err, out)
	}
	all := mod.migrations(t, postgres.Engine)
	d := openDB(t, postgres.Engine).(pgDB)
	if err := d.migrate(ctx, v1); err != nil {
		t.Fatal(err)
	}
	seed(t, postgres.Engine, d, true)
	t0 := time.Date(2026, 1, 3, 0, 0, 0, 0, time.UTC)
	insert := func(ctx context.Context, exec func(context.Context, string, ...any) error, n int) error {
		if err := exec(ctx, "INSERT INTO job (id, status, version, created_at, updated_at, weight, tm_history_seq) VALUES (?, ?, 1, ?, ?, 1, 1)", id(n), r.from, t0, t0); err != nil {
			return err
		}
		return exec(ctx, "INSERT INTO job_history (task_id, seq, to_status, at, actor, message) VALUES (?, 1, ?, ?, 'old', '')", id(n), r.from, t0)
	}
	// The earlier program's write, under way when the migration starts.
	tx, err := d.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	txExec := func(ctx context.Context, q string, args ...any) error {
		for i := 1; strings.Contains(q, "?"); i++ {
			q = strings.Replace(q, "?", fmt.Sprintf("$%d", i), 1)
		}
		_, err := tx.Exec(ctx, q, args...)
		return err
	}
	if err := insert(ctx, txExec, 7); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- d.migrate(ctx, all) }()
	// The migration waits for the write's lock.
	deadline := time.Now().Add(10 * time.Second)
	for {
		rows, err := d.rows(ctx, "SELECT count(*) AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()")
		if err != nil {
			t.Fatal(err)
		}
		if rows[0]["n"] != "0" {
			break
		}
		select {
		case err := <-done:
			t.Fatalf("the migration did not wait for the write under way: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("the migration does not wait for a lock")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("migration: %v", err)
	}
	// The earlier program's next write in the retired status is refused.
	if err := insert(ctx, d.exec, 8); err == nil || !refusedByConstraint(postgres.Engine, err) {
		t.Errorf("a task written in %s after the migration: %v, want refused by the CHECK", r.from, err)
	}
	rows, err := d.rows(ctx, "SELECT status, (SELECT count(*) FROM job_history AS h WHERE h.task_id = job.id AND h.actor = 'taskmodel migrate') AS moves FROM job WHERE id = '"+id(7)+"'")
	if err != nil {
		t.Fatal(err)
	}
	if rows[0]["status"] != r.to || rows[0]["moves"] != "1" {
		t.Errorf("the task written while the migration waited: %v, want %s with one history row of the move", rows[0], r.to)
	}
	rows, err = d.rows(ctx, "SELECT count(*) AS n FROM pg_constraint WHERE NOT convalidated AND connamespace = current_schema()::regnamespace")
	if err != nil {
		t.Fatal(err)
	}
	if rows[0]["n"] != "0" {
		t.Errorf("%s constraints left unvalidated", rows[0]["n"])
	}
}
