package cli

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// str shows an optional value, "-" when it is nil.
func str[V any](p *V) string {
	if p == nil {
		return "-"
	}
	return fmt.Sprint(*p)
}

// resources shows a run's last memory (MB) and CPU (%) sample to a tenth,
// as people read them ("memory 48.0 MB, cpu 6.1%"); --json keeps the
// stored values. A value not sampled is "-".
func resources(memoryMB, cpuPercent *float64, format string) string {
	tenth := func(p *float64) string {
		if p == nil {
			return "-"
		}
		return strconv.FormatFloat(*p, 'f', 1, 64)
	}
	return fmt.Sprintf(format, tenth(memoryMB), tenth(cpuPercent))
}

func joinPath(dir, file *string) string {
	switch {
	case dir == nil && file == nil:
		return "-"
	case dir == nil:
		return *file
	case file == nil:
		return *dir
	}
	return filepath.Join(*dir, *file)
}

func clock(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return t.Local().Format("2006-01-02 15:04:05")
}

// duration shows a duration rounded for people: 45s, 3m12s, 2h05m.
func duration(d time.Duration) string {
	switch {
	case d < 0:
		return "-"
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Round(time.Second)/time.Second))
	case d < time.Hour:
		d = d.Round(time.Second)
		return fmt.Sprintf("%dm%02ds", int(d/time.Minute), int(d%time.Minute/time.Second))
	}
	d = d.Round(time.Minute)
	return fmt.Sprintf("%dh%02dm", int(d/time.Hour), int(d%time.Hour/time.Minute))
}

// elapsed is the time from start to end, or to now while it runs.
func elapsed(start, end *time.Time, now time.Time) string {
	if start == nil {
		return "-"
	}
	if end != nil {
		now = *end
	}
	return duration(now.Sub(*start))
}

// bar draws a progress bar of width cells for percent (0 to 100).
func bar(percent float64, width int) string {
	if width < 1 {
		return ""
	}
	filled := int(percent / 100 * float64(width))
	filled = max(0, min(width, filled))
	return "[" + strings.Repeat("#", filled) + strings.Repeat(".", width-filled) + "]"
}

// cellLine makes line breaks and tabs spaces: a table's cell is one line,
// and a tab would start another column.
var cellLine = strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ", "\t", " ")

// truncate makes s one line and cuts it to n runes, marking the cut.
func truncate(s string, n int) string {
	s = cellLine.Replace(s)
	r := []rune(s)
	if len(r) <= n || n < 1 {
		return s
	}
	return string(r[:n-1]) + "…"
}
