package sqlite_test

import (
	"context"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/taskmodel/taskmodel/backends"
	"github.com/taskmodel/taskmodel/backends/backendtest"
	"github.com/taskmodel/taskmodel/backends/sqlite"
	"github.com/taskmodel/taskmodel/gen/analysis"
	"github.com/taskmodel/taskmodel/gen/analysis/sqlitedb"
	"github.com/taskmodel/taskmodel/gen/catalog"
	catalogdb "github.com/taskmodel/taskmodel/gen/catalog/sqlitedb"
	evaluationdb "github.com/taskmodel/taskmodel/gen/evaluation/sqlitedb"
	pipelinerundb "github.com/taskmodel/taskmodel/gen/pipelinerun/sqlitedb"
	trainingdb "github.com/taskmodel/taskmodel/gen/training/sqlitedb"
	"github.com/taskmodel/taskmodel/tasktype"
)

func TestConformance(t *testing.T) {
	backendtest.Run(t, func(t testing.TB) backends.Driver[analysis.Task] {
		db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "tasks.db"), analysis.Migrations(sqlite.Engine))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return sqlitedb.NewDriver(db)
	})
}

func TestConformanceInMemory(t *testing.T) {
	backendtest.Run(t, func(t testing.TB) backends.Driver[analysis.Task] {
		db, err := sqlite.Open(context.Background(), ":memory:", analysis.Migrations(sqlite.Engine))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return sqlitedb.NewDriver(db)
	})
}

func TestMigrations(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "tasks.db")
	// Several processes (here, pools) starting at once on a new file.
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			db, err := sqlite.Open(ctx, path, analysis.Migrations(sqlite.Engine))
			if err == nil {
				db.Close()
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
	db, err := sqlite.Open(ctx, path, analysis.Migrations(sqlite.Engine))
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM taskmodel_migrations`).Scan(&n); err != nil || n != len(analysis.Migrations(sqlite.Engine)) {
		t.Fatalf("migrations recorded: %d, %v", n, err)
	}
	db.Close()
	changed := []tasktype.Migration{{Name: "analysis/0001_schema", SQL: "CREATE TABLE other (x INTEGER);"}}
	_, err = sqlite.Open(ctx, path, changed)
	if err == nil || !strings.Contains(err.Error(), "migration analysis/0001_schema was applied with different SQL") {
		t.Fatalf("changed migration: %v", err)
	}
}

// TestChecksMirrorTheSpec writes rows the spec forbids straight into SQLite:
// the table's CHECK constraints refuse them.
func TestChecksMirrorTheSpec(t *testing.T) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, ":memory:", analysis.Migrations(sqlite.Engine))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	insert := `INSERT INTO analysis (id, status, version, created_at, updated_at, user_id, tool_id, agents, progress, blobs_cleaned)
	           VALUES ('00000000-0000-0000-0000-000000000001', ?, 1, '2026-01-01', '2026-01-01', 'u', ?, ?, ?, 0)`
	tests := []struct {
		name     string
		status   string
		tool     string
		agents   string
		progress int
		ok       bool
	}{
		{"valid", "CREATED", "t", `["a"]`, 0, true},
		{"unknown status", "DONE", "t", `["a"]`, 0, false},
		{"empty tool_id", "CREATED", "", `["a"]`, 0, false},
		{"256-character tool_id", "CREATED", strings.Repeat("é", 256), `["a"]`, 0, false},
		{"255 multi-byte characters", "CREATED", strings.Repeat("é", 255), `["a"]`, 0, true},
		{"no agents", "CREATED", "t", `[]`, 0, false},
		{"agents not a list", "CREATED", "t", `{"a":1}`, 0, false},
		{"progress 101", "CREATED", "t", `["a"]`, 101, false},
		{"progress -1", "CREATED", "t", `["a"]`, -1, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db.Exec(`DELETE FROM analysis`)
			_, err := db.Exec(insert, tt.status, tt.tool, tt.agents, tt.progress)
			if (err == nil) != tt.ok {
				t.Errorf("insert: %v, want ok=%v", err, tt.ok)
			}
		})
	}
}

// go test ./backends/sqlite -run '^$' -bench Transitions
func BenchmarkTransitions(b *testing.B) {
	backendtest.BenchmarkTransitions(b, func(t testing.TB) backends.Driver[analysis.Task] {
		db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "tasks.db"), analysis.Migrations(sqlite.Engine))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return sqlitedb.NewDriver(db)
	})
}

func TestListing(t *testing.T) {
	backendtest.RunListing(t, func(t testing.TB) backendtest.ListingDrivers {
		db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "tasks.db"), catalog.Migrations(sqlite.Engine))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return backendtest.ListingDrivers{Training: trainingdb.NewDriver(db), Evaluation: evaluationdb.NewDriver(db), Analysis: sqlitedb.NewDriver(db), PipelineRun: pipelinerundb.NewDriver(db), Lister: catalogdb.NewLister(db)}
	})
}

func TestLeases(t *testing.T) {
	backendtest.RunLeases(t, func(t testing.TB) backends.Leases {
		db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "tasks.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return sqlite.NewLeases(db)
	})
}
