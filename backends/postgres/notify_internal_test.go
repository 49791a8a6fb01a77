package postgres

import (
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/taskmodel/taskmodel/backends"
)

func TestParseNotice(t *testing.T) {
	id := uuid.MustParse("0190a5b2-7c1e-7a3b-9f00-0123456789ab")
	for _, tc := range []struct {
		payload string
		want    backends.Notice
		ok      bool
	}{
		{id.String() + " 1 CREATED ", backends.Notice{ID: id, Version: 1, Status: "CREATED"}, true},
		{id.String() + " 7 PROCESSING QUEUED", backends.Notice{ID: id, Version: 7, Status: "PROCESSING", From: "QUEUED"}, true},
		{id.String() + " 2 DONE", backends.Notice{ID: id, Version: 2, Status: "DONE"}, true},
		{"not-a-uuid 1 CREATED ", backends.Notice{}, false},
		{id.String() + " x CREATED ", backends.Notice{}, false},
		{id.String(), backends.Notice{}, false},
		{"", backends.Notice{}, false},
	} {
		got, ok := parseNotice(tc.payload)
		if ok != tc.ok || got != tc.want {
			t.Errorf("parseNotice(%q) = %+v, %v; want %+v, %v", tc.payload, got, ok, tc.want, tc.ok)
		}
	}
}

// TestListenStatePrunes: once the map of sent versions outgrows its bound,
// it forgets those sent before Lookback ahead of heard (no catch-up reads
// them again) and keeps the others.
func TestListenStatePrunes(t *testing.T) {
	const lookback = 5 * time.Second
	heard := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name     string
		age      time.Duration // how long before heard the old versions were sent
		wantKept bool
	}{
		{"sent within the lookback", lookback - time.Second, true},
		{"sent at its edge", lookback, true},
		{"sent before it", lookback + time.Second, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := listenState{heard: heard}
			old := backends.Notice{ID: uuid.New(), Version: 3}
			st.sent(old, heard.Add(-tc.age), lookback)
			for i := range 1024 { // grows the map past its first bound
				st.sent(backends.Notice{ID: uuid.New(), Version: int64(i + 1)}, heard, lookback)
			}
			if _, kept := st.seen[seenKey{old.ID, old.Version}]; kept != tc.wantKept {
				t.Errorf("kept %v, want %v", kept, tc.wantKept)
			}
			if len(st.seen) < 1024 {
				t.Errorf("%d versions kept, want the 1024 recent ones", len(st.seen))
			}
		})
	}
}
