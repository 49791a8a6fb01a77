package dashboard_test

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/taskmodel/taskmodel/auth"
	"github.com/taskmodel/taskmodel/backends"
	"github.com/taskmodel/taskmodel/backends/backendtest"
	"github.com/taskmodel/taskmodel/backends/postgres"
	"github.com/taskmodel/taskmodel/backends/postgres/pgtest"
	"github.com/taskmodel/taskmodel/backends/sqlite"
	"github.com/taskmodel/taskmodel/blob/local"
	"github.com/taskmodel/taskmodel/gen/catalog"
	"github.com/taskmodel/taskmodel/server"
	"github.com/taskmodel/taskmodel/server/dashboard"
)

// BenchmarkPages measures the server time of the dashboard's pages over
// 1,000,000 tasks of the five background task types, each with its
// history (TASKMODEL_BENCH_DASHBOARD_ROWS to change the count):
//
//	go test ./server/dashboard -run '^$' -bench Pages -benchtime 200x
//
// Each request goes to the server's handler in the process (no network),
// signed in as an admin, who sees every task: the heaviest view. The data
// set is loaded once a day (its times follow the clock, so that "the last
// hour" holds tasks) into a SQLite file in the temporary directory and a
// PostgreSQL schema, and kept for later runs that day.
func BenchmarkPages(b *testing.B) {
	n := 1_000_000
	if v, err := strconv.Atoi(os.Getenv("TASKMODEL_BENCH_DASHBOARD_ROWS")); err == nil {
		n = v
	}
	day := time.Now().UTC().Truncate(24 * time.Hour)
	for _, engine := range []string{"sqlite", "postgres"} {
		b.Run(engine, func(b *testing.B) {
			h, cookie, id := benchServer(b, engine, n, day)
			pages := []struct{ name, path string }{
				{"tasks", "/"},
				{"tasks_running_training", "/?status=R&task_type=training"},
				{"tasks_list_fragment", "/ui/list?status=F&within_hours=24"},
				{"task", "/ui/tasks/" + id},
				{"models", "/ui/models"},
				{"model_training", "/ui/models/training"},
				{"model_training_fragment", "/ui/models/training/view"},
				{"model_training_7d", "/ui/models/training?window=7d"},
				{"model_analysis", "/ui/models/analysis"},
			}
			serve := func(b *testing.B, path string) time.Duration {
				req := httptest.NewRequest("GET", path, nil)
				req.RemoteAddr = "127.0.0.1:40000"
				req.AddCookie(cookie)
				rec := httptest.NewRecorder()
				start := time.Now()
				h.ServeHTTP(rec, req)
				took := time.Since(start)
				if rec.Code != http.StatusOK {
					b.Fatalf("GET %s: %d: %s", path, rec.Code, rec.Body.String())
				}
				return took
			}
			for _, p := range pages {
				b.Run(p.name, func(b *testing.B) {
					// The first request after the server starts counts the
					// large statuses up to the cap and starts their full
					// counts in the background; the timed requests come
					// after those have finished.
					first := serve(b, p.path)
					time.Sleep(benchSettle)
					times := make([]time.Duration, 0, b.N)
					for b.Loop() {
						times = append(times, serve(b, p.path))
					}
					slices.Sort(times)
					ms := func(q float64) float64 {
						return float64(times[int(q*float64(len(times)-1))].Microseconds()) / 1000
					}
					b.ReportMetric(float64(first.Microseconds())/1000, "first_ms")
					b.ReportMetric(ms(0.50), "p50_ms")
					b.ReportMetric(ms(0.99), "p99_ms")
				})
			}
		})
	}
}

// benchSettle is how long a page's benchmark waits after its first
// request, for the full counts it started (well under a second each on
// these machines).
const benchSettle = 3 * time.Second

