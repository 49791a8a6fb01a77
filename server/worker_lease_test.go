package server_test

import (
	"strings"
	"testing"
)

// TestLeaseNamesItsTask: a worker that holds two tasks of one model at the
// same attempt cannot end one with the other's lease (both leases have the
// same owner and attempt in the database; the lease string names its
// task), and each task's own lease still works. A lease string of a server
// before the task id was in it is still taken, so a worker holding one
// across an upgrade can end its task.
func TestLeaseNamesItsTask(t *testing.T) {
	for _, b := range backendNames {
		t.Run(b, func(t *testing.T) {
			e := newEnv(t, b, envOptions{})
			w := e.workerToken("w1", "training")
			a, c := e.createOf("training", ""), e.createOf("training", "")
			leases := map[string]string{}
			for _, cl := range e.claim(w, `{"limit":2}`) {
				leases[cl.ID] = cl.Lease
			}
			if len(leases) != 2 {
				t.Fatalf("claimed %v", leases)
			}
			for id, l := range leases {
				if !strings.HasPrefix(l, "v2.training."+id+".1.") {
					t.Errorf("lease of %s: %q, want it to name the task", id, l)
				}
			}

			r := e.do("POST", "/worker/tasks/"+c+"/complete", w, leaseBody(leases[a], ""))
			p := checkProblem(t, r, 409, "lease-lost", "")
			if want := "the lease was claimed with task " + a + ", not " + c; !strings.HasPrefix(p["detail"].(string), want) {
				t.Errorf("detail %q, want it to start %q", p["detail"], want)
			}
			if s := e.must(200, "GET", "/tasks/"+c, "alice", "").json(t)["status"]; s != "RUNNING" {
				t.Fatalf("task %s is %v after a refused complete, want RUNNING", c, s)
			}
			if s := e.must(200, "POST", "/worker/tasks/"+c+"/complete", w, leaseBody(leases[c], "")).json(t)["status"]; s != "DONE" {
				t.Errorf("complete with its own lease: %v, want DONE", s)
			}

			// v1.<model>.<attempt>.<owner>: the same lease without the task.
			v1 := "v1.training." + strings.SplitN(leases[a], ".", 4)[3]
			if s := e.must(200, "POST", "/worker/tasks/"+a+"/complete", w, leaseBody(v1, "")).json(t)["status"]; s != "DONE" {
				t.Errorf("complete with a lease before v2: %v, want DONE", s)
			}
		})
	}
}
