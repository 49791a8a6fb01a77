package cli

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/taskmodel/taskmodel/gen/pipelinerun"
	"github.com/taskmodel/taskmodel/sdk/pipeline"
)

// TestResourcesRounded: run show and watch show a run's memory and CPU
// samples to a tenth, not with every digit of the stored float.
func TestResourcesRounded(t *testing.T) {
	f := func(v float64) *float64 { return &v }
	now := time.Date(2026, 1, 15, 10, 30, 0, 0, time.UTC)
	cases := []struct {
		name        string
		memory, cpu *float64
		show, watch string
	}{
		{"sampled", f(47.95703125), f(6.113490844028506), "memory 48.0 MB, cpu 6.1%", "mem 48.0 MB  cpu 6.1%"},
		{"large", f(12345.678), f(399.96), "memory 12345.7 MB, cpu 400.0%", "mem 12345.7 MB  cpu 400.0%"},
		{"no cpu yet", f(3), nil, "memory 3.0 MB, cpu -%", "mem 3.0 MB  cpu -%"},
		{"not sampled", nil, nil, "memory - MB, cpu -%", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := &pipeline.Run{ID: uuid.New(), Stage: "STATIC", Task: "Build Database", Status: pipelinerun.StatusRunning,
				StartedAt: &now, MemoryMB: c.memory, CPUPercent: c.cpu}
			d := runDetail{Run: r}
			var b bytes.Buffer
			if err := printRun(&b, d, func() time.Time { return now }); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(b.String(), "resources:  "+c.show+"\n") {
				t.Errorf("run show:\n%s\nwant resources: %s", b.String(), c.show)
			}
			w := render(&snapshot{At: now, Active: []runDetail{d}}, 80)
			if c.watch != "" && !strings.Contains(w, "  "+c.watch) || c.watch == "" && strings.Contains(w, "mem ") {
				t.Errorf("watch:\n%s\nwant %q", w, c.watch)
			}
		})
	}
}

// TestTruncate: a table's cell is one line (a message with line breaks
// split its row, a tab shifted its columns), cut to n runes.
func TestTruncate(t *testing.T) {
	for _, tc := range []struct {
		in   string
		n    int
		want string
	}{
		{"short", 10, "short"},
		{"multi\nline", 40, "multi line"},
		{"crlf\r\nand\rcr", 40, "crlf and cr"},
		{"a\ttab", 40, "a tab"},
		{"ééééé", 3, "éé…"},
		{"line\nbreak cut", 8, "line br…"},
	} {
		if got := truncate(tc.in, tc.n); got != tc.want {
			t.Errorf("truncate(%q, %d) = %q, want %q", tc.in, tc.n, got, tc.want)
		}
	}
}
