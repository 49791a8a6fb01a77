package main_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/taskmodel/taskmodel/backends/mysql/mysqltest"
	"github.com/taskmodel/taskmodel/backends/postgres/pgtest"
)

// The tests build the taskmodel binary once and run it as a script would.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "taskmodel-e2e")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "taskmodel")
	if out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "go build: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// sandbox is a working directory and an environment with nothing of the
// caller's taskmodel settings: HOME and XDG_DATA_HOME inside it.
type sandbox struct {
	t   *testing.T
	dir string
	env []string
}

func newSandbox(t *testing.T, extra ...string) *sandbox {
	dir := t.TempDir()
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "XDG_DATA_HOME=" + filepath.Join(dir, "data")}
	return &sandbox{t: t, dir: dir, env: append(env, extra...)}
}

type result struct {
	code           int
	stdout, stderr string
}

func (s *sandbox) run(args ...string) result {
	s.t.Helper()
	return s.runIn(s.dir, args...)
}

func (s *sandbox) runIn(dir string, args ...string) result {
	s.t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Dir, cmd.Env = dir, s.env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		s.t.Fatalf("run %v: %v", args, err)
	}
	return result{code, out.String(), errb.String()}
}

// ok runs a command that must succeed and returns its standard output.
func (s *sandbox) ok(args ...string) string {
	s.t.Helper()
	r := s.run(args...)
	if r.code != 0 {
		s.t.Fatalf("taskmodel %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r.stdout
}

func (s *sandbox) json(v any, args ...string) {
	s.t.Helper()
	out := s.ok(append(args, "--json")...)
	if err := json.Unmarshal([]byte(out), v); err != nil {
		s.t.Fatalf("taskmodel %s --json: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func (s *sandbox) write(name, content string) string {
	s.t.Helper()
	p := filepath.Join(s.dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		s.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		s.t.Fatal(err)
	}
	return p
}

const pipelineYAML = `stages:
  - name: PREREQ
    tasks:
      - {name: Install R, type: sh}
  - name: STATIC
    tasks:
      - {name: Build Database, type: R, log_path: /var/log, log_filename: build.log}
`

var uuidLine = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\n$`)

// engines are the databases the binary is tested on, given through the
// environment as a script's would be.
var engines = []struct {
	name string
	env  func(t *testing.T) []string
}{
	{"sqlite", func(t *testing.T) []string { return nil }},
	{"postgres", func(t *testing.T) []string {
		cfg := pgtest.Schema(t)
		return []string{"TASKMODEL_DATABASE_URL=" + pgtest.URL(), "TASKMODEL_DB_SCHEMA=" + cfg.ConnConfig.RuntimeParams["search_path"]}
	}},
	{"mysql", func(t *testing.T) []string { return []string{"TASKMODEL_DATABASE_URL=" + mysqltest.Database(t)} }},
}

type runJSON struct {
	ID             string   `json:"id"`
	RunID          string   `json:"run_id"`
	Percent        float64  `json:"percent"`
	PercentSource  string   `json:"percent_source"`
	Status         string   `json:"status"`
	Stage          string   `json:"stage"`
	Task           string   `json:"task"`
	OverallPercent float64  `json:"overall_percent"`
	PID            *int64   `json:"pid"`
	LogFilename    *string  `json:"log_filename"`
	ErrorMessage   *string  `json:"error_message"`
	CurrentSubtask *int64   `json:"current_subtask"`
	MemoryMB       *float64 `json:"memory_mb"`
}

type subtaskJSON struct {
	SubtaskNumber int64   `json:"subtask_number"`
	Name          string  `json:"name"`
	Status        string  `json:"status"`
	ItemsComplete int64   `json:"items_complete"`
	ItemsTotal    *int64  `json:"items_total"`
	Percent       float64 `json:"percent"`
}

func TestScriptFlow(t *testing.T) {
	for _, eng := range engines {
		t.Run(eng.name, func(t *testing.T) {
			s := newSandbox(t, eng.env(t)...)
			s.write("pipeline.yml", pipelineYAML)
			if out := s.ok("pipeline", "register", "pipeline.yml"); out != "" {
				t.Errorf("register printed %q on standard output", out)
			}
			var counts map[string]int
			s.json(&counts, "pipeline", "register", "pipeline.yml")
			if counts["stages"] != 2 || counts["tasks"] != 2 {
				t.Errorf("register --json: %v", counts)
			}

			r := s.run("run", "start", "STATIC", "Build Database", "--subtasks", "2", "--env", "env=test")
			if r.code != 0 || !uuidLine.MatchString(r.stdout) {
				t.Fatalf("run start: exit %d, stdout %q (want the run id alone)\n%s", r.code, r.stdout, r.stderr)
			}
			run := strings.TrimSpace(r.stdout)
			if want := "[TASK START] STATIC / Build Database (run_id: " + run + ")"; !strings.Contains(r.stderr, want) {
				t.Errorf("stderr lacks %q: %s", want, r.stderr)
			}
			s.ok("subtask", "start", run, "1", "Loading data", "--items", "56")
			s.ok("subtask", "increment", run, "1")
			s.ok("subtask", "increment", run, "1", "27")
			s.ok("subtask", "update", run, "1", "--message", "Processing state 28/56")
			var subs []subtaskJSON
			s.json(&subs, "subtask", "list", run)
			if len(subs) != 1 || subs[0].ItemsComplete != 28 || subs[0].Percent != 50 || subs[0].Status != "RUNNING" {
				t.Fatalf("subtask list: %+v", subs)
			}
			s.ok("subtask", "complete", run, "1", "All states loaded")
			s.ok("subtask", "start", run, "2", "Indexes")
			s.ok("run", "update", run, "--percent", "75", "--message", "indexing")

			var status []struct {
				Stage, Task, Status string
				Run                 *runJSON
			}
			s.json(&status, "status")
			if len(status) != 2 || status[0].Status != "NOT_STARTED" || status[0].Run != nil ||
				status[1].Status != "RUNNING" || status[1].Run.ID != run || status[1].Run.OverallPercent != 75 {
				t.Fatalf("status --json: %+v", status)
			}
			if tbl := s.ok("status"); !strings.Contains(tbl, "STATIC  Build Database  RUNNING") || !strings.Contains(tbl, run) {
				t.Errorf("status table:\n%s", tbl)
			}
			var active []runJSON
			s.json(&active, "active")
			if len(active) != 1 || active[0].RunID != run || active[0].ID != "" || active[0].LogFilename == nil || *active[0].LogFilename != "build.log" ||
				active[0].PID == nil || *active[0].CurrentSubtask != 2 {
				t.Fatalf("active --json: %+v", active)
			}
			var frame struct {
				Active []struct {
					Run      runJSON       `json:"run"`
					Subtasks []subtaskJSON `json:"subtasks"`
				} `json:"active"`
			}
			s.json(&frame, "watch", "--once")
			if len(frame.Active) != 1 || len(frame.Active[0].Subtasks) != 2 {
				t.Fatalf("watch --once --json: %+v", frame)
			}
			if view := s.ok("watch", "--once"); !strings.Contains(view, "[##") || !strings.Contains(view, "Loading data") {
				t.Errorf("watch --once:\n%s", view)
			}

			// Failing the run fails its unfinished subtask 2.
			s.ok("run", "fail", run, "index build failed", "--detail", "trace")
			var detail struct {
				Run      runJSON       `json:"run"`
				Subtasks []subtaskJSON `json:"subtasks"`
			}
			s.json(&detail, "run", "show", run)
			if detail.Run.Status != "FAILED" || *detail.Run.ErrorMessage != "index build failed" || detail.Subtasks[1].Status != "FAILED" {
				t.Fatalf("run show: %+v", detail)
			}

			second := strings.TrimSpace(s.ok("run", "start", "PREREQ", "Install R"))
			s.ok("run", "complete", second, "done")
			var history []runJSON
			s.json(&history, "history", "--limit", "1")
			if len(history) != 1 || history[0].RunID != second || history[0].ID != "" || history[0].Status != "COMPLETED" {
				t.Fatalf("history --limit 1: %+v", history)
			}
			s.json(&history, "history", "--stage", "STATIC", "--task", "Build Database")
			if len(history) != 1 || history[0].RunID != run {
				t.Fatalf("history --stage --task: %+v", history)
			}
			var tasks []struct{ Stage, Name string }
			s.json(&tasks, "pipeline", "tasks", "PREREQ")
			if len(tasks) != 1 || tasks[0].Name != "Install R" {
				t.Fatalf("pipeline tasks PREREQ: %+v", tasks)
			}
			skipped := strings.TrimSpace(s.ok("run", "start", "PREREQ", "Install R", "--skip", "--message", "installed"))
			s.json(&detail, "run", "show", skipped)
			if detail.Run.Status != "SKIPPED" {
				t.Fatalf("run start --skip: %+v", detail.Run)
			}
		})
	}
}

func TestExitCodesAndRefusalsWriteNothing(t *testing.T) {
	s := newSandbox(t)
	s.write("pipeline.yml", pipelineYAML)
	s.ok("pipeline", "register", "pipeline.yml")
	run := strings.TrimSpace(s.ok("run", "start", "STATIC", "Build Database", "--subtasks", "2"))
	done := strings.TrimSpace(s.ok("run", "start", "PREREQ", "Install R"))
	s.ok("run", "complete", done)
	s.ok("subtask", "start", run, "1", "Load", "--items", "10")
	s.ok("subtask", "increment", run, "1", "9")

	cases := []struct {
		name string
		args []string
		code int
		kind string
		want string
	}{
		{"unknown run id", []string{"run", "update", "00000000-0000-7000-8000-000000000000", "--percent", "5"}, 3, "not_found", "update: run 00000000-0000-7000-8000-000000000000: not found"},
		{"unknown subtask", []string{"subtask", "increment", run, "2"}, 3, "not_found", "run " + run + ": subtask 2: increment: not found; start it first"},
		{"unknown task", []string{"run", "start", "STATIC", "Nope"}, 3, "not_found", `registered in that stage: "Build Database"`},
		{"unknown stage", []string{"run", "start", "STAT", "Build Database"}, 3, "not_found", `stage "STAT": not found; registered stages: "PREREQ", "STATIC"`},
		{"percent 120", []string{"run", "update", run, "--percent", "120"}, 4, "invalid", "run " + run + ": update: --percent: must be ≤ 100 (got 120)"},
		{"stage with a trailing space", []string{"run", "start", "STATIC ", "Build Database"}, 4, "invalid", "start STATIC  / Build Database: STAGE: must not begin or end with a space"},
		{"register a task with a trailing space", []string{"pipeline", "register", "--stage", "CLI ", "--name", "Job"}, 4, "invalid", "--stage: must not begin or end with a space"},
		{"subtask name with a leading space", []string{"subtask", "start", run, "2", " x"}, 4, "invalid", "run " + run + ": subtask 2: start: NAME: must not begin or end with a space"},
		{"negative --subtasks", []string{"run", "start", "STATIC", "Build Database", "--subtasks", "-1"}, 4, "invalid", "start STATIC / Build Database: --subtasks: must be ≥ 0 (got -1)"},
		{"fail with an empty message", []string{"run", "fail", run, ""}, 4, "invalid", "run " + run + ": fail: MESSAGE: is required"},
		{"negative --items", []string{"subtask", "start", run, "2", "x", "--items", "-1"}, 4, "invalid", "run " + run + ": subtask 2: start: --items: must be ≥ 0 (got -1)"},
		{"subtask --items-total below the count", []string{"subtask", "update", run, "1", "--items-total", "5"}, 4, "invalid", "run " + run + ": subtask 1: update: --items-total: must be at least items_complete (9)"},
		{"negative increment", []string{"subtask", "increment", run, "1", "--", "-3"}, 4, "invalid", "run " + run + ": subtask 1: increment: BY: must be at least 1"},
		{"increment past the total", []string{"subtask", "increment", run, "1", "2"}, 4, "invalid", "run " + run + ": subtask 1: increment: BY: must be at most 1: items_complete is 9 of items_total 10"},
		{"negative items_complete", []string{"subtask", "update", run, "1", "--items-complete", "-1"}, 4, "invalid", "run " + run + ": subtask 1: update: --items-complete: must be ≥ 0 (got -1)"},
		{"subtask past total_subtasks", []string{"subtask", "start", run, "3", "x"}, 4, "invalid", "run " + run + ": subtask 3: start: N: must be at most 2, the run's total_subtasks"},
		{"complete twice", []string{"run", "complete", done}, 5, "not_allowed", `: complete: not possible while the run is COMPLETED; it has ended`},
		{"update a completed run", []string{"run", "update", done, "--percent", "5"}, 5, "not_allowed", "update: run " + done + " is COMPLETED: cannot update it; updates need STARTED or RUNNING"},
		{"complete with an unfinished subtask", []string{"run", "complete", run}, 5, "not_allowed", "subtask 1 (Load) is RUNNING; subtask 2 of 2 never started; complete or fail them first; or force it: taskmodel run complete " + run + " --force"},
		{"subtask started twice", []string{"subtask", "start", run, "1", "again"}, 6, "conflict", "run " + run + ": subtask 1: start: subtask 1 was started already; each number starts once per run"},
		{"malformed run id", []string{"run", "complete", "not-a-uuid"}, 2, "usage", `run id "not-a-uuid" is not a UUID`},
		{"missing argument", []string{"run", "start", "STATIC"}, 2, "usage", "run start needs TASK, the task's name"},
		{"unknown flag", []string{"status", "--colour"}, 2, "usage", "unknown flag: --colour"},
		// The command suggested is the one run, --json included when it
		// is run again with --json (TestUsageMessages has its forms).
		{"a negative number", []string{"progress", "-5"}, 2, "usage", "-5 is taken for a flag; to give a negative number as an argument, put -- before it: taskmodel "},
		{"unknown command", []string{"runs"}, 2, "usage", `unknown command "runs"`},
		{"fail without a message", []string{"run", "fail", run}, 2, "usage", "run fail needs MESSAGE, the error message"},
		{"bad history limit", []string{"history", "--limit", "0"}, 4, "invalid", "--limit: must be between 1 and 10000, not 0"},
		{"history limit too large", []string{"history", "--limit", "10001"}, 4, "invalid", "--limit: must be between 1 and 10000, not 10001"},
		{"registration file missing", []string{"pipeline", "register", "/nonexistent/pipeline.yml"}, 2, "usage", "registration file /nonexistent/pipeline.yml: no such file"},
		{"status of an unknown stage", []string{"status", "--stage", "STATC"}, 3, "not_found", `stage "STATC": not found; registered stages: `},
		{"history of an unknown stage", []string{"history", "--stage", "STATC"}, 3, "not_found", `stage "STATC": not found; registered stages: `},
		{"watch of an unknown stage", []string{"watch", "--stage", "STATC", "--once"}, 3, "not_found", `stage "STATC": not found; registered stages: `},
		{"history of an unknown task", []string{"history", "--task", "Build Databse"}, 3, "not_found", `task "Build Databse": not found; registered tasks: `},
		{"history of a task not in the stage", []string{"history", "--stage", "PREREQ", "--task", "Build Database"}, 3, "not_found", `task "Build Database" in stage "PREREQ": not found; registered in that stage: `},
		{"tasks of an unknown stage", []string{"pipeline", "tasks", "STATC"}, 3, "not_found", `stage "STATC": not found; registered stages: `},
	}
	// Everything stored, without the estimates (they move with the clock).
	state := func() string { return s.ok("history", "--json") + s.ok("subtask", "list", run, "--json") }
	before := state()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := s.run(c.args...)
			if r.code != c.code || !strings.Contains(r.stderr, "taskmodel: ") || !strings.Contains(r.stderr, c.want) || r.stdout != "" {
				t.Fatalf("exit %d (want %d)\nstdout %q\nstderr %s\nwant %q", r.code, c.code, r.stdout, r.stderr, c.want)
			}
			r = s.run(append([]string{"--json"}, c.args...)...)
			var e struct {
				Error string `json:"error"`
				Code  string `json:"code"`
				Exit  int    `json:"exit"`
			}
			{
				if err := json.Unmarshal([]byte(r.stderr), &e); err != nil || e.Code != c.kind || e.Exit != c.code || !strings.Contains(e.Error, c.want) {
					t.Fatalf("--json error %q: %+v, %v", r.stderr, e, err)
				}
			}
			if r.code != c.code {
				t.Fatalf("--json exit %d, want %d", r.code, c.code)
			}
		})
	}
	if after := state(); after != before {
		t.Errorf("refused calls wrote:\nbefore %s\nafter  %s", before, after)
	}
}

func TestConfiguration(t *testing.T) {
	s := newSandbox(t)
	project := filepath.Join(s.dir, "project")
	deep := filepath.Join(project, "scripts", "stage1")
	if err := os.MkdirAll(deep, 0o755); err != nil {
		t.Fatal(err)
	}
	s.write("project/.taskmodel.yml", "database:\n  driver: sqlite\n  name: ${PIPELINE_DB:-state/pipeline.db}\n")
	s.write("pipeline.yml", pipelineYAML)

	var cfg struct {
		Database struct{ Driver, Name string }
		File     string
		Sources  map[string]string
	}
	decode := func(r result) {
		t.Helper()
		if r.code != 0 || json.Unmarshal([]byte(r.stdout), &cfg) != nil {
			t.Fatalf("config --json: exit %d %s %s", r.code, r.stdout, r.stderr)
		}
	}
	// Nothing configured: the data directory.
	decode(s.run("config", "--json"))
	if cfg.Database.Name != filepath.Join(s.dir, "data", "taskmodel", "taskmodel.db") || cfg.Sources["name"] != "default" {
		t.Fatalf("default: %+v", cfg)
	}
	// The file, found from a subdirectory; its relative name is relative to it.
	decode(s.runIn(deep, "config", "--json"))
	if cfg.Database.Name != filepath.Join(project, "state", "pipeline.db") || cfg.File != filepath.Join(project, ".taskmodel.yml") {
		t.Fatalf("walk-up: %+v", cfg)
	}
	// The environment beats the file; a flag beats the environment.
	s.env = append(s.env, "TASKMODEL_DB_NAME="+filepath.Join(s.dir, "env.db"))
	decode(s.runIn(deep, "config", "--json"))
	if cfg.Database.Name != filepath.Join(s.dir, "env.db") || cfg.Sources["name"] != "environment TASKMODEL_DB_NAME" {
		t.Fatalf("environment: %+v", cfg)
	}
	decode(s.runIn(deep, "config", "--json", "--db-url", "sqlite:"+filepath.Join(s.dir, "flag.db")))
	if cfg.Database.Name != filepath.Join(s.dir, "flag.db") {
		t.Fatalf("flag: %+v", cfg)
	}
	// Registered through the environment's database, seen only there.
	if r := s.runIn(deep, "pipeline", "register", filepath.Join(s.dir, "pipeline.yml")); r.code != 0 {
		t.Fatal(r.stderr)
	}
	if _, err := os.Stat(filepath.Join(s.dir, "env.db")); err != nil {
		t.Fatalf("the environment's database was not used: %v", err)
	}
	if out := s.runIn(deep, "status", "--db-url", "sqlite:"+filepath.Join(s.dir, "flag.db")).stdout; strings.Contains(out, "Install R") {
		t.Fatalf("the flag's database sees the environment's tasks:\n%s", out)
	}
	// A configuration error names the file, line and key, exit 7.
	s.write("project/.taskmodel.yml", "database:\n  driver: sqlite\n  port: many\n")
	r := s.runIn(deep, "status")
	if want := filepath.Join(project, ".taskmodel.yml") + `:3: database.port: "many" is not a port number`; r.code != 7 || !strings.Contains(r.stderr, want) {
		t.Fatalf("bad file: exit %d, %s\nwant %s", r.code, r.stderr, want)
	}
}

// TestParallelIncrements: 8 taskmodel processes increment one subtask, as
// the example's parallel workers do; every increment counts.
func TestParallelIncrements(t *testing.T) {
	for _, eng := range engines {
		t.Run(eng.name, func(t *testing.T) {
			s := newSandbox(t, eng.env(t)...)
			s.write("pipeline.yml", pipelineYAML)
			s.ok("pipeline", "register", "pipeline.yml")
			run := strings.TrimSpace(s.ok("run", "start", "STATIC", "Build Database"))
			s.ok("subtask", "start", run, "1", "parallel", "--items", "80")
			var wg sync.WaitGroup
			errs := make(chan string, 80)
			for range 8 {
				wg.Go(func() {
					for range 10 {
						if r := s.run("-q", "subtask", "increment", run, "1"); r.code != 0 {
							errs <- r.stderr
						}
					}
				})
			}
			wg.Wait()
			close(errs)
			for e := range errs {
				t.Error(e)
			}
			var subs []subtaskJSON
			s.json(&subs, "subtask", "list", run)
			if subs[0].ItemsComplete != 80 || subs[0].Percent != 100 {
				t.Fatalf("after 80 increments from 8 processes: %+v", subs[0])
			}
		})
	}
}

// TestSample: run sample records the memory of a process in the run and
// stops by itself when the run finishes.
func TestSample(t *testing.T) {
	s := newSandbox(t)
	s.write("pipeline.yml", pipelineYAML)
	s.ok("pipeline", "register", "pipeline.yml")
	run := strings.TrimSpace(s.ok("run", "start", "STATIC", "Build Database"))
	sampler := exec.Command(binary, "run", "sample", run, "--pid", fmt.Sprint(os.Getpid()), "--interval", "100ms")
	sampler.Dir, sampler.Env = s.dir, s.env
	var errb bytes.Buffer
	sampler.Stderr = &errb
	if err := sampler.Start(); err != nil {
		t.Fatal(err)
	}
	var detail struct{ Run runJSON }
	for range 100 { // the first sample lands within an interval
		s.json(&detail, "run", "show", run)
		if detail.Run.MemoryMB != nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if detail.Run.MemoryMB == nil || *detail.Run.MemoryMB <= 0 {
		t.Fatalf("no memory sample: %+v", detail.Run)
	}
	s.ok("run", "complete", run)
	done := make(chan error, 1)
	go func() { done <- sampler.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("sampler: %v\n%s", err, errb.String())
		}
	case <-time.After(30 * time.Second):
		sampler.Process.Kill()
		t.Fatal("run sample did not stop after the run completed")
	}
	if r := s.run("run", "sample", "00000000-0000-7000-8000-000000000000"); r.code != 3 {
		t.Fatalf("sample of an unknown run: exit %d %s", r.code, r.stderr)
	}
	// A process gone while its run is unfinished: the run has lost the
	// script that tracked it (sample stopped without a word).
	gone := exec.Command("true")
	if err := gone.Run(); err != nil {
		t.Fatal(err)
	}
	run = strings.TrimSpace(s.ok("run", "start", "STATIC", "Build Database"))
	r := s.run("run", "sample", run, "--pid", fmt.Sprint(gone.ProcessState.Pid()), "--interval", "100ms")
	if want := fmt.Sprintf("taskmodel run sample: warning: process %d exited, and run %s is still STARTED: nothing will finish it now; end it with taskmodel run fail %s MESSAGE (or run complete, run cancel)\n", gone.ProcessState.Pid(), run, run); r.code != 0 || r.stderr != want {
		t.Errorf("sample of a process gone: exit %d %q\nwant 0 and %q", r.code, r.stderr, want)
	}
}
