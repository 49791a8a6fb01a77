package server

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/taskmodel/taskmodel/backends"
	"github.com/taskmodel/taskmodel/sdk/engine"
	"github.com/taskmodel/taskmodel/sdk/worker"
	"github.com/taskmodel/taskmodel/tasktype"
)

// workOps is a model's worker protocol with its types erased: the shared
// lease protocol of sdk/worker (worker.Leases) over the model's engine.
type workOps interface {
	name() string
	spec() tasktype.Worker
	claim(ctx context.Context, owner string, limit int) ([]claimedView, error)
	heartbeat(ctx context.Context, id uuid.UUID, lease backends.Lease) (bool, time.Time, error)
	cancelled(ctx context.Context, id uuid.UUID, lease backends.Lease) (bool, error)
	// holds reports whether lease holds the running task as read in v.
	holds(ctx context.Context, v *view, lease backends.Lease) (bool, error)
	get(ctx context.Context, id uuid.UUID) (*view, error)
	// progress records percent (0 to 100) and detail (a progress_detail
	// object, or nil) on the task as read in v; recorded is false when the
	// status maps no progress and no detail was given (nothing written).
	progress(ctx context.Context, v *view, percent float64, detail json.RawMessage) (next *view, recorded bool, err error)
	// finish ends the task as read in v: complete (outcome nil) with
	// result fields, or fail with outcome's code and message.
	finish(ctx context.Context, v *view, lease backends.Lease, outcome error, result map[string]json.RawMessage) (*view, error)
	// release gives back the task as read in v, which lease holds: the
	// requeue event, the lease ended, the attempt not counted
	// (worker.Leases.Release); reason goes into the history row.
	release(ctx context.Context, v *view, lease backends.Lease, reason string) (*view, error)
	// released reports whether lease's claim of the task was released.
	released(ctx context.Context, id uuid.UUID, lease backends.Lease) (bool, error)
	// ended reports whether lease ended the task as a finish with outcome
	// does (worker.Leases.Ended).
	ended(ctx context.Context, id uuid.UUID, lease backends.Lease, outcome error) (bool, error)
	checkCode(code string) error
	// startReport starts the tracing of a worker's report on task id (op:
	// heartbeat, progress), v the task as the report read it or nil;
	// without a tracer it returns ctx and an end that does nothing.
	startReport(ctx context.Context, op string, id uuid.UUID, v *view) (context.Context, func(error))
	// results lists the fields a worker may set when it completes a task.
	results() []string
	rescue(ctx context.Context, actor string) (worker.RescueResult, error)
	// queued is notified when a task of the model is queued in this
	// process (created, requeued, released); close with the returned
	// function.
	queued(ctx context.Context) (<-chan struct{}, func())
	// waker is the model's driver as a backends.Waker, which tells when
	// other processes queue tasks; nil when the driver has none.
	waker() backends.Waker
	// warmer is the model's driver as a backends.ClaimWarmer, whose
	// claims are faster warm; nil when the driver has none.
	warmer() backends.ClaimWarmer
	// followLocal makes claims start at the tasks this process queues
	// behind the claims' position, until ctx ends (worker.Leases.FollowLocal).
	followLocal(ctx context.Context) (wait func())
}

// claimedView is a task a worker claimed over HTTP.
type claimedView struct {
	view        *view
	lease       backends.Lease
	expires     time.Time
	traceparent string
}

// workOpsOf returns the worker protocol of b, or nil when the model has no
// worker section or its driver keeps no leases.
func workOpsOf(b binding) workOps {
	w, ok := b.(interface{ workOps() workOps })
	if !ok || b.worker().Claim == "" {
		return nil
	}
	return w.workOps()
}

// typedWork is workOps over a typed binding.
type typedWork[T any, E ~string, PT ModelType[T, E]] struct {
	b      *typed[T, E, PT]
	leases *worker.Leases[T, E, PT]
	// result are the fields a worker may set on complete.
	result []string

	// waiting are the wake channels of this process's waiting claims
	// (queued): a release wakes them once the task is claimable (its
	// requeue event woke them while the lease still held it).
	mu      sync.Mutex
	waiting map[chan struct{}]struct{}
}

// workOpsCache holds each typed binding's workOps (one worker.Leases per
// model: its claims share one position in the queue).
var workOpsCache sync.Map // *typed → workOps (nil when none)

func (b *typed[T, E, PT]) workOps() workOps {
	if v, ok := workOpsCache.Load(b); ok {
		w, _ := v.(workOps)
		return w
	}
	l, err := worker.NewLeases(b.eng)
	var w workOps
	if err == nil {
		w = &typedWork[T, E, PT]{b: b, leases: l, result: resultFields(b.m), waiting: map[chan struct{}]struct{}{}}
	}
	v, _ := workOpsCache.LoadOrStore(b, w)
	out, _ := v.(workOps)
	return out
}

