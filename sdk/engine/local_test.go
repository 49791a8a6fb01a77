package engine_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/taskmodel/taskmodel/backends"
	"github.com/taskmodel/taskmodel/backends/memory"
	"github.com/taskmodel/taskmodel/gen/analysis"
	"github.com/taskmodel/taskmodel/sdk/engine"
	"github.com/taskmodel/taskmodel/sdk/internal/sdktest"
)

// fakeSource is a ChangeSource that sends the notices the test gives it
// and counts its Listen calls.
type fakeSource struct {
	notices chan backends.Notice
	mu      sync.Mutex
	listens int // Listen calls
	running int // Listen calls not returned yet
}

func (f *fakeSource) Listen(ctx context.Context, fn func(backends.Notice)) error {
	f.mu.Lock()
	f.listens++
	f.running++
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		f.running--
		f.mu.Unlock()
	}()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case n := <-f.notices:
			fn(n)
		}
	}
}

func (f *fakeSource) counts() (listens, running int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.listens, f.running
}

// TestSubscribeLocal: a local subscription sees every change its engine
// makes, none of the change source's, and neither starts nor keeps the
// source listening; a Subscribe subscription sees both and keeps it.
func TestSubscribeLocal(t *testing.T) {
	tests := []struct {
		name  string
		local bool
		want  []string // what the subscription sees of v1 (local), v2 (remote) and v3 (local)
	}{
		{"SubscribeLocal", true, []string{"v1 →CREATED ", "v3 UPLOADING→QUEUED verify_uploads"}},
		{"Subscribe", false, []string{"v1 →CREATED ", "v2 CREATED→UPLOADING ", "v3 UPLOADING→QUEUED verify_uploads"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			d := memory.New[analysis.Task]()
			src := &fakeSource{notices: make(chan backends.Notice)}
			other := engine.New[analysis.Task, analysis.Event](d) // another process
			e := engine.New[analysis.Task, analysis.Event](d, engine.WithChanges(src))
			var sub *engine.Subscription[analysis.Task]
			if tt.local {
				sub = e.SubscribeLocal(ctx, uuid.Nil)
			} else {
				sub = e.Subscribe(ctx, uuid.Nil)
			}
			defer sub.Close()
			var got []string
			next := func() {
				t.Helper()
				select {
				case ch := <-sub.C:
					got = append(got, fmt.Sprintf("v%d %s→%s %s", ch.Key.Version, ch.From, ch.Key.Status, ch.Event))
				case <-ctx.Done():
					t.Fatalf("no change after %q", got)
				}
			}
			notify := func(x *analysis.Task, from string) {
				t.Helper()
				select {
				case src.notices <- backends.Notice{ID: x.ID, Version: x.Version, Status: string(x.Status), From: from}:
				case <-ctx.Done():
					t.Fatal("the change source is not listening")
				}
			}

			x, err := e.Create(ctx, sdktest.NewTask(), engine.Meta{})
			if err != nil {
				t.Fatal(err)
			}
			next()
			// Another subscriber starts the source; another process's
			// change comes through it.
			probe := e.Subscribe(ctx, uuid.Nil)
			if _, err := other.FireFrom(ctx, x, analysis.EventRequestUploadURLs, nil, engine.Meta{}); err != nil {
				t.Fatal(err)
			}
			y, err := e.Get(ctx, x.ID)
			if err != nil {
				t.Fatal(err)
			}
			notify(y, "CREATED")
			select {
			case ch := <-probe.C:
				if ch.Key.Version != 2 {
					t.Fatalf("probe: v%d, want the remote v2", ch.Key.Version)
				}
			case <-ctx.Done():
				t.Fatal("probe: no remote change")
			}
			if !tt.local {
				next()
			}
			if _, err := e.FireFrom(ctx, y, analysis.EventVerifyUploads, nil, engine.Meta{}); err != nil {
				t.Fatal(err)
			}
			next()
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("changes %q, want %q", got, tt.want)
			}

			probe.Close()
			if tt.local {
				// The source stops with its last follower: the local
				// subscription does not count.
				waitFor(ctx, t, "the change source to stop", func() bool { _, running := src.counts(); return running == 0 })
				if listens, _ := src.counts(); listens != 1 {
					t.Errorf("Listen called %d times, want once (for the probe)", listens)
				}
				return
			}
			// The subscription keeps the source: a later remote change
			// reaches it.
			z, err := other.Fire(ctx, x.ID, analysis.EventStart, nil, engine.Meta{})
			if err != nil {
				t.Fatal(err)
			}
			notify(z, "QUEUED")
			next()
			if g, w := got[len(got)-1], "v4 QUEUED→PROCESSING "; g != w {
				t.Errorf("after the probe closed: %q, want %q", g, w)
			}
		})
	}
}
