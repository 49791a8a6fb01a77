package gen

import (
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/taskmodel/taskmodel/tools/taskgen/internal/spec"
)

// History is what a model's package already holds of its migrations: every
// file taskgen generated under migrations/ before. An applied migration is
// never rewritten, so these files are emitted again as they are, and a
// change of the spec appends the next migration.
type History struct {
	// Migrations are each engine's migration files by name
	// ("0009_add_priority"), with their content.
	Migrations map[Engine]map[string][]byte
	// Specs are the spec snapshots by the name of the migration that was
	// generated from them (migrations/spec/<name>.yaml).
	Specs map[string][]byte
	// Sum is the sum file's content (SumFile); nil when there is none.
	Sum []byte
}

// empty reports whether the model has no migrations yet: a new model.
func (h *History) empty() bool {
	if h == nil {
		return true
	}
	for _, m := range h.Migrations {
		if len(m) > 0 {
			return false
		}
	}
	return true
}

// MigrationsDir is the directory of a model's package that holds its
// migrations: <engine>/<name>.sql and spec/<name>.yaml.
const MigrationsDir = "migrations"

// SnapshotHeader starts every spec snapshot.
const SnapshotHeader = "# " + Header

var reMigrationName = regexp.MustCompile(`^([0-9]{4})_[a-z0-9_]+$`)

// frozen is one migration of a model for one engine, as its file holds it.
type frozen struct {
	name string // 0001_schema
	sql  []byte
}

func (f frozen) path(e Engine) string { return MigrationsDir + "/" + string(e) + "/" + f.name + ".sql" }

func specPath(name string) string { return MigrationsDir + "/spec/" + name + ".yaml" }

func migrationNumber(name string) int {
	n, _ := strconv.Atoi(name[:4])
	return n
}

// isFrameworkName reports whether a migration name (after its number) is
// one of the migrations taskgen writes for every model.
func isFrameworkName(s string) bool {
	for _, mg := range frameworkMigrations() {
		if mg.name[5:] == s {
			return true
		}
	}
	return false
}

