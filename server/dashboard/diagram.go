package dashboard

import (
	"fmt"
	"math"
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
// No arrow crosses a box other than its two: one that skips columns
// runs past the boxes between in a lane — along a row the columns between
// leave free, or in the room between two rows, above the top row or
// under the last — and the arrows that leave or meet the same side of a
// box do so at points spread along it, so that no two run together
// (routeArrows).
//
// Each label sits on its arrow, at the first point along it (from the
// middle outwards; then just beside the line) where its rectangle clears
// every box, every label placed before it and, if it can, the other
// arrows' lines. The gap between two columns
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

// curve is a cubic Bézier curve: a piece of an arrow's path.
type curve [4][2]float64

func (c curve) at(t float64) (x, y float64) {
	u := 1 - t
	a, b, cc, d := u*u*u, 3*u*u*t, 3*u*t*t, t*t*t
	return a*c[0][0] + b*c[1][0] + cc*c[2][0] + d*c[3][0], a*c[0][1] + b*c[1][1] + cc*c[2][1] + d*c[3][1]
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
	rs, t0s, below := routeArrows(arrows, col, row, pos, xs, gaps, maxRows, above)
	if below { // room for the lane under the last row
		d.H += rowGap
	}
	canvas := area{0, 0, d.W, d.H}
	// Points along each arrow, about 3px apart.
	lines := make([][][2]float64, len(rs))
	for j, r := range rs {
		for _, c := range r {
			n := int((math.Hypot(c[1][0]-c[0][0], c[1][1]-c[0][1])+math.Hypot(c[2][0]-c[1][0], c[2][1]-c[1][1])+math.Hypot(c[3][0]-c[2][0], c[3][1]-c[2][1]))/3) + 1
			for k := range n + 1 {
				x, y := c.at(float64(k) / float64(n))
				lines[j] = append(lines[j], [2]float64{x, y})
			}
		}
	}
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
		c, t0 := rs[i], t0s[i]
		a.Back = col[a.To] < col[a.From] || a.From == a.To
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
		// clear: free, and off the other arrows' lines, so that a label
		// is not read as another arrow's.
		clear := func(r area) bool {
			if !free(r) {
				return false
			}
			for j, ps := range lines {
				if j == i {
					continue
				}
				for _, p := range ps {
					if float64(r.x0-1) < p[0] && p[0] < float64(r.x1+1) && float64(r.y0-1) < p[1] && p[1] < float64(r.y1+1) {
						return false
					}
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
		for _, ok := range []func(area) bool{clear, free} {
			for _, n := range [][2]float64{{0, 0}, {0, -h / 2}, {0, h / 2}, {-half, 0}, {half, 0}, {0, -h}, {0, h}} {
				for _, t := range ts {
					lx, ly, r := place(t, n[0], n[1])
					if ok(r) {
						a.LX, a.LY, placed = lx, ly, true
						labels = append(labels, r)
						break
					}
				}
				if placed {
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

// route is an arrow's path: cubic Bézier curves end to end, each taking
// an equal share of t.
type route []curve

func (r route) at(t float64) (x, y float64) {
	n := float64(len(r))
	k := min(int(t*n), len(r)-1)
	return r[k].at(t*n - float64(k))
}

func (r route) path() string {
	var b strings.Builder
	fmt.Fprintf(&b, "M%.0f %.0f", r[0][0][0], r[0][0][1])
	level := false // the last piece was a level line
	for _, c := range r {
		if c[0][1] == c[1][1] && c[1][1] == c[2][1] && c[2][1] == c[3][1] {
			if level { // one line on from the last
				s := b.String()
				b.Reset()
				b.WriteString(s[:strings.LastIndex(s, " L")])
			}
			fmt.Fprintf(&b, " L%.0f %.0f", c[3][0], c[3][1])
			level = true
			continue
		}
		level = false
		fmt.Fprintf(&b, " C%.0f %.0f %.0f %.0f %.0f %.0f", c[1][0], c[1][1], c[2][0], c[2][1], c[3][0], c[3][1])
	}
	return b.String()
}

// crossX is the first t at which r reaches x, going right (or left).
func (r route) crossX(x float64, right bool) float64 {
	for k := 0; k <= 1000; k++ {
		t := float64(k) / 1000
		if px, _ := r.at(t); right && px >= x || !right && px <= x {
			return t
		}
	}
	return 0.5
}

// swing is a curve from p to q that leaves and meets them level, turning
// halfway across.
func swing(p, q [2]float64) curve {
	m := (p[0] + q[0]) / 2
	return curve{p, {m, p[1]}, {m, q[1]}, q}
}

// lane is the level run of an arrow over columns: along its target's row
// (0), its source's row (1), or a channel between rows (2; channel r is
// above row r, channel maxRows below the last).
type lane struct {
	kind, ch int
	y        int // the run's height (for a row, the row's middle)
}

// routeArrows draws the arrows between the boxes at pos. An arrow to the
// next column swings across the gap between; one over columns swings into
// a lane in the first gap — its target's row or its source's when the
// columns between leave that row free, else the nearest channel between
// rows — runs along it past the boxes between, and swings out in the last
// gap; one back between statuses of the top row arcs over the boxes, one
// back from or to a lower row runs right to left the way one forward does;
// one within a column bows out to the left; a loop sits on top of its
// status. Where several arrows leave or meet the same side of a box, they
// take points spread along it in the order of where they go, so that no
// two run together. t0 is where each label would best go along its
// arrow; below says whether an arrow runs under the last row.
func routeArrows(arrows []arrow, col, row map[string]int, pos map[string][2]int, xs, gaps []int, maxRows, above int) (rs []route, t0 []float64, below bool) {
	top := func(r int) int { return margin + above + r*(nodeH+rowGap) }
	mid := func(s string) int { return pos[s][1] + nodeH/2 }
	taken := map[[2]int]bool{}
	for s, c := range col {
		taken[[2]int{c, row[s]}] = true
	}
	// freeRow: no box in row r strictly between columns a and b.
	freeRow := func(r, a, b int) bool {
		for c := min(a, b) + 1; c < max(a, b); c++ {
			if taken[[2]int{c, r}] {
				return false
			}
		}
		return true
	}
	channelY := func(ch int) int {
		if ch == 0 {
			return top(0) - 14
		}
		return top(ch) - rowGap/2
	}
	type shape int
	const (
		loop     shape = iota
		next           // forward to the next column
		over           // forward over columns
		arc            // back along the top row
		backNext       // back to the previous column, from or to a lower row
		backOver       // back over columns, from or to a lower row
		bow            // within a column
	)
	shapes := make([]shape, len(arrows))
	lanes := make([]lane, len(arrows))
	for i, a := range arrows {
		cf, ct := col[a.From], col[a.To]
		switch {
		case a.From == a.To:
			shapes[i] = loop
		case ct == cf+1:
			shapes[i] = next
		case ct > cf:
			shapes[i] = over
		case ct == cf:
			shapes[i] = bow
		case row[a.From] == 0 && row[a.To] == 0:
			shapes[i] = arc
		case ct == cf-1:
			shapes[i] = backNext
		default:
			shapes[i] = backOver
		}
		if shapes[i] != over && shapes[i] != backOver {
			continue
		}
		// The lane that takes the least climbing, then the one nearest
		// the target, a row before a channel, the higher.
		y1, y2 := mid(a.From), mid(a.To)
		var cands []lane
		if freeRow(row[a.To], cf, ct) {
			cands = append(cands, lane{0, 0, y2})
		}
		if freeRow(row[a.From], cf, ct) {
			cands = append(cands, lane{1, 0, y1})
		}
		for ch := 0; ch <= maxRows; ch++ {
			cands = append(cands, lane{2, ch, channelY(ch)})
		}
		abs := func(v int) int { return max(v, -v) }
		lanes[i] = slices.MinFunc(cands, func(p, q lane) int {
			if c := (abs(y1-p.y) + abs(p.y-y2)) - (abs(y1-q.y) + abs(q.y-y2)); c != 0 {
				return c
			}
			if c := abs(p.y-y2) - abs(q.y-y2); c != 0 {
				return c
			}
			if p.kind != q.kind {
				return p.kind - q.kind
			}
			return p.y - q.y
		})
		if lanes[i].kind == 2 && lanes[i].ch == maxRows {
			below = true
		}
	}
	// The arrows in a channel, 8px apart, in the order of their targets'
	// rows and then their sources'.
	byChannel := map[int][]int{}
	for i := range arrows {
		if (shapes[i] == over || shapes[i] == backOver) && lanes[i].kind == 2 {
			byChannel[lanes[i].ch] = append(byChannel[lanes[i].ch], i)
		}
	}
	for _, is := range byChannel {
		slices.SortStableFunc(is, func(i, j int) int {
			if c := mid(arrows[i].To) - mid(arrows[j].To); c != 0 {
				return c
			}
			return mid(arrows[i].From) - mid(arrows[j].From)
		})
		for k, i := range is {
			lanes[i].y += (2*k - (len(is) - 1)) * 4
		}
	}

	// The points on the sides of the boxes. An end of an arrow on the left
	// or right side of a box is keyed by the height it heads for (its lane,
	// or the other box's middle), then by where the other end is, so that
	// the arrows that join a run later lie on the side they come from.
	type end struct {
		arrow, side int // side: 0 left, 1 right, 2 top
		out         bool
		key, group  int
		far         int // columns to the other end
	}
	var ends []end
	attach := func(i, side int, out bool) {
		a := arrows[i]
		me, other := a.To, a.From
		if out {
			me, other = a.From, a.To
		}
		key := mid(other)
		if s := shapes[i]; s == over || s == backOver {
			key = lanes[i].y
		}
		group := 0
		if o := mid(other); o < key {
			group = -1
		} else if o > key {
			group = 1
		}
		far := max(col[me]-col[other], col[other]-col[me])
		if side == 2 {
			key, group = 0, 0
		}
		ends = append(ends, end{i, side, out, key, group, far})
	}
	for i := range arrows {
		switch shapes[i] {
		case next, over:
			attach(i, 1, true)
			attach(i, 0, false)
		case bow:
			attach(i, 0, true)
			attach(i, 0, false)
		case backNext, backOver:
			attach(i, 0, true)
			attach(i, 1, false)
		case arc:
			attach(i, 2, true)
			attach(i, 2, false)
		}
	}
	type side struct {
		box  string
		side int
	}
	bySide := map[side][]int{}
	var sides []side
	for k, e := range ends {
		a := arrows[e.arrow]
		s := side{a.To, e.side}
		if e.out {
			s.box = a.From
		}
		if _, ok := bySide[s]; !ok {
			sides = append(sides, s)
		}
		bySide[s] = append(bySide[s], k)
	}
	// port[arrow][0] is where it leaves, [1] where it arrives: a height on
	// a left or right side, a left-right place on the top.
	port := make([][2]float64, len(arrows))
	for _, s := range sides {
		ks := bySide[s]
		if s.side == 2 { // the top: arcs in left of the middle, out right of it, the shortest innermost
			slices.SortStableFunc(ks, func(i, j int) int { return ends[i].far - ends[j].far })
			nin, nout := 0, 0
			for _, k := range ks {
				e := ends[k]
				x := pos[s.box][0] + nodeW/2
				if e.out {
					port[e.arrow][0] = float64(x + 12 + 10*nout)
					nout++
				} else {
					port[e.arrow][1] = float64(x - 12 - 10*nin)
					nin++
				}
			}
			continue
		}
		slices.SortStableFunc(ks, func(i, j int) int {
			p, q := ends[i], ends[j]
			if p.key != q.key {
				return p.key - q.key
			}
			if p.group != q.group {
				return p.group - q.group
			}
			if p.far != q.far { // above: the nearest on top; below: at the bottom
				if p.group < 0 {
					return p.far - q.far
				}
				return q.far - p.far
			}
			return p.arrow - q.arrow
		})
		// 10px apart, the one that heads nearest the middle on it, all
		// within lim of the middle.
		const lim = nodeH/2 - 9
		n := len(ks)
		sp := 10.0
		if n > 1 {
			sp = min(sp, float64(2*lim)/float64(n-1))
		}
		centre := 0
		m := mid(s.box)
		for k := range ks {
			if d, best := ends[ks[k]].key-m, ends[ks[centre]].key-m; max(d, -d) < max(best, -best) {
				centre = k
			}
		}
		base := min(max(-float64(centre)*sp, -lim), lim-float64(n-1)*sp)
		for k, e := range ks {
			y := float64(m) + math.Round(base+float64(k)*sp)
			if ends[e].out {
				port[ends[e].arrow][0] = y
			} else {
				port[ends[e].arrow][1] = y
			}
		}
	}

	// An arrow to the next column that is alone on one of its sides meets
	// it level with its other end, if it can: the straight way across.
	for i := range arrows {
		a := arrows[i]
		if shapes[i] != next {
			continue
		}
		lim := float64(nodeH/2 - 9)
		if len(bySide[side{a.To, 0}]) == 1 && math.Abs(port[i][0]-float64(mid(a.To))) <= lim {
			port[i][1] = port[i][0]
		} else if len(bySide[side{a.From, 1}]) == 1 && math.Abs(port[i][1]-float64(mid(a.From))) <= lim {
			port[i][0] = port[i][1]
		}
	}

	// The arcs by span, the shortest first.
	var arcs []int
	for i := range arrows {
		if shapes[i] == arc {
			arcs = append(arcs, i)
		}
	}
	span := func(i int) int { return pos[arrows[i].From][0] - pos[arrows[i].To][0] }
	slices.SortStableFunc(arcs, func(i, j int) int { return span(i) - span(j) })
	arcRank := map[int]int{}
	for k, i := range arcs {
		arcRank[i] = k
	}

	// The bows of a column, nested: the shortest innermost, each up to
	// 12px inside the next.
	var bowed []int
	for i := range arrows {
		if shapes[i] == bow {
			bowed = append(bowed, i)
		}
	}
	reach := func(i int) int {
		return max(row[arrows[i].To]-row[arrows[i].From], row[arrows[i].From]-row[arrows[i].To])
	}
	slices.SortStableFunc(bowed, func(i, j int) int { return reach(i) - reach(j) })
	bows, bowRank := map[int]int{}, map[int]int{}
	for _, i := range bowed {
		bowRank[i] = bows[col[arrows[i].From]]
		bows[col[arrows[i].From]]++
	}

	rs = make([]route, len(arrows))
	t0 = make([]float64, len(arrows))
	for i, a := range arrows {
		f, t := pos[a.From], pos[a.To]
		cf, ct := col[a.From], col[a.To]
		left := func(p [2]int) float64 { return float64(p[0]) }
		right := func(p [2]int) float64 { return float64(p[0] + nodeW) }
		t0[i] = 0.5
		switch shapes[i] {
		case loop:
			x, y := float64(f[0]+nodeW/2), float64(f[1])
			h := 30.0 // under the arcs, clear of the box above
			rs[i] = route{{{x - 20, y}, {x - 40, y - h}, {x + 40, y - h}, {x + 20, y}}}
		case next:
			rs[i] = route{swing([2]float64{right(f), port[i][0]}, [2]float64{left(t), port[i][1]})}
		case backNext:
			rs[i] = route{swing([2]float64{left(f), port[i][0]}, [2]float64{right(t), port[i][1]})}
		case over, backOver:
			y := float64(lanes[i].y)
			switch lanes[i].kind {
			case 0:
				y = port[i][1]
			case 1:
				y = port[i][0]
			}
			p1, p2 := [2]float64{right(f), port[i][0]}, [2]float64{left(t), port[i][1]}
			a1, a2 := [2]float64{float64(xs[cf+1]), y}, [2]float64{float64(xs[ct-1] + nodeW), y}
			if shapes[i] == backOver {
				p1, p2 = [2]float64{left(f), port[i][0]}, [2]float64{right(t), port[i][1]}
				a1, a2 = [2]float64{float64(xs[cf-1] + nodeW), y}, [2]float64{float64(xs[ct+1]), y}
			}
			third := (a2[0] - a1[0]) / 3
			rs[i] = route{swing(p1, a1), {a1, {a1[0] + third, y}, {a2[0] - third, y}, a2}, swing(a2, p2)}
			// The label in the gap next to its target.
			if shapes[i] == over {
				t0[i] = rs[i].crossX(float64(t[0])-float64(gaps[ct])/2, true)
			} else {
				t0[i] = rs[i].crossX(float64(t[0]+nodeW)+float64(gaps[ct+1])/2, false)
			}
		case bow:
			x := float64(f[0])
			y1, y2 := port[i][0], port[i][1]
			n := bows[col[a.From]]
			step := 12.0
			if n > 1 {
				step = min(step, float64(bowOut-12)/float64(n-1))
			}
			out := (bowOut - step*float64(n-1-bowRank[i])) * 4 / 3
			rs[i] = route{{{x, y1}, {x - out, y1}, {x - out, y2}, {x, y2}}}
		case arc:
			// Well over the lane above the top row (crossing it steeply), the
			// longer arcs higher.
			lift := float64(max(40, above-10-8*(len(arcs)-1-arcRank[i])))
			x1, y1 := port[i][0], float64(f[1])
			x2, y2 := port[i][1], float64(t[1])
			top := min(y1, y2) - lift - (max(y1, y2)-min(y1, y2))/4
			rs[i] = route{{{x1, y1}, {x1, top}, {x2, top}, {x2, y2}}}
		}
	}
	return rs, t0, below
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
