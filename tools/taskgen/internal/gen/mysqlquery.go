package gen

import (
	"fmt"
	"strings"
)

// MySQLQueryFile is the statements file of a model's MySQL driver package,
// embedded by its driver.go and read by sqltable.ParseStatements.
const MySQLQueryFile = "query.sql"

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

// batchValue is one value that leads each transition's array in
// @tm_batch: its name and type in JSON_TABLE, and whether it may be null.
// A value that may be null is an array of one, or an empty array for null,
// read at [0]: a JSON null read into a text column is the text "null" on
// MySQL 8 (NULL on MariaDB), a path that finds nothing is NULL on both.
// Every column's value is such an array.
type batchValue struct {
	name, typ string
	nullable  bool
}

// mysqlBatchHead are the values that lead each transition's array in
// @tm_batch, before the table's columns: the guard and the history row.
// backends/mysql writes them in this order (appendBatch).
var mysqlBatchHead = []batchValue{
	{name: "tm_from_status", typ: mysqlName},
	{name: "tm_from_version", typ: "BIGINT"},
	{name: "tm_event", typ: mysqlName, nullable: true},
	{name: "tm_at", typ: "DATETIME(6)"},
	{name: "tm_attempt", typ: "INT"},
	{name: "tm_actor", typ: "LONGTEXT"},
	{name: "tm_message", typ: "LONGTEXT"},
}

// mysqlBatchTypes are the types of a batch's values, by their kind in
// sqltable.Table's Columns. Text is LONGTEXT, whatever its column's type:
// JSON_TABLE cuts a longer string to its column's length without an error,
// and the table's own column should refuse it.
var mysqlBatchTypes = map[string]string{"text": "LONGTEXT", "int": "BIGINT", "float": "DOUBLE",
	"bool": "BOOLEAN", "time": "DATETIME(6)", "uuid": "CHAR(36) CHARACTER SET ascii", "json": "LONGTEXT"}

// mysqlLong reports whether a column is one that MariaDB's in-memory
// temporary tables cannot hold: TEXT or JSON (LONGTEXT on MariaDB).
func mysqlLong(c column) bool { return c.Type == "TEXT" || c.JSON }

