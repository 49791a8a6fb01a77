package pipeline_test

import (
	"bytes"
	"context"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"

	"github.com/taskmodel/taskmodel/backends/backendtest"
	"github.com/taskmodel/taskmodel/backends/mysql/mysqltest"
	"github.com/taskmodel/taskmodel/backends/postgres/pgtest"
	"github.com/taskmodel/taskmodel/sdk/pipeline"
	"github.com/taskmodel/taskmodel/sdk/pipeline/storage"
	"github.com/taskmodel/taskmodel/sdk/pipeline/storage/memstore"
	"github.com/taskmodel/taskmodel/sdk/pipeline/storage/mysqlstore"
	"github.com/taskmodel/taskmodel/sdk/pipeline/storage/pgstore"
	"github.com/taskmodel/taskmodel/sdk/pipeline/storage/sqlitestore"
)

// backend opens a fresh, empty storage of one engine for one test.
type backend struct {
	name string
	open func(t testing.TB) storage.Storage
}

var allBackends = []backend{
	{"memory", func(t testing.TB) storage.Storage { return memstore.New() }},
	{"sqlite", func(t testing.TB) storage.Storage {
		s, err := sqlitestore.Open(context.Background(), filepath.Join(t.TempDir(), "pipeline.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}},
	{"postgres", func(t testing.TB) storage.Storage {
		s, err := pgstore.Open(context.Background(), pgtest.Schema(t))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}},
	{"mysql", func(t testing.TB) storage.Storage {
		s, err := mysqlstore.OpenURL(context.Background(), mysqltest.Database(t))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}},
}

// env is one test's tracker on one backend, with a fake clock and its log.
type env struct {
	ctx   context.Context
	tr    *pipeline.Tracker
	st    storage.Storage
	clock *backendtest.Clock
	logs  *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// forEachBackend runs f on every backend, each in a subtest with a fresh
// storage.
func forEachBackend(t *testing.T, f func(t *testing.T, e *env)) {
	for _, b := range allBackends {
		t.Run(b.name, func(t *testing.T) {
			st := b.open(t)
			e := &env{ctx: context.Background(), st: st, clock: backendtest.NewClock(), logs: &syncBuffer{}}
			e.tr = pipeline.New(st, pipeline.WithClock(e.clock.Now), pipeline.WithActor("test"),
				pipeline.WithLogger(slog.New(slog.NewTextHandler(e.logs, nil))))
			f(t, e)
		})
	}
}
