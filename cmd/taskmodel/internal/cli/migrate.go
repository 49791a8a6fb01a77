package cli

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	mysqldriver "github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/spf13/cobra"

	"github.com/taskmodel/taskmodel/auth"
	"github.com/taskmodel/taskmodel/backends/mysql"
	"github.com/taskmodel/taskmodel/backends/postgres"
	"github.com/taskmodel/taskmodel/backends/sqlite"
	"github.com/taskmodel/taskmodel/config"
	"github.com/taskmodel/taskmodel/gen/catalog"
	"github.com/taskmodel/taskmodel/sdk/pipeline/storage/mysqlstore"
	"github.com/taskmodel/taskmodel/sdk/pipeline/storage/pgstore"
	"github.com/taskmodel/taskmodel/sdk/pipeline/storage/sqlitestore"
	"github.com/taskmodel/taskmodel/tasktype"
)

// serveMigrations are the migrations taskmodel serve applies when it opens
// its database, in order: every built-in model's (the catalog's, the
// pipeline run, subtask and stage models included), the token table's,
// then the pipeline tracker's registry of stages and tasks.
func serveMigrations(engine string) []tasktype.Migration {
	out := append(catalog.Migrations(engine), auth.Migrations(engine)...)
	switch engine {
	case postgres.Engine:
		return append(out, pgstore.RegistryMigrations()...)
	case mysql.Engine:
		return append(out, mysqlstore.RegistryMigrations()...)
	}
	return append(out, sqlitestore.RegistryMigrations()...)
}

// migrationsOf returns the migrations the migrate commands work with:
// serve's, or the ones a test set.
func (a *App) migrationsOf(engine string) []tasktype.Migration {
	if a.migrations != nil {
		return a.migrations(engine)
	}
	return serveMigrations(engine)
}

func newMigrateCmd(app *App) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Show, preview and apply the database schema changes (migrations) of taskmodel serve",
		Long: `taskmodel serve keeps tasks in database tables whose layout is created and
changed by migrations: numbered steps, one series per task model
("training/0008_lease_in_row" is step 8 of the training model's tables),
each applied once and recorded, with a checksum of its SQL, in the table
taskmodel_migrations. A new version of taskmodel may bring new migrations;
serve applies the pending ones when it starts. These commands show and
apply them beforehand, for example as a deployment step:

  taskmodel migrate status   which migrations are applied and which are pending
  taskmodel migrate plan     print the SQL that up would run, changing nothing
  taskmodel migrate up       apply the pending migrations

They work on the database serve uses, chosen the same way: --database-url
(or --db-url and the other --db-* flags), then TASKMODEL_DATABASE_URL and
the other TASKMODEL_DB_* variables, then .taskmodel.yml, then the embedded
SQLite file.

Exit status: 0 on success; 1 when the database was migrated by a newer
version of taskmodel (on MySQL and MariaDB, also part way through a newer
version's migration), when an applied migration's SQL differs from this
version's, when a migration is refused because stored rows break a rule it
brings in, or on any other failure; 2 on a command-line mistake; 7 on a
configuration error.`,
	}

	status := &cobra.Command{
		Use:   "status",
		Short: "List the migrations serve uses: applied (and when) or pending",
		Long: `status lists every migration taskmodel serve uses, in the order they are
applied, with its state:

  applied   applied to this database, at the time shown
  pending   not applied yet: migrate up, or the next start of serve, applies it
  partial   applied part way (MySQL and MariaDB, which commit each schema
            change as it runs): a start applied its first statements, which
            stay applied, then failed or was stopped. The note says which
            statements, how the start ended (the failed statement's error),
            and where migrate up, or the next start of serve, resumes it;
            or, if it was begun with SQL different from this version's,
            that they refuse to go on with it
  changed   applied with SQL different from this version's: serve and
            migrate up refuse to run on this database
  unknown   applied by a newer version of taskmodel, whole or (MySQL and
            MariaDB) part way, and unknown to this one: serve and migrate up
            refuse to run; use the newer version, which also resumes a
            migration it left part way
  other     of a model this taskmodel does not have: applied by another
            program sharing the database (such as one built with taskmodel's
            packages for its own models), or by a newer taskmodel that
            added the model. serve does not use
            its tables and starts regardless: listed for information only

status only reads the database: a SQLite file that does not exist is not
created, nor a PostgreSQL schema (every migration is then pending); a MySQL
or MariaDB database must exist, as for serve. It exits 1, with the reason,
when serve and migrate up would refuse the database: a migration unknown,
or changed, or partial from SQL other than this version's. A partial
migration of this version is not a refusal: as for a pending one, status
exits 0 and migrate up resumes it (a start that failed fails again, naming
the statement, until the cause is fixed).`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return app.migrateStatus(c.Context())
		},
	}

	var engine string
	plan := &cobra.Command{
		Use:   "plan [--engine postgresql|mysql|sqlite]",
		Short: "Print the SQL of the pending migrations without running it",
		Long: `plan prints the SQL that migrate up would run on the database, without running
it or writing anything (a SQLite file that does not exist is not created,
nor a PostgreSQL schema). For each pending migration, in order:

  - its data checks: queries run first, in the migration's transaction, that
    count the stored rows breaking a rule the migration brings in (a column
    made shorter, a value no longer allowed); if any row does, the migration
    is refused and nothing changes;
  - its body: the statements that change the tables, run in one transaction
    after the checks (on MySQL and MariaDB, which commit each schema change
    as it runs, statement by statement: after a failed statement, the next
    run resumes there; for a migration a start left part way, plan shows
    the statements applied already apart from those up runs);
  - on PostgreSQL, its validation statements: run after the body committed,
    each in its own transaction, so that writers are not blocked while a
    table is checked.

The output is for review: apply it with migrate up, which records each
migration; SQL run by hand is not recorded, and serve would run it again.

With --engine, plan opens no database and prints every migration of that
engine, as applied to a new, empty database.`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if c.Flags().Changed("engine") {
				eng, err := parseEngine(engine)
				if err != nil {
					return err
				}
				return app.migratePlanEngine(eng)
			}
			return app.migratePlan(c.Context())
		},
	}
	plan.Flags().StringVar(&engine, "engine", "", "print every migration of this engine without opening a database: postgresql, mysql or sqlite")

	up := &cobra.Command{
		Use:   "up",
		Short: "Apply the pending migrations, printing each with the time it took",
		Long: `up applies the pending migrations in order, each in its own transaction (on
MySQL and MariaDB, statement by statement), and prints each one with the
time it took. It is what serve does when it starts, and is safe to run
while other processes start or run: on PostgreSQL, MySQL and MariaDB it
holds the lock serve takes to migrate, and on SQLite each migration takes
the database's write lock. A SQLite file or PostgreSQL schema that does not
exist is created; a MySQL or MariaDB database must exist.

A migration first runs its data checks (see migrate plan). If stored rows
break a rule it brings in, it is refused: it changes nothing, the
migrations before it stay applied, and up exits 1 naming the rule, the
number of rows and an example task. Change or delete those rows, then run
up again.

On MySQL and MariaDB, a migration a start applied part way (see migrate
status) is resumed after the statements that stay applied.

up changes nothing and exits 1 when the database was migrated by a newer
version of taskmodel, whole or part way, or when an applied migration's SQL
differs from this version's.`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return app.migrateUp(c.Context())
		},
	}
	cmd.AddCommand(status, plan, up)
	return cmd
}

