package postgres

import "time"

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
