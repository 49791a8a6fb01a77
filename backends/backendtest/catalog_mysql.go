package backendtest

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
)

// mysqlBookkeeping are backends/mysql's own tables, besides bookkeepingTables.
var mysqlBookkeeping = []string{"taskmodel_migration_progress"}

// CatalogMySQL returns a normalized, deterministic text dump of the schema
// objects of the current database (DATABASE()) of a MySQL or MariaDB
// server, read from information_schema: the tables (but the backends'
// bookkeeping tables) with their engine and collation, their columns
// (sorted by name, not by position: ALTER TABLE ADD COLUMN appends a
// column) with type, NULL, default, character set, collation and extra,
// their CHECK constraints by name with their clause as the server prints
// it, their indexes (the columns in order, with prefix length and
// direction), foreign keys and triggers, and the views.
func CatalogMySQL(ctx context.Context, db *sql.DB) (string, error) {
	var version string
	if err := db.QueryRowContext(ctx, `SELECT VERSION()`).Scan(&version); err != nil {
		return "", fmt.Errorf("catalog: %w", err)
	}
	skip := append(slices.Clone(bookkeepingTables), mysqlBookkeeping...)
	var entries []catalogEntry
	add := func(table, key string, lines ...string) {
		if !slices.Contains(skip, table) {
			entries = append(entries, catalogEntry{key, lines})
		}
	}
	// MySQL names a CHECK constraint once per database, MariaDB once per
	// table (its CHECK_CONSTRAINTS has the table's name).
	checks := `SELECT tc.TABLE_NAME, tc.CONSTRAINT_NAME, cc.CHECK_CLAUSE
		FROM information_schema.TABLE_CONSTRAINTS tc JOIN information_schema.CHECK_CONSTRAINTS cc
			ON cc.CONSTRAINT_SCHEMA = tc.CONSTRAINT_SCHEMA AND cc.CONSTRAINT_NAME = tc.CONSTRAINT_NAME
		WHERE tc.CONSTRAINT_SCHEMA = DATABASE() AND tc.CONSTRAINT_TYPE = 'CHECK'`
	if strings.Contains(strings.ToLower(version), "mariadb") {
		checks += ` AND cc.TABLE_NAME = tc.TABLE_NAME`
	}
	for _, q := range []struct {
		sql  string
		scan func(vals []sql.NullString)
	}{{
		sql: `SELECT TABLE_NAME, TABLE_TYPE, coalesce(ENGINE, ''), coalesce(TABLE_COLLATION, '') FROM information_schema.TABLES
			WHERE TABLE_SCHEMA = DATABASE()`,
		scan: func(v []sql.NullString) {
			if v[1].String == "VIEW" {
				return // with its definition below
			}
			add(v[0].String, "table "+v[0].String, "engine "+v[2].String+" collate "+v[3].String)
		},
	}, {
		sql: `SELECT TABLE_NAME, COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE, COLUMN_DEFAULT, CHARACTER_SET_NAME, COLLATION_NAME, EXTRA
			FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE()`,
		scan: func(v []sql.NullString) {
			def := v[2].String
			if v[3].String == "NO" {
				def += " NOT NULL"
			}
			if v[4].Valid && v[4].String != "NULL" { // MariaDB says NULL for no default
				def += " DEFAULT " + v[4].String
			}
			if v[5].Valid {
				def += " CHARACTER SET " + v[5].String + " COLLATE " + v[6].String
			}
			if v[7].String != "" {
				def += " " + v[7].String
			}
			add(v[0].String, "table "+v[0].String+" column "+v[1].String, def)
		},
	}, {
		sql: checks,
		scan: func(v []sql.NullString) {
			add(v[0].String, "table "+v[0].String+" check "+v[1].String, v[2].String)
		},
	}, {
		sql: `SELECT TABLE_NAME, INDEX_NAME, NON_UNIQUE, INDEX_TYPE,
				GROUP_CONCAT(CONCAT(COLUMN_NAME, coalesce(CONCAT('(', SUB_PART, ')'), ''), CASE COLLATION WHEN 'D' THEN ' DESC' ELSE '' END)
					ORDER BY SEQ_IN_INDEX SEPARATOR ', ')
			FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE()
			GROUP BY TABLE_NAME, INDEX_NAME, NON_UNIQUE, INDEX_TYPE`,
		scan: func(v []sql.NullString) {
			kind := "index"
			if v[2].String == "0" {
				kind = "unique index"
			}
			add(v[0].String, "table "+v[0].String+" index "+v[1].String, fmt.Sprintf("%s %s (%s)", kind, v[3].String, v[4].String))
		},
	}, {
		sql: `SELECT rc.TABLE_NAME, rc.CONSTRAINT_NAME, rc.REFERENCED_TABLE_NAME, rc.UPDATE_RULE, rc.DELETE_RULE,
				(SELECT GROUP_CONCAT(k.COLUMN_NAME, ' -> ', k.REFERENCED_COLUMN_NAME ORDER BY k.ORDINAL_POSITION SEPARATOR ', ')
					FROM information_schema.KEY_COLUMN_USAGE k
					WHERE k.CONSTRAINT_SCHEMA = rc.CONSTRAINT_SCHEMA AND k.TABLE_NAME = rc.TABLE_NAME AND k.CONSTRAINT_NAME = rc.CONSTRAINT_NAME)
			FROM information_schema.REFERENTIAL_CONSTRAINTS rc WHERE rc.CONSTRAINT_SCHEMA = DATABASE()`,
		scan: func(v []sql.NullString) {
			add(v[0].String, "table "+v[0].String+" foreign key "+v[1].String,
				fmt.Sprintf("(%s) references %s on update %s on delete %s", v[5].String, v[2].String, v[3].String, v[4].String))
		},
	}, {
		sql: `SELECT EVENT_OBJECT_TABLE, TRIGGER_NAME, CONCAT(ACTION_TIMING, ' ', EVENT_MANIPULATION, ' FOR EACH ', ACTION_ORIENTATION, ' ', ACTION_STATEMENT)
			FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = DATABASE()`,
		scan: func(v []sql.NullString) {
			add(v[0].String, "table "+v[0].String+" trigger "+v[1].String, v[2].String)
		},
	}, {
		sql: `SELECT TABLE_NAME, VIEW_DEFINITION FROM information_schema.VIEWS WHERE TABLE_SCHEMA = DATABASE()`,
		scan: func(v []sql.NullString) {
			add("", "view "+v[0].String, v[1].String)
		},
	}} {
		rows, err := db.QueryContext(ctx, q.sql)
		if err != nil {
			return "", fmt.Errorf("catalog: %w", err)
		}
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]sql.NullString, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				rows.Close()
				return "", fmt.Errorf("catalog: %w", err)
			}
			q.scan(vals)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return "", fmt.Errorf("catalog: %w", err)
		}
	}
	return renderCatalog(entries), nil
}
