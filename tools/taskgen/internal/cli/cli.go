// Package cli is taskgen's command line: it parses flags, loads specs, and
// writes generated packages, removing generated files that no spec produces
// any more.
package cli

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path"
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
	pyDir := fs.String("python", "", "also write every model's types.py as <package>.py into this Python package directory, with an __init__.py mapping each task_type onto its module (only with a spec directory)")
	sqlcPath := fs.String("sqlc", "", "also emit SQL schemas, migrations, queries and drivers for PostgreSQL, SQLite and MySQL, and write this sqlc.yaml to compile them (run sqlc generate -f FILE next)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: taskgen -spec FILE|DIR -out DIR [-pkg NAME] [-sqlc FILE] [-python DIR]")
		fmt.Fprintln(stderr, "       taskgen diff -spec FILE|DIR (-out DIR | -base REF)   (what a spec change does; taskgen diff -h)")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return ExitUsage
	}
	if problem := usageProblem(fs, "spec", "out"); problem != "" {
		fmt.Fprintf(stderr, "taskgen: %s\n", problem)
		fs.Usage()
		return ExitUsage
	}
	if *pkg != "" && !rePkg.MatchString(*pkg) {
		fmt.Fprintf(stderr, "taskgen: -pkg %q is not a valid package name; it must match [a-z][a-z0-9]*\n", *pkg)
		return ExitUsage
	}
	info, err := statSpec(*specPath)
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
		if code := writeDir(stderr, models, *out, *sqlcPath != ""); code != ExitOK {
			return code
		}
		if *pyDir != "" {
			if err := writePython(*pyDir, models); err != nil {
				fmt.Fprintf(stderr, "taskgen: -python: %v\n", err)
				return ExitIO
			}
		}
		if *sqlcPath != "" {
			base, err := ImportPath(*out)
			if err != nil {
				fmt.Fprintf(stderr, "taskgen: %v\n", err)
				return ExitIO
			}
			files, err := gen.CatalogFiles(models, base)
			if err != nil {
				fmt.Fprintf(stderr, "taskgen: catalog: %v\n", err)
				return ExitIO
			}
			if err := writeStoragePackage(filepath.Join(*out, gen.CatalogPackage), files); err != nil {
				fmt.Fprintf(stderr, "taskgen: %v\n", err)
				return ExitIO
			}
		}
		dirs := make([]string, len(models))
		for i, m := range models {
			dirs[i] = filepath.Join(*out, m.Package)
		}
		return writeSQLC(stderr, fs, *sqlcPath, models, dirs, filepath.Join(*out, gen.CatalogPackage))
	}
	if *pyDir != "" {
		fmt.Fprintln(stderr, "taskgen: -python applies to a spec directory, not a single file")
		return ExitUsage
	}
	m, err := spec.LoadFile(*specPath)
	if code := report(stderr, err); code != ExitOK {
		return code
	}
	opts := gen.Options{Package: *pkg, Storage: *sqlcPath != ""}
	if opts.Storage {
		if opts.ImportPath, err = ImportPath(*out); err != nil {
			fmt.Fprintf(stderr, "taskgen: %v\n", err)
			return ExitIO
		}
		if err := readHistory(m, *out, &opts); err != nil {
			fmt.Fprintf(stderr, "taskgen: %s: %v\n", m.Name, err)
			return ExitIO
		}
		warnUnacknowledged(stderr, m, *out, []*spec.Model{m})
	}
	files, err := gen.Generate(m, opts)
	if err != nil {
		return generateFailed(stderr, m, err)
	}
	if err := writeFor(opts.Storage)(*out, files); err != nil {
		fmt.Fprintf(stderr, "taskgen: %v\n", err)
		return ExitIO
	}
	if *pkg != "" {
		m.Package = *pkg
	}
	return writeSQLC(stderr, fs, *sqlcPath, []*spec.Model{m}, []string{*out}, "")
}

