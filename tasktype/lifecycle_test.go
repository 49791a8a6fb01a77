package tasktype_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/taskmodel/taskmodel/tasktype"
)

func TestLifecycle(t *testing.T) {
	l := tasktype.Lifecycle{
		Model:   "job",
		Initial: "QUEUED",
		Statuses: []tasktype.StatusInfo{
			{Name: "QUEUED", Initial: true, Timeout: &tasktype.StatusTimeout{After: time.Hour, Event: "expire", To: "FAILED"}},
			{Name: "RUNNING"},
			{Name: "DONE", Terminal: true},
			{Name: "FAILED", Terminal: true},
		},
		Events: []tasktype.EventInfo{
			{Name: "start", From: []string{"QUEUED"}, To: "RUNNING"},
			{Name: "complete", From: []string{"RUNNING"}, To: "DONE"},
			{Name: "fail", From: []string{"QUEUED", "RUNNING"}, To: "FAILED"},
			{Name: "expire", From: []string{"QUEUED"}, To: "FAILED"},
		},
	}
	wantEdges := []tasktype.Edge{
		{From: "QUEUED", Event: "start", To: "RUNNING"},
		{From: "QUEUED", Event: "fail", To: "FAILED"},
		{From: "QUEUED", Event: "expire", To: "FAILED"},
		{From: "RUNNING", Event: "complete", To: "DONE"},
		{From: "RUNNING", Event: "fail", To: "FAILED"},
	}
	if got := l.Edges(); !reflect.DeepEqual(got, wantEdges) {
		t.Errorf("Edges() = %v\nwant %v", got, wantEdges)
	}
	if got := l.Terminal(); !reflect.DeepEqual(got, []string{"DONE", "FAILED"}) {
		t.Errorf("Terminal() = %v", got)
	}
	if got := l.Timeouts(); len(got) != 1 || got[0].Name != "QUEUED" || got[0].Timeout.After != time.Hour {
		t.Errorf("Timeouts() = %+v", got)
	}
	tests := []struct {
		name string
		ok   bool
	}{{"RUNNING", true}, {"DONE", true}, {"PAUSED", false}, {"", false}}
	for _, tt := range tests {
		if s, ok := l.Status(tt.name); ok != tt.ok || (ok && s.Name != tt.name) {
			t.Errorf("Status(%q) = %+v, %v; want ok %v", tt.name, s, ok, tt.ok)
		}
	}
}
