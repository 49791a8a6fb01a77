package mysql

import (
	"context"
	"database/sql"
	_ "embed"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/taskmodel/taskmodel/tasktype"
)

// tablesSQL creates the bookkeeping tables: migrations, their progress, leases.
//
//go:embed sql/tables.sql
var tablesSQL string

// migrationLock is the name of the lock migrations hold, GET_LOCK's: one
// per database (the names are the server's, shared by its databases).
const migrationLock = `CONCAT('taskmodel:', SHA1(DATABASE()))`

// Migrate applies the migrations not applied yet, holding a named lock
// (GET_LOCK) so that processes starting at once take turns, and fails if
// an applied migration's SQL has changed since, or if the database has
// applied a migration of one of the models that migrations does not know
// (a newer spec migrated it). A migration's data checks run first, and one
// that finds rows breaking its rule refuses it
// (*tasktype.MigrationRefusedError), changing nothing itself. Migrations
// whose numbering is broken (tasktype.CheckNumbering) are refused before
// any is applied.
//
// MySQL and MariaDB commit each schema change (CREATE, ALTER, DROP) as it
// runs: a migration is not one transaction. Migrate runs its statements
// one by one and records after each how many have run
// (taskmodel_migration_progress), so that a process killed part way
// resumes after them. A failed statement's error names the migration, the
// statement and those left applied; the migration is not recorded as
// applied, and the next start resumes it at the failed statement, so a
// cause outside the migration (a stored row, a full disk) can be fixed and
// the program started again. (A process killed between a statement and
// its record runs that statement again at the next start.) Data
// statements (INSERT, UPDATE, DELETE, REPLACE) right before a failed
// statement run again before it, at once while they change rows (up to
// healTries times) and at the next start: a program still running the
// earlier version may have written rows since they ran that make it fail,
// as a task written in a retired status after the moves makes the ALTER
// TABLE that narrows the status CHECK fail. Session
// statements (SET @…, PREPARE, EXECUTE, DEALLOCATE PREPARE), with which a
// migration builds a statement from what the database holds, and the
// statement after them need the session that ran the ones before: a start
// resumes at the first of such a run, which must be one that can run
// twice. If the migration's SQL changed in between, Migrate refuses to
// guess which statements still apply and says so. A program whose
// migrations lack such a migration of one of their models (the build
// before, rolled back to while a newer build's migration is part way) is
// refused as after a completed newer migration, with a
// *tasktype.UnknownMigrationError whose Statements says how many stay
// applied: the schema is no longer the one its spec ends at.
func Migrate(ctx context.Context, db *sql.DB, migrations []tasktype.Migration) error {
	return MigrateReport(ctx, db, migrations, nil)
}

// MigrateReport is Migrate calling report, when not nil, after each
// migration it applied itself (not those applied before, by it or another
// process), with the time the migration took.
func MigrateReport(ctx context.Context, db *sql.DB, migrations []tasktype.Migration, report func(m tasktype.Migration, took time.Duration)) (err error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("mysql: %w", err)
	}
	defer conn.Close()
	if err := lock(ctx, conn); err != nil {
		return err
	}
	defer func() {
		// A connection closed while holding the lock releases it too.
		if _, uerr := conn.ExecContext(context.WithoutCancel(ctx), `DO RELEASE_LOCK(`+migrationLock+`)`); uerr != nil && err == nil {
			err = fmt.Errorf("mysql: migration lock: %w", uerr)
		}
	}()
	if err := createTables(ctx, conn); err != nil {
		return err
	}
	applied, err := appliedOn(ctx, conn)
	if err != nil {
		return err
	}
	err = tasktype.CheckApplied(migrations, applied)
	var unknown *tasktype.UnknownMigrationError
	if err == nil || errors.As(err, &unknown) {
		// A newer migration applied in part says more than one applied
		// whole before it: the build that has it resumes it.
		if perr := partlyApplied(ctx, conn, migrations); perr != nil {
			return perr
		}
	}
	if err != nil {
		return err
	}
	var now []string // applied by this run: a refusal after them says so
	for _, m := range migrations {
		if _, ok := applied[m.Name]; ok {
			continue // CheckApplied compared its checksum
		}
		start := time.Now()
		if err := apply(ctx, conn, m); err != nil {
			return tasktype.RefusedAfter(err, now)
		}
		now = append(now, m.Name)
		if report != nil {
			report(m, time.Since(start))
		}
	}
	return nil
}

