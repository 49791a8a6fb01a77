package server_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
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
				{"NUL in tag", "/tasks?tag=%00", 400, "tag", "NUL character (U+0000)"},
				{"invalid UTF-8 in tag", "/tasks?tag=%ff%fe", 400, "tag", "not valid UTF-8"},
				{"control character in tag", "/tasks?tag=a%01b", 400, "tag", "U+0001"},
				{"DEL in tag", "/tasks?tag=a%7fb", 400, "tag", "U+007F"},
				{"NUL in status", "/tasks?status=%00", 400, "status", "NUL character"},
				{"invalid UTF-8 in task_type", "/tasks?task_type=%c3%28", 400, "task_type", "not valid UTF-8"},
				{"NUL in a parameter name", "/tasks?ta%00g=x", 400, `ta\x00g`, "parameter name"},
				{"NUL on another route", "/tasks/" + id + "?x=%00", 400, "x", "NUL character"},
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
					p := checkProblem(t, r, 400, "validation", "")
					if !strings.Contains(fmt.Sprint(p), c.field) {
						t.Errorf("problem %v does not name %s", p, c.field)
					}
				})
			}
		})
	}
}

// TestCreateRefusalsSayWhy: POST /tasks says what is wrong with a body in
// the words of the field sent: a required field left out "is required", as
// when it is null; null for task_type is refused, not read as the default;
// an integer past the largest one is out of range, not "not an integer";
// an empty body is not an empty object. Nothing is created, and the routes
// that take no body still take an empty one.
func TestCreateRefusalsSayWhy(t *testing.T) {
	for _, b := range backendNames {
		t.Run(b, func(t *testing.T) {
			e := newEnv(t, b, envOptions{})
			id := e.create("alice")
			cases := []struct{ name, body, detail string }{
				{"required field left out", `{"agents":["a"]}`, "tool_id: is required"},
				{"required field null", `{"tool_id":null,"agents":["a"]}`, "tool_id: is required"},
				{"required list left out", `{"tool_id":"t"}`, "agents: is required"},
				{"required list left out, and the field sent is wrong too", `{"tool_id":"Bad Tool"}`,
					`agents: is required; tool_id: must match the pattern [a-z0-9][a-z0-9._-]* (the whole value) (got "Bad Tool")`},
				{"null in a list", `{"tool_id":"t","agents":["a",null]}`, "agents[1]: must be a string, not null"},
				{"number in a list", `{"tool_id":"t","agents":["a",5]}`, "agents[1]: must be a string (got a number)"},
				{"list in a list", `{"tool_id":"t","agents":[["a"]]}`, "agents[0]: must be a string (got a list)"},
				{"number for a string", `{"tool_id":5,"agents":["a"]}`, "tool_id: must be a string (got a number)"},
				{"required enum left out", `{"task_type":"model_upload"}`, "source: is required; allowed: HUGGINGFACE, GITHUB, LOCAL"},
				{"null task_type", `{"task_type":null,"tool_id":"t","agents":["a"]}`,
					"task_type: must be a string naming a task type, not null; omit it for the default (analysis); allowed: analysis, dataset_upload, evaluation, model_upload, synthesis, training"},
				{"empty body", ``, "body: must be a JSON object (the body is empty)"},
				{"blank body", " \n", "body: must be a JSON object (the body is empty)"},
				{"integer past int64", `{"task_type":"training","epochs":99999999999999999999999}`,
					"epochs: must be at most 9223372036854775807 (got 99999999999999999999999)"},
				{"integer below int64, field with a lower bound", `{"task_type":"training","epochs":-99999999999999999999999}`,
					"epochs: must be ≥ 1 (got -99999999999999999999999)"},
				{"integer past int64 by one", `{"task_type":"synthesis","num_samples":9223372036854775808}`,
					"num_samples: must be at most 9223372036854775807 (got 9223372036854775808)"},
				{"fraction", `{"task_type":"training","epochs":1.5}`, "epochs: must be an integer (got number 1.5)"},
			}
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					p := checkProblem(t, e.do("POST", "/tasks", "alice", c.body, "Content-Type", "application/json"), 400, "validation", "")
					if p["detail"] != c.detail {
						t.Errorf("detail\n got %q\nwant %q", p["detail"], c.detail)
					}
				})
			}
			var rows []map[string]any
			if err := json.Unmarshal(e.must(200, "GET", "/tasks", "alice", "").body, &rows); err != nil {
				t.Fatal(err)
			}
			if len(rows) != 1 {
				t.Errorf("alice has %d tasks after the refused requests, want 1", len(rows))
			}
			// cancel takes no body: an empty one reaches the lifecycle,
			// which refuses cancelling a CREATED task.
			checkProblem(t, e.do("POST", "/tasks/"+id+"/cancel", "alice", ""), 409, "transition", "")
		})
	}
}