// resultFields are the fields of a model a worker may set when it completes
// a task: every field of the spec except the built-in ones, the owner, the
// fields clients set at creation, the error fields, the progress fields
// (POST .../progress sets those) and time fields (the lifecycle's entry
// timestamps).
func resultFields[T any](m Model[T]) []string {
	data, err := json.Marshal(m.New())
	if err != nil {
		return nil
	}
	var doc map[string]json.RawMessage
	if json.Unmarshal(data, &doc) != nil {
		return nil
	}
	skip := []string{"id", "status", "version", "created_at", "updated_at", "task_id", "error_code", "error_message", "progress", "progress_detail", m.API.Owner}
	var out []string
	for name := range doc {
		if slices.Contains(skip, name) || slices.Contains(m.API.Create, name) || isTimeField(m, doc, name) {
			continue
		}
		out = append(out, name)
	}
	slices.Sort(out)
	return out
}

// isTimeField tells a field of type time: it takes an RFC 3339 string but
// not another string.
func isTimeField[T any](m Model[T], doc map[string]json.RawMessage, name string) bool {
	try := func(v string) bool {
		d := make(map[string]json.RawMessage, len(doc))
		for k, x := range doc {
			d[k] = x
		}
		d[name], _ = json.Marshal(v)
		data, err := json.Marshal(d)
		if err != nil {
			return false
		}
		return json.Unmarshal(data, m.New()) == nil
	}
	return try("2006-01-02T15:04:05Z") && !try("not a time")
}

func (w *typedWork[T, E, PT]) name() string          { return w.b.m.Name }
func (w *typedWork[T, E, PT]) spec() tasktype.Worker { return w.leases.Spec() }
func (w *typedWork[T, E, PT]) results() []string     { return w.result }
func (w *typedWork[T, E, PT]) checkCode(code string) error {
	return w.leases.CheckCode(code)
}

func (w *typedWork[T, E, PT]) claim(ctx context.Context, owner string, limit int) ([]claimedView, error) {
	got, _, err := w.leases.Claim(ctx, owner, limit)
	out := make([]claimedView, len(got))
	for i, c := range got {
		out[i] = claimedView{view: w.b.view(c.Task), lease: c.Lease, expires: c.Expires, traceparent: engine.Traceparent(c.Task)}
	}
	return out, err
}

func (w *typedWork[T, E, PT]) startReport(ctx context.Context, op string, id uuid.UUID, v *view) (context.Context, func(error)) {
	var x *T
	if v != nil {
		x, _ = v.task.(*T)
	}
	return w.leases.StartReport(ctx, op, id, x)
}

func (w *typedWork[T, E, PT]) heartbeat(ctx context.Context, id uuid.UUID, lease backends.Lease) (bool, time.Time, error) {
	return w.leases.Heartbeat(ctx, id, lease)
}

func (w *typedWork[T, E, PT]) cancelled(ctx context.Context, id uuid.UUID, lease backends.Lease) (bool, error) {
	return w.leases.Cancelled(ctx, id, lease)
}

func (w *typedWork[T, E, PT]) holds(ctx context.Context, v *view, lease backends.Lease) (bool, error) {
	cur, ok := v.task.(*T)
	if !ok {
		return false, fmt.Errorf("server: task of another model")
	}
	return w.leases.Holds(ctx, cur, lease)
}

func (w *typedWork[T, E, PT]) get(ctx context.Context, id uuid.UUID) (*view, error) {
	return w.b.get(ctx, id)
}

func (w *typedWork[T, E, PT]) progress(ctx context.Context, v *view, percent float64, detail json.RawMessage) (*view, bool, error) {
	cur, ok := v.task.(*T)
	if !ok {
		return nil, false, fmt.Errorf("server: task of another model")
	}
	var set func(*T)
	if detail != nil {
		// Decode the detail through the model's JSON form: its decoder
		// checks the detail's type and fields strictly.
		if _, err := withRaw(cur, "progress_detail", detail); err != nil {
			return nil, false, err
		}
		set = func(x *T) {
			cp := *x
			if n, err := withRaw(&cp, "progress_detail", detail); err == nil {
				*x = *n
			}
		}
	} else {
		probe := *cur
		if !PT(&probe).ReportProgress(percent / 100) {
			return v, false, nil
		}
	}
	x, err := w.leases.Progress(ctx, cur, percent/100, set)
	if err != nil {
		return nil, false, err
	}
	return w.b.view(x), true, nil
}

func (w *typedWork[T, E, PT]) finish(ctx context.Context, v *view, lease backends.Lease, outcome error, result map[string]json.RawMessage) (*view, error) {
	cur, ok := v.task.(*T)
	if !ok {
		return nil, fmt.Errorf("server: task of another model")
	}
	var mutate func(*T)
	if len(result) > 0 {
		// Check the result's types now, so that a bad value is a 400 that
		// names it, before the write.
		if _, err := withRaws(cur, result); err != nil {
			return nil, err
		}
		mutate = func(x *T) {
			// The result fields over the task as the final write sees it.
			if n, err := withRaws(x, result); err == nil {
				*x = *n
			}
		}
	}
	x, err := w.leases.Finish(ctx, cur, lease, outcome, mutate)
	if err != nil {
		return nil, err
	}
	return w.b.view(x), nil
}

