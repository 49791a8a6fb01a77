package regfile_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/taskmodel/taskmodel/gen/pipelinerun"
	"github.com/taskmodel/taskmodel/sdk/pipeline/regfile"
	"github.com/taskmodel/taskmodel/tasktype"
)

func ptr[V any](v V) *V { return &v }

const yamlFile = `stages:
  - name: PREREQ
    description: Machine set-up
    tasks:
      - {name: Install System Dependencies, type: sh}
      - name: Install R
        type: sh
        script_path: /srv/scripts
        script_filename: install_r.sh
  - name: STATIC
    order: 5
tasks:
  - {stage: STATIC, name: Build Database, type: R, log_path: /srv/logs, log_filename: build_db.log}
  - {stage: DAILY, name: Fetch}
`

const csvFile = "\ufeffstage, name,type,description,order\n" +
	"PREREQ,Install System Dependencies,sh,Machine set-up,\n" +
	"PREREQ,Install R,sh,,\n" +
	"STATIC,\"Build Database\",R,,\n" +
	"DAILY,Fetch,,,3\n"

func TestParse(t *testing.T) {
	wantTasks := []pipelinerun.TaskDefinition{
		{Stage: "PREREQ", Name: "Install System Dependencies", Type: ptr(pipelinerun.TaskKindSh)},
		{Stage: "PREREQ", Name: "Install R", Type: ptr(pipelinerun.TaskKindSh), ScriptPath: ptr("/srv/scripts"), ScriptFilename: ptr("install_r.sh")},
		{Stage: "STATIC", Name: "Build Database", Type: ptr(pipelinerun.TaskKindR), LogPath: ptr("/srv/logs"), LogFilename: ptr("build_db.log")},
		{Stage: "DAILY", Name: "Fetch"},
	}
	f, err := regfile.Parse("p.yml", regfile.YAML, strings.NewReader(yamlFile))
	if err != nil {
		t.Fatal(err)
	}
	wantStages := []pipelinerun.Stage{{Name: "PREREQ", Description: ptr("Machine set-up")}, {Name: "STATIC", Order: 5}}
	if !reflect.DeepEqual(f.Stages, wantStages) || !reflect.DeepEqual(f.Tasks, wantTasks) {
		t.Fatalf("YAML:\n%+v\n%+v", f.Stages, f.Tasks)
	}

	f, err = regfile.Parse("p.csv", regfile.CSV, strings.NewReader(csvFile))
	if err != nil {
		t.Fatal(err)
	}
	wantTasks[1].ScriptPath, wantTasks[1].ScriptFilename = nil, nil
	wantTasks[2].LogPath, wantTasks[2].LogFilename = nil, nil
	wantTasks[3].Order = 3
	wantStages = []pipelinerun.Stage{{Name: "PREREQ", Description: ptr("Machine set-up")}, {Name: "STATIC"}, {Name: "DAILY"}}
	if !reflect.DeepEqual(f.Stages, wantStages) || !reflect.DeepEqual(f.Tasks, wantTasks) {
		t.Fatalf("CSV:\n%+v\n%+v", f.Stages, f.Tasks)
	}
	for _, empty := range []struct{ format, text string }{{regfile.YAML, ""}, {regfile.CSV, ""}, {regfile.CSV, "stage,name\n"}} {
		if f, err := regfile.Parse("e", empty.format, strings.NewReader(empty.text)); err != nil || len(f.Tasks)+len(f.Stages) != 0 {
			t.Errorf("empty %s: %+v, %v", empty.format, f, err)
		}
	}
}