// TestBodyEncoding: a JSON body whose text is not valid UTF-8, or escapes
// half of a UTF-16 surrogate pair, is a 400 naming the field (body, for a
// field name), on every JSON route, and nothing is written; encoding/json
// alone would store U+FFFD instead.
func TestBodyEncoding(t *testing.T) {
	const (
		notUTF8   = "is not valid UTF-8 (it holds the byte 0xFF); text must be UTF-8"
		surrogate = `holds the escape \ud800, half of a UTF-16 surrogate pair without its other half; text must be valid Unicode`
	)
	for _, b := range backendNames {
		t.Run(b, func(t *testing.T) {
			e := newEnv(t, b, envOptions{pipelines: true})
			w := e.workerToken("w", "training")
			e.must(200, "POST", "/pipelines/stages", "alice", registerBody)
			cases := []struct {
				name, user, path, body, detail string
			}{
				{"bytes in a task's tag", "alice", "/tasks", "{\"task_type\":\"training\",\"tag\":\"\xff\xfe\"}", "tag: " + notUTF8},
				{"escape in a task's tag", "alice", "/tasks", `{"task_type":"training","tag":"\ud800"}`, "tag: " + surrogate},
				{"bytes in a field name", "alice", "/tasks", "{\"task_type\":\"training\",\"t\xffg\":\"x\"}", "body: a field name " + notUTF8},
				{"escape in a nested value", "alice", "/pipelines/stages", `{"stages":[{"name":"S","description":"a\ud800b"}]}`, "stages: " + surrogate},
				{"bytes in a run's message", "alice", "/pipelines/runs", "{\"stage\":\"STATIC\",\"task\":\"Build\",\"message\":\"\xff\"}", "message: " + notUTF8},
				{"escape in a claim", w, "/worker/claim", `{"worker":"\ud800"}`, "worker: " + surrogate},
			}
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					p := checkProblem(t, e.do("POST", c.path, c.user, c.body), 400, "validation", "")
					if p["detail"] != c.detail {
						t.Errorf("detail\n got %q\nwant %q", p["detail"], c.detail)
					}
				})
			}
			// A surrogate pair is one character, and is stored as such.
			r := e.must(201, "POST", "/tasks", "alice", `{"task_type":"training","tag":"\ud83d\ude00"}`).json(t)
			if got := e.must(200, "GET", "/tasks/"+r["task_id"].(string), "alice", "").json(t); got["tag"] != "😀" {
				t.Errorf("tag %q, want 😀", got["tag"])
			}
			if h := e.must(200, "GET", "/pipelines/history", "alice", ""); string(h.body) != "[]\n" {
				t.Errorf("a refused run was written: %s", h.body)
			}
		})
	}
}

