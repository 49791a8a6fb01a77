package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/taskmodel/taskmodel/sdk/workerhttp"
	"github.com/taskmodel/taskmodel/tasktype"
	"github.com/taskmodel/taskmodel/validation"
)

// endServer is a fake worker-protocol server that takes a task's end
// reports (complete, fail) and records them; answer decides each answer
// (the request's number, from 1, its path and body), nil for the server's
// own checks of a fail's message and a 200.
type endServer struct {
	*httptest.Server
	mu      sync.Mutex
	reports []endRequest
	answer  func(n int, req endRequest) (status int, body string)
}

type endRequest struct {
	Path string
	Body map[string]any
}

func newEndServer(t *testing.T, answer func(n int, req endRequest) (int, string)) *endServer {
	s := &endServer{answer: answer}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		data, _ := io.ReadAll(r.Body)
		var body map[string]any
		_ = json.Unmarshal(data, &body)
		req := endRequest{Path: r.URL.Path, Body: body}
		s.mu.Lock()
		s.reports = append(s.reports, req)
		n := len(s.reports)
		s.mu.Unlock()
		status, out := 0, ""
		if s.answer != nil {
			status, out = s.answer(n, req)
		}
		if status == -1 { // the server goes away without an answer
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				_ = conn.Close()
			}
			return
		}
		if status == 0 && strings.HasSuffix(req.Path, "/fail") {
			// The server's checks of a fail's message (server/worker.go's
			// stringField).
			msg, _ := body["message"].(string)
			if len(msg) > maxFailMessage {
				status, out = 400, `{"type":"urn:taskmodel:problem:validation","title":"Invalid request","status":400,"detail":"message: must be at most 100000 bytes","errors":[{"field":"message","message":"must be at most 100000 bytes"}]}`
			} else if err := validation.CheckText(msg, true); err != nil {
				status, out = 400, fmt.Sprintf(`{"type":"urn:taskmodel:problem:validation","title":"Invalid request","status":400,"detail":"message: %s","errors":[{"field":"message","message":%q}]}`, err, err.Error())
			}
		}
		if status == 0 {
			status, out = 200, `{"task_id":"T1","status":"DONE"}`
		}
		if status != 200 {
			w.Header().Set("Content-Type", "application/problem+json")
		}
		w.WriteHeader(status)
		_, _ = w.Write([]byte(out))
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *endServer) requests() []endRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]endRequest(nil), s.reports...)
}

// runEnd runs script (a shell script's body) as the command of one task
// T1 against s, its lease expiring at until; it returns work's standard
// error.
func runEnd(t *testing.T, s *endServer, script string, until time.Time) string {
	t.Helper()
	r, errb := scriptRunner(t, s, script)
	r.runTask(context.Background(), workerhttp.Task{TaskType: "training", ID: "T1", Lease: "v2.training.1.x", LeaseExpiresAt: until, HeartbeatSeconds: 60, Task: json.RawMessage(`{}`)})
	return errb.String()
}

// scriptRunner is a work whose command is script (a shell script's body)
// against s, and its standard error.
func scriptRunner(t *testing.T, s *endServer, script string) (*workRunner, *bytes.Buffer) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "cmd.sh")
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+script+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	client, err := workerhttp.New(s.URL, "tm_w")
	if err != nil {
		t.Fatal(err)
	}
	errb := &bytes.Buffer{}
	app := &App{IO: IO{In: strings.NewReader(""), Out: io.Discard, Err: errb}}
	return &workRunner{app: app, client: client, f: workFlags{grace: time.Second}, command: []string{path}, stopClaims: func() {}}, errb
}

