package spec

import (
	"fmt"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// DefaultLease is how long a worker holds a task between heartbeats when the
// worker section gives no lease.
const DefaultLease = 30 * time.Second

// worker reads the worker section: which events a worker pool fires, and how
// a task whose worker vanished is rescued. Events must be resolved and the
// events' required fields known (it runs after statusDetails).
func (l *loader) worker(n *yaml.Node) {
	const what = "worker"
	k := l.keys(n, what, "doc", "claim", "complete", "fail", "cancel", "requeue", "max_attempts", "lease", "error_code")
	w := &Worker{Pos: l.pos(n), MaxAttempts: 1, Lease: DefaultLease}
	event := func(key string, required bool) (*Event, *yaml.Node) {
		v, ok := k[key]
		if !ok {
			if required {
				l.errorf(n, "worker needs %s: the event a worker fires %s", key, workerRole[key])
			}
			return nil, nil
		}
		name, ok := l.str(v.val, "worker "+key)
		if !ok {
			return nil, nil
		}
		e := l.m.EventByName(name)
		if e == nil {
			l.errorf(v.val, "worker %s: unknown event %q; events are %s", key, name, l.eventNames())
		}
		if l.brokenEvents[e] {
			return nil, nil // its own error says what is wrong
		}
		return e, v.val
	}
	claim, claimNode := event("claim", true)
	if claim != nil {
		switch {
		case len(claim.From) != 1:
			l.errorf(claimNode, "worker claim: event %q must fire from exactly one status (the queue workers take tasks from), not %d", claim.Name, len(claim.From))
			claim = nil
		case claim.To == nil:
			claim = nil
		case claim.To == claim.From[0]:
			l.errorf(claimNode, "worker claim: event %q leads from %s back to %s; it must lead from the queue to the status a task runs in", claim.Name, claim.To.Name, claim.To.Name)
			claim = nil
		case claim.To.Terminal:
			l.errorf(claimNode, "worker claim: event %q leads to terminal status %s; it must lead to the status a task runs in", claim.Name, claim.To.Name)
			claim = nil
		default:
			w.Claim, w.Queue, w.Running = claim, claim.From[0], claim.To
		}
	}
	// leaves checks an event that must leave the running status for a
	// terminal one (or, for requeue, for the queue).
	leaves := func(key string, required bool) *Event {
		e, at := event(key, required)
		if e == nil || w.Running == nil || e.To == nil {
			return nil
		}
		if !e.Leaves(w.Running) {
			l.errorf(at, "worker %s: event %q does not fire from %s, the status claim %q leads to", key, e.Name, w.Running.Name, w.Claim.Name)
			return nil
		}
		if key == "requeue" {
			if e.To != w.Queue {
				l.errorf(at, "worker requeue: event %q leads to %s; it must lead back to %s, the status workers claim from", e.Name, e.To.Name, w.Queue.Name)
				return nil
			}
			return e
		}
		if e.To == w.Running || e.To == w.Queue {
			l.errorf(at, "worker %s: event %q leads to %s; it must lead out of the running and queue statuses", key, e.Name, e.To.Name)
			return nil
		}
		if key != "complete" && !e.To.Terminal {
			l.errorf(at, "worker %s: event %q leads to %s, which is not terminal", key, e.Name, e.To.Name)
			return nil
		}
		return e
	}
	w.Complete = leaves("complete", true)
	w.Fail = leaves("fail", true)
	w.Cancel = leaves("cancel", false)
	w.Requeue = leaves("requeue", false)
	if v, ok := k["max_attempts"]; ok {
		if a, ok := l.integer(v.val, "worker max_attempts"); ok {
			switch {
			case a < 1 || a > 1000:
				l.errorf(v.val, "worker max_attempts must be between 1 and 1000, not %d", a)
			case a > 1 && k["requeue"].val == nil:
				l.errorf(v.val, "worker max_attempts %d needs requeue: the event that puts a task whose worker vanished back in the queue", a)
			default:
				w.MaxAttempts = int(a)
			}
		}
	}
	if v, ok := k["lease"]; ok {
		if d, ok := l.duration(v.val, "worker lease"); ok {
			if d < time.Second {
				l.errorf(v.val, "worker lease must be at least 1s, not %s", d)
			} else {
				w.Lease = d
			}
		}
	}
	if v, ok := k["error_code"]; ok {
		w.ErrorCode = l.errorCode(v.val, "worker error_code")
	}
	if w.Fail != nil {
		for _, r := range w.Fail.Requires {
			f := l.m.FieldByName(r.Name)
			if f == nil {
				continue // reported where the event requires it
			}
			switch {
			case f.Type.Kind == KindErrorCode:
				if _, ok := k["error_code"]; !ok {
					l.errorf(n, "worker needs error_code: event %q requires field %q, and a failure without a code (a panic, a lost lease) needs one; error codes are %s", w.Fail.Name, f.Name, l.errorCodeNames())
				}
			case f.Type.Kind == KindString:
			default:
				l.errorf(n, "worker fail: event %q requires field %q (%s), which a worker cannot fill; a worker fills an ErrorCode field with the error's code and a string field with its message", w.Fail.Name, f.Name, f.Type.Name())
			}
		}
	}
	l.m.Worker = w
}

var workerRole = map[string]string{
	"claim":    "to take a queued task (it fires from the queue status to the running one)",
	"complete": "when its handler succeeds",
	"fail":     "when its handler fails",
}

func (l *loader) eventNames() string {
	names := make([]string, len(l.m.Events))
	for i, e := range l.m.Events {
		names[i] = e.Name
	}
	return strings.Join(names, ", ")
}

// progressField finds the model field that receives the statuses' progress:
// a field named progress, which must then be an int bounded 0–100.
func (l *loader) progressField() {
	mapped := false
	for _, s := range l.m.Statuses {
		mapped = mapped || s.Progress != nil
	}
	f := l.m.FieldByName("progress")
	if mapped && f == nil {
		// A range is filled in by reports (ReportProgress), which have
		// nowhere to write without the field: every report would be
		// refused as a status that maps no progress.
		for _, s := range l.m.Statuses {
			if p := s.Progress; p != nil && !p.Fixed {
				l.errs = append(l.errs, &Error{Pos: p.Pos, Msg: fmt.Sprintf("status %q maps a progress range (%d–%d), which progress reports fill in field \"progress\"; the model has no such field: add progress: {type: int, ge: 0, le: 100, default: 0} under fields", s.Name, p.From, p.To)})
			}
		}
		return
	}
	if !mapped {
		return
	}
	if f.Type.Kind != KindInt || f.Optional || f.Ge == nil || *f.Ge != 0 || f.Le == nil || *f.Le != 100 {
		l.file = f.Pos.File
		bound := func(b *float64) string {
			if b == nil {
				return "none"
			}
			return fmtNum(*b)
		}
		l.errs = append(l.errs, &Error{Pos: f.Pos, Msg: fmt.Sprintf("field \"progress\" receives the percent the statuses map (progress:); it must be a non-optional int with ge: 0 and le: 100, not %s with ge: %s and le: %s", describe(f), bound(f.Ge), bound(f.Le))})
		return
	}
	l.m.ProgressField = f
}