// usageProblem says what is wrong with the command line, or returns "":
// a required flag (named without its dash) that is missing or empty, or an
// argument that is not a flag.
func usageProblem(fs *flag.FlagSet, required ...string) string {
	var missing []string
	for _, name := range required {
		if fs.Lookup(name).Value.String() == "" {
			missing = append(missing, "-"+name)
		}
	}
	switch {
	case len(missing) == 1:
		return missing[0] + " is required"
	case len(missing) > 1:
		return strings.Join(missing[:len(missing)-1], ", ") + " and " + missing[len(missing)-1] + " are required"
	case fs.NArg() > 0:
		return fmt.Sprintf("unexpected argument %q: every input is given by a flag", fs.Arg(0))
	}
	return ""
}

// statSpec reads the file information of the -spec path; its error names
// the flag and the path, not the system call that failed.
func statSpec(path string) (os.FileInfo, error) {
	info, err := os.Stat(path)
	var pe *os.PathError
	if errors.As(err, &pe) {
		return nil, fmt.Errorf("-spec %s: %w", path, pe.Err)
	}
	return info, err
}

// generateFailed reports an error of gen.Generate: a spec change that
// cannot be migrated is a spec error, with its position.
func generateFailed(stderr io.Writer, m *spec.Model, err error) int {
	var list spec.ErrorList
	if errors.As(err, &list) {
		fmt.Fprintln(stderr, list.Error())
		return ExitSpec
	}
	fmt.Fprintf(stderr, "taskgen: %s: %v\n", m.Name, err)
	return ExitIO
}

// readHistory reads what the package directory holds of the model's
// migrations into opts, and the spec's snapshot.
func readHistory(m *spec.Model, dir string, opts *gen.Options) error {
	snap, err := spec.Snapshot(m.Pos.File)
	if err != nil {
		return err
	}
	opts.Snapshot = snap
	h, err := readMigrations(dir)
	if err != nil {
		return err
	}
	opts.History = h
	opts.Dir = shownDir(dir)
	return nil
}

// shownDir is the package directory dir as messages name it. Under go
// generate, which runs taskgen in the directory of the file that asks for
// it while its user typed go generate ./... at the module's root, it is
// the path from the module's root, so that a command a message gives (git
// checkout -- FILE) runs there as it is; elsewhere it is dir as given.
func shownDir(dir string) string {
	if os.Getenv("GOFILE") == "" || os.Getenv("GOPACKAGE") == "" {
		return dir
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return dir
	}
	root, _, ok := moduleRoot(abs)
	if !ok {
		return dir
	}
	if rel, err := filepath.Rel(root, abs); err == nil {
		return rel
	}
	return dir
}

// moduleRoot finds the nearest go.mod at or above the absolute path abs:
// its directory and content.
func moduleRoot(abs string) (root string, goMod []byte, ok bool) {
	for d := abs; ; d = filepath.Dir(d) {
		if data, err := os.ReadFile(filepath.Join(d, "go.mod")); err == nil {
			return d, data, true
		}
		if filepath.Dir(d) == d {
			return "", nil, false
		}
	}
}

