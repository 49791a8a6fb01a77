package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/taskmodel/taskmodel/sdk/worker"
	"github.com/taskmodel/taskmodel/tasktype"
	"github.com/taskmodel/taskmodel/validation"
)

// The worker protocol: workers in any language claim and run the tasks of
// the models with a worker section over HTTP, with a worker token
// (auth.Store.CreateWorker), under the same leases, claim order, end
// events and rescue as the Go worker pools of sdk/worker
// (worker.Leases). See docs/workers.md.

// Limits of POST /worker/claim.
const (
	// MaxClaimLimit is the most tasks one claim returns.
	MaxClaimLimit = 100
	// MaxClaimWait is the longest a claim waits for a task (wait_seconds).
	MaxClaimWait = 30 * time.Second
	// ClaimPoll is how often, by default (Config.ClaimPoll), a waiting
	// claim looks for tasks when nothing woke it. A task queued in this
	// process wakes it at once; one queued by another process over
	// PostgreSQL or SQLite wakes it within milliseconds through the
	// model's driver (backends.Waker): the poll is the safety net, for a
	// wake-up lost while a listener reconnects and for drivers without one.
	ClaimPoll = time.Second
	// maxWorkerName bounds the worker name of a claim.
	maxWorkerName = 100
)

// workerRoutes adds the worker protocol's routes.
func (s *Server) workerRoutes(api func(string, map[string]http.HandlerFunc)) {
	// Every parameter of the protocol is in the body: a query parameter
	// (claim?wait_seconds=30) is refused, as on every other route, rather
	// than ignored.
	noQuery := func(h http.HandlerFunc) map[string]http.HandlerFunc {
		return map[string]http.HandlerFunc{"POST": func(w http.ResponseWriter, r *http.Request) {
			if r.URL.RawQuery != "" { // parsed only when there is one to refuse
				if _, err := queryOf(r); err != nil {
					s.writeProblem(w, r, err)
					return
				}
			}
			h(w, r)
		}}
	}
	api("/worker/claim", noQuery(s.workerClaim))
	api("/worker/tasks/{id}/heartbeat", noQuery(s.workerHeartbeat))
	api("/worker/tasks/{id}/progress", noQuery(s.workerProgress))
	api("/worker/tasks/{id}/complete", noQuery(s.workerComplete))
	api("/worker/tasks/{id}/fail", noQuery(s.workerFail))
	api("/worker/tasks/{id}/release", noQuery(s.workerRelease))
}

// checkScope keeps worker tokens to the /worker/ routes and everyone else
// out of them.
func checkScope(path string, u User) error {
	workerRoute := strings.HasPrefix(path, "/worker/")
	switch {
	case workerRoute && u.anonymous:
		return problem(http.StatusUnauthorized, "unauthorized", "Unauthorized", "the /worker/ routes need a worker token (taskmodel token create --worker --models MODEL,...); anonymous access does not reach them")
	case workerRoute && len(u.Models) == 0:
		return problem(http.StatusForbidden, "forbidden", "Forbidden", "the /worker/ routes need a worker token (taskmodel token create --worker --models MODEL,...); this token is a user's")
	case !workerRoute && len(u.Models) > 0:
		return problem(http.StatusForbidden, "forbidden", "Forbidden", "a worker token may only use the /worker/ routes (claim, heartbeat, progress, complete, fail, release)")
	}
	return nil
}

// workerModels lists the models with a worker section.
func (s *Server) workerModels() []string {
	var out []string
	for _, b := range s.models.order {
		if workOpsOf(b) != nil {
			out = append(out, b.name())
		}
	}
	return out
}