// benchServer opens (loading it when needed) the benchmark's database of
// engine and returns the server's handler with the dashboard, an admin's
// session cookie and the ID of a task.
func benchServer(b *testing.B, engine string, n int, day time.Time) (http.Handler, *http.Cookie, string) {
	ctx := context.Background()
	var backend *server.Backend
	var tokens auth.Store
	var err error
	switch engine {
	case "sqlite":
		path := filepath.Join(os.TempDir(), fmt.Sprintf("taskmodel-bench-dashboard-%d-%s.db", n, day.Format("20060102")))
		db, err := sqlite.Open(ctx, path, catalog.Migrations(sqlite.Engine))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { db.Close() })
		if err := loadSQLite(ctx, b, db, n, day); err != nil {
			b.Fatal(err)
		}
		backend = server.SQLite(db)
		if tokens, err = auth.NewSQLite(ctx, db); err != nil {
			b.Fatal(err)
		}
	case "postgres":
		pgtest.Schema(b) // skips (or fails under CI) when no server answers
		schema := fmt.Sprintf("taskmodel_bench_dashboard_%d_%s", n, day.Format("20060102"))
		conn, err := pgx.Connect(ctx, pgtest.URL())
		if err != nil {
			b.Fatal(err)
		}
		if _, err := conn.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+schema); err != nil {
			b.Fatal(err)
		}
		conn.Close(ctx)
		cfg, err := pgxpool.ParseConfig(pgtest.URL())
		if err != nil {
			b.Fatal(err)
		}
		cfg.ConnConfig.RuntimeParams["search_path"] = schema
		pool, err := postgres.OpenConfig(ctx, cfg, catalog.Migrations(postgres.Engine))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(pool.Close)
		if err := loadPostgres(ctx, b, pool, n, day); err != nil {
			b.Fatal(err)
		}
		// As autovacuum would on a server after the load (the test
		// server runs with autovacuum off): the visibility map lets
		// counts read the indexes alone.
		for _, t := range backendtest.ListingTypes {
			if _, err := pool.Exec(ctx, "VACUUM ANALYZE "+t+", "+t+"_history"); err != nil {
				b.Fatal(err)
			}
		}
		backend = server.Postgres(pool)
		if tokens, err = auth.NewPostgres(ctx, pool); err != nil {
			b.Fatal(err)
		}
	}
	models, err := catalog.Serve(backend)
	if err != nil {
		b.Fatal(err)
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	blobs, err := local.New(local.Config{Dir: b.TempDir(), BaseURL: "http://127.0.0.1/blobs/", SigningKey: bytes.Repeat([]byte("k"), 32)})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { blobs.Close() })
	srv, err := server.New(server.Config{
		Models: models, Blobs: blobs,
		Authenticate: func(ctx context.Context, token string) (server.User, error) {
			u, err := tokens.Authenticate(ctx, token)
			if err != nil {
				return server.User{}, server.ErrUnauthorized
			}
			return server.User{Name: u.Name, Admin: u.Admin}, nil
		},
		Logger: quiet,
	})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := dashboard.Mount(srv, dashboard.Options{Logger: quiet}); err != nil {
		b.Fatal(err)
	}
	secret, _, err := tokens.Create(ctx, "bench-admin", true)
	if err != nil {
		b.Fatal(err)
	}
	var id string
	if err := benchDataset(1, day, func(r benchRow) error { id = r.ID.String(); return nil }); err != nil {
		b.Fatal(err)
	}
	return srv.Handler(), &http.Cookie{Name: server.SessionCookie, Value: secret}, id
}

// benchRow is a task of the benchmark's data set with its history: the
// listing benchmark's tasks (backendtest.ListingDataset), moved so that
// the data set ends at the start of day, each with the history its status
// implies: created QUEUED, started a minute later, and finished at its end
// date.
type benchRow struct {
	backendtest.DatasetRow
	History []benchHistory
}

type benchHistory struct {
	Seq        int64
	From       *string
	To, Event  string
	At         time.Time
	Actor, Msg string
}

func benchDataset(n int, day time.Time, emit func(benchRow) error) error {
	shift := day.Sub(backendtest.ListingAnchor)
	queued, running := "QUEUED", "RUNNING"
	return backendtest.ListingDataset(n, func(r backendtest.DatasetRow) error {
		r.CreatedAt = r.CreatedAt.Add(shift)
		row := benchRow{DatasetRow: r}
		row.History = append(row.History, benchHistory{Seq: 1, To: queued, At: r.CreatedAt, Actor: "user"})
		if r.Status != queued {
			started := r.CreatedAt.Add(time.Minute)
			row.History = append(row.History, benchHistory{Seq: 2, From: &queued, To: running, Event: "start", At: started, Actor: "worker"})
			if r.Status != running {
				end := started
				if r.EndDate != nil {
					end = r.EndDate.Add(shift)
					row.EndDate = &end
				}
				ev := map[string]string{"DONE": "complete", "FAILED": "fail", "CANCELLED": "cancel"}[r.Status]
				row.History = append(row.History, benchHistory{Seq: 3, From: &running, To: r.Status, Event: ev, At: end, Actor: "worker"})
			}
		}
		return emit(row)
	})
}

func (r benchRow) updatedAt() time.Time { return r.History[len(r.History)-1].At }

