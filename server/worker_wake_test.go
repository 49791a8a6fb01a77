package server_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/taskmodel/taskmodel/gen/synthesis"
	"github.com/taskmodel/taskmodel/sdk/engine"
	"github.com/taskmodel/taskmodel/server"
)

// claimCtx sends a claim as worker under ctx and returns its tasks, or the
// error that ended it (ctx's, when the client gave up first).
func (e *env) claimCtx(ctx context.Context, worker, body string) ([]claimed, error) {
	req, err := http.NewRequestWithContext(ctx, "POST", e.url+"/worker/claim", strings.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+e.tokens[worker])
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, err
	}
	var out struct {
		Tasks []claimed `json:"tasks"`
	}
	if res.StatusCode != http.StatusOK || json.Unmarshal(data, &out) != nil {
		e.t.Errorf("claim: %d %s", res.StatusCode, data)
	}
	return out.Tasks, nil
}

// awaitWaker waits until cond holds of the shared waker of the synthesis
// model's waiting claims (how many wait, how many times it started, how
// many idle signals it had). The deadline is the test's patience.
func (e *env) awaitWaker(what string, cond func(waiting, starts, idles int) bool) {
	e.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		w, s, i := server.ClaimWakerStats(e.srv, synthesis.ModelName)
		if cond(w, s, i) {
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("%s: waiting %d, started %d, idle signals %d", what, w, s, i)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// createElsewhere creates a synthesis task of alice's through another
// process's engine and returns its id.
func createElsewhere(t *testing.T, other otherProcess) string {
	t.Helper()
	x := synthesis.NewSynthesis()
	alice := "alice"
	x.UserID = &alice
	got, err := other.synthesis.Create(context.Background(), x, engine.Meta{Actor: "other"})
	if err != nil {
		t.Fatal(err)
	}
	return got.ID.String()
}

// TestWorkerClaimWokenAcrossProcesses: a claim waiting on a server whose
// ClaimPoll is an hour returns the task another process (an engine over
// its own connections to the database) creates: the model's driver wakes
// it. Without the wake-up the claim would answer at its wait_seconds (30
// s), after the client's patience (20 s) ran out.
func TestWorkerClaimWokenAcrossProcesses(t *testing.T) {
	for _, b := range sqlBackends {
		t.Run(b, func(t *testing.T) {
			e := newEnv(t, b, envOptions{claimPoll: time.Hour})
			other := e.other(t)
			w := e.workerToken("w", "synthesis")
			for i := range 2 {
				before := 0
				if i > 0 {
					_, _, before = server.ClaimWakerStats(e.srv, synthesis.ModelName)
				}
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel()
				type answer struct {
					tasks []claimed
					err   error
				}
				res := make(chan answer, 1)
				go func() {
					got, err := e.claimCtx(ctx, w, `{"wait_seconds":30}`)
					res <- answer{got, err}
				}()
				// The claim looked, found nothing and waits.
				e.awaitWaker("the claim never waited", func(_, _, idles int) bool { return idles > before })
				id := createElsewhere(t, other)
				a := <-res
				if a.err != nil {
					t.Fatalf("claim %d: the task created by the other process did not wake it: %v", i+1, a.err)
				}
				if len(a.tasks) != 1 || a.tasks[0].ID != id {
					t.Fatalf("claim %d got %+v, want task %s", i+1, a.tasks, id)
				}
			}
		})
	}
}

// TestWorkerClaimsShareOneWaker: many claims waiting on one model share
// one waker — one start, and on PostgreSQL one registered listener
// session — which outlives them for the next claims, and which Close
// stops (the PostgreSQL listener unregisters); claims waiting after Close
// start none.
func TestWorkerClaimsShareOneWaker(t *testing.T) {
	const n = 8
	for _, b := range sqlBackends {
		t.Run(b, func(t *testing.T) {
			e := newEnv(t, b, envOptions{claimPoll: time.Hour})
			other := e.other(t)
			w := e.workerToken("w", "synthesis")
			listeners := func() int {
				t.Helper()
				if other.pg == nil {
					return 1
				}
				var k int
				err := other.pg.QueryRow(context.Background(), `SELECT count(*) FROM taskmodel_listeners
					WHERE channel = 'synthesis:wake' AND pid IN (SELECT pid FROM pg_stat_activity)`).Scan(&k)
				if err != nil {
					t.Fatal(err)
				}
				return k
			}

			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var wg sync.WaitGroup
			got := make(chan []claimed, n)
			for range n {
				wg.Go(func() {
					tasks, _ := e.claimCtx(ctx, w, `{"wait_seconds":30}`)
					got <- tasks
				})
			}
			e.awaitWaker("the claims never all waited", func(waiting, _, _ int) bool { return waiting == n })
			if _, starts, _ := server.ClaimWakerStats(e.srv, synthesis.ModelName); starts != 1 {
				t.Errorf("%d claims waiting started the waker %d times, want once", n, starts)
			}
			deadline := time.Now().Add(30 * time.Second)
			for listeners() != 1 && time.Now().Before(deadline) {
				time.Sleep(5 * time.Millisecond)
			}
			if k := listeners(); k != 1 {
				t.Errorf("%d claims waiting: %d listener sessions registered, want 1", n, k)
			}
			id := createElsewhere(t, other)
			if tasks := <-got; len(tasks) != 1 || tasks[0].ID != id {
				t.Fatalf("the first claim to answer got %+v, want task %s", tasks, id)
			}
			cancel()
			wg.Wait()
			e.awaitWaker("the claims never all left", func(waiting, _, _ int) bool { return waiting == 0 })

			// The next claim finds the waker still listening.
			id = createElsewhere(t, other)
			if tasks := e.claim(w, `{"wait_seconds":1}`); len(tasks) != 1 || tasks[0].ID != id {
				t.Fatalf("claim got %+v, want task %s", tasks, id)
			}
			if _, starts, _ := server.ClaimWakerStats(e.srv, synthesis.ModelName); starts != 1 {
				t.Errorf("the waker was started %d times, want once", starts)
			}

			if err := e.srv.Close(); err != nil {
				t.Fatal(err)
			}
			if other.pg != nil {
				if k := listeners(); k != 0 {
					t.Errorf("after Close, %d listener sessions registered, want 0", k)
				}
			}
			if tasks := e.claim(w, `{"wait_seconds":1}`); len(tasks) != 0 {
				t.Fatalf("claimed %+v from an empty queue", tasks)
			}
			if _, starts, _ := server.ClaimWakerStats(e.srv, synthesis.ModelName); starts != 1 {
				t.Errorf("a claim waiting after Close started the waker (%d starts, want 1)", starts)
			}
		})
	}
}

// TestWorkerClaimWarmsWhileWaiting: while a claim waits, the model's claims
// are warmed, with success, once a second on PostgreSQL (its driver renews their statement
// and plan every postgres.ReplanEvery: backends.ClaimWarmer), so the claim
// after a wake-up does not prepare them; not once a claim stopped waiting,
// and never on SQLite, whose claims do not go cold. The waiting claim still
// gets the task another process creates.
func TestWorkerClaimWarmsWhileWaiting(t *testing.T) {
	for _, b := range []string{"sqlite", "postgres"} {
		t.Run(b, func(t *testing.T) {
			e := newEnv(t, b, envOptions{claimPoll: time.Hour})
			other := e.other(t)
			w := e.workerToken("w", "synthesis")
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			res := make(chan []claimed, 1)
			go func() {
				got, err := e.claimCtx(ctx, w, `{"wait_seconds":30}`)
				if err != nil {
					t.Error(err)
				}
				res <- got
			}()
			e.awaitWaker("the claim never waited", func(_, _, idles int) bool { return idles > 0 })
			if b == "postgres" {
				// Two successful warmings: a second apart. The deadline
				// is the test's patience.
				deadline := time.Now().Add(15 * time.Second)
				for server.ClaimWarms(e.srv, synthesis.ModelName) < 2 {
					if time.Now().After(deadline) {
						t.Fatalf("%d successful warmings in 15 s of waiting, want one a second", server.ClaimWarms(e.srv, synthesis.ModelName))
					}
					time.Sleep(10 * time.Millisecond)
				}
			} else {
				time.Sleep(2500 * time.Millisecond)
				if warms := server.ClaimWarms(e.srv, synthesis.ModelName); warms != 0 {
					t.Errorf("%d warmings on SQLite, want none", warms)
				}
			}
			id := createElsewhere(t, other)
			if got := <-res; len(got) != 1 || got[0].ID != id {
				t.Fatalf("the waiting claim got %+v, want %s", got, id)
			}
			after := server.ClaimWarms(e.srv, synthesis.ModelName)
			time.Sleep(1500 * time.Millisecond) // no claim waits: the waker lingers, unwarmed
			if n := server.ClaimWarms(e.srv, synthesis.ModelName) - after; n != 0 {
				t.Errorf("%d warmings while no claim waited, want none", n)
			}
		})
	}
}
