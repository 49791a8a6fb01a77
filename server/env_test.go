package server_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/taskmodel/taskmodel/auth"
	"github.com/taskmodel/taskmodel/backends"
	"github.com/taskmodel/taskmodel/backends/mysql"
	"github.com/taskmodel/taskmodel/backends/mysql/mysqltest"
	"github.com/taskmodel/taskmodel/backends/postgres"
	"github.com/taskmodel/taskmodel/backends/postgres/pgtest"
	"github.com/taskmodel/taskmodel/backends/sqlite"
	"github.com/taskmodel/taskmodel/blob"
	"github.com/taskmodel/taskmodel/blob/local"
	blobs3 "github.com/taskmodel/taskmodel/blob/s3"
	"github.com/taskmodel/taskmodel/blob/s3/s3test"
	"github.com/taskmodel/taskmodel/gen/analysis"
	analysismysql "github.com/taskmodel/taskmodel/gen/analysis/mysqldb"
	analysispg "github.com/taskmodel/taskmodel/gen/analysis/pgdb"
	analysissqlite "github.com/taskmodel/taskmodel/gen/analysis/sqlitedb"
	"github.com/taskmodel/taskmodel/gen/catalog"
	catalogmysql "github.com/taskmodel/taskmodel/gen/catalog/mysqldb"
	catalogpg "github.com/taskmodel/taskmodel/gen/catalog/pgdb"
	catalogsqlite "github.com/taskmodel/taskmodel/gen/catalog/sqlitedb"
	"github.com/taskmodel/taskmodel/gen/synthesis"
	synthesismysql "github.com/taskmodel/taskmodel/gen/synthesis/mysqldb"
	synthesispg "github.com/taskmodel/taskmodel/gen/synthesis/pgdb"
	synthesissqlite "github.com/taskmodel/taskmodel/gen/synthesis/sqlitedb"
	"github.com/taskmodel/taskmodel/sdk/engine"
	"github.com/taskmodel/taskmodel/sdk/pipeline"
	"github.com/taskmodel/taskmodel/sdk/worker"
	"github.com/taskmodel/taskmodel/server"
	"github.com/taskmodel/taskmodel/server/demo"
	"github.com/taskmodel/taskmodel/tasktype"
)

// backendNames are the backends every end-to-end test runs on;
// sqlBackends, those of the tests that need a database.
var (
	backendNames = []string{"memory", "sqlite", "postgres", "mysql"}
	sqlBackends  = []string{"sqlite", "postgres", "mysql"}
)