func benchColumns(table string) (cols []string, extra []any) {
	cols = []string{"id", "status", "version", "created_at", "updated_at", "tag", "end_date", "user_id", "progress"}
	extra = []any{int64(0)}
	switch table {
	case "model_upload":
		return append(cols, "source"), append(extra, "HUGGINGFACE")
	case "dataset_upload":
		return append(cols, "records_processed"), append(extra, int64(0))
	}
	return cols, extra
}

var historyColumns = []string{"task_id", "seq", "from_status", "to_status", "event", "at", "attempt", "actor", "message"}

func loadedCount(ctx context.Context, q func(context.Context, string) (int, error)) (int, error) {
	have := 0
	for _, t := range backendtest.ListingTypes {
		c, err := q(ctx, "SELECT count(*) FROM "+t)
		if err != nil {
			return 0, err
		}
		have += c
	}
	return have, nil
}

func loadSQLite(ctx context.Context, b *testing.B, db *sql.DB, n int, day time.Time) error {
	have, err := loadedCount(ctx, func(ctx context.Context, q string) (c int, err error) {
		return c, db.QueryRowContext(ctx, q).Scan(&c)
	})
	if err != nil || have == n {
		return err
	}
	b.Logf("loading %d tasks with their history into SQLite (once a day; kept in the temporary directory)", n)
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	tasks, hist := map[string]*sql.Stmt{}, map[string]*sql.Stmt{}
	for _, t := range backendtest.ListingTypes {
		for _, q := range []string{"DELETE FROM " + t + "_history", "DELETE FROM " + t} {
			if _, err := tx.ExecContext(ctx, q); err != nil {
				return err
			}
		}
		cols, _ := benchColumns(t)
		if tasks[t], err = tx.PrepareContext(ctx, insertSQL(t, cols)); err != nil {
			return err
		}
		if hist[t], err = tx.PrepareContext(ctx, insertSQL(t+"_history", historyColumns)); err != nil {
			return err
		}
	}
	err = benchDataset(n, day, func(r benchRow) error {
		_, extra := benchColumns(r.Table)
		args := append([]any{r.ID, r.Status, int64(len(r.History)), r.CreatedAt, r.updatedAt(), r.Tag, backends.UTC(r.EndDate), r.Owner}, extra...)
		if _, err := tasks[r.Table].ExecContext(ctx, args...); err != nil {
			return err
		}
		for _, h := range r.History {
			if _, err := hist[r.Table].ExecContext(ctx, r.ID, h.Seq, h.From, h.To, nullable(h.Event), h.At, 0, h.Actor, h.Msg); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, "ANALYZE"); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	_, err = db.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)")
	return err
}

// insertSQL inserts a row of cols into table, every value a parameter.
func insertSQL(table string, cols []string) string {
	return "INSERT INTO " + table + " (" + strings.Join(cols, ", ") + ") VALUES (" + strings.TrimSuffix(strings.Repeat("?, ", len(cols)), ", ") + ")"
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func loadPostgres(ctx context.Context, b *testing.B, pool *pgxpool.Pool, n int, day time.Time) error {
	have, err := loadedCount(ctx, func(ctx context.Context, q string) (c int, err error) {
		return c, pool.QueryRow(ctx, q).Scan(&c)
	})
	if err != nil || have == n {
		return err
	}
	b.Logf("loading %d tasks with their history into PostgreSQL (once a day; kept while the schema lives)", n)
	for _, t := range backendtest.ListingTypes {
		if _, err := pool.Exec(ctx, "TRUNCATE "+t+", "+t+"_history"); err != nil {
			return err
		}
	}
	tasks, hist := map[string][][]any{}, map[string][][]any{}
	err = benchDataset(n, day, func(r benchRow) error {
		_, extra := benchColumns(r.Table)
		tasks[r.Table] = append(tasks[r.Table], append([]any{r.ID, r.Status, int64(len(r.History)), r.CreatedAt, r.updatedAt(), r.Tag, r.EndDate, r.Owner}, extra...))
		for _, h := range r.History {
			hist[r.Table] = append(hist[r.Table], []any{r.ID, h.Seq, h.From, h.To, nullable(h.Event), h.At, int64(0), h.Actor, h.Msg})
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, t := range backendtest.ListingTypes {
		cols, _ := benchColumns(t)
		if _, err := pool.CopyFrom(ctx, pgx.Identifier{t}, cols, pgx.CopyFromRows(tasks[t])); err != nil {
			return err
		}
		if _, err := pool.CopyFrom(ctx, pgx.Identifier{t + "_history"}, historyColumns, pgx.CopyFromRows(hist[t])); err != nil {
			return err
		}
		if _, err := pool.Exec(ctx, "ANALYZE "+t+", "+t+"_history"); err != nil {
			return err
		}
	}
	return nil
}