// TestWorkRetriesEndReports: an end report the server did not take — it
// was unreachable (restarting) or answered 502, 503 or 504 — is sent again
// with the same lease until the server takes it, while the lease may hold;
// then work gives up, saying so. A 4xx is not sent again.
func TestWorkRetriesEndReports(t *testing.T) {
	lease := func() time.Time { return time.Now().Add(30 * time.Second) }
	for _, tc := range []struct {
		name, script, path string
		first              int // the first answer's status (-1: none)
	}{
		{"complete after a 503", "exit 0", "/worker/tasks/T1/complete", 503},
		{"complete after no answer", "exit 0", "/worker/tasks/T1/complete", -1},
		{"fail after a 502", "exit 3", "/worker/tasks/T1/fail", 502},
		{"fail after a 504", "exit 3", "/worker/tasks/T1/fail", 504},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newEndServer(t, func(n int, _ endRequest) (int, string) {
				if n == 1 {
					return tc.first, `{"title":"Service Unavailable","status":` + fmt.Sprint(tc.first) + `}`
				}
				return 0, ""
			})
			out := runEnd(t, s, tc.script, lease())
			reqs := s.requests()
			if len(reqs) != 2 || reqs[0].Path != tc.path || reqs[1].Path != tc.path || reqs[1].Body["lease"] != "v2.training.1.x" {
				t.Fatalf("requests: %+v; want %s twice, with the lease\nwork said:\n%s", reqs, tc.path, out)
			}
			if !strings.Contains(out, "retrying in 1s (until its lease expires at ") {
				t.Errorf("work said no retry:\n%s", out)
			}
			if want := map[string]string{"/worker/tasks/T1/complete": "task T1: done", "/worker/tasks/T1/fail": "task T1: failed: the command exited with status 3"}[tc.path]; !strings.Contains(out, want) {
				t.Errorf("work said:\n%s\nwant %q", out, want)
			}
		})
	}

	t.Run("until the lease expires", func(t *testing.T) {
		s := newEndServer(t, func(int, endRequest) (int, string) { return 503, `{"title":"Not ready","status":503}` })
		start := time.Now()
		out := runEnd(t, s, "exit 0", time.Now().Add(2500*time.Millisecond))
		took := time.Since(start)
		// Tries at 0 s, 1 s, then at the lease's expiry (2.5 s).
		if n := len(s.requests()); n != 3 || took < 2*time.Second || took > 10*time.Second {
			t.Errorf("%d tries in %s; want 3 within the lease\nwork said:\n%s", n, took, out)
		}
		if !strings.Contains(out, "task T1: completing failed (Not ready (503)); giving up: its lease expired at ") || strings.Contains(out, ": done") {
			t.Errorf("work said:\n%s", out)
		}
	})

	t.Run("a 4xx is final", func(t *testing.T) {
		s := newEndServer(t, func(int, endRequest) (int, string) {
			return 409, `{"type":"urn:taskmodel:problem:lease-lost","title":"Lease lost","status":409,"detail":"the lease expired"}`
		})
		out := runEnd(t, s, "exit 0", lease())
		if n := len(s.requests()); n != 1 {
			t.Errorf("%d tries of a lease-lost report; want 1", n)
		}
		if !strings.Contains(out, "task T1: completing failed: the lease no longer holds the task") {
			t.Errorf("work said:\n%s", out)
		}
	})
}

