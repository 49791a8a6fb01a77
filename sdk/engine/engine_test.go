package engine_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/taskmodel/taskmodel/backends"
	"github.com/taskmodel/taskmodel/backends/backendtest"
	"github.com/taskmodel/taskmodel/gen/analysis"
	"github.com/taskmodel/taskmodel/sdk/engine"
	"github.com/taskmodel/taskmodel/sdk/internal/sdktest"
	"github.com/taskmodel/taskmodel/tasktype"
)

type Engine = engine.Engine[analysis.Task, analysis.Event, *analysis.Task]

func newEngine(driver backends.Driver[analysis.Task], clock *backendtest.Clock) *Engine {
	return engine.New[analysis.Task, analysis.Event](driver, engine.WithClock(clock.Now), engine.WithWorker(analysis.Worker), engine.WithPollInterval(10*time.Millisecond))
}

// forEach runs fn on every backend with a fresh engine.
func forEach(t *testing.T, fn func(t *testing.T, e *Engine, driver backends.Driver[analysis.Task], clock *backendtest.Clock)) {
	for _, b := range sdktest.All {
		t.Run(b.Name, func(t *testing.T) {
			d := b.Open(t)
			clock := backendtest.NewClock()
			fn(t, newEngine(d, clock), d, clock)
		})
	}
}

var ctx = context.Background()

func mustFire(t *testing.T, e *Engine, x *analysis.Task, evs ...analysis.Event) *analysis.Task {
	t.Helper()
	for _, ev := range evs {
		var err error
		if x, err = e.FireFrom(ctx, x, ev, nil, engine.Meta{Actor: "tester"}); err != nil {
			t.Fatalf("fire %s: %v", ev, err)
		}
	}
	return x
}

func TestLifecycle(t *testing.T) {
	forEach(t, func(t *testing.T, e *Engine, _ backends.Driver[analysis.Task], clock *backendtest.Clock) {
		x, err := e.Create(ctx, sdktest.NewTask(), engine.Meta{Actor: "alice", Message: "created from the web"})
		if err != nil {
			t.Fatal(err)
		}
		x = mustFire(t, e, x, analysis.EventRequestUploadURLs, analysis.EventVerifyUploads, analysis.EventStart)
		// fail requires error_code and error_message: the FieldError names the field.
		_, err = e.Fire(ctx, x.ID, analysis.EventFail, func(t *analysis.Task) {
			m := "agent crashed"
			t.ErrorMessage = &m
		}, engine.Meta{Actor: "worker-1"})
		var fe *tasktype.FieldError
		if !errors.As(err, &fe) || fe.Field != "error_code" || !errors.Is(err, tasktype.ErrValidation) {
			t.Fatalf("fail without error_code: %v", err)
		}
		clock.Advance(time.Second)
		x, err = e.Fire(ctx, x.ID, analysis.EventFail, func(t *analysis.Task) {
			c, m := analysis.ErrorCodeAgentError, "agent crashed"
			t.ErrorCode, t.ErrorMessage = &c, &m
		}, engine.Meta{Actor: "worker-1", Message: "score-risk exited 2", Attempt: 1})
		if err != nil {
			t.Fatal(err)
		}
		if x.Status != analysis.StatusFailed || x.FailedAt == nil || !x.FailedAt.Equal(clock.Now().Truncate(time.Microsecond)) {
			t.Errorf("after fail: %s failed_at %v", x.Status, x.FailedAt)
		}
		h, err := e.History(ctx, x.ID)
		if err != nil {
			t.Fatal(err)
		}
		first, last := h[0], h[len(h)-1]
		if len(h) != 5 || first.Actor != "alice" || first.Message != "created from the web" ||
			last.Actor != "worker-1" || last.Message != "score-risk exited 2" || last.Attempt != 1 || last.Event != "fail" || last.From != "PROCESSING" {
			t.Errorf("history = %+v", h)
		}
	})
}

