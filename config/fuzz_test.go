package config

import (
	"errors"
	"strings"
	"testing"
)

func fuzzEnv(k string) (string, bool) {
	switch k {
	case "USER":
		return "alice", true
	case "EMPTY":
		return "", true
	}
	return "", false
}

// FuzzExpand: never panics; escaping every $ as $$ round-trips any text.
func FuzzExpand(f *testing.F) {
	for _, s := range []string{"", "plain", "${USER}", "${X:-d}", "$$", "${", "$", "a${USER}b$${c}", "${EMPTY:-}", "${:-x}"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		_, _ = Expand(s, fuzzEnv)
		escaped := strings.ReplaceAll(s, "$", "$$")
		got, err := Expand(escaped, fuzzEnv)
		if err != nil || got != s {
			t.Fatalf("Expand(%q) = %q, %v; want %q", escaped, got, err, s)
		}
	})
}

// FuzzParseFile: never panics, and every error is a *Error naming the file.
func FuzzParseFile(f *testing.F) {
	for _, s := range []string{
		"database:\n  host: h\n  port: 5432\n",
		"database:\n  url: postgres://u:p@h/db\n  password: ${USER}\n",
		"database:\n  name: a\n  dbname: b\n",
		"- x\n", "database: [\n", "", "database:\n", "database: 3\n", "a: b\n",
		"database:\n  host: !!binary aGVsbG8=\n", "database:\n  &a host: *a\n",
	} {
		f.Add([]byte(s))
	}
	f.Add([]byte("database:\n  dbname: d\n  password: ${NOPE}\n  sslmode: x\nlogging:\n  level: INFO\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		// Both readings: taskmodel's own file, and tasker's .tasker.yml.
		for _, mode := range []fileMode{{}, {tasker: true, skipped: new([]string)}} {
			l, err := parseFile("fuzz.yml", data, fuzzEnv, mode)
			if err != nil {
				var ce *Error
				if !errors.As(err, &ce) || !strings.HasPrefix(ce.Source, "fuzz.yml") {
					t.Fatalf("tasker %v: error %v (%T) is not a *Error naming the file", mode.tasker, err, err)
				}
				continue
			}
			for k, s := range l {
				if _, known := fileKeys[k]; !known || !strings.HasPrefix(s.source, "fuzz.yml:") {
					t.Fatalf("tasker %v: setting %q from %q", mode.tasker, k, s.source)
				}
				if mode.tasker && s.value == "" {
					t.Fatalf("tasker: empty setting %q kept", k)
				}
			}
		}
	})
}
