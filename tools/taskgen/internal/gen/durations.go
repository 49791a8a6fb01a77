package gen

import (
	"fmt"
	"time"
)

// durationText writes a duration as a spec writes one, without the zero
// parts time.Duration's String keeps: 1h, 15m, 2h30m, 1m30s (String writes
// 1h0m0s, 15m0s, 2h30m0s). A duration of no whole seconds is written as
// String writes it (500ms, 1.5s). Every duration a generated document or a
// review report shows goes through it.
func durationText(d time.Duration) string {
	if d <= 0 || d%time.Second != 0 {
		return d.String()
	}
	s := ""
	for _, u := range []struct {
		unit time.Duration
		name string
	}{{time.Hour, "h"}, {time.Minute, "m"}, {time.Second, "s"}} {
		if n := d / u.unit; n > 0 {
			s += fmt.Sprintf("%d%s", n, u.name)
			d -= n * u.unit
		}
	}
	return s
}
