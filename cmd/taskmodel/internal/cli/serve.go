package cli

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/spf13/cobra"

	"github.com/taskmodel/taskmodel/backends/mysql"
	"github.com/taskmodel/taskmodel/backends/postgres"
	"github.com/taskmodel/taskmodel/backends/sqlite"
	"github.com/taskmodel/taskmodel/blob"
	"github.com/taskmodel/taskmodel/blob/local"
	blobs3 "github.com/taskmodel/taskmodel/blob/s3"
	"github.com/taskmodel/taskmodel/config"
	"github.com/taskmodel/taskmodel/gen/analysis"
	"github.com/taskmodel/taskmodel/gen/catalog"
	"github.com/taskmodel/taskmodel/sdk/engine"
	"github.com/taskmodel/taskmodel/sdk/pipeline"
	"github.com/taskmodel/taskmodel/sdk/worker"
	"github.com/taskmodel/taskmodel/server"
	"github.com/taskmodel/taskmodel/server/dashboard"
	"github.com/taskmodel/taskmodel/server/demo"
	"github.com/taskmodel/taskmodel/tracing"
)

// serveFlags are taskmodel serve's options.
type serveFlags struct {
	addr        string
	publicURL   string
	blobDir     string
	s3          blobs3.Config
	anonymous   bool
	cors        []string
	workers     int
	demoWorkers bool
	agentTime   time.Duration
	sweepEvery  time.Duration
	retention   time.Duration
	grace       time.Duration
	logLevel    string
	// Slow clients: see server.Config.
	bodyMinRate  int64
	bodyGrace    time.Duration
	readHeader   time.Duration
	tokenRecheck time.Duration
}