func openBackend(t testing.TB, name, sqlitePath string) (*server.Backend, func(context.Context) (auth.Store, error), func(testing.TB) otherProcess) {
	t.Helper()
	ctx := context.Background()
	switch name {
	case "sqlite":
		path := sqlitePath
		if path == "" {
			path = filepath.Join(t.TempDir(), "tasks.db")
		}
		db, err := sqlite.Open(ctx, path, catalog.Migrations(sqlite.Engine))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		other := func(t testing.TB) otherProcess {
			db, err := sqlite.Open(ctx, path, catalog.Migrations(sqlite.Engine))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			return otherProcess{eng: engine.New[analysis.Task, analysis.Event](analysissqlite.NewDriver(db)),
				synthesis: engine.New[synthesis.Synthesis, synthesis.Event](synthesissqlite.NewDriver(db)),
				storeStatus: func(ctx context.Context, table, id, status string) error {
					conn, err := db.Conn(ctx)
					if err != nil {
						return err
					}
					defer conn.Close()
					if _, err := conn.ExecContext(ctx, `PRAGMA ignore_check_constraints = ON`); err != nil {
						return err
					}
					defer conn.ExecContext(ctx, `PRAGMA ignore_check_constraints = OFF`)
					_, err = conn.ExecContext(ctx, `UPDATE `+table+` SET status = ? WHERE id = ?`, status, id)
					return err
				}}
		}
		return server.SQLite(db), func(ctx context.Context) (auth.Store, error) { return auth.NewSQLite(ctx, db) }, other
	case "postgres":
		cfg := pgtest.Schema(t)
		pool, err := postgres.OpenConfig(ctx, cfg.Copy(), catalog.Migrations(postgres.Engine))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(pool.Close)
		other := func(t testing.TB) otherProcess {
			pool, err := postgres.OpenConfig(ctx, cfg.Copy(), catalog.Migrations(postgres.Engine))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(pool.Close)
			return otherProcess{eng: engine.New[analysis.Task, analysis.Event](analysispg.NewDriver(pool)),
				synthesis: engine.New[synthesis.Synthesis, synthesis.Event](synthesispg.NewDriver(pool)), pg: pool,
				storeStatus: func(ctx context.Context, table, id, status string) error {
					if _, err := pool.Exec(ctx, `ALTER TABLE `+table+` DROP CONSTRAINT IF EXISTS `+table+`_status_check`); err != nil {
						return err
					}
					_, err := pool.Exec(ctx, `UPDATE `+table+` SET status = $1 WHERE id = $2`, status, id)
					return err
				}}
		}
		return server.Postgres(pool), func(ctx context.Context) (auth.Store, error) { return auth.NewPostgres(ctx, pool) }, other
	case "mysql":
		url := mysqltest.Database(t)
		db, err := mysql.Open(ctx, url, catalog.Migrations(mysql.Engine))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		other := func(t testing.TB) otherProcess {
			db, err := mysql.Open(ctx, url, catalog.Migrations(mysql.Engine))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			return otherProcess{eng: engine.New[analysis.Task, analysis.Event](analysismysql.NewDriver(db)),
				synthesis: engine.New[synthesis.Synthesis, synthesis.Event](synthesismysql.NewDriver(db)),
				storeStatus: func(ctx context.Context, table, id, status string) error {
					_, _ = db.ExecContext(ctx, "ALTER TABLE "+table+" DROP CONSTRAINT "+table+"_status_check") // gone after the first call
					_, err := db.ExecContext(ctx, "UPDATE "+table+" SET status = ? WHERE id = ?", status, id)
					return err
				}}
		}
		return server.MySQL(db), func(ctx context.Context) (auth.Store, error) { return auth.NewMySQL(ctx, db) }, other
	}
	return server.Memory(), func(context.Context) (auth.Store, error) { return auth.NewMemory(), nil }, nil
}

// otherProcess is the env's database opened again, as another process
// would: an analysis and a synthesis engine of its own and, on PostgreSQL,
// its pool.
type otherProcess struct {
	eng       *engine.Engine[analysis.Task, analysis.Event, *analysis.Task]
	synthesis *engine.Engine[synthesis.Synthesis, synthesis.Event, *synthesis.Synthesis]
	pg        *pgxpool.Pool // nil on SQLite and MySQL
	// storeStatus sets the status of task id of table past the column's
	// CHECK, as a program built from a newer spec (one that declares more
	// statuses) would once its migration rewrote the CHECK.
	storeStatus func(ctx context.Context, table, id, status string) error
}

// clock is a settable clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) { c.mu.Lock(); defer c.mu.Unlock(); c.t = c.t.Add(d) }

type envOptions struct {
	clock     *clock // nil: real time
	workers   bool   // run a demo worker pool
	agentTime time.Duration
	anonymous string
	cors      []string
	s3        bool          // files in an S3-compatible server (started in the test) instead of a local directory
	poll      time.Duration // how often Watch (event streams) polls; 0: 20 ms
	rescue    time.Duration // run the server's background work (Run), rescuing lost leases this often
	// Slow clients and revoked tokens (0: the server's defaults).
	bodyMinRate  int64
	bodyGrace    time.Duration
	tokenRecheck time.Duration
	pipelines    bool            // serve pipeline tracking (env.tracker)
	engine       []engine.Option // more options of every model's engine
	claimPoll    time.Duration   // the server's ClaimPoll (0: its default)
	sqlitePath   string          // the SQLite database file ("": a new one)
	// uploads, when set, replaces the analysis model's uploads section,
	// and the server serves that model alone.
	uploads *tasktype.Uploads
	// wrapBlobs, when set, wraps the blob store the server uses.
	wrapBlobs func(blob.Store) blob.Store
	// log, when set, receives the server's log records (every level)
	// instead of the test's log (warnings and errors).
	log slog.Handler
}

// env is a taskmodel server on a real loopback HTTP listener, with tokens
// for alice, bob and admin (an admin).
type env struct {
	t      testing.TB
	url    string
	srv    *server.Server
	models *server.Models
	blobs  blob.Store
	tokens map[string]string
	// tokenIDs are the ids of tokens (to revoke them through auth).
	tokenIDs map[string]string
	auth     auth.Store
	pool     *worker.Pool[analysis.Task, analysis.Event, *analysis.Task]
	// other opens the database again, as another process (nil for memory).
	other func(testing.TB) otherProcess
	// tracker serves /pipelines when envOptions.pipelines is set.
	tracker *pipeline.Tracker
}