// TestLongNamesAreCut: an unknown field or parameter name comes back cut
// to 80 characters (and "…"), in the detail and in errors[], however long
// the client sent it.
func TestLongNamesAreCut(t *testing.T) {
	e := newEnv(t, "memory", envOptions{pipelines: true})
	w := e.workerToken("w", "training")
	id := e.create("alice")
	long := strings.Repeat("k", 500<<10)
	cut := strings.Repeat("k", 80) + "…"
	cases := []struct {
		name, method, user, path, body, detail string
	}{
		{"unknown task field", "POST", "alice", "/tasks", `{"task_type":"training","` + long + `":1}`,
			cut + `: unknown field "` + cut + `" for task_type training; allowed: task_type, `},
		{"unknown claim field", "POST", w, "/worker/claim", `{"` + long + `":1}`, cut + ": unknown field; allowed: "},
		{"unknown pipeline field", "POST", "alice", "/pipelines/runs", `{"stage":"S","task":"T","` + long + `":1}`, cut + ": unknown field; allowed: "},
		{"unknown cancel field", "POST", "alice", "/tasks/" + id + "/cancel", `{"` + long[:30<<10] + `":1}`, cut + ": unknown field; this request takes no body"},
		{"duplicate field", "POST", "alice", "/tasks", `{"` + long + `":1,"` + long + `":2}`, cut + ": appears twice in the object"},
		{"unknown listing parameter", "GET", "alice", "/tasks?" + long[:30<<10] + "=1", "", cut + ": unknown query parameter; allowed: "},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := e.do(c.method, c.path, c.user, c.body)
			if len(r.body) > 4096 {
				t.Errorf("answer of %d bytes", len(r.body))
			}
			p := checkProblem(t, r, 400, "validation", cut)
			if d := fmt.Sprint(p["detail"]); !strings.HasPrefix(d, c.detail) {
				t.Errorf("detail\n got %q\nwant it to start %q", d, c.detail)
			}
		})
	}
}

// TestMalformedJSONInPlainWords: a body the JSON decoder refuses is a 400
// saying what is wrong in plain words, never the decoder's Go wording.
func TestMalformedJSONInPlainWords(t *testing.T) {
	e := newEnv(t, "memory", envOptions{pipelines: true})
	cases := []struct{ name, body, detail string }{
		{"cut short", `{`, "body: is not valid JSON: it ends before the value is complete"},
		{"cut short after a name", `{"task_type":`, "body: is not valid JSON: it ends before the value is complete"},
		{"bad value", `{"task_type":Infinity}`, "body: is not valid JSON at byte 12: a value was expected (a string in double quotes, a number, true, false, null, an object or an array), found 'I'"},
		{"no colon", `{"task_type" "x"}`, "body: is not valid JSON at byte 13: ':' was expected after a field name"},
		{"no comma", `{"a":1 "b":2}`, "body: is not valid JSON at byte 7: ',' or '}' was expected after a field's value, found '\"'"},
		{"name not quoted", `{a:1}`, "body: is not valid JSON at byte 1: a character is out of place, found 'a'"},
		{"bad escape", `{"a":"\q"}`, "body: is not valid JSON at byte 6: a string holds an invalid escape (after '\\' come one of \" \\ / b f n r t, or u and four hex digits), found 'q'"},
		{"trailing comma", `{"a":1,}`, "body: is not valid JSON at byte 7: a field name in double quotes was expected, found '}'"},
		{"malformed number", `{"a":1.}`, "body: is not valid JSON at byte 6: a number is malformed, found '}'"},
		{"misspelt literal", `{"a":tru}`, "body: is not valid JSON at byte 7: true, false or null is misspelt, found '}'"},
		{"too deep", `{"a":` + strings.Repeat("[", 10001) + strings.Repeat("]", 10001) + `}`, "body: is not valid JSON at byte 10004: it nests arrays and objects too deep (at most 10000 levels)"},
		{"not an object", `[1]`, "body: must be a JSON object"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, path := range []string{"/tasks", "/pipelines/runs"} {
				p := checkProblem(t, e.do("POST", path, "alice", c.body), 400, "validation", "body")
				if p["detail"] != c.detail {
					t.Errorf("%s: detail\n got %q\nwant %q", path, p["detail"], c.detail)
				}
			}
		})
	}
}