// chain works out the model's migrations for every engine and the spec
// snapshots to keep: the history's as they are, then the framework
// migrations the model lacks, then the migration from the newest snapshot's
// spec to the current one, if the database must change. A new model gets
// the framework migrations rendered from its spec and one snapshot.
//
// dir is the package's directory as messages name it ("" for none): an
// error about a migration names its files under it.
func (g *generator) migrationChain(h *History, snapshot []byte, dir string) (map[Engine][]frozen, map[string][]byte, error) {
	chain := map[Engine][]frozen{}
	specs := map[string][]byte{}
	snap := append([]byte(SnapshotHeader+"\n# The spec of model "+strconv.Quote(g.m.Name)+" that this migration was generated from: taskgen\n# compares the spec with the newest of these to write the next migration.\n"), snapshot...)
	worker := g.m.Worker != nil
	if h.empty() {
		for _, e := range Engines {
			for _, mg := range migrationsFor(e, worker) {
				chain[e] = append(chain[e], frozen{name: mg.name, sql: mg.render(g, e)})
			}
		}
		if snapshot != nil {
			specs[migrationList[0].name] = snap
		}
		return chain, specs, nil
	}
	last := 0
	for _, e := range Engines {
		var names []string
		for name := range h.Migrations[e] {
			if !reMigrationName.MatchString(name) {
				return nil, nil, fmt.Errorf("%s/%s/%s.sql: a migration's name is a four-digit number, an underscore and [a-z0-9_]; taskgen writes these files, do not add or rename them", MigrationsDir, e, name)
			}
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			chain[e] = append(chain[e], frozen{name: name, sql: h.Migrations[e][name]})
			last = max(last, migrationNumber(name))
		}
	}
	if err := h.Check(dir); err != nil {
		return nil, nil, err
	}
	var base string
	for name, data := range h.Specs {
		specs[name] = data
		if base == "" || name > base {
			base = name
		}
	}
	if base == "" {
		return nil, nil, fmt.Errorf("%s/spec holds no spec snapshot, so the spec cannot be compared with what the migrations were generated from; restore the directory from version control", MigrationsDir)
	}
	old, err := spec.Parse(filepath.Join(dir, filepath.FromSlash(specPath(base))), h.Specs[base], nil)
	if err != nil {
		return nil, nil, fmt.Errorf("the spec snapshot %s cannot be read (%v); restore it from version control", specPath(base), err)
	}
	// The snapshot before it, for the errors that say how to redo the
	// newest migration; one that does not load says nothing.
	var prev *spec.Model
	if name := previousSnapshot(h.Specs, base); name != "" {
		prev, _ = spec.Parse(filepath.Join(dir, filepath.FromSlash(specPath(name))), h.Specs[name], nil)
	}
	// MySQL came after the model's first migrations: its schema is the
	// newest snapshot's, under the newest migration's number.
	if len(chain[MySQL]) == 0 {
		og := &generator{m: old, storage: true}
		chain[MySQL] = []frozen{{name: fmt.Sprintf("%04d_%s", last, mysqlMigrations[0].name[5:]), sql: og.mysqlSchemaSQL(MySQL)}}
	}
	// Framework migrations the model lacks, in their order, each under
	// the next number. A model that gained its worker section after its
	// first migration got the lease columns from that change instead of the
	// worker migrations (0002_worker to 0008_lease_in_row): those are the
	// lacking ones only for a model that had 0002_worker.
	hadWorker := hasSuffix(chain[PostgreSQL], "worker")
	// They are rendered from the newest snapshot's spec: they run before the
	// migration of the spec's change, if any, on the tables that spec
	// describes.
	og := &generator{m: old, storage: true, upgrade: true}
	for _, mg := range frameworkMigrations() {
		if mg.worker && (old.Worker == nil || !hadWorker) {
			continue
		}
		missing := false
		for _, e := range Engines {
			if !hasMigration(migrationsFor(e, worker), mg.name) {
				continue
			}
			if !hasSuffix(chain[e], mg.name[5:]) {
				missing = true
			}
		}
		if !missing || (mg.worker && !worker) {
			continue
		}
		last++
		name := fmt.Sprintf("%04d_%s", last, mg.name[5:])
		for _, e := range Engines {
			if hasMigration(migrationsFor(e, worker), mg.name) && !hasSuffix(chain[e], mg.name[5:]) {
				chain[e] = append(chain[e], frozen{name: name, sql: mg.render(og, e)})
			}
		}
	}
	ev, err := evolve(prev, old, g.m)
	if err != nil {
		return nil, nil, err
	}
	if ev == nil {
		return chain, specs, nil
	}
	last++
	name := fmt.Sprintf("%04d_%s", last, ev.slug())
	for _, e := range Engines {
		chain[e] = append(chain[e], frozen{name: name, sql: ev.render(e, name, base)})
	}
	specs[name] = snap
	return chain, specs, nil
}

// previousSnapshot is the name of the newest snapshot of specs before
// name; "" for none.
func previousSnapshot(specs map[string][]byte, name string) string {
	prev := ""
	for n := range specs {
		if n < name && n > prev {
			prev = n
		}
	}
	return prev
}

// hasMigration reports whether ms holds the framework migration name.
func hasMigration(ms []migration, name string) bool {
	for _, m := range ms {
		if m.name == name {
			return true
		}
	}
	return false
}

// hasSuffix reports whether fs holds a migration named NNNN_<suffix>.
func hasSuffix(fs []frozen, suffix string) bool {
	for _, f := range fs {
		if f.name[5:] == suffix {
			return true
		}
	}
	return false
}

