package sqltable

import (
	"fmt"
	"regexp"
	"strings"
)

var (
	nameLine = regexp.MustCompile(`^-- name: (\w+)(?:\s+:\w+)?\s*$`)
	namedArg = regexp.MustCompile(`sqlc\.n?arg\((\w+)\)`)
)

// ParseStatements reads a statements file that taskgen wrote for an engine
// without sqlc (MySQL): a line "-- name: Name" starts a statement, which
// runs to the next; other comment lines and blank lines are dropped. A
// parameter is written sqlc.arg(name) (or sqlc.narg(name)), as in sqlc's
// query files: each becomes a ? and its name is appended to the
// statement's Args, so Compile, given no placeholder, pairs them in order.
func ParseStatements(text string) (map[string]Stmt, error) {
	out := map[string]Stmt{}
	var name string
	var body []string
	flush := func() error {
		if name == "" {
			return nil
		}
		sql := strings.TrimSpace(strings.Join(body, "\n"))
		sql = strings.TrimSuffix(sql, ";")
		if sql == "" {
			return fmt.Errorf("statement %s is empty", name)
		}
		if _, dup := out[name]; dup {
			return fmt.Errorf("statement %s is named twice", name)
		}
		args := []string{}
		for _, m := range namedArg.FindAllStringSubmatch(sql, -1) {
			args = append(args, m[1])
		}
		out[name] = Stmt{SQL: namedArg.ReplaceAllString(sql, "?"), Args: args}
		return nil
	}
	for i, line := range strings.Split(text, "\n") {
		if m := nameLine.FindStringSubmatch(line); m != nil {
			if err := flush(); err != nil {
				return nil, err
			}
			name, body = m[1], nil
			continue
		}
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || strings.HasPrefix(trimmed, "--") {
			continue
		}
		if name == "" {
			return nil, fmt.Errorf("line %d: a statement before the first \"-- name:\" line", i+1)
		}
		body = append(body, line)
	}
	if err := flush(); err != nil {
		return nil, err
	}
	return out, nil
}

// MustParseStatements is ParseStatements for a generated file: it panics
// on an error, which every model's tests would hit.
func MustParseStatements(text string) map[string]Stmt {
	s, err := ParseStatements(text)
	if err != nil {
		panic("sqltable: " + err.Error())
	}
	return s
}

// questionMarks counts the ? placeholders of a statement, outside its
// quoted strings and names ('…', "…", `…`).
func questionMarks(sql string) int {
	n := 0
	var quote byte
	for i := 0; i < len(sql); i++ {
		c := sql[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"' || c == '`':
			quote = c
		case c == '?':
			n++
		}
	}
	return n
}
