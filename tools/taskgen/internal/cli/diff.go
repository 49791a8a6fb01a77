package cli

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/taskmodel/taskmodel/tools/taskgen/internal/gen"
	"github.com/taskmodel/taskmodel/tools/taskgen/internal/spec"
)

// ExitBreaking is taskgen diff's exit code when a change breaks something
// the spec does not acknowledge with a new entry under breaking_changes,
// when a new entry names no change, or when the change cannot be migrated.
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
	out := fs.String("out", "", "where the packages were generated (with a directory of specs, their parent): the base is each model's newest spec snapshot; with -base, the migrations checked against the revision's")
	base := fs.String("base", "", "compare with the specs at this git revision (a branch, tag or commit) instead of the snapshots; with -out, also fail when a migration file the revision has was changed or deleted")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: taskgen diff -spec FILE|DIR (-out DIR | -base REF | -base REF -out DIR)")
		fmt.Fprintln(stderr, "Prints, in Markdown, what the spec change does to the databases, the wire format, the Go API and")
		fmt.Fprintf(stderr, "behaviour; exits %d when a breaking change is not acknowledged by a new entry under breaking_changes\n", ExitBreaking)
		fmt.Fprintln(stderr, "in the spec, when an entry names no change, or when the databases cannot follow the change.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return ExitUsage
	}
	problem := usageProblem(fs, "spec")
	switch {
	case problem != "":
	case *out == "" && *base == "":
		problem = "-out or -base is required"
	}
	if problem != "" {
		fmt.Fprintf(stderr, "taskgen diff: %s\n", problem)
		fs.Usage()
		return ExitUsage
	}
	info, err := statSpec(*specPath)
	if err != nil {
		fmt.Fprintf(stderr, "taskgen diff: %v\n", err)
		return ExitIO
	}
	if *base != "" {
		if err := checkRevision(*base); err != nil {
			fmt.Fprintf(stderr, "taskgen diff: %v\n", err)
			return ExitIO
		}
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
	var removed []removedModel
	if info.IsDir() {
		if removed, err = removedModels(models, *specPath, *out, *base); err != nil {
			fmt.Fprintf(stderr, "taskgen diff: %v\n", err)
			return ExitIO
		}
	}
	code := ExitOK
	acked := map[string]bool{}
	for _, m := range models {
		b, err := diffBase(m, info.IsDir(), *out, *base)
		if err == nil && *base != "" && *out != "" {
			var changed, restore []string
			if changed, restore, err = changedMigrations(packageDir(m, info.IsDir(), *out), *base); len(changed) > 0 {
				fmt.Fprintf(stdout, "## Model `%s`: migrations changed since `%s`\n\n", m.Name, *base)
				for _, c := range changed {
					fmt.Fprintf(stdout, "- %s\n", c)
				}
				fmt.Fprintf(stdout, "\nA migration is never changed or deleted once it is generated: databases that applied it refuse a program without it or with other SQL. Restore them from `%s`:\n\n```sh\ngit checkout %s -- %s\n```\n\n", *base, *base, strings.Join(restore, " "))
				if slices.ContainsFunc(restore, func(f string) bool { return strings.HasSuffix(f, gen.SumFile) }) {
					fmt.Fprintf(stdout, "then run `go generate`: it lists this branch's new migrations in `%s` again.\n\n", path.Base(gen.SumFile))
				}
				code = ExitBreaking
			}
		}
		old, prev, from := b.old, b.prev, b.from
		if err != nil {
			fmt.Fprintf(stderr, "taskgen diff: %s: %v\n", m.Name, err)
			return ExitIO
		}
		if old == nil {
			fmt.Fprintf(stdout, "## Model `%s`: new (%s has none)\n\n", m.Name, from)
			continue
		}
		r := gen.CompareAfter(prev, old, m)
		r.Unmatched = slices.DeleteFunc(r.Unmatched, acceptedEntry(models, b))
		for _, id := range r.Acknowledged {
			acked[id] = true
		}
		fmt.Fprint(stdout, r.Markdown(from))
		if r.Refused != "" || len(r.Unacknowledged()) > 0 || len(r.Unmatched) > 0 {
			code = ExitBreaking
		}
	}
	for _, g := range removed {
		fmt.Fprintf(stdout, "## Model `%s`: removed\n\n", g.name)
		switch {
		case g.migrations != "":
			fmt.Fprintf(stdout, "Its spec is gone, but `%s` holds its migrations, which databases may have applied: taskgen generates nothing until that directory is deleted (databases keep the model's tables and rows) or the spec is back (**breaking**: `%s`).", g.migrations, g.id())
			if renamed := renameHint(g.name, newModels(models, *out)); renamed != "" {
				fmt.Fprintf(stdout, " %s.", strings.ToUpper(renamed[:1])+renamed[1:])
			}
			fmt.Fprint(stdout, "\n\n")
			code = ExitBreaking
		case acked[g.id()]:
			fmt.Fprintf(stdout, "Its spec at %s is gone: the API no longer takes its task type, and databases keep its tables and rows (breaking, acknowledged: `%s`).\n\n", g.from, g.id())
		default:
			fmt.Fprintf(stdout, "Its spec at %s is gone: the API no longer takes its task type, and databases keep its tables and rows (**breaking**: `%s`). If it is meant, list `%s` under breaking_changes in the spec of another model.\n\n", g.from, g.id(), g.id())
			code = ExitBreaking
		}
	}
	return code
}

