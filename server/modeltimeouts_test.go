package server

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/taskmodel/taskmodel/backends/sqlite"
	"github.com/taskmodel/taskmodel/gen/analysis"
)

// TestNearTimeoutPlans: on SQLite the tasks near a timeout are read from
// the status's timeout index (the sweeper's), for an admin and for a user,
// never by scanning or sorting the table.
func TestNearTimeoutPlans(t *testing.T) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "plan.db"), analysis.Migrations(sqlite.Engine))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, tc := range []struct{ status, entered, col, index string }{
		{"CREATED", "created_at", "", "analysis_created_timeout_idx"},
		{"UPLOADING", "upload_started_at", "", "analysis_uploading_timeout_idx"},
		{"PROCESSING", "processing_started_at", "user_id", "analysis_processing_timeout_idx"},
	} {
		q, err := (&Backend{sqlite: db}).nearTimeoutQuery(ctx, "analysis", tc.status, tc.entered, tc.col)
		if err != nil {
			t.Fatal(err)
		}
		q = strings.Replace(q, "$1", "?1", 1)
		text := sqlitePlan(t, db, q, "alice")
		t.Logf("%s: %s", tc.status, text)
		if !strings.Contains(text, "INDEX "+tc.index) || strings.Contains(text, "USE TEMP B-TREE FOR ORDER BY") && tc.col == "" {
			t.Errorf("%s: plan %q does not read %s in order", tc.status, text, tc.index)
		}
	}
	if _, err := (&Backend{sqlite: db}).nearTimeout(ctx, "analysis", "CREATED'; DROP TABLE analysis; --", "created_at", "", ""); err == nil {
		t.Error("a status that is not a name was put in a statement")
	}
}