// TestTaskRoutesRefuseUnknownParameters: the routes of one task take no
// query parameter but the event stream's token, given once; an unknown
// parameter is the rule unknown_parameter there as in the listing.
func TestTaskRoutesRefuseUnknownParameters(t *testing.T) {
	e := newEnv(t, "memory", envOptions{})
	id := e.create("alice")
	tok := e.tokens["alice"]
	cases := []struct{ name, method, path, user, detail string }{
		{"task", "GET", "/tasks/" + id + "?foo=1", "alice", "foo: unknown query parameter; this route takes none"},
		{"history", "GET", "/tasks/" + id + "/history?foo=1", "alice", "foo: unknown query parameter; this route takes none"},
		{"downloads", "GET", "/tasks/" + id + "/downloads?foo=1", "alice", "foo: unknown query parameter; this route takes none"},
		{"upload-urls", "POST", "/tasks/" + id + "/upload-urls?foo=1", "alice", "foo: unknown query parameter; this route takes none"},
		{"events", "GET", "/tasks/" + id + "/events?foo=1", "alice", "foo: unknown query parameter; allowed: access_token"},
		{"events, token twice", "GET", "/tasks/" + id + "/events?access_token=" + tok + "&access_token=" + tok, "", "access_token: may be given once"},
		{"listing", "GET", "/tasks?foo=1", "alice", "foo: unknown query parameter; allowed: limit, offset, within_hours, task_type, status, tag"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := checkProblem(t, e.do(c.method, c.path, c.user, ""), 400, "validation", "")
			if p["detail"] != c.detail {
				t.Errorf("detail %q, want %q", p["detail"], c.detail)
			}
			errs, _ := p["errors"].([]any)
			if strings.Contains(c.detail, "unknown query parameter") && (len(errs) != 1 || errs[0].(map[string]any)["rule"] != "unknown_parameter") {
				t.Errorf("errors %v, want the rule unknown_parameter", errs)
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
		{"unknown HTTP version", "GET /tasks HTTP/9.9\r\nHost: x\r\n\r\n", 505},
		{"unknown transfer encoding", "POST /tasks HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 501},
		{"unsupported expectation", "GET /tasks HTTP/1.1\r\nHost: x\r\nExpect: 200-ok\r\n\r\n", 417},
		{"HTTP/2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505},
		{"GET *", "GET * HTTP/1.1\r\nHost: x\r\n\r\n", 400},
	} {
		t.Run(c.name, func(t *testing.T) {
			res, body := rawRequest(t, addr, c.req)
			if res == nil {
				t.Fatal("no answer")
			}
			checkProblem(t, response{status: res.StatusCode, header: res.Header, body: body}, c.status, map[int]string{400: "validation", 417: "unsupported", 431: "too-large", 501: "unsupported", 505: "unsupported"}[c.status], "")
		})
	}
}

// TestMalformedChunkedBody: a chunked body that breaks off or is malformed
// is a 400 that says so, not one about a Content-Length it never had.
func TestMalformedChunkedBody(t *testing.T) {
	e := newEnv(t, "memory", envOptions{})
	addr := strings.TrimPrefix(e.url, "http://")
	req := "POST /tasks HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + e.tokens["alice"] +
		"\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{\"too\r\nzz\r\n"
	res, body := rawRequest(t, addr, req)
	if res == nil {
		t.Fatal("no answer")
	}
	p := checkProblem(t, response{status: res.StatusCode, header: res.Header, body: body}, 400, "validation", "body")
	if want := "body: could not be read whole: the connection failed or its chunked encoding is malformed"; p["detail"] != want {
		t.Errorf("detail %q, want %q", p["detail"], want)
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

// TestSlowBodyCutOff: a client trickling its body is cut off (408, or the
// connection closed) on the JSON API and on a signed upload URL; a body
// sent at once passes. The limits are tiny so the test is quick.
func TestSlowBodyCutOff(t *testing.T) {
	for _, b := range sqlBackends {
		t.Run(b, func(t *testing.T) {
			e := newEnv(t, b, envOptions{bodyMinRate: 1000, bodyGrace: 200 * time.Millisecond})
			addr := strings.TrimPrefix(e.url, "http://")
			id := e.create("alice")
			up := e.uploadURLs("alice", id)["primary"].(map[string]any)
			putPath := strings.TrimPrefix(up["url"].(string), e.url)
			cases := []struct {
				name, method, path, ctype string
				auth                      bool
				kind                      string
			}{
				{"POST /tasks", "POST", "/tasks", "application/json", true, "timeout"},
				{"signed PUT", "PUT", putPath, "text/csv", false, "too-slow"},
			}
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					conn, err := net.Dial("tcp", addr)
					if err != nil {
						t.Fatal(err)
					}
					defer conn.Close()
					_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
					head := fmt.Sprintf("%s %s HTTP/1.1\r\nHost: x\r\nContent-Type: %s\r\nContent-Length: 100000\r\n", c.method, c.path, c.ctype)
					if c.auth {
						head += "Authorization: Bearer " + e.tokens["alice"] + "\r\n"
					}
					if _, err := io.WriteString(conn, head+"\r\n"); err != nil {
						t.Fatal(err)
					}
					// One byte every 50 ms (20 B/s, the limit is 1000 B/s)
					// until the server answers or closes.
					answered := make(chan struct{})
					go func() {
						defer close(answered)
						for {
							if _, err := conn.Write([]byte("{")); err != nil {
								return
							}
							select {
							case <-time.After(50 * time.Millisecond):
							case <-t.Context().Done():
								return
							}
						}
					}()
					res, err := http.ReadResponse(bufio.NewReader(conn), nil)
					conn.Close()
					<-answered
					if err != nil {
						t.Logf("cut without an answer: %v", err)
						return
					}
					body, _ := io.ReadAll(res.Body)
					r := response{status: res.StatusCode, header: res.Header, body: body}
					if res.StatusCode != http.StatusRequestTimeout {
						t.Fatalf("status %d, want 408: %s", res.StatusCode, truncate(body))
					}
					if c.auth {
						checkProblem(t, r, 408, c.kind, "")
					} else if p := r.json(t); p["type"] != server.ProblemTypeBase+c.kind || p["code"] != "too_slow" {
						t.Fatalf("problem %v", p)
					}
				})
			}
			// A body sent whole is not cut, however large.
			e.put(up, "text/csv", strings.Repeat("a,b\n", 1<<19))
			e.must(201, "POST", "/tasks", "alice", `{"tool_id":"t","agents":["a"]}`)
		})
	}
}

// TestUploadsCloseAfterProcess: a task's upload URLs are refused once it
// leaves UPLOADING (processed, running, finished or failed its upload), so a
// verified input cannot be replaced; while it is UPLOADING they work.
func TestUploadsCloseAfterProcess(t *testing.T) {
	for _, b := range sqlBackends {
		t.Run(b, func(t *testing.T) {
			e := newEnv(t, b, envOptions{workers: true, agentTime: 10 * time.Millisecond})
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			cases := []struct {
				name    string
				prepare func(id string, up map[string]any) // after upload-urls
				status  string                             // the task's status at the PUT
			}{
				{"uploading", func(string, map[string]any) {}, "UPLOADING"},
				{"completed", func(id string, up map[string]any) {
					e.put(up["primary"].(map[string]any), "text/csv", "a\n1\n")
					e.must(200, "POST", "/tasks/"+id+"/process", "alice", "")
					waitUntil(ctx, t, "COMPLETED", func() bool {
						return e.must(200, "GET", "/tasks/"+id, "alice", "").json(t)["status"] == "COMPLETED"
					})
				}, "COMPLETED"},
				{"upload failed", func(id string, _ map[string]any) {
					e.must(200, "POST", "/tasks/"+id+"/process", "alice", "")
				}, "UPLOAD_FAILED"},
			}
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					id := e.create("alice")
					up := e.uploadURLs("alice", id)
					c.prepare(id, up)
					if s := e.must(200, "GET", "/tasks/"+id, "alice", "").json(t)["status"]; s != c.status {
						t.Fatalf("status %v, want %s", s, c.status)
					}
					u := up["primary"].(map[string]any)
					r := e.do("PUT", u["url"].(string), "", "x\n9\n", "Content-Type", "text/csv")
					if c.status == "UPLOADING" {
						if r.status != 200 {
							t.Fatalf("PUT while uploading: %d %s", r.status, r.body)
						}
						return
					}
					p := checkProblem(t, r, 409, "upload-closed", "")
					if p["code"] != "upload_closed" || !strings.Contains(fmt.Sprint(p["detail"]), c.status) {
						t.Errorf("problem %v", p)
					}
				})
			}
		})
	}
}