// acceptedEntry reports whether a new entry of breaking_changes that names
// none of the changes since b.old is right all the same:
//
//   - one acknowledging a removed model, which sits in another model's
//     spec (with -out, the spec of a model removed with its package is
//     nowhere to compare with);
//   - with -out, one naming a change that a migration holds (the changes
//     from the snapshot before it to its own): the change was generated
//     before the entry was added, and -base, which compares with the
//     branch, counts the entry. That is the newest migration's change when
//     the entry is added right after generating, and an earlier one's when
//     more migrations were generated first. The next migration's snapshot
//     lists it, after which it is an old entry.
func acceptedEntry(models []*spec.Model, b diffed) func(string) bool {
	held := b.held()
	return func(e string) bool {
		name, ok := strings.CutPrefix(spec.AckID(e), "model.")
		name, ok2 := strings.CutSuffix(name, ".removed")
		if ok && ok2 && !slices.ContainsFunc(models, func(m *spec.Model) bool { return m.Name == name }) {
			return true
		}
		return held(e) != ""
	}
}

// removedModel is a model whose spec is gone from a directory of specs.
type removedModel struct {
	name string
	from string // what had it
	// migrations is its package's migrations directory, with -out, while
	// it is still there.
	migrations string
}

func (g removedModel) id() string { return "model." + g.name + ".removed" }

// removedModels finds the models of the spec directory dir that are gone:
// with -out, packages under out that hold migrations of a model no spec
// declares; with -base, spec files of the revision that are gone.
func removedModels(models []*spec.Model, dir, out, base string) ([]removedModel, error) {
	declared := func(name string) bool {
		return slices.ContainsFunc(models, func(m *spec.Model) bool { return m.Name == name })
	}
	var gone []removedModel
	if base == "" {
		entries, err := os.ReadDir(out)
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil // nothing generated yet
		}
		if err != nil {
			return nil, err
		}
		for _, e := range entries {
			snaps, _ := filepath.Glob(filepath.Join(out, e.Name(), gen.MigrationsDir, "spec", "*.yaml"))
			if !e.IsDir() || len(snaps) == 0 {
				continue
			}
			sort.Strings(snaps)
			data, err := os.ReadFile(snaps[len(snaps)-1])
			if err != nil {
				return nil, err
			}
			old, err := spec.Parse(snaps[len(snaps)-1], data, nil)
			if err != nil {
				return nil, fmt.Errorf("the snapshot %s does not load: %v", snaps[len(snaps)-1], err)
			}
			if !declared(old.Name) && !slices.ContainsFunc(models, func(m *spec.Model) bool { return m.Package == e.Name() }) {
				mig := filepath.Join(out, e.Name(), gen.MigrationsDir)
				gone = append(gone, removedModel{name: old.Name, from: "`" + mig + "`", migrations: mig})
			}
		}
		return gone, nil
	}
	rel := filepath.ToSlash(filepath.Clean(dir))
	list, err := git("ls-tree", "--name-only", base+":./"+rel)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil // the revision has no such directory: every model is new
	}
	if err != nil {
		return nil, err
	}
	for _, name := range strings.Fields(string(list)) {
		if !strings.HasSuffix(name, ".yaml") {
			continue
		}
		if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
			continue
		}
		data, err := git("show", base+":./"+path.Join(rel, name))
		if err != nil {
			return nil, err
		}
		old, err := spec.Parse(filepath.Join(dir, name), data, func(p string) ([]byte, error) {
			return git("show", base+":./"+filepath.ToSlash(filepath.Clean(p)))
		})
		if err != nil || declared(old.Name) {
			continue // not a spec at that revision, or a model whose file was renamed
		}
		gone = append(gone, removedModel{name: old.Name, from: "`" + base + "`"})
	}
	return gone, nil
}

// packageDir is model m's package directory under out.
func packageDir(m *spec.Model, dirMode bool, out string) string {
	if dirMode {
		return filepath.Join(out, m.Package)
	}
	return out
}