// parseEngine checks --engine.
func parseEngine(s string) (string, error) {
	switch strings.ToLower(s) {
	case "postgresql", "postgres":
		return postgres.Engine, nil
	case "sqlite", "sqlite3":
		return sqlite.Engine, nil
	case "mysql", "mariadb":
		return mysql.Engine, nil
	}
	return "", usagef(fmt.Errorf("--engine %q: allowed: postgresql, mysql, sqlite", s))
}

// inspected is what the migrate commands read from a database without
// changing it.
type inspected struct {
	database string // the database, for people: "sqlite /path/taskmodel.db"
	engine   string
	applied  []tasktype.AppliedMigration
	// progress are the migrations a start began and did not complete
	// (MySQL and MariaDB only), and locked tells that a process holds the
	// migration lock: it is migrating the database now.
	progress []mysql.MigrationProgress
	locked   bool
	// missing says, when not empty, that the database does not exist yet
	// and was not created.
	missing string
}

// inspect reads the configured database's applied migrations read-only: a
// SQLite file opened in read-only mode (and not created when missing), a
// PostgreSQL session whose transactions are read-only (the schema not
// created when missing).
func (a *App) inspect(ctx context.Context) (*inspected, error) {
	cfg, err := a.Config()
	if err != nil {
		return nil, err
	}
	d := cfg.Database
	in := &inspected{database: d.String()}
	switch d.Driver {
	case config.SQLite:
		in.engine = sqlite.Engine
		if d.Name == ":memory:" {
			return nil, noMemory()
		}
		if _, err := os.Stat(d.Name); errors.Is(err, fs.ErrNotExist) {
			in.missing = fmt.Sprintf("the database file %s does not exist yet, and was not created", d.Name)
			return in, nil
		} else if err != nil {
			return nil, databaseErr(d, err)
		}
		db, err := openSQLiteReadOnly(d.Name)
		if err != nil {
			return nil, databaseErr(d, err)
		}
		defer db.Close()
		if in.applied, err = sqlite.AppliedMigrations(ctx, db); err != nil {
			return nil, databaseErr(d, err)
		}
		return in, nil
	case config.PostgreSQL:
		in.engine = postgres.Engine
		dsn, err := d.PostgresURL()
		if err != nil {
			return nil, err
		}
		pcfg, err := pgxpool.ParseConfig(dsn)
		if err != nil {
			return nil, databaseErr(d, err)
		}
		if d.Schema != "" {
			pcfg.ConnConfig.RuntimeParams["search_path"] = postgres.SearchPath(d.Schema)
		}
		pcfg.ConnConfig.RuntimeParams["default_transaction_read_only"] = "on"
		pcfg.ConnConfig.RuntimeParams["application_name"] = "taskmodel migrate"
		pcfg.MaxConns = 1
		pool, err := pgxpool.NewWithConfig(ctx, pcfg)
		if err != nil {
			return nil, databaseErr(d, err)
		}
		defer pool.Close()
		if d.Schema != "" {
			var exists bool
			if err := pool.QueryRow(ctx, `SELECT EXISTS (SELECT FROM pg_namespace WHERE nspname = $1)`, d.Schema).Scan(&exists); err != nil {
				return nil, databaseErr(d, err)
			}
			if !exists {
				in.missing = fmt.Sprintf("the schema %s does not exist yet, and was not created", d.Schema)
				return in, nil
			}
		}
		if in.applied, err = postgres.AppliedMigrations(ctx, pool); err != nil {
			return nil, databaseErr(d, err)
		}
		return in, nil
	case config.MySQL:
		in.engine = mysql.Engine
		db, err := openMySQLInspect(d)
		if err != nil {
			return nil, err
		}
		defer db.Close()
		if in.applied, err = mysql.AppliedMigrations(ctx, db); err != nil {
			return nil, databaseErr(d, err)
		}
		if in.progress, err = mysql.MigrationsInProgress(ctx, db); err != nil {
			return nil, databaseErr(d, err)
		}
		if in.locked, err = mysql.MigrationLockHeld(ctx, db); err != nil {
			return nil, databaseErr(d, err)
		}
		return in, nil
	}
	return nil, fmt.Errorf("database driver %q: allowed: %s, %s, %s", d.Driver, config.PostgreSQL, config.MySQL, config.SQLite)
}

