package gen

import (
	"fmt"
	"slices"
	"strings"

	"github.com/pingcap/tidb/pkg/parser"
	_ "github.com/pingcap/tidb/pkg/parser/test_driver" // the parser's value types
)

// MySQLQueryFile and MySQLScriptFile are the statements files of a model's
// MySQL driver package, embedded by its driver.go and read by
// sqltable.ParseStatements: the statements sqlc's MySQL engine parses,
// which sqlc vet checks against the model's MySQL migrations (sqlc.yaml),
// and those it cannot parse.
const (
	MySQLQueryFile  = "query.sql"
	MySQLScriptFile = "script.sql"
)

// mysqlChecked are the statements of a model's MySQL driver that go to
// MySQLQueryFile, with their sqlc command, when sqlc parses them
// (sqlcParses). sqlc's MySQL engine (TiDB's
// parser) cannot parse the others: JSON_TABLE, SELECT … INTO a user
// variable, a parameter in LIMIT, a table the migrations do not create
// (the batch's temporary table), or a parameter used with two types
// (InsertHistoryGuarded's tm_from_status, NULL for a first history row).
var mysqlChecked = map[string]string{
	"Insert": ":exec", "InsertHistory": ":exec", "UpdateGuarded": ":execrows", "Update": ":execrows",
	"Get": ":one", "Delete": ":execrows", "History": ":many", "Claimable": ":one", "Heartbeat": ":execrows",
}

// sqlcParses reports whether sqlc's MySQL engine parses stmt: it reads
// statements with TiDB's parser, which refuses, for one, a parameter named
// after a keyword (sqlc.arg(rows)), so that such a statement goes to
// MySQLScriptFile.
func sqlcParses(stmt string) bool {
	_, _, err := parser.New().Parse(stmt, "", "")
	return err == nil
}

// mysqlQueryFiles renders the model's MySQL statements (mysqlQuerySQL) as
// the two files MySQLQueryFile and MySQLScriptFile.
func (g *generator) mysqlQueryFiles() (query, script []byte) {
	text := string(g.mysqlQuerySQL())
	first := strings.Index(text, "\n-- name: ")
	var q, s strings.Builder
	fmt.Fprintf(&q, "%s\n-- Statements of model %q for MySQL and MariaDB, run by backends/mysql's driver:\n", SQLHeader, g.m.Name)
	fmt.Fprintf(&q, "-- those sqlc checks against the model's MySQL migrations (sqlc vet). %s holds\n-- the others.\n\n", MySQLScriptFile)
	fmt.Fprintf(&s, "%s\n-- Statements of model %q for MySQL and MariaDB, run by backends/mysql's driver:\n", SQLHeader, g.m.Name)
	fmt.Fprintf(&s, "-- those sqlc's MySQL engine cannot parse (JSON_TABLE, user variables, a\n-- parameter in LIMIT, the batch's temporary table). %s holds the others.\n\n", MySQLQueryFile)
	for _, block := range strings.Split(text[first:], "\n-- name: ")[1:] {
		name, rest, _ := strings.Cut(block, "\n")
		body := strings.TrimRight(rest, "\n") + "\n\n"
		if cmd, ok := mysqlChecked[name]; ok && sqlcParses(body) {
			q.WriteString("-- name: " + name + " " + cmd + "\n" + body)
		} else {
			s.WriteString("-- name: " + name + "\n" + body)
		}
	}
	return []byte(strings.TrimRight(q.String(), "\n") + "\n"), []byte(strings.TrimRight(s.String(), "\n") + "\n")
}

// mysqlIDsOf is the table function that reads the ids of a JSON array
// (src: a parameter or a user variable) as rows; their character set is
// the id column's, so that a join reads the task table by its primary key.
func mysqlIDsOf(src string) string {
	return "JSON_TABLE(" + src + ", '$[*]' COLUMNS (id CHAR(36) CHARACTER SET ascii PATH '$')) AS j"
}

// mysqlIDs reads the ids of the parameter tm_ids; mysqlLocked those a
// ReserveLock or ClaimLock statement locked, kept in the connection's user
// variable @tm_ids for the statements after it in the same query.
var (
	mysqlIDs    = mysqlIDsOf("sqlc.arg(tm_ids)")
	mysqlLocked = mysqlIDsOf("@tm_ids")
)