// workOpsFor returns the worker protocol of a model the request's token may
// work on; field names the request's field for a 400.
func (s *Server) workOpsFor(r *http.Request, field, model string) (workOps, error) {
	b, ok := s.models.byName[model]
	var ops workOps
	if ok {
		ops = workOpsOf(b)
	}
	if ops == nil && ok {
		return nil, badRequest(field, "one_of", fmt.Sprintf("model %q has no worker section (no worker claims its tasks); models with one: %s", model, joinOr(s.workerModels(), "none")))
	}
	if ops == nil {
		return nil, badRequest(field, "one_of", fmt.Sprintf("unknown model %q; models with a worker section: %s", truncate(model, 80), joinOr(s.workerModels(), "none")))
	}
	if u := userOf(r); !slices.Contains(u.Models, model) {
		return nil, problem(http.StatusForbidden, "forbidden", "Forbidden", fmt.Sprintf("this worker token may work on %s only, not %s", strings.Join(u.Models, ", "), model))
	}
	return ops, nil
}

// claimedTask is one task of a claim's answer.
type claimedTask struct {
	TaskType         string    `json:"task_type"`
	ID               uuid.UUID `json:"id"`
	Lease            string    `json:"lease"`
	LeaseExpiresAt   time.Time `json:"lease_expires_at"`
	HeartbeatSeconds int       `json:"heartbeat_seconds"`
	// Traceparent is the W3C trace context the task was created with: a
	// worker's spans continue that trace (omitted when there is none).
	Traceparent string          `json:"traceparent,omitempty"`
	Task        json.RawMessage `json:"task"`
}

// workerClaim is POST /worker/claim.
func (s *Server) workerClaim(w http.ResponseWriter, r *http.Request) {
	body, err := s.decodeObject(w, r)
	if err != nil {
		s.writeProblem(w, r, err)
		return
	}
	if err := onlyFields(body, "models", "limit", "wait_seconds", "worker"); err != nil {
		s.writeProblem(w, r, err)
		return
	}
	u := userOf(r)
	models := u.Models
	if raw, ok := body["models"]; ok {
		if models, err = stringList(raw, "models", 1, 100); err != nil {
			s.writeProblem(w, r, err)
			return
		}
	}
	limit, err := intField(body, "limit", 1, MaxClaimLimit, 1)
	if err != nil {
		s.writeProblem(w, r, err)
		return
	}
	wait, err := intField(body, "wait_seconds", 0, int(MaxClaimWait/time.Second), 0)
	if err != nil {
		s.writeProblem(w, r, err)
		return
	}
	name := "worker"
	if raw, ok := body["worker"]; ok {
		if name, err = workerName(raw); err != nil {
			s.writeProblem(w, r, err)
			return
		}
	}
	ops := make([]workOps, len(models))
	for i, m := range models {
		if slices.Index(models, m) < i {
			s.writeProblem(w, r, badRequest(fmt.Sprintf("models[%d]", i), "unique", fmt.Sprintf("%q is named twice", m)))
			return
		}
		if ops[i], err = s.workOpsFor(r, fmt.Sprintf("models[%d]", i), m); err != nil {
			s.writeProblem(w, r, err)
			return
		}
	}
	owner := leaseOwner(u.TokenID, name)
	ctx := r.Context()
	// Listen before the first look, so that a task queued in between
	// wakes the wait: in this process through the engine, in others
	// through the model's shared waker (claimwake.go).
	var wake chan struct{}
	var idles []func()
	if wait > 0 {
		wake = make(chan struct{}, 1)
		for _, o := range ops {
			idle, leave := s.claimWakers.join(o.name(), o.waker(), o.warmer(), wake)
			defer leave()
			idles = append(idles, idle)
			c, stop := o.queued(ctx)
			defer stop()
			go func() {
				for {
					select {
					case <-ctx.Done():
						return
					case _, ok := <-c:
						if !ok {
							return
						}
						select {
						case wake <- struct{}{}:
						default:
						}
					}
				}
			}()
		}
	}
	deadline := time.Now().Add(time.Duration(wait) * time.Second)
	out := []claimedTask{}
	var got []claimOf // the claims of out, to give back if the client left
	poll := time.NewTimer(0)
	defer poll.Stop()
	arm := time.NewTimer(time.Hour)
	arm.Stop()
	defer arm.Stop()
	for {
		for _, o := range ops {
			if len(out) == limit {
				break
			}
			claims, err := o.claim(ctx, owner, limit-len(out))
			if s.afterClaim != nil {
				s.afterClaim(ctx)
			}
			if err != nil && ctx.Err() == nil {
				if len(out) == 0 {
					s.writeProblem(w, r, err)
					return
				}
				s.log.WarnContext(ctx, "claim failed", "model", o.name(), "error", err)
			}
			for _, c := range claims {
				got = append(got, claimOf{o, c})
				t, err := taskJSON(c.view)
				if err != nil {
					s.writeProblem(w, r, err)
					return
				}
				out = append(out, claimedTask{
					TaskType: o.name(), ID: c.view.key.ID, Lease: leaseString(o.name(), c.view.key.ID, c.lease),
					LeaseExpiresAt: c.expires.UTC(), HeartbeatSeconds: heartbeatSeconds(o.spec()), Traceparent: c.traceparent, Task: t,
				})
			}
		}
		left := time.Until(deadline)
		if len(out) > 0 || left <= 0 || ctx.Err() != nil {
			break
		}
		poll.Reset(min(s.cfg.ClaimPoll, left))
		// Having waited claimArmAfter, the claim tells the wakers it is
		// idle: they watch from then on (and wake it at once if a task was
		// queued since its look).
		arm.Reset(claimArmAfter)
		armed := arm.C
		for waiting := true; waiting; {
			select {
			case <-ctx.Done():
				waiting = false
			case <-wake:
				waiting = false
			case <-poll.C:
				waiting = false
			case <-armed:
				armed = nil
				for _, idle := range idles {
					idle()
				}
			}
		}
		arm.Stop()
		if ctx.Err() != nil {
			break // the client went away: no claim for nobody
		}
	}
	if ctx.Err() != nil && len(got) > 0 {
		// The client went away as its claim found tasks: nobody will run
		// them, so they go back to the queue now, not when their leases
		// expire.
		s.releaseClaims(ctx, got, "the claim's client went away before the answer")
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, map[string]any{"tasks": out})
}

