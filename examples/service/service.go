package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/taskmodel/taskmodel/auth"
	"github.com/taskmodel/taskmodel/backends/mysql"
	"github.com/taskmodel/taskmodel/backends/postgres"
	"github.com/taskmodel/taskmodel/backends/sqlite"
	"github.com/taskmodel/taskmodel/blob/local"
	"github.com/taskmodel/taskmodel/examples/service/gen/catalog"
	"github.com/taskmodel/taskmodel/examples/service/gen/report"
	"github.com/taskmodel/taskmodel/sdk/worker"
	"github.com/taskmodel/taskmodel/server"
)

// Config configures the service.
type Config struct {
	// Database is a PostgreSQL URL (postgres://…), a MySQL or MariaDB URL
	// (mysql://user:password@host:3306/database), or a SQLite file
	// (sqlite:PATH or PATH).
	Database string
	// BlobDir holds the report files and their signing key.
	BlobDir string
	// PublicURL is where clients reach the service; signed download URLs
	// start with it.
	PublicURL string
	// Anonymous lets requests without a token from this machine act as the
	// user "anonymous".
	Anonymous bool
	// Workers is how many reports are built at once (0: no worker pool).
	Workers int
	// StepTime is how long building one day of a report takes.
	StepTime time.Duration
	Logger   *slog.Logger
}

// Service is the report service: taskmodel's HTTP API over the report
// model, a worker pool building reports, and the service's own routes.
type Service struct {
	// Tokens are the bearer tokens the API accepts (also created with
	// taskmodel token create --db-url on the same database).
	Tokens  auth.Store
	log     *slog.Logger
	handler http.Handler
	srv     *server.Server
	pool    *worker.Pool[report.Report, report.Event, *report.Report]
	close   []func()
}

// Open opens the database (applying the migrations it lacks), the blob
// directory, the worker pool and the HTTP API.
func Open(ctx context.Context, cfg Config) (s *Service, err error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewJSONHandler(os.Stderr, nil))
	}
	opened := &Service{log: cfg.Logger}
	s = opened
	defer func() {
		if err != nil {
			opened.Close() // what was opened before the error (s is nil by then)
		}
	}()

	// 1. The database: the generated catalog's migrations create the
	// report table (and any other model's in tasks/).
	var backend *server.Backend
	if strings.HasPrefix(cfg.Database, "postgres://") || strings.HasPrefix(cfg.Database, "postgresql://") {
		pool, err := postgres.Open(ctx, cfg.Database, catalog.Migrations(postgres.Engine))
		if err != nil {
			return nil, err
		}
		s.close = append(s.close, pool.Close)
		backend = server.Postgres(pool)
		if s.Tokens, err = auth.NewPostgres(ctx, pool); err != nil {
			return nil, err
		}
	} else if strings.HasPrefix(cfg.Database, "mysql://") {
		db, err := mysql.Open(ctx, cfg.Database, catalog.Migrations(mysql.Engine))
		if err != nil {
			return nil, err
		}
		s.close = append(s.close, func() { db.Close() })
		backend = server.MySQL(db)
		if s.Tokens, err = auth.NewMySQL(ctx, db); err != nil {
			return nil, err
		}
	} else {
		path := strings.TrimPrefix(cfg.Database, "sqlite:")
		db, err := sqlite.Open(ctx, path, catalog.Migrations(sqlite.Engine))
		if err != nil {
			return nil, err
		}
		s.close = append(s.close, func() { db.Close() })
		backend = server.SQLite(db)
		if s.Tokens, err = auth.NewSQLite(ctx, db); err != nil {
			return nil, err
		}
	}
	models, err := catalog.Serve(backend)
	if err != nil {
		return nil, err
	}

	// 2. Report files: a local directory whose signed URLs this service
	// serves under /blobs/ (blob/s3 keeps them in a bucket instead).
	if err := os.MkdirAll(cfg.BlobDir, 0o750); err != nil {
		return nil, err
	}
	key, err := local.LoadOrCreateKeyFile(filepath.Join(cfg.BlobDir, "signing.key"))
	if err != nil {
		return nil, err
	}
	blobs, err := local.New(local.Config{Dir: cfg.BlobDir, BaseURL: strings.TrimSuffix(cfg.PublicURL, "/") + "/blobs/", SigningKey: key, Logger: cfg.Logger})
	if err != nil {
		return nil, err
	}
	s.close = append(s.close, func() { blobs.Close() })

	// 3. The worker pool runs reportHandler on the report engine the
	// server uses, so that a report created over HTTP wakes it at once.
	eng, err := server.Engine[report.Report, report.Event](models, report.ModelName)
	if err != nil {
		return nil, err
	}
	if cfg.Workers > 0 {
		s.pool, err = worker.New(eng, reportHandler(blobs, cfg.StepTime, time.Now), worker.Config{Concurrency: cfg.Workers, Logger: cfg.Logger})
		if err != nil {
			return nil, err
		}
	}

	// 4. The HTTP API of every model in tasks/.
	anonymous := ""
	if cfg.Anonymous {
		anonymous = "anonymous"
	}
	s.srv, err = server.New(server.Config{
		Models:          models,
		DefaultTaskType: report.ModelName,
		Authenticate: func(ctx context.Context, token string) (server.User, error) {
			u, err := s.Tokens.Authenticate(ctx, token)
			if errors.Is(err, auth.ErrUnauthorized) {
				return server.User{}, server.ErrUnauthorized
			}
			return server.AuthUser(u), err
		},
		Anonymous:   anonymous,
		Blobs:       blobs,
		BlobHandler: blobs.Handler(),
		OpenAPI:     catalog.OpenAPI(),
		Logger:      cfg.Logger,
		Wake: func(model string) {
			if s.pool != nil && model == report.ModelName {
				s.pool.Wake()
			}
		},
	})
	if err != nil {
		return nil, err
	}
	// The server's listeners for waiting worker claims close before the
	// database.
	s.close = append(s.close, func() { _ = s.srv.Close() })

	// 5. The service's own routes next to taskmodel's: the more specific
	// patterns win, everything else goes to the API.
	mux := http.NewServeMux()
	mux.Handle("/", s.srv.Handler())
	mux.HandleFunc("GET /reports/kinds", kinds)
	s.handler = mux
	return s, nil
}

