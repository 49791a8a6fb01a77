package main

import (
	"bufio"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// quickStartHeading is the README section TestReadmeQuickStart follows.
const quickStartHeading = "## Quick start: your own model"

// TestReadmeQuickStart does what the README's quick start says, read from
// README.md itself so that the two cannot drift apart: in a module of its
// own, next to a directory ../taskmodel that stands for the clone of this
// repository, it writes each file the section shows (a fenced block whose
// first line is a comment naming its path, or whose introducing line's
// last code span names a file of the block's language), runs each shell
// block (but the clone), runs
// the go commands the prose names in code spans (go generate ./...,
// go mod tidy, go tool taskgen diff …), then compiles the section's Go
// snippets, in order, into one program, builds it and runs it. The go
// commands use this machine's environment (GOPROXY, GOFLAGS, the module and
// build caches). Without the modules it needs and no way to download them
// it skips loudly, except under CI=true, where it fails.
func TestReadmeQuickStart(t *testing.T) {
	if testing.Short() {
		t.Skip("follows the README's quick start: go get, go generate with sqlc, go build; skipped with -short")
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	steps, err := quickStart(string(readme))
	if err != nil {
		t.Fatalf("README.md: %v", err)
	}
	needModules(t, root)

	// The same directory every run for a checkout: the go command keys its
	// build cache on the directories of replaced modules, and a new one
	// would rebuild this checkout's packages, taskgen and sqlc every time.
	dir := filepath.Join(os.TempDir(), fmt.Sprintf("taskmodel-quickstart-%08x", crc32.ChecksumIEEE([]byte(root))))
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Symlink(root, filepath.Join(dir, "taskmodel")); err != nil {
		t.Fatal(err)
	}
	mod := filepath.Join(dir, "app")
	if err := os.Mkdir(mod, 0o755); err != nil {
		t.Fatal(err)
	}
	run := func(name string, args ...string) string {
		t.Helper()
		start := time.Now()
		cmd := exec.Command(name, args...)
		cmd.Dir = mod
		cmd.Env = append(os.Environ(), "GOWORK=off")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
		}
		t.Logf("%s %s (%s)", name, strings.Join(args, " "), time.Since(start).Round(time.Millisecond))
		return string(out)
	}
	run("go", "mod", "init", "example.com/app")
	var snippets []string
	for _, s := range steps {
		switch {
		case s.file != "":
			path := filepath.Join(mod, filepath.FromSlash(s.file))
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, []byte(s.text), 0o644); err != nil {
				t.Fatal(err)
			}
		case s.lang == "sh":
			for _, line := range shellCommands(s.text) {
				if strings.HasPrefix(line, "git clone ") {
					continue // ../taskmodel is this checkout
				}
				run("sh", "-ec", line)
			}
		case s.lang == "go":
			snippets = append(snippets, s.text)
		case s.lang == "cmd":
			run("sh", "-ec", s.text)
		}
	}
	if len(snippets) == 0 {
		t.Fatal("the quick start shows no Go code to compile")
	}
	main := program(snippets)
	if err := os.MkdirAll(filepath.Join(mod, "cmd", "quickstart"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(mod, "cmd", "quickstart", "main.go"), []byte(main), 0o644); err != nil {
		t.Fatal(err)
	}
	run("go", "vet", "./...")
	run("go", "build", "-o", filepath.Join(dir, "quickstart"), "./cmd/quickstart")
	out := run(filepath.Join(dir, "quickstart"))
	t.Logf("the program printed:\n%s", out)
	if !strings.HasSuffix(out, "ok\n") {
		t.Errorf("the quick start's program printed:\n%s\n(program:\n%s)", out, main)
	}
}

// step is one thing the quick start asks for: a file to write (file), a
// shell block (lang "sh"), a Go snippet (lang "go") or a go command named
// in the prose (lang "cmd").
type step struct {
	lang, file, text string
}

var (
	reFence   = regexp.MustCompile("^( *)```(\\w*)\\s*$")
	rePath    = regexp.MustCompile(`^(?:#|//) ([\w./-]+\.\w+)$`)
	reSpan    = regexp.MustCompile("`([\\w./-]+\\.(\\w+))`")
	extension = map[string]string{"yaml": "yaml", "go": "go"}
	reCommand = regexp.MustCompile("`(go (?:generate|mod|tool|build|run|vet) [^`]+)`")
)

// quickStart reads the steps of the README's quick start section.
func quickStart(readme string) ([]step, error) {
	_, section, ok := strings.Cut(readme, "\n"+quickStartHeading+"\n")
	if !ok {
		return nil, fmt.Errorf("no section %q", quickStartHeading)
	}
	if i := strings.Index(section, "\n## "); i >= 0 {
		section = section[:i]
	}
	var steps []step
	var block *step
	indent := ""
	last := "" // the last line of prose: a code span at its end may name the next block's file
	sc := bufio.NewScanner(strings.NewReader(section))
	for sc.Scan() {
		line := sc.Text()
		if m := reFence.FindStringSubmatch(line); m != nil {
			if block == nil {
				block, indent = &step{lang: m[2]}, m[1]
				if spans := reSpan.FindAllStringSubmatch(last, -1); len(spans) > 0 {
					if s := spans[len(spans)-1]; extension[block.lang] == s[2] {
						block.file = s[1]
					}
				}
				continue
			}
			if block.lang == "go" || block.lang == "yaml" || block.lang == "sh" {
				if first, _, _ := strings.Cut(block.text, "\n"); rePath.MatchString(first) && block.lang != "sh" {
					block.file = rePath.FindStringSubmatch(first)[1]
				}
				steps = append(steps, *block)
			}
			block = nil
			continue
		}
		if block != nil {
			block.text += strings.TrimPrefix(line, indent) + "\n"
			continue
		}
		if strings.TrimSpace(line) != "" {
			last = line
		}
		for _, m := range reCommand.FindAllStringSubmatch(line, -1) {
			steps = append(steps, step{lang: "cmd", text: m[1]})
		}
	}
	if block != nil {
		return nil, errors.New("a fenced block is not closed")
	}
	return steps, nil
}

// shellCommands splits a shell block into its commands, joining lines
// continued with a backslash.
func shellCommands(text string) []string {
	var out []string
	cur := ""
	for _, line := range strings.Split(text, "\n") {
		if c, ok := strings.CutSuffix(line, "\\"); ok {
			cur += c
			continue
		}
		cur += line
		if s := strings.TrimSpace(cur); s != "" && !strings.HasPrefix(s, "#") {
			out = append(out, s)
		}
		cur = ""
	}
	return out
}

// program compiles the Go snippets into one program: their statements, in
// order, in a function that returns an error, where "{ … }" (what the
// README leaves to the reader) returns the error. It imports the packages
// the snippets name.
func program(snippets []string) string {
	body := strings.ReplaceAll(strings.Join(snippets, ""), "{ … }", "{ return err }")
	imports := []struct{ name, path string }{
		{"context", "context"},
		{"errors", "errors"},
		{"fmt", "fmt"},
		{"time", "time"},
		{"backends", "github.com/taskmodel/taskmodel/backends"},
		{"postgres", "github.com/taskmodel/taskmodel/backends/postgres"},
		{"sqlite", "github.com/taskmodel/taskmodel/backends/sqlite"},
		{"tasktype", "github.com/taskmodel/taskmodel/tasktype"},
		{"renderjob", "example.com/app/tasks/renderjob"},
		{"pgdb", "example.com/app/tasks/renderjob/pgdb"},
		{"sqlitedb", "example.com/app/tasks/renderjob/sqlitedb"},
	}
	var b strings.Builder
	b.WriteString("package main\n\nimport (\n\t\"context\"\n\t\"fmt\"\n\t\"os\"\n")
	code := regexp.MustCompile(`//.*`).ReplaceAllString(body, "") // a package named in a comment is not used
	for _, imp := range imports {
		if imp.name != "context" && imp.name != "fmt" && strings.Contains(code, imp.name+".") {
			fmt.Fprintf(&b, "\t%q\n", imp.path)
		}
	}
	b.WriteString(")\n\nfunc main() {\n\tif err := run(context.Background()); err != nil {\n\t\tfmt.Println(err)\n\t\tos.Exit(1)\n\t}\n\tfmt.Println(\"ok\")\n}\n\n")
	b.WriteString("func run(ctx context.Context) error {\n" + body + "\treturn nil\n}\n")
	return b.String()
}

// needModules skips the test, loudly, when the modules the quick start
// needs (sqlc at the version tools/go.mod pins, and this module's
// requirements) are neither in the module cache nor to be downloaded — or
// fails it under CI=true.
func needModules(t *testing.T, root string) {
	t.Helper()
	cmd := exec.Command("go", "mod", "download", "github.com/sqlc-dev/sqlc")
	cmd.Dir = filepath.Join(root, "tools")
	cmd.Env = append(os.Environ(), "GOWORK=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		msg := fmt.Sprintf("the modules the README's quick start needs cannot be had (go mod download: %v: %s)", err, strings.TrimSpace(string(out)))
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s (CI=true: this test never skips)", msg)
		}
		t.Skipf("\n\n*** SKIPPING THE README QUICK START: %s ***\n*** set GOPROXY to a module proxy, or fill the module cache, to run it ***\n", msg)
	}
}

