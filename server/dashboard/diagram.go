package dashboard

import (
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/taskmodel/taskmodel/server"
	"github.com/taskmodel/taskmodel/tasktype"
)

// The state diagram of a model page: an SVG drawn on the server. Statuses
// are laid out in columns by lifecycle order — the initial status first,
// then each status one column after the earliest status that leads to it
// (breadth first), the terminal statuses together in the last column —
// and each move of the transition table is an arrow labelled with its
// events (the events between the same two statuses share one arrow).
//
// Each label sits on its arrow, at the first point along it (from the
// middle outwards; then just beside the line) where its rectangle clears
// every box and every label placed before it. The gap between two columns
// is made as wide as the widest label that goes in it, and when a label
// finds no free place the gap it wants (or, for the arrows that go back,
// the room above the boxes) widens until it does: the layout depends on
// the lifecycle alone, never on the counts.

const (
	nodeW, nodeH = 150, 62
	colGap       = 104 // the least room between columns
	rowGap       = 34  // between nodes of a column
	margin       = 24
	arcRoom      = 56 // above the nodes, for the arrows that go back
	bowOut       = 40 // how far a bow between statuses of a column reaches left

	// An arrow's label (the stylesheet's .edge text): 11px text, taken as
	// 0.6em a character (more than a lowercase event name needs in the common
	// sans-serif faces), with a 3px halo; it rises labelUp above its
	// baseline and falls labelDown below it.
	labelFont, labelUp, labelDown = 11, 12, 5
	labelPad                      = 4  // kept clear around a label
	headRoom                      = 12 // kept clear left and right of a box, for the arrowheads
)

// labelWidth bounds the width of the label of an arrow with these events,
// with room for the most moves a window counts in brackets, so that the
// layout is the same whatever the counts.
func labelWidth(events string) int {
	n := utf8.RuneCountInString(events) + len(fmt.Sprintf(" (%d)", server.MovesLimit+1))
	return (n*labelFont*6+9)/10 + 4
}

// area is a rectangle of the drawing.
type area struct{ x0, y0, x1, y1 int }

func (r area) meets(o area) bool {
	return r.x0 < o.x1 && o.x0 < r.x1 && r.y0 < o.y1 && o.y0 < r.y1
}

func (r area) grow(dx, dy int) area { return area{r.x0 - dx, r.y0 - dy, r.x1 + dx, r.y1 + dy} }

// curve is a cubic Bézier curve: an arrow's path.
type curve [4][2]float64

func (c curve) at(t float64) (x, y float64) {
	u := 1 - t
	a, b, cc, d := u*u*u, 3*u*u*t, 3*u*t*t, t*t*t
	return a*c[0][0] + b*c[1][0] + cc*c[2][0] + d*c[3][0], a*c[0][1] + b*c[1][1] + cc*c[2][1] + d*c[3][1]
}

func (c curve) path() string {
	return fmt.Sprintf("M%.0f %.0f C%.0f %.0f %.0f %.0f %.0f %.0f", c[0][0], c[0][1], c[1][0], c[1][1], c[2][0], c[2][1], c[3][0], c[3][1])
}

// atX is the t at which c, going right, reaches x.
func (c curve) atX(x float64) float64 {
	lo, hi := 0.0, 1.0
	for range 30 {
		mid := (lo + hi) / 2
		if px, _ := c.at(mid); px < x {
			lo = mid
		} else {
			hi = mid
		}
	}
	return (lo + hi) / 2
}

// node is one status in the diagram.
type node struct {
	Badge  badge
	X, Y   int
	Count  server.Count
	Counts bool // counts are known
	Timed  string
	// TextX, TextY are where its label starts.
	TextX, LabelY, NameY, CountY int
	// RightX is where the timeout, right-aligned, ends.
	RightX int
}

// arrow is one or more events from one status to another.
type arrow struct {
	From, To string
	Events   string
	D        string // the SVG path
	LX, LY   int    // where its label goes: its centre and baseline
	Back     bool
	// Count is how many moves it carried in the window (Counted: known).
	Count   int64
	Counted bool
}

// diagram is the SVG's content.
type diagram struct {
	W, H   int
	Nodes  []node
	Arrows []arrow
}

