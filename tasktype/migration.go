package tasktype

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The markers that split a generated migration into its parts. A line that
// starts with one of them begins a part; text before any marker belongs to
// the body.
const (
	// MarkerCheck begins a data check: "-- taskmodel:check SUBJECT | RULE | ROWS"
	// followed by a query that returns how many rows break the rule and one
	// example task id.
	MarkerCheck = "-- taskmodel:check "
	// MarkerMigrate begins the body: the statements that change the schema.
	MarkerMigrate = "-- taskmodel:migrate"
	// MarkerValidate begins the validation statements, one a line, that a
	// backend runs after the body committed, each in its own transaction.
	MarkerValidate = "-- taskmodel:validate"
)

// MigrationCheck is a data check a migration runs before it changes
// anything: when a stored row breaks the rule the migration brings in, the
// migration is refused and the database stays as it was.
type MigrationCheck struct {
	// Subject is what the rule applies to: "<table>.<column>".
	Subject string
	// Rule says what the migration will allow, in words.
	Rule string
	// Rows names what Query counts: "tasks" or "history rows".
	Rows string
	// Query returns the number of rows that break the rule and the
	// smallest id of their tasks (NULL when none does).
	Query string
}

// MigrationParts are the parts of a migration a backend runs apart.
type MigrationParts struct {
	Checks []MigrationCheck
	// Body is run in one transaction, after the checks and in the same
	// transaction as they are.
	Body string
	// Validate are statements run after Body committed, each in its own
	// transaction (PostgreSQL's VALIDATE CONSTRAINT of a CHECK added NOT
	// VALID, so that writers are not blocked while a table is scanned).
	Validate []string
}

// Parts splits the migration's SQL at its markers. A migration without
// markers is a body.
func (m Migration) Parts() (MigrationParts, error) {
	var (
		p     MigrationParts
		body  strings.Builder
		check *MigrationCheck
		part  = "body"
	)
	flush := func() {
		if check != nil {
			check.Query = strings.TrimSpace(check.Query)
			p.Checks = append(p.Checks, *check)
			check = nil
		}
	}
	for _, line := range strings.SplitAfter(m.SQL, "\n") {
		switch trimmed := strings.TrimRight(line, "\r\n"); {
		case strings.HasPrefix(trimmed, MarkerCheck):
			flush()
			fields := strings.Split(strings.TrimPrefix(trimmed, MarkerCheck), " | ")
			if len(fields) != 3 {
				return MigrationParts{}, fmt.Errorf("migration %s: a check marker is %q followed by SUBJECT | RULE | ROWS: %q", m.Name, MarkerCheck, trimmed)
			}
			check, part = &MigrationCheck{Subject: fields[0], Rule: fields[1], Rows: fields[2]}, "check"
		case trimmed == MarkerMigrate:
			flush()
			part = "body"
		case trimmed == MarkerValidate:
			flush()
			part = "validate"
		case part == "check":
			check.Query += line
		case part == "validate":
			if s := strings.TrimSpace(trimmed); s != "" && !strings.HasPrefix(s, "--") {
				p.Validate = append(p.Validate, s)
			}
		default:
			body.WriteString(line)
		}
	}
	flush()
	p.Body = body.String()
	return p, nil
}

// MigrationRefusedError is the error of a migration whose data checks found
// stored rows that break its new rules; the database was left unchanged.
// Check, Count and Example are the first broken rule's; Broken lists every
// one, the first included, in the migration's order (a backend runs all
// the checks, which only read, so that one run names every rule to fix).
type MigrationRefusedError struct {
	Migration string // <model>/<name>
	Check     MigrationCheck
	Count     int64
	Example   string // the smallest id of a task that breaks the rule
	// Broken is every broken rule; nil or one entry when only the first
	// is known.
	Broken []BrokenCheck
	// Before are the migrations (<model>/<name>) the same run applied
	// before this one was refused, in order: they stay applied, and the
	// database stays at the last of them. None when the refused migration
	// was the first the run had to apply: the database is unchanged.
	Before []string
}

// BrokenCheck is a data check that stored rows break: how many, and the
// smallest id of their tasks.
type BrokenCheck struct {
	Check   MigrationCheck
	Count   int64
	Example string
}

// RefuseMigration is the error of migration name whose data checks found
// broken: nil when it is empty.
func RefuseMigration(name string, broken []BrokenCheck) error {
	if len(broken) == 0 {
		return nil
	}
	first := broken[0]
	return &MigrationRefusedError{Migration: name, Check: first.Check, Count: first.Count, Example: first.Example, Broken: broken}
}