// mysqlBatchRows is the table function that reads @tm_batch as rows: b.
// Its columns are those of the head and of the table's columns (named as
// they are) that want keeps: a statement reads only what it uses.
func (g *generator) mysqlBatchRows(cols []column, want func(name string) bool) string {
	var defs []string
	for i, h := range mysqlBatchHead {
		if want(h.name) {
			leg := ""
			if h.nullable {
				leg = "[0]"
			}
			defs = append(defs, fmt.Sprintf("%s %s PATH '$[%d]%s'", h.name, h.typ, i, leg))
		}
	}
	for i, c := range cols {
		if !want(c.Name) {
			continue
		}
		kind, _, _ := g.columnValue(MySQL, c)
		typ, ok := mysqlBatchTypes[kind]
		if !ok {
			panic(fmt.Sprintf("taskgen: column %s of kind %s has no type in a MySQL batch", c.Name, kind))
		}
		defs = append(defs, fmt.Sprintf("%s %s PATH '$[%d][0]'", mysqlIdent(c.Name), typ, len(mysqlBatchHead)+i))
	}
	return "JSON_TABLE(@tm_batch, '$[*]' COLUMNS (\n        " + strings.Join(defs, ",\n        ") + ")) AS b"
}

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
	guardCols := map[string]bool{"id": true, "tm_from_status": true, "tm_from_version": true}
	lockRows := g.mysqlBatchRows(cols, func(n string) bool { return guardCols[n] })
	historyCols := map[string]bool{"status": true}
	for _, h := range mysqlBatchHead {
		historyCols[h.name] = true
	}
	historyRows := g.mysqlBatchRows(cols, func(n string) bool { return guardCols[n] || historyCols[n] })
	updateCols, longCols := map[string]bool{}, map[string]bool{}
	var longs []column
	for _, c := range cols {
		switch {
		case c.Primary || createdOnly(c):
		case mysqlLong(c):
			longCols[c.Name] = true
			longs = append(longs, c)
		default:
			updateCols[c.Name] = true
		}
	}
	updateRows := g.mysqlBatchRows(cols, func(n string) bool { return guardCols[n] || updateCols[n] })
	bguard := "t.id = b.id AND t.status = b.tm_from_status AND t.version = b.tm_from_version"
	p("-- name: TransitionBatch\n-- A batch of many transitions is one transaction of the statements Transition…,\n")
	p("-- each run once for the whole batch. This one keeps the batch in @tm_batch, a\n")
	p("-- JSON array with an array per transition: its task's status and version before\n")
	p("-- it (the guard), its history row's event, time, attempt, actor and message,\n")
	p("-- then the value of every column of the table in driver.go's Columns order.\n")
	p("-- A value that may be null (the event, every column's) is an array of one, or\n")
	p("-- an empty array for null, read at [0]: a path that finds nothing is NULL on\n")
	p("-- MySQL and MariaDB, a JSON null read as text is \"null\" on MySQL 8.\n")
	p("SET @tm_batch = sqlc.arg(tm_batch);\n\n")
	p("-- name: TransitionLock\n-- Locks the tasks of the batch that still have the status and version its\n")
	p("-- transitions start from, in the batch's order (by id), and keeps their ids in\n-- @tm_ids: the transitions applied.\n")
	if len(longs) == 0 {
		p("SELECT JSON_ARRAYAGG(id) INTO @tm_ids FROM (\n    SELECT t.id FROM %s AS t JOIN %s ON %s\n    FOR UPDATE\n) AS tm_locked;\n\n", table, lockRows, bguard)
	} else {
		var same []string
		for _, c := range longs {
			same = append(same, fmt.Sprintf("CAST(t.%s AS BINARY) <=> CAST(b.%s AS BINARY)", q(c.Name), q(c.Name)))
		}
		// The lock and the long update read the guard and those columns.
		lockRows = g.mysqlBatchRows(cols, func(n string) bool { return guardCols[n] || longCols[n] })
		p("-- It also sets @tm_long to 1 when a transition changes a column of\n-- TransitionUpdateLong, to 0 when none does.\n")
		p("SELECT JSON_ARRAYAGG(id), COALESCE(MAX(tm_long), 0) INTO @tm_ids, @tm_long FROM (\n")
		p("    SELECT t.id, NOT (%s) AS tm_long\n", strings.Join(same, "\n        AND "))
		p("    FROM %s AS t JOIN %s ON %s\n    FOR UPDATE\n) AS tm_locked;\n\n", table, lockRows, bguard)
		var lsets []string
		for _, c := range longs {
			lsets = append(lsets, "t."+q(c.Name)+" = b."+q(c.Name))
		}
		p("-- name: TransitionUpdateLong\n-- The columns of the transitions applied that MariaDB's in-memory temporary\n")
		p("-- tables cannot hold (TEXT, JSON), when a transition changes one\n")
		p("-- (@tm_long): otherwise MariaDB finds the WHERE impossible and updates\n")
		p("-- nothing. An UPDATE of a join keeps the new values in a temporary table\n")
		p("-- until the join is read: with one of these columns, a table on disk for\n")
		p("-- every batch. TransitionUpdateShort sets the other columns; this runs\n-- before it, while the guard holds.\n")
		p("UPDATE %s AS t JOIN %s ON %s\nSET %s\nWHERE @tm_long = 1;\n\n", table, lockRows, bguard, strings.Join(lsets, ",\n    "))
	}
	p("-- name: TransitionHistory\n-- The history rows of the transitions applied, numbered after the task's last.\n")
	p("INSERT INTO %s (%s)\nSELECT t.id, t.%s + 1, b.tm_from_status, b.status, b.tm_event, b.tm_at, b.tm_attempt, b.tm_actor, b.tm_message\n", history, histCols, HistorySeqColumn)
	p("FROM %s AS t JOIN %s ON %s;\n\n", table, historyRows, bguard)
	var bsets []string
	for _, c := range cols {
		if updateCols[c.Name] {
			bsets = append(bsets, "t."+q(c.Name)+" = b."+q(c.Name))
		}
	}
	if len(longs) == 0 {
		p("-- name: TransitionUpdate\n-- The transitions applied: every column but the id and creation time.\n")
	} else {
		// Not named TransitionUpdate: a backends/mysql older than
		// TransitionUpdateLong would run it alone and lose the text.
		p("-- name: TransitionUpdateShort\n-- The transitions applied: every column but the id, the creation time and\n-- those of TransitionUpdateLong.\n")
	}
	p("UPDATE %s AS t JOIN %s ON %s\nSET %s,\n    t.%s = t.%s + 1;\n\n", table, updateRows, bguard, strings.Join(bsets, ",\n    "), HistorySeqColumn, HistorySeqColumn)
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