// TestEventStreamEndsOnRevoke: an open event stream checks its token again
// (every 50 ms here) and ends once it is revoked; revoking another user's
// token leaves it open.
func TestEventStreamEndsOnRevoke(t *testing.T) {
	for _, b := range backendNames {
		t.Run(b, func(t *testing.T) {
			for _, c := range []struct {
				name, revoke string
				ends         bool
			}{
				{"another user's token", "bob", false},
				{"the stream's token", "alice", true},
			} {
				t.Run(c.name, func(t *testing.T) {
					ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
					defer cancel()
					e := newEnv(t, b, envOptions{tokenRecheck: 50 * time.Millisecond})
					id := e.create("alice")
					events, stop := e.streamEvents(ctx, "alice", id)
					defer stop()
					if m := <-events; m["status"] != "CREATED" {
						t.Fatalf("first event %v", m)
					}
					if err := e.auth.Revoke(ctx, e.tokenIDs[c.revoke]); err != nil {
						t.Fatal(err)
					}
					if !c.ends {
						// A change after a few rechecks still arrives.
						time.Sleep(200 * time.Millisecond)
						e.uploadURLs("admin", id)
						for m := range events {
							if m["status"] == "UPLOADING" {
								return
							}
						}
						t.Fatal("the stream ended")
					}
					for {
						select {
						case m, ok := <-events:
							if !ok {
								return
							}
							if m["status"] != nil && m["status"] != "CREATED" {
								t.Fatalf("event after revocation: %v", m)
							}
						case <-ctx.Done():
							t.Fatal("the stream outlived its revoked token")
						}
					}
				})
			}
		})
	}
}

