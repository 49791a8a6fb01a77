package postgres_test

import (
	"context"
	"os"
	"strconv"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/taskmodel/taskmodel/backends"
	"github.com/taskmodel/taskmodel/backends/backendtest"
	"github.com/taskmodel/taskmodel/backends/postgres"
	"github.com/taskmodel/taskmodel/backends/postgres/pgtest"
	"github.com/taskmodel/taskmodel/gen/catalog"
	catalogdb "github.com/taskmodel/taskmodel/gen/catalog/pgdb"
)

// BenchmarkListing measures the unified listing over 1,000,000 tasks
// (TASKMODEL_BENCH_LISTING_ROWS to change it), pushdown and naive:
//
//	go test ./backends/postgres -run '^$' -bench Listing -benchtime 1000x
//
// The data set is loaded once into the schema taskmodel_bench_listing_owners
// and kept for later runs (the name changed when tasks got owners: the
// schema's migrations changed with them).
func BenchmarkListing(b *testing.B) {
	ctx := context.Background()
	n := 1_000_000
	if v, err := strconv.Atoi(os.Getenv("TASKMODEL_BENCH_LISTING_ROWS")); err == nil {
		n = v
	}
	const schema = "taskmodel_bench_listing_owners"
	pgtest.Schema(b) // skips (or fails under CI) when no server answers
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
	if v := os.Getenv("BENCH_PLAN_CACHE_MODE"); v != "" {
		cfg.ConnConfig.RuntimeParams["plan_cache_mode"] = v // diagnostic
	}
	pool, err := postgres.OpenConfig(ctx, cfg, catalog.Migrations(postgres.Engine))
	if err != nil {
		b.Fatal(err)
	}
	defer pool.Close()
	if err := loadListing(ctx, b, pool, n); err != nil {
		b.Fatal(err)
	}
	backendtest.BenchmarkListing(b, catalogdb.NewLister(pool), func(ctx context.Context, q backends.ListQuery, types, codes []string) (int, error) {
		rows, err := pool.Query(ctx, catalogdb.NaiveListSQL, types, codes, q.Tag, q.Since, q.Limit, q.Offset)
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

func loadListing(ctx context.Context, b testing.TB, pool *pgxpool.Pool, n int) error {
	var have int
	for _, t := range backendtest.ListingTypes {
		var c int
		if err := pool.QueryRow(ctx, "SELECT count(*) FROM "+t).Scan(&c); err != nil {
			return err
		}
		have += c
	}
	if have == n {
		return nil
	}
	b.Logf("loading %d listing tasks into PostgreSQL (kept for the next run while the schema lives)", n)
	for _, t := range backendtest.ListingTypes {
		// The history table has no foreign key to cascade along
		// (0006_lean_writes): name it.
		if _, err := pool.Exec(ctx, "TRUNCATE "+t+", "+t+"_history"); err != nil {
			return err
		}
	}
	rows := map[string][][]any{}
	err := backendtest.ListingDataset(n, func(r backendtest.DatasetRow) error {
		row := []any{r.ID, r.Status, int64(1), r.CreatedAt, r.CreatedAt, r.Tag, r.EndDate, r.Owner, int64(0)}
		switch r.Table {
		case "model_upload":
			row = append(row, "HUGGINGFACE")
		case "dataset_upload":
			row = append(row, int64(0))
		}
		rows[r.Table] = append(rows[r.Table], row)
		return nil
	})
	if err != nil {
		return err
	}
	for _, t := range backendtest.ListingTypes {
		cols := []string{"id", "status", "version", "created_at", "updated_at", "tag", "end_date", "user_id", "progress"}
		switch t {
		case "model_upload":
			cols = append(cols, "source")
		case "dataset_upload":
			cols = append(cols, "records_processed")
		}
		if _, err := pool.CopyFrom(ctx, pgx.Identifier{t}, cols, pgx.CopyFromRows(rows[t])); err != nil {
			return err
		}
		if _, err := pool.Exec(ctx, "ANALYZE "+t); err != nil {
			return err
		}
	}
	return nil
}