// batchValue is a column of a batch's table (TransitionTable) that is not
// a column of the task's: the guard and the history row.
type batchValue struct{ name, typ string }

// mysqlBatchHead are the columns of a batch's table before the task's
// columns: the guard (the task's status and version before the transition)
// and the history row's event, time, attempt, actor and message.
var mysqlBatchHead = []batchValue{
	{name: "tm_from_status", typ: mysqlName},
	{name: "tm_from_version", typ: "BIGINT"},
	{name: "tm_event", typ: mysqlName},
	{name: "tm_at", typ: "DATETIME(6)"},
	{name: "tm_attempt", typ: "INT"},
	{name: "tm_actor", typ: "LONGTEXT"},
	{name: "tm_message", typ: "LONGTEXT"},
}

// mysqlBatchTypes are the types of a batch's table's columns, by their kind
// in sqltable.Table's Columns. Text is LONGTEXT, whatever its column's type:
// the task table's own column, with its CHECK, refuses a value too long for
// it, and the batch's table should not refuse it first with another error.
var mysqlBatchTypes = map[string]string{"text": "LONGTEXT", "int": "BIGINT", "float": "DOUBLE",
	"bool": "BOOLEAN", "time": "DATETIME(6)", "uuid": "CHAR(36) CHARACTER SET ascii COLLATE ascii_bin", "json": "LONGTEXT"}

// mysqlLong reports whether a column is one that MariaDB's in-memory
// temporary tables cannot hold: TEXT or JSON (LONGTEXT on MariaDB).
func mysqlLong(c column) bool { return c.Type == "TEXT" || c.JSON }

// MySQLBatchTable is the name of the temporary table that holds a batch of
// transitions of a model whose table is table (TransitionTable): the prefix
// tm_ is reserved, so no model's table has it.
func MySQLBatchTable(table string) string { return "tm_batch_" + table }