// TestQuickStartSteps: what quickStart reads of a quick start section.
func TestQuickStartSteps(t *testing.T) {
	fence := "```"
	for _, tc := range []struct {
		name, readme string
		want         []step
		err          string
	}{
		{
			name: "files, shell, prose commands and snippets in order",
			readme: "# x\n\n" + quickStartHeading + "\n\n1. Spec:\n\n   " + fence + "yaml\n   # tasks/a.yaml\n   model: a\n   " + fence + "\n\n" +
				"Or named by its introduction, `tasks/b.yaml` (see `x`):\n\n" + fence + "yaml\nmodel: b\n" + fence + "\n\n" +
				"2. Then:\n\n   " + fence + "sh\n   go mod edit \\\n     -require=x@v0\n   " + fence + "\n\n" +
				"3. `go generate ./...` and `go mod tidy`, then `go generate` alone is prose:\n\n   " + fence + "go\n   x := 1\n   " + fence + "\n\n" +
				fence + "\nan error message\n" + fence + "\n\n## Next\n\n" + fence + "go\n// not.go\n" + fence + "\n",
			want: []step{
				{lang: "yaml", file: "tasks/a.yaml", text: "# tasks/a.yaml\nmodel: a\n"},
				{lang: "yaml", file: "tasks/b.yaml", text: "model: b\n"},
				{lang: "sh", text: "go mod edit \\\n  -require=x@v0\n"},
				{lang: "cmd", text: "go generate ./..."},
				{lang: "cmd", text: "go mod tidy"},
				{lang: "go", text: "x := 1\n"},
			},
		},
		{name: "no section", readme: "# x\n\n## Install\n", err: "no section"},
		{name: "unclosed fence", readme: quickStartHeading + "\n" + fence + "go\nx := 1\n", err: "not closed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := quickStart("\n" + tc.readme)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want one containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("steps\n%q\nwant\n%q", got, tc.want)
			}
		})
	}
	if got := shellCommands("# a comment\ngo mod edit \\\n  -a \\\n  -b\n\ngo mod tidy  # and a comment\n"); fmt.Sprint(got) != fmt.Sprint([]string{"go mod edit   -a   -b", "go mod tidy  # and a comment"}) {
		t.Errorf("shellCommands: %q", got)
	}
}
