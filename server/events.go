package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// taskEvents streams a task's changes as Server-Sent Events: one "task"
// event per change, its data the task as GET /tasks/{id} returns it and its
// id the task's version. The stream starts with the current state and ends
// after a terminal status, or with an "event: problem" when the task can no
// longer be followed; comments keep idle connections open.
//
// A reconnection whose Last-Event-ID is at least the version of a task
// that has finished has seen its last event: it is answered 204 No
// Content, which stops a browser's EventSource from reconnecting.
func (s *Server) taskEvents(w http.ResponseWriter, r *http.Request) {
	v, b, err := s.lookup(r)
	if err != nil {
		s.writeProblem(w, r, err)
		return
	}
	if v.finished && seenVersion(r, v.key.Version) {
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusNoContent)
		return
	}
	ctx := r.Context()
	changes, stop, ended, err := b.watch(ctx, v.key.ID)
	if err != nil {
		s.writeProblem(w, r, err)
		return
	}
	defer stop()
	rc, err := OpenEventStream(w)
	if err != nil {
		return
	}
	beat := time.NewTicker(s.cfg.Heartbeat)
	defer beat.Stop()
	recheck := time.NewTicker(s.cfg.TokenRecheck)
	defer recheck.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-recheck.C:
			// A token revoked (or a user no longer allowed to see the
			// task) ends the stream; a failing token store does not.
			u, err := s.authenticate(r)
			var p *Problem
			if errors.As(err, &p) || (err == nil && !visible(u, v)) {
				_, _ = fmt.Fprint(w, unauthorizedEvent)
				_ = rc.Flush()
				return
			}
			if err != nil {
				s.log.WarnContext(ctx, "event stream: token check failed", slog.Any("error", err))
			}
		case <-beat.C:
			if _, err := fmt.Fprint(w, ": keep-alive\n\n"); err != nil || rc.Flush() != nil {
				return
			}
		case c, ok := <-changes:
			if !ok {
				if err := ended(); err != nil && ctx.Err() == nil {
					s.endWithProblem(w, r, rc, err)
				}
				return
			}
			body, err := taskJSON(c)
			if err != nil {
				return
			}
			if _, err := fmt.Fprintf(w, "event: task\nid: %d\ndata: %s\n\n", c.key.Version, body); err != nil || rc.Flush() != nil {
				return
			}
			if c.finished {
				return
			}
		}
	}
}

// endWithProblem ends a task's event stream that can no longer follow its
// task (deleted, moved by a newer spec to a status this server does not
// know, or unreadable) with an "event: problem" whose data is the problem
// GET /tasks/{id} would answer: a client must not take the end for a
// finish.
func (s *Server) endWithProblem(w http.ResponseWriter, r *http.Request, rc *http.ResponseController, err error) {
	p := *toProblem(err)
	if p.Status >= 500 && p.Status != http.StatusServiceUnavailable {
		s.log.ErrorContext(r.Context(), "event stream failed", slog.String("path", r.URL.Path), slog.Any("error", err))
	}
	p.Instance = r.URL.Path
	body, merr := json.Marshal(&p)
	if merr != nil {
		return
	}
	_, _ = fmt.Fprintf(w, "event: problem\ndata: %s\n\n", body)
	_ = rc.Flush()
}

// OpenEventStream answers 200 with a Server-Sent Events stream's headers
// (uncached, unbuffered by proxies) and a 2 s reconnection delay, flushed:
// the opening of the API's task streams and the dashboard's.
func OpenEventStream(w http.ResponseWriter) (*http.ResponseController, error) {
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	_, _ = fmt.Fprint(w, "retry: 2000\n\n")
	return rc, rc.Flush()
}

// unauthorizedEvent ends a stream whose token was revoked.
const unauthorizedEvent = "event: unauthorized\ndata: {\"detail\":\"the stream's token was revoked or no longer allows this task\"}\n\n"

// seenVersion reports whether r's Last-Event-ID (an event's id is its
// task's version) is version or a later one. An id that is not a version
// (another server's, or altered) is not taken as having seen anything.
func seenVersion(r *http.Request, version int64) bool {
	id := strings.TrimSpace(r.Header.Get("Last-Event-ID"))
	n, err := strconv.ParseInt(id, 10, 64)
	return err == nil && n >= version
}
