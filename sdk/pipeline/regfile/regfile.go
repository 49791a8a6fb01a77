// Package regfile reads the registration files `taskmodel pipeline register`
// takes: the stages and tasks of a pipeline, in YAML or CSV, in order.
//
// YAML lists stages, each with its tasks, and may list more tasks apart:
//
//	stages:
//	  - name: PREREQ
//	    description: Machine set-up
//	    tasks:
//	      - {name: Install System Dependencies, type: sh}
//	      - {name: Install R, type: sh, script_path: /srv/scripts, script_filename: install_r.sh}
//	  - name: STATIC
//	tasks:
//	  - {stage: STATIC, name: Build Database, type: R, log_path: /srv/logs, log_filename: build_db.log}
//
// CSV has a header row naming its columns, stage and name required, any of
// type, order, description (of the stage), script_path, script_filename,
// log_path and log_filename optional, in any order:
//
//	stage,name,type
//	PREREQ,Install System Dependencies,sh
//	STATIC,Build Database,R
//
// Every entry is checked against the generated models' limits; errors name
// the file, the line and the field.
package regfile

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/taskmodel/taskmodel/gen/pipelinerun"
	"github.com/taskmodel/taskmodel/sdk/pipeline"
	"github.com/taskmodel/taskmodel/tasktype"
)

// File is what a registration file registers, in its order.
type File struct {
	Stages []pipelinerun.Stage
	Tasks  []pipelinerun.TaskDefinition
}

// Formats.
const (
	YAML = "yaml"
	CSV  = "csv"
)

// FormatOf returns the format a file name's extension implies, or "".
func FormatOf(name string) string {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".yml", ".yaml":
		return YAML
	case ".csv":
		return CSV
	}
	return ""
}

// Error is a bad entry: the file, line and field, and what is wrong. It
// matches tasktype.ErrValidation.
type Error struct {
	File  string
	Line  int
	Field string
	Err   error
}

