package server

import (
	"context"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/taskmodel/taskmodel/backends/sqlite"
	"github.com/taskmodel/taskmodel/gen/analysis"
)

// TestModelPageQueryPlans: the model page's counts and queue reads find
// their rows through the model's indexes, on SQLite: none reads the table
// from end to end.
func TestModelPageQueryPlans(t *testing.T) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "plan.db"), analysis.Migrations(sqlite.Engine))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	oldest, running := queueSQL("analysis", "")
	ownOldest, ownRunning := queueSQL("analysis", "user_id")
	queries := map[string]string{
		"count":             countSQL("analysis"),
		"count of an owner": countOfSQL("analysis", "user_id"),
		"oldest":            oldest,
		"running":           running,
		"oldest of owner":   ownOldest,
		"running of owner":  ownRunning,
	}
	sq := strings.NewReplacer("$1", "?1", "$2", "?2")
	tableScan := regexp.MustCompile(`\bSCAN analysis\b`)
	for name, q := range queries {
		rows, err := db.QueryContext(ctx, "EXPLAIN QUERY PLAN "+sq.Replace(q), "QUEUED", "alice")
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		rows.Close()
		text := strings.Join(plan, "; ")
		t.Logf("%s: %s", name, text)
		if !strings.Contains(text, "INDEX analysis_") || (tableScan.MatchString(text) && !strings.Contains(text, "COVERING INDEX")) {
			t.Errorf("%s: plan %q does not use the model's indexes\n%s", name, text, q)
		}
	}
}