// lock takes the migration lock, waiting for as long as ctx allows.
func lock(ctx context.Context, conn *sql.Conn) error {
	for {
		var got sql.NullInt64
		// MariaDB takes no negative (endless) timeout: wait in turns.
		if err := conn.QueryRowContext(ctx, `SELECT GET_LOCK(`+migrationLock+`, 10)`).Scan(&got); err != nil {
			return fmt.Errorf("mysql: migration lock: %w", err)
		}
		if got.Valid && got.Int64 == 1 {
			return nil
		}
		if !got.Valid {
			return errors.New("mysql: migration lock: GET_LOCK failed")
		}
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("mysql: migration lock: %w", err)
		}
	}
}

// partlyApplied returns the error of a database part way through a
// migration of one of migrations' models that migrations lacks (a
// *tasktype.UnknownMigrationError with Statements set): a start of a newer
// build applied some of its statements and failed or was stopped, as
// taskmodel_migration_progress records. The statements it applied stay
// (MySQL commits each schema change as it runs), so the database no
// longer has the schema of migrations' last one, although
// taskmodel_migrations says so: a program of the earlier spec would start
// and fail on its writes (a NOT NULL column it does not know of). Nil when
// there is no such migration, or when it failed at its first statement
// and nothing of it stays applied.
func partlyApplied(ctx context.Context, conn *sql.Conn, migrations []tasktype.Migration) error {
	progress, err := progressRows(ctx, conn)
	if err != nil {
		return err
	}
	return PartlyAppliedRefusal(migrations, progress)
}

// MigrationProgress is a migration that a start began and did not
// complete, as taskmodel_migration_progress records it: on MySQL and
// MariaDB the statements a migration ran stay applied when a later one
// fails or the process stops.
type MigrationProgress struct {
	Name     string // <model>/<name>
	Checksum string // Migration.Checksum of the SQL the statements came from
	// Statements is how many of its statements stay applied: the next
	// start resumes at statement Statements+1. 0 when the last start
	// failed before any of them stayed applied.
	Statements int
	// At is when the record was last written (UTC): after the last
	// statement that stays applied, or when a statement failed.
	At time.Time
	// Failure is the failed statement's error, as error messages quote it
	// (its first line). Empty when no failure was recorded: the start was
	// stopped (killed, its connection cut), or it is still running.
	Failure string
}

// MigrationsInProgress returns, in name order, the migrations a start
// began and did not complete (taskmodel_migration_progress), with how
// many of their statements stay applied. Like AppliedMigrations it writes
// nothing: a database never migrated (without the table) has none.
func MigrationsInProgress(ctx context.Context, db *sql.DB) ([]MigrationProgress, error) {
	var n int
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM information_schema.tables
		WHERE table_schema = DATABASE() AND table_name = 'taskmodel_migration_progress'`).Scan(&n); err != nil {
		return nil, fmt.Errorf("mysql: %w", err)
	}
	if n == 0 {
		return nil, nil
	}
	return progressRows(ctx, db)
}

func progressRows(ctx context.Context, q interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}) ([]MigrationProgress, error) {
	rows, err := q.QueryContext(ctx, `SELECT name, checksum, statements, failed_at, error FROM taskmodel_migration_progress ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("mysql: %w", err)
	}
	defer rows.Close()
	var out []MigrationProgress
	for rows.Next() {
		var p MigrationProgress
		var at sql.NullTime
		if err := rows.Scan(&p.Name, &p.Checksum, &p.Statements, &at, &p.Failure); err != nil {
			return nil, fmt.Errorf("mysql: %w", err)
		}
		p.At, p.Failure = at.Time.UTC(), failureText(p.Failure)
		out = append(out, p)
	}
	return out, rows.Err()
}

// PartlyAppliedRefusal returns the error with which Migrate refuses
// migrations, before it applies any, on a database whose migrations in
// progress are progress (MigrationsInProgress): a
// *tasktype.UnknownMigrationError with Statements set for a migration of
// one of migrations' models that migrations lacks and that has statements
// applied. Nil when there is none: a migration of another model, or one
// that failed at its first statement, does not stop the program; a
// migration it has is resumed, or refused when applied in part from other
// SQL (*PartlyAppliedError) once Migrate comes to it.
func PartlyAppliedRefusal(migrations []tasktype.Migration, progress []MigrationProgress) error {
	known := map[string]bool{}
	last := map[string]string{}
	for _, m := range migrations {
		known[m.Name] = true
		model, _, _ := strings.Cut(m.Name, "/")
		last[model] = max(last[model], m.Name)
	}
	for _, p := range progress {
		model, short, _ := strings.Cut(p.Name, "/")
		if _, ok := last[model]; !ok || known[p.Name] || p.Statements <= 0 {
			continue // another program's model, one this program resumes, or nothing applied
		}
		return &tasktype.UnknownMigrationError{Model: model, Database: short, Program: strings.TrimPrefix(last[model], model+"/"),
			Statements: p.Statements, Failure: p.Failure}
	}
	return nil
}