// Check refuses a history whose numbering is broken: two
// migrations of one engine (or two spec snapshots) under one number, as
// when two branches each changed the spec and each got the next number, or
// a number no migration has, as when a migration other than the newest was
// deleted. Either would have taskgen append a migration over a chain that
// no database can apply (a change made twice, or a column that was never
// added). It also refuses a migration of a spec change that lacks one of
// its files (an engine's SQL, or the spec snapshot taskgen compares the
// spec with): generated over it, the next migration would repeat its
// change, and the engine that lacks it could not open its databases. And
// it refuses a migration file that is not what taskgen wrote (SumFile).
//
// dir is the model's package directory, as messages name it.
func (h *History) Check(dir string) error {
	dirs := make([]string, 0, len(Engines)+1)
	names := map[string][]string{}
	for _, e := range Engines {
		dirs = append(dirs, string(e))
		for name := range h.Migrations[e] {
			names[string(e)] = append(names[string(e)], name)
		}
	}
	dirs = append(dirs, "spec")
	for name := range h.Specs {
		names["spec"] = append(names["spec"], name)
	}
	if err := h.checkMerged(dir); err != nil {
		return err
	}
	// MySQL's first migration is its schema under the number of the
	// migration that was the newest when MySQL came (0001 for a model
	// that had it from the start): that number is the other engines'.
	mysqlFirst := h.mysqlFirst()
	present := map[int][]string{} // number: the names of every engine's migrations under it
	for _, d := range dirs {
		sort.Strings(names[d])
		byNumber := map[int]string{}
		for _, name := range names[d] {
			if !reMigrationName.MatchString(name) {
				continue // refused by the caller, with its path
			}
			n := migrationNumber(name)
			if other, ok := byNumber[n]; ok {
				return h.duplicateError(dir, other, name)
			}
			byNumber[n] = name
			if d == "spec" || (d == string(MySQL) && n == mysqlFirst) {
				continue
			}
			if !slices.Contains(present[n], name) {
				present[n] = append(present[n], name)
				sort.Strings(present[n])
			}
		}
	}
	last := 0
	for n := range present {
		last = max(last, n)
	}
	mig := filepath.Join(dir, MigrationsDir)
	for n := 1; n < last; n++ {
		if _, ok := present[n]; ok || skippedWorkerNumber(n, present) {
			continue
		}
		before, after := "", ""
		for m := n - 1; m > 0 && before == ""; m-- {
			if len(present[m]) > 0 {
				before = present[m][0]
			}
		}
		for m := n + 1; after == ""; m++ {
			if len(present[m]) > 0 {
				after = present[m][0]
			}
		}
		jump := "migration " + after + " is the first"
		if before != "" {
			jump = "the numbers jump from " + before + " to " + after
		}
		return fmt.Errorf("%s holds no migration numbered %04d (%s): a migration other than the newest was deleted, and the ones after it were generated over its changes, so no database could apply them; migrations are never deleted once others follow them: restore migration %04d's files (%s for every engine and %s) from version control",
			mig, n, jump, n, filepath.Join(mig, "<engine>", fmt.Sprintf("%04d_*.sql", n)), filepath.Join(mig, "spec", fmt.Sprintf("%04d_*.yaml", n)))
	}
	if err := h.checkComplete(dir); err != nil {
		return err
	}
	return h.checkSums(dir)
}

// mysqlFirst is the number of the model's first MySQL migration; 0 for
// none.
func (h *History) mysqlFirst() int {
	first := 0
	for name := range h.Migrations[MySQL] {
		if n := migrationNumber(name); reMigrationName.MatchString(name) && (first == 0 || n < first) {
			first = n
		}
	}
	return first
}

// checkMerged refuses a migration file that holds the markers git leaves
// in a file it could not merge: two branches generated the same migration
// with different content.
func (h *History) checkMerged(dir string) error {
	check := func(rel string, data []byte) error {
		line, text, ok := spec.ConflictMarker(data)
		if !ok {
			return nil
		}
		name := strings.TrimSuffix(strings.TrimSuffix(filepath.Base(rel), ".sql"), ".yaml")
		return fmt.Errorf("%s:%d holds a merge conflict marker (%s): two merged branches each generated migration %s, differently. Keep one branch's files of it for every engine and its spec snapshot (git checkout --ours or --theirs -- %s), or delete them all, then run go generate again: the spec's changes the other branch's held become the next migration",
			filepath.Join(dir, MigrationsDir, filepath.FromSlash(rel)), line, text, name, strings.Join(h.filePaths(dir, name), " "))
	}
	return h.eachFile(check)
}

// eachFile calls f with every migration file (its path under the
// migrations directory) and its content, in order, until f fails.
func (h *History) eachFile(f func(rel string, data []byte) error) error {
	for _, e := range Engines {
		names := make([]string, 0, len(h.Migrations[e]))
		for name := range h.Migrations[e] {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			if err := f(string(e)+"/"+name+".sql", h.Migrations[e][name]); err != nil {
				return err
			}
		}
	}
	names := make([]string, 0, len(h.Specs))
	for name := range h.Specs {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if err := f("spec/"+name+".yaml", h.Specs[name]); err != nil {
			return err
		}
	}
	return nil
}