func TestParseErrorsNameTheLineAndField(t *testing.T) {
	cases := []struct{ name, format, text, want string }{
		{"unknown top key", regfile.YAML, "stagez: []\n", "f:1: stagez: unknown key; allowed: stages, tasks"},
		{"unknown task key", regfile.YAML, "tasks:\n  - stage: A\n    nme: x\n", "f:3: nme: unknown key; allowed: stage, name, type"},
		{"stage key inside a stage's task", regfile.YAML, "stages:\n  - name: A\n    tasks:\n      - {stage: B, name: x}\n", "f:4: stage: unknown key"},
		{"bad type", regfile.YAML, "tasks:\n  - {stage: A, name: x, type: perl}\n", `f:2: type: "perl" is not a task type; allowed: R, sh, python`},
		{"missing name", regfile.YAML, "tasks:\n  - {stage: A}\n", "f:2: name: is required"},
		{"missing stage name", regfile.YAML, "stages:\n  - description: x\n", "f:2: name: is required"},
		{"stage name ending in a space", regfile.YAML, "stages:\n  - name: \"TRAIL \"\n", "f:2: name: must not begin or end with a space"},
		{"task's stage ending in a space", regfile.YAML, "tasks:\n  - {stage: \"A \", name: Job}\n", "f:2: stage: must not begin or end with a space"},
		{"order not a number", regfile.YAML, "tasks:\n  - {stage: A, name: x, order: first}\n", "f:2: "},
		{"negative order", regfile.YAML, "stages:\n  - {name: A, order: -2}\n", "f:2: order"},
		{"not a list", regfile.YAML, "tasks: {a: b}\n", "f:1: tasks: must be a list"},
		{"nested value", regfile.YAML, "tasks:\n  - {stage: A, name: [x]}\n", "f:2: name: must be a single value"},
		{"bad YAML", regfile.YAML, "tasks: [\n", "f: not valid YAML"},
		{"unknown column", regfile.CSV, "stage,name,colour\n", "f:1: colour: unknown column"},
		{"missing column", regfile.CSV, "stage,type\n", "f:1: name: required column is missing"},
		{"duplicate column", regfile.CSV, "stage,name,name\n", "f:1: name: column appears twice"},
		{"bad type on line 3", regfile.CSV, "stage,name,type\nA,x,sh\nA,y,bash\n", `f:3: type: "bash" is not a task type; allowed: R, sh, python`},
		{"empty name", regfile.CSV, "stage,name\nA,\n", "f:2: name: is required"},
		{"bad order", regfile.CSV, "stage,name,order\nA,x,1.5\n", `f:2: order: "1.5" is not a whole number`},
		{"ragged row", regfile.CSV, "stage,name\nA,x,extra\n", "f:2: wrong number of fields"},
		{"long task name", regfile.CSV, "stage,name\nA," + strings.Repeat("n", 201) + "\n", "f:2: name"},
		{"unknown format", "toml", "", "f: format: unknown format"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := regfile.Parse("f", c.format, strings.NewReader(c.text))
			var re *regfile.Error
			if !errors.As(err, &re) || !errors.Is(err, tasktype.ErrValidation) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want a *regfile.Error containing %q", err, c.want)
			}
		})
	}
}

func TestFormatOf(t *testing.T) {
	for name, want := range map[string]string{"a.yml": "yaml", "b.YAML": "yaml", "c.csv": "csv", "d.txt": "", "e": ""} {
		if got := regfile.FormatOf(name); got != want {
			t.Errorf("FormatOf(%q) = %q, want %q", name, got, want)
		}
	}
}

// FuzzParse: never panics; every error is a *regfile.Error; every parsed
// task has a stage and a name and passes the model's validation.
func FuzzParse(f *testing.F) {
	f.Add(yamlFile, true)
	f.Add(csvFile, false)
	f.Add("stage,name\nA,\"x\ny\"\n", false)
	f.Add("tasks:\n  - {stage: A, name: x, type: R}\n", true)
	f.Add("stages:\n  - name: A\n    tasks: [{name: b}]\n", true)
	f.Fuzz(func(t *testing.T, text string, isYAML bool) {
		format := regfile.CSV
		if isYAML {
			format = regfile.YAML
		}
		got, err := regfile.Parse("fuzz", format, strings.NewReader(text))
		if err != nil {
			var re *regfile.Error
			if !errors.As(err, &re) {
				t.Fatalf("error %v (%T) is not a *regfile.Error", err, err)
			}
			return
		}
		for _, task := range got.Tasks {
			if task.Stage == "" || task.Name == "" || task.Validate() != nil {
				t.Fatalf("accepted a bad task %+v", task)
			}
		}
		for _, s := range got.Stages {
			if s.Name == "" || s.Validate() != nil {
				t.Fatalf("accepted a bad stage %+v", s)
			}
		}
	})
}