// openMySQLInspect connects to a MySQL or MariaDB database without
// mysql.Open, which creates the bookkeeping tables: the migrate commands
// that only read write nothing.
func openMySQLInspect(d config.Database) (*sql.DB, error) {
	dsn, err := d.MySQLURL()
	if err != nil {
		return nil, err
	}
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		return nil, databaseErr(d, err)
	}
	conn, err := mysqldriver.NewConnector(cfg)
	if err != nil {
		return nil, databaseErr(d, err)
	}
	db := sql.OpenDB(conn)
	db.SetMaxOpenConns(1)
	return db, nil
}

func noMemory() error {
	return usagef(errors.New("taskmodel migrate needs a database file, not :memory: (an in-memory database is new, and migrated, at every start)"))
}

// openSQLiteReadOnly opens an existing SQLite file that no statement can
// write to.
func openSQLiteReadOnly(path string) (*sql.DB, error) {
	q := url.Values{}
	q.Set("mode", "ro")
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "query_only(1)")
	db, err := sql.Open("sqlite", "file:"+(&url.URL{Path: path}).EscapedPath()+"?"+q.Encode())
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	return db, nil
}

// Migration states, as status prints them.
const (
	stateApplied = "applied"
	statePending = "pending"
	statePartial = "partial"
	stateChanged = "changed"
	stateUnknown = "unknown"
	stateOther   = "other"
)

// migrationState is a line of migrate status.
type migrationState struct {
	Name      string     `json:"name"`
	State     string     `json:"state"`
	AppliedAt *time.Time `json:"applied_at,omitempty"`
	// Checksum is the SHA-256 of this version's SQL, AppliedChecksum the
	// one the database recorded (when they differ, or for a migration this
	// version does not know).
	Checksum        string `json:"checksum,omitempty"`
	AppliedChecksum string `json:"applied_checksum,omitempty"`
	// PartWay is how far a start that did not complete the migration went
	// (MySQL and MariaDB).
	PartWay *partWay `json:"part_way,omitempty"`
	Note    string   `json:"note,omitempty"`
}

