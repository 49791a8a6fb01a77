package server

import (
	"testing"

	"github.com/taskmodel/taskmodel/gen/analysis"
	"github.com/taskmodel/taskmodel/tasktype"
)

// TestLifecycleDescriptor: the lifecycle a generated package describes as
// data is the one its generated methods enforce — statuses with their codes
// and display, the transition table, the timeouts and the worker section.
func TestLifecycleDescriptor(t *testing.T) {
	l := analysis.Lifecycle()
	if l.Model != analysis.ModelName || l.Initial != string(analysis.Initial()) || l.Review == "" {
		t.Fatalf("model %q, initial %q, review of %d bytes", l.Model, l.Initial, len(l.Review))
	}
	if len(l.Statuses) != len(analysis.Statuses()) {
		t.Fatalf("%d statuses, the package has %d", len(l.Statuses), len(analysis.Statuses()))
	}
	var want []tasktype.Edge
	for i, s := range analysis.Statuses() {
		st := l.Statuses[i]
		if st.Name != string(s) || st.Code != s.Code() || st.Display != s.Display() || st.Terminal != s.IsTerminal() || st.Initial != s.IsInitial() || st.EnteredAt != s.EnteredAtField() {
			t.Errorf("status %d: %+v, the package says %s %s %+v terminal %v", i, st, s, s.Code(), s.Display(), s.IsTerminal())
		}
		to, ok := s.Timeout()
		if ok != (st.Timeout != nil) || ok && (st.Timeout.After != to.After || st.Timeout.Event != string(to.Event) || st.Timeout.To != string(to.To) || st.Timeout.ErrorCode != string(to.ErrorCode)) {
			t.Errorf("status %s: timeout %+v, the package's %+v (%v)", s, st.Timeout, to, ok)
		}
		for _, ev := range analysis.AllowedEvents(s) {
			want = append(want, tasktype.Edge{From: string(s), Event: string(ev), To: string(ev.Target())})
		}
	}
	got := map[tasktype.Edge]bool{}
	for _, e := range l.Edges() {
		got[e] = true
	}
	if len(got) != len(want) {
		t.Errorf("%d edges, the package allows %d", len(got), len(want))
	}
	for _, e := range want {
		if !got[e] {
			t.Errorf("edge %+v is not in the descriptor", e)
		}
	}
	if l.Worker == nil || *l.Worker != analysis.Worker {
		t.Errorf("worker %+v, the package's %+v", l.Worker, analysis.Worker)
	}
}
