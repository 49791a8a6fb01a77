package dashboard_test

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestTimeoutsNear: the model page lists, under each timeout, the tasks of
// its status that entered it first, with when the timeout moves them, as
// the user may see them: alice her own, bob none of hers, an admin all.
func TestTimeoutsNear(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres", "mysql"} {
		t.Run(backend, func(t *testing.T) {
			e := newEnv(t, envOptions{backend: backend, agentTime: time.Minute})
			a1 := e.analysis("alice", "a")
			a2 := e.analysis("alice", "a")
			b1 := e.analysis("bob", "a")
			alice, bob, admin := client(t), client(t), client(t)
			signIn(t, e, alice, "alice")
			signIn(t, e, bob, "bob")
			signIn(t, e, admin, "admin")
			created := regexp.MustCompile(`(?s)<li data-status="CREATED">(.*?)</li>\s*(<li data-status=|</ul>\s*</section>)`)
			ids := regexp.MustCompile(`<li data-id="([^"]+)">`)
			for _, tc := range []struct {
				name string
				c    *http.Client
				want []string
			}{
				{"alice", alice, []string{a1, a2}},
				{"bob", bob, []string{b1}},
				{"admin", admin, []string{a1, a2, b1}},
			} {
				p := get(t, tc.c, e.url+"/ui/models/analysis")
				if p.status != 200 {
					t.Fatalf("%s: %d", tc.name, p.status)
				}
				m := created.FindStringSubmatch(p.body)
				if m == nil {
					t.Fatalf("%s: no CREATED timeout item\n%s", tc.name, excerpt(p.body))
				}
				var got []string
				for _, id := range ids.FindAllStringSubmatch(m[1], -1) {
					got = append(got, id[1])
				}
				if strings.Join(got, ",") != strings.Join(tc.want, ",") {
					t.Errorf("%s: tasks near CREATED's timeout %v, want %v (the first to enter it first)", tc.name, got, tc.want)
				}
				if !strings.Contains(m[1], "due <time") || !regexp.MustCompile(`\(in 1[0-4] min`).MatchString(m[1]) {
					t.Errorf("%s: no due time within 15 minutes: %s", tc.name, m[1])
				}
			}
			// A status with a timeout and no task says so.
			p := get(t, admin, e.url+"/ui/models/analysis")
			if !regexp.MustCompile(`(?s)<li data-status="PROCESSING">.*?No task waits in it\.`).MatchString(p.body) {
				t.Errorf("PROCESSING's timeout does not say that no task waits")
			}
		})
	}
}
