package postgres

import (
	"testing"

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
