package dashboard

import (
	"fmt"
	"reflect"
	"slices"
	"testing"
	"unicode/utf8"

	"github.com/taskmodel/taskmodel/gen/analysis"
	"github.com/taskmodel/taskmodel/gen/catalog"
	"github.com/taskmodel/taskmodel/gen/datasetupload"
	"github.com/taskmodel/taskmodel/gen/evaluation"
	"github.com/taskmodel/taskmodel/gen/modelupload"
	"github.com/taskmodel/taskmodel/gen/pipelinerun"
	"github.com/taskmodel/taskmodel/gen/pipelinesubtask"
	"github.com/taskmodel/taskmodel/gen/stage"
	"github.com/taskmodel/taskmodel/gen/synthesis"
	"github.com/taskmodel/taskmodel/gen/training"
	"github.com/taskmodel/taskmodel/server"
	"github.com/taskmodel/taskmodel/tasktype"
)

// builtinModels are the lifecycles of every model of the catalog.
func builtinModels(t *testing.T) []server.ModelInfo {
	t.Helper()
	var ms []server.ModelInfo
	var names []string
	for _, l := range []tasktype.Lifecycle{
		analysis.Lifecycle(), datasetupload.Lifecycle(), evaluation.Lifecycle(),
		modelupload.Lifecycle(), pipelinerun.Lifecycle(), pipelinesubtask.Lifecycle(),
		stage.Lifecycle(), synthesis.Lifecycle(), training.Lifecycle(),
	} {
		ms = append(ms, server.ModelInfo{Lifecycle: l})
		names = append(names, l.Model)
	}
	var want []string
	for _, m := range catalog.Models() {
		want = append(want, m.Name)
	}
	slices.Sort(names)
	slices.Sort(want)
	if !slices.Equal(names, want) {
		t.Fatalf("the test draws the models %v, the catalog has %v", names, want)
	}
	return ms
}

// shape is a rectangle of the drawing, named for the messages.
type shape struct {
	name           string
	x0, y0, x1, y1 float64
}

func (r shape) String() string {
	return fmt.Sprintf("%s [%.0f,%.0f–%.0f,%.0f]", r.name, r.x0, r.y0, r.x1, r.y1)
}

func (r shape) intersects(o shape) bool {
	return r.x0 < o.x1 && o.x0 < r.x1 && r.y0 < o.y1 && o.y0 < r.y1
}

// labelRect is what an arrow's label covers as model.html and the
// stylesheet draw it: 11px text centred on LX with its baseline at LY, its
// moves in brackets when counted, with a 3px halo. A character is taken as
// 0.6em wide, more than the average of a lowercase event name in the common
// sans-serif faces; the text rises 0.95em above the baseline and falls
// 0.25em below it.
func labelRect(a arrow) shape {
	const font, halo = 11.0, 1.5
	text := a.Events
	if a.Counted {
		text += fmt.Sprintf(" (%d)", a.Count)
	}
	w := float64(utf8.RuneCountInString(text))*0.6*font + 2*halo
	x, y := float64(a.LX), float64(a.LY)
	return shape{name: "label " + a.From + "→" + a.To + " «" + text + "»",
		x0: x - w/2, x1: x + w/2, y0: y - 0.95*font - halo, y1: y + 0.25*font + halo}
}

// nodeRect is a status's box (model.html: 150 × 62).
func nodeRect(n node) shape {
	return shape{name: "box " + n.Badge.Status, x0: float64(n.X), y0: float64(n.Y), x1: float64(n.X + 150), y1: float64(n.Y + 62)}
}

