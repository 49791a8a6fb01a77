package backendtest

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/taskmodel/taskmodel/backends"
	"github.com/taskmodel/taskmodel/gen/analysis"
)

// StoreJSON writes raw JSON into the analysis task's progress_detail
// column, as a program running an earlier spec would have: each backend's
// tests give the statement of their engine.
type StoreJSON func(ctx context.Context, id uuid.UUID, progressDetail string) error

// RunStoredValues checks that a driver reads a value type stored under an
// earlier version of its spec (the analysis model's ProgressDetail): a key
// of a field since removed is dropped, a required key it lacks reads as the
// zero value, and a value of another type is still an error naming the
// column.
func RunStoredValues(t *testing.T, open func(t testing.TB) (backends.Driver[analysis.Task], StoreJSON)) {
	tests := []struct {
		name   string
		stored string
		want   *analysis.ProgressDetail
		err    string
	}{
		{"current shape", `{"current_stage":"scoring","agents_total":3,"agents_completed":1}`,
			&analysis.ProgressDetail{CurrentStage: "scoring", AgentsTotal: 3, AgentsCompleted: 1}, ""},
		{"a removed field's key", `{"current_stage":"scoring","agents_total":3,"agents_completed":1,"eta_seconds":40}`,
			&analysis.ProgressDetail{CurrentStage: "scoring", AgentsTotal: 3, AgentsCompleted: 1}, ""},
		{"a required key missing", `{"current_stage":"scoring","agents_total":3}`,
			&analysis.ProgressDetail{CurrentStage: "scoring", AgentsTotal: 3}, ""},
		{"both, and an optional one kept", `{"current_agent":"score-risk","old":[1,2],"agents_completed":2}`,
			&analysis.ProgressDetail{CurrentAgent: ptr("score-risk"), AgentsCompleted: 2}, ""},
		{"null", `null`, nil, ""},
		{"a value of another type", `{"current_stage":5,"agents_total":3,"agents_completed":1}`, nil, "progress_detail"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, store := open(t)
			ctx := context.Background()
			e := env{ctx: ctx, clock: NewClock()}
			e.store = backends.NewStore[analysis.Task, analysis.Event](d, backends.WithClock(e.clock.Now))
			x := e.create(t)
			if err := store(ctx, x.ID, tt.stored); err != nil {
				t.Fatalf("store %s: %v", tt.stored, err)
			}
			got, err := d.Get(ctx, x.ID)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("Get: %v, want an error naming %s", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Get: %v", err)
			}
			if g, w := jsonText(got.ProgressDetail), jsonText(tt.want); g != w {
				t.Errorf("progress_detail = %s, want %s", g, w)
			}
			// The task still changes: its next write stores the current shape.
			next, err := e.store.Update(ctx, got, func(x *analysis.Task) { x.UserID = "user-2" })
			if err != nil {
				t.Fatalf("Update of a task read from an earlier shape: %v", err)
			}
			again, err := d.Get(ctx, x.ID)
			if err != nil || jsonText(again.ProgressDetail) != jsonText(tt.want) || again.Version != next.Version {
				t.Fatalf("after the update: %v, %+v", err, again)
			}
		})
	}
}

func jsonText(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return err.Error()
	}
	return string(b)
}

func ptr[V any](v V) *V { return &v }
