package cli

import (
	"context"
	"errors"
	"syscall"
	"testing"
	"time"

	"github.com/taskmodel/taskmodel/sdk/workerhttp"
)

// TestProgressReport: a report the server cannot take now is sent again
// until it is taken or the window ends (then dropped); the server's 4xx
// and a cancelled context end it at once.
func TestProgressReport(t *testing.T) {
	refused := errors.New("dial tcp 127.0.0.1:1: connect: " + syscall.ECONNREFUSED.Error())
	unavailable := &workerhttp.Problem{Status: 503, Title: "Service Unavailable"}
	conflict := &workerhttp.Problem{Status: 409, Title: "Conflict", Detail: "the lease no longer holds"}
	for _, tc := range []struct {
		name     string
		answers  []error // one per try; the last repeats
		retryFor time.Duration
		cancel   bool
		tries    int
		dropped  bool
		want     error
	}{
		{"taken at once", []error{nil}, time.Minute, false, 1, false, nil},
		{"taken after a restart", []error{refused, unavailable, nil}, time.Minute, false, 3, false, nil},
		{"never taken", []error{refused}, 0, false, 1, true, refused},
		{"never taken, retried", []error{refused}, 400 * time.Millisecond, false, 2, true, refused}, // at least 2 (3 on a quiet machine)
		{"refused by the server", []error{conflict}, time.Minute, false, 1, false, conflict},
		{"cancelled", []error{refused}, time.Minute, true, 1, false, refused},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			tries := 0
			_, err := progressReport(ctx, tc.retryFor, func(context.Context) (workerhttp.LeaseState, error) {
				err := tc.answers[min(tries, len(tc.answers)-1)]
				tries++
				if tc.cancel {
					cancel()
				}
				return workerhttp.LeaseState{}, err
			})
			var d droppedError
			if errors.As(err, &d) != tc.dropped {
				t.Errorf("err = %v, dropped: want %v", err, tc.dropped)
			}
			if d.err != nil {
				err = d.err
			}
			if !errors.Is(err, tc.want) {
				t.Errorf("err = %v, want %v", err, tc.want)
			}
			if tries != tc.tries && !(tc.dropped && tc.retryFor > 0 && tries > tc.tries) {
				t.Errorf("%d tries, want %d", tries, tc.tries)
			}
		})
	}
}
