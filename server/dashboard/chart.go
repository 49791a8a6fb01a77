package dashboard

import (
	"fmt"
	"strings"
	"time"

	"github.com/taskmodel/taskmodel/server"
)

// The queue health chart of a model page: an SVG drawn on the server, a bar
// per interval of the window for the tasks that finished in it, and a line
// for the share of them that failed.

const (
	chartBarW   = 22
	chartGap    = 4
	chartH      = 120 // the plot's height
	chartLeft   = 44  // room for the count axis
	chartRight  = 44  // room for the rate axis
	chartTop    = 12
	chartBottom = 26 // room for the time labels
)

// chartBar is one interval.
type chartBar struct {
	X, Y, W, H       int
	Start, End       time.Time
	Finished, Failed int64
	// Rate is the failure rate in percent ("" when none finished).
	Rate string
	// Partial, Uncounted: see server.Bucket.
	Partial, Uncounted bool
}

// chartTick is a label of an axis.
type chartTick struct {
	X, Y int
	Text string
}

// chart is the SVG's content.
type chart struct {
	W, H        int
	Bars        []chartBar
	Line        string // the failure rate's polyline points
	Dots        []chartTick
	Ticks       []chartTick // time labels under the bars
	Max         int64       // the count axis's top
	MaxY, ZeroY int
	RightX      int
	Finished    int64
	Failed      int64
	Rate        string // over the window
}

func newChart(mv server.Moves) chart {
	n := len(mv.Buckets)
	c := chart{W: chartLeft + n*(chartBarW+chartGap) + chartRight, H: chartTop + chartH + chartBottom}
	c.MaxY, c.ZeroY, c.RightX = chartTop, chartTop+chartH, c.W-chartRight+6
	for _, b := range mv.Buckets {
		c.Max = max(c.Max, b.Finished)
		c.Finished += b.Finished
		c.Failed += b.Failed
	}
	top := max(c.Max, 1)
	var pts []string
	for i, b := range mv.Buckets {
		x := chartLeft + i*(chartBarW+chartGap) + chartGap/2
		h := int(b.Finished * chartH / top)
		bar := chartBar{X: x, W: chartBarW, H: h, Y: chartTop + chartH - h, Start: b.Start, End: b.End,
			Finished: b.Finished, Failed: b.Failed, Partial: b.Partial, Uncounted: b.Uncounted}
		if b.Finished > 0 {
			rate := float64(b.Failed) / float64(b.Finished)
			bar.Rate = fmt.Sprintf("%.0f%%", 100*rate)
			y := chartTop + chartH - int(rate*chartH)
			pts = append(pts, fmt.Sprintf("%d,%d", x+chartBarW/2, y))
			c.Dots = append(c.Dots, chartTick{X: x + chartBarW/2, Y: y, Text: bar.Rate})
		}
		c.Bars = append(c.Bars, bar)
		if i%6 == 0 {
			c.Ticks = append(c.Ticks, chartTick{X: x, Y: chartTop + chartH + 16, Text: tickLabel(b.Start, mv.To.Sub(mv.From))})
		}
	}
	c.Line = strings.Join(pts, " ")
	if c.Finished > 0 {
		c.Rate = fmt.Sprintf("%.1f%%", 100*float64(c.Failed)/float64(c.Finished))
	}
	return c
}

// tickLabel writes an interval's start as the window's span needs: the time
// of day within a day, the day and hour beyond.
func tickLabel(t time.Time, span time.Duration) string {
	if span > 24*time.Hour {
		return t.UTC().Format("Jan 2 15h")
	}
	return t.UTC().Format("15:04")
}