// claimOf is a task a claim claimed, with its model's protocol.
type claimOf struct {
	ops workOps
	c   claimedView
}

// releaseClaims gives back claimed tasks that no worker got (worker.Leases
// .Release); a model without a requeue event keeps them until their
// leases expire.
func (s *Server) releaseClaims(ctx context.Context, claims []claimOf, reason string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	for _, c := range claims {
		if c.ops.spec().Requeue == "" {
			continue
		}
		if _, err := c.ops.release(ctx, c.c.view, c.c.lease, reason); err != nil {
			s.log.WarnContext(ctx, "giving back a claimed task failed; it goes back to the queue when its lease expires", "model", c.ops.name(), "task", c.c.view.key.ID, "error", err)
		}
	}
}

// heartbeatSeconds is how often a worker should heartbeat: a third of the
// lease, at least a second.
func heartbeatSeconds(spec tasktype.Worker) int {
	return max(1, int(spec.Lease/3/time.Second))
}

// notHeldDetail is the detail of the lease-lost 409 of a lease that no
// longer holds its task.
const notHeldDetail = "this lease no longer holds the task: it expired and the task was rescued or claimed again, or it ended, or it was released"

// leaseState is the answer of heartbeat and progress.
type leaseState struct {
	Cancelled      bool       `json:"cancelled"`
	LeaseExpiresAt *time.Time `json:"lease_expires_at"`
	// Recorded, of a progress report, tells whether it was stored: false
	// when the task's status maps no progress and no detail was given.
	Recorded *bool `json:"recorded,omitempty"`
}

// heldLease is a request's task and lease, checked to be the token's.
type heldLease struct {
	id    uuid.UUID
	ops   workOps
	lease workerLease
}

