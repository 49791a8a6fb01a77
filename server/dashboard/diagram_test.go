package dashboard

import (
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
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

// TestDiagramLabelsClearEveryShape: the labels, and the arrows, also stay
// clear on the arrows no built-in model has — a loop, a bow between two statuses of a
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
	for _, f := range routeFaults(t, d) {
		t.Error(f)
	}
}

// pathPoints samples an SVG path of absolute M, L, Q and C commands (what
// diagram.go writes) about every step px along its length.
func pathPoints(t *testing.T, d string, step float64) [][2]float64 {
	t.Helper()
	fields := strings.Fields(strings.NewReplacer(",", " ", "M", " M ", "L", " L ", "Q", " Q ", "C", " C ").Replace(d))
	var pts [][2]float64
	var cur [2]float64
	num := func(i int) float64 {
		if i >= len(fields) {
			t.Fatalf("path %q: a number is missing", d)
		}
		v, err := strconv.ParseFloat(fields[i], 64)
		if err != nil {
			t.Fatalf("path %q: %v", d, err)
		}
		return v
	}
	// bezier samples the curve through these control points (cur first).
	bezier := func(ctl ...[2]float64) {
		ctl = append([][2]float64{cur}, ctl...)
		length := 0.0
		for i := 1; i < len(ctl); i++ {
			length += math.Hypot(ctl[i][0]-ctl[i-1][0], ctl[i][1]-ctl[i-1][1])
		}
		n := max(1, int(length/step*2))
		for k := 1; k <= n; k++ {
			u := float64(k) / float64(n)
			p := slices.Clone(ctl)
			for len(p) > 1 { // de Casteljau
				for i := range len(p) - 1 {
					p[i] = [2]float64{p[i][0] + u*(p[i+1][0]-p[i][0]), p[i][1] + u*(p[i+1][1]-p[i][1])}
				}
				p = p[:len(p)-1]
			}
			pts = append(pts, p[0])
		}
		cur = ctl[len(ctl)-1]
	}
	for i := 0; i < len(fields); {
		switch cmd := fields[i]; cmd {
		case "M":
			cur = [2]float64{num(i + 1), num(i + 2)}
			pts = append(pts, cur)
			i += 3
		case "L":
			bezier([2]float64{num(i + 1), num(i + 2)})
			i += 3
		case "Q":
			bezier([2]float64{num(i + 1), num(i + 2)}, [2]float64{num(i + 3), num(i + 4)})
			i += 5
		case "C":
			bezier([2]float64{num(i + 1), num(i + 2)}, [2]float64{num(i + 3), num(i + 4)}, [2]float64{num(i + 5), num(i + 6)})
			i += 7
		default:
			t.Fatalf("path %q: unknown command %q", d, cmd)
		}
	}
	return pts
}

// routeFaults lists the arrows of d that pass through a box other than
// their own two (the first and last endGap px of an arrow, where it
// leaves and meets its boxes, aside), and the pairs of arrows that run on
// top of each other: within near px of each other for more than along px.
func routeFaults(t *testing.T, d diagram) []string {
	const step, endGap, near, along = 1.0, 6.0, 2.0, 12.0
	var out []string
	boxes := map[string]shape{}
	for _, n := range d.Nodes {
		boxes[n.Badge.Status] = nodeRect(n)
	}
	paths := make([][][2]float64, len(d.Arrows))
	for i, a := range d.Arrows {
		paths[i] = pathPoints(t, a.D, step)
	}
	name := func(a arrow) string { return "arrow " + a.From + "→" + a.To + " (" + a.D + ")" }
	for i, a := range d.Arrows {
		pts := paths[i]
		// lengths[k] is how far along the arrow pts[k] is.
		lengths := make([]float64, len(pts))
		for k := 1; k < len(pts); k++ {
			lengths[k] = lengths[k-1] + math.Hypot(pts[k][0]-pts[k-1][0], pts[k][1]-pts[k-1][1])
		}
		total := lengths[len(lengths)-1]
		crossed := map[string]bool{}
		for k, p := range pts {
			if lengths[k] < endGap || total-lengths[k] < endGap {
				continue
			}
			for _, n := range d.Nodes {
				s := n.Badge.Status
				b := boxes[s]
				if s == a.From || s == a.To || crossed[s] {
					continue
				}
				if p[0] > b.x0-1 && p[0] < b.x1+1 && p[1] > b.y0-1 && p[1] < b.y1+1 {
					crossed[s] = true
					out = append(out, fmt.Sprintf("%s passes through %s at %.0f,%.0f", name(a), b, p[0], p[1]))
				}
			}
		}
		// The longest stretch of a within near px of another arrow.
		for j, b := range d.Arrows {
			if j == i {
				continue
			}
			run, longest := 0.0, 0.0
			for k, p := range pts {
				close := false
				for _, q := range paths[j] {
					if math.Abs(p[0]-q[0]) < near && math.Abs(p[1]-q[1]) < near && math.Hypot(p[0]-q[0], p[1]-q[1]) < near {
						close = true
						break
					}
				}
				switch {
				case !close:
					run = 0
				case k > 0:
					run += lengths[k] - lengths[k-1]
				}
				longest = max(longest, run)
			}
			if longest > along && i < j {
				out = append(out, fmt.Sprintf("%s runs on %s for %.0f px", name(a), name(b), longest))
			}
		}
	}
	return out
}

// TestDiagramArrowsClear: in the diagram of every built-in model, no
// arrow passes through a status's box other than the two it joins (an
// arrow over columns bends around the boxes between), and no two arrows
// run on top of each other — without moves and with the most moves on
// every arrow (the widest labels, so the widest gaps).
func TestDiagramArrowsClear(t *testing.T) {
	for _, m := range builtinModels(t) {
		t.Run(m.Model, func(t *testing.T) {
			most := map[tasktype.Edge]int64{}
			for _, e := range m.Edges() {
				most[e] = server.MovesLimit + 1
			}
			for _, moves := range []map[tasktype.Edge]int64{nil, most} {
				for _, f := range routeFaults(t, newDiagram(m, nil, moves)) {
					t.Errorf("moves counted %v: %s", moves != nil, f)
				}
			}
		})
	}
}