func newServeCmd(app *App) *cobra.Command {
	var f serveFlags
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the HTTP API and the web dashboard: create tasks, upload their files, process, list and follow them",
		Long: `serve runs the HTTP API over every built-in model, on the configured
database (by default the embedded SQLite file; PostgreSQL, MySQL or MariaDB
with --database-url or the configuration), with a worker pool running the demo analysis handler
(--demo-workers: a demo handler for the background models too), the
sweeper applying timeouts, and the web dashboard at /. Workers in any
language claim and run the tasks of the models with a worker section over
the worker protocol (/worker/ routes, worker tokens: taskmodel work). Requests need
a bearer token (taskmodel token create), which the dashboard's sign-in page
takes too; --allow-anonymous lets requests from this machine act as the user
"anonymous" instead, and is refused unless --addr is a loopback address. On
start it applies the database migrations not applied yet (taskmodel migrate
shows, previews and applies them beforehand). Prometheus metrics are at
/metrics. OpenTelemetry traces are off unless the standard variables ask
for them: OTEL_TRACES_EXPORTER=otlp, or OTEL_EXPORTER_OTLP_ENDPOINT (or
OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) set; spans then go over OTLP/HTTP
(OTEL_SDK_DISABLED=true or OTEL_TRACES_EXPORTER=none keep them off).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return app.serve(cmd.Context(), f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.addr, "addr", "127.0.0.1:8080", "address to listen on")
	fl.StringVar(&f.publicURL, "public-url", "", "the server's URL as clients reach it, for signed upload and download URLs (default http://ADDR)")
	fl.StringVar(&f.blobDir, "blob-dir", "", "directory of uploaded and output files (default: blobs/ beside the SQLite file; on PostgreSQL and MySQL, $XDG_DATA_HOME/taskmodel/blobs)")
	fl.StringVar(&f.s3.Bucket, "s3-bucket", "", "keep files in this S3 bucket instead of --blob-dir (credentials: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN)")
	fl.StringVar(&f.s3.Endpoint, "s3-endpoint", "", "URL of an S3-compatible service (Backblaze B2, MinIO, …); empty for AWS")
	fl.StringVar(&f.s3.Region, "s3-region", "", "S3 region (default us-east-1)")
	fl.StringVar(&f.s3.Prefix, "s3-prefix", "", "put every key under this prefix in the bucket")
	fl.BoolVar(&f.s3.UsePathStyle, "s3-path-style", false, "bucket in the URL path (most S3-compatible services)")
	fl.BoolVar(&f.anonymous, "allow-anonymous", false, "let requests without a token from this machine act as the user \"anonymous\" (loopback --addr only)")
	fl.StringSliceVar(&f.cors, "cors-origin", nil, "browser origin allowed to call the API and upload (repeatable; * for any)")
	fl.IntVar(&f.workers, "workers", 4, "analysis tasks run at once by the demo handler (0: no worker pool)")
	fl.BoolVar(&f.demoWorkers, "demo-workers", false, "also run a demo handler for the background models (training, evaluation, synthesis, model_upload, dataset_upload): their tasks run --agent-time steps and complete (a tag starting with fail fails); leave off when real workers (taskmodel work) run them")
	fl.DurationVar(&f.agentTime, "agent-time", 800*time.Millisecond, "how long each demo agent works")
	fl.DurationVar(&f.sweepEvery, "sweep-every", 15*time.Second, "how often timeouts are applied")
	fl.DurationVar(&f.retention, "retention", 0, "delete finished tasks older than this (0: keep)")
	fl.DurationVar(&f.grace, "shutdown-grace", 10*time.Second, "how long a shutdown waits for requests and running tasks")
	fl.StringVar(&f.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	fl.Int64Var(&f.bodyMinRate, "body-min-rate", server.DefaultBodyMinRate, "bytes per second a request body (a JSON request or an upload) must average once --body-grace has passed; a slower one is cut off")
	fl.DurationVar(&f.bodyGrace, "body-grace", server.DefaultBodyGrace, "how long a request body may take before --body-min-rate applies")
	fl.DurationVar(&f.readHeader, "read-header-timeout", server.DefaultReadHeaderTimeout, "how long a client may take to send a request's headers")
	fl.DurationVar(&f.tokenRecheck, "token-recheck", server.DefaultTokenRecheck, "how often an open event stream checks that its token is still valid (a revoked token ends it)")
	return cmd
}

// check refuses flag values serve cannot run with, naming the flag.
func (f serveFlags) check() error {
	if f.workers < 0 {
		return usagef(fmt.Errorf("--workers must be 0 or more, not %d", f.workers))
	}
	durations := []struct {
		flag string
		d    time.Duration
		zero string // what 0 means, or "" when 0 is refused too
	}{
		{"--agent-time", f.agentTime, "agents finish at once"},
		{"--sweep-every", f.sweepEvery, ""},
		{"--retention", f.retention, "keep finished tasks"},
		{"--shutdown-grace", f.grace, "stop at once"},
		{"--body-grace", f.bodyGrace, ""},
		{"--read-header-timeout", f.readHeader, ""},
		{"--token-recheck", f.tokenRecheck, ""},
	}
	for _, d := range durations {
		switch {
		case d.d < 0 && d.zero != "":
			return usagef(fmt.Errorf("%s must be a duration of 0 (%s) or more, such as 30s or 5m, not %s", d.flag, d.zero, d.d))
		case d.d <= 0 && d.zero == "":
			return usagef(fmt.Errorf("%s must be a positive duration, such as 30s or 5m, not %s", d.flag, d.d))
		}
	}
	if f.bodyMinRate < 1 {
		return usagef(fmt.Errorf("--body-min-rate must be 1 byte per second or more, not %d", f.bodyMinRate))
	}
	if _, port, err := net.SplitHostPort(f.addr); err != nil {
		return usagef(fmt.Errorf("--addr: must be HOST:PORT, such as 127.0.0.1:8080 or :8080, not %q", f.addr))
	} else if _, err := net.LookupPort("tcp", port); err != nil {
		return usagef(fmt.Errorf("--addr: the port must be a number from 0 to 65535, not %q", port))
	}
	if f.publicURL != "" {
		u, err := url.Parse(f.publicURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return usagef(fmt.Errorf("--public-url: must be an absolute http(s) URL, such as https://tasks.example.com, not %q", f.publicURL))
		}
		// Signed URLs are built on it: a query, a fragment or a user
		// would end up inside each of them.
		if u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || u.User != nil {
			return usagef(fmt.Errorf("--public-url: must be a scheme, a host and maybe a port and a path, with no user, query or fragment (such as https://tasks.example.com/api), not %q", f.publicURL))
		}
		if p := u.Port(); p != "" {
			if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
				return usagef(fmt.Errorf("--public-url: the port must be a number from 1 to 65535, not %q", p))
			}
		}
	}
	for _, o := range f.cors {
		// An origin is what a browser sends in its Origin header: scheme,
		// host and port, nothing else; any other text would never match.
		if o == "*" {
			continue
		}
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Path != "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
			return usagef(fmt.Errorf("--cors-origin: must be * or an origin, such as https://app.example.com or http://localhost:5173 (scheme, host and port only), not %q", o))
		}
		// The server compares origins as text: as a browser sends them,
		// in lower case and without the scheme's default port.
		host := strings.ToLower(u.Host)
		host = strings.TrimSuffix(host, map[string]string{"http": ":80", "https": ":443"}[u.Scheme])
		if want := u.Scheme + "://" + host; o != want {
			return usagef(fmt.Errorf("--cors-origin: write %q as a browser sends it: %q", o, want))
		}
	}
	return nil
}

func (a *App) serve(ctx context.Context, f serveFlags) error {
	var level slog.Level
	if err := level.UnmarshalText([]byte(f.logLevel)); err != nil {
		return usagef(fmt.Errorf("--log-level %q: allowed: debug, info, warn, error", f.logLevel))
	}
	if f.anonymous && !server.IsLoopbackAddr(f.addr) {
		return usagef(fmt.Errorf("--allow-anonymous needs a loopback --addr (127.0.0.1:PORT, [::1]:PORT or localhost:PORT), not %q", f.addr))
	}
	if err := f.check(); err != nil {
		return err
	}
	log := slog.New(slog.NewJSONHandler(a.Err, &slog.HandlerOptions{Level: level}))
	cfg, err := a.Config()
	if err != nil {
		return err
	}
	db, err := openServeDB(ctx, cfg.Database)
	if err != nil {
		return err
	}
	defer db.close()
	// Traces: off unless the OTEL_ variables ask for them (tracing.Enabled).
	// OpenTelemetry's own errors (a failed export) are logged here, as
	// JSON lines, not by the standard library's log.
	var engOpts []engine.Option
	tracing.LogErrors(log)
	tp, err := tracing.FromEnv(ctx, "taskmodel")
	if err != nil {
		return usagef(err)
	}
	if tp != nil {
		defer func() {
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			_ = tp.Shutdown(sctx) // sends the spans not sent yet
		}()
		engOpts = append(engOpts, engine.WithTracer(tracing.New(tp)))
		log.Info("tracing on: spans go to the OTLP endpoint of the OTEL_ variables")
	}
	models, err := catalog.Serve(db.backend, engOpts...)
	if err != nil {
		return err
	}
	// Pipeline tracking (/pipelines, the dashboard's Pipelines page) on the
	// same database.
	pipelines, err := db.backend.PipelineStorage(ctx)
	if err != nil {
		return err
	}
	authn, err := db.authenticator(ctx)
	if err != nil {
		return err
	}

	ln, err := net.Listen("tcp", f.addr)
	if err != nil {
		return fmt.Errorf("--addr %s: cannot listen there: %s", f.addr, errnoText(err))
	}
	defer ln.Close()
	public := f.publicURL
	if public == "" {
		public = "http://" + ln.Addr().String()
	}
	// Files: an S3 bucket, or a local directory whose signed URLs this
	// server serves under /blobs/.
	var blobs blob.Store
	var blobHandler http.Handler
	where := f.blobDir
	if f.s3.Bucket != "" {
		f.s3.AccessKeyID, f.s3.SecretAccessKey, f.s3.SessionToken = os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY"), os.Getenv("AWS_SESSION_TOKEN")
		st, err := blobs3.New(f.s3)
		if err != nil {
			return usagef(fmt.Errorf("--s3-*: %w", err))
		}
		blobs, where = st, "s3://"+f.s3.Bucket+"/"+f.s3.Prefix
	} else {
		if where == "" {
			where = db.dataDir
		}
		st, err := openLocalBlobs(where, strings.TrimSuffix(public, "/")+"/blobs/", log)
		if err != nil {
			return err
		}
		defer st.Close()
		blobs, blobHandler = st, st.Handler()
	}

	// The demo handler runs analysis tasks.
	eng, err := server.Engine[analysis.Task, analysis.Event](models, analysis.ModelName)
	if err != nil {
		return err
	}
	var pool *worker.Pool[analysis.Task, analysis.Event, *analysis.Task]
	if f.workers > 0 {
		pool, err = worker.New(eng, demo.Handler(blobs, f.agentTime), worker.Config{Concurrency: f.workers, Logger: log, ShutdownGrace: f.grace})
		if err != nil {
			return err
		}
	}
	var demos *demoPools
	if f.demoWorkers {
		if demos, err = newDemoPools(models, 2, f.agentTime, f.grace, log); err != nil {
			return err
		}
	}
	anon := ""
	if f.anonymous {
		anon = "anonymous"
	}
	srv, err := server.New(server.Config{
		Models:            models,
		DefaultTaskType:   analysis.ModelName,
		Authenticate:      authn,
		Anonymous:         anon,
		Blobs:             blobs,
		BlobHandler:       blobHandler,
		CORSOrigins:       f.cors,
		OpenAPI:           catalog.OpenAPI(),
		Logger:            log,
		SweepEvery:        f.sweepEvery,
		Retention:         f.retention,
		BodyMinRate:       f.bodyMinRate,
		BodyGrace:         f.bodyGrace,
		ReadHeaderTimeout: f.readHeader,
		TokenRecheck:      f.tokenRecheck,
		Pipelines:         pipeline.New(pipelines, pipeline.WithLogger(log)),
		Wake: func(model string) {
			if pool != nil && model == analysis.ModelName {
				pool.Wake()
			}
			if demos != nil && demos.wakes[model] != nil {
				demos.wakes[model]()
			}
		},
	})
	if err != nil {
		return err
	}
	if _, err := dashboard.Mount(srv, dashboard.Options{Logger: log}); err != nil {
		return err
	}
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	var wg sync.WaitGroup
	wg.Go(func() { _ = srv.Run(runCtx) })
	if pool != nil {
		wg.Go(func() {
			if err := pool.Run(runCtx); err != nil && runCtx.Err() == nil {
				log.Error("worker pool stopped", slog.Any("error", err))
			}
		})
	}
	if demos != nil {
		for _, run := range demos.runs {
			wg.Go(func() { _ = run(runCtx) })
		}
	}
	log.Info("serving", slog.String("addr", ln.Addr().String()), slog.String("database", cfg.Database.String()),
		slog.String("blobs", where), slog.Bool("anonymous", f.anonymous), slog.Int("workers", f.workers))
	fmt.Fprintf(a.Out, "taskmodel serve: listening on http://%s (database %s); dashboard at http://%s/\n", ln.Addr(), cfg.Database, ln.Addr())
	err = srv.Serve(ctx, ln, f.grace)
	stop()
	wg.Wait()
	if err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	log.Info("stopped")
	return nil
}

// serveDB is the open database of taskmodel serve.
type serveDB struct {
	backend *server.Backend
	sqlite  *sql.DB
	pg      *pgxpool.Pool
	mysql   *sql.DB
	dataDir string // where the default blob directory goes
	close   func()
}

func openServeDB(ctx context.Context, d config.Database) (*serveDB, error) {
	switch d.Driver {
	case config.SQLite:
		if d.Name == ":memory:" {
			return nil, usagef(errors.New("taskmodel serve needs a database file, not :memory: (the worker pool and the server share it)"))
		}
		db, err := sqlite.Open(ctx, d.Name, serveMigrations(sqlite.Engine))
		if err != nil {
			return nil, databaseErr(d, newerTaskmodel(err))
		}
		return &serveDB{backend: server.SQLite(db), sqlite: db, dataDir: filepath.Join(filepath.Dir(d.Name), "blobs"), close: func() { db.Close() }}, nil
	case config.PostgreSQL:
		dsn, err := d.PostgresURL()
		if err != nil {
			return nil, err
		}
		pcfg, err := postgres.SchemaConfig(ctx, dsn, d.Schema)
		if err != nil {
			return nil, databaseErr(d, err)
		}
		pool, err := postgres.OpenConfig(ctx, pcfg, serveMigrations(postgres.Engine))
		if err != nil {
			return nil, databaseErr(d, newerTaskmodel(err))
		}
		dir, err := config.DefaultSQLitePath(os.LookupEnv)
		if err != nil {
			return nil, err
		}
		return &serveDB{backend: server.Postgres(pool), pg: pool, dataDir: filepath.Join(filepath.Dir(dir), "blobs"), close: pool.Close}, nil
	case config.MySQL:
		dsn, err := d.MySQLURL()
		if err != nil {
			return nil, err
		}
		db, err := mysql.Open(ctx, dsn, serveMigrations(mysql.Engine))
		if err != nil {
			return nil, databaseErr(d, newerTaskmodel(err))
		}
		dir, err := config.DefaultSQLitePath(os.LookupEnv)
		if err != nil {
			db.Close()
			return nil, err
		}
		return &serveDB{backend: server.MySQL(db), mysql: db, dataDir: filepath.Join(filepath.Dir(dir), "blobs"), close: func() { db.Close() }}, nil
	}
	return nil, fmt.Errorf("database driver %q: allowed: %s, %s, %s", d.Driver, config.PostgreSQL, config.MySQL, config.SQLite)
}

// openLocalBlobs opens the blob directory with its signing key (created on
// first use, beside the blobs).
func openLocalBlobs(dir, baseURL string, log *slog.Logger) (*local.Store, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("blob directory %s: %w", dir, err)
	}
	key, err := local.LoadOrCreateKeyFile(filepath.Join(dir, "signing.key"))
	if err != nil {
		return nil, err
	}
	return local.New(local.Config{Dir: dir, BaseURL: baseURL, SigningKey: key, Logger: log})
}
