package postgres

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/taskmodel/taskmodel/backends"
	"github.com/taskmodel/taskmodel/tasktype"
)

// A migration adds a changed CHECK NOT VALID, so that writers wait only for
// the brief ALTER TABLE, and validates it after the commit. Its data check
// ran before, but a program still running the earlier spec may write a row
// that breaks the new rule in between: a transaction under way while the
// migration started commits before the ALTER TABLE, which waits for it,
// and the check did not see its row. VALIDATE CONSTRAINT then fails.
//
// The program starts anyway, with a warning, and every later start tries
// the validation again. Refusing to start would stop every build at once
// (the earlier build is refused by the newer migration it lacks) until
// someone changes the rows by hand, which the warning asks for too, while
// nothing is gained by waiting: the migration committed, and the
// constraint, unvalidated, still refuses every new row and every change
// that breaks it. Only the rows stored before it are not vouched for, and
// a change of one of them fails (an event, an update, a worker's claim,
// which stalls its pool) until it is fixed; the warning names them: the
// field, the rule, how many rows break it, an example, and the SQL to
// find them. (Checking the rows again under the ALTER TABLE's lock would
// catch such a row, but would hold off writers for a scan of the table,
// which adding the constraint NOT VALID avoids.)

// validations runs the validation statements of the migrations one start
// applies or left unvalidated, and warns once a start of each constraint
// a stored row breaks.
type validations struct {
	warned map[string]bool // table.constraint
}

func newValidations() *validations {
	return &validations{warned: map[string]bool{}}
}

// warn logs u with slog.Default, at level WARN.
func warn(ctx context.Context, u *unvalidated) {
	slog.Default().LogAttrs(ctx, slog.LevelWarn, u.String(),
		slog.String("migration", u.Migration), slog.String("constraint", u.Constraint),
		slog.String("field", u.Subject), slog.String("rule", u.Rule),
		slog.Int64("rows", u.Count), slog.String("example_task", u.Example))
}

// validateStatement returns the table and the constraint of a validation
// statement: ALTER TABLE <table> VALIDATE CONSTRAINT <name>;
func validateStatement(stmt string) (table, constraint string, ok bool) {
	f := strings.Fields(strings.TrimSuffix(strings.TrimSpace(stmt), ";"))
	if len(f) != 6 || !strings.EqualFold(f[0]+" "+f[1], "ALTER TABLE") || !strings.EqualFold(f[3]+" "+f[4], "VALIDATE CONSTRAINT") {
		return "", "", false
	}
	return f[2], f[5], true
}

// run runs stmt, a validation statement of migration m. When stored rows
// break the constraint it warns, and returns nil: the constraint stays
// unvalidated and the next start tries again.
func (v *validations) run(ctx context.Context, conn *pgx.Conn, m tasktype.Migration, checks []tasktype.MigrationCheck, stmt string) error {
	table, constraint, ok := validateStatement(stmt)
	if ok && v.warned[table+"."+constraint] {
		return nil // this start warned of it already
	}
	_, err := conn.Exec(ctx, stmt)
	if err == nil {
		return nil
	}
	var pgErr *pgconn.PgError
	if !ok || !errors.As(err, &pgErr) || pgErr.Code != "23514" { // check_violation
		return fmt.Errorf("postgres: migration %s: %s: %w", m.Name, stmt, err)
	}
	u, err := describe(ctx, conn, m, checks, table, constraint)
	if err != nil {
		return err
	}
	if u.Count == 0 {
		// The rows were changed since: validate again.
		if _, err := conn.Exec(ctx, stmt); err == nil {
			return nil
		}
	}
	v.warned[table+"."+constraint] = true
	warn(ctx, u)
	return nil
}

