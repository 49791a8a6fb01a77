package server

import (
	"testing"

	"github.com/taskmodel/taskmodel/backends"
)

// FuzzParseLease: parseLease never panics, refuses with a 400 naming the
// lease, and what it accepts is exactly what leaseString writes.
func FuzzParseLease(f *testing.F) {
	f.Add(leaseString("training", backends.Lease{Owner: "abcdefghijklmnop:host-1", Attempt: 1}))
	f.Add("v1.training.1.")
	f.Add("v1.x.01.YQ")
	f.Add("v1..1.YQ")
	f.Add("v2.training.1.YQ")
	f.Fuzz(func(t *testing.T, s string) {
		l, err := parseLease(s)
		if err != nil {
			if p, ok := err.(*Problem); !ok || p.Status != 400 || p.Errors[0].Field != "lease" {
				t.Fatalf("parseLease(%q): %v", s, err)
			}
			return
		}
		if got := leaseString(l.model, l.lease); got != s {
			t.Fatalf("parseLease(%q) = %+v, written back as %q", s, l, got)
		}
	})
}
