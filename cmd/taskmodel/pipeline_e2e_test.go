package main_test

import (
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/taskmodel/taskmodel/backends/mysql/mysqltest"
	"github.com/taskmodel/taskmodel/backends/postgres/pgtest"
)

// TestCompleteWithUnstartedSubtasks: three subtasks declared, two started
// and finished: run complete is refused (exit 5, naming subtask 3 and
// --force) and changes nothing; --force completes the run.
func TestCompleteWithUnstartedSubtasks(t *testing.T) {
	for _, eng := range engines {
		t.Run(eng.name, func(t *testing.T) {
			s := newSandbox(t, eng.env(t)...)
			s.write("pipeline.yml", pipelineYAML)
			s.ok("pipeline", "register", "pipeline.yml")
			run := strings.TrimSpace(s.ok("run", "start", "STATIC", "Build Database", "--subtasks", "3"))
			for _, n := range []string{"1", "2"} {
				s.ok("subtask", "start", run, n, "step "+n)
				s.ok("subtask", "complete", run, n)
			}
			cases := []struct {
				args   []string
				code   int
				status string
				want   string
			}{
				{[]string{"run", "complete", run, "all done"}, 5, "RUNNING",
					"cannot complete the run: subtask 3 of 3 never started; complete or fail them first; or force it: taskmodel run complete " + run + " --force"},
				{[]string{"run", "update", run, "COMPLETED"}, 5, "RUNNING", "subtask 3 of 3 never started"},
				{[]string{"run", "complete", run, "all done", "--force"}, 0, "COMPLETED",
					"[TASK UPDATE] " + run + " - COMPLETED: all done (by force: subtask 3 of 3 never started)"},
			}
			for _, c := range cases {
				r := s.run(c.args...)
				if r.code != c.code || !strings.Contains(r.stderr, c.want) {
					t.Fatalf("%v: exit %d, stderr %q; want exit %d and %q", c.args, r.code, r.stderr, c.code, c.want)
				}
				var d struct{ Run runJSON }
				s.json(&d, "run", "show", run)
				if d.Run.Status != c.status {
					t.Fatalf("%v: run is %s, want %s", c.args, d.Run.Status, c.status)
				}
			}
		})
	}
}

// TestDerivedPercent: a run that sets no percent shows its subtasks' in
// status, history, active, watch and run show, text and JSON.
func TestDerivedPercent(t *testing.T) {
	for _, eng := range engines {
		t.Run(eng.name, func(t *testing.T) {
			s := newSandbox(t, eng.env(t)...)
			s.write("pipeline.yml", pipelineYAML)
			s.ok("pipeline", "register", "pipeline.yml")
			run := strings.TrimSpace(s.ok("run", "start", "STATIC", "Build Database", "--subtasks", "1"))
			s.ok("subtask", "start", run, "1", "Load", "--items", "100")
			s.ok("subtask", "increment", run, "1", "75")

			var status []struct {
				Task          string
				Percent       float64 `json:"percent"`
				PercentSource string  `json:"percent_source"`
				Run           *runJSON
			}
			s.json(&status, "status", "--stage", "STATIC")
			var history, active []runJSON
			s.json(&history, "history")
			s.json(&active, "active")
			var frame struct {
				Status []struct {
					Percent       float64 `json:"percent"`
					PercentSource string  `json:"percent_source"`
				} `json:"status"`
				Active []struct {
					Percent       float64 `json:"percent"`
					PercentSource string  `json:"percent_source"`
				} `json:"active"`
			}
			s.json(&frame, "watch", "--once", "--stage", "STATIC")
			var detail struct {
				Percent       float64 `json:"percent"`
				PercentSource string  `json:"percent_source"`
			}
			s.json(&detail, "run", "show", run)
			checks := []struct {
				what    string
				percent float64
				source  string
			}{
				{"status --json", status[0].Percent, status[0].PercentSource},
				{"history --json", history[0].Percent, history[0].PercentSource},
				{"active --json", active[0].Percent, active[0].PercentSource},
				{"watch --json status", frame.Status[0].Percent, frame.Status[0].PercentSource},
				{"watch --json active", frame.Active[0].Percent, frame.Active[0].PercentSource},
				{"run show --json", detail.Percent, detail.PercentSource},
			}
			for _, c := range checks {
				if c.percent != 75 || c.source != "subtasks" {
					t.Errorf("%s: percent %v from %q, want 75 from subtasks", c.what, c.percent, c.source)
				}
			}
			if status[0].Run.OverallPercent != 0 || history[0].RunID != run {
				t.Errorf("stored overall_percent %v, history run_id %q", status[0].Run.OverallPercent, history[0].RunID)
			}
			texts := []struct {
				args []string
				want string
			}{
				{[]string{"status"}, "RUNNING 75%"},
				{[]string{"history"}, "RUNNING 75%"},
				{[]string{"watch", "--once"}, "RUNNING [##"},
				{[]string{"watch", "--once"}, "] 75%"},
				{[]string{"run", "show", run}, "RUNNING 75.0% (from the subtasks)"},
			}
			for _, c := range texts {
				// Columns are aligned with spaces: compare with single spaces.
				out := s.ok(c.args...)
				if !strings.Contains(strings.Join(strings.Fields(out), " "), c.want) {
					t.Errorf("%v lacks %q:\n%s", c.args, c.want, out)
				}
			}
			// The script's own percent wins.
			s.ok("run", "update", run, "--percent", "10")
			s.json(&history, "history")
			if history[0].Percent != 10 || history[0].PercentSource != "run" {
				t.Errorf("after run update --percent 10: %v from %q", history[0].Percent, history[0].PercentSource)
			}
		})
	}
}

