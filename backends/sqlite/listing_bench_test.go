package sqlite_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/taskmodel/taskmodel/backends"
	"github.com/taskmodel/taskmodel/backends/backendtest"
	"github.com/taskmodel/taskmodel/backends/sqlite"
	"github.com/taskmodel/taskmodel/gen/catalog"
	catalogdb "github.com/taskmodel/taskmodel/gen/catalog/sqlitedb"
)

// BenchmarkListing measures the unified listing over 1,000,000 tasks
// (TASKMODEL_BENCH_LISTING_ROWS to change it), pushdown and naive:
//
//	go test ./backends/sqlite -run '^$' -bench Listing -benchtime 1000x
//
// The data set is loaded once into a file in the temporary directory and
// kept for later runs.
func BenchmarkListing(b *testing.B) {
	ctx := context.Background()
	n := 1_000_000
	if v, err := strconv.Atoi(os.Getenv("TASKMODEL_BENCH_LISTING_ROWS")); err == nil {
		n = v
	}
	path := filepath.Join(os.TempDir(), fmt.Sprintf("taskmodel-bench-listing-owners-%d.db", n))
	db, err := sqlite.Open(ctx, path, catalog.Migrations(sqlite.Engine))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	if err := loadListing(ctx, b, db, n); err != nil {
		b.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
		b.Fatal(err)
	}
	backendtest.BenchmarkListing(b, catalogdb.NewLister(db), func(ctx context.Context, q backends.ListQuery, types, codes []string) (int, error) {
		jt, _ := json.Marshal(types)
		jc, _ := json.Marshal(codes)
		rows, err := db.QueryContext(ctx, catalogdb.NaiveListSQL, string(jt), string(jc), q.Tag, q.Since.UTC(), q.Limit, q.Offset)
		if err != nil {
			return 0, err
		}
		defer rows.Close()
		count := 0
		for rows.Next() {
			count++
		}
		return count, rows.Err()
	})
}

func loadListing(ctx context.Context, b testing.TB, db *sql.DB, n int) error {
	var have int
	for _, t := range backendtest.ListingTypes {
		var c int
		if err := db.QueryRowContext(ctx, "SELECT count(*) FROM "+t).Scan(&c); err != nil {
			return err
		}
		have += c
	}
	if have == n {
		return nil
	}
	b.Logf("loading %d tasks into SQLite (once; kept in the temporary directory)", n)
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	stmts := map[string]*sql.Stmt{}
	for _, t := range backendtest.ListingTypes {
		if _, err := tx.ExecContext(ctx, "DELETE FROM "+t); err != nil {
			return err
		}
		cols, vals := "id, status, version, created_at, updated_at, tag, end_date, user_id, progress", "?, ?, 1, ?, ?, ?, ?, ?, 0"
		switch t {
		case "model_upload":
			cols, vals = cols+", source", vals+", 'HUGGINGFACE'"
		case "dataset_upload":
			cols, vals = cols+", records_processed", vals+", 0"
		}
		if stmts[t], err = tx.PrepareContext(ctx, "INSERT INTO "+t+" ("+cols+") VALUES ("+vals+")"); err != nil {
			return err
		}
	}
	err = backendtest.ListingDataset(n, func(r backendtest.DatasetRow) error {
		_, err := stmts[r.Table].ExecContext(ctx, r.ID, r.Status, r.CreatedAt, r.CreatedAt, r.Tag, backends.UTC(r.EndDate), r.Owner)
		return err
	})
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, "ANALYZE"); err != nil {
		return err
	}
	return tx.Commit()
}
