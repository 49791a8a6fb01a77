package mysql_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/taskmodel/taskmodel/backends"
	"github.com/taskmodel/taskmodel/backends/backendtest"
	"github.com/taskmodel/taskmodel/backends/mysql"
	"github.com/taskmodel/taskmodel/backends/mysql/mysqltest"
	"github.com/taskmodel/taskmodel/gen/catalog"
	catalogdb "github.com/taskmodel/taskmodel/gen/catalog/mysqldb"
)

// BenchmarkListing measures the unified listing over 1,000,000 tasks
// (TASKMODEL_BENCH_LISTING_ROWS to change it) on the test server:
//
//	go test ./backends/mysql -run '^$' -bench Listing -benchtime 1000x
//
// The data set is loaded once into the database taskmodel_bench_listing_<n>
// and kept for later runs.
func BenchmarkListing(b *testing.B) {
	ctx := context.Background()
	n := 1_000_000
	if v, err := strconv.Atoi(os.Getenv("TASKMODEL_BENCH_LISTING_ROWS")); err == nil {
		n = v
	}
	cfg, err := mysql.ParseDSN(mysqltest.URL())
	if err != nil {
		b.Fatal(err)
	}
	name := fmt.Sprintf("taskmodel_bench_listing_%d", n)
	admin, err := mysql.OpenConfig(ctx, cfg)
	if err != nil {
		b.Skipf("MySQL at the test URL does not answer: %v", err)
	}
	_, err = admin.ExecContext(ctx, "CREATE DATABASE IF NOT EXISTS "+name+" CHARACTER SET "+mysql.Charset+" COLLATE "+mysql.Collation)
	admin.Close()
	if err != nil {
		b.Fatal(err)
	}
	cfg.DBName = name
	db, err := mysql.OpenConfig(ctx, cfg, catalog.Migrations(mysql.Engine))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	if err := loadListing(ctx, b, db, n); err != nil {
		b.Fatal(err)
	}
	backendtest.BenchmarkListing(b, catalogdb.NewLister(db), nil)
}

// loadListing fills the listing's tables with the data set, a thousand
// rows a statement, unless they hold it already.
func loadListing(ctx context.Context, b *testing.B, db *sql.DB, n int) error {
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
	b.Logf("loading %d tasks into MySQL (once; kept in the database)", n)
	for _, t := range backendtest.ListingTypes {
		if _, err := db.ExecContext(ctx, "DELETE FROM "+t); err != nil {
			return err
		}
	}
	const batch = 1000
	pending := map[string][]any{}
	flush := func(t string) error {
		args := pending[t]
		if len(args) == 0 {
			return nil
		}
		cols, vals := "id, status, version, created_at, updated_at, tag, end_date, user_id, progress", "(?, ?, 1, ?, ?, ?, ?, ?, 0)"
		switch t {
		case "model_upload":
			cols, vals = cols+", source", strings.TrimSuffix(vals, ")")+", 'HUGGINGFACE')"
		case "dataset_upload":
			cols, vals = cols+", records_processed", strings.TrimSuffix(vals, ")")+", 0)"
		}
		rows := len(args) / 7
		q := "INSERT INTO " + t + " (" + cols + ") VALUES " + strings.TrimSuffix(strings.Repeat(vals+", ", rows), ", ")
		_, err := db.ExecContext(ctx, q, args...)
		pending[t] = args[:0]
		return err
	}
	err := backendtest.ListingDataset(n, func(r backendtest.DatasetRow) error {
		pending[r.Table] = append(pending[r.Table], r.ID, r.Status, r.CreatedAt, r.CreatedAt, r.Tag, backends.UTC(r.EndDate), r.Owner)
		if len(pending[r.Table]) >= 7*batch {
			return flush(r.Table)
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, t := range backendtest.ListingTypes {
		if err := flush(t); err != nil {
			return err
		}
		if _, err := db.ExecContext(ctx, "ANALYZE TABLE "+t); err != nil {
			return err
		}
	}
	return nil
}