// TestConflictsNameClientActions: a 409 lists what the client may still do
// through the API (allowed_actions), never the model's internal events; a
// task type without uploads answers 409 to upload-urls and process.
func TestConflictsNameClientActions(t *testing.T) {
	for _, b := range backendNames {
		t.Run(b, func(t *testing.T) {
			e := newEnv(t, b, envOptions{})
			created := e.create("alice")
			uploading := e.create("alice")
			e.uploadURLs("alice", uploading)
			training := e.must(201, "POST", "/tasks", "alice", `{"task_type":"training"}`).json(t)["task_id"].(string)
			cancelled := e.createOf("training", "")
			e.must(200, "POST", "/tasks/"+cancelled+"/cancel", "alice", "")
			cases := []struct {
				name, method, path, body string
				kind, current            string
				actions                  []string
				detail                   string
			}{
				{"cancel while CREATED", "POST", "/tasks/" + created + "/cancel", "", "transition", "CREATED", []string{"upload-urls"}, "cancel is not possible while the task is CREATED; possible now: upload-urls"},
				{"cancel while UPLOADING", "POST", "/tasks/" + uploading + "/cancel", "", "transition", "UPLOADING", []string{"process"}, "cancel is not possible while the task is UPLOADING; possible now: process"},
				{"cancel once CANCELLED", "POST", "/tasks/" + cancelled + "/cancel", "", "transition", "CANCELLED", []string{}, "cancel is not possible while the task is CANCELLED; no action is possible now"},
				{"process while CREATED", "POST", "/tasks/" + created + "/process", "", "transition", "CREATED", []string{"upload-urls"}, "process is not possible while the task is CREATED; possible now: upload-urls"},
				{"process on training", "POST", "/tasks/" + training + "/process", "", "no-uploads", "", nil, ""},
				{"upload-urls on training", "POST", "/tasks/" + training + "/upload-urls", `{"files":{}}`, "no-uploads", "", nil, ""},
			}
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					p := checkProblem(t, e.do(c.method, c.path, "alice", c.body), 409, c.kind, "")
					if c.kind == "no-uploads" {
						if !strings.Contains(fmt.Sprint(p["detail"]), "training, which takes no uploads") {
							t.Errorf("detail %v", p["detail"])
						}
						return
					}
					if p["current_status"] != c.current || !slices.Equal(toStrings(p["allowed_actions"]), c.actions) || p["allowed_events"] != nil {
						t.Errorf("problem %v; want %s and actions %v", p, c.current, c.actions)
					}
					if p["detail"] != c.detail {
						t.Errorf("detail %q, want %q (API actions, not the spec's events)", p["detail"], c.detail)
					}
				})
			}
		})
	}
}

