package schema_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/taskmodel/taskmodel/gen/analysis"
	"github.com/taskmodel/taskmodel/tasktype"
)

// lifecycleMatrix is the upload → process lifecycle's "Transition Matrix" table, row by row: the
// statuses each status may move to. Rows the table leaves out (the terminal
// statuses) allow nothing.
var lifecycleMatrix = map[string][]string{
	"CREATED":       {"UPLOADING", "EXPIRED"},
	"UPLOADING":     {"UPLOAD_FAILED", "QUEUED", "EXPIRED"},
	"UPLOAD_FAILED": {"UPLOADING"},
	"QUEUED":        {"PROCESSING"},
	"PROCESSING":    {"COMPLETED", "FAILED", "CANCELLED"},
}

var lifecycleStatuses = []string{"CREATED", "UPLOADING", "UPLOAD_FAILED", "QUEUED", "PROCESSING", "COMPLETED", "FAILED", "CANCELLED", "EXPIRED"}

func TestAnalysisStatusesInRequiredOrder(t *testing.T) {
	got := analysis.Statuses()
	if len(got) != len(lifecycleStatuses) {
		t.Fatalf("got %d statuses, want %d", len(got), len(lifecycleStatuses))
	}
	for i, s := range got {
		if string(s) != lifecycleStatuses[i] {
			t.Errorf("status %d = %s, want %s", i, s, lifecycleStatuses[i])
		}
	}
}

// TestAnalysisTransitionMatrix checks all 81 (from, to) pairs against the lifecycle's requirements.
func TestAnalysisTransitionMatrix(t *testing.T) {
	pairs := 0
	for _, from := range lifecycleStatuses {
		for _, to := range lifecycleStatuses {
			want := false
			for _, allowed := range lifecycleMatrix[from] {
				want = want || allowed == to
			}
			t.Run(from+"->"+to, func(t *testing.T) {
				if got := analysis.CanTransition(analysis.Status(from), analysis.Status(to)); got != want {
					t.Errorf("CanTransition(%s, %s) = %v, want %v", from, to, got, want)
				}
				ev, err := analysis.Transition(analysis.Status(from), analysis.Status(to))
				if want {
					if err != nil {
						t.Fatalf("Transition: %v", err)
					}
					if got, err := analysis.Fire(analysis.Status(from), ev); err != nil || got != analysis.Status(to) {
						t.Errorf("Fire(%s, %s) = %s, %v; want %s", from, ev, got, err, to)
					}
				} else if !errors.Is(err, tasktype.ErrTransitionNotAllowed) {
					t.Errorf("Transition(%s, %s) error = %v, want ErrTransitionNotAllowed", from, to, err)
				}
			})
			pairs++
		}
	}
	if pairs != 81 {
		t.Fatalf("checked %d pairs, want 81", pairs)
	}
}

func TestAnalysisFire(t *testing.T) {
	tests := []struct {
		from    analysis.Status
		event   analysis.Event
		want    analysis.Status
		wantErr string
	}{
		{analysis.StatusCreated, analysis.EventRequestUploadURLs, analysis.StatusUploading, ""},
		{analysis.StatusUploadFailed, analysis.EventRequestUploadURLs, analysis.StatusUploading, ""},
		{analysis.StatusUploading, analysis.EventVerifyUploads, analysis.StatusQueued, ""},
		{analysis.StatusProcessing, analysis.EventFail, analysis.StatusFailed, ""},
		{analysis.StatusCreated, analysis.EventExpire, analysis.StatusExpired, ""},
		{analysis.StatusCreated, analysis.EventCancel, analysis.StatusCreated,
			`event "cancel" is not allowed from status CREATED; allowed: request_upload_urls, expire`},
		{analysis.StatusCompleted, analysis.EventFail, analysis.StatusCompleted,
			`event "fail" is not allowed from status COMPLETED; it is terminal, no event is allowed`},
		{analysis.StatusQueued, "explode", analysis.StatusQueued, `unknown event "explode" for a task in status QUEUED; allowed: start`},
		{"LIMBO", analysis.EventStart, "LIMBO",
			`unknown status "LIMBO"; statuses are CREATED, UPLOADING, UPLOAD_FAILED, QUEUED, PROCESSING, COMPLETED, FAILED, CANCELLED, EXPIRED`},
	}
	for _, tt := range tests {
		t.Run(string(tt.from)+"/"+string(tt.event), func(t *testing.T) {
			got, err := analysis.Fire(tt.from, tt.event)
			if got != tt.want {
				t.Errorf("status = %s, want %s", got, tt.want)
			}
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
				return
			}
			var te *analysis.TransitionError
			if !errors.As(err, &te) {
				t.Fatalf("error %v is not a *TransitionError", err)
			}
			if te.From != tt.from || te.Event != tt.event {
				t.Errorf("TransitionError carries from=%s event=%s", te.From, te.Event)
			}
			if err.Error() != tt.wantErr {
				t.Errorf("error = %q\nwant    %q", err, tt.wantErr)
			}
		})
	}
}