// TestUpdateStatusArgument: run update and subtask update take a status,
// positional or with --status, in any case; anything else is a usage error
// listing the allowed ones.
func TestUpdateStatusArgument(t *testing.T) {
	s := newSandbox(t)
	s.write("pipeline.yml", pipelineYAML)
	s.ok("pipeline", "register", "pipeline.yml")
	start := func() string { return strings.TrimSpace(s.ok("run", "start", "STATIC", "Build Database")) }
	cases := []struct {
		name    string
		args    func(run string) []string
		code    int
		want    string // stderr
		status  string // the run's afterwards
		substat string // subtask 1's afterwards, "" when not checked
	}{
		{"RUNNING positional", func(r string) []string { return []string{"run", "update", r, "RUNNING", "--percent", "5"} }, 0, "", "RUNNING", ""},
		{"--status in lower case", func(r string) []string { return []string{"run", "update", r, "--status", "running", "--message", "m"} }, 0, "", "RUNNING", ""},
		{"COMPLETED finishes", func(r string) []string { return []string{"run", "update", r, "COMPLETED", "--message", "done"} }, 0,
			"- COMPLETED: done", "COMPLETED", ""},
		{"FAILED with a message", func(r string) []string {
			return []string{"run", "update", r, "--status", "FAILED", "--message", "boom"}
		}, 0,
			"- FAILED: boom", "FAILED", ""},
		{"SKIPPED", func(r string) []string { return []string{"run", "update", r, "SKIPPED"} }, 0, "- SKIPPED", "SKIPPED", ""},
		{"CANCELLED", func(r string) []string { return []string{"run", "update", r, "CANCELLED"} }, 0, "- CANCELLED", "CANCELLED", ""},
		{"STARTED is not an update", func(r string) []string { return []string{"run", "update", r, "STARTED"} }, 2,
			`status "STARTED": allowed: RUNNING, COMPLETED, FAILED, SKIPPED, CANCELLED (run start starts a run)`, "STARTED", ""},
		{"unknown --status", func(r string) []string { return []string{"run", "update", r, "--status", "DONE"} }, 2,
			`--status "DONE": allowed: RUNNING, COMPLETED, FAILED, SKIPPED, CANCELLED`, "STARTED", ""},
		{"positional and --status disagree", func(r string) []string { return []string{"run", "update", r, "RUNNING", "--status", "FAILED"} }, 2,
			`status "RUNNING" and --status "FAILED" disagree`, "STARTED", ""},
		{"FAILED without a message", func(r string) []string { return []string{"run", "update", r, "FAILED"} }, 2,
			"status FAILED needs --message, the error message", "STARTED", ""},
		{"--percent with COMPLETED", func(r string) []string { return []string{"run", "update", r, "COMPLETED", "--percent", "50"} }, 2,
			"--percent applies to status RUNNING only, not COMPLETED", "STARTED", ""},
		{"subtask RUNNING", func(r string) []string {
			s.ok("subtask", "start", r, "1", "Load", "--items", "10")
			return []string{"subtask", "update", r, "1", "RUNNING", "--items-complete", "4"}
		}, 0, "[SUBTASK UPDATE] Subtask 1 - RUNNING", "RUNNING", "RUNNING"},
		{"subtask COMPLETED", func(r string) []string {
			s.ok("subtask", "start", r, "1", "Load")
			return []string{"subtask", "update", r, "1", "--status", "completed"}
		}, 0, "[SUBTASK UPDATE] Subtask 1 - COMPLETED", "RUNNING", "COMPLETED"},
		{"subtask FAILED", func(r string) []string {
			s.ok("subtask", "start", r, "1", "Load")
			return []string{"subtask", "update", r, "1", "FAILED", "--message", "bad input"}
		}, 0, "[SUBTASK UPDATE] Subtask 1 - FAILED: bad input", "RUNNING", "FAILED"},
		{"subtask SKIPPED is not offered", func(r string) []string {
			s.ok("subtask", "start", r, "1", "Load")
			return []string{"subtask", "update", r, "1", "SKIPPED"}
		}, 2, `status "SKIPPED": allowed: RUNNING, COMPLETED, FAILED (subtask start starts a subtask)`, "RUNNING", "STARTED"},
		{"subtask items with COMPLETED", func(r string) []string {
			s.ok("subtask", "start", r, "1", "Load", "--items", "10")
			return []string{"subtask", "update", r, "1", "COMPLETED", "--items-complete", "10"}
		}, 2, "--items-complete applies to status RUNNING only, not COMPLETED", "RUNNING", "STARTED"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			run := start()
			r := s.run(c.args(run)...)
			if r.code != c.code || !strings.Contains(r.stderr, c.want) {
				t.Fatalf("exit %d, stderr %q; want exit %d and %q", r.code, r.stderr, c.code, c.want)
			}
			var d struct {
				Run      runJSON
				Subtasks []subtaskJSON
			}
			s.json(&d, "run", "show", run)
			if d.Run.Status != c.status {
				t.Errorf("run is %s, want %s", d.Run.Status, c.status)
			}
			if c.substat != "" && (len(d.Subtasks) != 1 || d.Subtasks[0].Status != c.substat) {
				t.Errorf("subtasks %+v, want subtask 1 %s", d.Subtasks, c.substat)
			}
		})
	}
}