func newEnv(t testing.TB, backend string, o envOptions) *env {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	b, openAuth, other := openBackend(t, backend, o.sqlitePath)
	var engOpts []engine.Option
	if o.clock != nil {
		engOpts = append(engOpts, engine.WithClock(o.clock.Now))
	}
	poll := 20 * time.Millisecond
	if o.poll != 0 {
		poll = o.poll
	}
	engOpts = append(engOpts, engine.WithPollInterval(poll))
	engOpts = append(engOpts, o.engine...)
	serve := catalog.Serve
	if o.uploads != nil {
		serve = func(b *server.Backend, opts ...engine.Option) (*server.Models, error) {
			return serveAnalysis(b, o.uploads, opts...)
		}
	}
	models, err := serve(b, engOpts...)
	if err != nil {
		t.Fatal(err)
	}
	tokens, err := openAuth(ctx)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, models: models, tokens: map[string]string{}, tokenIDs: map[string]string{}, auth: tokens, other: other}
	for _, u := range []struct {
		name  string
		admin bool
	}{{"alice", false}, {"bob", false}, {"admin", true}} {
		secret, tok, err := tokens.Create(ctx, u.name, u.admin)
		if err != nil {
			t.Fatal(err)
		}
		e.tokens[u.name], e.tokenIDs[u.name] = secret, tok.ID
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e.url = "http://" + ln.Addr().String()
	blobCfg := local.Config{Dir: t.TempDir(), BaseURL: e.url + "/blobs/", SigningKey: bytes.Repeat([]byte("k"), 32)}
	if o.clock != nil {
		blobCfg.Clock = o.clock.Now
	}
	var blobHandler http.Handler
	if o.s3 {
		cfg := s3test.Start(t).Config()
		if o.clock != nil {
			cfg.Clock = o.clock.Now
		}
		if e.blobs, err = blobs3.New(cfg); err != nil {
			t.Fatal(err)
		}
	} else {
		st, err := local.New(blobCfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		e.blobs, blobHandler = st, st.Handler()
	}
	if o.wrapBlobs != nil {
		e.blobs = o.wrapBlobs(e.blobs)
	}
	quiet := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	if o.workers {
		eng, err := server.Engine[analysis.Task, analysis.Event](models, analysis.ModelName)
		if err != nil {
			t.Fatal(err)
		}
		e.pool, err = worker.New(eng, demo.Handler(e.blobs, o.agentTime), worker.Config{Concurrency: 4, PollInterval: 20 * time.Millisecond, CancelCheck: 20 * time.Millisecond, Logger: quiet})
		if err != nil {
			t.Fatal(err)
		}
	}
	if o.pipelines {
		st, err := b.PipelineStorage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		popts := []pipeline.Option{pipeline.WithLogger(quiet)}
		if o.clock != nil {
			popts = append(popts, pipeline.WithClock(o.clock.Now))
		}
		e.tracker = pipeline.New(st, popts...)
	}
	serverLog := quiet
	if o.log != nil {
		serverLog = slog.New(o.log)
	}
	e.srv, err = server.New(server.Config{
		Models: models, DefaultTaskType: analysis.ModelName,
		Authenticate: func(ctx context.Context, token string) (server.User, error) {
			u, err := tokens.Authenticate(ctx, token)
			if err != nil {
				if err == auth.ErrUnauthorized {
					return server.User{}, server.ErrUnauthorized
				}
				return server.User{}, err
			}
			return server.AuthUser(u), nil
		},
		OpenAPI:   catalog.OpenAPI(),
		Anonymous: o.anonymous, Blobs: e.blobs, BlobHandler: blobHandler, CORSOrigins: o.cors,
		Logger: serverLog, SweepEvery: time.Hour, Heartbeat: 50 * time.Millisecond,
		BodyMinRate: o.bodyMinRate, BodyGrace: o.bodyGrace, TokenRecheck: o.tokenRecheck,
		RescueEvery: o.rescue, ClaimPoll: o.claimPoll,
		Pipelines: e.tracker,
		Wake: func(string) {
			if e.pool != nil {
				e.pool.Wake()
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	if e.pool != nil {
		wg.Go(func() { _ = e.pool.Run(ctx) })
	}
	if o.rescue > 0 {
		wg.Go(func() { _ = e.srv.Run(ctx) })
	}
	wg.Go(func() { _ = e.srv.Serve(ctx, ln, 5*time.Second) })
	t.Cleanup(func() { cancel(); wg.Wait() })
	return e
}

// serveAnalysis serves the analysis model alone, as catalog.Serve does but
// with up as its uploads section: upload rules its spec does not have.
func serveAnalysis(b *server.Backend, up *tasktype.Uploads, opts ...engine.Option) (*server.Models, error) {
	ms := server.NewModels(b, catalog.Models(), server.Listers{
		MySQL:    func(db *sql.DB) backends.Lister { return catalogmysql.NewLister(db) },
		Postgres: func(db *pgxpool.Pool) backends.Lister { return catalogpg.NewLister(db) },
		SQLite:   func(db *sql.DB) backends.Lister { return catalogsqlite.NewLister(db) },
	})
	api := analysis.API
	api.Uploads = up
	server.Add[analysis.Task, analysis.Event](ms, server.Model[analysis.Task]{
		API: api, Lifecycle: analysis.Lifecycle(), Name: analysis.ModelName, New: analysis.NewTask, Worker: analysis.Worker,
		MySQL:    func(db *sql.DB) backends.Driver[analysis.Task] { return analysismysql.NewDriver(db) },
		Postgres: func(db *pgxpool.Pool) backends.Driver[analysis.Task] { return analysispg.NewDriver(db) },
		SQLite:   func(db *sql.DB) backends.Driver[analysis.Task] { return analysissqlite.NewDriver(db) },
	}, opts...)
	return ms, ms.Err()
}

// response is one HTTP answer.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("body is not a JSON object: %v\n%s", err, r.body)
	}
	return m
}

// do sends a request as user ("" for none) and reads the whole answer.
func (e *env) do(method, path, user, body string, header ...string) response {
	e.t.Helper()
	url := path
	if strings.HasPrefix(path, "/") {
		url = e.url + path
	}
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if user != "" {
		req.Header.Set("Authorization", "Bearer "+e.tokens[user])
	}
	for i := 0; i+1 < len(header); i += 2 {
		if header[i] == "Host" {
			req.Host = header[i+1] // the client sends req.Host, not a Host header
			continue
		}
		req.Header.Set(header[i], header[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return response{status: res.StatusCode, header: res.Header, body: data}
}

// must is do that expects a status.
func (e *env) must(status int, method, path, user, body string, header ...string) response {
	e.t.Helper()
	r := e.do(method, path, user, body, header...)
	if r.status != status {
		e.t.Fatalf("%s %s: status %d, want %d\n%s", method, path, r.status, status, r.body)
	}
	return r
}

// create makes an analysis task as user and returns its id.
func (e *env) create(user string) string {
	e.t.Helper()
	r := e.must(201, "POST", "/tasks", user, `{"tool_id":"profile-my-data","agents":["unified-profiler","score-risk"]}`)
	return r.json(e.t)["task_id"].(string)
}

// uploadURLs asks for the lifecycle's upload URLs (primary and parameters).
func (e *env) uploadURLs(user, id string) map[string]any {
	e.t.Helper()
	r := e.must(200, "POST", "/tasks/"+id+"/upload-urls", user, `{"files":{"primary":{"filename":"data.csv","content_type":"text/csv"}},"has_parameters":true}`)
	return r.json(e.t)["uploads"].(map[string]any)
}

// put uploads body to a presigned URL.
func (e *env) put(u map[string]any, contentType, body string) {
	e.t.Helper()
	e.must(200, "PUT", u["url"].(string), "", body, "Content-Type", contentType)
}

// putSigned uploads body to a presigned URL as a client that follows the
// upload-urls response does: with exactly the headers it gives.
func (e *env) putSigned(u map[string]any, body string) {
	e.t.Helper()
	data, err := json.Marshal(u)
	if err != nil {
		e.t.Fatal(err)
	}
	var p blob.Presigned
	if err := json.Unmarshal(data, &p); err != nil {
		e.t.Fatal(err)
	}
	req, err := p.NewRequest(context.Background(), strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	answer, _ := io.ReadAll(res.Body)
	if res.StatusCode/100 != 2 {
		e.t.Fatalf("PUT %s with %v: %d %s", p.URL, p.Headers, res.StatusCode, answer)
	}
}

// testWriter sends log lines to the test's log.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}
