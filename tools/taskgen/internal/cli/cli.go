// Package cli is taskgen's command line: it parses flags, loads specs, and
// writes generated packages, removing generated files that no spec produces
// any more.
package cli

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/taskmodel/taskmodel/tools/taskgen/internal/gen"
	"github.com/taskmodel/taskmodel/tools/taskgen/internal/spec"
)

// Exit codes.
const (
	ExitOK    = 0
	ExitSpec  = 1 // the spec has errors
	ExitUsage = 2 // bad flags
	ExitIO    = 3 // reading or writing files failed
)

var rePkg = regexp.MustCompile(`^[a-z][a-z0-9]*$`)

// Run runs taskgen with args and returns the exit code.
func Run(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("taskgen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	specPath := fs.String("spec", "", "a spec file, or a directory of spec files (required)")
	out := fs.String("out", "", "output directory: the package directory for a file, the parent of the packages for a directory (required)")
	pkg := fs.String("pkg", "", "Go package name (only with a spec file; default: the model's package)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: taskgen -spec FILE|DIR -out DIR [-pkg NAME]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return ExitUsage
	}
	if *specPath == "" || *out == "" || fs.NArg() > 0 {
		fs.Usage()
		return ExitUsage
	}
	if *pkg != "" && !rePkg.MatchString(*pkg) {
		fmt.Fprintf(stderr, "taskgen: -pkg %q is not a valid package name; it must match [a-z][a-z0-9]*\n", *pkg)
		return ExitUsage
	}
	info, err := os.Stat(*specPath)
	if err != nil {
		fmt.Fprintf(stderr, "taskgen: %v\n", err)
		return ExitIO
	}
	if info.IsDir() {
		if *pkg != "" {
			fmt.Fprintln(stderr, "taskgen: -pkg applies to a single spec file, not a directory")
			return ExitUsage
		}
		models, err := spec.LoadDir(*specPath)
		if code := report(stderr, err); code != ExitOK {
			return code
		}
		return writeDir(stderr, models, *out)
	}
	m, err := spec.LoadFile(*specPath)
	if code := report(stderr, err); code != ExitOK {
		return code
	}
	files, err := gen.Generate(m, gen.Options{Package: *pkg})
	if err != nil {
		fmt.Fprintf(stderr, "taskgen: %s: %v\n", m.Name, err)
		return ExitIO
	}
	if err := WritePackage(*out, files); err != nil {
		fmt.Fprintf(stderr, "taskgen: %v\n", err)
		return ExitIO
	}
	return ExitOK
}

func report(stderr io.Writer, err error) int {
	if err == nil {
		return ExitOK
	}
	var list spec.ErrorList
	if errors.As(err, &list) {
		fmt.Fprintln(stderr, list.Error())
		return ExitSpec
	}
	fmt.Fprintf(stderr, "taskgen: %v\n", err)
	return ExitIO
}

func writeDir(stderr io.Writer, models []*spec.Model, out string) int {
	produced := map[string]bool{}
	for _, m := range models {
		files, err := gen.Generate(m, gen.Options{})
		if err != nil {
			fmt.Fprintf(stderr, "taskgen: %s: %v\n", m.Name, err)
			return ExitIO
		}
		if err := WritePackage(filepath.Join(out, m.Package), files); err != nil {
			fmt.Fprintf(stderr, "taskgen: %v\n", err)
			return ExitIO
		}
		produced[m.Package] = true
	}
	// Packages whose spec is gone: remove their generated files.
	entries, err := os.ReadDir(out)
	if err != nil {
		fmt.Fprintf(stderr, "taskgen: %v\n", err)
		return ExitIO
	}
	for _, e := range entries {
		if e.IsDir() && !produced[e.Name()] {
			if err := WritePackage(filepath.Join(out, e.Name()), nil); err != nil {
				fmt.Fprintf(stderr, "taskgen: %v\n", err)
				return ExitIO
			}
		}
	}
	return ExitOK
}

// WritePackage makes dir hold exactly files among its generated files: it
// writes the files whose content changed and removes the files in dir that
// carry taskgen's header but are not in files. Hand-written files are kept.
// A directory left empty is removed.
func WritePackage(dir string, files map[string][]byte) error {
	if len(files) > 0 {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	}
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		path := filepath.Join(dir, name)
		if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, files[name]) {
			continue
		}
		if err := os.WriteFile(path, files[name], 0o644); err != nil {
			return err
		}
	}
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	left := 0
	for _, e := range entries {
		if e.IsDir() {
			left++
			continue
		}
		if _, ok := files[e.Name()]; ok {
			left++
			continue
		}
		path := filepath.Join(dir, e.Name())
		if generated, err := isGenerated(path); err != nil {
			return err
		} else if !generated {
			left++
			continue
		}
		if err := os.Remove(path); err != nil {
			return err
		}
	}
	if left == 0 {
		return os.Remove(dir)
	}
	return nil
}

// isGenerated reports whether a file starts with taskgen's header, as a Go
// comment or as the HTML comment of the review document.
func isGenerated(path string) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	line, err := bufio.NewReader(f).ReadString('\n')
	if err != nil && err != io.EOF {
		return false, err
	}
	line = strings.TrimSpace(line)
	return line == "// "+gen.Header || line == "<!-- "+gen.Header+" -->", nil
}
