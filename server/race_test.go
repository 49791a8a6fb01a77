package server_test

import "testing"

// TestConcurrentProcessAnswersTransition: of requests that process one task
// at once, one queues it and every other gets the 409 a later request gets
// (transition, with the current status), whatever the database: not a
// conflict that asks for a retry, which would only get the same 409.
func TestConcurrentProcessAnswersTransition(t *testing.T) {
	for _, b := range sqlBackends {
		t.Run(b, func(t *testing.T) {
			e := newEnv(t, b, envOptions{})
			for range 3 {
				id := e.create("alice")
				up := e.uploadURLs("alice", id)
				e.put(up["primary"].(map[string]any), "text/csv", "a\n1\n")
				const n = 8
				answers := make(chan response, n)
				start := make(chan struct{})
				for range n {
					go func() {
						<-start
						answers <- e.do("POST", "/tasks/"+id+"/process", "alice", "")
					}()
				}
				close(start)
				ok := 0
				for range n {
					r := <-answers
					if r.status == 200 {
						ok++
						continue
					}
					p := checkProblem(t, r, 409, "transition", "")
					if p["current_status"] != "QUEUED" {
						t.Errorf("current_status %v, want QUEUED", p["current_status"])
					}
				}
				if ok != 1 {
					t.Errorf("%d requests processed the task, want 1", ok)
				}
			}
		})
	}
}