// TestRegisterFromFlags: pipeline register registers one task from flags,
// the fields of a registration file's entry; mistakes are usage errors
// naming the flag.
func TestRegisterFromFlags(t *testing.T) {
	type task struct {
		Stage          string  `json:"stage"`
		Name           string  `json:"name"`
		Type           *string `json:"type"`
		Order          int64   `json:"order"`
		ScriptPath     *string `json:"script_path"`
		ScriptFilename *string `json:"script_filename"`
		LogPath        *string `json:"log_path"`
		LogFilename    *string `json:"log_filename"`
	}
	cases := []struct {
		name string
		args []string
		code int
		want string // stderr on failure; on success, the task as "stage/name/type/order/script/log"
	}{
		{"every field", []string{"--stage", "STATIC", "--name", "Build Database", "--type", "R", "--script-path", "/srv/scripts",
			"--script", "build_db.R", "--log-path", "/srv/logs", "--log", "build_db.log"}, 0,
			"STATIC/Build Database/R/1//srv/scripts/build_db.R//srv/logs/build_db.log"},
		{"tasker's field names, type in any case", []string{"--stage", "PREREQ", "--name", "Install R", "--type", "SH",
			"--script-filename", "install_r.sh", "--log-filename", "install_r.log"}, 0,
			"PREREQ/Install R/sh/1/-/install_r.sh/-/install_r.log"},
		{"stage and name only", []string{"--stage", "DAILY", "--name", "Report"}, 0, "DAILY/Report/-/1/-/-/-/-"},
		{"no name", []string{"--stage", "DAILY"}, 2, "--name is required to register a task from flags (or give a FILE)"},
		{"no stage", []string{"--name", "Report", "--type", "python"}, 2, "--stage is required"},
		{"bad type", []string{"--stage", "DAILY", "--name", "Report", "--type", "perl"}, 2, `--type "perl": allowed: R, sh, python`},
		{"negative order", []string{"--stage", "DAILY", "--name", "Report", "--order", "-1"}, 2, "--order -1: must be 0"},
		{"a file and flags", []string{"pipeline.yml", "--stage", "DAILY", "--name", "Report"}, 2, "give a FILE or --stage and --name, not both"},
		{"neither", nil, 2, "give a registration FILE"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := newSandbox(t)
			s.write("pipeline.yml", pipelineYAML)
			r := s.run(append([]string{"pipeline", "register"}, c.args...)...)
			if c.code != 0 {
				if r.code != c.code || !strings.Contains(r.stderr, c.want) {
					t.Fatalf("exit %d, stderr %q; want exit %d and %q", r.code, r.stderr, c.code, c.want)
				}
				return
			}
			if r.code != 0 {
				t.Fatalf("exit %d: %s", r.code, r.stderr)
			}
			var tasks []task
			s.json(&tasks, "pipeline", "tasks")
			if len(tasks) != 1 {
				t.Fatalf("tasks %+v", tasks)
			}
			x := tasks[0]
			opt := func(p *string) string {
				if p == nil {
					return "-"
				}
				return *p
			}
			got := strings.Join([]string{x.Stage, x.Name, opt(x.Type), strconv.FormatInt(x.Order, 10),
				opt(x.ScriptPath), opt(x.ScriptFilename), opt(x.LogPath), opt(x.LogFilename)}, "/")
			if got != c.want {
				t.Errorf("registered %s, want %s", got, c.want)
			}
			// A run of it starts, with the registered paths.
			s.ok("run", "start", x.Stage, x.Name)
		})
	}
}