func (e *MigrationRefusedError) Error() string {
	broken := e.Broken
	if len(broken) == 0 {
		broken = []BrokenCheck{{Check: e.Check, Count: e.Count, Example: e.Example}}
	}
	what := make([]string, len(broken))
	for i, b := range broken {
		what[i] = b.text()
	}
	rules := what[0]
	if len(what) > 1 {
		rules = fmt.Sprintf("%d rules are broken: %s", len(what), strings.Join(what, "; "))
	}
	state := "the database is unchanged"
	switch n := len(e.Before); {
	case n == 1:
		state = fmt.Sprintf("it changed nothing, and the database stays at migration %s, which this start applied before it", e.Before[0])
	case n > 1:
		state = fmt.Sprintf("it changed nothing, and the database stays at migration %s: this start applied %s before it", e.Before[n-1], strings.Join(e.Before, ", "))
	}
	// A refused migration was applied nowhere it was refused: a spec
	// fixed and generated again would only add a migration after it,
	// which would never run.
	_, name, _ := strings.Cut(e.Migration, "/")
	return fmt.Sprintf("migration %s refused: %s; %s. Fix the rows and start again, or fix the spec: a migration generated after this one would never run, so first delete this one's files (%s, in the model's generated package) if it is the model's newest and no database applied it, then run go generate",
		e.Migration, rules, state, migrationFiles(name))
}

// migrationFiles names the files of a spec change's migration in its
// model's package: each engine's SQL and the spec snapshot.
func migrationFiles(name string) string {
	return fmt.Sprintf("migrations/sqlite/%[1]s.sql, migrations/postgresql/%[1]s.sql, migrations/mysql/%[1]s.sql and migrations/spec/%[1]s.yaml", name)
}

// RefusedAfter returns err with before, the migrations the run applied
// before it, recorded when err is a *MigrationRefusedError; err otherwise.
func RefusedAfter(err error, before []string) error {
	var r *MigrationRefusedError
	if errors.As(err, &r) && len(before) > 0 {
		r.Before = slices.Clone(before)
	}
	return err
}

// text says which rule is broken, by how many rows, and names an example.
func (b BrokenCheck) text() string {
	rows, verb := b.Check.Rows, "break"
	if b.Count == 1 {
		rows, verb = strings.TrimSuffix(rows, "s"), "breaks"
	}
	return fmt.Sprintf("%s: %d %s %s the rule %q (for example task %s)", b.Check.Subject, b.Count, rows, verb, b.Check.Rule, b.Example)
}

// AppliedMigration is a migration a database has applied, as its
// bookkeeping table (taskmodel_migrations) records it.
type AppliedMigration struct {
	Name     string // <model>/<name>
	Checksum string // Migration.Checksum of the SQL that was applied
	// AppliedAt is when it was applied; zero when the database did not
	// record it.
	AppliedAt time.Time
}

// UnknownMigrationError is the error of a database that has applied
// migrations of a model this program does not know: it was migrated by a
// newer version of the model's spec.
type UnknownMigrationError struct {
	Model string
	// Database is the newest migration the database has applied, and
	// Program the newest this program knows.
	Database, Program string
	// Statements, when not 0, tells that the database applied Database
	// in part (MySQL and MariaDB, which commit each schema change as it
	// runs): a start of a build that has it applied its first Statements
	// statements, which stay applied, and then failed with Failure (the
	// failed statement's error) or, when Failure is empty, was stopped.
	// That build resumes the migration at statement Statements+1.
	Statements int
	Failure    string
}

func (e *UnknownMigrationError) Error() string {
	if e.Statements > 0 {
		where := fmt.Sprintf("newer than this program, whose spec of %s ends at %s", e.Model, e.Program)
		if number(e.Database) <= number(e.Program) {
			where = fmt.Sprintf("which this program does not have (its migrations of %s go on to %s)", e.Model, e.Program)
		}
		return fmt.Sprintf("the database is part way through migration %s of model %s, %s: a start of a build that has it %s; this program does not know the schema they changed. Run a build that has %s, which %s",
			e.Database, e.Model, where, e.PartText(), e.Database, e.ResumeText())
	}
	return fmt.Sprintf("the database is at migration %s of model %s, newer than this program, whose spec of %s ends at %s: run a build of the newer spec", e.Database, e.Model, e.Model, e.Program)
}

