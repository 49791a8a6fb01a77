package gen

import (
	"testing"
	"time"
)

// TestDurationText: durations as a spec writes them, every one parsing
// back to itself.
func TestDurationText(t *testing.T) {
	for _, c := range []struct {
		d    time.Duration
		want string
	}{
		{time.Hour, "1h"},
		{15 * time.Minute, "15m"},
		{150 * time.Minute, "2h30m"},
		{90 * time.Second, "1m30s"},
		{36 * time.Hour, "36h"},
		{time.Hour + time.Second, "1h1s"},
		{45 * time.Second, "45s"},
		{500 * time.Millisecond, "500ms"},
		{1500 * time.Millisecond, "1.5s"},
		{0, "0s"},
	} {
		got := durationText(c.d)
		if got != c.want {
			t.Errorf("durationText(%v) = %q, want %q", c.d, got, c.want)
		}
		if back, err := time.ParseDuration(got); err != nil || back != c.d {
			t.Errorf("%q parses back to %v (%v), want %v", got, back, err, c.d)
		}
	}
}