// TestProcessChecksFiles: process refuses an empty file (min_size, 1 byte
// by default) and a parameters file that is not one JSON value (format:
// json): the task moves to UPLOAD_FAILED with a message naming the file and
// the fault, the bad file is deleted, and the client may upload again.
func TestProcessChecksFiles(t *testing.T) {
	for _, b := range sqlBackends {
		t.Run(b, func(t *testing.T) {
			e := newEnv(t, b, envOptions{})
			cases := []struct {
				name, primary, params string
				status, message       string
			}{
				{"valid", "a\n1\n", `{"threshold":0.5}`, "QUEUED", ""},
				{"empty primary", "", `{}`, "UPLOAD_FAILED", "primary is empty; it must hold at least 1 byte"},
				{"parameters not JSON", "a\n", "threshold=0.5", "UPLOAD_FAILED", "parameters is not valid JSON"},
				{"parameters cut short", "a\n", `{"threshold":`, "UPLOAD_FAILED", "parameters is not valid JSON"},
				{"two JSON values", "a\n", `{} {}`, "UPLOAD_FAILED", "parameters is not valid JSON (it holds more than one JSON value)"},
				{"empty parameters", "a\n", "", "UPLOAD_FAILED", "parameters is empty"},
			}
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					id := e.create("alice")
					up := e.uploadURLs("alice", id)
					e.put(up["primary"].(map[string]any), "text/csv", c.primary)
					e.put(up["parameters"].(map[string]any), "application/json", c.params)
					v := e.must(200, "POST", "/tasks/"+id+"/process", "alice", "").json(t)
					if v["status"] != c.status || !strings.Contains(fmt.Sprint(v["error_message"]), c.message) {
						t.Fatalf("process: status %v, error_message %v; want %s with %q", v["status"], v["error_message"], c.status, c.message)
					}
					if c.status == "QUEUED" {
						return
					}
					// New URLs, good files: the task is queued.
					up = e.uploadURLs("alice", id)
					e.put(up["primary"].(map[string]any), "text/csv", "a\n1\n")
					e.put(up["parameters"].(map[string]any), "application/json", `{"threshold":0.5}`)
					if v := e.must(200, "POST", "/tasks/"+id+"/process", "alice", "").json(t); v["status"] != "QUEUED" {
						t.Fatalf("after uploading again: %v", v)
					}
				})
			}
		})
	}
}

