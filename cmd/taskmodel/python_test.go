package main_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// python is the interpreter of the Python client's tests.
const python = "/usr/bin/python3"

// pythonDir is the Python client package, from this package's directory.
var pythonDir = filepath.Join("..", "..", "clients", "python")

// needPython skips the test, loudly, when python3 is missing, or fails it
// under CI=true.
func needPython(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(python); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s: %v (CI=true: this test never skips)", python, err)
		}
		t.Skipf("\n\n*** SKIPPING THE PYTHON CLIENT'S TESTS: %s is missing ***\n", python)
	}
}

// runPython runs the Python client's unittest modules matching pattern
// with env added, failing the test with their output when they fail.
func runPython(t *testing.T, pattern string, env ...string) string {
	t.Helper()
	cmd := exec.Command(python, "-m", "unittest", "discover", "-v", "-s", "tests", "-t", ".", "-p", pattern)
	cmd.Dir = pythonDir
	cmd.Env = append(os.Environ(), append([]string{"PYTHONDONTWRITEBYTECODE=1", "PYTHONUNBUFFERED=1"}, env...)...)
	start := time.Now()
	out, err := cmd.CombinedOutput()
	t.Logf("python3 -m unittest (%s) in %s:\n%s", pattern, time.Since(start).Round(time.Millisecond), out)
	if err != nil {
		t.Fatalf("the Python tests failed: %v", err)
	}
	if strings.Contains(string(out), "skipped") {
		t.Fatalf("a Python test was skipped")
	}
	return string(out)
}

// TestPythonUnit runs the Python client's unit tests (the SSE parser; the
// client, worker and tracker against an in-process fake server).
func TestPythonUnit(t *testing.T) {
	needPython(t)
	runPython(t, "test_[su]*.py")
}

// TestPythonClient runs the Python client's end-to-end tests against the
// built binary's serve, on SQLite and PostgreSQL: a Python worker runs
// training tasks to DONE and fails one, fails an analysis task with an
// error code, sees a cancellation in its handler, takes over the task of a
// worker killed with SIGKILL once its lease is lost; a Python script tracks
// a three-stage pipeline, which `taskmodel status --json` then shows.
func TestPythonClient(t *testing.T) {
	needPython(t)
	if testing.Short() {
		t.Skip("the Python end-to-end tests wait for a lost lease (about a minute per database)")
	}
	for _, eng := range engines {
		t.Run(eng.name, func(t *testing.T) {
			s := newSandbox(t, eng.env(t)...)
			token := strings.TrimSpace(s.ok("token", "create", "--user", "ana", "-q"))
			workerToken := strings.TrimSpace(s.ok("token", "create", "--worker", "--models", "training,analysis", "-q"))
			sv := s.serve("--workers", "0")
			out := filepath.Join(s.dir, "runs.json")
			runPython(t, "test_e2e.py", "TASKMODEL_URL="+sv.url, "TASKMODEL_TOKEN="+token,
				"TASKMODEL_WORKER_TOKEN="+workerToken, "TASKMODEL_E2E_OUT="+out)

			data, err := os.ReadFile(out)
			if err != nil {
				t.Fatalf("the pipeline test wrote no run ids: %v", err)
			}
			var runs map[string]string
			if err := json.Unmarshal(data, &runs); err != nil {
				t.Fatal(err)
			}
			var status []struct {
				Stage, Task, Status string
				Percent             float64 `json:"percent"`
				Run                 *runJSON
			}
			s.json(&status, "status")
			want := map[string]string{"PY-PREP": "COMPLETED", "PY-TRAIN": "COMPLETED", "PY-REPORT": "RUNNING"}
			got := map[string]string{}
			for _, st := range status {
				if _, ok := want[st.Stage]; !ok {
					continue
				}
				got[st.Stage] = st.Status
				if st.Run == nil || st.Run.ID != runs[st.Stage] {
					t.Errorf("status --json: %s's run is %+v, want the Python script's %s", st.Stage, st.Run, runs[st.Stage])
				}
				// Subtask 1 complete and subtask 2 at 50%: (100 + 50) / 2.
				if st.Stage == "PY-REPORT" && st.Percent != 75 {
					t.Errorf("status --json: PY-REPORT at %v%%, want 75%%", st.Percent)
				}
			}
			for k, v := range want {
				if got[k] != v {
					t.Errorf("status --json: %s is %q, want %q (all: %v)", k, got[k], v, got)
				}
			}
		})
	}
}
