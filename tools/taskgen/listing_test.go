package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// TestListingInAnotherModule generates, in a module of its own, specs whose
// models give the unified listing's columns every shape taskgen accepts —
// the first model's tag required (with or without a default), an end date
// from an end_date field that is required, from one terminal status's entry
// time, from several, or from none — compiles every generated package
// (sqlc types the listing's columns from the union's first branch, so the
// order of the models matters), and lists tasks of every model through each
// catalog's SQLite Lister, tags and end dates NULL in some branches and set
// in others.
func TestListingInAnotherModule(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a module with go generate, sqlc and go run; skipped with -short")
	}
	cases := []struct {
		name  string
		specs map[string]string // file → spec
		want  string            // the listing, oldest first
	}{
		{
			name: "requiredtag",
			specs: map[string]string{"job.yaml": `model: job
statuses:
  PENDING: {initial: true, code: Q}
  DONE: {terminal: true, code: D, entered_at: finished_at}
events:
  finish: {from: PENDING, to: DONE}
fields:
  tag: {type: string, max_len: 64}
`},
			want: "  job Q t false\n  job D t true\n",
		},
		{
			name: "noenddate",
			specs: map[string]string{
				"alpha.yaml": `model: alpha
statuses:
  PENDING: {initial: true, code: Q}
  DONE: {terminal: true, code: D}
events:
  finish: {from: PENDING, to: DONE}
fields:
  tag: {type: string, max_len: 64, default: a}
`,
				"beta.yaml": `model: beta
statuses:
  PENDING: {initial: true, code: Q}
  DONE: {terminal: true, code: D, entered_at: done_at}
  FAILED: {terminal: true, code: F, entered_at: failed_at}
events:
  finish: {from: PENDING, to: DONE}
  fail: {from: PENDING, to: FAILED}
`},
			want: "  alpha Q a false\n  alpha D a false\n  beta Q - false\n  beta F - true\n",
		},
		{
			name: "enddatefield",
			specs: map[string]string{
				"delta.yaml": `model: delta
statuses:
  PENDING: {initial: true, code: Q}
  DONE: {terminal: true, code: D}
events:
  finish: {from: PENDING, to: DONE}
fields:
  end_date: {type: time}
`,
				"gamma.yaml": `model: gamma
statuses:
  PENDING: {initial: true, code: Q}
  DONE: {terminal: true, code: D, entered_at: done_at}
events:
  finish: {from: PENDING, to: DONE}
fields:
  tag: {type: string, optional: true}
`},
			want: "  delta Q - true\n  delta D - true\n  gamma Q - false\n  gamma D - true\n",
		},
	}
	m := newOtherModule(t, "example.com/listing")
	generate := "// Package listing holds specs of every shape of the unified listing.\npackage listing\n\n"
	var want strings.Builder
	for _, c := range cases {
		for file, spec := range c.specs {
			m.write(filepath.Join("specs", c.name, file), spec)
		}
		generate += fmt.Sprintf("//go:generate go tool taskgen -spec specs/%[1]s -out %[1]s -sqlc %[1]s.sqlc.yaml\n//go:generate go tool sqlc generate -f %[1]s.sqlc.yaml\n", c.name)
		want.WriteString(c.name + "\n" + c.want)
	}
	m.write("generate.go", generate)
	m.run("mod", "tidy")
	m.run("generate", ".")
	m.write("cmd/list/main.go", m.read("testdata/listing/main.go.txt"))
	m.run("mod", "tidy")
	m.run("vet", "./...")
	if out := m.run("run", "./cmd/list"); out != want.String() {
		t.Errorf("the listings:\n%s\nwant:\n%s", out, want.String())
	}
}