// TestTrackingLinesEndWithoutColon: tracking lines without a message end
// at the status.
func TestTrackingLinesEndWithoutColon(t *testing.T) {
	s := newSandbox(t)
	s.write("pipeline.yml", pipelineYAML)
	s.ok("pipeline", "register", "pipeline.yml")
	run := strings.TrimSpace(s.ok("run", "start", "STATIC", "Build Database", "--subtasks", "1"))
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"subtask", "start", run, "1", "Load"}, "[SUBTASK START] Subtask 1: Load (run_id: " + run + ")"},
		{[]string{"subtask", "increment", run, "1"}, "[SUBTASK UPDATE] Subtask 1 - RUNNING: +1, 1 items"},
		{[]string{"subtask", "update", run, "1", "--percent", "50"}, "[SUBTASK UPDATE] Subtask 1 - RUNNING"},
		{[]string{"subtask", "complete", run, "1"}, "[SUBTASK UPDATE] Subtask 1 - COMPLETED"},
		{[]string{"run", "update", run, "--percent", "90"}, "[TASK UPDATE] " + run + " - RUNNING (90.0%)"},
		{[]string{"run", "complete", run}, "[TASK UPDATE] " + run + " - COMPLETED"},
	}
	for _, c := range cases {
		r := s.run(c.args...)
		if r.code != 0 || strings.TrimSpace(r.stderr) != c.want {
			t.Errorf("%v: exit %d, stderr %q; want %q", c.args, r.code, r.stderr, c.want)
		}
	}
}

