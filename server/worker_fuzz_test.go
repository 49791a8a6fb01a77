package server

import (
	"encoding/base64"
	"strconv"
	"testing"

	"github.com/google/uuid"

	"github.com/taskmodel/taskmodel/backends"
)

// FuzzParseLease: parseLease never panics, refuses with a 400 naming the
// lease, and what it accepts is exactly what leaseString writes (or, for a
// lease of a server before v2, what it wrote: no task id).
func FuzzParseLease(f *testing.F) {
	f.Add(leaseString("training", uuid.MustParse("01a24fbf-4a3e-7c3c-ad5f-e4a4b64f4caf"), backends.Lease{Owner: "abcdefghijklmnop:host-1", Attempt: 1}))
	f.Add("v1.training.1.YWJjOmg")
	f.Add("v2.training.01a24fbf-4a3e-7c3c-ad5f-e4a4b64f4caf.1.")
	f.Add("v2.training.00000000-0000-0000-0000-000000000000.1.YQ")
	f.Add("v2.training.01A24FBF-4A3E-7C3C-AD5F-E4A4B64F4CAF.1.YQ")
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
		got := leaseString(l.model, l.task, l.lease)
		if l.task == uuid.Nil {
			got = leasePrefixV1 + l.model + "." + strconv.Itoa(l.lease.Attempt) + "." + base64.RawURLEncoding.EncodeToString([]byte(l.lease.Owner))
		}
		if got != s {
			t.Fatalf("parseLease(%q) = %+v, written back as %q", s, l, got)
		}
	})
}