// unvalidated is a constraint a migration added NOT VALID that stored rows
// break.
type unvalidated struct {
	Migration         string // <model>/<name>
	Table, Constraint string
	// Subject and Rule are those of the migration's data check of the
	// constraint (<table>.<column> and the rule in words); without one,
	// the constraint's name and its expression.
	Subject, Rule string
	// Rows names the rows: "tasks" or "history rows".
	Rows string
	// Count is how many rows break the constraint, Example the smallest
	// id of their tasks ("" when the table has no task id).
	Count   int64
	Example string
	// Expr is the constraint's expression, as PostgreSQL prints it.
	Expr string
}

// describe finds out which rows break the constraint of table named
// constraint: how many, and an example.
func describe(ctx context.Context, conn *pgx.Conn, m tasktype.Migration, checks []tasktype.MigrationCheck, table, constraint string) (*unvalidated, error) {
	u := &unvalidated{Migration: m.Name, Table: table, Constraint: constraint, Subject: constraint}
	var idCol *string
	err := conn.QueryRow(ctx, `SELECT pg_get_expr(c.conbin, c.conrelid),
		(SELECT a.attname::text FROM pg_attribute AS a WHERE a.attrelid = c.conrelid AND a.attname IN ('id', 'task_id') AND NOT a.attisdropped ORDER BY a.attname = 'id' DESC LIMIT 1)
		FROM pg_constraint AS c WHERE c.conrelid = $1::regclass AND c.conname = $2`, table, constraint).Scan(&u.Expr, &idCol)
	if err != nil {
		return nil, fmt.Errorf("postgres: migration %s: constraint %s: %w", m.Name, constraint, err)
	}
	u.Rule = u.Expr
	switch {
	case idCol == nil:
		u.Rows = "rows"
	case *idCol == "id":
		u.Rows = "tasks"
	default:
		u.Rows = "history rows"
	}
	for _, c := range checks {
		t, col, ok := strings.Cut(c.Subject, ".")
		if ok && t == table && backends.CheckName(63, t, col) == constraint {
			u.Subject, u.Rule, u.Rows = c.Subject, c.Rule, c.Rows
			break // the CHECK's own rule comes first; others (a list's items) follow
		}
	}
	id := "NULL"
	if idCol != nil {
		id = "min(" + *idCol + "::text)"
	}
	var example *string
	if err := conn.QueryRow(ctx, fmt.Sprintf("SELECT count(*), %s FROM %s WHERE NOT %s", id, table, u.Expr)).Scan(&u.Count, &example); err != nil {
		return nil, fmt.Errorf("postgres: migration %s: counting the rows that break %s: %w", m.Name, constraint, err)
	}
	if example != nil {
		u.Example = *example
	}
	return u, nil
}

// String is the warning: what is wrong, why the program starts, and what
// to do.
func (u *unvalidated) String() string {
	rows, verb := u.Rows, "break"
	if u.Count == 1 {
		rows, verb = strings.TrimSuffix(rows, "s"), "breaks"
	}
	example := ""
	if u.Example != "" {
		example = fmt.Sprintf(" (for example task %s)", u.Example)
	}
	broken := fmt.Sprintf("%s: %d %s %s the rule %q%s", u.Subject, u.Count, rows, verb, u.Rule, example)
	if u.Count == 0 {
		broken = fmt.Sprintf("stored rows break %s (%s), which its validation found but a count after it did not", u.Constraint, u.Expr)
	}
	stuck := ""
	if u.Rows == "tasks" {
		stuck = ", so events, updates and worker claims of those tasks fail until they are fixed (a worker pool stalls on such a queued task)"
	}
	return fmt.Sprintf("postgres: migration %s is applied, but the constraint %s it added is not validated: %s, most likely written by a program still running the earlier spec while the migration ran. "+
		"This program starts: the constraint refuses every new row and every change that breaks it%s. "+
		"Find them with SELECT * FROM %s WHERE NOT %s; change them to keep the rule, or delete them; the next start validates the constraint (or run ALTER TABLE %s VALIDATE CONSTRAINT %s;)",
		u.Migration, u.Constraint, broken, stuck, u.Table, u.Expr, u.Table, u.Constraint)
}