// newDiagram lays out m's lifecycle with the task counts per status, and
// the moves per arrow in the window (moves nil: unknown).
func newDiagram(m server.ModelInfo, counts map[string]server.Count, moves map[tasktype.Edge]int64) diagram {
	col := map[string]int{}
	initial := m.Initial
	if initial == "" && len(m.Statuses) > 0 {
		initial = m.Statuses[0].Name
	}
	terminal := map[string]bool{}
	for _, s := range m.Statuses {
		terminal[s.Name] = s.Terminal
	}
	edges := m.Edges()
	// Breadth first from the initial status over the non-terminal ones.
	col[initial] = 0
	queue := []string{initial}
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		for _, e := range edges {
			if e.From != cur || terminal[e.To] {
				continue
			}
			if _, ok := col[e.To]; !ok {
				col[e.To] = col[cur] + 1
				queue = append(queue, e.To)
			}
		}
	}
	last := 0
	for _, c := range col {
		last = max(last, c)
	}
	// Unreachable non-terminal statuses go after the reachable ones; the
	// terminal ones into the last column.
	for _, s := range m.Statuses {
		if _, ok := col[s.Name]; !ok && !s.Terminal {
			last++
			col[s.Name] = last
		}
	}
	hasTerminal := false
	for _, s := range m.Statuses {
		if s.Terminal {
			col[s.Name] = last + 1
			hasTerminal = true
		}
	}
	ncols := last + 1
	if hasTerminal {
		ncols++
	}
	rows := make([]int, ncols)
	row := map[string]int{}
	for _, s := range m.Statuses {
		row[s.Name] = rows[col[s.Name]]
		rows[col[s.Name]]++
	}
	maxRows := 0
	for _, r := range rows {
		maxRows = max(maxRows, r)
	}

	// One arrow per (from, to), its events joined.
	type pair struct{ from, to string }
	var order []pair
	events := map[pair][]string{}
	carried := map[pair]int64{}
	for _, e := range edges {
		carried[pair{e.From, e.To}] += moves[e]
		p := pair{e.From, e.To}
		if _, ok := events[p]; !ok {
			order = append(order, p)
		}
		if !slices.Contains(events[p], e.Event) {
			events[p] = append(events[p], e.Event)
		}
	}
	arrows := make([]arrow, len(order))
	widths := make([]int, len(order))
	for i, p := range order {
		arrows[i] = arrow{From: p.from, To: p.to, Events: strings.Join(events[p], ", "), Count: carried[p], Counted: moves != nil}
		widths[i] = labelWidth(arrows[i].Events)
	}

	// The room the labels want: between columns (gaps[c] is before column
	// c; gaps[0], left of the first, holds only bows) and above the boxes.
	gaps := make([]int, ncols)
	gaps[0] = margin
	for c := 1; c < ncols; c++ {
		gaps[c] = colGap
	}
	room := func(i int) *int { // the gap arrow i's label goes in (nil: above the boxes)
		cf, ct := col[order[i].from], col[order[i].to]
		switch {
		case order[i].from == order[i].to || ct < cf:
			return nil
		case ct == cf:
			return &gaps[cf]
		default: // forward: the gap before its status
			return &gaps[ct]
		}
	}
	for i, p := range order {
		if g := room(i); g != nil {
			need := widths[i] + 2*headRoom + 16
			if col[p.from] == col[p.to] {
				need = bowOut + widths[i] + 2*headRoom + margin
			}
			*g = max(*g, need)
		}
	}
	above := arcRoom
	for try := 0; ; try++ {
		d, stuck := arrange(m, counts, col, row, maxRows, gaps, above, arrows, widths)
		if stuck < 0 || try == 20 {
			return d
		}
		if g := room(stuck); g != nil {
			*g += 24
		} else {
			above += 16
		}
	}
}

