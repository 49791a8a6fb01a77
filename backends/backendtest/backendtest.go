// Package backendtest is the conformance suite every storage backend must
// pass: one exported entry point, Run, that each backend's tests call with a
// factory of fresh, isolated drivers. It exercises every Store operation,
// every error kind, timestamps, history, timeouts and races through the
// analysis model (the upload → process lifecycle), whose lifecycle, JSON fields and timeouts cover
// what generated drivers have to map. The clock is fake: nothing sleeps.
package backendtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/taskmodel/taskmodel/backends"
	"github.com/taskmodel/taskmodel/gen/analysis"
	"github.com/taskmodel/taskmodel/tasktype"
)

// Factory makes a fresh, empty driver for one test or benchmark; cleanup is
// the factory's business (t.Cleanup).
type Factory func(t testing.TB) backends.Driver[analysis.Task]

// Store is the store type the suite drives.
type Store = backends.Store[analysis.Task, analysis.Event, *analysis.Task]

// Clock is a fake clock that only moves when told.
type Clock struct{ ns atomic.Int64 }

// NewClock returns a clock set to a fixed instant.
func NewClock() *Clock {
	c := &Clock{}
	c.ns.Store(time.Date(2026, 1, 15, 10, 30, 0, 123456000, time.UTC).UnixNano())
	return c
}

// Now returns the clock's time.
func (c *Clock) Now() time.Time { return time.Unix(0, c.ns.Load()).UTC() }

// Advance moves the clock forward.
func (c *Clock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

type env struct {
	ctx   context.Context
	clock *Clock
	store *Store
}

func setup(t testing.TB, newDriver Factory) env {
	t.Helper()
	clock := NewClock()
	return env{ctx: context.Background(), clock: clock, store: backends.NewStore[analysis.Task, analysis.Event](newDriver(t), backends.WithClock(clock.Now))}
}

func newTask() *analysis.Task {
	x := analysis.NewTask()
	x.UserID, x.ToolID = "user-1", "profile-my-data"
	x.Agents = []string{"unified-profiler", "score-risk"}
	return x
}

func (e env) create(t *testing.T) *analysis.Task {
	t.Helper()
	x, err := e.store.Create(e.ctx, newTask(), backends.Meta{Actor: "test"})
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	return x
}

func (e env) fire(t *testing.T, x *analysis.Task, ev analysis.Event, mutate func(*analysis.Task)) *analysis.Task {
	t.Helper()
	next, err := e.store.FireFrom(e.ctx, x, ev, mutate, backends.Meta{Actor: "test", Message: string(ev)})
	if err != nil {
		t.Fatalf("Fire %s from %s: %v", ev, x.Status, err)
	}
	return next
}

// Run runs the conformance suite against the drivers newDriver makes.
func Run(t *testing.T, newDriver Factory) {
	tests := []struct {
		name string
		fn   func(*testing.T, env)
	}{
		{"CreateAndGet", testCreateAndGet},
		{"CreateInvalidWritesNothing", testCreateInvalid},
		{"CreateDuplicate", testCreateDuplicate},
		{"CreateConcurrentWithDuplicates", testCreateConcurrent},
		{"CreateManyAllOrNone", testCreateMany},
		{"KeysOfMany", testKeys},
		{"GetNotFound", testGetNotFound},
		{"ContextEnded", testContextEnded},
		{"FireSetsTimestampsAndHistory", testFire},
		{"FireIllegalWritesNothing", testFireIllegal},
		{"FireRequiresFields", testFireRequires},
		{"FireStaleIsConflict", testFireStale},
		{"UpdateKeepsStatus", testUpdate},
		{"RoundTripsEveryColumn", testRoundTrip},
		{"Due", testDue},
		{"ListByStatus", testListByStatus},
		{"Delete", testDelete},
		{"DeleteFinished", testDeleteFinished},
		{"RaceOneWinnerPerStep", testRace},
		{"ThousandTasksInParallel", testThousand},
		{"WorkReserve", testReserve},
		{"WorkReserveRace", testReserveRace},
		{"WorkHeartbeat", testHeartbeat},
		{"WorkLostOrderAndLimit", testLostOrderAndLimit},
		{"WorkClaimInSQL", testClaim},
		{"WorkClaimAfter", testClaimAfter},
		{"WorkClaimRace", testClaimRace},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, setup(t, newDriver)) })
	}
}

