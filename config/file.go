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
	for {
		p := filepath.Join(dir, FileName)
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
	return parseFile(path, data, lookup)
}

// fileKeys are the keys of the database section, with the seed's dbname
// as another spelling of name.
var fileKeys = map[string]string{
	"url": "url", "driver": "driver", "host": "host", "port": "port",
	"name": "name", "dbname": "name", "user": "user", "password": "password", "schema": "schema",
}

const allowedFileKeys = "url, driver, host, port, name (or dbname), user, password, schema"

// parseFile parses the contents of a configuration file named path,
// expanding ${VAR} through lookup. Errors are *Error values naming the file,
// line and key.
func parseFile(path string, data []byte, lookup func(string) (string, bool)) (level, error) {
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
		switch k.Value {
		case "database":
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
			if !ok {
				return nil, fail(dk, full, "unknown key; allowed: "+allowedFileKeys)
			}
			if prev, dup := l[key]; dup {
				return nil, fail(dk, full, "sets "+key+" again (first set at "+strings.TrimPrefix(prev.source, path+":")+")")
			}
			if dv.Kind != yaml.ScalarNode || dv.Tag == "!!null" {
				return nil, fail(dv, full, "must be a single value")
			}
			val, err := Expand(dv.Value, lookup)
			if err != nil {
				return nil, fail(dv, full, err.Error())
			}
			line := dv.Line
			l[key] = setting{value: val, source: fmt.Sprintf("%s:%d", path, line), err: func(msg string) *Error {
				return &Error{Source: fmt.Sprintf("%s:%d", path, line), Key: full, Message: msg}
			}}
		}
	}
	return l, nil
}
