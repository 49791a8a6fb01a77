package postgres

import (
	"time"

	"github.com/taskmodel/taskmodel/backends"
	"github.com/taskmodel/taskmodel/backends/sqltable"
)

// SetBackoff sets the delay before a Notifier's first reconnection attempt
// (tests: a long one keeps a terminated Notifier from reconnecting).
func SetBackoff(n *Notifier, d time.Duration) { n.backoff = d }

// SetBeforeReconnect makes n call f before each reconnection attempt. Call
// it before Listen.
func SetBeforeReconnect(n *Notifier, f func()) { n.beforeReconnect = f }

// SetWakeBackoff sets the delay before a WakeListener's first reconnection
// attempt.
func SetWakeBackoff(w *WakeListener, d time.Duration) { w.backoff = d }

// SetPlanPeriod makes Replanned's statements name period n as the current
// one until the test ends.
func SetPlanPeriod(t interface{ Cleanup(func()) }, n *int64) {
	old := planPeriod
	planPeriod = func() int64 { return *n }
	t.Cleanup(func() { planPeriod = old })
}

// TransitionArgs returns the parameters of the batch statement that would
// write xs as transitions from their current keys.
func TransitionArgs[T any](d *Driver[T], xs []*T) ([]any, error) {
	calls := make([]sqltable.Call[T], len(xs))
	for i, x := range xs {
		calls[i] = sqltable.Call[T]{Task: x, From: d.t.Key(x), History: backends.History{Event: "finish", Actor: "worker/1", Attempt: 1}}
	}
	_, args, err := d.t.BindMany("TransitionMany", calls)
	return args, err
}

// ArrayArg is arrayArg: the form the drivers give a batch statement's
// array argument v.
func ArrayArg(v any) any { return arrayArg(v) }