// changedMigrations lists, as report lines, the migration files under the
// package directory dir that the revision base has and the working tree
// has changed (line ends aside) or deleted; the sum file, which gains
// lines, is not one.
func changedMigrations(dir, base string) (changed, restore []string, err error) {
	mig := filepath.ToSlash(filepath.Join(filepath.Clean(dir), gen.MigrationsDir))
	list, err := git("ls-tree", "-r", "-z", base+":./"+mig)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil, nil // a model the revision does not have yet
	}
	if err != nil {
		return nil, nil, err
	}
	var names, objects []string
	for _, entry := range strings.Split(strings.TrimSuffix(string(list), "\x00"), "\x00") {
		// <mode> SP <type> SP <object> TAB <name>
		meta, name, ok := strings.Cut(entry, "\t")
		if f := strings.Fields(meta); ok && len(f) == 3 && f[1] == "blob" {
			names, objects = append(names, name), append(objects, f[2])
		}
	}
	blobs, err := gitBlobs(objects)
	if err != nil {
		return nil, nil, err
	}
	sumFile := path.Join(filepath.ToSlash(filepath.Clean(dir)), gen.SumFile)
	for i, name := range names {
		file := path.Join(mig, name)
		was := blobs[i]
		now, err := os.ReadFile(filepath.FromSlash(file))
		switch {
		case errors.Is(err, os.ErrNotExist):
			changed = append(changed, fmt.Sprintf("`%s`: **deleted**", file))
			restore = append(restore, file)
		case err != nil:
			return nil, nil, err
		case file == sumFile:
			// The sum file gains the lines of new migrations; a line of a
			// migration the revision has must stay as it is, or the
			// restored migration would not match it.
			edited, removed := gen.SumChanges(was, now)
			for _, p := range edited {
				changed = append(changed, fmt.Sprintf("`%s`: the line of `%s` **changed**", file, p))
			}
			for _, p := range removed {
				changed = append(changed, fmt.Sprintf("`%s`: the line of `%s` **removed**", file, p))
			}
			if len(edited)+len(removed) > 0 {
				restore = append(restore, file)
			}
		case !bytes.Equal(bytes.ReplaceAll(was, []byte("\r\n"), []byte("\n")), bytes.ReplaceAll(now, []byte("\r\n"), []byte("\n"))):
			changed = append(changed, fmt.Sprintf("`%s`: **changed**", file))
			restore = append(restore, file)
		}
	}
	return changed, restore, nil
}

// diffed is what a model's spec is compared with.
type diffed struct {
	old *spec.Model
	// prev is, with -out, the snapshot of the migration before the
	// newest (nil when there is none).
	prev *spec.Model
	from string // what old is, in the report's words
	// snaps are, with -out, the spec snapshots' files, oldest first: old
	// is the last one's, prev the one before.
	snaps []string
}

// held returns a function naming the migration whose change (from the
// snapshot before it to its own) an entry of breaking_changes names, the
// newest first; "" when no migration's does. Snapshots are read as they
// are needed, and one that does not load (one of a spec language before
// today's rules) names nothing.
func (b diffed) held() func(string) string {
	reports := map[int]*gen.Report{}
	loaded := map[int]*spec.Model{}
	load := func(i int) *spec.Model {
		switch {
		case i == len(b.snaps)-1:
			return b.old
		case i == len(b.snaps)-2 && b.prev != nil:
			return b.prev
		}
		if m, ok := loaded[i]; ok {
			return m
		}
		m, _ := loadSnapshot(b.snaps[i])
		loaded[i] = m
		return m
	}
	return func(e string) string {
		for i := len(b.snaps) - 1; i > 0; i-- {
			r, ok := reports[i]
			if !ok {
				if before, after := load(i-1), load(i); before != nil && after != nil {
					r = gen.Compare(before, after)
				}
				reports[i] = r
			}
			if r != nil && r.Names(e) {
				return strings.TrimSuffix(filepath.Base(b.snaps[i]), ".yaml")
			}
		}
		return ""
	}
}

// loadSnapshot reads a migration's spec snapshot.
func loadSnapshot(file string) (*spec.Model, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	m, err := spec.Parse(file, data, nil)
	if err != nil {
		return nil, fmt.Errorf("the snapshot %s does not load: %v", file, err)
	}
	return m, nil
}

