package backends

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestUndeclaredSearches: a search over every model that finds nothing is
// trusted for UndeclaredInterval; one that finds a task sends each listing
// to its own search, every time; any other error is returned and trusted
// for nothing.
func TestUndeclaredSearches(t *testing.T) {
	owner := "ana"
	all := ListQuery{Statuses: map[string][]string{"job": {"QUEUED"}, "run": {"DONE"}}}
	mine := ListQuery{Statuses: map[string][]string{"job": {"QUEUED"}}, Owner: &owner}
	found := &UndeclaredValueError{Table: "run", Column: "status", Value: "REVIEW", Allowed: []string{"DONE"}}
	broken := errors.New("connection refused")
	type step struct {
		after    time.Duration // since the start
		everyErr error         // the search over every model
		mineErr  error         // the listing's own search
		searches string        // the searches run: "all", "mine", in order
		want     error
	}
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{"none: trusted for the interval", []step{
			{0, nil, nil, "all", nil},
			{UndeclaredInterval / 2, found, found, "", nil}, // written meanwhile, not seen yet
			{UndeclaredInterval - time.Nanosecond, found, found, "", nil},
			{UndeclaredInterval, found, found, "all,mine", found},
		}},
		{"found elsewhere: every listing searches its own", []step{
			{0, found, nil, "all,mine", nil},
			{time.Millisecond, found, nil, "all,mine", nil},
			{2 * time.Millisecond, found, found, "all,mine", found},
			{3 * time.Millisecond, nil, nil, "all", nil},
			{4 * time.Millisecond, found, found, "", nil},
		}},
		{"another error: returned, not trusted", []step{
			{0, broken, nil, "all", broken},
			{time.Millisecond, nil, nil, "all", nil},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)
			var now time.Time
			u := &UndeclaredSearches{now: func() time.Time { return now }}
			for i, s := range tc.steps {
				now = start.Add(s.after)
				var ran []string
				err := u.Check(context.Background(), mine, all, func(_ context.Context, q ListQuery) error {
					if slices.Equal(q.Models(), all.Models()) && q.Owner == nil {
						ran = append(ran, "all")
						return s.everyErr
					}
					ran = append(ran, "mine")
					return s.mineErr
				})
				if got := strings.Join(ran, ","); got != s.searches {
					t.Errorf("step %d: searches %q, want %q", i, got, s.searches)
				}
				if !errors.Is(err, s.want) {
					t.Errorf("step %d: %v, want %v", i, err, s.want)
				}
			}
		})
	}
}