// Handler serves the API and the service's routes.
func (s *Service) Handler() http.Handler { return s.handler }

// Run runs the worker pool and the server's background work (timeouts,
// metrics) until ctx ends.
func (s *Service) Run(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Go(func() { _ = s.srv.Run(ctx) })
	if s.pool != nil {
		wg.Go(func() {
			if err := s.pool.Run(ctx); err != nil && ctx.Err() == nil {
				s.log.Error("worker pool stopped", slog.Any("error", err))
			}
		})
	}
	wg.Wait()
}

// Close closes what Open opened, in reverse order.
func (s *Service) Close() {
	for i := len(s.close) - 1; i >= 0; i-- {
		s.close[i]()
	}
	s.close = nil
}

// kinds answers GET /reports/kinds: the kinds and formats a client may ask
// for, from the generated enums.
func kinds(w http.ResponseWriter, _ *http.Request) {
	out := map[string]any{"kinds": report.KindValues(), "formats": report.FormatValues()}
	w.Header().Set("Content-Type", "application/json")
	if err := json.NewEncoder(w).Encode(out); err != nil {
		http.Error(w, fmt.Sprint(err), http.StatusInternalServerError)
	}
}

// Serve serves the service on ln until ctx ends, then shuts down
// gracefully, waiting up to grace for requests in flight.
func (s *Service) Serve(ctx context.Context, ln net.Listener, grace time.Duration) error {
	// Event streams (GET /tasks/{id}/events) end with the server.
	base, cancelBase := context.WithCancel(context.Background())
	defer cancelBase()
	hs := &http.Server{Handler: s.handler, ReadHeaderTimeout: 10 * time.Second,
		BaseContext: func(net.Listener) context.Context { return base }}
	hs.RegisterOnShutdown(cancelBase)
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	err := hs.Shutdown(sctx)
	<-errc
	return err
}