// TestMovingFromTasker: a tasker project (.tasker.yml, TASKER_DB_*) runs
// unchanged: taskmodel reads its configuration, says so on standard error,
// and records in the database it names (SQLite, PostgreSQL or MariaDB).
func TestMovingFromTasker(t *testing.T) {
	pgSchema := func(t *testing.T) string { return pgtest.Schema(t).ConnConfig.RuntimeParams["search_path"] }
	cases := []struct {
		name   string
		file   func(t *testing.T) string // .tasker.yml, "" for none
		env    func(t *testing.T) []string
		driver string
		check  func(t *testing.T, dir string, cfg configJSON)
	}{
		{"sqlite file", func(t *testing.T) string {
			return "database:\n  driver: sqlite\n  dbname: state/tasker.db\nlogging:\n  level: INFO\n"
		},
			func(t *testing.T) []string { return nil }, "sqlite",
			func(t *testing.T, dir string, cfg configJSON) {
				if cfg.Database.Name != filepath.Join(dir, "project", "state", "tasker.db") {
					t.Errorf("database %+v", cfg.Database)
				}
				if _, err := os.Stat(filepath.Join(dir, "project", "state", "tasker.db")); err != nil {
					t.Errorf("the .tasker.yml database was not used: %v", err)
				}
			}},
		{"postgres file with its password from TASKER_DB_PASSWORD", func(t *testing.T) string {
			return "database:\n  host: 127.0.0.1\n  port: 5432\n  dbname: test\n  user: postgres\n  password: ${TASKER_DB_PASSWORD}\n  schema: " + pgSchema(t) + "\n  driver: postgresql\n"
		}, func(t *testing.T) []string { return []string{"TASKER_DB_PASSWORD=unused"} }, "postgresql",
			func(t *testing.T, dir string, cfg configJSON) {
				if cfg.Sources["password"] != "environment TASKER_DB_PASSWORD" || cfg.Database.Host != "127.0.0.1" {
					t.Errorf("config %+v", cfg)
				}
			}},
		{"mariadb file", func(t *testing.T) string {
			u, err := url.Parse(mysqltest.Database(t))
			if err != nil {
				t.Fatal(err)
			}
			return "database:\n  host: " + u.Hostname() + "\n  port: " + u.Port() + "\n  dbname: " + strings.TrimPrefix(u.Path, "/") + "\n  user: " + u.User.Username() + "\n  driver: mariadb\n"
		}, func(t *testing.T) []string { return nil }, "mysql",
			func(t *testing.T, dir string, cfg configJSON) {
				if cfg.Database.Host == "" {
					t.Errorf("config %+v", cfg)
				}
			}},
		{"postgres from TASKER_DB_* alone, tasker's defaults for the rest", func(t *testing.T) string { return "" },
			func(t *testing.T) []string {
				return []string{"TASKER_DB_NAME=test", "TASKER_DB_USER=postgres", "TASKER_DB_SCHEMA=" + pgSchema(t), "TASKER_DB_HOST=127.0.0.1"}
			}, "postgresql",
			func(t *testing.T, dir string, cfg configJSON) {
				if cfg.Database.Port != 5432 || cfg.Sources["port"] != "tasker default" {
					t.Errorf("config %+v", cfg)
				}
			}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := newSandbox(t, c.env(t)...)
			project := filepath.Join(s.dir, "project")
			deep := filepath.Join(project, "scripts")
			if err := os.MkdirAll(deep, 0o755); err != nil {
				t.Fatal(err)
			}
			if f := c.file(t); f != "" {
				s.write("project/.tasker.yml", f)
			}
			s.write("pipeline.yml", pipelineYAML)
			r := s.runIn(deep, "config", "--json")
			var cfg configJSON
			if r.code != 0 || json.Unmarshal([]byte(r.stdout), &cfg) != nil {
				t.Fatalf("config: exit %d %s %s", r.code, r.stdout, r.stderr)
			}
			if cfg.Database.Driver != c.driver {
				t.Errorf("driver %q, want %q", cfg.Database.Driver, c.driver)
			}
			if !strings.Contains(r.stderr, "taskmodel: note: no .taskmodel.yml and no TASKMODEL_* variables: using tasker's configuration") {
				t.Errorf("no note on standard error: %q", r.stderr)
			}
			if r := s.runIn(deep, "-q", "pipeline", "register", filepath.Join(s.dir, "pipeline.yml")); r.code != 0 || r.stderr != "" {
				t.Fatalf("register -q: exit %d, stderr %q (want no note with -q)", r.code, r.stderr)
			}
			run := strings.TrimSpace(s.runIn(deep, "-q", "run", "start", "PREREQ", "Install R").stdout)
			if r := s.runIn(deep, "-q", "run", "complete", run); r.code != 0 {
				t.Fatalf("run complete: %s", r.stderr)
			}
			if out := s.runIn(deep, "-q", "status").stdout; !strings.Contains(out, "COMPLETED") {
				t.Errorf("status:\n%s", out)
			}
			c.check(t, s.dir, cfg)
		})
	}

}

type configJSON struct {
	Database struct {
		Driver, Name, Host string
		Port               int
	}
	File    string
	Sources map[string]string
}