// workerTask reads the path's id and the body's lease, and checks the lease
// is the token's for a model the token may work on.
func (s *Server) workerTask(r *http.Request, body map[string]json.RawMessage) (heldLease, error) {
	id, err := taskID(r.PathValue("id"))
	if err != nil {
		return heldLease{}, err
	}
	var ls string
	lraw, ok := body["lease"]
	if !ok || json.Unmarshal(lraw, &ls) != nil {
		return heldLease{}, badRequest("lease", "required", "must be the lease string POST /worker/claim returned with the task")
	}
	l, err := parseLease(ls)
	if err != nil {
		return heldLease{}, err
	}
	ops, err := s.workOpsFor(r, "lease", l.model)
	if err != nil {
		return heldLease{}, err
	}
	if !strings.HasPrefix(l.lease.Owner, userOf(r).TokenID+":") {
		return heldLease{}, leaseLost("the lease was not claimed with this token")
	}
	if l.task != uuid.Nil && l.task != id {
		return heldLease{}, leaseLost(fmt.Sprintf("the lease was claimed with task %s, not %s: send each task's own lease", l.task, id))
	}
	return heldLease{id: id, ops: ops, lease: l}, nil
}

// renew heartbeats the lease. held false: the task left the running status
// by a cancel while the lease held it (cancelled true), or the lease is lost
// (err a 409 lease-lost).
func (s *Server) renew(ctx context.Context, h heldLease) (expires time.Time, cancelled bool, err error) {
	held, expires, err := h.ops.heartbeat(ctx, h.id, h.lease.lease)
	if err != nil || held {
		return expires, false, err
	}
	c, err := h.ops.cancelled(ctx, h.id, h.lease.lease)
	if err != nil {
		return time.Time{}, false, err
	}
	if c {
		return time.Time{}, true, nil
	}
	return time.Time{}, false, leaseLost(notHeldDetail)
}

// workerHeartbeat is POST /worker/tasks/{id}/heartbeat.
func (s *Server) workerHeartbeat(w http.ResponseWriter, r *http.Request) {
	_, h, err := s.workerRequest(w, r, "lease")
	if err != nil {
		s.writeProblem(w, r, err)
		return
	}
	ctx, end := h.ops.startReport(r.Context(), "heartbeat", h.id, nil)
	exp, cancelled, err := s.renew(ctx, h)
	end(err)
	if err != nil {
		s.writeProblem(w, r, err)
		return
	}
	writeLeaseState(w, exp, cancelled, nil)
}

func writeLeaseState(w http.ResponseWriter, exp time.Time, cancelled bool, recorded *bool) {
	st := leaseState{Cancelled: cancelled, Recorded: recorded}
	if !cancelled {
		e := exp.UTC()
		st.LeaseExpiresAt = &e
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, st)
}

// progressTries bounds the retries of a progress report that raced with
// another change of the task (a progress of the same worker).
const progressTries = 4

// workerProgress is POST /worker/tasks/{id}/progress.
func (s *Server) workerProgress(w http.ResponseWriter, r *http.Request) {
	body, h, err := s.workerRequest(w, r, "lease", "percent", "detail")
	var percent float64
	if err == nil {
		percent, err = percentField(body)
	}
	if err != nil {
		s.writeProblem(w, r, err)
		return
	}
	var detail json.RawMessage
	if raw, ok := body["detail"]; ok && string(raw) != "null" {
		if len(raw) == 0 || raw[0] != '{' {
			s.writeProblem(w, r, badRequest("detail", "object", "must be a JSON object: the task's progress_detail"))
			return
		}
		detail = raw
	}
	ctx := r.Context()
	v, err := h.ops.get(ctx, h.id)
	if errors.Is(err, tasktype.ErrNotFound) {
		err = noLeasedTask(h)
	}
	if err != nil {
		s.writeProblem(w, r, err)
		return
	}
	if detail != nil {
		if !hasField(v, "progress_detail") {
			s.writeProblem(w, r, badRequest("detail", "none", fmt.Sprintf("must be omitted: model %s has no progress_detail field", h.ops.name())))
			return
		}
		if _, err := withRawView(v, detail); err != nil {
			s.writeProblem(w, r, prefixField(err, "detail"))
			return
		}
	}
	ctx, end := h.ops.startReport(ctx, "progress", h.id, v)
	err = s.reportProgress(ctx, w, h, v, percent, detail)
	end(err)
	if err != nil {
		s.writeProblem(w, r, err)
	}
}