// MigrationLockHeld reports whether a process holds the migration lock of
// db's database now: it is applying migrations (or about to). It writes
// nothing and does not wait.
func MigrationLockHeld(ctx context.Context, db *sql.DB) (bool, error) {
	var holder sql.NullInt64
	if err := db.QueryRowContext(ctx, `SELECT IS_USED_LOCK(`+migrationLock+`)`).Scan(&holder); err != nil {
		return false, fmt.Errorf("mysql: migration lock: %w", err)
	}
	return holder.Valid, nil
}

// Statements returns the statements Migrate runs of m, one by one, in
// order (its messages and taskmodel_migration_progress number them from
// 1): its body's, then its validation statements'.
func Statements(m tasktype.Migration) ([]string, error) {
	parts, err := m.Parts()
	if err != nil {
		return nil, err
	}
	// MySQL has no constraint added unvalidated: a validation statement
	// would be a generator's mistake, but runs as one more statement.
	stmts, err := SplitStatements(parts.Body)
	if err != nil {
		return nil, fmt.Errorf("mysql: migration %s: %w", m.Name, err)
	}
	for _, v := range parts.Validate {
		more, err := SplitStatements(v)
		if err != nil {
			return nil, fmt.Errorf("mysql: migration %s: %w", m.Name, err)
		}
		stmts = append(stmts, more...)
	}
	return stmts, nil
}

// failureText is a recorded statement error as an error message quotes
// it: its first line, at most 500 bytes.
func failureText(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	if len(s) > 500 {
		s = strings.ToValidUTF8(s[:500], "") + "…"
	}
	return s
}

func createTables(ctx context.Context, conn *sql.Conn) error {
	stmts, err := SplitStatements(tablesSQL)
	if err != nil {
		return fmt.Errorf("mysql: %w", err)
	}
	for _, s := range stmts {
		if _, err := conn.ExecContext(ctx, s); err != nil {
			return fmt.Errorf("mysql: %w", err)
		}
	}
	return nil
}

// Applied returns the migrations the database has applied, by name, with
// their checksums.
func Applied(ctx context.Context, db *sql.DB) (map[string]string, error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("mysql: %w", err)
	}
	defer conn.Close()
	if err := createTables(ctx, conn); err != nil {
		return nil, err
	}
	return appliedOn(ctx, conn)
}

func appliedOn(ctx context.Context, conn *sql.Conn) (map[string]string, error) {
	rows, err := conn.QueryContext(ctx, `SELECT name, checksum FROM taskmodel_migrations`)
	if err != nil {
		return nil, fmt.Errorf("mysql: %w", err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var name, sum string
		if err := rows.Scan(&name, &sum); err != nil {
			return nil, fmt.Errorf("mysql: %w", err)
		}
		out[name] = sum
	}
	return out, rows.Err()
}

// AppliedMigrations returns the migrations the database has applied, in
// name order, with when each was applied. Unlike Migrate and Applied it
// writes nothing (it also works on a read-only connection or transaction): a
// database never migrated (without the bookkeeping table) has applied none.
func AppliedMigrations(ctx context.Context, db *sql.DB) ([]tasktype.AppliedMigration, error) {
	var n int
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM information_schema.tables
		WHERE table_schema = DATABASE() AND table_name = 'taskmodel_migrations'`).Scan(&n); err != nil {
		return nil, fmt.Errorf("mysql: %w", err)
	}
	if n == 0 {
		return nil, nil
	}
	rows, err := db.QueryContext(ctx, `SELECT name, checksum, applied_at FROM taskmodel_migrations ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("mysql: %w", err)
	}
	defer rows.Close()
	var out []tasktype.AppliedMigration
	for rows.Next() {
		var a tasktype.AppliedMigration
		var at sql.NullTime
		if err := rows.Scan(&a.Name, &a.Checksum, &at); err != nil {
			return nil, fmt.Errorf("mysql: %w", err)
		}
		a.AppliedAt = at.Time.UTC()
		out = append(out, a)
	}
	return out, rows.Err()
}