// PartText says what the start that applied Database in part left, as
// "applied its statements 1 to N, which stay applied (…), and then …":
// the statements that stay applied, and how the start ended. Empty when
// Database was applied whole.
func (e *UnknownMigrationError) PartText() string {
	if e.Statements <= 0 {
		return ""
	}
	applied := "its statement 1, which stays"
	if e.Statements > 1 {
		applied = fmt.Sprintf("its statements 1 to %d, which stay", e.Statements)
	}
	end := "then it was stopped"
	if e.Failure != "" {
		end = "then a statement failed: " + e.Failure
	}
	return fmt.Sprintf("applied %s applied (MySQL and MariaDB commit each schema change as it runs), and %s", applied, end)
}

// ResumeText says what the build that has Database does with it next:
// "resumes the migration at statement N", once the cause of its failure
// is fixed if it failed.
func (e *UnknownMigrationError) ResumeText() string {
	s := fmt.Sprintf("resumes the migration at statement %d", e.Statements+1)
	if e.Failure != "" {
		s += " once the cause of the failure is fixed"
	}
	return s
}

// ChangedMigrationError is the error of a database that applied a
// migration with SQL other than the program's.
type ChangedMigrationError struct {
	Migration string
	// Applied is the checksum the database recorded, Program the checksum
	// of the program's SQL.
	Applied, Program string
}

func (e *ChangedMigrationError) Error() string {
	return fmt.Sprintf("migration %s was applied with different SQL (checksum %.12s, this program's %.12s); applied migrations are never rewritten: run the program that applied it, or restore the migration's file",
		e.Migration, e.Applied, e.Program)
}

// PendingMigrations returns, in order, the migrations of migrations that
// applied (a database's: AppliedMigrations of the backend's package) does
// not hold: those opening the database would apply. With CheckApplied
// (refusals) and Migration.Parts (the SQL, the data checks), a program
// that keeps tasks of its own models can show its database's migration
// status or preview the pending SQL before it opens the database.
func PendingMigrations(migrations []Migration, applied []AppliedMigration) []Migration {
	done := make(map[string]bool, len(applied))
	for _, a := range applied {
		done[a.Name] = true
	}
	var out []Migration
	for _, m := range migrations {
		if !done[m.Name] {
			out = append(out, m)
		}
	}
	return out
}

// CheckApplied compares what a database applied (checksums by migration
// name) with migrations: it fails with a *ChangedMigrationError when a
// migration was applied with other SQL, and with an *UnknownMigrationError
// when a model of migrations has a migration applied that migrations does
// not list (a newer spec of the model migrated the database).
//
// It first refuses migrations whose numbering is broken, whatever the
// database applied: two migrations of a model under one number
// (*DuplicateMigrationError) or a migration generated from the spec of one
// that migrations lacks (*MissingMigrationError). A model's migration that
// the database applied and migrations lacks, while migrations has later
// ones, is a *MissingMigrationError too.
func CheckApplied(migrations []Migration, applied map[string]string) error {
	if err := CheckNumbering(migrations); err != nil {
		return err
	}
	for _, m := range migrations {
		if sum, ok := applied[m.Name]; ok && sum != m.Checksum() {
			return &ChangedMigrationError{Migration: m.Name, Applied: sum, Program: m.Checksum()}
		}
	}
	known := map[string]bool{}
	last := map[string]string{}
	for _, m := range migrations {
		known[m.Name] = true
		model, _, _ := strings.Cut(m.Name, "/")
		last[model] = max(last[model], m.Name)
	}
	newest := map[string]string{}
	var missing []string
	for name := range applied {
		model, _, _ := strings.Cut(name, "/")
		if _, ok := last[model]; !ok || known[name] {
			continue
		}
		if number(name) <= number(last[model]) {
			missing = append(missing, name)
		}
		newest[model] = max(newest[model], name)
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		model, name, _ := strings.Cut(missing[0], "/")
		err := &MissingMigrationError{Model: model, Migration: name, Program: strings.TrimPrefix(last[model], model+"/"), Applied: true}
		for _, m := range migrations {
			if n, ok := strings.CutPrefix(m.Name, model+"/"); ok && number(m.Name) == number(missing[0]) {
				err.Same = n
			}
		}
		return err
	}
	models := make([]string, 0, len(newest))
	for model := range newest {
		models = append(models, model)
	}
	if len(models) == 0 {
		return nil
	}
	slices.Sort(models)
	model := models[0]
	return &UnknownMigrationError{Model: model, Database: strings.TrimPrefix(newest[model], model+"/"), Program: strings.TrimPrefix(last[model], model+"/")}
}

// DuplicateMigrationError is the error of a program whose migrations of a
// model have two under one number, as when two branches each generated
// the next migration and both were merged: the later one would make the
// same change again, or one would be skipped.
type DuplicateMigrationError struct {
	Model string
	// Migrations are the two names (without the model), in order.
	Migrations [2]string
}

