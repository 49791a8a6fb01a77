package tasktype

import (
	"fmt"
	"slices"
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
	if len(what) == 1 {
		return fmt.Sprintf("migration %s refused: %s; the database is unchanged", e.Migration, what[0])
	}
	return fmt.Sprintf("migration %s refused: %d rules are broken: %s; the database is unchanged", e.Migration, len(what), strings.Join(what, "; "))
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
}

func (e *UnknownMigrationError) Error() string {
	return fmt.Sprintf("the database is at migration %s of model %s, newer than this program, whose spec of %s ends at %s: run a build of the newer spec", e.Database, e.Model, e.Model, e.Program)
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

// CheckApplied compares what a database applied (checksums by migration
// name) with migrations: it fails with a *ChangedMigrationError when a
// migration was applied with other SQL, and with an *UnknownMigrationError
// when a model of migrations has a migration applied that migrations does
// not list (a newer spec of the model migrated the database).
func CheckApplied(migrations []Migration, applied map[string]string) error {
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
	for name := range applied {
		model, _, _ := strings.Cut(name, "/")
		if _, ok := last[model]; ok && !known[name] {
			newest[model] = max(newest[model], name)
		}
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
