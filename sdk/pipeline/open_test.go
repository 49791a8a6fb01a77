package pipeline_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/taskmodel/taskmodel/backends/postgres/pgtest"
	"github.com/taskmodel/taskmodel/config"
	"github.com/taskmodel/taskmodel/sdk/pipeline"
)

// TestOpen opens each SQL engine from a configuration twice: the second
// open finds the first one's data and applies no migration again.
func TestOpen(t *testing.T) {
	ctx := context.Background()
	schema := "p_" + strings.ReplaceAll(uuid.NewString(), "-", "")[:16]
	cases := []struct {
		name string
		db   func(t *testing.T) config.Database
	}{
		{"sqlite in a new directory", func(t *testing.T) config.Database {
			return config.Database{Driver: config.SQLite, Name: filepath.Join(t.TempDir(), "new", "dir", "p.db")}
		}},
		{"postgres in a new schema", func(t *testing.T) config.Database {
			pgtest.Schema(t) // skips (or fails under CI) without a server
			t.Cleanup(func() {
				conn, err := pgx.Connect(ctx, pgtest.URL())
				if err == nil {
					conn.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE")
					conn.Close(ctx)
				}
			})
			return config.Database{Driver: config.PostgreSQL, URL: pgtest.URL(), Schema: schema}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			db := c.db(t)
			for i := range 2 {
				tr, err := pipeline.Open(ctx, db)
				if err != nil {
					t.Fatalf("open %d: %v", i, err)
				}
				if i == 0 {
					if err := tr.RegisterTask(ctx, pipeline.Task{Stage: "S", Name: "T"}); err != nil {
						t.Fatal(err)
					}
				}
				tasks, err := tr.Tasks(ctx, "")
				tr.Close()
				if err != nil || len(tasks) != 1 {
					t.Fatalf("open %d: tasks %v, %v", i, tasks, err)
				}
			}
		})
	}
	if _, err := pipeline.OpenStorage(ctx, config.Database{Driver: "oracle"}); err == nil || !strings.Contains(err.Error(), `driver "oracle"`) {
		t.Errorf("unknown driver: %v", err)
	}
}
