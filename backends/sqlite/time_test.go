package sqlite_test

import (
	"testing"
	"time"

	"github.com/taskmodel/taskmodel/backends/sqlite"
)

func TestTimeScan(t *testing.T) {
	want := time.Date(2030, 1, 2, 3, 4, 5, 600_000_000, time.UTC)
	for _, c := range []struct {
		name    string
		v       any
		want    time.Time
		wantErr string
	}{
		{"a time", want, want, ""},
		{"as the driver writes it", "2030-01-02 03:04:05.6 +0000 UTC", want, ""},
		{"in another zone", "2030-01-02 05:04:05.6 +0200 EET", want, ""},
		{"with a monotonic reading", "2030-01-02 03:04:05.6 +0000 UTC m=+0.000012", want, ""},
		{"with an offset", "2030-01-02 03:04:05.6+00:00", want, ""},
		{"RFC 3339", "2030-01-02T03:04:05.6Z", want, ""},
		{"SQLite's own", "2030-01-02 03:04:05.6", want, ""},
		{"bytes", []byte("2030-01-02 03:04:05.6+00:00"), want, ""},
		{"the zero time", "0001-01-01 00:00:00 +0000 UTC", time.Time{}, ""},
		{"other text", "soon", time.Time{}, `sqlite: a time column holds "soon", which is in none of SQLite's time formats`},
		{"a number", int64(7), time.Time{}, "sqlite: a time column holds 7, neither a time nor text"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var got sqlite.Time
			err := got.Scan(c.v)
			if c.wantErr != "" {
				if err == nil || err.Error() != c.wantErr {
					t.Fatalf("Scan(%v) = %v, want %s", c.v, err, c.wantErr)
				}
				return
			}
			if err != nil || !time.Time(got).Equal(c.want) {
				t.Fatalf("Scan(%v) = %v, %v; want %v", c.v, time.Time(got), err, c.want)
			}
		})
	}
}
