package gen

import (
	"fmt"
	"strings"
)

// querySQL renders the sqlc query file of the model for an engine.
//
// PostgreSQL writes a row and its history row in one statement (a
// data-modifying CTE); SQLite has no DML in CTEs, so its queries are run in
// one transaction by the store. Every write is guarded by the task's status
// and version: zero rows affected means another writer won.
func (g *generator) querySQL(e Engine) []byte {
	m := g.m
	table, history := Table(m)
	pg := e == PostgreSQL
	cols := g.columns(e)
	names := make([]string, len(cols))
	args := make([]string, len(cols))
	sets := []string{}
	for i, c := range cols {
		names[i] = c.Name
		a := g.arg(e, c.Name, c.Type)
		if !c.NotNull {
			a = g.narg(e, c.Name, c.Type)
		}
		args[i] = a
		if !c.Primary && !createdOnly(c) {
			sets = append(sets, c.Name+" = "+a)
		}
	}
	colList := strings.Join(names, ", ")
	// What reads a whole task selects every column of the table, so that
	// sqlc returns the table's row struct.
	selList := strings.Join(g.tableColumns(e), ", ")
	histCols := "task_id, seq, from_status, to_status, event, at, attempt, actor, message"
	var b strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	p("%s\n-- Queries of model %q for %s, compiled by sqlc.\n\n", SQLHeader, m.Name, e)

	ts := pick(pg, "timestamptz", "DATETIME")
	txt := pick(pg, "text", "TEXT")
	if pg {
		p("-- name: Create :execrows\n-- Inserts a task and its first history row (seq 1).\n")
		create := fmt.Sprintf("WITH t AS (\n    INSERT INTO %s (%s)\n    VALUES (%s)\n    RETURNING id, status, created_at\n)\n", table, colList, strings.Join(args, ", ")) +
			fmt.Sprintf("INSERT INTO %s (%s)\nSELECT t.id, 1, NULL, t.status, NULL, t.created_at, 0, sqlc.arg(tm_actor)::text, sqlc.arg(tm_message)::text FROM t;\n\n", history, histCols)
		b.WriteString(create)

		p("-- name: Transition :execrows\n-- Moves a task that is still in from_status at from_version, and appends its\n-- history row; 0 rows when another writer changed it first.\n")
		// The history row's seq is the task's counter (HistorySeqColumn,
		// migration 0005_history_seq), incremented in the same update.
		p("WITH t AS (\n    UPDATE %s SET %s,\n        %s = %s + 1\n    WHERE id = sqlc.arg(id)::uuid AND status = sqlc.arg(tm_from_status)::text AND version = sqlc.arg(tm_from_version)::bigint\n    RETURNING id, %s\n)\n", table, strings.Join(sets, ",\n        "), HistorySeqColumn, HistorySeqColumn, HistorySeqColumn)
		p("INSERT INTO %s (%s)\nSELECT t.id, t.%s,\n", history, histCols, HistorySeqColumn)
		tail := "    sqlc.arg(tm_from_status)::text, sqlc.arg(status)::text, sqlc.arg(tm_event)::text, sqlc.arg(updated_at)::timestamptz,\n    sqlc.arg(tm_attempt)::integer, sqlc.arg(tm_actor)::text, sqlc.arg(tm_message)::text\nFROM t"
		p("%s;\n\n", tail)
		// Many transitions in one statement, for group commit: the rows
		// arrive as one array parameter per column, and per guard and
		// history field, sent by pgx in binary (a jsonb array of objects cost
		// the server a parse, a sort of every object's keys and a text
		// conversion of every value: the server's CPU per worked task fell
		// from 107 to 86 µs in sdk/worker's WorkQueued). It returns the ids
		// whose guard held. A batch never holds
		// the same task twice. sqlc cannot type an array's NULL elements
		// (sqlc-dev/sqlc#1851), so a nullable column that is not JSON comes
		// with a boolean array tm_null_<column> that marks its NULLs (a JSON
		// column's NULL is a nil element).
		var setsFrom []string
		for _, c := range cols {
			if !c.Primary && !createdOnly(c) {
				setsFrom = append(setsFrom, c.Name+" = u."+c.Name)
			}
		}
		field := func(name, typ string) string {
			return fmt.Sprintf("unnest(sqlc.arg(%s)::%s[]) AS %s", name, typ, name)
		}
		// The guard (transitions only) and the history row's actor and message.
		guard := [][2]string{{"tm_from_status", "text"}, {"tm_from_version", "bigint"}, {"tm_event", "text"}, {"tm_attempt", "integer"}}
		hist := [][2]string{{"tm_actor", "text"}, {"tm_message", "text"}}
		// rows reads the batch's arrays: the columns but those skip names,
		// then extra.
		rows := func(skip func(column) bool, extra ...[2]string) string {
			var arr, sel []string
			for _, c := range cols {
				if skip != nil && skip(c) {
					continue
				}
				arr = append(arr, field(c.Name, c.Type))
				expr := c.Name
				if !c.NotNull && !c.JSON {
					arr = append(arr, field(NullFlag(c.Name), "boolean"))
					expr = fmt.Sprintf("CASE WHEN %s THEN NULL ELSE %s END AS %s", NullFlag(c.Name), c.Name, c.Name)
				}
				sel = append(sel, expr)
			}
			for _, x := range extra {
				arr = append(arr, field(x[0], x[1]))
				sel = append(sel, x[0])
			}
			return "WITH a AS (\n    SELECT " + strings.Join(arr, ",\n        ") + "\n), u AS (\n    SELECT " + strings.Join(sel, ",\n        ") + "\n    FROM a\n), t AS (\n"
		}
		// Group commit of creates: many rows in one statement, read from
		// arrays as TransitionMany reads them. (A pipeline of Create
		// statements cost one executor start and one parse of every CHECK
		// constraint per row.)
		p("-- name: CreateMany :execrows\n-- Create for group commit: many rows, one statement, one commit. All or none\n-- are inserted.\n")
		b.WriteString(rows(nil, hist...))
		p("    INSERT INTO %s (%s)\n    SELECT %s FROM u\n    RETURNING id, status, created_at\n)\n", table, colList, colList)
		p("INSERT INTO %s (%s)\nSELECT t.id, 1, NULL, t.status, NULL, t.created_at, 0, u.tm_actor, u.tm_message\nFROM t JOIN u ON u.id = t.id;\n\n", history, histCols)
		p("-- name: TransitionMany :many\n-- Transition for group commit: many rows, one statement, one commit.\n")
		// A transition never changes created_at: it is not sent.
		b.WriteString(rows(createdOnly, append(guard, hist...)...))
		// "id = ANY (ARRAY(SELECT u.id FROM u))" makes the plan find the
		// rows through the primary key: joined on u alone, the planner
		// (which guesses 100 array elements) hashes a sequential scan of the
		// whole table once it is small enough, which cost 0.5 ms a batch at
		// 5,000 tasks and grows with the table.
		// The update returns the history row's values from u as well, so
		// that the insert reads t alone rather than joining it to u again.
		p("    UPDATE %s SET %s,\n        %s = %s.%s + 1\n    FROM u\n    WHERE %s.id = ANY (ARRAY(SELECT u.id FROM u)) AND %s.id = u.id AND %s.status = u.tm_from_status AND %s.version = u.tm_from_version\n    RETURNING %s.id, %s.%s,\n        u.tm_from_status, u.status, u.tm_event, u.updated_at, u.tm_attempt, u.tm_actor, u.tm_message\n)\n",
			table, strings.Join(setsFrom, ",\n        "), HistorySeqColumn, table, HistorySeqColumn, table, table, table, table, table, table, HistorySeqColumn)
		p("INSERT INTO %s (%s)\nSELECT t.id, t.%s,\n", history, histCols, HistorySeqColumn)
		p("    t.tm_from_status, t.status, t.tm_event, t.updated_at, t.tm_attempt, t.tm_actor, t.tm_message\nFROM t\nRETURNING task_id;\n\n")
	} else {
		p("-- name: Insert :exec\nINSERT INTO %s (%s)\nVALUES (%s);\n\n", table, colList, strings.Join(args, ", "))
		p("-- name: UpdateGuarded :execrows\n-- The status-changing half of a transition (InsertHistory is the other), in one transaction.\n")
		p("UPDATE %s SET %s\nWHERE id = sqlc.arg(id) AND status = sqlc.arg(tm_from_status) AND version = sqlc.arg(tm_from_version);\n\n", table, strings.Join(sets, ",\n    "))
		p("-- name: InsertHistory :exec\nINSERT INTO %s (%s)\nVALUES (sqlc.arg(tm_task_id), (SELECT coalesce(max(h.seq), 0) + 1 FROM %s h WHERE h.task_id = sqlc.arg(tm_task_id)),\n", history, histCols, history)
		p("    sqlc.arg(tm_from_status), sqlc.arg(tm_to_status), sqlc.arg(tm_event), sqlc.arg(tm_at), sqlc.arg(tm_attempt), sqlc.arg(tm_actor), sqlc.arg(tm_message));\n\n")
	}
	p("-- name: Update :execrows\n-- Changes fields but not the status (progress, details); guarded like Transition.\n")
	if pg {
		p("UPDATE %s SET %s\nWHERE id = sqlc.arg(id)::uuid AND status = sqlc.arg(tm_from_status)::text AND version = sqlc.arg(tm_from_version)::bigint;\n\n", table, strings.Join(withoutStatus(sets), ",\n    "))
	} else {
		p("UPDATE %s SET %s\nWHERE id = sqlc.arg(id) AND status = sqlc.arg(tm_from_status) AND version = sqlc.arg(tm_from_version);\n\n", table, strings.Join(withoutStatus(sets), ",\n    "))
	}

	p("-- name: Get :one\nSELECT %s FROM %s WHERE id = %s;\n\n", selList, table, g.arg(e, "id", pick(pg, "uuid", "TEXT")))
	p("-- name: Keys :many\n-- The keys (status and version) of many tasks in one read: what a worker pool\n-- polls to see its running tasks cancelled by another process.\n")
	if pg {
		p("SELECT id, status, version FROM %s WHERE id = ANY (sqlc.arg(tm_ids)::uuid[]);\n\n", table)
	} else {
		p("SELECT id, status, version FROM %s WHERE id IN (SELECT value FROM json_each(sqlc.arg(tm_ids)));\n\n", table)
	}
	p("-- name: Delete :execrows\nDELETE FROM %s WHERE id = %s;\n\n", table, g.arg(e, "id", pick(pg, "uuid", "TEXT")))
	p("-- name: History :many\nSELECT %s FROM %s WHERE task_id = %s ORDER BY seq;\n\n", histCols, history, g.arg(e, "tm_task_id", pick(pg, "uuid", "TEXT")))

	p("-- name: ListByStatus :many\n-- Tasks in one status, oldest first: what workers and sweepers scan.\n")
	p("SELECT %s FROM %s WHERE status = %s\nORDER BY created_at, id\nLIMIT %s;\n\n", selList, table, g.arg(e, "tm_status", txt), g.arg(e, "tm_max_rows", pick(pg, "integer", "INTEGER")))
	if pg {
		p("-- name: ClaimByStatus :many\n-- Like ListByStatus, but locks the rows it returns and skips rows other\n-- transactions hold: concurrent workers never claim the same task.\n")
		p("SELECT %s FROM %s WHERE status = sqlc.arg(tm_status)::text\nORDER BY created_at, id\nLIMIT sqlc.arg(tm_max_rows)::integer\nFOR UPDATE SKIP LOCKED;\n\n", selList, table)
	}

	terminal := m.TerminalStatuses()
	if len(terminal) > 0 {
		p("-- name: DeleteFinished :execrows\n-- Retention: removes up to tm_max_rows finished tasks (and their history)\n-- whose last change is older than tm_before, oldest first.\n")
		p("DELETE FROM %s WHERE id IN (\n    SELECT f.id FROM %s AS f WHERE %s AND f.updated_at < %s\n    ORDER BY f.updated_at LIMIT %s\n);\n\n", table, table, andTerm(oneOf(e, "f.status", terminal)), g.arg(e, "tm_before", ts), g.arg(e, "tm_max_rows", pick(pg, "integer", "INTEGER")))
	}

	var conds []string
	for _, s := range m.Statuses {
		if s.Timeout == nil {
			continue
		}
		param := "tm_" + GoNameToSnake(s.GoName) + "_deadline"
		conds = append(conds, fmt.Sprintf("(status = %s AND %s <= %s)", quoteSQL(s.Name), s.EnteredAt, g.arg(e, param, ts)))
	}
	if len(conds) > 0 {
		p("-- name: Due :many\n-- Tasks whose timeout has passed: one deadline (now - after) per timed status.\n")
		p("SELECT %s FROM %s\nWHERE %s\nORDER BY updated_at, id\nLIMIT %s;\n", selList, table, strings.Join(conds, "\n   OR "), g.arg(e, "tm_max_rows", pick(pg, "integer", "INTEGER")))
	}
	if !pg {
		p("\n\n%s", g.changesQuerySQL())
	}
	if m.Worker != nil {
		p("\n\n%s", g.workerQuerySQL(e))
	}
	return []byte(strings.TrimRight(b.String(), "\n") + "\n")
}