// mysqlQuerySQL renders the statements of the model's MySQL driver. Its
// parameters are written sqlc.arg(name) as in the other engines' query
// files; sqltable.ParseStatements turns each into a ? and records its name.
//
// MySQL has no RETURNING on UPDATE (MariaDB has none either), and cannot
// update a table that a subquery of the statement reads: a reservation
// locks the ids FOR UPDATE SKIP LOCKED into the user variable @tm_ids
// (ReserveLock, ClaimLock), updates those rows by id, and reads them back
// (Locked), in one transaction sent as one query of many statements.
func (g *generator) mysqlQuerySQL() []byte {
	m := g.m
	table, history := Table(m)
	q := mysqlIdent
	cols := g.columns(MySQL)
	var names, args, sets []string
	for _, c := range cols {
		names = append(names, q(c.Name))
		args = append(args, "sqlc.arg("+c.Name+")")
		if !c.Primary && !createdOnly(c) {
			sets = append(sets, q(c.Name)+" = sqlc.arg("+c.Name+")")
		}
	}
	var selNames []string
	for _, n := range g.tableColumns(MySQL) {
		selNames = append(selNames, q(n))
	}
	sel := strings.Join(selNames, ", ")
	tsel := "t." + strings.Join(selNames, ", t.")
	histCols := "task_id, seq, from_status, to_status, event, at, attempt, actor, message"
	guard := "WHERE id = sqlc.arg(id) AND status = sqlc.arg(tm_from_status) AND version = sqlc.arg(tm_from_version)"

	var b strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	p("%s\n-- Statements of model %q for MySQL and MariaDB, run by backends/mysql's driver.\n\n", SQLHeader, m.Name)
	p("-- name: Insert\nINSERT INTO %s (%s)\nVALUES (%s);\n\n", table, strings.Join(names, ", "), strings.Join(args, ", "))
	p("-- name: InsertHistory\n-- A new task's first history row, in the transaction of its Insert: seq 1, where\n")
	p("-- the task's count of them (%s) starts. A batch of new tasks repeats the\n", HistorySeqColumn)
	p("-- VALUES row of both statements: two statements for the batch.\n")
	p("INSERT INTO %s (%s)\nVALUES (sqlc.arg(tm_task_id), 1, sqlc.arg(tm_from_status), sqlc.arg(tm_to_status), sqlc.arg(tm_event), sqlc.arg(tm_at), sqlc.arg(tm_attempt), sqlc.arg(tm_actor), sqlc.arg(tm_message));\n\n", history, histCols)
	p("-- name: InsertHistoryGuarded\n-- The history row of the UpdateGuarded that follows it in the same transaction,\n")
	p("-- written only while the task has the status and version that update's guard\n")
	p("-- names: the task is locked FOR UPDATE, so the update then matches it. Numbered\n")
	p("-- by the count that update sets. (ROW_COUNT() after the update was no guard: a\n")
	p("-- batch whose client died midway committed updates without their rows.)\n")
	p("INSERT INTO %s (%s)\nSELECT id, %s + 1, sqlc.arg(tm_from_status), sqlc.arg(tm_to_status), sqlc.arg(tm_event),\n", history, histCols, HistorySeqColumn)
	p("    sqlc.arg(tm_at), sqlc.arg(tm_attempt), sqlc.arg(tm_actor), sqlc.arg(tm_message)\n")
	p("FROM %s WHERE id = sqlc.arg(tm_task_id) AND status = sqlc.arg(tm_from_status) AND version = sqlc.arg(tm_from_version)\nFOR UPDATE;\n\n", table)
	p("-- name: UpdateGuarded\n-- The status-changing half of a transition (InsertHistoryGuarded is the other),\n-- in one transaction; no row when another writer changed the task first. A small\n-- batch of transitions is a pair of these statements each; a larger one is\n-- written by the statements Transition… below.\n")
	p("UPDATE %s SET %s,\n    %s = %s + 1\n%s;\n\n", table, strings.Join(sets, ",\n    "), HistorySeqColumn, HistorySeqColumn, guard)
	var longs []column
	batchCols := slices.Clone(mysqlBatchHead)
	var fillArgs []string
	for _, h := range mysqlBatchHead {
		fillArgs = append(fillArgs, "sqlc.arg("+h.name+")")
	}
	var bsets []string
	for _, c := range cols {
		if createdOnly(c) {
			continue
		}
		kind, _, _ := g.columnValue(MySQL, c)
		typ, ok := mysqlBatchTypes[kind]
		if !ok {
			panic(fmt.Sprintf("taskgen: column %s of kind %s has no type in a MySQL batch", c.Name, kind))
		}
		batchCols = append(batchCols, batchValue{name: q(c.Name), typ: typ})
		fillArgs = append(fillArgs, "sqlc.arg("+c.Name+")")
		switch {
		case c.Primary:
		case mysqlLong(c):
			longs = append(longs, c)
		default:
			bsets = append(bsets, "t."+q(c.Name)+" = b."+q(c.Name))
		}
	}
	batch := MySQLBatchTable(table)
	var defs, fillNames []string
	for _, c := range batchCols {
		defs = append(defs, c.name+" "+c.typ)
		fillNames = append(fillNames, c.name)
	}
	bguard := "t.id = b.id AND t.status = b.tm_from_status AND t.version = b.tm_from_version"
	join := fmt.Sprintf("%s AS t JOIN %s AS b ON %s", table, batch, bguard)
	p("-- name: TransitionTable\n-- A batch of many transitions is one transaction of the statements Transition…,\n")
	p("-- each run once for the whole batch, which they read from this temporary table\n")
	p("-- (one a connection, which the driver creates when a statement finds it\n")
	p("-- missing): a row per transition, with its task's status and version before\n")
	p("-- it (the guard), its history row's event, time, attempt, actor and message,\n")
	p("-- and the value of every column the transition sets.\n")
	p("CREATE TEMPORARY TABLE IF NOT EXISTS %s (\n    %s,\n    PRIMARY KEY (`id`)\n) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;\n\n", batch, strings.Join(defs, ",\n    "))
	p("-- name: TransitionClear\n-- Empties the batch's table before a batch, outside its transaction (a TRUNCATE\n")
	p("-- commits; a batch rolled back leaves the table as it found it). A TRUNCATE\n")
	p("-- costs MariaDB less than a DELETE of a batch's rows.\n")
	p("TRUNCATE TABLE %s;\n\n", batch)
	p("-- name: TransitionFill\n-- The batch's transitions: the driver repeats the VALUES row for each.\n")
	p("INSERT INTO %s (%s)\nVALUES (%s);\n\n", batch, strings.Join(fillNames, ", "), strings.Join(fillArgs, ", "))
	p("-- name: TransitionLock\n-- Locks the tasks of the batch that still have the status and version its\n")
	p("-- transitions start from, in the order of their ids, and keeps their ids in\n-- @tm_ids: the transitions applied.\n")
	if len(longs) == 0 {
		p("SELECT JSON_ARRAYAGG(id) INTO @tm_ids FROM (\n    SELECT t.id FROM %s\n    FOR UPDATE\n) AS tm_locked;\n\n", join)
	} else {
		var same, lsets []string
		for _, c := range longs {
			same = append(same, fmt.Sprintf("CAST(t.%s AS BINARY) <=> CAST(b.%s AS BINARY)", q(c.Name), q(c.Name)))
			lsets = append(lsets, "t."+q(c.Name)+" = b."+q(c.Name))
		}
		p("-- It also sets @tm_long to 1 when a transition changes a column of\n-- TransitionUpdateLong, to 0 when none does.\n")
		p("SELECT JSON_ARRAYAGG(id), COALESCE(MAX(tm_long), 0) INTO @tm_ids, @tm_long FROM (\n")
		p("    SELECT t.id, NOT (%s) AS tm_long\n", strings.Join(same, "\n        AND "))
		p("    FROM %s\n    FOR UPDATE\n) AS tm_locked;\n\n", join)
		p("-- name: TransitionUpdateLong\n-- The columns of the transitions applied that MariaDB's in-memory temporary\n")
		p("-- tables cannot hold (TEXT, JSON), when a transition changes one\n")
		p("-- (@tm_long): otherwise MariaDB finds the WHERE impossible and updates\n")
		p("-- nothing. An UPDATE of a join keeps the new values in a temporary table\n")
		p("-- until the join is read: with one of these columns, a table on disk for\n")
		p("-- every batch. TransitionUpdateShort sets the other columns; this runs\n-- before it, while the guard holds.\n")
		p("UPDATE %s\nSET %s\nWHERE @tm_long = 1;\n\n", join, strings.Join(lsets, ",\n    "))
	}
	p("-- name: TransitionHistory\n-- The history rows of the transitions applied, numbered after the task's last.\n")
	p("INSERT INTO %s (%s)\nSELECT t.id, t.%s + 1, b.tm_from_status, b.status, b.tm_event, b.tm_at, b.tm_attempt, b.tm_actor, b.tm_message\n", history, histCols, HistorySeqColumn)
	p("FROM %s;\n\n", join)
	if len(longs) == 0 {
		p("-- name: TransitionUpdate\n-- The transitions applied: every column but the id and creation time.\n")
	} else {
		// Not named TransitionUpdate: a backends/mysql older than
		// TransitionUpdateLong would run it alone and lose the text.
		p("-- name: TransitionUpdateShort\n-- The transitions applied: every column but the id, the creation time and\n-- those of TransitionUpdateLong.\n")
	}
	p("UPDATE %s\nSET %s,\n    t.%s = t.%s + 1;\n\n", join, strings.Join(bsets, ",\n    "), HistorySeqColumn, HistorySeqColumn)
	p("-- name: Transitioned\n-- The ids of the tasks TransitionLock locked.\nSELECT id FROM %s;\n\n", mysqlLocked)
	p("-- name: Update\n-- Changes fields but not the status (progress, details); guarded likewise.\n")
	p("UPDATE %s SET %s\n%s;\n\n", table, strings.Join(withoutStatus(sets), ",\n    "), guard)
	p("-- name: Get\nSELECT %s FROM %s WHERE id = sqlc.arg(id);\n\n", sel, table)
	p("-- name: Keys\n-- The keys (status and version) of many tasks in one read: what a worker pool\n-- polls to see its running tasks cancelled by another process.\n")
	p("SELECT t.id, t.status, t.version FROM %s AS t JOIN %s ON t.id = j.id;\n\n", table, mysqlIDs)
	p("-- name: Delete\n-- Its history goes with it (ON DELETE CASCADE).\nDELETE FROM %s WHERE id = sqlc.arg(id);\n\n", table)
	p("-- name: History\nSELECT %s FROM %s WHERE task_id = sqlc.arg(tm_task_id) ORDER BY seq;\n\n", histCols, history)
	p("-- name: ListByStatus\n-- Tasks in one status, oldest first: what workers and sweepers scan.\n")
	p("SELECT %s FROM %s WHERE status = sqlc.arg(tm_status)\nORDER BY created_at, id\nLIMIT sqlc.arg(tm_max_rows);\n\n", sel, table)
	if terminal := m.TerminalStatuses(); len(terminal) > 0 {
		p("-- name: DeleteFinished\n-- Retention: removes up to tm_max_rows finished tasks (and their history)\n-- whose last change is older than tm_before, oldest first. MariaDB reads the\n")
		p("-- index of tasks by their last change (%s_updated_at_idx) from its start,\n-- and passes over the unfinished tasks that have not changed since tm_before.\n", table)
		p("DELETE FROM %s WHERE %s AND updated_at < sqlc.arg(tm_before)\nORDER BY updated_at LIMIT sqlc.arg(tm_max_rows);\n\n", table, inList("status", terminal))
	}
	var conds []string
	for _, s := range m.Statuses {
		if s.Timeout != nil {
			conds = append(conds, fmt.Sprintf("(status = %s AND %s <= sqlc.arg(tm_%s_deadline))", quoteSQL(s.Name), q(s.EnteredAt), GoNameToSnake(s.GoName)))
		}
	}
	if len(conds) > 0 {
		p("-- name: Due\n-- Tasks whose timeout has passed: one deadline (now - after) per timed status.\n")
		p("SELECT %s FROM %s\nWHERE %s\nORDER BY updated_at, id\nLIMIT sqlc.arg(tm_max_rows);\n\n", sel, table, strings.Join(conds, "\n   OR "))
	}
	p("-- name: ChangedSince\n-- Tasks changed since (tm_since, tm_after_id), in (updated_at, id) order: what\n-- a polling change stream reads.\n")
	p("SELECT id, version, status, updated_at FROM %s\nWHERE updated_at >= sqlc.arg(tm_since) AND (updated_at > sqlc.arg(tm_since_strict) OR id > sqlc.arg(tm_after_id))\nORDER BY updated_at, id\nLIMIT sqlc.arg(tm_max_rows);\n", table)
	if w := m.Worker; w != nil {
		free := fmt.Sprintf("(%s IS NULL OR %s <= sqlc.arg(tm_now))", LeaseExpiresColumn, LeaseExpiresColumn)
		take := fmt.Sprintf("t.%s = sqlc.arg(tm_owner), t.%s = sqlc.arg(tm_expires_at), t.%s = t.%s + 1", LeaseOwnerColumn, LeaseExpiresColumn, LeaseAttemptColumn, LeaseAttemptColumn)
		lock := func(hint, where string) {
			p("SELECT JSON_ARRAYAGG(id) INTO @tm_ids FROM (\n    SELECT id FROM %s%s\n    WHERE %s\n", table, hint, where)
			p("    ORDER BY created_at, id\n    LIMIT sqlc.arg(tm_max_rows)\n    FOR UPDATE SKIP LOCKED\n) AS tm_locked;\n\n")
		}
		p("\n-- name: ReserveLock\n-- Locks up to tm_max_rows tasks in tm_status that no live lease holds (none,\n")
		p("-- or one expired by tm_now), oldest first, and keeps their ids in @tm_ids, a\n")
		p("-- JSON array (NULL for none); rows other transactions hold are skipped, so a\n-- task goes to one worker.\n")
		lock("", "status = sqlc.arg(tm_status) AND "+free)
		p("-- name: Reserve\n-- Leases the tasks ReserveLock locked and counts an attempt on each. Status\n-- and version are unchanged: the worker then fires the claim event.\n")
		p("UPDATE %s AS t JOIN %s ON t.id = j.id\nSET %s;\n\n", table, mysqlLocked, take)
		p("-- name: Locked\n-- The tasks ReserveLock or ClaimLock locked, in no order: the driver sorts\n")
		p("-- them, oldest first. ORDER BY here sorted rows with text columns in a\n-- temporary table on disk, for every claim.\n")
		p("SELECT %s FROM %s AS t JOIN %s ON t.id = j.id;\n", tsel, table, mysqlLocked)
		if g.sqlClaim() {
			p("\n-- name: ClaimLock\n-- ReserveLock in the queue %s, after the position (tm_after_created_at,\n-- tm_after_id), read from the position on: a range of the status index\n", w.Queue.Name)
			p("-- that starts at the position, which FORCE INDEX makes the optimizer take.\n")
			p("-- MariaDB otherwise reads the index from the status's first entry (ref\n")
			p("-- access) and passes every entry before the position, the claimed tasks'\n")
			p("-- that purge has not yet removed included.\n")
			lock(fmt.Sprintf(" FORCE INDEX (%s_status_created_at_idx)", table), fmt.Sprintf("status = %s AND %s\n      AND created_at >= sqlc.arg(tm_after_created_at) AND (created_at > sqlc.arg(tm_after_created_at_eq) OR id > sqlc.arg(tm_after_id))", quoteSQL(w.Queue.Name), free))
			p("-- name: Claim\n-- Reserve and the claim event %q in one update: every task ClaimLock\n", w.Claim.Name)
			p("-- locked moves from %s to %s as Fire moves it (version + 1, updated_at\n", w.Queue.Name, w.Running.Name)
			p("-- and the entry timestamp at tm_now, the progress the status maps) and takes\n-- its lease; the driver appends the history rows in the same transaction.\n")
			var claimSets []string
			for _, s := range g.claimSets(MySQL, "sqlc.arg(tm_now)") {
				name, value, _ := strings.Cut(s, " = ")
				claimSets = append(claimSets, "t."+q(name)+" = "+strings.ReplaceAll(value, "version + 1", "t.version + 1"))
			}
			claimSets = append(claimSets, fmt.Sprintf("t.%s = t.%s + 1", HistorySeqColumn, HistorySeqColumn))
			p("UPDATE %s AS t JOIN %s ON t.id = j.id\nSET %s,\n    %s;\n", table, mysqlLocked, strings.Join(claimSets, ",\n    "), take)
			p("\n-- name: ClaimHistory\n-- The history rows of the tasks Claim moved, in one statement: actor tm_owner,\n-- the lease's attempt.\n")
			p("INSERT INTO %s (%s)\n", history, histCols)
			p("SELECT t.id, t.%s, %s, %s, %s, sqlc.arg(tm_now), t.%s, sqlc.arg(tm_owner),\n", HistorySeqColumn, quoteSQL(w.Queue.Name), quoteSQL(w.Running.Name), quoteSQL(w.Claim.Name), LeaseAttemptColumn)
			p("    concat('claimed by ', sqlc.arg(tm_owner), ' (attempt ', t.%s, ')')\nFROM %s AS t JOIN %s ON t.id = j.id;\n", LeaseAttemptColumn, table, mysqlLocked)
		}
		p("\n-- name: Claimable\n-- Whether a task in tm_status is claimable (no live lease holds it): what\n-- a waiting pool polls.\n")
		p("SELECT EXISTS (SELECT 1 FROM %s WHERE status = sqlc.arg(tm_status) AND %s) AS claimable;\n\n", table, free)
		p("-- name: Heartbeat\n-- Extends a lease while its holder (owner and attempt) still has it and the\n")
		p("-- task is still in tm_status (a task never leased, attempt 0, has no holder);\n-- no row tells the worker to stop.\n")
		p("UPDATE %s SET %s = sqlc.arg(tm_expires_at)\nWHERE id = sqlc.arg(tm_task_id) AND %s = sqlc.arg(tm_owner) AND %s = sqlc.arg(tm_attempt)\n", table, LeaseExpiresColumn, LeaseOwnerColumn, LeaseAttemptColumn)
		p("  AND %s > 0 AND status = sqlc.arg(tm_status);\n\n", LeaseAttemptColumn)
		p("-- name: Lost\n-- Tasks in tm_status whose lease expired: their worker is gone.\n")
		p("SELECT %s FROM %s\nWHERE status = sqlc.arg(tm_status) AND %s <= sqlc.arg(tm_now)\nORDER BY %s, id\nLIMIT sqlc.arg(tm_max_rows);\n", sel, table, LeaseExpiresColumn, LeaseExpiresColumn)
	}
	return []byte(b.String())
}