func TestProgressMapping(t *testing.T) {
	forEach(t, func(t *testing.T, e *Engine, _ backends.Driver[analysis.Task], _ *backendtest.Clock) {
		x, err := e.Create(ctx, sdktest.NewTask(), engine.Meta{})
		if err != nil {
			t.Fatal(err)
		}
		steps := []struct {
			ev   analysis.Event
			want int64
		}{{analysis.EventRequestUploadURLs, 10}, {analysis.EventVerifyUploads, 15}, {analysis.EventStart, 15}}
		if x.Progress != 0 {
			t.Errorf("CREATED progress %d", x.Progress)
		}
		for _, s := range steps {
			x = mustFire(t, e, x, s.ev)
			if x.Progress != s.want {
				t.Errorf("after %s progress = %d, want %d", s.ev, x.Progress, s.want)
			}
		}
		// PROCESSING: 15 + 80 × done / total, with the typed detail.
		for _, tc := range []struct {
			done, total int64
			want        int64
		}{{0, 4, 15}, {1, 4, 35}, {2, 4, 55}, {4, 4, 95}} {
			x, err = e.Progress(ctx, x.ID, float64(tc.done)/float64(tc.total), func(t *analysis.Task) {
				agent := "score-risk"
				t.ProgressDetail = &analysis.ProgressDetail{CurrentStage: "agent_execution", CurrentAgent: &agent, AgentsTotal: tc.total, AgentsCompleted: tc.done}
			})
			if err != nil {
				t.Fatal(err)
			}
			got, err := e.Get(ctx, x.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.Progress != tc.want || got.ProgressDetail == nil || got.ProgressDetail.AgentsCompleted != tc.done || got.Status != analysis.StatusProcessing {
				t.Errorf("%d/%d: progress %d detail %+v, want %d", tc.done, tc.total, got.Progress, got.ProgressDetail, tc.want)
			}
		}
		for _, done := range []float64{-0.1, 1.5} {
			_, err := e.Progress(ctx, x.ID, done, nil)
			var fe *tasktype.FieldError
			if !errors.As(err, &fe) || fe.Field != "done" {
				t.Errorf("Progress(%v) error = %v, want a FieldError on done", done, err)
			}
		}
		// A report that changes nothing writes nothing: the percent stored.
		before, _ := e.Get(ctx, x.ID)
		if same, err := e.Progress(ctx, x.ID, 1, nil); err != nil || same.Version != before.Version || same.Progress != 95 {
			t.Errorf("a report of the percent stored: %v, %v; want version %d, 95", same, err, before.Version)
		}
		if after, _ := e.Get(ctx, x.ID); after.Version != before.Version {
			t.Errorf("a report that changes nothing wrote version %d over %d", after.Version, before.Version)
		}
		// A detail that breaks a limit is a validation error and writes nothing.
		_, err = e.Progress(ctx, x.ID, 0.5, func(t *analysis.Task) { t.ProgressDetail.AgentsTotal = -1 })
		if !errors.Is(err, tasktype.ErrValidation) || !strings.Contains(err.Error(), "agents_total") {
			t.Errorf("negative agents_total: %v", err)
		}
		if after, _ := e.Get(ctx, x.ID); after.Version != before.Version {
			t.Errorf("a rejected progress wrote version %d over %d", after.Version, before.Version)
		}
		x = mustFire(t, e, x, analysis.EventComplete)
		if x.Progress != 100 {
			t.Errorf("COMPLETED progress = %d", x.Progress)
		}
		// A finished task makes no progress: a late report, with a detail or
		// without, is a conflict and writes nothing.
		for _, detail := range []func(*analysis.Task){nil, func(t *analysis.Task) { t.ProgressDetail.AgentsCompleted = 1 }} {
			_, err = e.Progress(ctx, x.ID, 0.5, detail)
			if !errors.Is(err, tasktype.ErrConflict) || !strings.Contains(err.Error(), "is in COMPLETED, a terminal status") {
				t.Errorf("progress of a finished task: %v", err)
			}
			if after, _ := e.Get(ctx, x.ID); after.Version != x.Version || after.Progress != 100 {
				t.Errorf("progress of a finished task wrote version %d, progress %d", after.Version, after.Progress)
			}
		}
		// UPLOAD_FAILED maps no progress: without a detail it is an error.
		y, _ := e.Create(ctx, sdktest.NewTask(), engine.Meta{})
		y = mustFire(t, e, y, analysis.EventRequestUploadURLs)
		m := "Required files not found in storage"
		y, err = e.FireFrom(ctx, y, analysis.EventUploadFailed, func(t *analysis.Task) { t.ErrorMessage = &m }, engine.Meta{})
		if err != nil {
			t.Fatal(err)
		}
		var fe *tasktype.FieldError
		if _, err := e.Progress(ctx, y.ID, 0.5, nil); !errors.As(err, &fe) || fe.Field != "progress" || !strings.Contains(err.Error(), "UPLOAD_FAILED") {
			t.Errorf("progress in UPLOAD_FAILED: %v", err)
		}
	})
}

func TestCancel(t *testing.T) {
	forEach(t, func(t *testing.T, e *Engine, _ backends.Driver[analysis.Task], _ *backendtest.Clock) {
		x, _ := e.Create(ctx, sdktest.NewTask(), engine.Meta{})
		// The upload → process lifecycle: cancel only while PROCESSING.
		_, err := e.Cancel(ctx, x.ID, engine.Meta{Actor: "alice"})
		var te *analysis.TransitionError
		if !errors.As(err, &te) || te.From != analysis.StatusCreated || !strings.Contains(err.Error(), "allowed: request_upload_urls, expire") {
			t.Errorf("cancel in CREATED: %v", err)
		}
		x = mustFire(t, e, x, analysis.EventRequestUploadURLs, analysis.EventVerifyUploads, analysis.EventStart)
		x, err = e.Cancel(ctx, x.ID, engine.Meta{Actor: "alice", Message: "no longer needed"})
		if err != nil || x.Status != analysis.StatusCancelled || x.CancelledAt == nil {
			t.Fatalf("cancel in PROCESSING: %v, %v", x, err)
		}
		_, err = e.Cancel(ctx, x.ID, engine.Meta{})
		if !errors.Is(err, tasktype.ErrTransitionNotAllowed) || !strings.Contains(err.Error(), "status CANCELLED; it is terminal") {
			t.Errorf("cancel of a terminal task: %v", err)
		}
		if _, err := e.Cancel(ctx, uuid.New(), engine.Meta{}); !errors.Is(err, tasktype.ErrNotFound) {
			t.Errorf("cancel of an unknown task: %v", err)
		}
	})
}

func TestSubscribeAndWatch(t *testing.T) {
	forEach(t, func(t *testing.T, e *Engine, driver backends.Driver[analysis.Task], clock *backendtest.Clock) {
		all := e.Subscribe(ctx, uuid.Nil)
		defer all.Close()
		x, _ := e.Create(ctx, sdktest.NewTask(), engine.Meta{})
		one := e.Subscribe(ctx, x.ID)
		other, _ := e.Create(ctx, sdktest.NewTask(), engine.Meta{})
		x = mustFire(t, e, x, analysis.EventRequestUploadURLs)
		next := func(s *engine.Subscription[analysis.Task]) engine.Change[analysis.Task] {
			t.Helper()
			select {
			case ch := <-s.C:
				return ch
			case <-time.After(5 * time.Second):
				t.Fatal("no change arrived")
			}
			return engine.Change[analysis.Task]{}
		}
		for _, want := range []struct {
			id        uuid.UUID
			from, evt string
		}{{x.ID, "", ""}, {other.ID, "", ""}, {x.ID, "CREATED", "request_upload_urls"}} {
			ch := next(all)
			if ch.Key.ID != want.id || ch.From != want.from || ch.Event != want.evt {
				t.Errorf("all: change %+v, want %+v", ch, want)
			}
		}
		if ch := next(one); ch.Key.ID != x.ID || ch.Key.Status != "UPLOADING" {
			t.Errorf("one: change %+v", ch)
		}
		one.Close()
		if _, ok := <-one.C; ok {
			t.Error("a closed subscription's channel is open")
		}

		// Watch sees another engine's changes (another process, as far as
		// this engine knows) by polling, and ends after a terminal status.
		otherProcess := newEngine(driver, clock)
		w, err := e.Watch(ctx, x.ID)
		if err != nil {
			t.Fatal(err)
		}
		defer w.Close()
		if ch := next(w); ch.Key.Status != "UPLOADING" {
			t.Fatalf("watch starts with %+v", ch)
		}
		y := mustFire(t, otherProcess, x, analysis.EventVerifyUploads)
		if ch := next(w); ch.Key.Status != "QUEUED" || ch.Key.Version != y.Version || ch.From != "UPLOADING" {
			t.Errorf("watch saw %+v", ch.Key)
		}
		y = mustFire(t, e, y, analysis.EventStart, analysis.EventComplete)
		var last engine.Change[analysis.Task]
		for ch := range w.C {
			last = ch
		}
		if last.Key.Status != "COMPLETED" || w.Err() != nil {
			t.Errorf("watch ended at %+v, Err %v", last.Key, w.Err())
		}
		if _, err := e.Watch(ctx, uuid.New()); !errors.Is(err, tasktype.ErrNotFound) {
			t.Errorf("watch of an unknown task: %v", err)
		}
	})
}

// TestCreateManyAnnouncesEach: a bulk create's tasks each reach
// subscribers as a creation, in order, and a failed batch announces none.
func TestCreateManyAnnouncesEach(t *testing.T) {
	forEach(t, func(t *testing.T, e *Engine, driver backends.Driver[analysis.Task], clock *backendtest.Clock) {
		all := e.SubscribeLocal(ctx, uuid.Nil)
		defer all.Close()
		bad := sdktest.NewTask()
		bad.ToolID = ""
		if _, err := e.CreateMany(ctx, []*analysis.Task{sdktest.NewTask(), bad}, engine.Meta{}); !errors.Is(err, tasktype.ErrValidation) {
			t.Fatalf("CreateMany with an invalid task: %v", err)
		}
		xs, err := e.CreateMany(ctx, []*analysis.Task{sdktest.NewTask(), sdktest.NewTask(), sdktest.NewTask()}, engine.Meta{Actor: "bulk"})
		if err != nil {
			t.Fatal(err)
		}
		for i, x := range xs {
			select {
			case ch := <-all.C:
				if ch.Key.ID != x.ID || ch.From != "" || ch.Key.Status != string(analysis.StatusCreated) {
					t.Errorf("change %d: %+v, want the creation of %s", i, ch, x.ID)
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("change %d did not arrive", i)
			}
		}
	})
}

// TestMisuse: a nil task is an error naming it, and a poll interval of zero
// or less keeps the default instead of crashing Watch.
func TestMisuse(t *testing.T) {
	d := sdktest.All[0].Open(t)
	for _, poll := range []time.Duration{0, -time.Second} {
		e := engine.New[analysis.Task, analysis.Event](d, engine.WithWorker(analysis.Worker), engine.WithPollInterval(poll))
		x := analysis.NewTask()
		x.UserID, x.ToolID, x.Agents = "u", "t", []string{"a"}
		x, err := e.Create(ctx, x, engine.Meta{Actor: "tester"})
		if err != nil {
			t.Fatal(err)
		}
		w, err := e.Watch(ctx, x.ID)
		if err != nil {
			t.Fatalf("poll %v: Watch: %v", poll, err)
		}
		// Another engine (another process, as far as e knows) expires it:
		// e's Watch sees it by polling.
		other := engine.New[analysis.Task, analysis.Event](d, engine.WithWorker(analysis.Worker))
		if _, err := other.Fire(ctx, x.ID, analysis.EventExpire, nil, engine.Meta{Actor: "other"}); err != nil {
			t.Fatal(err)
		}
		timeout := time.After(10 * time.Second)
	watch:
		for {
			select {
			case ch := <-w.C: // the task as it is, then its changes
				if ch.Task.Status == analysis.StatusExpired {
					break watch
				}
			case <-timeout:
				t.Errorf("poll %v: Watch did not see the change", poll)
				break watch
			}
		}
		w.Close()
	}
	e := newEngine(d, backendtest.NewClock())
	calls := []struct {
		name string
		call func() error
	}{
		{"Create", func() error { _, err := e.Create(ctx, nil, engine.Meta{}); return err }},
		{"FireFrom", func() error { _, err := e.FireFrom(ctx, nil, analysis.EventCancel, nil, engine.Meta{}); return err }},
	}
	for _, c := range calls {
		if err := c.call(); err == nil || err.Error() != "task: must not be nil" {
			t.Errorf("%s(nil): %v, want task: must not be nil", c.name, err)
		}
	}
}

// failingGets wraps a driver: Get fails while fail says so.
type failingGets struct {
	backends.Driver[analysis.Task]
	fail  func() error
	calls atomic.Int64
}

func (d *failingGets) Get(ctx context.Context, id uuid.UUID) (*analysis.Task, error) {
	if d.calls.Add(1) > 1 { // the first is Watch's own read
		if err := d.fail(); err != nil {
			return nil, err
		}
	}
	return d.Driver.Get(ctx, id)
}

// TestWatchEnds: Watch's Err tells why its stream ended: a read that keeps
// failing ends it after WatchRetries polls with the error, a failure or two
// in a row are retried, and a deleted task ends it at once.
func TestWatchEnds(t *testing.T) {
	lost := errors.New("connection reset by peer")
	for _, tc := range []struct {
		name  string
		fails func(n int64) error // for the nth Get after the first
		want  error
		polls int64 // Gets after the first, at least, before the end
	}{
		{"keeps failing", func(int64) error { return lost }, lost, engine.WatchRetries},
		{"deleted", func(int64) error { return tasktype.ErrNotFound }, tasktype.ErrNotFound, 1},
		{"fails twice, then deleted", func(n int64) error {
			if n <= engine.WatchRetries-1 {
				return lost
			}
			return tasktype.ErrNotFound
		}, tasktype.ErrNotFound, engine.WatchRetries},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := &failingGets{Driver: sdktest.All[0].Open(t)}
			d.fail = func() error { return tc.fails(d.calls.Load() - 1) }
			e := newEngine(d, backendtest.NewClock())
			x, err := e.Create(ctx, sdktest.NewTask(), engine.Meta{})
			if err != nil {
				t.Fatal(err)
			}
			w, err := e.Watch(ctx, x.ID)
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			for range w.C {
			}
			if !errors.Is(w.Err(), tc.want) || d.calls.Load()-1 < tc.polls {
				t.Errorf("Err %v after %d reads, want %v after %d", w.Err(), d.calls.Load()-1, tc.want, tc.polls)
			}
		})
	}
}