// TestConflictingCredentials: a request carries its token once; two
// Authorization headers, or an Authorization header with ?access_token=,
// are a 400 naming the header or the parameter, not resolved silently in
// favour of one of them.
func TestConflictingCredentials(t *testing.T) {
	e := newEnv(t, "memory", envOptions{})
	id := e.create("alice")
	alice, bob := "Bearer "+e.tokens["alice"], "Bearer "+e.tokens["bob"]
	cases := []struct {
		name, path  string
		auth        []string
		status      int
		field       string
		contentType string
	}{
		{"two Authorization headers", "/tasks/" + id, []string{alice, bob}, 400, "Authorization", ""},
		{"the same header twice", "/tasks", []string{alice, alice}, 400, "Authorization", ""},
		{"two headers on an event stream", "/tasks/" + id + "/events", []string{alice, bob}, 400, "Authorization", ""},
		{"a header and access_token", "/tasks/" + id + "/events?access_token=" + e.tokens["bob"], []string{alice}, 400, "access_token", ""},
		{"a header and the same access_token", "/tasks/" + id + "/events?access_token=" + e.tokens["alice"], []string{alice}, 400, "access_token", ""},
		{"one header", "/tasks/" + id, []string{alice}, 200, "", "application/json"},
		{"access_token alone", "/tasks/" + id + "/events?access_token=" + e.tokens["alice"], nil, 200, "", "text/event-stream"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, "GET", e.url+c.path, nil)
			for _, a := range c.auth {
				req.Header.Add("Authorization", a)
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			if c.status == 200 {
				if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), c.contentType) {
					t.Fatalf("%d %s", res.StatusCode, res.Header.Get("Content-Type"))
				}
				return
			}
			body, _ := io.ReadAll(res.Body)
			checkProblem(t, response{status: res.StatusCode, header: res.Header, body: body}, c.status, "validation", c.field)
		})
	}
}

// records is a slog.Handler that keeps every record.
type records struct {
	mu  sync.Mutex
	all []slog.Record
}

func (h *records) Enabled(context.Context, slog.Level) bool { return true }
func (h *records) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.all = append(h.all, r)
	return nil
}
func (h *records) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *records) WithGroup(string) slog.Handler      { return h }

// at returns the messages of the records at level or above.
func (h *records) at(level slog.Level) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, r := range h.all {
		if r.Level >= level {
			out = append(out, r.Level.String()+" "+r.Message)
		}
	}
	return out
}

// TestClientMistakesAreNotLoggedAsErrors: a request refused for the
// client's own mistake is answered with its problem and logged below
// warning level, the HTTP/2 preface's 505 included.
func TestClientMistakesAreNotLoggedAsErrors(t *testing.T) {
	for _, c := range []struct {
		name, req string
		status    int
	}{
		{"HTTP/2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505},
		{"unknown HTTP version", "GET /tasks HTTP/9.9\r\nHost: x\r\n\r\n", 505},
		{"GET *", "GET * HTTP/1.1\r\nHost: x\r\n\r\n", 400},
	} {
		t.Run(c.name, func(t *testing.T) {
			log := &records{}
			e := newEnv(t, "memory", envOptions{log: log})
			res, body := rawRequest(t, strings.TrimPrefix(e.url, "http://"), c.req)
			if res == nil {
				t.Fatal("no answer")
			}
			checkProblem(t, response{status: res.StatusCode, header: res.Header, body: body}, c.status, map[int]string{400: "validation", 505: "unsupported"}[c.status], "")
			if got := log.at(slog.LevelWarn); len(got) > 0 {
				t.Errorf("logged %q", got)
			}
		})
	}
}