// TestWorkFailMessages: a failure's message, from the command's standard
// error or its error file, is text the server takes: a NUL becomes U+FFFD,
// bytes that are not UTF-8 too, and a message over the server's 100,000
// bytes is cut, keeping its start; a message the server still refuses
// (400) is replaced by one saying so, so that the task never stays
// running.
func TestWorkFailMessages(t *testing.T) {
	big := strings.Repeat("é", 60_000) // 120,000 bytes
	for _, tc := range []struct {
		name, script string
		check        func(msg string) bool
	}{
		{"NUL in standard error", `printf 'nul:\000:end\n' >&2; exit 4`, func(msg string) bool {
			return msg == "the command exited with status 4; standard error ends with:\nnul:\uFFFD:end"
		}},
		{"not UTF-8 in standard error", `printf 'bad:\377:end\n' >&2; exit 4`, func(msg string) bool {
			return msg == "the command exited with status 4; standard error ends with:\nbad:\uFFFD:end"
		}},
		{"NUL in the error file", `printf '{"message":"a\\u0000b"}' > "$TASKMODEL_ERROR_FILE"; exit 1`, func(msg string) bool {
			return msg == "a\uFFFDb"
		}},
		{"an error file's message too long", `printf '{"message":"start:` + big + `:end"}' > "$TASKMODEL_ERROR_FILE"; exit 1`, func(msg string) bool {
			head, rest, ok := strings.Cut(msg, " … [")
			cut, tail, ok2 := strings.Cut(rest, " bytes cut] … ")
			n, err := strconv.Atoi(cut)
			return ok && ok2 && err == nil && len(head)+n+len(tail) == len("start:"+big+":end") && len(msg) <= maxFailMessage && len(msg) > maxFailMessage-50 && utf8.ValidString(msg) &&
				strings.HasPrefix(head, "start:éé") && len(head) < maxFailMessage/4+1 && strings.HasSuffix(tail, "éé:end")
		}},
		// An error file work cannot use: the message says so, and keeps
		// the exit status and the standard error (it had neither).
		{"an error file that is not JSON", `printf 'garbage{' > "$TASKMODEL_ERROR_FILE"; echo 'disk full' >&2; exit 2`, func(msg string) bool {
			return msg == `the command exited with status 2; its error file (TASKMODEL_ERROR_FILE) is not JSON like {"error_code": "...", "message": "..."}; standard error ends with:`+"\ndisk full"
		}},
		{"an error file whose message is not text", `printf '{"message": 5}' > "$TASKMODEL_ERROR_FILE"; exit 2`, func(msg string) bool {
			return msg == `the command exited with status 2; its error file (TASKMODEL_ERROR_FILE) is not JSON like {"error_code": "...", "message": "..."}`
		}},
		{"an error file over 1 MiB", `head -c 1048577 /dev/zero | tr '\000' x > "$TASKMODEL_ERROR_FILE"; echo 'oops' >&2; exit 2`, func(msg string) bool {
			return msg == "the command exited with status 2; its error file (TASKMODEL_ERROR_FILE) is larger than 1048576 bytes and was not read; standard error ends with:\noops"
		}},
		{"an empty error file", `: > "$TASKMODEL_ERROR_FILE"; exit 2`, func(msg string) bool {
			return msg == `the command exited with status 2; its error file (TASKMODEL_ERROR_FILE) is not JSON like {"error_code": "...", "message": "..."}`
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newEndServer(t, nil)
			out := runEnd(t, s, tc.script, time.Now().Add(30*time.Second))
			reqs := s.requests()
			if len(reqs) != 1 || reqs[0].Path != "/worker/tasks/T1/fail" {
				t.Fatalf("requests: %d; want one fail\nwork said:\n%s", len(reqs), out)
			}
			msg, _ := reqs[0].Body["message"].(string)
			if !tc.check(msg) {
				t.Errorf("the fail's message (%d bytes): %q", len(msg), tasktypeHead(msg))
			}
			if !strings.Contains(out, "task T1: failed: ") {
				t.Errorf("work said:\n%s", out)
			}
		})
	}

	t.Run("a message the server refuses", func(t *testing.T) {
		// A server stricter than this work: it refuses "secret" in a
		// message, and says so.
		s := newEndServer(t, func(_ int, req endRequest) (int, string) {
			if msg, _ := req.Body["message"].(string); strings.Contains(msg, "secret") {
				return 400, `{"type":"urn:taskmodel:problem:validation","title":"Invalid request","status":400,"detail":"message: must not hold a secret","errors":[{"field":"message","message":"must not hold a secret"}]}`
			}
			return 0, ""
		})
		out := runEnd(t, s, `echo 'the secret is out' >&2; exit 5`, time.Now().Add(30*time.Second))
		reqs := s.requests()
		// The second message quotes the server's reason, "secret" too: the
		// third says only that the message was refused.
		if len(reqs) != 3 {
			t.Fatalf("requests: %+v; want three fails\nwork said:\n%s", reqs, out)
		}
		msgs := []any{reqs[1].Body["message"], reqs[2].Body["message"]}
		if want := []any{"the command failed, but the server refused its failure message (Invalid request (400): message: must not hold a secret); taskmodel work's output has the command's standard error", refusedPlain}; fmt.Sprint(msgs) != fmt.Sprint(want) {
			t.Errorf("the next fails' messages: %q; want %q", msgs, want)
		}
		if !strings.Contains(out, "task T1: the server refused the failure (Invalid request (400): message: must not hold a secret); failing with a message saying so") ||
			!strings.Contains(out, "task T1: failed: "+refusedPlain) {
			t.Errorf("work said:\n%s", out)
		}
	})

	t.Run("an unknown code, then a refused message", func(t *testing.T) {
		s := newEndServer(t, func(_ int, req endRequest) (int, string) {
			if req.Body["error_code"] != nil {
				return 400, `{"type":"urn:taskmodel:problem:validation","title":"Invalid request","status":400,"detail":"error_code: unknown","errors":[{"field":"error_code","message":"unknown"}]}`
			}
			if msg, _ := req.Body["message"].(string); strings.Contains(msg, "secret") {
				return 400, `{"title":"Invalid request","status":400,"detail":"message: no"}`
			}
			return 0, ""
		})
		out := runEnd(t, s, `echo '{"error_code":"NOPE","message":"secret"}' > "$TASKMODEL_ERROR_FILE"; exit 1`, time.Now().Add(30*time.Second))
		reqs := s.requests()
		if len(reqs) != 3 || reqs[1].Body["message"] != "[error code NOPE is not one of the model's] secret" || reqs[2].Body["error_code"] != nil {
			t.Fatalf("requests: %+v\nwork said:\n%s", reqs, out)
		}
		if !strings.Contains(out, "task T1: failed: the command failed, but the server refused") {
			t.Errorf("work said:\n%s", out)
		}
	})
}