func TestAnalysisTablesMatchRequirements(t *testing.T) {
	// Progress calculation (required: 0, 10, 15, 15 + int(done × 80), 100; others keep the stored value).
	progress := []struct {
		status analysis.Status
		done   float64
		want   int
		ok     bool
	}{
		{analysis.StatusCreated, 0, 0, true},
		{analysis.StatusUploading, 0, 10, true},
		{analysis.StatusQueued, 0, 15, true},
		{analysis.StatusProcessing, 0, 15, true},
		{analysis.StatusProcessing, 3.0 / 6, 55, true}, // the requirements' progress_detail example
		{analysis.StatusProcessing, 1, 95, true},
		{analysis.StatusProcessing, 7, 95, true}, // clamped
		{analysis.StatusCompleted, 0, 100, true},
		{analysis.StatusFailed, 0.5, 0, false},
	}
	for _, p := range progress {
		got, ok := p.status.Progress(p.done)
		if got != p.want || ok != p.ok {
			t.Errorf("%s.Progress(%v) = %d, %v; want %d, %v", p.status, p.done, got, ok, p.want, p.ok)
		}
	}
	// Timeouts (the requirements' Timeout Rules).
	timeouts := analysis.Timeouts()
	want := []string{"CREATED 15m0s EXPIRED created_at ", "UPLOADING 15m0s EXPIRED upload_started_at ", "PROCESSING 30m0s FAILED processing_started_at TIMEOUT_ERROR"}
	if len(timeouts) != len(want) {
		t.Fatalf("got %d timeouts, want %d", len(timeouts), len(want))
	}
	for i, to := range timeouts {
		got := strings.Join([]string{string(to.Status), to.After.String(), string(to.To), to.EnteredAtField, string(to.ErrorCode)}, " ")
		if got != want[i] {
			t.Errorf("timeout %d = %q, want %q", i, got, want[i])
		}
	}
	if _, ok := analysis.StatusQueued.Timeout(); ok {
		t.Error("QUEUED has a timeout; the requirements give none")
	}
	// Display and poll intervals.
	if d := analysis.StatusUploading.Display(); d.Label != "Uploading" || d.Color != "blue" || d.PollInterval.Milliseconds() != 2000 {
		t.Errorf("UPLOADING display = %+v", d)
	}
	if d := analysis.StatusCompleted.Display(); d.Message != "Analysis completed successfully!" || d.PollInterval != 0 {
		t.Errorf("COMPLETED display = %+v", d)
	}
	// Error codes.
	if got := analysis.ErrorCodeBillingInsufficientCredits.Message(); got != "Insufficient credits" {
		t.Errorf("message = %q", got)
	}
	if n := len(analysis.ErrorCodes()); n != 7 {
		t.Errorf("%d error codes, want 7", n)
	}
	// Categories and terminal set.
	for _, s := range analysis.Statuses() {
		term := s == analysis.StatusCompleted || s == analysis.StatusFailed || s == analysis.StatusCancelled || s == analysis.StatusExpired
		if s.IsTerminal() != term {
			t.Errorf("%s.IsTerminal() = %v", s, !term)
		}
	}
	if !analysis.StatusUploading.IsPending() || !analysis.StatusQueued.IsReady() || !analysis.StatusProcessing.IsActive() || analysis.StatusUploadFailed.IsPending() {
		t.Error("categories do not match the requirements")
	}
	if got := analysis.EventFail.RequiredFields(); strings.Join(got, ",") != "error_code,error_message" {
		t.Errorf("fail requires %v", got)
	}
}