// diffBase loads what m is compared with, and says what that is.
func diffBase(m *spec.Model, dirMode bool, out, base string) (diffed, error) {
	if base != "" {
		show := func(path string) ([]byte, error) {
			return git("show", base+":./"+filepath.ToSlash(filepath.Clean(path)))
		}
		b := diffed{from: "`" + base + "`"}
		data, err := show(m.Pos.File)
		if errors.Is(err, os.ErrNotExist) {
			return b, nil
		}
		if err != nil {
			return b, err
		}
		if b.old, err = spec.Parse(m.Pos.File, data, show); err != nil {
			return b, fmt.Errorf("the spec at %s does not load: %v", base, err)
		}
		return b, nil
	}
	dir := packageDir(m, dirMode, out)
	// The next migration is generated over these: a numbering that
	// generation refuses is refused here too.
	h, err := readMigrations(dir)
	if err != nil {
		return diffed{}, err
	}
	if err := h.Check(dir); err != nil {
		return diffed{}, err
	}
	snaps, err := filepath.Glob(filepath.Join(dir, gen.MigrationsDir, "spec", "*.yaml"))
	if err != nil {
		return diffed{}, err
	}
	if len(snaps) == 0 {
		return diffed{from: "`" + filepath.Join(dir, gen.MigrationsDir, "spec") + "`"}, nil
	}
	sort.Strings(snaps)
	newest := snaps[len(snaps)-1]
	b := diffed{from: "migration `" + strings.TrimSuffix(filepath.Base(newest), ".yaml") + "`", snaps: snaps}
	if b.old, err = loadSnapshot(newest); err != nil {
		return diffed{}, err
	}
	if len(snaps) > 1 {
		if b.prev, err = loadSnapshot(snaps[len(snaps)-2]); err != nil {
			return diffed{}, err
		}
	}
	return b, nil
}

// git runs git with args and returns its output; an object the revision
// does not have is os.ErrNotExist, another failure carries git's message.
// checkRevision tells, in the user's words, why base cannot be compared
// with: not in a git repository, or not a revision of it.
func checkRevision(base string) error {
	if _, err := git("rev-parse", "--git-dir"); err != nil {
		return fmt.Errorf("-base %s: the current directory is not in a git repository (run taskgen diff from the repository's checkout, or compare with the snapshots: -out)", base)
	}
	if _, err := git("rev-parse", "--verify", "--quiet", base+"^{commit}"); err != nil {
		msg := fmt.Sprintf("-base %s: no such revision in this repository (give a branch, a tag or a commit)", base)
		if remote, branch, ok := strings.Cut(base, "/"); ok && !strings.Contains(branch, "/") && remote != "" && branch != "" {
			if _, err := git("remote", "get-url", remote); err == nil {
				// A CI's checkout is often one commit of one branch:
				// fetching the other branch does not make its remote
				// branch unless the refspec says so.
				msg += fmt.Sprintf("; a checkout of one branch lacks it until it is fetched: git fetch --depth=1 %s %s:refs/remotes/%s/%s", remote, branch, remote, branch)
			}
		}
		return errors.New(msg)
	}
	return nil
}

// gitBlobs reads the contents of git objects, in order, with one git
// process (a git show each took seconds over a few hundred migrations).
func gitBlobs(objects []string) ([][]byte, error) {
	if len(objects) == 0 {
		return nil, nil
	}
	cmd := exec.Command("git", "cat-file", "--batch")
	cmd.Stdin = strings.NewReader(strings.Join(objects, "\n") + "\n")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("git cat-file --batch: %v: %s", err, strings.TrimSpace(stderr.String()))
	}
	blobs := make([][]byte, 0, len(objects))
	for _, obj := range objects {
		// <object> SP <type> SP <size> LF <contents> LF
		header, rest, ok := bytes.Cut(out, []byte("\n"))
		f := strings.Fields(string(header))
		if !ok || len(f) != 3 || f[0] != obj {
			return nil, fmt.Errorf("git cat-file --batch: unexpected answer %q for %s", header, obj)
		}
		size, err := strconv.Atoi(f[2])
		if err != nil || size+1 > len(rest) {
			return nil, fmt.Errorf("git cat-file --batch: unexpected answer %q for %s", header, obj)
		}
		blobs = append(blobs, rest[:size])
		out = rest[size+1:]
	}
	return blobs, nil
}

func git(args ...string) ([]byte, error) {
	cmd := exec.Command("git", args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		msg := strings.TrimSpace(stderr.String())
		// The revision was checked first (checkRevision): an object that is
		// not valid is a path the revision does not have.
		if strings.Contains(msg, "does not exist") || strings.Contains(msg, "exists on disk, but not in") || strings.Contains(msg, "not a tree") ||
			strings.Contains(msg, "Not a valid object name") {
			return nil, os.ErrNotExist
		}
		return nil, fmt.Errorf("git %s: %s", strings.Join(args, " "), msg)
	}
	return out, nil
}