// reportProgress renews the lease and records the progress of a task read
// as v; it writes the answer, or returns the error to answer.
func (s *Server) reportProgress(ctx context.Context, w http.ResponseWriter, h heldLease, v *view, percent float64, detail json.RawMessage) error {
	exp, cancelled, err := s.renew(ctx, h)
	if err != nil || cancelled {
		if err != nil {
			return err
		}
		writeLeaseState(w, exp, true, nil)
		return nil
	}
	for try := 1; ; try++ {
		if v.key.Status != h.ops.spec().Running {
			writeLeaseState(w, exp, true, nil)
			return nil
		}
		_, recorded, err := h.ops.progress(ctx, v, percent, detail)
		if errors.Is(err, tasktype.ErrConflict) && try < progressTries {
			if v, err = h.ops.get(ctx, h.id); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			return err
		}
		writeLeaseState(w, exp, false, &recorded)
		return nil
	}
}

// workerComplete is POST /worker/tasks/{id}/complete.
func (s *Server) workerComplete(w http.ResponseWriter, r *http.Request) {
	body, h, err := s.workerRequest(w, r, "lease", "result")
	if err != nil {
		s.writeProblem(w, r, err)
		return
	}
	var result map[string]json.RawMessage
	if raw, ok := body["result"]; ok && string(raw) != "null" {
		if result, err = parseObject(raw); err != nil {
			s.writeProblem(w, r, nestedProblem("result", err, "must be a JSON object of result fields"))
			return
		}
		allowed := h.ops.results()
		for _, k := range sortedKeys(result) {
			if !slices.Contains(allowed, k) {
				s.writeProblem(w, r, badRequest("result."+k, "unknown_field", fmt.Sprintf("is not a result field of model %s; result fields: %s", h.ops.name(), joinOr(allowed, "none (send no result)"))))
				return
			}
		}
	}
	s.finishTask(w, r, h, nil, result)
}

// workerFail is POST /worker/tasks/{id}/fail.
func (s *Server) workerFail(w http.ResponseWriter, r *http.Request) {
	body, h, err := s.workerRequest(w, r, "lease", "error_code", "message")
	var code, msg string
	if err == nil {
		code, err = stringField(body, "error_code", 100, false)
	}
	if err == nil && code == "" && string(body["error_code"]) == `""` {
		// On every model: "" is no code, which is said by omitting it.
		err = badRequest("error_code", "empty", "must not be empty: omit error_code for no code")
	}
	if err == nil {
		msg, err = stringField(body, "message", 100_000, true)
	}
	if err == nil {
		err = h.ops.checkCode(code)
	}
	if err != nil {
		s.writeProblem(w, r, err)
		return
	}
	if msg == "" {
		msg = "failed"
	}
	s.finishTask(w, r, h, &worker.Error{Code: code, Message: msg}, nil)
}

