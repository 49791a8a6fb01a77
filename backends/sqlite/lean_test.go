package sqlite_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/taskmodel/taskmodel/backends/backendtest"
	"github.com/taskmodel/taskmodel/backends/sqlite"
	"github.com/taskmodel/taskmodel/gen/catalog"
)

// TestListingPlansUsePartialIndexes: the listing indexes on an optional
// tag or owner are partial (WHERE <field> IS NOT NULL, since
// 0012_sqlite_lean_writes), so that a task without one changes status
// without moving an entry there, and the unified listing's plans still use
// every one of them: SQLite proves that "tag = ?" implies tag IS NOT NULL.
// Were it not to, the listing would read those rows through the status
// index and filter, slowly and without a full scan to notice.
func TestListingPlansUsePartialIndexes(t *testing.T) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "listing.db"), catalog.Migrations(sqlite.Engine))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.QueryContext(ctx, `SELECT name FROM sqlite_master WHERE type = 'index'
		AND name LIKE '%\_status\_created\_at\_idx' ESCAPE '\' AND sql LIKE '% IS NOT NULL' ORDER BY name`)
	if err != nil {
		t.Fatal(err)
	}
	var partial []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatal(err)
		}
		partial = append(partial, name)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(partial) < 5 {
		t.Fatalf("found %d partial listing indexes (%v), want one per model with an optional tag or owner", len(partial), partial)
	}
	// The listing benchmark's data set, 20,000 tasks, analyzed.
	if err := loadListing(ctx, t, db, 20000); err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile("../../gen/catalog/sql/sqlite/query.sql")
	if err != nil {
		t.Fatal(err)
	}
	var plan string
	for _, q := range backendtest.Queries(string(src), false) {
		p, err := explainSQLite(ctx, db, q)
		if err != nil {
			t.Fatalf("%s: %v", q.Name, err)
		}
		plan += p
	}
	for _, idx := range backendtest.Unused(plan, partial) {
		t.Errorf("no plan of the listing uses the partial index %s", idx)
	}
}