func testCreateAndGet(t *testing.T, e env) {
	x := e.create(t)
	if x.ID == uuid.Nil || x.ID.Version() != 7 || x.Status != analysis.StatusCreated || x.Version != 1 {
		t.Fatalf("created %s %s v%d", x.ID, x.Status, x.Version)
	}
	if !x.CreatedAt.Equal(e.clock.Now().Truncate(time.Microsecond)) || !x.UpdatedAt.Equal(x.CreatedAt) {
		t.Errorf("created_at %v updated_at %v, clock %v", x.CreatedAt, x.UpdatedAt, e.clock.Now())
	}
	got, err := e.store.Get(e.ctx, x.ID)
	if err != nil {
		t.Fatal(err)
	}
	assertSame(t, got, x)
	h, err := e.store.History(e.ctx, x.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := []backends.History{{Seq: 1, To: "CREATED", At: x.CreatedAt, Actor: "test"}}
	if !slices.Equal(h, want) {
		t.Errorf("history = %+v\nwant      %+v", h, want)
	}
	// An id given by the caller is kept.
	y := newTask()
	y.ID = uuid.New()
	z, err := e.store.Create(e.ctx, y, backends.Meta{})
	if err != nil || z.ID != y.ID {
		t.Errorf("Create with id %s = %v, %v", y.ID, z, err)
	}
}

func testCreateInvalid(t *testing.T, e env) {
	x := newTask()
	x.ID = uuid.New()
	x.ToolID = ""
	x.Agents = nil
	_, err := e.store.Create(e.ctx, x, backends.Meta{})
	var ve *tasktype.ValidationError
	if !errors.As(err, &ve) || !errors.Is(err, tasktype.ErrValidation) || ve.Fields[0].Field != "tool_id" {
		t.Fatalf("Create invalid: %v", err)
	}
	if _, err := e.store.Get(e.ctx, x.ID); !errors.Is(err, tasktype.ErrNotFound) {
		t.Errorf("an invalid task was written: %v", err)
	}
}

func testCreateDuplicate(t *testing.T, e env) {
	x := e.create(t)
	y := newTask()
	y.ID = x.ID
	y.ToolID = "other"
	if _, err := e.store.Create(e.ctx, y, backends.Meta{}); !errors.Is(err, tasktype.ErrDuplicate) {
		t.Fatalf("duplicate Create: %v", err)
	}
	got, _ := e.store.Get(e.ctx, x.ID)
	if got.ToolID != x.ToolID {
		t.Error("the duplicate overwrote the task")
	}
	if h, _ := e.store.History(e.ctx, x.ID); len(h) != 1 {
		t.Errorf("the duplicate wrote history: %d rows", len(h))
	}
}

// testCreateMany: a bulk create stores every task with its first history
// row, in order, at one time; a batch with an invalid task, a nil one, an id
// that exists or an id twice writes nothing, and says which.
func testCreateMany(t *testing.T, e env) {
	meta := backends.Meta{Actor: "bulk", Message: "imported"}
	if xs, err := e.store.CreateMany(e.ctx, nil, meta); err != nil || len(xs) != 0 {
		t.Fatalf("CreateMany(none) = %d tasks, %v", len(xs), err)
	}
	in := []*analysis.Task{newTask(), newTask(), newTask()}
	in[1].ToolID = "second"
	// Optional fields set on one task and not on its neighbours: a batch
	// statement keeps each row's NULLs and values apart.
	msg, code := "imported with a note", analysis.ErrorCodeBillingInsufficientCredits
	in[1].ErrorMessage, in[1].ErrorCode = &msg, &code
	in[1].ProgressDetail = &analysis.ProgressDetail{CurrentStage: "import", AgentsTotal: 3}
	xs, err := e.store.CreateMany(e.ctx, in, meta)
	if err != nil || len(xs) != len(in) {
		t.Fatalf("CreateMany = %d tasks, %v", len(xs), err)
	}
	for i, x := range xs {
		got, err := e.store.Get(e.ctx, x.ID)
		if err != nil {
			t.Fatalf("task %d: %v", i, err)
		}
		if got.Status != analysis.StatusCreated || got.Version != 1 || !got.CreatedAt.Equal(xs[0].CreatedAt) || got.ToolID != in[i].ToolID {
			t.Errorf("task %d stored as %s v%d at %v, tool %q", i, got.Status, got.Version, got.CreatedAt, got.ToolID)
		}
		assertSame(t, got, x)
		h, err := e.store.History(e.ctx, x.ID)
		if err != nil || len(h) != 1 || h[0].Seq != 1 || h[0].To != string(analysis.StatusCreated) || h[0].Actor != "bulk" || h[0].Message != "imported" {
			t.Errorf("task %d history %+v, %v", i, h, err)
		}
	}

	before := func() int {
		t.Helper()
		n, err := e.store.Driver().ListByStatus(e.ctx, string(analysis.StatusCreated), 1000)
		if err != nil {
			t.Fatal(err)
		}
		return len(n)
	}
	count := before()
	invalid := newTask()
	invalid.ToolID = ""
	twice := newTask()
	twice.ID = uuid.Must(uuid.NewV7())
	for _, c := range []struct {
		name  string
		tasks []*analysis.Task
		is    error
		says  string
	}{
		{"invalid task", []*analysis.Task{newTask(), invalid}, tasktype.ErrValidation, "tasks[1]: "},
		{"nil task", []*analysis.Task{newTask(), nil}, tasktype.ErrValidation, "tasks[1]"},
		{"id that exists", []*analysis.Task{newTask(), {ID: xs[2].ID, UserID: "user-1", ToolID: "t", Agents: []string{"a"}}}, tasktype.ErrDuplicate, ""},
		{"id twice", []*analysis.Task{twice, newTask(), twice}, tasktype.ErrDuplicate, ""},
	} {
		_, err := e.store.CreateMany(e.ctx, c.tasks, meta)
		if !errors.Is(err, c.is) || !strings.Contains(fmt.Sprint(err), c.says) {
			t.Errorf("%s: CreateMany error %v, want %v saying %q", c.name, err, c.is, c.says)
		}
		if n := before(); n != count {
			t.Errorf("%s: %d tasks written, want none", c.name, n-count)
		}
	}
}

// testKeys: Keys returns the current key of each existing task asked for,
// and nothing for ids without a task.
func testKeys(t *testing.T, e env) {
	kr, ok := e.store.Driver().(backends.KeyReader)
	if !ok {
		t.Skip("the driver is not a backends.KeyReader")
	}
	a, b := e.create(t), e.create(t)
	b = e.fire(t, b, analysis.EventRequestUploadURLs, nil)
	gone := e.create(t)
	if err := e.store.Delete(e.ctx, gone.ID); err != nil {
		t.Fatal(err)
	}
	if keys, err := kr.Keys(e.ctx, nil); err != nil || len(keys) != 0 {
		t.Fatalf("Keys(none) = %v, %v", keys, err)
	}
	keys, err := kr.Keys(e.ctx, []uuid.UUID{a.ID, gone.ID, b.ID, uuid.New()})
	if err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(keys, func(x, y backends.Key) int { return strings.Compare(x.ID.String(), y.ID.String()) })
	want := []backends.Key{a.Key(), b.Key()}
	slices.SortFunc(want, func(x, y backends.Key) int { return strings.Compare(x.ID.String(), y.ID.String()) })
	if !slices.Equal(keys, want) {
		t.Errorf("Keys = %+v, want %+v", keys, want)
	}
}

// testCreateConcurrent: creates arriving together (which a backend may
// write as one batch) each succeed or fail alone; a duplicate among them
// fails with ErrDuplicate and writes nothing, and the others are stored.
func testCreateConcurrent(t *testing.T, e env) {
	const fresh, dups = 24, 8
	var existing []*analysis.Task
	for range dups {
		existing = append(existing, e.create(t))
	}
	type result struct {
		x   *analysis.Task
		dup int // index in existing, or -1
		err error
	}
	results := make(chan result, fresh+dups)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range fresh + dups {
		wg.Add(1)
		go func() {
			defer wg.Done()
			y, dup := newTask(), -1
			if i%4 == 3 {
				dup = i / 4
				y.ID, y.ToolID = existing[dup].ID, "other"
			}
			<-start
			x, err := e.store.Create(e.ctx, y, backends.Meta{Actor: "c"})
			results <- result{x, dup, err}
		}()
	}
	close(start)
	wg.Wait()
	close(results)
	for r := range results {
		if r.dup >= 0 {
			if !errors.Is(r.err, tasktype.ErrDuplicate) {
				t.Errorf("duplicate create: %v, want ErrDuplicate", r.err)
			}
			continue
		}
		if r.err != nil {
			t.Errorf("create: %v", r.err)
			continue
		}
		got, err := e.store.Get(e.ctx, r.x.ID)
		if err != nil {
			t.Fatal(err)
		}
		assertSame(t, got, r.x)
		if h, err := e.store.History(e.ctx, r.x.ID); err != nil || len(h) != 1 || h[0].Actor != "c" {
			t.Errorf("history of a created task: %+v, %v", h, err)
		}
	}
	for _, x := range existing {
		got, err := e.store.Get(e.ctx, x.ID)
		if err != nil {
			t.Fatal(err)
		}
		assertSame(t, got, x)
		if h, _ := e.store.History(e.ctx, x.ID); len(h) != 1 {
			t.Errorf("a duplicate wrote history: %d rows", len(h))
		}
	}
}

func testGetNotFound(t *testing.T, e env) {
	id := uuid.New()
	for name, err := range map[string]error{
		"Get":     func() error { _, err := e.store.Get(e.ctx, id); return err }(),
		"Fire":    func() error { _, err := e.store.Fire(e.ctx, id, analysis.EventStart, nil, backends.Meta{}); return err }(),
		"History": func() error { _, err := e.store.History(e.ctx, id); return err }(),
		"Delete":  e.store.Delete(e.ctx, id),
	} {
		if !errors.Is(err, tasktype.ErrNotFound) {
			t.Errorf("%s of a missing task: %v", name, err)
		}
	}
}

// testContextEnded: a call whose context has ended returns the context's
// error and writes nothing, on every backend (the memory backend ignored
// it, so code tested on it alone could miss its context handling).
func testContextEnded(t *testing.T, e env) {
	x := e.create(t)
	ctx, cancel := context.WithCancel(e.ctx)
	cancel()
	for name, err := range map[string]error{
		"Create": func() error { _, err := e.store.Create(ctx, newTask(), backends.Meta{}); return err }(),
		"Get":    func() error { _, err := e.store.Get(ctx, x.ID); return err }(),
		"FireFrom": func() error {
			_, err := e.store.FireFrom(ctx, x, analysis.EventRequestUploadURLs, nil, backends.Meta{})
			return err
		}(),
		"History": func() error { _, err := e.store.History(ctx, x.ID); return err }(),
		"ListByStatus": func() error {
			_, err := e.store.Driver().ListByStatus(ctx, string(analysis.StatusCreated), 10)
			return err
		}(),
		"Delete": e.store.Delete(ctx, x.ID),
	} {
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%s with an ended context: %v, want context.Canceled", name, err)
		}
	}
	got, err := e.store.Get(e.ctx, x.ID)
	if err != nil {
		t.Fatal(err)
	}
	assertSame(t, got, x)
	if all, err := e.store.Driver().ListByStatus(e.ctx, string(analysis.StatusCreated), 10); err != nil || len(all) != 1 {
		t.Errorf("after the calls with an ended context: %d tasks created, %v; want 1", len(all), err)
	}
}

