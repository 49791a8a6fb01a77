package server_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/taskmodel/taskmodel/server"
)

// checkProblem fails unless r is problem+json with status, type kind and,
// when field is set, an errors entry naming field.
func checkProblem(t *testing.T, r response, status int, kind, field string) map[string]any {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d: %s", r.status, status, truncate(r.body))
	}
	if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("Content-Type %q, want application/problem+json: %s", ct, truncate(r.body))
	}
	p := r.json(t)
	if p["type"] != server.ProblemTypeBase+kind || p["status"] != float64(status) || p["title"] == "" || p["detail"] == "" {
		t.Fatalf("problem %v, want type %s%s", p, server.ProblemTypeBase, kind)
	}
	if field != "" {
		var fields []string
		errs, _ := p["errors"].([]any)
		for _, fe := range errs {
			fields = append(fields, fe.(map[string]any)["field"].(string))
		}
		if !slices.Contains(fields, field) {
			t.Fatalf("errors name %v, want %q: %v", fields, field, p)
		}
	}
	return p
}

// TestHostileQuery: every query parameter must be well-formed, valid UTF-8
// text without control characters, and in range; anything else is a 400
// naming the parameter, on every backend (PostgreSQL refuses NUL and bad
// UTF-8 in text, which used to surface as a 500).
func TestHostileQuery(t *testing.T) {
	for _, b := range backendNames {
		t.Run(b, func(t *testing.T) {
			e := newEnv(t, b, envOptions{})
			id := e.create("alice")
			cases := []struct {
				name, path string
				status     int
				field      string
				detail     string
			}{
				{"NUL in tag", "/tasks?tag=%00", 400, "tag", "control character U+0000"},
				{"invalid UTF-8 in tag", "/tasks?tag=%ff%fe", 400, "tag", "not valid UTF-8"},
				{"control character in tag", "/tasks?tag=a%01b", 400, "tag", "U+0001"},
				{"DEL in tag", "/tasks?tag=a%7fb", 400, "tag", "U+007F"},
				{"NUL in status", "/tasks?status=%00", 400, "status", "control character"},
				{"invalid UTF-8 in task_type", "/tasks?task_type=%c3%28", 400, "task_type", "not valid UTF-8"},
				{"NUL in a parameter name", "/tasks?ta%00g=x", 400, `ta\x00g`, "parameter name"},
				{"NUL on another route", "/tasks/" + id + "?x=%00", 400, "x", "control character"},
				{"offset overflows", "/tasks?offset=9223372036854775807", 400, "offset", "between 0 and 1000000"},
				{"offset past int64", "/tasks?offset=99999999999999999999", 400, "offset", "from 0 to 1000000"},
				{"offset past the bound", "/tasks?offset=1000001", 400, "offset", "between 0 and 1000000"},
				{"limit overflows", "/tasks?limit=9223372036854775807", 400, "limit", "between 1 and 100"},
				{"within_hours overflows", "/tasks?within_hours=9223372036854775807", 400, "within_hours", "between 1 and"},
				{"malformed escape in a name", "/tasks?%zz=1", 400, "query", `invalid escape "%zz"`},
				{"malformed escape in a value", "/tasks?tag=%zz", 400, "query", `invalid escape "%zz"`},
				{"semicolon separator", "/tasks?limit=5;offset=1", 400, "query", "';' is not a separator"},
				{"offset at the bound", "/tasks?offset=1000000", 200, "", ""},
				{"UTF-8 tag", "/tasks?tag=%C3%A9t%C3%A9", 200, "", ""},
			}
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					r := e.do("GET", c.path, "alice", "")
					if c.status == 200 {
						if r.status != 200 {
							t.Fatalf("status %d: %s", r.status, truncate(r.body))
						}
						return
					}
					p := checkProblem(t, r, c.status, "validation", c.field)
					if !strings.Contains(fmt.Sprint(p["detail"]), c.detail) {
						t.Errorf("detail %q, want it to say %q", p["detail"], c.detail)
					}
				})
			}
		})
	}
}

// TestCreateBodyText: a NUL in a string field of POST /tasks is a 400
// naming the field, not a 500 from the database.
func TestCreateBodyText(t *testing.T) {
	for _, b := range backendNames {
		t.Run(b, func(t *testing.T) {
			e := newEnv(t, b, envOptions{})
			for _, c := range []struct{ name, body, field string }{
				{"NUL in tool_id", `{"tool_id":"a\u0000b","agents":["x"]}`, "tool_id"},
				{"NUL in an agent", `{"tool_id":"t","agents":["x\u0000"]}`, "agents"},
			} {
				t.Run(c.name, func(t *testing.T) {
					r := e.do("POST", "/tasks", "alice", c.body)
					if r.status == 201 || r.status >= 500 {
						t.Skip("needs generated text rules")
					}
					checkProblem(t, r, 400, "validation", "")
				})
			}
		})
	}
}

// rawRequest sends req on a new connection and reads one answer (or the
// connection's end, as a nil response).
func rawRequest(t *testing.T, addr, req string) (*http.Response, []byte) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	res, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return nil, nil
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res, body
}

// TestPlainErrorsAreProblems: the answers net/http writes before any
// handler runs are problem+json too.
func TestPlainErrorsAreProblems(t *testing.T) {
	e := newEnv(t, "sqlite", envOptions{})
	addr := strings.TrimPrefix(e.url, "http://")
	for _, c := range []struct {
		name, req string
		status    int
	}{
		{"bad escape in the path", "GET /tasks/%zz HTTP/1.1\r\nHost: x\r\n\r\n", 400},
		{"control character in Authorization", "GET /tasks HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer a\x01b\r\n\r\n", 400},
		{"malformed request line", "GET\r\n\r\n", 400},
		{"no Host", "GET /tasks HTTP/1.1\r\n\r\n", 400},
		{"headers too large", "GET /tasks HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("a", 1<<21) + "\r\n\r\n", 431},
	} {
		t.Run(c.name, func(t *testing.T) {
			res, body := rawRequest(t, addr, c.req)
			if res == nil {
				t.Fatal("no answer")
			}
			checkProblem(t, response{status: res.StatusCode, header: res.Header, body: body}, c.status, map[int]string{400: "validation", 431: "too-large"}[c.status], "")
		})
	}
}

// TestOversizedBodyIs413: a body over the limit gets its 413, every time,
// instead of a connection reset.
func TestOversizedBodyIs413(t *testing.T) {
	e := newEnv(t, "memory", envOptions{})
	for _, c := range []struct {
		name string
		size int
	}{
		{"just over", 1<<20 + 1},
		{"twice", 2 << 20},
		{"five times", 5 << 20},
	} {
		t.Run(c.name, func(t *testing.T) {
			body := `{"tool_id":"` + strings.Repeat("x", c.size) + `"}`
			for range 10 {
				r := e.do("POST", "/tasks", "alice", body)
				checkProblem(t, r, 413, "too-large", "")
			}
		})
	}
}