// partWay is a migration a start began and did not complete, as status
// shows it.
type partWay struct {
	// Applied is how many of its statements stay applied, of Statements
	// (0 for a migration this version does not have); ResumeAt is where the
	// next start of a version that has it resumes.
	Applied    int `json:"statements_applied"`
	Statements int `json:"statements,omitempty"`
	ResumeAt   int `json:"resume_at"`
	// RecordedAt is when the start last recorded how far it went.
	RecordedAt time.Time `json:"recorded_at"`
	// End is how the start ended: "failed" (Failure is the failed
	// statement's error), "stopped" (killed, its connection cut: no
	// failure recorded), or "running" (no failure recorded, and a process
	// holds the migration lock now).
	End     string `json:"end"`
	Failure string `json:"failure,omitempty"`
}

// migrationStates compares the migrations with the applied ones and those
// in progress (MySQL, MariaDB): the migrations in order, each migration
// this program does not know of one of its models after the last one of
// the model, and the migrations of other models at the end. locked tells
// that a process holds the migration lock now.
func migrationStates(migrations []tasktype.Migration, applied []tasktype.AppliedMigration, progress []mysql.MigrationProgress, locked bool) []migrationState {
	byName := map[string]tasktype.AppliedMigration{}
	for _, a := range applied {
		byName[a.Name] = a
	}
	known := map[string]bool{}
	lastOf := map[string]int{} // model → index of its last migration
	for i, m := range migrations {
		known[m.Name] = true
		lastOf[modelOf(m.Name)] = i
	}
	unknownAfter := map[int][]migrationState{}
	var other []migrationState
	// foreign files a migration this program does not know: after the last
	// one of its model, or at the end.
	foreign := func(st migrationState) {
		if i, ok := lastOf[modelOf(st.Name)]; ok {
			st.State = stateUnknown
			unknownAfter[i] = append(unknownAfter[i], st)
		} else {
			st.State = stateOther
			other = append(other, st)
		}
	}
	for _, a := range applied { // in name order
		if !known[a.Name] {
			foreign(migrationState{Name: a.Name, AppliedAt: appliedAt(a), AppliedChecksum: a.Checksum})
		}
	}
	partOf := map[string]mysql.MigrationProgress{}
	for _, p := range progress { // in name order
		if _, done := byName[p.Name]; done {
			continue // recorded as applied: the record is the one that counts
		}
		if known[p.Name] {
			partOf[p.Name] = p
		} else if p.Statements > 0 { // one that left nothing applied is nothing to show
			foreign(migrationState{Name: p.Name, AppliedChecksum: p.Checksum, PartWay: newPartWay(p, 0, locked)})
		}
	}
	for i := range unknownAfter {
		slices.SortStableFunc(unknownAfter[i], func(a, b migrationState) int { return strings.Compare(a.Name, b.Name) })
	}
	slices.SortStableFunc(other, func(a, b migrationState) int { return strings.Compare(a.Name, b.Name) })

	var out []migrationState
	for i, m := range migrations {
		st := migrationState{Name: m.Name, State: statePending, Checksum: m.Checksum()}
		if a, ok := byName[m.Name]; ok {
			st.State, st.AppliedAt = stateApplied, appliedAt(a)
			if a.Checksum != st.Checksum {
				st.State, st.AppliedChecksum = stateChanged, a.Checksum
				st.Note = fmt.Sprintf("applied with different SQL (checksum %.12s, this version's %.12s)", a.Checksum, st.Checksum)
			}
		} else if p, ok := partOf[m.Name]; ok {
			st.Note = partNote(m, p, &st, locked)
		}
		out = append(out, st)
		for _, u := range unknownAfter[i] {
			u.Note = "applied by a newer version of taskmodel; unknown to this one"
			if u.PartWay != nil {
				u.Note = "part way (" + u.PartWay.summary() + "): a newer version of taskmodel's, unknown to this one"
			}
			out = append(out, u)
		}
	}
	for _, o := range other {
		model := modelOf(o.Name)
		o.Note = "model " + model + " is not one of this taskmodel's (another program's sharing the database, or a newer taskmodel's): serve does not use its tables, and starts regardless"
		if o.PartWay != nil {
			o.Note = "part way (" + o.PartWay.summary() + "); " + o.Note
		}
		out = append(out, o)
	}
	return out
}

// newPartWay is p as status shows it; total is how many statements the
// migration has, 0 when this program does not have it.
func newPartWay(p mysql.MigrationProgress, total int, locked bool) *partWay {
	pw := &partWay{Applied: p.Statements, Statements: total, ResumeAt: p.Statements + 1, RecordedAt: p.At, End: "stopped", Failure: p.Failure}
	switch {
	case p.Failure != "":
		pw.End = "failed"
	case locked:
		pw.End = "running"
	}
	return pw
}