// finishTask ends a task with the worker section's complete (outcome nil)
// or fail event, after checking the lease still holds it (a read: the
// lease is not renewed).
func (s *Server) finishTask(w http.ResponseWriter, r *http.Request, h heldLease, outcome error, result map[string]json.RawMessage) {
	ctx := r.Context()
	v, err := h.ops.get(ctx, h.id)
	if errors.Is(err, tasktype.ErrNotFound) {
		err = noLeasedTask(h)
	}
	if err != nil {
		s.writeProblem(w, r, err)
		return
	}
	if len(result) > 0 {
		if _, err := withRawsView(v, result); err != nil {
			s.writeProblem(w, r, prefixField(err, "result"))
			return
		}
	}
	// The lease must hold the task as read: the end write is guarded by
	// the version read, which any take-over changes.
	held, err := h.ops.holds(ctx, v, h.lease.lease)
	if err == nil && !held {
		// A retry of an end this lease wrote already (its answer was lost:
		// a dropped connection, a restart) gets the answer it missed.
		var ended bool
		if ended, err = h.ops.ended(ctx, h.id, h.lease.lease, outcome); err == nil && ended {
			s.writeTask(w, r, http.StatusOK, v)
			return
		}
	}
	if err == nil && !held {
		var cancelled bool
		if cancelled, err = h.ops.cancelled(ctx, h.id, h.lease.lease); err == nil {
			if cancelled {
				p := problem(http.StatusConflict, "transition", "Task cancelled", fmt.Sprintf("the task was cancelled while it ran; it is %s", v.key.Status))
				p.CurrentStatus, p.AllowedActions = v.key.Status, []string{}
				err = p
			} else {
				err = leaseLost(notHeldDetail)
			}
		}
	}
	if err != nil {
		s.writeProblem(w, r, err)
		return
	}
	next, err := h.ops.finish(context.WithoutCancel(ctx), v, h.lease.lease, outcome, result)
	if errors.Is(err, tasktype.ErrConflict) {
		// The task moved since it was read: cancelled, or rescued.
		if c, cerr := h.ops.cancelled(ctx, h.id, h.lease.lease); cerr == nil && !c {
			const why = "the task moved while this request ended it: another request with this lease ended or released it first, or the lease expired and the task was rescued"
			err = leaseLost(why)
			if cur, gerr := h.ops.get(ctx, h.id); gerr == nil {
				err = leaseLost(fmt.Sprintf("%s; it is %s now", why, cur.key.Status))
			}
		} else if cerr == nil {
			p := problem(http.StatusConflict, "transition", "Task cancelled", "the task was cancelled while it ran")
			if cur, gerr := h.ops.get(ctx, h.id); gerr == nil {
				p.CurrentStatus = cur.key.Status
			}
			p.AllowedActions = []string{}
			err = p
		}
	}
	if err != nil {
		if p := toProblem(err); p.Status == http.StatusConflict && p.CurrentStatus != "" {
			p.Detail = fmt.Sprintf("the task is %s: it cannot be ended now", p.CurrentStatus)
		}
		s.writeProblem(w, r, err)
		return
	}
	s.writeTask(w, r, http.StatusOK, next)
}

// workerRelease is POST /worker/tasks/{id}/release: the worker gives back
// a task it claimed and has not started (worker.Leases.Release). The task
// goes back to the queue by the worker section's requeue event, its lease
// ends so that any worker can claim it at once, and the claim is not
// counted as an attempt. The answer is the task, queued.
func (s *Server) workerRelease(w http.ResponseWriter, r *http.Request) {
	body, h, err := s.workerRequest(w, r, "lease", "message")
	var reason string
	if err == nil {
		reason, err = stringField(body, "message", worker.MaxReleaseReason, true)
	}
	if err == nil && h.ops.spec().Requeue == "" {
		p := problem(http.StatusConflict, "transition", "Release not possible",
			fmt.Sprintf("model %s has no requeue event in its worker section: nothing leads a claimed task back to the queue; complete or fail the task", h.ops.name()))
		p.AllowedActions = []string{}
		err = p
	}
	if err != nil {
		s.writeProblem(w, r, err)
		return
	}
	ctx := r.Context()
	v, err := h.ops.get(ctx, h.id)
	if errors.Is(err, tasktype.ErrNotFound) {
		err = noLeasedTask(h)
	}
	if err != nil {
		s.writeProblem(w, r, err)
		return
	}
	next, err := h.ops.release(context.WithoutCancel(ctx), v, h.lease.lease, reason)
	switch {
	case next != nil && err != nil:
		// Released; only the lease's early end failed: the task is
		// claimable once the lease expires.
		s.log.WarnContext(ctx, "released task keeps its lease until it expires", "task", h.id, "error", err)
		err = nil
	case errors.Is(err, worker.ErrNotHeld) || errors.Is(err, tasktype.ErrConflict):
		err = s.notReleased(ctx, h)
	}
	if err != nil {
		s.writeProblem(w, r, err)
		return
	}
	s.writeTask(w, r, http.StatusOK, next)
}