// arrange places the boxes by column and row, with these gaps before the
// columns and this room above the boxes, draws the arrows and places their
// labels; stuck is an arrow whose label found no free place (its label is
// then on the middle of its arrow), or -1.
func arrange(m server.ModelInfo, counts map[string]server.Count, col, row map[string]int, maxRows int, gaps []int, above int, arrows []arrow, widths []int) (d diagram, stuck int) {
	xs := make([]int, len(gaps))
	x := 0
	for c, g := range gaps {
		x += g
		xs[c] = x
		x += nodeW
	}
	d.W = x + margin
	d.H = 2*margin + above + maxRows*nodeH + max(0, maxRows-1)*rowGap
	pos := map[string][2]int{}
	var boxes []area
	for _, s := range m.Statuses {
		x, y := xs[col[s.Name]], margin+above+row[s.Name]*(nodeH+rowGap)
		pos[s.Name] = [2]int{x, y}
		n := node{Badge: newBadge(s.Name, s.Code, s.Display), X: x, Y: y, Counts: counts != nil, Count: counts[s.Name]}
		if s.Timeout != nil {
			n.Timed = shortDuration(s.Timeout.After)
		}
		n.TextX, n.LabelY, n.NameY, n.CountY, n.RightX = x+10, y+20, y+36, y+53, x+nodeW-10
		d.Nodes = append(d.Nodes, n)
		boxes = append(boxes, area{x, y, x + nodeW, y + nodeH})
	}
	canvas := area{0, 0, d.W, d.H}
	var labels []area
	stuck = -1
	// The labels of the arrows between neighbouring columns go first, as
	// they have the least room to move; those of the arrows that cross
	// columns, go back or loop then fit around them.
	kind := func(a arrow) int {
		switch cf, ct := col[a.From], col[a.To]; {
		case a.From == a.To:
			return 4
		case ct < cf:
			return 3
		case ct > cf+1:
			return 2
		case ct == cf:
			return 1
		}
		return 0
	}
	byRoom := make([]int, len(arrows))
	for i := range byRoom {
		byRoom[i] = i
	}
	slices.SortStableFunc(byRoom, func(i, j int) int { return kind(arrows[i]) - kind(arrows[j]) })
	d.Arrows = make([]arrow, len(arrows))
	for _, i := range byRoom {
		a := arrows[i]
		f, t := pos[a.From], pos[a.To]
		cf, ct := col[a.From], col[a.To]
		var c curve
		t0 := 0.5
		switch {
		case a.From == a.To: // a loop above the node
			x, y := float64(f[0]+nodeW/2), float64(f[1])
			c = curve{{x - 20, y}, {x - 40, y - 45}, {x + 40, y - 45}, {x + 20, y}}
			a.Back = true
		case ct > cf: // forward: right side to left side
			x1, y1 := float64(f[0]+nodeW), float64(f[1]+nodeH/2)
			x2, y2 := float64(t[0]), float64(t[1]+nodeH/2)
			mx := (x1 + x2) / 2
			c = curve{{x1, y1}, {mx, y1}, {mx, y2}, {x2, y2}}
			if ct-cf > 1 { // crossing columns: the label in the gap before its status
				t0 = c.atX(float64(t[0]) - float64(gaps[ct])/2)
			}
		case ct == cf: // same column: a bow on the left
			x := float64(f[0])
			y1, y2 := float64(f[1]+nodeH/2), float64(t[1]+nodeH/2)
			c = curve{{x, y1}, {x - bowOut*4/3, y1}, {x - bowOut*4/3, y2}, {x, y2}}
		default: // back: an arc above, from the top of one to the top of the other
			lift := float64(above - 10 - (i%3)*10)
			x1, y1 := float64(f[0]+nodeW/2+12), float64(f[1])
			x2, y2 := float64(t[0]+nodeW/2-12), float64(t[1])
			top := min(y1, y2) - lift - (max(y1, y2)-min(y1, y2))/4
			c = curve{{x1, y1}, {x1, top}, {x2, top}, {x2, y2}}
			a.Back = true
		}
		a.D = c.path()
		w := widths[i]
		place := func(t, dx, dy float64) (int, int, area) {
			px, py := c.at(t)
			lx, ly := int(px+dx+0.5), int(py+dy+0.5)+(labelUp-labelDown)/2
			return lx, ly, area{lx - w/2, ly - labelUp, lx + w - w/2, ly + labelDown}
		}
		free := func(r area) bool {
			if r.x0 < canvas.x0 || r.y0 < canvas.y0 || r.x1 > canvas.x1 || r.y1 > canvas.y1 {
				return false
			}
			for _, b := range boxes {
				if r.grow(headRoom, labelPad).meets(b) {
					return false
				}
			}
			for _, l := range labels {
				if r.grow(labelPad, labelPad).meets(l) {
					return false
				}
			}
			return true
		}
		// From the preferred point outwards along the arrow; on the line
		// first, then touching it from above, below, the left or the
		// right, then a little above or below it.
		var ts []float64
		for k := 0; k <= 20; k++ {
			for _, s := range []float64{1, -1} {
				if t := t0 + s*float64(k)*0.04; t >= 0.08 && t <= 0.92 && (k > 0 || s > 0) {
					ts = append(ts, t)
				}
			}
		}
		h := float64(labelUp + labelDown + labelPad)
		half := float64(w)/2 + labelPad
		placed := false
		for _, n := range [][2]float64{{0, 0}, {0, -h / 2}, {0, h / 2}, {-half, 0}, {half, 0}, {0, -h}, {0, h}} {
			for _, t := range ts {
				lx, ly, r := place(t, n[0], n[1])
				if free(r) {
					a.LX, a.LY, placed = lx, ly, true
					labels = append(labels, r)
					break
				}
			}
			if placed {
				break
			}
		}
		if !placed {
			lx, ly, r := place(t0, 0, 0)
			a.LX, a.LY = lx, ly
			labels = append(labels, r)
			if stuck < 0 {
				stuck = i
			}
		}
		d.Arrows[i] = a
	}
	return d, stuck
}

// shortDuration writes 15m0s as 15m and 1h30m0s as 1h30m.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
