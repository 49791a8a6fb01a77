package schema_test

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/taskmodel/taskmodel/gen/stage"
	"github.com/taskmodel/taskmodel/tasktype"
)

func names(ss []stage.Status) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = string(s)
	}
	slices.Sort(out)
	return out
}

// TestStageSetsMatchRequirements checks the stage-execution framework's module
// attributes exactly.
func TestStageSetsMatchRequirements(t *testing.T) {
	tests := []struct {
		name string
		got  []stage.Status
		is   func(stage.Status) bool
		want []string
	}{
		{"ACTIVE_STATES", stage.ActiveStatuses(), stage.Status.IsActive, []string{"CREATED", "RETRY", "RUNNING"}},
		{"CANCELABLE_STATES", stage.CancelableStatuses(), stage.Status.IsCancelable, []string{"CREATED", "RETRY", "RUNNING", "UNBOUND"}},
		{"INACTIVE_STATES", stage.InactiveStatuses(), stage.Status.IsInactive, []string{"CANCELED", "COMPLETE", "ERROR"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := names(tt.got); !slices.Equal(got, tt.want) {
				t.Errorf("members = %v, want %v", got, tt.want)
			}
			for _, s := range stage.Statuses() {
				if in := slices.Contains(tt.want, string(s)); tt.is(s) != in {
					t.Errorf("Is(%s) = %v, want %v", s, !in, in)
				}
			}
		})
	}
	if got := names(stage.Statuses()); !slices.Equal(got, []string{"CANCELED", "COMPLETE", "CREATED", "ERROR", "RETRY", "RUNNING", "UNBOUND"}) {
		t.Errorf("statuses = %v", got)
	}
	// Every cancelable status can be cancelled; nothing else can.
	for _, s := range stage.Statuses() {
		_, err := stage.Fire(s, stage.EventCancel)
		if (err == nil) != s.IsCancelable() {
			t.Errorf("cancel from %s: err = %v", s, err)
		}
	}
	if got := stage.NewStageState().Status; got != stage.StatusUnbound {
		t.Errorf("default status = %s, want UNBOUND", got)
	}
}

func TestStageStateLimits(t *testing.T) {
	tests := []struct {
		name    string
		edit    func(*stage.StageState)
		wantErr string // "" for valid
	}{
		{"defaults", func(*stage.StageState) {}, ""},
		{"150 ASCII characters", func(s *stage.StageState) { s.StageName = strings.Repeat("a", 150) }, ""},
		{"150 multi-byte characters", func(s *stage.StageState) { s.StageName = strings.Repeat("é", 150) }, ""},
		{"151 characters", func(s *stage.StageState) { s.StageName = strings.Repeat("a", 151) },
			"stage_name: must be at most 150 characters (got 151)"},
		{"151 multi-byte characters", func(s *stage.StageState) { s.StageName = strings.Repeat("é", 151) },
			"stage_name: must be at most 150 characters (got 151)"},
		{"attempts 0", func(s *stage.StageState) { s.Attempts = 0 }, ""},
		{"attempts -1", func(s *stage.StageState) { s.Attempts = -1 }, "attempts: must be ≥ 0 (got -1)"},
		{"unknown status", func(s *stage.StageState) { s.Status = "PAUSED" },
			`status: unknown value "PAUSED"; allowed: UNBOUND, CREATED, RUNNING, RETRY, ERROR, COMPLETE, CANCELED`},
		{"history entry attempt -1", func(s *stage.StageState) {
			s.History = []stage.StageStateHistoryEntry{{Attempt: -1, BeginStatus: stage.StatusCreated, EndStatus: stage.StatusRunning}}
		}, "history[0].attempt: must be ≥ 0 (got -1)"},
		{"result count -1", func(s *stage.StageState) { s.Result = &stage.SimpleRecordsResult{FailCount: -1} },
			"result.fail_count: must be ≥ 0 (got -1)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := stage.NewStageState()
			tt.edit(s)
			err := s.Validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate() = %v", err)
				}
				return
			}
			if err == nil || err.Error() != tt.wantErr {
				t.Fatalf("Validate() = %v\nwant %s", err, tt.wantErr)
			}
			var fe *tasktype.FieldError
			if !errors.As(err, &fe) || fe.Field == "" || fe.Rule == "" {
				t.Errorf("errors.As(*FieldError) = %+v", fe)
			}
		})
	}
}

func TestStageStateJSON(t *testing.T) {
	// The framework's pydantic shape, as its Python side writes it.
	in := `{"stage_name":"load","status":"COMPLETE","task_id":"t-1","attempts":1,
	  "history":[{"attempt":1,"begin_status":"CREATED","begin_ts":"2025-01-01T00:00:00Z","end_status":"COMPLETE",
	              "end_ts":"2025-01-01T00:00:03Z","message":"ok","run_time_seconds":3.2}],
	  "result":{"success_count":10,"fail_count":0,"unprocessed_count":0,"total_count":10,"message":null}}`
	var s stage.StageState
	if err := json.Unmarshal([]byte(in), &s); err != nil {
		t.Fatal(err)
	}
	if s.Status != stage.StatusComplete || len(s.History) != 1 || s.Result == nil || s.Result.TotalCount != 10 {
		t.Fatalf("decoded %+v", s)
	}
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	var defaults stage.StageState
	if err := json.Unmarshal([]byte(`{}`), &defaults); err != nil {
		t.Fatal(err)
	}
	if defaults.Status != stage.StatusUnbound || defaults.History == nil {
		t.Errorf("omitted keys do not take defaults: %+v", defaults)
	}
	tests := []struct{ name, in, want string }{
		{"unknown top-level field", `{"stage_name":"x","colour":"red"}`,
			"colour: unknown field; allowed: id, status, version, created_at, updated_at, stage_name, attempts, task_id, history, result, checkpoint, started_at, ended_at"},
		{"unknown nested field", `{"result":{"success_count":1,"extra":true}}`,
			"result.extra: unknown field; allowed: success_count, fail_count, unprocessed_count, total_count, message"},
		{"missing required history key", `{"history":[{"attempt":0,"begin_status":"CREATED","end_status":"RUNNING","begin_ts":"","end_ts":"","message":""}]}`,
			"history[0].run_time_seconds: is required"},
		{"wrong type", `{"attempts":"three"}`, "attempts: must be an integer (got a string)"},
		{"trailing data", `{} {}`, "unexpected data after the JSON value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s stage.StageState
			err := json.Unmarshal([]byte(tt.in), &s)
			if tt.name == "trailing data" {
				err = s.UnmarshalJSON([]byte(tt.in)) // json.Unmarshal rejects it before the method runs
			}
			if err == nil || err.Error() != tt.want {
				t.Fatalf("error = %v\nwant  %s", err, tt.want)
			}
		})
	}
}