// apply applies m: its checks, then its statements one by one from where
// a failed start left it, then its record.
func apply(ctx context.Context, conn *sql.Conn, m tasktype.Migration) error {
	parts, err := m.Parts()
	if err != nil {
		return err
	}
	stmts, err := Statements(m)
	if err != nil {
		return err
	}
	sum := m.Checksum()
	done, err := progress(ctx, conn, m, sum, len(stmts))
	if err != nil {
		return err
	}
	if done == 0 {
		var broken []tasktype.BrokenCheck
		for _, c := range parts.Checks {
			var n int64
			var example sql.NullString
			if err := conn.QueryRowContext(ctx, c.Query).Scan(&n, &example); err != nil {
				return fmt.Errorf("mysql: migration %s: check of %s: %w", m.Name, c.Subject, err)
			}
			if n > 0 {
				broken = append(broken, tasktype.BrokenCheck{Check: c, Count: n, Example: example.String})
			}
		}
		if err := tasktype.RefuseMigration(m.Name, broken); err != nil {
			return err
		}
	}
	// A statement after a session statement may need the session it set
	// up: it continues the run, and a start resumes at the run's first.
	continues := func(i int) bool {
		return i > 0 && sessionStatement(stmts[i-1])
	}
	for i := done; i < len(stmts); i++ {
		_, err := conn.ExecContext(ctx, stmts[i])
		for try := 0; err != nil && try < healTries && healed(ctx, conn, stmts, i); try++ {
			_, err = conn.ExecContext(ctx, stmts[i])
		}
		if err != nil {
			return failed(ctx, conn, m, sum, stmts, i, rerunFrom(stmts, i), err)
		}
		if i+1 < len(stmts) && !continues(i+1) {
			// A process stopped here (killed, its connection cut) resumes
			// after this statement; the last one is followed by the record.
			if err := advanced(ctx, conn, m, sum, i+1); err != nil {
				return err
			}
		}
		afterStatement(m.Name, i+1)
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("mysql: migration %s: %w", m.Name, err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `INSERT INTO taskmodel_migrations (name, checksum, applied_at) VALUES (?, ?, UTC_TIMESTAMP(6))`, m.Name, sum); err != nil {
		return fmt.Errorf("mysql: migration %s: %w", m.Name, err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM taskmodel_migration_progress WHERE name = ?`, m.Name); err != nil {
		return fmt.Errorf("mysql: migration %s: %w", m.Name, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("mysql: migration %s: %w", m.Name, err)
	}
	return nil
}

// progress returns how many of m's statements an earlier, failed start
// applied (0 when none did).
func progress(ctx context.Context, conn *sql.Conn, m tasktype.Migration, sum string, total int) (int, error) {
	var done int
	var was string
	err := conn.QueryRowContext(ctx, `SELECT statements, checksum FROM taskmodel_migration_progress WHERE name = ?`, m.Name).Scan(&done, &was)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return 0, nil
	case err != nil:
		return 0, fmt.Errorf("mysql: migration %s: %w", m.Name, err)
	case was != sum && done > 0:
		return 0, &PartlyAppliedError{Migration: m.Name, Statements: done, Applied: was, Program: sum}
	case done > total:
		return 0, fmt.Errorf("mysql: migration %s: %d statements were applied, but it has %d", m.Name, done, total)
	}
	return done, nil
}

// afterStatement is called after each statement a migration applied (tests
// stop a migration there, as a killed process would).
var afterStatement = func(migration string, statements int) {}

// healTries is how many times a failed statement runs again in the same
// start, each time after the data statements before it changed rows.
var healTries = 3

// healed runs again the data statements (INSERT, UPDATE, DELETE, REPLACE)
// right before statement i, which failed, and reports whether they changed
// rows, so that statement i may now succeed. A migration that retires a
// status moves the status's tasks (their history rows, then an UPDATE) and
// then narrows the status CHECK: a program still running the earlier spec
// may write a task in the retired status in between, and the ALTER TABLE
// fails on it. Moving the tasks again moves that one too. A failed
// statement with no data statements right before it, or whose data
// statements change nothing, fails as it did.
func healed(ctx context.Context, conn *sql.Conn, stmts []string, i int) bool {
	from := rerunFrom(stmts, i)
	if from == i {
		return false
	}
	for _, s := range stmts[from:i] {
		if !dataStatement(s) {
			return false // a run of session statements: the next start runs it
		}
	}
	var changed int64
	for _, s := range stmts[from:i] {
		res, err := conn.ExecContext(ctx, s)
		if err != nil {
			return false
		}
		if n, err := res.RowsAffected(); err == nil {
			changed += n
		}
	}
	return changed > 0
}

// rerunFrom returns the statement a start after statement i failed resumes
// at: i, or the first of the statements right before it that are session
// statements (which statement i may need in the same session) or data
// statements (whose rows a program still running the earlier version may
// have changed since they ran, which may be why statement i failed).
// Migrations write both so that they can run twice.
func rerunFrom(stmts []string, i int) int {
	for i > 0 && (sessionStatement(stmts[i-1]) || dataStatement(stmts[i-1])) {
		i--
	}
	return i
}

// dataStatement reports whether a statement changes rows only: INSERT,
// UPDATE, DELETE or REPLACE.
func dataStatement(stmt string) bool {
	words := strings.Fields(strings.ToUpper(executableText(stmt)))
	if len(words) == 0 {
		return false
	}
	switch words[0] {
	case "INSERT", "UPDATE", "DELETE", "REPLACE":
		return true
	}
	return false
}

// advanced records that m's first n statements are applied, with no error:
// a start after a process stopped there resumes at statement n+1.
func advanced(ctx context.Context, conn *sql.Conn, m tasktype.Migration, sum string, n int) error {
	if _, err := conn.ExecContext(ctx, `INSERT INTO taskmodel_migration_progress (name, checksum, statements, failed_at, error)
		VALUES (?, ?, ?, UTC_TIMESTAMP(6), '')
		ON DUPLICATE KEY UPDATE checksum = VALUES(checksum), statements = VALUES(statements), failed_at = VALUES(failed_at), error = VALUES(error)`,
		m.Name, sum, n); err != nil {
		return fmt.Errorf("mysql: migration %s: recording that %d of its statements are applied: %w", m.Name, n, err)
	}
	return nil
}

// sessionStatement reports whether a statement sets up the session for the
// statements after it: a user variable (SET @…), or a prepared statement
// (PREPARE, EXECUTE, DEALLOCATE or DROP PREPARE), with which a migration
// builds a statement from what the database holds (MySQL 8 has no DROP
// INDEX IF EXISTS). Such statements and the first statement after them
// are a run applied whole: a start after a stop or a failure within it
// runs it again from its first statement, in a new session, so the run
// must be one that can run again.
func sessionStatement(stmt string) bool {
	words := strings.Fields(strings.ToUpper(executableText(stmt)))
	if len(words) == 0 {
		return false
	}
	switch words[0] {
	case "PREPARE", "EXECUTE":
		return true
	case "DEALLOCATE", "DROP":
		return len(words) > 1 && words[1] == "PREPARE"
	case "SET":
		return len(words) > 1 && strings.HasPrefix(words[1], "@")
	}
	return strings.HasPrefix(words[0], "SET@")
}

// executableText returns what the server runs of stmt: without the
// comments and blank space it starts with (SplitStatements keeps a
// statement's comments), and with a leading versioned comment (/*!…*/,
// /*!80019 …*/) opened up.
func executableText(stmt string) string {
	for {
		stmt = strings.TrimLeft(stmt, " \t\r\n")
		switch {
		case strings.HasPrefix(stmt, "--"), strings.HasPrefix(stmt, "#"):
			_, rest, ok := strings.Cut(stmt, "\n")
			if !ok {
				return ""
			}
			stmt = rest
		case strings.HasPrefix(stmt, "/*!"):
			return strings.TrimLeft(stmt[3:], "0123456789")
		case strings.HasPrefix(stmt, "/*"):
			_, rest, ok := strings.Cut(stmt[2:], "*/")
			if !ok {
				return ""
			}
			stmt = rest
		default:
			return stmt
		}
	}
}

// failed records that statement i of m failed with err, and that the
// next start resumes at statement from (i, or the first of the session or
// data statements right before it: rerunFrom), and returns the error that
// says so.
func failed(ctx context.Context, conn *sql.Conn, m tasktype.Migration, sum string, stmts []string, i, from int, err error) error {
	data := from < i
	for _, s := range stmts[from:i] {
		data = data && dataStatement(s)
	}
	ferr := &MigrationFailedError{Migration: m.Name, Statement: i + 1, Statements: len(stmts), Resume: from + 1, Data: data, Excerpt: excerpt(stmts[i]), Err: err}
	if _, rerr := conn.ExecContext(context.WithoutCancel(ctx), `INSERT INTO taskmodel_migration_progress (name, checksum, statements, failed_at, error)
		VALUES (?, ?, ?, UTC_TIMESTAMP(6), ?)
		ON DUPLICATE KEY UPDATE checksum = VALUES(checksum), statements = VALUES(statements), failed_at = VALUES(failed_at), error = VALUES(error)`,
		m.Name, sum, from, err.Error()); rerr != nil {
		return fmt.Errorf("%w (and recording how far it went failed: %v)", ferr, rerr)
	}
	return ferr
}

// MigrationFailedError is the error of a migration one of whose statements
// failed. The statements before it stayed applied (MySQL commits each
// schema change as it runs); the next start resumes at the failed one, or
// at the first of the session or data statements right before it.
type MigrationFailedError struct {
	Migration string // <model>/<name>
	// Statement is the number of the statement that failed (from 1), of
	// Statements in the migration; Excerpt is its first line.
	Statement, Statements int
	// Resume is the statement the next start resumes at: Statement (or 0,
	// which means the same), or the first of the statements right before
	// it that run again: a run of session statements (SET @…, PREPARE,
	// EXECUTE, DEALLOCATE PREPARE) that Statement continues, which a new
	// session runs again, or data statements (INSERT, UPDATE, DELETE), whose
	// rows may have changed since they ran (Data).
	Resume int
	// Data tells that the statements from Resume to Statement-1 are all
	// data statements: the next start runs them again (a migration that
	// retires a status moves its tasks again before it narrows the status
	// CHECK, and a task a program still running the earlier spec wrote in
	// the retired status moves too).
	Data    bool
	Excerpt string
	Err     error
}

func (e *MigrationFailedError) Error() string {
	resume := e.Resume
	if resume < 1 || resume > e.Statement {
		resume = e.Statement
	}
	var parts []string
	switch {
	case e.Statement == 1:
		parts = append(parts, "nothing of it was applied")
	case resume > 1:
		parts = append(parts, statementRange(1, resume-1)+" stayed applied (MySQL commits each schema change as it runs)")
	}
	next := fmt.Sprintf("the next start resumes at statement %d once the cause is fixed", resume)
	switch {
	case resume < e.Statement && e.Data:
		change, they, them := "change", "they", "them"
		if resume == e.Statement-1 {
			change, they, them = "changes", "it", "it"
		}
		parts = append(parts, fmt.Sprintf("%s %s rows, which a program still running the earlier version may have written since %s ran", statementRange(resume, e.Statement-1), change, they))
		next = fmt.Sprintf("the next start runs %s again before statement %d once the cause is fixed", them, e.Statement)
	case resume < e.Statement:
		they, them := "they", "them"
		if resume == e.Statement-1 {
			they, them = "it", "it"
		}
		parts = append(parts, fmt.Sprintf("%s, which it needs in the same session, ran (what %s changed stays)", statementRange(resume, e.Statement-1), they))
		next = fmt.Sprintf("the next start runs %s again from statement %d once the cause is fixed", them, resume)
	}
	return fmt.Sprintf("mysql: migration %s: statement %d of %d failed (%s): %v; %s, and %s",
		e.Migration, e.Statement, e.Statements, e.Excerpt, e.Err, strings.Join(parts, "; "), next)
}

// statementRange names statements from to to: "statement 2", "statements 2 to 3".
func statementRange(from, to int) string {
	if from == to {
		return fmt.Sprintf("statement %d", from)
	}
	return fmt.Sprintf("statements %d to %d", from, to)
}

func (e *MigrationFailedError) Unwrap() error { return e.Err }

// PartlyAppliedError is the error of a migration a failed start applied in
// part, whose SQL has changed since: which of its statements still apply
// is for a person to decide.
type PartlyAppliedError struct {
	Migration string
	// Statements is how many statements were applied; Applied is the
	// checksum of the SQL they came from, Program that of this program's.
	Statements       int
	Applied, Program string
}

func (e *PartlyAppliedError) Error() string {
	return fmt.Sprintf("mysql: migration %s was partly applied (its first %d statements, from SQL with checksum %.12s) and this program's SQL differs (checksum %.12s): undo those statements or finish the migration by hand, then delete its row from taskmodel_migration_progress",
		e.Migration, e.Statements, e.Applied, e.Program)
}
