package main_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// serving is a `taskmodel serve` process of the sandbox.
type serving struct {
	url    string
	cmd    *exec.Cmd
	stderr *lockedBuffer
	done   chan error
}

func (s *sandbox) serve(args ...string) *serving {
	s.t.Helper()
	cmd := exec.Command(binary, append([]string{"serve", "--addr", "127.0.0.1:0", "--agent-time", "20ms"}, args...)...)
	cmd.Dir, cmd.Env = s.dir, s.env
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		s.t.Fatal(err)
	}
	sv := &serving{cmd: cmd, stderr: &lockedBuffer{}, done: make(chan error, 1)}
	cmd.Stderr = sv.stderr
	if err := cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	go func() { sv.done <- cmd.Wait() }()
	s.t.Cleanup(func() { _ = cmd.Process.Kill() })
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		s.t.Fatalf("serve printed no address: %v\n%s", err, sv.stderr)
	}
	// "taskmodel serve: listening on http://127.0.0.1:PORT (database …)"
	_, rest, _ := strings.Cut(line, "listening on ")
	sv.url, _, _ = strings.Cut(rest, " ")
	go func() { _, _ = io.Copy(io.Discard, stdout) }()
	return sv
}

func (sv *serving) call(t *testing.T, method, path, token, body string, header ...string) (int, map[string]any) {
	t.Helper()
	url := path
	if strings.HasPrefix(path, "/") {
		url = sv.url + path
	}
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var m map[string]any
	data, _ := io.ReadAll(res.Body)
	_ = json.Unmarshal(data, &m)
	return res.StatusCode, m
}

// TestServe runs the built binary's serve command on each database: the
// upload → process flow with a token from `taskmodel token create`, a worker pool
// and the demo handler, then a graceful stop on SIGTERM.
func TestServe(t *testing.T) {
	for _, eng := range engines {
		t.Run(eng.name, func(t *testing.T) {
			s := newSandbox(t, eng.env(t)...)
			token := strings.TrimSpace(s.ok("token", "create", "--user", "ana", "-q"))
			sv := s.serve()
			if code, _ := sv.call(t, "GET", "/tasks", "", ""); code != 401 {
				t.Fatalf("no token: %d, want 401", code)
			}
			code, task := sv.call(t, "POST", "/tasks", token, `{"tool_id":"profile-my-data","agents":["unified-profiler","score-risk"]}`)
			if code != 201 || task["user_id"] != "ana" {
				t.Fatalf("create: %d %v", code, task)
			}
			id := task["task_id"].(string)
			code, urls := sv.call(t, "POST", "/tasks/"+id+"/upload-urls", token, `{"files":{"primary":{"filename":"data.csv","content_type":"text/csv"}}}`)
			if code != 200 {
				t.Fatalf("upload-urls: %d %v", code, urls)
			}
			put := urls["uploads"].(map[string]any)["primary"].(map[string]any)["url"].(string)
			if code, _ := sv.call(t, "PUT", put, "", "a\nb\n", "Content-Type", "text/csv"); code != 200 {
				t.Fatalf("PUT: %d", code)
			}
			if code, p := sv.call(t, "POST", "/tasks/"+id+"/process", token, ""); code != 200 || p["status"] != "QUEUED" && p["status"] != "PROCESSING" {
				t.Fatalf("process: %d %v", code, p)
			}
			deadline := time.Now().Add(20 * time.Second)
			for {
				_, got := sv.call(t, "GET", "/tasks/"+id, token, "")
				if got["status"] == "COMPLETED" {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("task never completed: %v\n%s", got, sv.stderr)
				}
				time.Sleep(20 * time.Millisecond)
			}
			if code, dl := sv.call(t, "GET", "/tasks/"+id+"/downloads", token, ""); code != 200 || len(dl["downloads"].([]any)) != 1 {
				t.Fatalf("downloads: %d %v", code, dl)
			}
			if code, rows := sv.callList(t, "/tasks?task_type=analysis", token); code != 200 || len(rows) != 1 || rows[0]["id"] != id {
				t.Fatalf("listing: %d %v, want the task %s", code, rows, id)
			}
			if err := sv.cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			select {
			case err := <-sv.done:
				if err != nil {
					t.Fatalf("serve exited with %v\n%s", err, sv.stderr)
				}
			case <-time.After(15 * time.Second):
				t.Fatalf("serve did not stop on SIGTERM\n%s", sv.stderr)
			}
			if !strings.Contains(sv.stderr.String(), `"msg":"stopped"`) {
				t.Errorf("no stop line in the log:\n%s", sv.stderr)
			}
		})
	}
}

