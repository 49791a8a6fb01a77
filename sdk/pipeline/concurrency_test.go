package pipeline_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"

	"github.com/taskmodel/taskmodel/backends/mysql/mysqltest"
	"github.com/taskmodel/taskmodel/backends/postgres/pgtest"
	"github.com/taskmodel/taskmodel/gen/pipelinesubtask"
	"github.com/taskmodel/taskmodel/sdk/pipeline"
	"github.com/taskmodel/taskmodel/sdk/pipeline/storage"
	"github.com/taskmodel/taskmodel/sdk/pipeline/storage/mysqlstore"
	"github.com/taskmodel/taskmodel/sdk/pipeline/storage/pgstore"
	"github.com/taskmodel/taskmodel/sdk/pipeline/storage/sqlitestore"
)

const (
	workers    = 8
	perWorker  = 40
	itemsTotal = workers * perWorker
)

// TestConcurrentIncrementsGoroutines: 8 goroutines increment one subtask
// while another updates its message; every increment counts.
func TestConcurrentIncrementsGoroutines(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		e.register(t)
		r := e.start(t, "STATIC", "Build Database", 1)
		if err := startSub(1, ptr(int64(itemsTotal)))(e, r.ID); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		errs := make(chan error, workers*perWorker+perWorker)
		for range workers {
			wg.Go(func() {
				for range perWorker {
					if _, err := e.tr.IncrementSubtask(e.ctx, r.ID, 1, 1); err != nil {
						errs <- err
					}
				}
			})
		}
		wg.Go(func() {
			for i := range perWorker {
				if _, err := e.tr.UpdateSubtask(e.ctx, r.ID, 1, pipeline.SubtaskUpdate{Message: ptr(fmt.Sprint("tick ", i))}); err != nil {
					errs <- err
				}
			}
		})
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		s := e.subtask(t, r.ID, 1)
		if s.ItemsComplete != itemsTotal || s.Percent != 100 || s.Status != pipelinesubtask.StatusRunning {
			t.Fatalf("after %d increments: %d items, %v%%, %s", itemsTotal, s.ItemsComplete, s.Percent, s.Status)
		}
		if _, err := e.tr.IncrementSubtask(e.ctx, r.ID, 1, 1); err == nil {
			t.Fatal("an increment past items_total was accepted")
		}
	})
}

// TestConcurrentIncrementsProcesses: 8 processes (this test binary, run
// again as a helper) increment one subtask in a shared SQLite file,
// PostgreSQL schema or MySQL database; the counts add up exactly.
func TestConcurrentIncrementsProcesses(t *testing.T) {
	engines := []struct {
		name string
		dsn  func(t *testing.T) string
	}{
		{"sqlite", func(t *testing.T) string { return "sqlite:" + filepath.Join(t.TempDir(), "shared.db") }},
		{"postgres", func(t *testing.T) string {
			cfg := pgtest.Schema(t)
			sep := "?"
			if strings.Contains(pgtest.URL(), "?") {
				sep = "&"
			}
			return pgtest.URL() + sep + "search_path=" + cfg.ConnConfig.RuntimeParams["search_path"]
		}},
		{"mysql", func(t *testing.T) string { return mysqltest.Database(t) }},
	}
	for _, eng := range engines {
		t.Run(eng.name, func(t *testing.T) {
			dsn := eng.dsn(t)
			st := openHelperStorage(t, eng.name, dsn)
			tr := pipeline.New(st, pipeline.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
			ctx := context.Background()
			if err := tr.RegisterTask(ctx, pipeline.Task{Stage: "S", Name: "T"}); err != nil {
				t.Fatal(err)
			}
			r, err := tr.Start(ctx, "S", "T", pipeline.StartOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := tr.StartSubtask(ctx, r.ID, 1, pipeline.SubtaskStart{Name: "parallel", ItemsTotal: ptr(int64(itemsTotal))}); err != nil {
				t.Fatal(err)
			}
			var cmds []*exec.Cmd
			var outs []*strings.Builder
			for range workers {
				cmd := exec.Command(os.Args[0], "-test.run=^TestIncrementHelper$")
				cmd.Env = append(os.Environ(), "PIPELINE_HELPER_ENGINE="+eng.name, "PIPELINE_HELPER_DSN="+dsn, "PIPELINE_HELPER_RUN="+r.ID.String(), "PIPELINE_HELPER_N="+strconv.Itoa(perWorker))
				out := &strings.Builder{}
				cmd.Stdout, cmd.Stderr = out, out
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				cmds, outs = append(cmds, cmd), append(outs, out)
			}
			for i, cmd := range cmds {
				if err := cmd.Wait(); err != nil {
					t.Errorf("worker %d: %v\n%s", i, err, outs[i])
				}
			}
			s, err := st.Subtask(ctx, r.ID, 1)
			if err != nil {
				t.Fatal(err)
			}
			if s.ItemsComplete != itemsTotal || s.Percent != 100 {
				t.Fatalf("%d processes × %d increments: items_complete %d, percent %v", workers, perWorker, s.ItemsComplete, s.Percent)
			}
		})
	}
}

// openHelperStorage opens the storage of an engine of
// TestConcurrentIncrementsProcesses at dsn.
func openHelperStorage(t testing.TB, engine, dsn string) storage.Storage {
	ctx := context.Background()
	var st storage.Storage
	var err error
	switch engine {
	case "sqlite":
		st, err = sqlitestore.Open(ctx, strings.TrimPrefix(dsn, "sqlite:"))
	case "postgres":
		st, err = pgstore.OpenURL(ctx, dsn)
	case "mysql":
		st, err = mysqlstore.OpenURL(ctx, dsn)
	default:
		t.Fatalf("engine %q", engine)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// TestIncrementHelper is one worker process of
// TestConcurrentIncrementsProcesses; it does nothing when run directly.
func TestIncrementHelper(t *testing.T) {
	dsn := os.Getenv("PIPELINE_HELPER_DSN")
	if dsn == "" {
		t.Skip("helper process of TestConcurrentIncrementsProcesses")
	}
	run := uuid.MustParse(os.Getenv("PIPELINE_HELPER_RUN"))
	n, _ := strconv.Atoi(os.Getenv("PIPELINE_HELPER_N"))
	tr := pipeline.New(openHelperStorage(t, os.Getenv("PIPELINE_HELPER_ENGINE"), dsn), pipeline.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	for range n {
		if _, err := tr.IncrementSubtask(context.Background(), run, 1, 1); err != nil {
			t.Fatal(err)
		}
	}
}

// TestConcurrentRegistrations: 8 goroutines register tasks of one stage,
// and new stages, at once; every registration lands.
func TestConcurrentRegistrations(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		var wg sync.WaitGroup
		errs := make(chan error, workers)
		for i := range workers {
			wg.Go(func() {
				err := e.tr.Register(e.ctx, []pipeline.Stage{{Name: fmt.Sprint("S", i)}},
					[]pipeline.Task{{Stage: "SHARED", Name: fmt.Sprint("T", i)}, {Stage: fmt.Sprint("S", i), Name: "T"}})
				if err != nil {
					errs <- err
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		tasks, err := e.tr.Tasks(e.ctx, "SHARED")
		if err != nil || len(tasks) != workers {
			t.Fatalf("tasks of SHARED: %d, %v; want %d", len(tasks), err, workers)
		}
		stages, err := e.tr.Stages(e.ctx)
		if err != nil || len(stages) != workers+1 {
			t.Fatalf("stages: %d, %v; want %d", len(stages), err, workers+1)
		}
	})
}