// summary says what a start left: "statements 1 to 2 applied, then a
// statement failed".
func (pw *partWay) summary() string {
	s := "statement 1 applied"
	if pw.Applied > 1 {
		s = fmt.Sprintf("statements 1 to %d applied", pw.Applied)
	}
	switch pw.End {
	case "failed":
		return s + ", then a statement failed"
	case "running":
		return s + " so far, by a start that holds the migration lock now"
	}
	return s + ", then the start was stopped"
}

// partNote fills st (of m, pending) for p, a start of m that did not
// complete, and returns its note: what stays applied, how the start
// ended, and what migrate up does next.
func partNote(m tasktype.Migration, p mysql.MigrationProgress, st *migrationState, locked bool) string {
	total := 0
	if stmts, err := mysql.Statements(m); err == nil {
		total = len(stmts)
	}
	pw := newPartWay(p, total, locked)
	at := p.At.Local().Format("2006-01-02 15:04:05 MST")
	if p.Statements == 0 {
		// Failed before any statement stayed applied: still pending.
		if p.Failure == "" {
			return ""
		}
		st.PartWay = pw
		return fmt.Sprintf("a start failed on it at %s, leaving nothing applied: %s; migrate up starts it again once the cause is fixed", at, p.Failure)
	}
	st.State, st.PartWay = statePartial, pw
	which := "statement 1"
	if p.Statements > 1 {
		which = fmt.Sprintf("statements 1 to %d", p.Statements)
	}
	if total > 0 {
		which += fmt.Sprintf(" of %d", total)
	}
	if p.Checksum != st.Checksum {
		st.AppliedChecksum = p.Checksum
		return fmt.Sprintf("%s applied from different SQL (checksum %.12s, this version's %.12s): serve and migrate up refuse to go on with it; finish or undo those statements by hand, then delete its row from taskmodel_migration_progress",
			which, p.Checksum, st.Checksum)
	}
	stay := which + " applied, which stays (MySQL and MariaDB commit each schema change as it runs)"
	if p.Statements > 1 {
		stay = strings.Replace(stay, " stays ", " stay ", 1)
	}
	switch pw.End {
	case "failed":
		return fmt.Sprintf("%s; then the start applying it failed (%s): %s; fix the cause, then run migrate up: it resumes at statement %d", stay, at, p.Failure, pw.ResumeAt)
	case "running":
		return fmt.Sprintf("%s, the last at %s: a process holds the migration lock, and is applying it now or resumes it at statement %d", stay, at, pw.ResumeAt)
	}
	return fmt.Sprintf("%s; then the start applying it was stopped (%s), killed or its connection cut; migrate up resumes it at statement %d", stay, at, pw.ResumeAt)
}

func modelOf(name string) string {
	model, _, _ := strings.Cut(name, "/")
	return model
}

func appliedAt(a tasktype.AppliedMigration) *time.Time {
	if a.AppliedAt.IsZero() {
		return nil
	}
	t := a.AppliedAt
	return &t
}

// refusal returns the error with which serve and migrate up refuse the
// database before they apply anything, nil when they would run: a
// migration of a newer version, applied whole or, on MySQL and MariaDB,
// part way (progress), or one applied with different SQL.
func refusal(migrations []tasktype.Migration, applied []tasktype.AppliedMigration, progress []mysql.MigrationProgress) error {
	sums := map[string]string{}
	for _, a := range applied {
		sums[a.Name] = a.Checksum
	}
	err := tasktype.CheckApplied(migrations, sums)
	var unknown *tasktype.UnknownMigrationError
	if err == nil || errors.As(err, &unknown) {
		// As mysql.Migrate: a newer migration part way says more.
		if perr := mysql.PartlyAppliedRefusal(migrations, progress); perr != nil {
			err = perr
		}
	}
	return newerTaskmodel(err)
}

// partRefusal returns the error with which serve and migrate up stop when
// they come to a migration a start applied part way from SQL other than
// this version's (a *mysql.PartlyAppliedError), nil when there is none.
func partRefusal(migrations []tasktype.Migration, applied []tasktype.AppliedMigration, progress []mysql.MigrationProgress) error {
	done := map[string]bool{}
	for _, a := range applied {
		done[a.Name] = true
	}
	sums := map[string]string{}
	for _, m := range migrations {
		sums[m.Name] = m.Checksum()
	}
	for _, p := range progress {
		if sum, ok := sums[p.Name]; ok && !done[p.Name] && p.Statements > 0 && p.Checksum != sum {
			return &mysql.PartlyAppliedError{Migration: p.Name, Statements: p.Statements, Applied: p.Checksum, Program: sum}
		}
	}
	return nil
}

// newerTaskmodel says a *tasktype.UnknownMigrationError in the words of a
// taskmodel user: the built-in models' specs come with taskmodel, so a
// database a newer spec migrated was migrated by a newer taskmodel.
func newerTaskmodel(err error) error {
	var unknown *tasktype.UnknownMigrationError
	if errors.As(err, &unknown) {
		return newerTaskmodelError{unknown}
	}
	return err
}