func (e *DuplicateMigrationError) Error() string {
	a, b := e.Migrations[0], e.Migrations[1]
	return fmt.Sprintf("this program's migrations of model %s are broken: %s and %s have the same number %s (two branches each generated one?), so none is applied; keep the one a database has applied, if any, delete the other's files in the model's generated package (%s's: %s; or %s's: %s), run go generate and build again",
		e.Model, a, b, a[:min(4, len(a))], b, migrationFiles(b), a, migrationFiles(a))
}

// MissingMigrationError is the error of a migration of a model that this
// program lacks although it has later ones: the migration was deleted
// from the program. Applied tells that the database applied it; otherwise
// Needed, a migration of the program, was generated from its spec.
type MissingMigrationError struct {
	Model string
	// Migration is the missing migration's name (without the model), and
	// Program the newest this program knows.
	Migration, Program string
	// Applied is set when the database applied the missing migration.
	Applied bool
	// Same is this program's migration under the missing one's number,
	// if any.
	Same string
	// Needed is the program's migration generated from the missing
	// one's spec, when the database did not apply it.
	Needed string
}

func (e *MissingMigrationError) Error() string {
	fix := "restore its files from version control (a migration is never deleted once others follow it), run go generate and build again"
	if !e.Applied {
		return fmt.Sprintf("this program's migrations of model %s are broken: they lack migration %s, from whose spec %s was generated, so none is applied: %s", e.Model, e.Migration, e.Needed, fix)
	}
	if e.Same != "" {
		// Another migration took the number: restoring the files would
		// put two under it.
		return fmt.Sprintf("the database has applied migration %s of model %s, which this program does not have: it has %s under that number instead (two merged branches each generated a migration under it, or the migration was generated again after this database applied it); nothing is applied. A database that applied %s cannot follow this program's migrations: recreate it if it holds nothing to keep (a developer's or a test database), or run a build that has %s",
			e.Migration, e.Model, e.Same, e.Migration, e.Migration)
	}
	return fmt.Sprintf("the database has applied migration %s of model %s, which this program does not have although its migrations of %s go on to %s; nothing is applied: %s",
		e.Migration, e.Model, e.Model, e.Program, fix)
}

// number is the number a migration's name (<model>/NNNN_slug, or
// NNNN_slug) starts with; -1 when it has none.
func number(name string) int {
	if i := strings.IndexByte(name, '/'); i >= 0 {
		name = name[i+1:]
	}
	n, err := strconv.Atoi(name[:min(4, len(name))])
	if err != nil || len(name) < 5 || name[4] != '_' {
		return -1
	}
	return n
}

// fromSpecMarker starts the line of a generated migration's header that
// names the migration whose spec snapshot it was generated from:
// "-- from the spec of 0009_x to migrations/spec/0012_y.yaml:".
const fromSpecMarker = "-- from the spec of "

// CheckNumbering checks that migrations, each model's in order, have no
// two under one number (*DuplicateMigrationError) and lack none that a
// later one was generated from (*MissingMigrationError): a program built
// from a broken migrations directory is refused before it applies
// anything. (A model's numbering may skip numbers of one engine: those of
// the migrations of other engines, or of a worker section the model does
// not have.)
func CheckNumbering(migrations []Migration) error {
	known := map[string]bool{}
	first := map[string]int{}
	byNumber := map[string]string{} // <model>/NNNN: name
	for _, m := range migrations {
		known[m.Name] = true
		model, name, _ := strings.Cut(m.Name, "/")
		n := number(m.Name)
		if n < 0 {
			continue
		}
		if _, ok := first[model]; !ok {
			first[model] = n
		}
		key := model + "/" + name[:4]
		if other, ok := byNumber[key]; ok {
			pair := [2]string{other, name}
			slices.Sort(pair[:])
			return &DuplicateMigrationError{Model: model, Migrations: pair}
		}
		byNumber[key] = name
	}
	for _, m := range migrations {
		model, name, _ := strings.Cut(m.Name, "/")
		i := strings.Index(m.SQL, "\n"+fromSpecMarker)
		if i < 0 {
			continue
		}
		from, _, _ := strings.Cut(m.SQL[i+1+len(fromSpecMarker):], " ")
		if n := number(from); n < 0 || n < first[model] || known[model+"/"+from] {
			continue // the model's first migration of the engine comes after it (MySQL's schema)
		}
		last := ""
		for _, o := range migrations {
			if n, ok := strings.CutPrefix(o.Name, model+"/"); ok {
				last = max(last, n)
			}
		}
		return &MissingMigrationError{Model: model, Migration: from, Program: last, Needed: name}
	}
	return nil
}
