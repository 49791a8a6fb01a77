package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Find returns the nearest .taskmodel.yml in dir or its parents, or "" when
// there is none up to the root.
func Find(dir string) (string, error) {
	return find(dir, FileName)
}

func find(dir, name string) (string, error) {
	for {
		p := filepath.Join(dir, name)
		st, err := os.Stat(p)
		switch {
		case err == nil && !st.IsDir():
			return p, nil
		case err != nil && !errors.Is(err, fs.ErrNotExist):
			return "", err
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", nil
		}
		dir = parent
	}
}

func readFile(path string, lookup func(string) (string, bool)) (level, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return parseFile(path, data, lookup, fileMode{})
}

// FindTasker returns the nearest .tasker.yml (tasker's configuration file)
// in dir or its parents, or "" when there is none up to the root.
func FindTasker(dir string) (string, error) {
	return find(dir, TaskerFileName)
}

// fileMode is how parseFile reads a file: taskmodel's own strictly; tasker's
// as tasker does, so that it is read without editing.
type fileMode struct {
	// tasker: other sections and unknown database keys are skipped (and
	// listed in skipped), ${VAR} of an unset variable is empty, and an empty
	// value leaves its key unset.
	tasker  bool
	skipped *[]string
}

// fileKeys are the keys of the database section, with tasker's dbname
// as another spelling of name.
var fileKeys = map[string]string{
	"url": "url", "driver": "driver", "host": "host", "port": "port",
	"name": "name", "dbname": "name", "user": "user", "password": "password", "schema": "schema",
}

const allowedFileKeys = "url, driver, host, port, name (or dbname), user, password, schema"

// parseFile parses the contents of a configuration file named path,
// expanding ${VAR} through lookup. Errors are *Error values naming the file,
// line and key.
func parseFile(path string, data []byte, lookup func(string) (string, bool), mode fileMode) (level, error) {
	skip := func(what string) {
		if mode.skipped != nil {
			*mode.skipped = append(*mode.skipped, what)
		}
	}
	if mode.tasker {
		strict := lookup
		lookup = func(k string) (string, bool) { // tasker: unset is empty
			v, _ := strict(k)
			return v, true
		}
	}
	fail := func(n *yaml.Node, key, msg string) error {
		return &Error{Source: fmt.Sprintf("%s:%d", path, n.Line), Key: key, Message: msg}
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, &Error{Source: path, Message: "not valid YAML: " + strings.TrimPrefix(err.Error(), "yaml: ")}
	}
	l := level{}
	if len(doc.Content) == 0 { // empty file
		return l, nil
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil, fail(root, "", "the file must be a mapping with a database section")
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		switch {
		case k.Value == "database":
		case mode.tasker:
			skip(k.Value)
			continue
		default:
			return nil, fail(k, k.Value, "unknown section; allowed: database")
		}
		if seen[k.Value] {
			return nil, fail(k, k.Value, "appears twice")
		}
		seen[k.Value] = true
		if v.Kind == yaml.ScalarNode && v.Tag == "!!null" {
			continue
		}
		if v.Kind != yaml.MappingNode {
			return nil, fail(v, "database", "must be a mapping of "+allowedFileKeys)
		}
		for j := 0; j+1 < len(v.Content); j += 2 {
			dk, dv := v.Content[j], v.Content[j+1]
			full := "database." + dk.Value
			key, ok := fileKeys[dk.Value]
			if !ok && mode.tasker {
				skip(full)
				continue
			}
			if !ok {
				return nil, fail(dk, full, "unknown key; allowed: "+allowedFileKeys)
			}
			if prev, dup := l[key]; dup {
				return nil, fail(dk, full, "sets "+key+" again (first set at "+strings.TrimPrefix(prev.source, path+":")+")")
			}
			if mode.tasker && dv.Kind == yaml.ScalarNode && dv.Tag == "!!null" {
				continue
			}
			if dv.Kind != yaml.ScalarNode || dv.Tag == "!!null" {
				return nil, fail(dv, full, "must be a single value")
			}
			val, err := Expand(dv.Value, lookup)
			if err != nil {
				return nil, fail(dv, full, err.Error())
			}
			if mode.tasker && val == "" {
				continue
			}
			line := dv.Line
			l[key] = setting{value: val, source: fmt.Sprintf("%s:%d", path, line), err: func(msg string) *Error {
				return &Error{Source: fmt.Sprintf("%s:%d", path, line), Key: full, Message: msg}
			}}
		}
	}
	return l, nil
}
