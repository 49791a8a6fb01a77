package sqlite_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/taskmodel/taskmodel/backends"
	"github.com/taskmodel/taskmodel/backends/sqlite"
	"github.com/taskmodel/taskmodel/gen/stage"
	stagesqlite "github.com/taskmodel/taskmodel/gen/stage/sqlitedb"
)

// TestStoredUndeclaredValue: a task whose value type (the stage's history
// entries) holds a status the spec no longer declares fails to read with
// an error naming the column, the item, the field, the type, the value,
// what is allowed and the likely cause (backends.StoredValueError; the
// decoding is every engine's, see TestDecodeStoredUndeclared).
func TestStoredUndeclaredValue(t *testing.T) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "tasks.db"), stage.Migrations(sqlite.Engine))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	store := backends.NewStore[stage.StageState, stage.Event](stagesqlite.NewDriver(db))
	x, err := store.Create(ctx, stage.NewStageState(), backends.Meta{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `UPDATE stage SET history = ? WHERE id = ?`,
		`[{"attempt":1,"begin_status":"PAUSED","begin_ts":"t0","end_status":"RUNNING","end_ts":"t1","message":"m","run_time_seconds":1}]`, x.ID.String()); err != nil {
		t.Fatal(err)
	}
	_, err = store.Get(ctx, x.ID)
	var se *backends.StoredValueError
	if !errors.As(err, &se) {
		t.Fatalf("Get: %v (%T), want a *backends.StoredValueError", err, err)
	}
	want := `history: item 0: field begin_status of type StageStateHistoryEntry holds "PAUSED", which this program's spec does not declare (it allows UNBOUND, CREATED, RUNNING, RETRY, ERROR, COMPLETE, CANCELED); the value was likely stored before the spec removed it`
	if !strings.HasPrefix(err.Error(), want) {
		t.Errorf("Get:\n got: %v\nwant: %s…", err, want)
	}
}