// warnUnacknowledged warns, before the next migration is generated into
// the package directory dir, of the breaking changes since its newest spec
// snapshot that the spec does not acknowledge, and of the new entries under
// breaking_changes that name none of them (nor a change of an earlier
// migration, which an entry added after generating acknowledges). models
// are the models generated with m. Generation goes on: the check that
// fails is taskgen diff's, which compares with the snapshot generation is
// about to replace, so after it only -base still sees the changes, and the
// new snapshot keeps the entries as they are.
func warnUnacknowledged(stderr io.Writer, m *spec.Model, dir string, models []*spec.Model) {
	b, err := diffBase(m, false, dir, "")
	old, prev := b.old, b.prev
	if err != nil || old == nil {
		return // generation reports what is wrong with the history
	}
	r := gen.CompareAfter(prev, old, m)
	if r.Refused != "" {
		return // generation refuses it
	}
	if un := r.Unacknowledged(); len(un) > 0 {
		fmt.Fprintf(stderr, "taskgen: warning: model %s: %d breaking %s not acknowledged: %s. Generated anyway; if %s meant, list %s under breaking_changes in the spec (before or after generating): taskgen diff -base REF (in CI) fails until the spec does\n",
			m.Name, len(un), plural(len(un), "change is", "changes are"), strings.Join(un, ", "), plural(len(un), "it is", "they are"), plural(len(un), "it", "them"))
	}
	accepted := acceptedEntry(models, b)
	for _, e := range r.Unmatched {
		if accepted(e) {
			continue
		}
		ids := "no change generated now is breaking"
		if now := r.IDs(); len(now) > 0 {
			ids = "the breaking changes generated now are " + strings.Join(now, ", ")
		}
		if prev != nil {
			if held := gen.Compare(prev, old).IDs(); len(held) > 0 {
				ids += fmt.Sprintf(", and the breaking changes of migration %s are %s", strings.TrimSuffix(filepath.Base(old.Pos.File), ".yaml"), strings.Join(held, ", "))
			}
		}
		fmt.Fprintf(stderr, "taskgen: warning: model %s: breaking_changes lists %s, which names none of the changes, probably a typo: %s. Correct the entry or remove it: a migration's spec snapshot keeps it as it is, after which taskgen diff no longer reports it\n",
			m.Name, e, ids)
	}
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// readMigrations reads the migrations and spec snapshots the package
// directory dir holds.
func readMigrations(dir string) (*gen.History, error) {
	h := &gen.History{Migrations: map[gen.Engine]map[string][]byte{}, Specs: map[string][]byte{}}
	read := func(sub, ext string, into map[string][]byte) error {
		entries, err := os.ReadDir(filepath.Join(dir, gen.MigrationsDir, sub))
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		for _, e := range entries {
			name, ok := strings.CutSuffix(e.Name(), ext)
			if e.IsDir() || !ok {
				continue
			}
			data, err := os.ReadFile(filepath.Join(dir, gen.MigrationsDir, sub, e.Name()))
			if err != nil {
				return err
			}
			into[name] = data
		}
		return nil
	}
	for _, e := range gen.Engines {
		h.Migrations[e] = map[string][]byte{}
		if err := read(string(e), ".sql", h.Migrations[e]); err != nil {
			return nil, err
		}
	}
	if err := read("spec", ".yaml", h.Specs); err != nil {
		return nil, err
	}
	sum, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(gen.SumFile)))
	switch {
	case err == nil:
		h.Sum = sum
	case !errors.Is(err, os.ErrNotExist):
		return nil, err
	}
	return h, nil
}

