package dashboard

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/taskmodel/taskmodel/server"
	"github.com/taskmodel/taskmodel/tasktype"
)

// The state diagram of a model page: an SVG drawn on the server. Statuses
// are laid out in columns by lifecycle order — the initial status first,
// then each status one column after the earliest status that leads to it
// (breadth first), the terminal statuses together in the last column —
// and each move of the transition table is an arrow labelled with its
// events (the events between the same two statuses share one arrow).

const (
	nodeW, nodeH = 150, 62
	colGap       = 104 // between columns
	rowGap       = 34  // between nodes of a column
	margin       = 24
	arcRoom      = 56 // above the nodes, for the arrows that go back
)

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
	LX, LY   int    // where its label goes
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
	pos := map[string][2]int{}
	var d diagram
	for _, s := range m.Statuses {
		c := col[s.Name]
		x := margin + c*(nodeW+colGap)
		y := margin + arcRoom + rows[c]*(nodeH+rowGap)
		rows[c]++
		pos[s.Name] = [2]int{x, y}
		n := node{Badge: newBadge(s.Name, s.Code, s.Display), X: x, Y: y, Counts: counts != nil, Count: counts[s.Name]}
		if s.Timeout != nil {
			n.Timed = shortDuration(s.Timeout.After)
		}
		n.TextX, n.LabelY, n.NameY, n.CountY, n.RightX = x+10, y+20, y+36, y+53, x+nodeW-10
		d.Nodes = append(d.Nodes, n)
	}
	maxRows := 0
	for _, r := range rows {
		maxRows = max(maxRows, r)
	}
	d.W = 2*margin + ncols*nodeW + (ncols-1)*colGap
	d.H = 2*margin + arcRoom + maxRows*nodeH + max(0, maxRows-1)*rowGap

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
	for i, p := range order {
		a := arrow{From: p.from, To: p.to, Events: strings.Join(events[p], ", "), Count: carried[p], Counted: moves != nil}
		f, t := pos[p.from], pos[p.to]
		cf, ct := col[p.from], col[p.to]
		switch {
		case p.from == p.to: // a loop above the node
			x, y := f[0]+nodeW/2, f[1]
			a.D = fmt.Sprintf("M%d %d C%d %d %d %d %d %d", x-20, y, x-40, y-45, x+40, y-45, x+20, y)
			a.LX, a.LY, a.Back = x, y-38, true
		case ct > cf: // forward: right side to left side
			x1, y1 := f[0]+nodeW, f[1]+nodeH/2
			x2, y2 := t[0], t[1]+nodeH/2
			mx := (x1 + x2) / 2
			a.D = fmt.Sprintf("M%d %d C%d %d %d %d %d %d", x1, y1, mx, y1, mx, y2, x2, y2)
			a.LX, a.LY = mx, (y1+y2)/2-4
			if ct-cf > 1 { // crossing a column: label near the start, clear of the nodes between, beside the line
				a.LX, a.LY = x1+colGap/2, y1+(y2-y1)/8+14
				if y2 < y1 {
					a.LY = y1 + (y2-y1)/8 - 8
				}
			}
		case ct == cf: // same column: a bow on the left
			x := f[0]
			y1, y2 := f[1]+nodeH/2, t[1]+nodeH/2
			a.D = fmt.Sprintf("M%d %d C%d %d %d %d %d %d", x, y1, x-50, y1, x-50, y2, x, y2)
			a.LX, a.LY = x-30, (y1+y2)/2
		default: // back: an arc above, from the top of one to the top of the other
			lift := arcRoom - 10 - (i%3)*10
			x1, y1 := f[0]+nodeW/2+12, f[1]
			x2, y2 := t[0]+nodeW/2-12, t[1]
			top := min(y1, y2) - lift - (y1+y2-2*min(y1, y2))/4
			a.D = fmt.Sprintf("M%d %d C%d %d %d %d %d %d", x1, y1, x1, top, x2, top, x2, y2)
			a.LX, a.LY, a.Back = (x1+x2)/2, top+(max(y1, y2)-top)/4-2, true
		}
		d.Arrows = append(d.Arrows, a)
	}
	return d
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