// checkComplete refuses a migration of a spec change (one with a spec
// snapshot, or one that is none of the framework's) that lacks its spec
// snapshot or one of its engines' files. MySQL, which came after a
// model's first migrations, has those after its own first one.
func (h *History) checkComplete(dir string) error {
	mysqlFirst := h.mysqlFirst()
	var all []string
	for _, e := range Engines {
		for name := range h.Migrations[e] {
			all = append(all, name)
		}
	}
	for name := range h.Specs {
		all = append(all, name)
	}
	last := 0 // the newest number, in any directory
	for _, name := range all {
		if reMigrationName.MatchString(name) {
			last = max(last, migrationNumber(name))
		}
	}
	sort.Strings(all)
	all = slices.Compact(all)
	for _, name := range all {
		if !reMigrationName.MatchString(name) {
			continue
		}
		_, snapshot := h.Specs[name]
		if !snapshot && isFrameworkName(name[5:]) {
			continue
		}
		var missing, here []string
		for _, e := range Engines {
			if e == MySQL && (mysqlFirst == 0 || migrationNumber(name) <= mysqlFirst) {
				continue
			}
			if _, ok := h.Migrations[e][name]; ok {
				here = append(here, h.path(dir, string(e), name))
				continue
			}
			// The engine has another migration under the number: two
			// branches each took it.
			for other := range h.Migrations[e] {
				if other != name && reMigrationName.MatchString(other) && migrationNumber(other) == migrationNumber(name) {
					return h.duplicateError(dir, min(name, other), max(name, other))
				}
			}
			missing = append(missing, h.path(dir, string(e), name))
		}
		if snapshot {
			here = append(here, h.path(dir, "spec", name))
		} else {
			missing = append(missing, h.path(dir, "spec", name))
		}
		if len(missing) == 0 {
			continue
		}
		why := "every engine's databases apply it"
		if !snapshot {
			why = "taskgen writes the next migration over the spec snapshot of the newest"
		}
		msg := fmt.Sprintf("migration %s lacks %s (%s %s the rest): %s, so generating over it would write its change again or leave the databases of an engine without it; restore %s from version control (git checkout -- %s)",
			name, joinAnd(missing), joinAnd(here), pluralOf(len(here), "has", "have"), why, pluralOf(len(missing), "the file", "the files"), strings.Join(missing, " "))
		if migrationNumber(name) == last {
			msg += fmt.Sprintf(". If no database applied the migration and it is to be redone, delete %s too and run go generate again", joinAnd(here))
		}
		return errors.New(msg)
	}
	return nil
}

// path is the file of migration name in the migrations directory's
// subdirectory sub (an engine, or spec) of the package directory dir.
func (h *History) path(dir, sub, name string) string {
	ext := ".sql"
	if sub == "spec" {
		ext = ".yaml"
	}
	return filepath.Join(dir, MigrationsDir, sub, name+ext)
}

// filePaths lists the files migration name has, under the package
// directory dir.
func (h *History) filePaths(dir, name string) []string {
	var out []string
	for _, f := range h.files(name) {
		out = append(out, filepath.Join(dir, MigrationsDir, filepath.FromSlash(f)))
	}
	return out
}

// files lists the files migration name has, in its migrations directory.
func (h *History) files(name string) []string {
	var out []string
	for _, e := range Engines {
		if _, ok := h.Migrations[e][name]; ok {
			out = append(out, string(e)+"/"+name+".sql")
		}
	}
	if _, ok := h.Specs[name]; ok {
		out = append(out, "spec/"+name+".yaml")
	}
	return out
}

func joinAnd(list []string) string {
	if len(list) < 2 {
		return strings.Join(list, "")
	}
	return strings.Join(list[:len(list)-1], ", ") + " and " + list[len(list)-1]
}

func pluralOf(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// skippedWorkerNumber reports whether number n, which no migration has, is
// that of a worker migration of migrationList that a model without a worker
// section skipped when it was generated first: the migrations around it
// are those of migrationList under their own numbers.
func skippedWorkerNumber(n int, present map[int][]string) bool {
	if n > len(migrationList) || !migrationList[n-1].worker {
		return false
	}
	for m := n + 1; m <= len(migrationList); m++ {
		if names, ok := present[m]; ok {
			return slices.Contains(names, migrationList[m-1].name)
		}
	}
	return false
}

// duplicateError is the error of two migrations a and b, a sorting first,
// under one number; dir is the package directory.
func (h *History) duplicateError(dir, a, b string) error {
	return fmt.Errorf("migrations %s and %s have the same number %s (two branches each changed the spec and each got the next migration?); each number is one migration, applied once. Keep the one already applied to a database, if any, and delete the other's files in %s (%s's: %s; or %s's: %s), then run go generate again: the spec's changes that the deleted migration held become the next migration. If databases applied each of them, those that applied the deleted one cannot follow: recreate them if they hold nothing to keep (a developer's or a test database)",
		a, b, a[:4], filepath.Join(dir, MigrationsDir), b, joinAnd(h.files(b)), a, joinAnd(h.files(a)))
}