type newerTaskmodelError struct {
	*tasktype.UnknownMigrationError
}

func (e newerTaskmodelError) Error() string {
	if e.Statements > 0 {
		return fmt.Sprintf("the database is part way through migration %s of model %s, which this taskmodel does not have (its %s ends at %s): a start of a newer version of taskmodel %s; run that version or a newer one, which %s",
			e.Database, e.Model, e.Model, e.Program, e.PartText(), e.ResumeText())
	}
	return fmt.Sprintf("the database is at migration %s of model %s, which this taskmodel does not have (its %s ends at %s): a newer version of taskmodel migrated it; run that version or a newer one",
		e.Database, e.Model, e.Model, e.Program)
}

func (e newerTaskmodelError) Unwrap() error { return e.UnknownMigrationError }

func (a *App) migrateStatus(ctx context.Context) error {
	in, err := a.inspect(ctx)
	if err != nil {
		return err
	}
	migrations := a.migrationsOf(in.engine)
	states := migrationStates(migrations, in.applied, in.progress, in.locked)
	count := map[string]int{}
	for _, st := range states {
		count[st.State]++
	}
	out := struct {
		Database   string           `json:"database"`
		Engine     string           `json:"engine"`
		Missing    string           `json:"missing,omitempty"`
		Migrating  bool             `json:"migrating,omitempty"`
		Migrations []migrationState `json:"migrations"`
	}{in.database, in.engine, in.missing, in.locked, states}
	if err := a.Print(out, func(w io.Writer) error {
		fmt.Fprintf(w, "Database: %s\n", in.database)
		if in.missing != "" {
			fmt.Fprintf(w, "Note: %s; every migration is pending.\n", in.missing)
		}
		if in.locked {
			fmt.Fprintln(w, "Note: a process holds the migration lock: it is migrating the database now, and what follows may change as it goes.")
		}
		fmt.Fprintln(w)
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "MIGRATION\tSTATE\tAPPLIED AT\tNOTE")
		for _, st := range states {
			note := st.Note
			if note == "" {
				note = "-"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", st.Name, st.State, appliedClock(st.AppliedAt, st.State, st.PartWay != nil), note)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		// The states of this version's migrations, which add up to their
		// number, then those of the others.
		fmt.Fprintf(w, "\n%s: %d applied, %d pending", plural(len(migrations), "migration"), count[stateApplied], count[statePending])
		for _, s := range []string{statePartial, stateChanged} {
			if count[s] > 0 {
				fmt.Fprintf(w, ", %d %s", count[s], s)
			}
		}
		sep := "; not this version's: "
		for _, s := range []string{stateUnknown, stateOther} {
			if count[s] > 0 {
				fmt.Fprintf(w, "%s%d %s", sep, count[s], s)
				sep = ", "
			}
		}
		_, err := fmt.Fprintln(w)
		return err
	}); err != nil {
		return err
	}
	if err := refusal(migrations, in.applied, in.progress); err != nil {
		return err
	}
	return partRefusal(migrations, in.applied, in.progress)
}

// appliedClock shows when a migration was applied.
func appliedClock(t *time.Time, state string, part bool) string {
	switch {
	case t != nil:
		return t.Local().Format("2006-01-02 15:04:05 MST")
	case state == statePending, part:
		return "-"
	}
	return "(not recorded)"
}

// plannedMigration is a pending migration as plan shows it.
type plannedMigration struct {
	Name     string                    `json:"name"`
	Checks   []tasktype.MigrationCheck `json:"checks"`
	Body     string                    `json:"body"`
	Validate []string                  `json:"validate"`
	// ResumeAt, when not 0, is the statement up resumes the migration at:
	// a start applied the ones before it (MySQL, MariaDB).
	ResumeAt int `json:"resume_at,omitempty"`
}

func (a *App) migratePlan(ctx context.Context) error {
	in, err := a.inspect(ctx)
	if err != nil {
		return err
	}
	migrations := a.migrationsOf(in.engine)
	if err := refusal(migrations, in.applied, in.progress); err != nil {
		return err
	}
	if err := partRefusal(migrations, in.applied, in.progress); err != nil {
		return err
	}
	todo := tasktype.PendingMigrations(migrations, in.applied)
	header := []string{"taskmodel migrate plan: " + in.database}
	if in.missing != "" {
		header = append(header, "Note: "+in.missing+"; every migration is pending.")
	}
	if len(todo) == 0 {
		header = append(header, fmt.Sprintf("Nothing to apply: the database is up to date (%s applied).", plural(len(migrations), "migration")))
	}
	resume := map[string]int{}
	for _, p := range in.progress {
		if p.Statements > 0 {
			resume[p.Name] = p.Statements + 1
		}
	}
	return a.printPlan(in.database, in.engine, header, todo, resume)
}

func (a *App) migratePlanEngine(engine string) error {
	all := a.migrationsOf(engine)
	header := []string{
		"taskmodel migrate plan --engine " + engine + ": every migration, as applied to a new, empty database.",
		"No database was opened.",
	}
	return a.printPlan("", engine, header, all, nil)
}

// printPlan prints the migrations todo; resume holds, by name, the
// statement up resumes a migration at that a start applied part way.
func (a *App) printPlan(database, engine string, header []string, todo []tasktype.Migration, resume map[string]int) error {
	planned := make([]plannedMigration, 0, len(todo))
	for _, m := range todo {
		p, err := m.Parts()
		if err != nil {
			return err
		}
		planned = append(planned, plannedMigration{Name: m.Name, Checks: p.Checks, Body: strings.TrimSpace(p.Body), Validate: p.Validate, ResumeAt: resume[m.Name]})
	}
	out := struct {
		Database   string             `json:"database,omitempty"`
		Engine     string             `json:"engine"`
		Migrations []plannedMigration `json:"migrations"`
	}{database, engine, planned}
	return a.Print(out, func(w io.Writer) error {
		for _, h := range header {
			fmt.Fprintf(w, "-- %s\n", h)
		}
		if len(planned) > 0 {
			fmt.Fprintf(w, "-- %s pending, in the order taskmodel migrate up applies them.\n", plural(len(planned), "migration"))
			fmt.Fprintln(w, "-- Nothing below has been run. Apply it with taskmodel migrate up, which records")
			fmt.Fprintln(w, "-- each migration; SQL run by hand is not recorded.")
		}
		rule := "-- " + strings.Repeat("=", 74)
		for i, p := range planned {
			fmt.Fprintf(w, "\n%s\n-- Migration %d of %d: %s (%s)\n%s\n", rule, i+1, len(planned), p.Name, engine, rule)
			if p.ResumeAt > 1 {
				// On MySQL and MariaDB, part way: the statements applied
				// already, then those up runs.
				stmts, err := mysql.Statements(todo[i])
				if err != nil {
					return err
				}
				from := min(p.ResumeAt-1, len(stmts))
				fmt.Fprintf(w, "\n-- Part way: a start that failed or was stopped applied %s of the body,\n", statementsText(from))
				fmt.Fprintln(w, "-- which stay applied (MySQL and MariaDB commit each schema change as it runs).")
				fmt.Fprintln(w, "-- up runs no data check and resumes after them:")
				fmt.Fprintf(w, "\n-- Applied already (%s), not run again:\n", statementsText(from))
				fmt.Fprintln(w, strings.TrimSpace(strings.Join(stmts[:from], ";\n")+";"))
				fmt.Fprintf(w, "\n-- Run by up, statement by statement, from statement %d:\n", from+1)
				fmt.Fprintln(w, strings.TrimSpace(strings.Join(stmts[from:], ";\n")+";"))
				continue
			}
			if len(p.Checks) > 0 {
				fmt.Fprintln(w, "\n-- Data checks, run first in the migration's transaction. Each counts the")
				fmt.Fprintln(w, "-- stored rows breaking a rule the migration brings in; if any does, the")
				fmt.Fprintln(w, "-- migration is refused and nothing changes.")
				for _, c := range p.Checks {
					fmt.Fprintf(w, "\n-- Check: %s, rule %q: counts the %s that break it\n%s\n", c.Subject, c.Rule, c.Rows, c.Query)
				}
			}
			if engine == mysql.Engine {
				fmt.Fprintln(w, "\n-- Body, run statement by statement: MySQL and MariaDB commit each schema")
				fmt.Fprintln(w, "-- change as it runs; after a failed statement, the next run resumes there")
				fmt.Fprintln(w, "-- (or at the first of the SET @…, PREPARE, EXECUTE run it belongs to):")
			} else {
				fmt.Fprintln(w, "\n-- Body, run in one transaction:")
			}
			fmt.Fprintln(w, p.Body)
			if len(p.Validate) > 0 {
				fmt.Fprintln(w, "\n-- Validation, run after the body committed, each statement in its own transaction:")
				for _, v := range p.Validate {
					fmt.Fprintln(w, v)
				}
			}
		}
		return nil
	})
}

// statementsText names the first n statements: "statement 1",
// "statements 1 to 3".
func statementsText(n int) string {
	if n == 1 {
		return "statement 1"
	}
	return fmt.Sprintf("statements 1 to %d", n)
}

// upLine is a migration migrate up applied.
type upLine struct {
	Name   string  `json:"name"`
	TookMS float64 `json:"took_ms"`
}

func (a *App) migrateUp(ctx context.Context) error {
	cfg, err := a.Config()
	if err != nil {
		return err
	}
	d := cfg.Database
	var (
		engine   string
		applied  []tasktype.AppliedMigration
		progress []mysql.MigrationProgress
		run      func(migrations []tasktype.Migration, report func(tasktype.Migration, time.Duration)) error
	)
	switch d.Driver {
	case config.SQLite:
		if d.Name == ":memory:" {
			return noMemory()
		}
		db, err := sqlite.Open(ctx, d.Name)
		if err != nil {
			return databaseErr(d, err)
		}
		defer db.Close()
		if applied, err = sqlite.AppliedMigrations(ctx, db); err != nil {
			return databaseErr(d, err)
		}
		engine = sqlite.Engine
		run = func(ms []tasktype.Migration, report func(tasktype.Migration, time.Duration)) error {
			return sqlite.MigrateReport(ctx, db, ms, report)
		}
	case config.PostgreSQL:
		dsn, err := d.PostgresURL()
		if err != nil {
			return err
		}
		pcfg, err := postgres.SchemaConfig(ctx, dsn, d.Schema)
		if err != nil {
			return databaseErr(d, err)
		}
		pool, err := postgres.OpenConfig(ctx, pcfg)
		if err != nil {
			return databaseErr(d, err)
		}
		defer pool.Close()
		if applied, err = postgres.AppliedMigrations(ctx, pool); err != nil {
			return databaseErr(d, err)
		}
		engine = postgres.Engine
		run = func(ms []tasktype.Migration, report func(tasktype.Migration, time.Duration)) error {
			return postgres.MigrateReport(ctx, pool, ms, report)
		}
	case config.MySQL:
		dsn, err := d.MySQLURL()
		if err != nil {
			return err
		}
		db, err := mysql.Open(ctx, dsn)
		if err != nil {
			return databaseErr(d, err)
		}
		defer db.Close()
		if applied, err = mysql.AppliedMigrations(ctx, db); err != nil {
			return databaseErr(d, err)
		}
		if progress, err = mysql.MigrationsInProgress(ctx, db); err != nil {
			return databaseErr(d, err)
		}
		engine = mysql.Engine
		run = func(ms []tasktype.Migration, report func(tasktype.Migration, time.Duration)) error {
			return mysql.MigrateReport(ctx, db, ms, report)
		}
	default:
		return fmt.Errorf("database driver %q: allowed: %s, %s, %s", d.Driver, config.PostgreSQL, config.MySQL, config.SQLite)
	}
	migrations := a.migrationsOf(engine)
	if err := refusal(migrations, applied, progress); err != nil {
		return err
	}
	todo := len(tasktype.PendingMigrations(migrations, applied))
	if !a.JSON {
		if todo == 0 {
			fmt.Fprintf(a.Out, "Database: %s: %s, none pending.\n", d, plural(len(migrations), "migration"))
		} else {
			fmt.Fprintf(a.Out, "Database: %s: %d of %s pending.\n", d, todo, plural(len(migrations), "migration"))
		}
	}
	var done []upLine
	start := time.Now()
	err = run(migrations, func(m tasktype.Migration, took time.Duration) {
		done = append(done, upLine{Name: m.Name, TookMS: float64(took.Microseconds()) / 1000})
		if !a.JSON {
			fmt.Fprintf(a.Out, "applied  %-40s %s\n", m.Name, roundTook(took))
		}
	})
	err = newerTaskmodel(err) // a newer migration part way the lock found
	total := time.Since(start)
	if a.JSON {
		if perr := a.Print(struct {
			Database string   `json:"database"`
			Applied  []upLine `json:"applied"`
		}{d.String(), nonNil(done)}, nil); perr != nil && err == nil {
			err = perr
		}
	}
	if err != nil {
		return err
	}
	if !a.JSON {
		switch len(done) {
		case 0:
			fmt.Fprintln(a.Out, "Nothing to apply: the database is up to date.")
		default:
			fmt.Fprintf(a.Out, "Applied %s in %s: the database is up to date.\n", plural(len(done), "migration"), roundTook(total))
		}
	}
	return nil
}

// plural is "1 migration", "2 migrations".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// roundTook shows a duration to three significant digits or so: 850µs,
// 4.21ms, 1.52s.
func roundTook(d time.Duration) string {
	for _, unit := range []time.Duration{time.Second, time.Millisecond, time.Microsecond} {
		if d >= unit {
			return d.Round(unit / 100).String()
		}
	}
	return d.String()
}