// overlaps lists the labels of d that cross a box, another label or the
// edge of the drawing.
func overlaps(d diagram) []string {
	var out []string
	var boxes, labels []shape
	for _, n := range d.Nodes {
		boxes = append(boxes, nodeRect(n))
	}
	for _, a := range d.Arrows {
		labels = append(labels, labelRect(a))
	}
	canvas := shape{x0: 0, y0: 0, x1: float64(d.W), y1: float64(d.H)}
	for i, l := range labels {
		if l.x0 < canvas.x0 || l.y0 < canvas.y0 || l.x1 > canvas.x1 || l.y1 > canvas.y1 {
			out = append(out, fmt.Sprintf("%s leaves the drawing (%.0f × %.0f)", l, canvas.x1, canvas.y1))
		}
		for _, b := range boxes {
			if l.intersects(b) {
				out = append(out, fmt.Sprintf("%s crosses %s", l, b))
			}
		}
		for _, o := range labels[i+1:] {
			if l.intersects(o) {
				out = append(out, fmt.Sprintf("%s crosses %s", l, o))
			}
		}
	}
	for i, b := range boxes {
		for _, o := range boxes[i+1:] {
			if b.intersects(o) {
				out = append(out, fmt.Sprintf("%s crosses %s", b, o))
			}
		}
	}
	return out
}

// TestDiagramLabelsClear: in the diagram of every built-in model, no
// arrow's label covers a status's box or another label, or leaves the
// drawing — without moves (the memory backend) and with the most moves a
// window counts on every arrow (the widest labels) — and the same model
// draws the same diagram every time.
func TestDiagramLabelsClear(t *testing.T) {
	for _, m := range builtinModels(t) {
		t.Run(m.Model, func(t *testing.T) {
			most := map[tasktype.Edge]int64{}
			for _, e := range m.Edges() {
				most[e] = server.MovesLimit + 1
			}
			for _, moves := range []map[tasktype.Edge]int64{nil, most} {
				d := newDiagram(m, nil, moves)
				if len(d.Arrows) == 0 {
					t.Fatal("no arrows")
				}
				for _, o := range overlaps(d) {
					t.Errorf("moves counted %v: %s", moves != nil, o)
				}
				if again := newDiagram(m, nil, moves); !reflect.DeepEqual(d, again) {
					t.Errorf("moves counted %v: the same model drew two diagrams:\n%+v\n%+v", moves != nil, d, again)
				}
			}
		})
	}
}

// TestDiagramLabelsClearEveryShape: the labels also stay clear on the
// arrows no built-in model has — a loop, a bow between two statuses of a
// column, arrows back from a lower row and over two columns, an
// unreachable status — with long event names.
func TestDiagramLabelsClearEveryShape(t *testing.T) {
	st := func(name string, terminal bool) tasktype.StatusInfo {
		return tasktype.StatusInfo{Name: name, Code: "R", Terminal: terminal}
	}
	ev := func(name, to string, from ...string) tasktype.EventInfo {
		return tasktype.EventInfo{Name: name, From: from, To: to}
	}
	m := server.ModelInfo{Lifecycle: tasktype.Lifecycle{
		Model: "shapes", Initial: "A",
		Statuses: []tasktype.StatusInfo{st("A", false), st("B", false), st("C", false), st("D", false), st("E", false), st("ORPHAN", false), st("DONE", true), st("GONE", true)},
		Events: []tasktype.EventInfo{
			ev("go_to_b", "B", "A"), ev("go_to_c_directly_please", "C", "A"),
			ev("hop_within_the_column", "C", "B"), ev("stay_where_you_are", "B", "B"),
			ev("back_to_the_very_start", "A", "C", "D"), ev("onwards", "D", "B", "C"),
			ev("skip_ahead", "E", "A", "B"), ev("retry_from_the_top", "B", "E"),
			ev("finish", "DONE", "D", "E", "ORPHAN"), ev("give_up", "GONE", "A", "B", "C", "D", "E"),
		},
	}}
	most := map[tasktype.Edge]int64{}
	for _, e := range m.Edges() {
		most[e] = server.MovesLimit + 1
	}
	d := newDiagram(m, nil, most)
	for _, o := range overlaps(d) {
		t.Error(o)
	}
}