// writeSQLC writes the sqlc.yaml that compiles the models' queries: dirs[i]
// is the directory models[i]'s package was written into, catalog the catalog
// package's ("" for none); its header repeats fs's flags. Nothing without
// -sqlc.
func writeSQLC(stderr io.Writer, fs *flag.FlagSet, sqlcPath string, models []*spec.Model, dirs []string, catalog string) int {
	if sqlcPath == "" {
		return ExitOK
	}
	layout, err := sqlcLayout(fs, sqlcPath, dirs, catalog)
	if err != nil {
		fmt.Fprintf(stderr, "taskgen: -sqlc: %v\n", err)
		return ExitUsage
	}
	if err := writeFile(sqlcPath, gen.SQLCConfig(models, layout)); err != nil {
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

func writeDir(stderr io.Writer, models []*spec.Model, out string, storage bool) int {
	if code := checkGone(stderr, models, out, storage); code != ExitOK {
		return code
	}
	produced := map[string]bool{}
	base := ""
	if storage {
		var err error
		if base, err = ImportPath(out); err != nil {
			fmt.Fprintf(stderr, "taskgen: %v\n", err)
			return ExitIO
		}
	}
	for _, m := range models {
		opts := gen.Options{Storage: storage, ImportPath: path.Join(base, m.Package)}
		if storage {
			if err := readHistory(m, filepath.Join(out, m.Package), &opts); err != nil {
				fmt.Fprintf(stderr, "taskgen: %s: %v\n", m.Name, err)
				return ExitIO
			}
			warnUnacknowledged(stderr, m, filepath.Join(out, m.Package), models)
		}
		files, err := gen.Generate(m, opts)
		if err != nil {
			return generateFailed(stderr, m, err)
		}
		if err := writeFor(storage)(filepath.Join(out, m.Package), files); err != nil {
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
		if e.IsDir() && !produced[e.Name()] && !(storage && e.Name() == gen.CatalogPackage) {
			if err := removePackage(filepath.Join(out, e.Name())); err != nil {
				fmt.Fprintf(stderr, "taskgen: %v\n", err)
				return ExitIO
			}
		}
	}
	return ExitOK
}

// checkGone refuses, before anything is written, to remove a package whose
// spec is gone while it holds migrations: databases may have applied them,
// and a model generated again later starts its migrations anew, which those
// databases refuse.
func checkGone(stderr io.Writer, models []*spec.Model, out string, storage bool) int {
	entries, err := os.ReadDir(out)
	if errors.Is(err, os.ErrNotExist) {
		return ExitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "taskgen: %v\n", err)
		return ExitIO
	}
	byPackage := map[string]*spec.Model{}
	for _, m := range models {
		byPackage[m.Package] = m
	}
	code := ExitOK
	for _, e := range entries {
		if !e.IsDir() || byPackage[e.Name()] != nil || (storage && e.Name() == gen.CatalogPackage) {
			continue
		}
		dir := filepath.Join(out, e.Name())
		snaps, err := filepath.Glob(filepath.Join(dir, gen.MigrationsDir, "spec", "*.yaml"))
		if err != nil || len(snaps) == 0 {
			continue
		}
		sort.Strings(snaps)
		name := e.Name()
		if data, err := os.ReadFile(snaps[len(snaps)-1]); err == nil {
			if old, err := spec.Parse(snaps[len(snaps)-1], data, nil); err == nil {
				name = old.Name
			}
		}
		mig := filepath.Join(dir, gen.MigrationsDir)
		if m := modelNamed(models, name); m != nil {
			fmt.Fprintf(stderr, "taskgen: model %s now generates into %s, but its migrations are in %s, which databases may have applied; "+
				"move that directory to %s, then generate again\n", name, filepath.Join(out, m.Package), mig, filepath.Join(out, m.Package, gen.MigrationsDir))
		} else if renamed := renameHint(name, newModels(models, out)); renamed != "" {
			fmt.Fprintf(stderr, "taskgen: the spec of model %s is gone, but %s holds its migrations, which databases may have applied; %s; "+
				"to remove %s, delete %s yourself (databases keep its tables and rows)\n", name, mig, renamed, name, dir)
		} else {
			fmt.Fprintf(stderr, "taskgen: the spec of model %s is gone, but %s holds its migrations, which databases may have applied; "+
				"taskgen removes no migration: to remove the model, delete %s yourself (databases keep its tables and rows), or restore its spec\n", name, mig, dir)
		}
		code = ExitSpec
	}
	return code
}

// newModels are the models whose packages under out hold no migrations
// yet: one of them may be a model whose spec is gone, renamed.
func newModels(models []*spec.Model, out string) []*spec.Model {
	var news []*spec.Model
	for _, m := range models {
		if snaps, _ := filepath.Glob(filepath.Join(out, m.Package, gen.MigrationsDir, "spec", "*.yaml")); len(snaps) == 0 {
			news = append(news, m)
		}
	}
	return news
}

// renameHint says, when the spec of model gone is gone while new models
// appear, that a model cannot be renamed and what to do instead; it is
// empty without new models.
func renameHint(gone string, news []*spec.Model) string {
	if len(news) == 0 {
		return ""
	}
	names := make([]string, len(news))
	for i, m := range news {
		names[i] = fmt.Sprintf("%s (%s)", m.Name, m.Pos.File)
	}
	which := "model " + names[0] + " is"
	if len(names) > 1 {
		which = "one of the new models " + strings.Join(names, ", ") + " is"
	}
	return fmt.Sprintf("if %s %s renamed: a model cannot be renamed, as its tables are named after it; "+
		"keep the name %s, or restore the spec of %s and keep the new model beside it, moving the tasks over yourself", which, gone, gone, gone)
}

func modelNamed(models []*spec.Model, name string) *spec.Model {
	for _, m := range models {
		if m.Name == name {
			return m
		}
	}
	return nil
}

// writePython makes dir a Python package of the models' modules: each
// model's types.py as <package>.py, and gen.PythonInit's __init__.py.
// Modules of models that are gone are removed; other files are kept.
func writePython(dir string, models []*spec.Model) error {
	files := map[string][]byte{"__init__.py": gen.PythonInit(models)}
	for _, m := range models {
		files[gen.PythonModule(m)+".py"] = gen.Python(m)
	}
	return WritePackage(dir, files)
}

// ImportPath returns the Go import path of dir (which need not exist yet):
// the module path of the nearest go.mod above it joined with the rest.
func ImportPath(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	root, data, ok := moduleRoot(abs)
	if !ok {
		return "", fmt.Errorf("-out %s is not inside a Go module (no go.mod above it); the generated drivers need its import path", dir)
	}
	rel, err := filepath.Rel(root, abs)
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(string(data), "\n") {
		if mod, ok := strings.CutPrefix(strings.TrimSpace(line), "module "); ok {
			mod = strings.Trim(strings.TrimSpace(strings.Split(mod, "//")[0]), `"`)
			return path.Join(mod, filepath.ToSlash(rel)), nil
		}
	}
	return "", fmt.Errorf("%s has no module line", filepath.Join(root, "go.mod"))
}

// writeFile writes data to path unless the file already holds it.
func writeFile(path string, data []byte) error {
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, data) {
		return nil
	}
	return os.WriteFile(path, data, 0o644)
}

// WritePackage makes dir hold exactly files among its generated files: it
// writes the files (paths relative to dir, maybe in subdirectories) whose
// content changed and removes the files under dir that carry taskgen's header
// but are not in files. Hand-written files and sqlc's output are kept.
// Directories left empty are removed.
func WritePackage(dir string, files map[string][]byte) error {
	return writeTree(dir, files, isTaskgenFile)
}

// removePackage removes a generated package whose spec is gone: taskgen's
// files and the sqlc output generated from them.
func removePackage(dir string) error { return writeTree(dir, nil, isGeneratedFile) }

// writeStoragePackage is WritePackage for -sqlc: sqlc's output is removed too,
// since sqlc regenerates it next and never removes a file it stopped writing.
func writeStoragePackage(dir string, files map[string][]byte) error {
	return writeTree(dir, files, isGeneratedFile)
}

func isGeneratedFile(path string) (bool, error) {
	if ok, err := isTaskgenFile(path); ok || err != nil {
		return ok, err
	}
	return hasFirstLine(path, "// Code generated by sqlc. DO NOT EDIT.")
}

func writeFor(storage bool) func(string, map[string][]byte) error {
	if storage {
		return writeStoragePackage
	}
	return WritePackage
}

func writeTree(dir string, files map[string][]byte, removable func(string) (bool, error)) error {
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		path := filepath.Join(dir, filepath.FromSlash(name))
		if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, files[name]) {
			continue
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(path, files[name], 0o644); err != nil {
			return err
		}
	}
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	var dirs []string
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			dirs = append(dirs, path)
			return nil
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		if _, ok := files[filepath.ToSlash(rel)]; ok {
			return nil
		}
		if ok, err := removable(path); err != nil || !ok {
			return err
		}
		return os.Remove(path)
	})
	if err != nil {
		return err
	}
	// Deepest first: remove directories the removals left empty.
	for i := len(dirs) - 1; i >= 0; i-- {
		if entries, err := os.ReadDir(dirs[i]); err == nil && len(entries) == 0 {
			if err := os.Remove(dirs[i]); err != nil {
				return err
			}
		}
	}
	return nil
}

// isTaskgenFile reports whether a file starts with taskgen's header, as a Go
// or Python comment, a SQL comment or the HTML comment of the review document, or is a
// JSON document carrying the header as gen.OpenAPIMarker.
func isTaskgenFile(path string) (bool, error) {
	if strings.HasSuffix(path, ".json") {
		return isTaskgenJSON(path)
	}
	for _, h := range []string{"// " + gen.Header, "# " + gen.Header, gen.SQLHeader, "<!-- " + gen.Header + " -->", gen.SnapshotHeader} {
		if ok, err := hasFirstLine(path, h); ok || err != nil {
			return ok, err
		}
	}
	return false, nil
}

func isTaskgenJSON(path string) (bool, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return false, err
	}
	var top map[string]json.RawMessage
	if json.Unmarshal(data, &top) != nil {
		return false, nil
	}
	var marker string
	_ = json.Unmarshal(top[gen.OpenAPIMarker], &marker)
	return marker == gen.Header, nil
}

func hasFirstLine(path, want string) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	line, err := bufio.NewReader(f).ReadString('\n')
	if err != nil && err != io.EOF {
		return false, err
	}
	return strings.TrimSpace(line) == want, nil
}
