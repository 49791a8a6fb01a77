package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/taskmodel/taskmodel/sdk/workerhttp"
	"github.com/taskmodel/taskmodel/tasktype"
)

// backoff is the wait between the tries of a request the server did not
// answer: 1 s, doubling up to 30 s.
type backoff struct{ next time.Duration }

// wait returns the next wait and doubles the one after it.
func (b *backoff) wait() time.Duration {
	if b.next == 0 {
		b.next = time.Second
	}
	d := b.next
	b.next = min(2*b.next, 30*time.Second)
	return d
}

// reset starts the waits again from 1 s.
func (b *backoff) reset() { b.next = 0 }

// endTimeout bounds one try of a task's end report.
const endTimeout = 30 * time.Second

// unknownLease is how long end reports are retried when the server gave no
// lease expiry.
const unknownLease = 30 * time.Second

// retryable reports whether an end report that failed with err may succeed
// when sent again: the server did not answer (it is restarting, a network
// cut, a timeout), or answered 5xx (a proxy's 502, 503 or 504, a database
// that is busy or not ready). A 4xx is the server's final word. Sending an
// end report again with the same lease is safe: a report the server had
// written is answered 200 again.
func retryable(err error) bool {
	if err == nil {
		return false
	}
	var p *workerhttp.Problem
	if errors.As(err, &p) {
		return p.Status >= 500
	}
	return true
}

// endReport sends an end report (send) of task t, retrying it with backoff
// while retryable says it may succeed and the lease may still hold, that
// is until until, the lease's expiry as the claim or the last heartbeat
// answered. what names the report in work's lines ("completing"). It
// returns the last try's error, and whether work gave up retrying.
func (r *workRunner) endReport(t workerhttp.Task, until time.Time, what string, send func(context.Context) error) (err error, gaveUp bool) {
	if until.IsZero() {
		until = time.Now().Add(unknownLease)
	}
	var b backoff
	for {
		ctx, cancel := context.WithTimeout(context.Background(), endTimeout)
		err = send(ctx)
		cancel()
		if !retryable(err) {
			return err, false
		}
		left := time.Until(until)
		if left <= 0 {
			r.note("task %s: %s failed (%v); giving up: its lease expired at %s, so the task goes back to the queue (or fails, out of attempts) and its command may run again", t.ID, what, err, until.Local().Format(time.TimeOnly))
			return err, true
		}
		wait := min(b.wait(), left)
		r.note("task %s: %s failed (%v); retrying in %s (until its lease expires at %s)", t.ID, what, err, wait.Round(time.Millisecond), until.Local().Format(time.TimeOnly))
		time.Sleep(wait)
	}
}

// maxFailMessage is the longest failure message the server takes
// (POST /worker/tasks/{id}/fail's message, in bytes).
const maxFailMessage = 100_000

// reportable makes msg text the server takes as a failure message: NUL
// characters and bytes that are not UTF-8 become U+FFFD (the server refuses
// both), and a message longer than maxFailMessage bytes is cut in the
// middle, as the model cuts one longer than its error field
// (tasktype.CutMiddle): its first quarter and its end are kept, joined by a
// mark saying how much was cut.
func reportable(msg string) string {
	msg = strings.ToValidUTF8(msg, "\uFFFD")
	msg = strings.ReplaceAll(msg, "\x00", "\uFFFD")
	if len(msg) <= maxFailMessage {
		return msg
	}
	mark := func(n int) string { return fmt.Sprintf(" … [%d bytes cut] … ", n) }
	keep := maxFailMessage - len(mark(len(msg)))
	head := keep / 4
	for head > 0 && !utf8.RuneStart(msg[head]) {
		head--
	}
	tail := len(msg) - (keep - head)
	for tail < len(msg) && !utf8.RuneStart(msg[tail]) {
		tail++
	}
	return msg[:head] + mark(tail-head) + msg[tail:]
}

// refusedMessage is the failure message sent in place of one the server
// refused (err says why).
func refusedMessage(err error) string {
	return reportable("the command failed, but the server refused its failure message (" + tasktype.Truncate(err.Error(), 500) + "); taskmodel work's output has the command's standard error")
}

// refusedPlain is the failure message sent when the server refused
// refusedMessage too.
const refusedPlain = "the command failed, but the server refused its failure message; taskmodel work's output has the command's standard error"