func (e *Error) Error() string {
	loc := e.File
	if e.Line > 0 {
		loc = fmt.Sprintf("%s:%d", e.File, e.Line)
	}
	if e.Field == "" {
		return loc + ": " + e.Err.Error()
	}
	return loc + ": " + e.Field + ": " + e.Err.Error()
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Is makes errors.Is(err, tasktype.ErrValidation) true.
func (e *Error) Is(target error) bool { return target == tasktype.ErrValidation }

// Parse reads a registration file of the given format; name is used in
// errors.
func Parse(name, format string, r io.Reader) (*File, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	switch format {
	case YAML:
		return parseYAML(name, data)
	case CSV:
		return parseCSV(name, data)
	}
	return nil, &Error{File: name, Field: "format", Err: fmt.Errorf("unknown format %q; allowed: yaml, csv (or a .yml, .yaml or .csv name)", format)}
}

var (
	stageKeys = []string{"name", "description", "order", "tasks"}
	taskKeys  = []string{"stage", "name", "type", "order", "script_path", "script_filename", "log_path", "log_filename"}
)

type entry struct {
	Stage          string  `yaml:"stage"`
	Name           string  `yaml:"name"`
	Description    *string `yaml:"description"`
	Type           *string `yaml:"type"`
	Order          int64   `yaml:"order"`
	ScriptPath     *string `yaml:"script_path"`
	ScriptFilename *string `yaml:"script_filename"`
	LogPath        *string `yaml:"log_path"`
	LogFilename    *string `yaml:"log_filename"`
}

func parseYAML(name string, data []byte) (*File, error) {
	fail := func(n *yaml.Node, field string, err error) error {
		return &Error{File: name, Line: n.Line, Field: field, Err: err}
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, &Error{File: name, Err: fmt.Errorf("not valid YAML: %s", strings.TrimPrefix(err.Error(), "yaml: "))}
	}
	f := &File{}
	if len(doc.Content) == 0 {
		return f, nil
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil, fail(root, "", errors.New("must be a mapping with stages and tasks lists"))
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		if k.Value != "stages" && k.Value != "tasks" {
			return nil, fail(k, k.Value, errors.New("unknown key; allowed: stages, tasks"))
		}
		if v.Kind != yaml.SequenceNode {
			return nil, fail(v, k.Value, errors.New("must be a list"))
		}
		for _, item := range v.Content {
			allowed := taskKeys
			if k.Value == "stages" {
				allowed = stageKeys
			}
			e, err := decodeEntry(item, allowed, fail)
			if err != nil {
				return nil, err
			}
			if k.Value == "tasks" {
				if err := f.addTask(name, item.Line, e); err != nil {
					return nil, err
				}
				continue
			}
			if err := f.addStage(name, item.Line, e); err != nil {
				return nil, err
			}
			if tasks := child(item, "tasks"); tasks != nil {
				if tasks.Kind != yaml.SequenceNode {
					return nil, fail(tasks, "tasks", errors.New("must be a list"))
				}
				for _, tn := range tasks.Content {
					te, err := decodeEntry(tn, slices.DeleteFunc(slices.Clone(taskKeys), func(s string) bool { return s == "stage" }), fail)
					if err != nil {
						return nil, err
					}
					te.Stage = e.Name
					if err := f.addTask(name, tn.Line, te); err != nil {
						return nil, err
					}
				}
			}
		}
	}
	return f, nil
}

func child(m *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

func decodeEntry(n *yaml.Node, allowed []string, fail func(*yaml.Node, string, error) error) (entry, error) {
	var e entry
	if n.Kind != yaml.MappingNode {
		return e, fail(n, "", errors.New("each entry must be a mapping"))
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if !slices.Contains(allowed, k.Value) {
			return e, fail(k, k.Value, fmt.Errorf("unknown key; allowed: %s", strings.Join(allowed, ", ")))
		}
		if k.Value != "tasks" && v.Kind != yaml.ScalarNode {
			return e, fail(v, k.Value, errors.New("must be a single value"))
		}
	}
	clone := *n
	clone.Content = nil
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value != "tasks" {
			clone.Content = append(clone.Content, n.Content[i], n.Content[i+1])
		}
	}
	if err := clone.Decode(&e); err != nil {
		return e, fail(n, "", errors.New(strings.TrimPrefix(err.Error(), "yaml: ")))
	}
	return e, nil
}

func (f *File) addStage(name string, line int, e entry) error {
	s := pipelinerun.Stage{Name: e.Name, Description: e.Description, Order: e.Order}
	if fe := pipeline.ValidateName("name", s.Name); fe != nil {
		return &Error{File: name, Line: line, Field: "name", Err: errors.New(fe.Message)}
	}
	if err := s.Validate(); err != nil {
		return &Error{File: name, Line: line, Err: err}
	}
	f.Stages = append(f.Stages, s)
	return nil
}

func (f *File) addTask(name string, line int, e entry) error {
	t := pipelinerun.TaskDefinition{Stage: e.Stage, Name: e.Name, Order: e.Order,
		ScriptPath: e.ScriptPath, ScriptFilename: e.ScriptFilename, LogPath: e.LogPath, LogFilename: e.LogFilename}
	// Names with leading or trailing space are refused, not trimmed (see
	// pipeline.ValidateName).
	for _, f := range []struct{ field, v string }{{"stage", t.Stage}, {"name", t.Name}} {
		if fe := pipeline.ValidateName(f.field, f.v); fe != nil {
			return &Error{File: name, Line: line, Field: f.field, Err: errors.New(fe.Message)}
		}
	}
	if e.Type != nil {
		k, err := pipelinerun.ParseTaskKind(*e.Type)
		if err != nil {
			return &Error{File: name, Line: line, Field: "type", Err: fmt.Errorf("%q is not a task type; allowed: R, sh, python", *e.Type)}
		}
		t.Type = &k
	}
	if len(t.Stage) > 100 {
		return &Error{File: name, Line: line, Field: "stage", Err: errors.New("must be at most 100 characters")}
	}
	if err := t.Validate(); err != nil {
		return &Error{File: name, Line: line, Err: err}
	}
	f.Tasks = append(f.Tasks, t)
	return nil
}

var csvColumns = []string{"stage", "name", "type", "order", "description", "script_path", "script_filename", "log_path", "log_filename"}

func parseCSV(name string, data []byte) (*File, error) {
	r := csv.NewReader(bytes.NewReader(data))
	r.TrimLeadingSpace = true
	header, err := r.Read()
	if err == io.EOF {
		return &File{}, nil
	}
	if err != nil {
		return nil, csvError(name, err)
	}
	col := map[string]int{}
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))
		if !slices.Contains(csvColumns, h) {
			return nil, &Error{File: name, Line: 1, Field: h, Err: fmt.Errorf("unknown column; allowed: %s", strings.Join(csvColumns, ", "))}
		}
		if _, dup := col[h]; dup {
			return nil, &Error{File: name, Line: 1, Field: h, Err: errors.New("column appears twice")}
		}
		col[h] = i
	}
	for _, req := range []string{"stage", "name"} {
		if _, ok := col[req]; !ok {
			return nil, &Error{File: name, Line: 1, Field: req, Err: errors.New("required column is missing")}
		}
	}
	f := &File{}
	stageIdx := map[string]int{} // stage → index in f.Stages
	for {
		rec, err := r.Read()
		if err == io.EOF {
			return f, nil
		}
		if err != nil {
			return nil, csvError(name, err)
		}
		line, _ := r.FieldPos(0)
		get := func(c string) *string {
			i, ok := col[c]
			if !ok || strings.TrimSpace(rec[i]) == "" {
				return nil
			}
			v := strings.TrimSpace(rec[i])
			return &v
		}
		e := entry{Type: get("type"), ScriptPath: get("script_path"), ScriptFilename: get("script_filename"),
			LogPath: get("log_path"), LogFilename: get("log_filename")}
		if v := get("stage"); v != nil {
			e.Stage = *v
		}
		if v := get("name"); v != nil {
			e.Name = *v
		}
		if v := get("order"); v != nil {
			n, err := strconv.ParseInt(*v, 10, 64)
			if err != nil {
				return nil, &Error{File: name, Line: line, Field: "order", Err: fmt.Errorf("%q is not a whole number", *v)}
			}
			e.Order = n
		}
		if e.Stage != "" { // every stage in order of first appearance
			i, ok := stageIdx[e.Stage]
			if !ok {
				i = len(f.Stages)
				stageIdx[e.Stage] = i
				f.Stages = append(f.Stages, pipelinerun.Stage{Name: e.Stage})
			}
			if d := get("description"); d != nil {
				f.Stages[i].Description = d
			}
		}
		if err := f.addTask(name, line, e); err != nil {
			return nil, err
		}
	}
}

func csvError(name string, err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return &Error{File: name, Line: pe.Line, Err: pe.Err}
	}
	return &Error{File: name, Err: err}
}