func withoutStatus(sets []string) []string {
	out := make([]string, 0, len(sets))
	for _, s := range sets {
		if !strings.HasPrefix(s, "status = ") {
			out = append(out, s)
		}
	}
	return out
}

// arg writes a sqlc named parameter, cast on PostgreSQL so sqlc knows its type.
func (g *generator) arg(e Engine, name, typ string) string {
	if e == PostgreSQL {
		return "sqlc.arg(" + name + ")::" + typ
	}
	return "sqlc.arg(" + name + ")"
}

// narg writes a nullable sqlc named parameter.
func (g *generator) narg(e Engine, name, typ string) string {
	if e == PostgreSQL {
		return "sqlc.narg(" + name + ")::" + typ
	}
	return "sqlc.narg(" + name + ")"
}

// GoNameToSnake turns StatusUploadFailed into upload_failed.
func GoNameToSnake(goName string) string {
	goName = strings.TrimPrefix(goName, "Status")
	var b strings.Builder
	for i, r := range goName {
		if i > 0 && r >= 'A' && r <= 'Z' {
			b.WriteByte('_')
		}
		b.WriteRune(r)
	}
	return strings.ToLower(b.String())
}

// NullFlag names the boolean array parameter that marks the NULLs of a
// nullable column in the PostgreSQL batch statements (CreateMany and
// TransitionMany).
func NullFlag(column string) string { return "tm_null_" + column }

// createdOnly tells the columns a task's creation alone writes: transitions
// and updates leave created_at and the trace context (TraceparentColumn) as
// they are, so their statements do not carry them.
func createdOnly(c column) bool { return c.Name == "created_at" || c.Name == TraceparentColumn }
