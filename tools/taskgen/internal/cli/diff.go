package cli

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"

	"github.com/taskmodel/taskmodel/tools/taskgen/internal/gen"
	"github.com/taskmodel/taskmodel/tools/taskgen/internal/spec"
)

// ExitBreaking is taskgen diff's exit code when a change breaks something
// the spec does not acknowledge, or cannot be migrated.
const ExitBreaking = 4

// Main runs taskgen: "taskgen diff …" reports a spec change, anything else
// generates (Run).
func Main(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "diff" {
		return Diff(args[1:], stdout, stderr)
	}
	return Run(args, stderr)
}

// Diff compares specs with what their migrations were generated from (the
// newest snapshot under <out>/<package>/migrations/spec), or with the specs
// at a git revision, and prints a Markdown report for a pull request.
func Diff(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("taskgen diff", flag.ContinueOnError)
	fs.SetOutput(stderr)
	specPath := fs.String("spec", "", "a spec file, or a directory of spec files (required)")
	out := fs.String("out", "", "where the packages were generated (with a directory of specs, their parent): the base is each model's newest spec snapshot")
	base := fs.String("base", "", "compare with the specs at this git revision (a branch, tag or commit) instead of the snapshots")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: taskgen diff -spec FILE|DIR (-out DIR | -base REF)")
		fmt.Fprintln(stderr, "Prints, in Markdown, what the spec change does to the databases, the wire format, the Go API and")
		fmt.Fprintf(stderr, "behaviour; exits %d when a breaking change is not listed under breaking_changes in the spec.\n", ExitBreaking)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return ExitUsage
	}
	if *specPath == "" || (*out == "") == (*base == "") || fs.NArg() > 0 {
		fs.Usage()
		return ExitUsage
	}
	info, err := os.Stat(*specPath)
	if err != nil {
		fmt.Fprintf(stderr, "taskgen diff: %v\n", err)
		return ExitIO
	}
	var models []*spec.Model
	if info.IsDir() {
		models, err = spec.LoadDir(*specPath)
	} else {
		var m *spec.Model
		m, err = spec.LoadFile(*specPath)
		models = []*spec.Model{m}
	}
	if code := report(stderr, err); code != ExitOK {
		return code
	}
	code := ExitOK
	for _, m := range models {
		old, from, err := diffBase(m, info.IsDir(), *out, *base)
		if err != nil {
			fmt.Fprintf(stderr, "taskgen diff: %s: %v\n", m.Name, err)
			return ExitIO
		}
		if old == nil {
			fmt.Fprintf(stdout, "## Model `%s`: new (%s has none)\n\n", m.Name, from)
			continue
		}
		r := gen.Compare(old, m)
		fmt.Fprint(stdout, r.Markdown(from))
		if r.Refused != "" || len(r.Unacknowledged()) > 0 {
			code = ExitBreaking
		}
	}
	return code
}

// diffBase loads what m is compared with, and says what that is.
func diffBase(m *spec.Model, dirMode bool, out, base string) (*spec.Model, string, error) {
	if base != "" {
		show := func(path string) ([]byte, error) {
			rel := filepath.ToSlash(filepath.Clean(path))
			cmd := exec.Command("git", "show", base+":./"+rel)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			data, err := cmd.Output()
			if err != nil {
				msg := strings.TrimSpace(stderr.String())
				if strings.Contains(msg, "does not exist") || strings.Contains(msg, "exists on disk, but not in") {
					return nil, os.ErrNotExist
				}
				return nil, fmt.Errorf("git show %s:./%s: %s", base, rel, msg)
			}
			return data, nil
		}
		from := "`" + base + "`"
		data, err := show(m.Pos.File)
		if errors.Is(err, os.ErrNotExist) {
			return nil, from, nil
		}
		if err != nil {
			return nil, from, err
		}
		old, err := spec.Parse(m.Pos.File, data, show)
		if err != nil {
			return nil, from, fmt.Errorf("the spec at %s does not load: %v", base, err)
		}
		return old, from, nil
	}
	dir := out
	if dirMode {
		dir = filepath.Join(out, m.Package)
	}
	snaps, err := filepath.Glob(filepath.Join(dir, gen.MigrationsDir, "spec", "*.yaml"))
	if err != nil {
		return nil, "", err
	}
	if len(snaps) == 0 {
		return nil, "`" + filepath.Join(dir, gen.MigrationsDir, "spec") + "`", nil
	}
	sort.Strings(snaps)
	newest := snaps[len(snaps)-1]
	data, err := os.ReadFile(newest)
	if err != nil {
		return nil, "", err
	}
	old, err := spec.Parse(newest, data, nil)
	if err != nil {
		return nil, "", fmt.Errorf("the snapshot %s does not load: %v", newest, err)
	}
	return old, "migration `" + strings.TrimSuffix(filepath.Base(newest), ".yaml") + "`", nil
}