func (w *typedWork[T, E, PT]) release(ctx context.Context, v *view, lease backends.Lease, reason string) (*view, error) {
	cur, ok := v.task.(*T)
	if !ok {
		return nil, fmt.Errorf("server: task of another model")
	}
	x, err := w.leases.Release(ctx, cur, lease, reason)
	if x == nil {
		return nil, err
	}
	w.wakeWaiting()
	return w.b.view(x), err
}

func (w *typedWork[T, E, PT]) released(ctx context.Context, id uuid.UUID, lease backends.Lease) (bool, error) {
	return w.leases.Released(ctx, id, lease)
}

func (w *typedWork[T, E, PT]) ended(ctx context.Context, id uuid.UUID, lease backends.Lease, outcome error) (bool, error) {
	return w.leases.Ended(ctx, id, lease, outcome)
}

// wakeWaiting tells this process's waiting claims of the model to look
// again.
func (w *typedWork[T, E, PT]) wakeWaiting() {
	w.mu.Lock()
	defer w.mu.Unlock()
	for c := range w.waiting {
		select {
		case c <- struct{}{}:
		default:
		}
	}
}

func (w *typedWork[T, E, PT]) rescue(ctx context.Context, actor string) (worker.RescueResult, error) {
	return w.leases.Rescue(ctx, actor)
}

func (w *typedWork[T, E, PT]) queued(ctx context.Context) (<-chan struct{}, func()) {
	sub := w.b.eng.SubscribeLocal(ctx, uuid.Nil)
	out := make(chan struct{}, 1)
	queue := w.leases.Spec().Queue
	w.mu.Lock()
	w.waiting[out] = struct{}{}
	w.mu.Unlock()
	stop := func() {
		w.mu.Lock()
		delete(w.waiting, out)
		w.mu.Unlock()
		sub.Close()
	}
	go func() {
		for ch := range sub.C {
			if ch.Key.Status == queue {
				select {
				case out <- struct{}{}:
				default:
				}
			}
		}
	}()
	return out, stop
}

func (w *typedWork[T, E, PT]) followLocal(ctx context.Context) (wait func()) {
	return w.leases.FollowLocal(ctx)
}

// warmer is the driver's ClaimWarmer, nil when it has none.
func (w *typedWork[T, E, PT]) warmer() backends.ClaimWarmer {
	wm, _ := w.b.eng.Store().Driver().(backends.ClaimWarmer)
	return wm
}

// waker is the driver's Waker, whose wake-ups also make the next claim
// start from the head of the queue (worker.Leases.QueuedElsewhere).
func (w *typedWork[T, E, PT]) waker() backends.Waker {
	wk, ok := w.b.eng.Store().Driver().(backends.Waker)
	if !ok {
		return nil
	}
	return headWaker{wk, w.leases.QueuedElsewhere}
}

// headWaker is a Waker that calls queued before each wake-up.
type headWaker struct {
	backends.Waker
	queued func()
}

// Wake implements backends.Waker.
func (h headWaker) Wake(ctx context.Context, idle <-chan struct{}, wake func()) error {
	return h.Waker.Wake(ctx, idle, func() {
		h.queued()
		wake()
	})
}

// withRaw returns a copy of x with one field, by JSON name, set to a JSON
// value, decoded by the model's strict decoder.
func withRaw[T any](x *T, name string, value json.RawMessage) (*T, error) {
	return withRaws(x, map[string]json.RawMessage{name: value})
}

// withRaws returns a copy of x with fields, by JSON name, set to JSON
// values, decoded by the model's strict decoder: an unknown field or a
// value of the wrong type is an error naming it.
func withRaws[T any](x *T, fields map[string]json.RawMessage) (*T, error) {
	data, err := json.Marshal(x)
	if err != nil {
		return nil, err
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, err
	}
	for name, v := range fields {
		if _, ok := doc[name]; !ok {
			return nil, &tasktype.FieldError{Field: name, Rule: "unknown_field", Message: "the model has no such field"}
		}
		doc[name] = v
	}
	if data, err = json.Marshal(doc); err != nil {
		return nil, err
	}
	var next T
	if err := json.Unmarshal(data, &next); err != nil {
		return nil, err
	}
	return &next, nil
}

// joinOr lists names for a message, or says there are none.
func joinOr(names []string, none string) string {
	if len(names) == 0 {
		return none
	}
	return strings.Join(names, ", ")
}

// decodeAs decodes data as a task of v's model, by the model's strict
// decoder, and checks every limit of the spec (its Validate).
func decodeAs(v *view, data []byte) (any, error) {
	x := reflect.New(reflect.TypeOf(v.task).Elem()).Interface()
	if err := json.Unmarshal(data, x); err != nil {
		return nil, err
	}
	if val, ok := x.(interface{ Validate() error }); ok {
		if err := val.Validate(); err != nil {
			return nil, err
		}
	}
	return x, nil
}

// WorkerModels returns the names of the models with a worker section, whose
// tasks workers may claim over the worker protocol, in the order they were
// added.
func (ms *Models) WorkerModels() []string {
	var out []string
	for _, b := range ms.order {
		if b.worker().Claim != "" {
			out = append(out, b.name())
		}
	}
	return out
}