// notReleased is the 409 of a release whose lease does not hold the task:
// the task was cancelled while the lease held it, the lease released it
// already, or the lease was lost (expired and taken over) or the task
// ended.
func (s *Server) notReleased(ctx context.Context, h heldLease) error {
	cancelled, err := h.ops.cancelled(ctx, h.id, h.lease.lease)
	if err != nil {
		return err
	}
	if cancelled {
		p := problem(http.StatusConflict, "transition", "Task cancelled", "the task was cancelled while this lease held it: there is nothing to release")
		if cur, err := h.ops.get(ctx, h.id); err == nil {
			p.CurrentStatus = cur.key.Status
		}
		p.AllowedActions = []string{}
		return p
	}
	released, err := h.ops.released(ctx, h.id, h.lease.lease)
	if err != nil {
		return err
	}
	if released {
		return leaseLost("this lease released the task already: the task went back to the queue, and the lease holds it no more")
	}
	return leaseLost(notHeldDetail)
}

// onlyFields refuses a body field not named.
// workerRequest reads a worker route's JSON object, which may hold only
// the fields named (the lease among them), and finds the task its lease
// holds.
func (s *Server) workerRequest(w http.ResponseWriter, r *http.Request, fields ...string) (map[string]json.RawMessage, heldLease, error) {
	body, err := s.decodeObject(w, r)
	if err == nil {
		err = onlyFields(body, fields...)
	}
	if err != nil {
		return nil, heldLease{}, err
	}
	h, err := s.workerTask(r, body)
	return body, h, err
}

func onlyFields(body map[string]json.RawMessage, names ...string) error {
	for _, k := range sortedKeys(body) {
		if !slices.Contains(names, k) {
			return badRequest(k, "unknown_field", fmt.Sprintf("unknown field; allowed: %s", strings.Join(names, ", ")))
		}
	}
	return nil
}

// intField reads an optional integer field between lo and hi, written in
// digits (integerValue: 1.0 and 1e0 are refused, as POST /tasks refuses
// them).
func intField(body map[string]json.RawMessage, name string, lo, hi, def int) (int, error) {
	raw, ok := body[name]
	if !ok || string(raw) == "null" {
		return def, nil
	}
	n, rule, msg := integerValue(raw, int64(lo), int64(hi))
	if msg != "" {
		return 0, badRequest(name, rule, msg)
	}
	return int(n), nil
}

// percentField reads the required percent, a number from 0 to 100; null
// is no percent, as its absence is (not 0).
func percentField(body map[string]json.RawMessage) (float64, error) {
	raw, ok := body["percent"]
	if !ok || string(raw) == "null" {
		return 0, badRequest("percent", "required", "is required: a number between 0 and 100")
	}
	if kind := jsonType(raw); kind != "a number" {
		return 0, badRequest("percent", "type", "must be a number between 0 and 100, not "+kind)
	}
	var f float64
	if json.Unmarshal(raw, &f) != nil || math.IsNaN(f) || f < 0 || f > 100 {
		return 0, badRequest("percent", "range", fmt.Sprintf("must be between 0 and 100 (got %s)", truncate(string(raw), 40)))
	}
	return f, nil
}

// jsonType names the JSON type of a value parseObject accepted, in JSON's
// words: "a number", "a string", "a boolean", "an array", "an object",
// "null".
func jsonType(raw json.RawMessage) string {
	if len(raw) == 0 {
		return "nothing"
	}
	switch raw[0] {
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case '[':
		return "an array"
	case '{':
		return "an object"
	case 'n':
		return "null"
	}
	return "a number"
}

// noLeasedTask is the 409 of a lease sent with the id of no task of its
// model (none at all, or one of another model).
func noLeasedTask(h heldLease) *Problem {
	return leaseLost(fmt.Sprintf("no task of model %s, the model of this lease, has this id: a lease holds only the task it was claimed with", h.ops.name()))
}

// stringField reads an optional string field of at most max bytes, valid
// text (single-line unless multiline).
func stringField(body map[string]json.RawMessage, name string, max int, multiline bool) (string, error) {
	raw, ok := body[name]
	if !ok || string(raw) == "null" {
		return "", nil
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return "", badRequest(name, "type", "must be a string")
	}
	if len(s) > max {
		return "", badRequest(name, "max_len", fmt.Sprintf("must be at most %d bytes", max))
	}
	if err := validation.CheckText(s, multiline); err != nil {
		return "", badRequest(name, "text", err.Error())
	}
	return s, nil
}