func TestAnalysisJSON(t *testing.T) {
	in := `{"user_id":"u1","tool_id":"profile-my-data","agents":["unified-profiler","score-risk"],"status":"UPLOADING"}`
	var task analysis.Task
	if err := json.Unmarshal([]byte(in), &task); err != nil {
		t.Fatal(err)
	}
	if task.Status != analysis.StatusUploading || len(task.Agents) != 2 || task.Progress != 0 {
		t.Fatalf("decoded %+v", task)
	}
	if err := task.Validate(); err != nil {
		t.Fatal(err)
	}
	tests := []struct{ name, in, want string }{
		{"unknown status", `{"user_id":"u","tool_id":"t","agents":["a"],"status":"DONE"}`,
			`status: unknown value "DONE"; allowed: CREATED, UPLOADING, UPLOAD_FAILED, QUEUED, PROCESSING, COMPLETED, FAILED, CANCELLED, EXPIRED`},
		{"missing required", `{"user_id":"u","agents":["a"]}`, `tool_id: is required`},
		{"unknown field", `{"user_id":"u","tool_id":"t","agents":["a"],"parameters":{}}`, "parameters: unknown field; allowed: id, status, version"},
		{"bad error code", `{"user_id":"u","tool_id":"t","agents":["a"],"error_code":"OOPS"}`, `error_code: unknown value "OOPS"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var task analysis.Task
			err := json.Unmarshal([]byte(tt.in), &task)
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Fatalf("error = %v\nwant prefix %q", err, tt.want)
			}
			if !errors.Is(err, tasktype.ErrValidation) {
				t.Errorf("errors.Is(err, ErrValidation) = false for %v", err)
			}
		})
	}
	empty := analysis.NewTask()
	err := empty.Validate()
	want := "tool_id: must be at least 1 character (got 0); agents: must have at least 1 item (got 0)"
	if err == nil || err.Error() != want {
		t.Fatalf("Validate() = %v\nwant %s", err, want)
	}
}

// TestAnalysisText: every string of a task is valid text — the rules every
// engine gets from the generated validator, before any SQL runs (a NUL made
// PostgreSQL fail with an encoding error, and SQLite stored it) — and the
// identifiers tool_id and agents keep to their limits.
func TestAnalysisText(t *testing.T) {
	valid := func() *analysis.Task {
		x := analysis.NewTask()
		x.UserID, x.ToolID, x.Agents = "u1", "profile-my-data", []string{"unified-profiler", "score-risk"}
		return x
	}
	str := func(s string) *string { return &s }
	many := make([]string, 51)
	for i := range many {
		many[i] = "a"
	}
	tests := []struct {
		name string
		edit func(*analysis.Task)
		want string
	}{
		{"valid", func(*analysis.Task) {}, ""},
		{"multi-line error message", func(x *analysis.Task) { x.ErrorMessage = str("Traceback:\n\tline 1") }, ""},
		{"unicode user", func(x *analysis.Task) { x.UserID = "José 日本" }, ""},
		{"NUL in tool_id", func(x *analysis.Task) { x.ToolID = "a\x00" }, "tool_id: contains a NUL character (U+0000); text may not contain it"},
		{"BEL in tool_id", func(x *analysis.Task) { x.ToolID = "a\a" }, "tool_id: contains a control character (U+0007); only printable text is allowed"},
		{"right-to-left override in tool_id", func(x *analysis.Task) { x.ToolID = "a\u202eb" }, "tool_id: contains a bidirectional control character (U+202E); only printable text is allowed"},
		{"upper case tool_id", func(x *analysis.Task) { x.ToolID = "Profile" }, `tool_id: must match the pattern [a-z0-9][a-z0-9._-]* (the whole value) (got "Profile")`},
		{"NUL in user_id", func(x *analysis.Task) { x.UserID = "u\x00" }, "user_id: contains a NUL character (U+0000); text may not contain it"},
		{"NUL in error message", func(x *analysis.Task) { x.ErrorMessage = str("boom\x00") }, "error_message: contains a NUL character (U+0000); text may not contain it"},
		{"newline in a single-line field", func(x *analysis.Task) { x.UserID = "u\n1" }, "user_id: contains a control character (U+000A); only printable text is allowed"},
		{"empty agent", func(x *analysis.Task) { x.Agents = []string{"a", ""} }, "agents[1]: must be at least 1 character (got 0)"},
		{"long agent", func(x *analysis.Task) { x.Agents = []string{strings.Repeat("a", 101)} }, "agents[0]: must be at most 100 characters (got 101)"},
		{"100,000-character agent", func(x *analysis.Task) { x.Agents = []string{strings.Repeat("a", 100000)} }, "agents[0]: must be at most 100 characters (got 100000)"},
		{"BEL in an agent", func(x *analysis.Task) { x.Agents = []string{"a", "b", "c\a"} }, "agents[2]: contains a control character (U+0007); only printable text is allowed"},
		{"51 agents", func(x *analysis.Task) { x.Agents = many }, "agents: must have at most 50 items (got 51)"},
		{"nested", func(x *analysis.Task) {
			x.ProgressDetail = &analysis.ProgressDetail{CurrentStage: "agent\u2066execution"}
		}, "progress_detail.current_stage: contains a bidirectional control character (U+2066); only printable text is allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x := valid()
			tt.edit(x)
			err := x.Validate()
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tt.want {
				t.Fatalf("Validate() = %s\nwant %s", got, tt.want)
			}
		})
	}
	// The JSON a client sends is held to the same rules.
	var x analysis.Task
	if err := json.Unmarshal([]byte(`{"user_id":"u","tool_id":"a\u0000b","agents":["a"]}`), &x); err != nil {
		t.Fatal(err)
	}
	if err := x.Validate(); err == nil || err.Error() != "tool_id: contains a NUL character (U+0000); text may not contain it" {
		t.Errorf("NUL from JSON: %v", err)
	}
}