// TestServeRefusals: anonymous access needs a loopback address; bad flags
// are usage errors.
func TestServeRefusals(t *testing.T) {
	s := newSandbox(t)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"serve", "--allow-anonymous", "--addr", "0.0.0.0:0"}, "--allow-anonymous needs a loopback --addr"},
		{[]string{"serve", "--log-level", "loud"}, `--log-level "loud"`},
		{[]string{"serve", "--workers", "-1"}, "--workers must be 0 or more"},
		// A configuration error (7) names the flag as it was typed.
		{[]string{"serve", "--database-url", "foo://bar"}, `flag: --database-url: unsupported URL scheme "foo"`},
	} {
		r := s.run(c.args...)
		want := 2
		if strings.HasPrefix(c.want, "flag:") {
			want = 7
		}
		if r.code != want || !strings.Contains(r.stderr, c.want) {
			t.Errorf("taskmodel %s: exit %d, stderr %q; want exit %d and %q", strings.Join(c.args, " "), r.code, r.stderr, want, c.want)
		}
	}
}

// TestServeTracingSettings: serve refuses OTEL_ settings it cannot follow,
// naming the variable and what it takes; and once tracing is on, the
// OpenTelemetry SDK's errors (here, spans sent to a port nobody listens
// on) are JSON lines of the log like every other line, at level warn.
func TestServeTracingSettings(t *testing.T) {
	for _, c := range []struct {
		name string
		env  []string
		want string // the refusal; "" when serve starts
	}{
		{"unparsable endpoint", []string{"OTEL_EXPORTER_OTLP_ENDPOINT=::bad::"},
			`OTEL_EXPORTER_OTLP_ENDPOINT: "::bad::" is not an endpoint URL; use an http or https URL with a host, such as http://collector:4318`},
		{"traces endpoint without a scheme", []string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=collector:4318"},
			`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "collector:4318" is not an endpoint URL`},
		{"another exporter", []string{"OTEL_TRACES_EXPORTER=zipkin"}, `OTEL_TRACES_EXPORTER: "zipkin" is not supported; use otlp or none`},
		{"grpc", []string{"OTEL_TRACES_EXPORTER=otlp", "OTEL_EXPORTER_OTLP_PROTOCOL=grpc"}, `OTEL_EXPORTER_OTLP_PROTOCOL: "grpc" is not supported; use http/protobuf`},
		{"export refused", []string{"OTEL_TRACES_EXPORTER=OTLP", "OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:1", "OTEL_BSP_SCHEDULE_DELAY=50", "OTEL_EXPORTER_OTLP_TIMEOUT=200"}, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := newSandbox(t, c.env...)
			if c.want != "" {
				// A serve that starts would not stop: bound it.
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel()
				cmd := exec.CommandContext(ctx, binary, "serve", "--addr", "127.0.0.1:0")
				cmd.Dir, cmd.Env = s.dir, s.env
				var stderr bytes.Buffer
				cmd.Stderr = &stderr
				err := cmd.Run()
				if code := cmd.ProcessState.ExitCode(); code != 2 || !strings.Contains(stderr.String(), c.want) {
					t.Errorf("exit %d (%v), stderr %q; want exit 2 and %q", code, err, stderr.String(), c.want)
				}
				return
			}
			token := strings.TrimSpace(s.ok("token", "create", "--user", "ana", "-q"))
			sv := s.serve()
			if code, task := sv.call(t, "POST", "/tasks", token, `{"task_type":"training","tag":"a"}`); code != 201 {
				t.Fatalf("create: %d %v", code, task)
			}
			for deadline := time.Now().Add(20 * time.Second); !strings.Contains(sv.stderr.String(), "opentelemetry: "); time.Sleep(20 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatalf("no export error logged:\n%s", sv.stderr)
				}
			}
			if err := sv.cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			<-sv.done
			exportErrors := 0
			for _, line := range strings.Split(strings.TrimSpace(sv.stderr.String()), "\n") {
				var m map[string]any
				if err := json.Unmarshal([]byte(line), &m); err != nil {
					t.Errorf("not a JSON line: %q", line)
					continue
				}
				if msg, _ := m["msg"].(string); strings.HasPrefix(msg, "opentelemetry: ") {
					exportErrors++
					if m["level"] != "WARN" {
						t.Errorf("level %v; want WARN: %q", m["level"], line)
					}
				}
			}
			if exportErrors == 0 {
				t.Errorf("no export error in the log:\n%s", sv.stderr)
			}
		})
	}
}