// stringList reads a list of 1 to hi strings.
func stringList(raw json.RawMessage, name string, lo, hi int) ([]string, error) {
	var items []json.RawMessage
	if json.Unmarshal(raw, &items) != nil || len(items) < lo || len(items) > hi {
		return nil, badRequest(name, "list", fmt.Sprintf("must be a list of %d to %d model names", lo, hi))
	}
	out := make([]string, len(items))
	for i, item := range items {
		// Each item is a JSON string: null (which decodes as "") or a
		// number is not a name of a model that does not exist.
		if len(item) == 0 || item[0] != '"' || json.Unmarshal(item, &out[i]) != nil {
			return nil, badRequest(fmt.Sprintf("%s[%d]", name, i), "type", fmt.Sprintf("must be a model name (a string), not %s", truncate(string(item), 40)))
		}
	}
	return out, nil
}

// workerName reads a claim's worker name (CheckWorkerName).
func workerName(raw json.RawMessage) (string, error) {
	var s string
	if json.Unmarshal(raw, &s) != nil {
		s = "" // not a string: refused as an empty name is
	}
	if err := CheckWorkerName(s); err != nil {
		return "", badRequest("worker", "pattern", err.Error())
	}
	return s, nil
}

// CheckWorkerName refuses a worker name a claim does not take: it must be
// 1 to 100 letters, digits and . _ - @ : /. The error says so, without the
// field's name, for its caller to name the field (a claim's "worker",
// taskmodel work's --worker).
func CheckWorkerName(s string) error {
	ok := s != "" && len(s) <= maxWorkerName
	for _, c := range s {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.ContainsRune("._-@:/", c)) {
			ok = false
		}
	}
	if !ok {
		return fmt.Errorf("must be 1 to %d letters, digits and . _ - @ : / (a host name, say)", maxWorkerName)
	}
	return nil
}

// hasField reports whether a task's JSON has a field.
func hasField(v *view, name string) bool {
	data, err := json.Marshal(v.task)
	if err != nil {
		return false
	}
	var doc map[string]json.RawMessage
	if json.Unmarshal(data, &doc) != nil {
		return false
	}
	_, ok := doc[name]
	return ok
}

// withRawView checks a progress detail against the task's model.
func withRawView(v *view, detail json.RawMessage) (any, error) {
	return withRawsView(v, map[string]json.RawMessage{"progress_detail": detail})
}

// withRawsView checks field values against the task's model: its strict
// decoder and its Validate, and no null where a field cannot hold one
// (the decoder would read it as the field's default).
func withRawsView(v *view, fields map[string]json.RawMessage) (any, error) {
	data, err := json.Marshal(v.task)
	if err != nil {
		return nil, err
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, err
	}
	for k, x := range fields {
		doc[k] = x
	}
	if data, err = json.Marshal(doc); err != nil {
		return nil, err
	}
	x, err := decodeAs(v, data)
	if err != nil {
		return nil, err
	}
	sent, err := json.Marshal(fields)
	if err != nil {
		return nil, err
	}
	if err := validation.CheckNulls(sent, v.task); err != nil {
		return nil, err
	}
	return x, nil
}

// prefixField puts prefix in front of the field names of a validation
// error about a body's nested object (detail, result).
func prefixField(err error, prefix string) error {
	p := toProblem(err)
	if p.Status != http.StatusBadRequest {
		return err
	}
	out := *p
	out.Errors = nil
	for _, f := range p.Errors {
		if f.Field != prefix && !strings.HasPrefix(f.Field, prefix+".") {
			if f.Field == "progress_detail" || strings.HasPrefix(f.Field, "progress_detail.") {
				f.Field = prefix + strings.TrimPrefix(f.Field, "progress_detail")
			} else if prefix == "result" {
				f.Field = prefix + "." + f.Field
			}
		}
		out.Errors = append(out.Errors, f)
	}
	if len(out.Errors) > 0 {
		parts := make([]string, len(out.Errors))
		for i, f := range out.Errors {
			parts[i] = f.Field + ": " + f.Message
		}
		out.Detail = strings.Join(parts, "; ")
	}
	return &out
}
