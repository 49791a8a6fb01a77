package server

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"
)

// slowBodies gives every request body a minimum rate (Config.BodyMinRate
// after Config.BodyGrace): before each read it sets the connection's read
// deadline to the moment the body would fall below that average, so a
// client that trickles its body is cut off while one that sends a large
// upload at a steady pace is not. Connections that do not support read
// deadlines (httptest recorders) are left as they are.
func (s *Server) slowBodies(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body != nil && r.Body != http.NoBody {
			r.Body = &rateBody{
				body: r.Body, rc: http.NewResponseController(w),
				start: time.Now(), rate: s.cfg.BodyMinRate, grace: s.cfg.BodyGrace,
			}
		}
		next.ServeHTTP(w, r)
	})
}

// rateBody is a request body read under a moving deadline.
type rateBody struct {
	body  io.ReadCloser
	rc    *http.ResponseController
	start time.Time
	rate  int64
	grace time.Duration
	n     int64
	done  bool // the body ended or failed: the deadline is cleared
	slow  bool
}

// errSlowBody is what a read of a body that fell below the minimum rate
// returns; it matches os.ErrDeadlineExceeded.
type errSlowBody struct{ rate int64 }

func (e *errSlowBody) Error() string {
	return fmt.Sprintf("the request body arrived slower than %d bytes per second", e.rate)
}
func (e *errSlowBody) Is(target error) bool { return target == os.ErrDeadlineExceeded }

// IsSlowBody reports whether err is a request body cut off for its pace.
func IsSlowBody(err error) bool {
	var e *errSlowBody
	return errors.As(err, &e)
}

func (b *rateBody) Read(p []byte) (int, error) {
	if b.done {
		if b.slow {
			return 0, &errSlowBody{b.rate}
		}
		return b.body.Read(p)
	}
	// The body must hold rate×(t−start−grace) bytes at every time t: with n
	// bytes read, the next ones must come before start+grace+n/rate.
	deadline := b.start.Add(b.grace + time.Duration(float64(b.n)/float64(b.rate)*float64(time.Second)))
	armed := b.rc.SetReadDeadline(deadline) == nil
	n, err := b.body.Read(p)
	b.n += int64(n)
	if err != nil && armed {
		// Past the body, the connection's read deadline is net/http's
		// again (its idle timeout, or the next request's).
		b.done = true
		_ = b.rc.SetReadDeadline(time.Time{})
		if errors.Is(err, os.ErrDeadlineExceeded) {
			b.slow = true
			return n, &errSlowBody{b.rate}
		}
	}
	return n, err
}

func (b *rateBody) Close() error {
	if !b.done {
		b.done = true
		_ = b.rc.SetReadDeadline(time.Time{})
	}
	return b.body.Close()
}