func testFire(t *testing.T, e env) {
	x := e.create(t)
	e.clock.Advance(time.Second)
	x = e.fire(t, x, analysis.EventRequestUploadURLs, nil)
	at1 := e.clock.Now().Truncate(time.Microsecond)
	e.clock.Advance(time.Second)
	x = e.fire(t, x, analysis.EventVerifyUploads, nil)
	at2 := e.clock.Now().Truncate(time.Microsecond)
	got, err := e.store.Get(e.ctx, x.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != analysis.StatusQueued || got.Version != 3 || !got.UpdatedAt.Equal(at2) {
		t.Fatalf("after two events: %s v%d updated %v", got.Status, got.Version, got.UpdatedAt)
	}
	if got.UploadStartedAt == nil || !got.UploadStartedAt.Equal(at1) || got.QueuedAt == nil || !got.QueuedAt.Equal(at2) {
		t.Errorf("entry timestamps: upload_started_at %v queued_at %v", got.UploadStartedAt, got.QueuedAt)
	}
	h, err := e.store.History(e.ctx, x.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := []backends.History{
		{Seq: 1, To: "CREATED", At: got.CreatedAt, Actor: "test"},
		{Seq: 2, From: "CREATED", To: "UPLOADING", Event: "request_upload_urls", At: at1, Actor: "test", Message: "request_upload_urls"},
		{Seq: 3, From: "UPLOADING", To: "QUEUED", Event: "verify_uploads", At: at2, Actor: "test", Message: "verify_uploads"},
	}
	if !slices.Equal(h, want) {
		t.Errorf("history:\n got %+v\nwant %+v", h, want)
	}
	// Fire by id reads the task first.
	if y, err := e.store.Fire(e.ctx, x.ID, analysis.EventStart, nil, backends.Meta{Attempt: 2}); err != nil || y.Status != analysis.StatusProcessing {
		t.Fatalf("Fire by id: %v %v", y, err)
	}
	if h, _ := e.store.History(e.ctx, x.ID); len(h) != 4 || h[3].Attempt != 2 {
		t.Errorf("attempt not recorded: %+v", h)
	}
	// History text a backend could not store as it is (PostgreSQL refuses
	// a NUL) is stored made valid, on every backend alike: a failure's
	// message comes from an error's text.
	meta := backends.Meta{Actor: "w\x00 1\n", Message: "frame 12\nframe\x0013 \xff"}
	if _, err := e.store.Fire(e.ctx, x.ID, analysis.EventCancel, nil, meta); err != nil {
		t.Fatalf("Fire with a NUL in its history text: %v", err)
	}
	h, _ = e.store.History(e.ctx, x.ID)
	if last := h[len(h)-1]; last.Actor != "w\uFFFD 1; " || last.Message != "frame 12\nframe\uFFFD13 \uFFFD" {
		t.Errorf("history text: actor %q, message %q", last.Actor, last.Message)
	}
}

func testFireIllegal(t *testing.T, e env) {
	x := e.create(t)
	_, err := e.store.FireFrom(e.ctx, x, analysis.EventComplete, nil, backends.Meta{})
	var te *analysis.TransitionError
	if !errors.As(err, &te) || !errors.Is(err, tasktype.ErrTransitionNotAllowed) || te.From != analysis.StatusCreated ||
		!slices.Equal(te.Allowed, []analysis.Event{analysis.EventRequestUploadURLs, analysis.EventExpire}) {
		t.Fatalf("illegal event: %#v", err)
	}
	assertUnchanged(t, e, x, 1)
}

func testFireRequires(t *testing.T, e env) {
	x := e.create(t)
	for _, ev := range []analysis.Event{analysis.EventRequestUploadURLs, analysis.EventVerifyUploads, analysis.EventStart} {
		x = e.fire(t, x, ev, nil)
	}
	_, err := e.store.FireFrom(e.ctx, x, analysis.EventFail, func(y *analysis.Task) {
		msg := "agent crashed"
		y.ErrorMessage = &msg
	}, backends.Meta{})
	var fe *tasktype.FieldError
	if !errors.As(err, &fe) || fe.Field != "error_code" {
		t.Fatalf("fail without error_code: %v", err)
	}
	assertUnchanged(t, e, x, 4)
	// An invalid field value is refused too.
	_, err = e.store.FireFrom(e.ctx, x, analysis.EventFail, func(y *analysis.Task) {
		code, msg := analysis.ErrorCodeAgentError, strings.Repeat("x", 2001)
		y.ErrorCode, y.ErrorMessage = &code, &msg
	}, backends.Meta{})
	if !errors.As(err, &fe) || fe.Field != "error_message" || fe.Rule != "max_len" {
		t.Fatalf("fail with a 2001-character message: %v", err)
	}
	assertUnchanged(t, e, x, 4)
	y := e.fire(t, x, analysis.EventFail, func(y *analysis.Task) {
		code, msg := analysis.ErrorCodeAgentError, "agent score-risk crashed"
		y.ErrorCode, y.ErrorMessage = &code, &msg
	})
	got, _ := e.store.Get(e.ctx, y.ID)
	if got.Status != analysis.StatusFailed || *got.ErrorCode != analysis.ErrorCodeAgentError || got.FailedAt == nil {
		t.Errorf("after fail: %+v", got)
	}
}

func testFireStale(t *testing.T, e env) {
	x := e.create(t)
	e.fire(t, x, analysis.EventRequestUploadURLs, nil)
	// x is now stale: same status would be fine for the lifecycle, but the
	// version moved on.
	_, err := e.store.FireFrom(e.ctx, x, analysis.EventExpire, nil, backends.Meta{})
	if !errors.Is(err, tasktype.ErrConflict) {
		t.Fatalf("stale fire: %v", err)
	}
	want := fmt.Sprintf("task %s is UPLOADING at version 2 now, not CREATED at version 1 as it was read: task changed concurrently", x.ID)
	if err.Error() != want {
		t.Errorf("stale fire: %q, want %q", err, want)
	}
	got, _ := e.store.Get(e.ctx, x.ID)
	if got.Status != analysis.StatusUploading || got.Version != 2 {
		t.Errorf("the stale write changed the task: %s v%d", got.Status, got.Version)
	}
	if err := e.store.Delete(e.ctx, x.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.FireFrom(e.ctx, got, analysis.EventExpire, nil, backends.Meta{}); !errors.Is(err, tasktype.ErrNotFound) {
		t.Errorf("fire on a deleted task: %v", err)
	}
}

func testUpdate(t *testing.T, e env) {
	x := e.create(t)
	for _, ev := range []analysis.Event{analysis.EventRequestUploadURLs, analysis.EventVerifyUploads, analysis.EventStart} {
		x = e.fire(t, x, ev, nil)
	}
	e.clock.Advance(time.Minute)
	y, err := e.store.Update(e.ctx, x, func(y *analysis.Task) {
		y.Progress = 55
		agent := "score-risk"
		y.ProgressDetail = &analysis.ProgressDetail{CurrentStage: "agent_execution", CurrentAgent: &agent, AgentsTotal: 6, AgentsCompleted: 3}
	})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := e.store.Get(e.ctx, x.ID)
	if got.Progress != 55 || got.ProgressDetail == nil || *got.ProgressDetail.CurrentAgent != "score-risk" || got.Version != 5 || got.Status != analysis.StatusProcessing {
		t.Errorf("after Update: %+v", got)
	}
	assertSame(t, got, y)
	if h, _ := e.store.History(e.ctx, x.ID); len(h) != 4 {
		t.Errorf("Update wrote history: %d rows", len(h))
	}
	if _, err := e.store.Update(e.ctx, x, func(y *analysis.Task) { y.Progress = 60 }); !errors.Is(err, tasktype.ErrConflict) {
		t.Errorf("stale Update: %v", err)
	}
	if _, err := e.store.Update(e.ctx, y, func(y *analysis.Task) { y.Progress = 101 }); !errors.Is(err, tasktype.ErrValidation) {
		t.Errorf("Update to progress 101: %v", err)
	}
	if _, err := e.store.Update(e.ctx, y, func(y *analysis.Task) { y.Status = analysis.StatusCompleted }); !errors.Is(err, tasktype.ErrValidation) {
		t.Errorf("Update of the status: %v", err)
	}
	assertUnchanged(t, e, y, 5)
}

func testRoundTrip(t *testing.T, e env) {
	x := newTask()
	// Agents are identifiers; text that needs quoting and multi-byte
	// characters go through user_id, a free single-line string.
	x.Agents = []string{"a", "score-risk", "v1.2_x"}
	x.UserID = `é-user "quoted" 日本`
	x.BlobsCleaned = true
	x.Progress = 15
	x = mustCreate(t, e, x)
	for _, ev := range []analysis.Event{analysis.EventRequestUploadURLs, analysis.EventVerifyUploads, analysis.EventStart} {
		e.clock.Advance(1500 * time.Microsecond)
		x = e.fire(t, x, ev, nil)
	}
	e.clock.Advance(time.Hour)
	x = e.fire(t, x, analysis.EventFail, func(y *analysis.Task) {
		code, msg := analysis.ErrorCodeBillingInsufficientCredits, "Insufficient credits — ünïcode 🎉\n\t\"quoted\" back\\slash"
		y.ErrorCode, y.ErrorMessage = &code, &msg
		y.ProgressDetail = &analysis.ProgressDetail{CurrentStage: `bill "ing" \ é`, AgentsTotal: 2}
	})
	got, err := e.store.Get(e.ctx, x.ID)
	if err != nil {
		t.Fatal(err)
	}
	assertSame(t, got, x)
}

func mustCreate(t *testing.T, e env, x *analysis.Task) *analysis.Task {
	t.Helper()
	y, err := e.store.Create(e.ctx, x, backends.Meta{})
	if err != nil {
		t.Fatal(err)
	}
	return y
}

func testDue(t *testing.T, e env) {
	created := e.create(t) // CREATED times out 15 minutes after created_at
	uploading := e.fire(t, e.create(t), analysis.EventRequestUploadURLs, nil)
	queued := e.fire(t, uploading, analysis.EventVerifyUploads, nil) // QUEUED has no timeout
	_ = queued
	up2 := e.fire(t, e.create(t), analysis.EventRequestUploadURLs, nil)
	driver := e.store.Driver()
	due := func(at time.Time) []uuid.UUID {
		t.Helper()
		xs, err := driver.Due(e.ctx, at, 100)
		if err != nil {
			t.Fatal(err)
		}
		var ids []uuid.UUID
		for _, x := range xs {
			ids = append(ids, x.ID)
		}
		slices.SortFunc(ids, func(a, b uuid.UUID) int { return slices.Compare(a[:], b[:]) })
		return ids
	}
	now := e.clock.Now()
	if ids := due(now.Add(15*time.Minute - time.Second)); len(ids) != 0 {
		t.Errorf("due before 15 minutes: %v", ids)
	}
	want := []uuid.UUID{created.ID, up2.ID}
	slices.SortFunc(want, func(a, b uuid.UUID) int { return slices.Compare(a[:], b[:]) })
	if ids := due(now.Add(15 * time.Minute)); !slices.Equal(ids, want) {
		t.Errorf("due at 15 minutes = %v, want %v (created and uploading, not queued)", ids, want)
	}
	if xs, _ := driver.Due(e.ctx, now.Add(time.Hour), 1); len(xs) != 1 {
		t.Errorf("limit 1 returned %d", len(xs))
	}
}

func testListByStatus(t *testing.T, e env) {
	var ids []uuid.UUID
	for range 5 {
		e.clock.Advance(time.Millisecond)
		ids = append(ids, e.create(t).ID)
	}
	first, _ := e.store.Get(e.ctx, ids[1])
	e.fire(t, first, analysis.EventRequestUploadURLs, nil)
	xs, err := e.store.Driver().ListByStatus(e.ctx, "CREATED", 3)
	if err != nil {
		t.Fatal(err)
	}
	var got []uuid.UUID
	for _, x := range xs {
		got = append(got, x.ID)
	}
	if want := []uuid.UUID{ids[0], ids[2], ids[3]}; !slices.Equal(got, want) {
		t.Errorf("ListByStatus(CREATED, 3) = %v, want %v (oldest first)", got, want)
	}
}

func testDelete(t *testing.T, e env) {
	x := e.create(t)
	if err := e.store.Delete(e.ctx, x.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.Get(e.ctx, x.ID); !errors.Is(err, tasktype.ErrNotFound) {
		t.Errorf("Get after Delete: %v", err)
	}
	if _, err := e.store.History(e.ctx, x.ID); !errors.Is(err, tasktype.ErrNotFound) {
		t.Errorf("History after Delete: %v", err)
	}
}

// testDeleteFinished: retention removes finished tasks whose last change is
// older than the cutoff, oldest first, up to the limit, with their history;
// unfinished tasks stay whatever their age.
func testDeleteFinished(t *testing.T, e env) {
	finish := func(x *analysis.Task) *analysis.Task {
		for _, ev := range []analysis.Event{analysis.EventRequestUploadURLs, analysis.EventVerifyUploads, analysis.EventStart, analysis.EventComplete} {
			x = e.fire(t, x, ev, nil)
		}
		return x
	}
	old1 := finish(e.create(t))
	e.clock.Advance(time.Minute)
	old2 := e.fire(t, e.create(t), analysis.EventExpire, nil)
	e.clock.Advance(time.Minute)
	unfinished := e.create(t)
	e.clock.Advance(time.Hour)
	recent := finish(e.create(t))
	cutoff := e.clock.Now().Add(-30 * time.Minute)

	d := e.store.Driver()
	n, err := d.DeleteFinished(e.ctx, cutoff, 1)
	if err != nil || n != 1 {
		t.Fatalf("DeleteFinished(limit 1) = %d, %v", n, err)
	}
	if _, err := e.store.Get(e.ctx, old1.ID); !errors.Is(err, tasktype.ErrNotFound) {
		t.Errorf("the oldest finished task was not the one removed: %v", err)
	}
	if _, err := e.store.History(e.ctx, old1.ID); !errors.Is(err, tasktype.ErrNotFound) {
		t.Errorf("its history stayed: %v", err)
	}
	if n, err = d.DeleteFinished(e.ctx, cutoff, 100); err != nil || n != 1 {
		t.Fatalf("DeleteFinished = %d, %v; want 1 (old2)", n, err)
	}
	for _, x := range []*analysis.Task{unfinished, recent} {
		if _, err := e.store.Get(e.ctx, x.ID); err != nil {
			t.Errorf("task %s (%s) was removed: %v", x.ID, x.Status, err)
		}
	}
	if _, err := e.store.Get(e.ctx, old2.ID); !errors.Is(err, tasktype.ErrNotFound) {
		t.Errorf("old expired task stayed: %v", err)
	}
}

// testRace: 32 goroutines read the same task and fire conflicting events at
// it, step after step. Exactly one wins each step, every loser gets
// ErrConflict, and the history has no gap and no duplicate.
func testRace(t *testing.T, e env) {
	x := e.create(t)
	steps := [][]analysis.Event{
		{analysis.EventRequestUploadURLs, analysis.EventExpire},
		{analysis.EventVerifyUploads, analysis.EventUploadFailed},
		{analysis.EventRequestUploadURLs},
		{analysis.EventVerifyUploads, analysis.EventExpire},
		{analysis.EventStart},
		{analysis.EventComplete, analysis.EventCancel},
	}
	const workers = 32
	meta := backends.Meta{Actor: "racer"}
	for step, events := range steps {
		cur, err := e.store.Get(e.ctx, x.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(analysis.AllowedEvents(cur.Status), events[0]) {
			break // an earlier step's winner took another path; the steps below assume the first event
		}
		var (
			wg       sync.WaitGroup
			start    = make(chan struct{})
			wins     atomic.Int32
			failures = make(chan error, workers)
		)
		for i := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				ev := events[i%len(events)]
				_, err := e.store.FireFrom(e.ctx, cur, ev, func(y *analysis.Task) {
					msg := "raced"
					y.ErrorMessage = &msg
				}, meta)
				switch {
				case err == nil:
					wins.Add(1)
				case errors.Is(err, tasktype.ErrConflict):
				default:
					failures <- fmt.Errorf("step %d, %s: %w", step, ev, err)
				}
			}()
		}
		close(start)
		wg.Wait()
		close(failures)
		for err := range failures {
			t.Error(err)
		}
		if n := wins.Load(); n != 1 {
			t.Fatalf("step %d: %d winners, want exactly 1", step, n)
		}
	}
	h, err := e.store.History(e.ctx, x.ID)
	if err != nil {
		t.Fatal(err)
	}
	for i, row := range h {
		if row.Seq != int64(i+1) {
			t.Fatalf("history seq %d at position %d: gap or duplicate: %+v", row.Seq, i, h)
		}
		if i > 0 && row.From != h[i-1].To {
			t.Errorf("history row %d starts at %s but the previous ended at %s", i+1, row.From, h[i-1].To)
		}
	}
	final, _ := e.store.Get(e.ctx, x.ID)
	if int(final.Version) != len(h) {
		t.Errorf("version %d after %d history rows", final.Version, len(h))
	}
}

// testThousand creates 1,000 tasks and advances all of them to COMPLETED
// from 16 goroutines at once.
func testThousand(t *testing.T, e env) {
	const n, workers = 1000, 16
	ids := make(chan uuid.UUID, n)
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range n / workers {
				x, err := e.store.Create(e.ctx, newTask(), backends.Meta{})
				if err != nil {
					errs <- err
					return
				}
				ids <- x.ID
			}
		}()
	}
	wg.Wait()
	close(ids)
	var all []uuid.UUID
	for id := range ids {
		all = append(all, id)
	}
	work := make(chan uuid.UUID, len(all))
	for _, id := range all {
		work <- id
	}
	close(work)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for id := range work {
				for _, ev := range []analysis.Event{analysis.EventRequestUploadURLs, analysis.EventVerifyUploads, analysis.EventStart, analysis.EventComplete} {
					if _, err := e.store.Fire(e.ctx, id, ev, nil, backends.Meta{}); err != nil {
						errs <- fmt.Errorf("%s %s: %w", id, ev, err)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if len(all) != n/workers*workers {
		t.Fatalf("created %d tasks", len(all))
	}
	for _, id := range all {
		x, err := e.store.Get(e.ctx, id)
		if err != nil || x.Status != analysis.StatusCompleted || x.Version != 5 {
			t.Fatalf("task %s: %v %v", id, x, err)
		}
	}
	if h, _ := e.store.History(e.ctx, all[len(all)-1]); len(h) != 5 {
		t.Errorf("history of the last task: %d rows", len(h))
	}
}

func assertUnchanged(t *testing.T, e env, x *analysis.Task, version int64) {
	t.Helper()
	got, err := e.store.Get(e.ctx, x.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != x.Status || got.Version != version {
		t.Errorf("a refused call changed the task: %s v%d, want %s v%d", got.Status, got.Version, x.Status, version)
	}
}

// assertSame compares two tasks field by field through their JSON form,
// which covers every column.
func assertSame(t *testing.T, got, want *analysis.Task) {
	t.Helper()
	g, w := fmt.Sprintf("%+v", jsonOf(got)), fmt.Sprintf("%+v", jsonOf(want))
	if g != w {
		t.Errorf("stored task differs:\n got %s\nwant %s", g, w)
	}
}

func jsonOf(x *analysis.Task) string {
	b, err := json.Marshal(x)
	if err != nil {
		return err.Error()
	}
	return string(b)
}

// BenchmarkTransitions measures guarded transitions per second, each with
// its history row, at concurrency 1 and 32. Every goroutine owns a task and
// bounces it between UPLOADING and UPLOAD_FAILED, the one loop in the analysis
// lifecycle, keeping the task it got back, so each op is one guarded write.
func BenchmarkTransitions(b *testing.B, newDriver Factory) {
	for _, workers := range []int{1, 32} {
		b.Run(fmt.Sprintf("concurrency=%d", workers), func(b *testing.B) {
			e := setup(b, newDriver)
			tasks := make([]*analysis.Task, workers)
			for i := range tasks {
				x, err := e.store.Create(e.ctx, newTask(), backends.Meta{})
				if err != nil {
					b.Fatal(err)
				}
				if tasks[i], err = e.store.FireFrom(e.ctx, x, analysis.EventRequestUploadURLs, nil, backends.Meta{}); err != nil {
					b.Fatal(err)
				}
			}
			msg := "Required files not found in storage"
			setMsg := func(y *analysis.Task) { y.ErrorMessage = &msg }
			var next atomic.Int64
			work := make(chan struct{}, b.N)
			for range b.N {
				work <- struct{}{}
			}
			close(work)
			b.ResetTimer()
			start := time.Now()
			var wg sync.WaitGroup
			for w := range workers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					x := tasks[w]
					for range work {
						ev, mutate := analysis.EventUploadFailed, setMsg
						if x.Status == analysis.StatusUploadFailed {
							ev, mutate = analysis.EventRequestUploadURLs, nil
						}
						y, err := e.store.FireFrom(e.ctx, x, ev, mutate, backends.Meta{Actor: "bench"})
						if err != nil {
							b.Error(err)
							return
						}
						x = y
						next.Add(1)
					}
				}()
			}
			wg.Wait()
			b.ReportMetric(float64(next.Load())/time.Since(start).Seconds(), "transitions/s")
		})
	}
}
