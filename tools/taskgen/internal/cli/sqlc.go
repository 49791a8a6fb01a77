package cli

import (
	"flag"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/taskmodel/taskmodel/tools/taskgen/internal/gen"
)

// sqlcLayout returns where the files sqlc.yaml names are, relative to the
// directory of the sqlc.yaml file at sqlcPath: dirs are the directories the
// models' packages were written into, catalog the catalog package's ("" for
// none). The paths are those taskgen wrote, not derived from package names:
// a package may live in a directory named otherwise. The layout also holds
// the command line that wrote the file, from fs's flags, for its header.
func sqlcLayout(fs *flag.FlagSet, sqlcPath string, dirs []string, catalog string) (gen.SQLCLayout, error) {
	var layout gen.SQLCLayout
	base, err := filepath.Abs(filepath.Dir(sqlcPath))
	if err != nil {
		return layout, err
	}
	for _, d := range dirs {
		rel, err := relSlash(base, d)
		if err != nil {
			return layout, err
		}
		layout.Dirs = append(layout.Dirs, rel)
	}
	if catalog != "" {
		if layout.Catalog, err = relSlash(base, catalog); err != nil {
			return layout, err
		}
	}
	layout.File, _ = shellQuote(filepath.Base(sqlcPath))
	layout.Command = commandLine(fs, base)
	return layout, nil
}

// relSlash returns path relative to the absolute directory base, as a slash
// path.
func relSlash(base, path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	rel, err := filepath.Rel(base, abs)
	if err != nil {
		return "", err
	}
	return filepath.ToSlash(rel), nil
}

// flagOrder orders the flags of commandLine as the usage line does; flags
// not listed follow in name order.
var flagOrder = []string{"spec", "out", "pkg", "sqlc", "python"}

// pathFlags are the flags whose values are paths, which commandLine gives
// relative to the sqlc.yaml file's directory.
var pathFlags = map[string]bool{"spec": true, "out": true, "sqlc": true, "python": true}

// commandLine renders the taskgen command line of the flags set in fs, to be
// run in the directory base: the same run wherever taskgen was run from and
// with no absolute path of the machine that ran it. It is "" when a path
// cannot be made relative to base or a value cannot be written on one line.
func commandLine(fs *flag.FlagSet, base string) string {
	set := map[string]*flag.Flag{}
	var others []string
	fs.Visit(func(f *flag.Flag) {
		set[f.Name] = f
		if !slices.Contains(flagOrder, f.Name) {
			others = append(others, f.Name) // Visit goes in name order
		}
	})
	args := []string{"taskgen"}
	for _, name := range append(slices.Clone(flagOrder), others...) {
		f, ok := set[name]
		if !ok {
			continue
		}
		if b, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && b.IsBoolFlag() {
			args = append(args, "-"+name+"="+f.Value.String())
			continue
		}
		v := f.Value.String()
		if pathFlags[name] {
			rel, err := relSlash(base, v)
			if err != nil {
				return ""
			}
			v = rel
		}
		q, ok := shellQuote(v)
		if !ok {
			return ""
		}
		args = append(args, "-"+name, q)
	}
	return strings.Join(args, " ")
}

var reShellSafe = regexp.MustCompile(`^[A-Za-z0-9_./:@%+=,-]+$`)

// shellQuote quotes s for a POSIX shell when it needs quotes; ok is false
// for a value that would not stay on one comment line.
func shellQuote(s string) (q string, ok bool) {
	if reShellSafe.MatchString(s) {
		return s, true
	}
	if strings.ContainsFunc(s, func(r rune) bool { return r < ' ' || r == 0x7f }) {
		return "", false
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'", true
}