// tasktypeHead is the start of a long message, for a test's failure.
func tasktypeHead(s string) string {
	if len(s) > 200 {
		return s[:100] + " … " + s[len(s)-100:]
	}
	return s
}

// TestReportable: reportable's cut keeps whole characters and stays within
// the server's limit, whatever the length.
func TestReportable(t *testing.T) {
	for _, n := range []int{maxFailMessage - 1, maxFailMessage, maxFailMessage + 1, maxFailMessage + 7, 3 * maxFailMessage} {
		for _, unit := range []string{"x", "é", "€", "😀", "\x00"} {
			s := strings.Repeat(unit, n/len(unit)+1)[:n]
			got := reportable(s)
			if len(got) > maxFailMessage || !utf8.ValidString(got) || strings.Contains(got, "\x00") || validation.CheckText(got, true) != nil {
				t.Errorf("reportable(%d bytes of %q): %d bytes, valid %v", n, unit, len(got), utf8.ValidString(got))
			}
		}
	}
}

// TestWorkFailLogLine: work's own log says a failure on one line, the last
// line of the command's standard error included, while the server gets
// the whole message.
func TestWorkFailLogLine(t *testing.T) {
	for _, tc := range []struct {
		name, script, sent, logged string
	}{
		{"one line of standard error", `echo 'ValueError: bad row 7' >&2; exit 1`,
			"the command exited with status 1; standard error ends with:\nValueError: bad row 7",
			`task T1: failed: the command exited with status 1; standard error ends with: "ValueError: bad row 7"` + "\n"},
		{"several lines", `printf 'Traceback:\n  line 3\n\nValueError: bad row 7\n' >&2; exit 1`,
			"the command exited with status 1; standard error ends with:\nTraceback:\n  line 3\n\nValueError: bad row 7",
			`task T1: failed: the command exited with status 1; standard error ends with 3 lines, the last "ValueError: bad row 7"` + "\n"},
		{"no standard error", `exit 2`, "the command exited with status 2", "task T1: failed: the command exited with status 2\n"},
		{"an error file's message of several lines", `printf '{"message":"bad input\\nrow 7\\nrow 9"}' > "$TASKMODEL_ERROR_FILE"; exit 1`,
			"bad input\nrow 7\nrow 9", "task T1: failed: bad input (+2 lines)\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newEndServer(t, nil)
			out := runEnd(t, s, tc.script, time.Now().Add(30*time.Second))
			reqs := s.requests()
			if len(reqs) != 1 || reqs[0].Body["message"] != tc.sent {
				t.Fatalf("requests %+v; want one fail with %q", reqs, tc.sent)
			}
			if !strings.HasSuffix(out, "taskmodel work: "+tc.logged) {
				t.Errorf("work said:\n%s\nwant it to end with %q", out, "taskmodel work: "+tc.logged)
			}
		})
	}
}

func TestLogSummary(t *testing.T) {
	long := strings.Repeat("x", 300)
	for _, tc := range []struct{ msg, want string }{
		{"plain", "plain"},
		{"head:\n" + long, `head: "` + tasktype.CutMiddle(long, 200) + `"`},
		{"head:\n\n  \n", "head:"},
		{"a\tb:\nc\"d\n", `a	b: "c\"d"`},
	} {
		if got := logSummary(tc.msg); got != tc.want {
			t.Errorf("logSummary(%q) = %q, want %q", tc.msg, got, tc.want)
		}
	}
}
