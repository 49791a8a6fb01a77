package mysql_test

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	driver "github.com/go-sql-driver/mysql"

	"github.com/taskmodel/taskmodel/backends/mysql"
	"github.com/taskmodel/taskmodel/tasktype"
)

func TestCheckVersion(t *testing.T) {
	tests := []struct {
		version, err string
	}{
		{"10.11.19-MariaDB-0+deb12u1", ""},
		{"10.6.0-MariaDB", ""},
		{"11.4.2-MariaDB-ubu2404", ""},
		{"10.5.25-MariaDB-log", "mysql: the server is MariaDB 10.5.25; taskmodel needs MariaDB 10.6.0 or later"},
		{"5.5.5-10.4.1-MariaDB", "mysql: the server is MariaDB 10.4.1; taskmodel needs MariaDB 10.6.0 or later"},
		{"5.5.5-10.11.2-MariaDB", ""},
		{"8.0.19", ""},
		{"8.4.3", ""},
		{"9.1.0-commercial", ""},
		{"8.0.36-28", ""},
		{"8.0.18", "mysql: the server is MySQL 8.0.18; taskmodel needs MySQL 8.0.19 or later"},
		{"5.7.44-log", "mysql: the server is MySQL 5.7.44; taskmodel needs MySQL 8.0.19 or later"},
		{"unknown", `mysql: the server's version "unknown" is not major.minor.patch; taskmodel needs MariaDB 10.6.0 or later, or MySQL 8.0.19 or later`},
	}
	for _, tt := range tests {
		t.Run(tt.version, func(t *testing.T) {
			err := mysql.CheckVersion(tt.version)
			if got := errText(err); got != tt.err {
				t.Fatalf("CheckVersion(%q) = %q, want %q", tt.version, got, tt.err)
			}
		})
	}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func TestParseDSN(t *testing.T) {
	tests := []struct {
		name, dsn                    string
		user, pass, addr, db, params string // params: extra parameters kept, k=v sorted
		err                          string
	}{
		{"url", "mysql://root@127.0.0.1:3306/test", "root", "", "127.0.0.1:3306", "test", "", ""},
		{"url with password and default port", "mysql://app:s%40cr%2Fet@db.example/tasks", "app", "s@cr/et", "db.example:3306", "tasks", "", ""},
		{"url without host", "mysql://root@/test", "root", "", "127.0.0.1:3306", "test", "", ""},
		{"ipv6", "mysql://root@[::1]:3307/test", "root", "", "[::1]:3307", "test", "", ""},
		{"url params kept", "mysql://root@h:1/d?timeout=5s&innodb_lock_wait_timeout=5", "root", "", "h:1", "d", "innodb_lock_wait_timeout=5", ""},
		{"forced params replaced", "mysql://root@h/d?parseTime=false&loc=Local&time_zone=%27SYSTEM%27&sql_mode=%27%27&charset=latin1", "root", "", "h:3306", "d", "", ""},
		{"driver dsn", "app:pw@tcp(10.0.0.1:3306)/tasks?parseTime=false", "app", "pw", "10.0.0.1:3306", "tasks", "", ""},
		{"socket", "root@unix(/run/mysqld/mysqld.sock)/test", "root", "", "/run/mysqld/mysqld.sock", "test", "", ""},
		{"url without database", "mysql://root@127.0.0.1:3306/", "", "", "", "", "", "mysql: database URL mysql://root@127.0.0.1:3306/: the path must name the database: mysql://user:password@host:3306/database"},
		{"url with a path", "mysql://root:pw@h/a/b", "", "", "", "", "", "mysql: database URL mysql://root:xxxxx@h/a/b: the path must name the database: mysql://user:password@host:3306/database"},
		{"driver dsn without database", "root@tcp(h:3306)/", "", "", "", "", "", "mysql: tcp(h:3306)/: the DSN must name the database: user:password@tcp(host:3306)/database"},
		{"bad param", "mysql://root@h/d?timeout=soon", "", "", "", "", "", `mysql: database URL mysql://root@h/d?timeout=soon: time: invalid duration "soon"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := mysql.ParseDSN(tt.dsn)
			if tt.err != "" || err != nil {
				if got := errText(err); got != tt.err {
					t.Fatalf("err = %q, want %q", got, tt.err)
				}
				return
			}
			if cfg.User != tt.user || cfg.Passwd != tt.pass || cfg.Addr != tt.addr || cfg.DBName != tt.db {
				t.Fatalf("user %q pass %q addr %q db %q", cfg.User, cfg.Passwd, cfg.Addr, cfg.DBName)
			}
			if !cfg.ParseTime || cfg.Loc != time.UTC || cfg.Collation != mysql.Collation {
				t.Fatalf("parseTime %v loc %v collation %q", cfg.ParseTime, cfg.Loc, cfg.Collation)
			}
			want := map[string]string{"time_zone": "'+00:00'", "sql_mode": "'" + mysql.SQLMode + "'"}
			if tt.params != "" {
				k, v, _ := strings.Cut(tt.params, "=")
				want[k] = v
			}
			if !reflect.DeepEqual(cfg.Params, want) {
				t.Fatalf("params %v, want %v", cfg.Params, want)
			}
			if !strings.Contains(cfg.FormatDSN(), "charset=utf8mb4") {
				t.Fatalf("DSN %s does not set utf8mb4", cfg.FormatDSN())
			}
		})
	}
}

func TestSplitStatements(t *testing.T) {
	tests := []struct {
		name, sql string
		want      []string
		err       string
	}{
		{"one", "CREATE TABLE t (x INT);\n", []string{"CREATE TABLE t (x INT)"}, ""},
		{"no final semicolon", "SELECT 1;\nSELECT 2", []string{"SELECT 1", "SELECT 2"}, ""},
		{"comments only dropped", "-- header\n\n# note\n/* block; */\n;;", nil, ""},
		{"comment kept with its statement", "-- a table; with a semicolon\nCREATE TABLE t (x INT);", []string{"-- a table; with a semicolon\nCREATE TABLE t (x INT)"}, ""},
		{"semicolons in quotes", `INSERT INTO t VALUES ('a;b', "c;d", 'it''s;', 'back\';slash');SELECT ` + "`odd;name`" + ` FROM t`,
			[]string{`INSERT INTO t VALUES ('a;b', "c;d", 'it''s;', 'back\';slash')`, "SELECT `odd;name` FROM t"}, ""},
		{"double dash without space is minus", "SELECT 1--1;SELECT 2", []string{"SELECT 1--1", "SELECT 2"}, ""},
		{"executable comment is SQL", "/*!40101 SET NAMES utf8mb4 */;", []string{"/*!40101 SET NAMES utf8mb4 */"}, ""},
		{"single-statement trigger", "CREATE TRIGGER tr BEFORE INSERT ON t FOR EACH ROW SET NEW.x = 1;", []string{"CREATE TRIGGER tr BEFORE INSERT ON t FOR EACH ROW SET NEW.x = 1"}, ""},
		{"begin of a transaction is fine", "BEGIN;\nUPDATE t SET x = 1;\nCOMMIT;", []string{"BEGIN", "UPDATE t SET x = 1", "COMMIT"}, ""},
		{"compound trigger", "SELECT 1;\nCREATE TRIGGER tr BEFORE INSERT ON t FOR EACH ROW BEGIN SET NEW.x = 1; END;", nil,
			"statement 2 (CREATE TRIGGER tr BEFORE INSERT ON t FOR EACH ROW BEGIN SET NEW.x = 1): stored programs with BEGIN … END bodies cannot run statement by statement; give the trigger, procedure, function or event a single-statement body"},
		{"compound trigger after comments", "-- Code generated. DO NOT EDIT.\n\n# a trigger\nCREATE TRIGGER tr BEFORE INSERT ON t FOR EACH ROW BEGIN SET NEW.x = 1; END;", nil,
			"statement 1 (CREATE TRIGGER tr BEFORE INSERT ON t FOR EACH ROW BEGIN SET NEW.x = 1): stored programs with BEGIN … END bodies cannot run statement by statement; give the trigger, procedure, function or event a single-statement body"},
		{"delimiter", "DELIMITER //\nSELECT 1//", nil, "statement 1: DELIMITER is a command of the mysql client, not SQL; end each statement with a semicolon"},
		{"open comment", "SELECT 1; /* never closed", nil, "statement 2: a comment /* is not closed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := mysql.SplitStatements(tt.sql)
			if errText(err) != tt.err || !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("SplitStatements = %q, %v\nwant %q, %s", got, err, tt.want, tt.err)
			}
		})
	}
}

// TestExcerpt: a statement's excerpt in messages is its first line of SQL.
func TestExcerpt(t *testing.T) {
	long := "UPDATE job SET status = 'ABORTED', version = version + 1, updated_at = UTC_TIMESTAMP(6) WHERE status = 'CANCELLED'"
	tests := []struct{ name, stmt, want string }{
		{"one line", "SELECT 1", "SELECT 1"},
		{"more lines", "ALTER TABLE job\n    DROP CONSTRAINT c", "ALTER TABLE job …"},
		{"file header", "-- Code generated by taskgen. DO NOT EDIT.\n-- Migration 0015_x of model \"job\" for mysql,\n\n-- taskmodel:migrate\nALTER TABLE job DROP CONSTRAINT c", "ALTER TABLE job DROP CONSTRAINT c"},
		{"comments and blank lines", "# a note\n\n  -- indented\n--\nINSERT INTO t VALUES (1)\n", "INSERT INTO t VALUES (1)"},
		{"comment after the first line", "SELECT 1\n-- why", "SELECT 1 …"},
		{"double dash is minus", "SELECT 1--1", "SELECT 1--1"},
		{"long", long, long[:80] + " …"},
		{"comments only", "-- a\n-- b", "-- a …"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := mysql.Excerpt(tt.stmt); got != tt.want {
				t.Errorf("Excerpt(%q) = %q, want %q", tt.stmt, got, tt.want)
			}
		})
	}
}

// FuzzSplitStatements: splitting never panics, and the statements, joined
// back, hold every character of the input that is not blank space.
func FuzzSplitStatements(f *testing.F) {
	for _, s := range []string{"SELECT 1;", "'a;b'", "-- x\n;", "/*! x */;", "CREATE TRIGGER x BEGIN END"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, sql string) {
		stmts, err := mysql.SplitStatements(sql)
		if err != nil {
			return
		}
		for _, s := range stmts {
			if s == "" || s != strings.TrimSpace(s) {
				t.Fatalf("statement %q is empty or not trimmed", s)
			}
			if !strings.Contains(sql, s) {
				t.Fatalf("statement %q is not in the input", s)
			}
		}
	})
}

// TestMigrationFailedMessage: what a failed migration's error says was
// applied and where the next start resumes.
func TestMigrationFailedMessage(t *testing.T) {
	const head = "mysql: migration job/0002_x: statement %d of 6 failed (X): boom; "
	tests := []struct {
		statement, resume int
		want              string
		data              bool
	}{
		{1, 1, "nothing of it was applied, and the next start resumes at statement 1 once the cause is fixed", false},
		{2, 0, "statement 1 stayed applied (MySQL commits each schema change as it runs), and the next start resumes at statement 2 once the cause is fixed", false},
		{4, 4, "statements 1 to 3 stayed applied (MySQL commits each schema change as it runs), and the next start resumes at statement 4 once the cause is fixed", false},
		{4, 2, "statement 1 stayed applied (MySQL commits each schema change as it runs); statements 2 to 3, which it needs in the same session, ran (what they changed stays), and the next start runs them again from statement 2 once the cause is fixed", false},
		{3, 1, "statements 1 to 2, which it needs in the same session, ran (what they changed stays), and the next start runs them again from statement 1 once the cause is fixed", false},
		{2, 1, "statement 1, which it needs in the same session, ran (what it changed stays), and the next start runs it again from statement 1 once the cause is fixed", false},
		{4, 2, "statement 1 stayed applied (MySQL commits each schema change as it runs); statements 2 to 3 change rows, which a program still running the earlier version may have written since they ran, and the next start runs them again before statement 4 once the cause is fixed", true},
		{2, 1, "statement 1 changes rows, which a program still running the earlier version may have written since it ran, and the next start runs it again before statement 2 once the cause is fixed", true},
		{3, 3, "statements 1 to 2 stayed applied (MySQL commits each schema change as it runs), and the next start resumes at statement 3 once the cause is fixed", true},
	}
	for _, tt := range tests {
		err := &mysql.MigrationFailedError{Migration: "job/0002_x", Statement: tt.statement, Statements: 6, Resume: tt.resume, Data: tt.data, Excerpt: "X", Err: errors.New("boom")}
		if want := fmt.Sprintf(head, tt.statement) + tt.want; err.Error() != want {
			t.Errorf("statement %d, resume %d, data %v:\n%s\nwant\n%s", tt.statement, tt.resume, tt.data, err.Error(), want)
		}
	}
}

// TestDataStatement: which statements a failed statement's start runs
// again when they come right before it.
func TestDataStatement(t *testing.T) {
	tests := []struct {
		stmt string
		want bool
	}{
		{"INSERT INTO job_history (task_id) SELECT id FROM job", true},
		{"-- Status PAUSED is retired: its tasks move to QUEUED.\nINSERT INTO job_history (task_id) SELECT id FROM job", true},
		{"update job SET status = 'QUEUED' WHERE status = 'PAUSED'", true},
		{"UPDATE\tjob SET a = 1", true},
		{"DELETE FROM job WHERE note = 'x'", true},
		{"REPLACE INTO job (id) VALUES ('a')", true},
		{"/*!80000 UPDATE job SET a = 1 */", true},
		{"ALTER TABLE job ADD CONSTRAINT job_status_check CHECK (status IN ('QUEUED'))", false},
		{"-- UPDATE job SET a = 1\nALTER TABLE job DROP COLUMN a", false},
		{"SELECT COUNT(*) FROM job", false},
		{"SET @x = 1", false},
		{"UPDATED_AT", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := mysql.DataStatement(tt.stmt); got != tt.want {
			t.Errorf("DataStatement(%q) = %v, want %v", tt.stmt, got, tt.want)
		}
	}
}

// TestSessionStatement: which statements Migrate runs again, as a run,
// after a stop within them.
func TestSessionStatement(t *testing.T) {
	tests := []struct {
		stmt string
		want bool
	}{
		{"SET @tm_statement = (SELECT 'DO 0')", true},
		{"-- a comment\n# another\n/* and one more */ set @x = 1", true},
		{"PREPARE tm_statement FROM @tm_statement", true},
		{"EXECUTE tm_statement", true},
		{"DEALLOCATE PREPARE tm_statement", true},
		{"DROP PREPARE tm_statement", true},
		{"ALTER TABLE job ADD COLUMN a INT NULL", false},
		{"SET NAMES utf8mb4", false},
		{"/*!80000 SET @x = 1 */", true},
		{"/*! PREPARE s FROM @x */", true},
		{"SET\t@x = 1", true},
		{"set\n  @x := 1", true},
		{"SET@x = 1", true},
		{"PREPARE\ns FROM @x", true},
		{"EXECUTE\ts", true},
		{"DEALLOCATE   PREPARE s", true},
		{"DROP INDEX i ON job", false},
		{"EXECUTED_AT", false},
		{"", false},
		{"-- SET @x = 1\nCREATE INDEX i ON job (note)", false},
		{"-- only a comment", false},
	}
	for _, tt := range tests {
		if got := mysql.SessionStatement(tt.stmt); got != tt.want {
			t.Errorf("SessionStatement(%q) = %v, want %v", tt.stmt, got, tt.want)
		}
	}
}

// TestClassifyMessages classifies the errors as each server words them,
// MySQL's included (the tests' server is MariaDB).
func TestClassifyMessages(t *testing.T) {
	const why = ", which this program's spec does not have (a newer version of the spec likely migrated the database)"
	tests := []struct {
		name   string
		number uint16
		msg    string
		want   string
		is     error
	}{
		{"MySQL check", 3819, "Check constraint 'job_note_check' is violated.", "the value breaks the database's constraint job_note_check" + why, tasktype.ErrValidation},
		{"MariaDB check", 4025, "CONSTRAINT `job_note_check` failed for `db`.`job`", "note: the value breaks the database's constraint job_note_check" + why, tasktype.ErrValidation},
		{"duplicate with key name", 1586, "Duplicate entry 'a' for key 'job_note'", "task already exists: Duplicate entry 'a' for key 'job_note'", tasktype.ErrDuplicate},
		{"MySQL wrong value", 1366, "Incorrect integer value: 'x' for column 'n' at row 1", "n: is not a value of the column's type", tasktype.ErrValidation},
		{"MariaDB wrong value", 1366, "Incorrect integer value: 'x' for column `db`.`num`.`n` at row 1", "n: is not a value of the column's type", tasktype.ErrValidation},
		{"MySQL invalid JSON", 3140, `Invalid JSON text: "Invalid value." at position 0 in value for column 'job.doc'.`, "job.doc: is not valid JSON", tasktype.ErrValidation},
		{"deadlock stays as it is", 1213, "Deadlock found when trying to get lock; try restarting transaction", "insert: Error 1213: Deadlock found when trying to get lock; try restarting transaction", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := fmt.Errorf("insert: %w", &driver.MySQLError{Number: tt.number, Message: tt.msg})
			got := mysql.Classify(err)
			if errText(got) != tt.want || tt.is != nil && !errors.Is(got, tt.is) {
				t.Fatalf("Classify = %v, want %s", got, tt.want)
			}
		})
	}
	if !mysql.IsRetryable(&driver.MySQLError{Number: 1213}) || !mysql.IsRetryable(&driver.MySQLError{Number: 1205}) || mysql.IsRetryable(errors.New("x")) {
		t.Error("IsRetryable")
	}
	if !mysql.IsForeignKey(&driver.MySQLError{Number: 1452}) || mysql.IsForeignKey(&driver.MySQLError{Number: 1062}) {
		t.Error("IsForeignKey")
	}
}

// TestBatchTableLogged: the batch's temporary table is used only where the
// server does not log statements on temporary tables for its replicas.
func TestBatchTableLogged(t *testing.T) {
	for _, tc := range []struct {
		logBin  bool
		format  string
		mariaDB bool
		want    bool
	}{
		{false, "STATEMENT", true, false},
		{false, "MIXED", true, false},
		{true, "ROW", true, false},
		{true, "ROW", false, false},
		{true, "row", false, false},
		{true, "MIXED", true, true},
		{true, "MIXED", false, false},
		{true, "STATEMENT", true, true},
		{true, "STATEMENT", false, true},
		{true, "", false, true},
	} {
		if got := mysql.BatchTableLogged(tc.logBin, tc.format, tc.mariaDB); got != tc.want {
			t.Errorf("BatchTableLogged(log_bin %v, %q, MariaDB %v) = %v, want %v", tc.logBin, tc.format, tc.mariaDB, got, tc.want)
		}
	}
}
