package mysql_test

import (
	"context"
	"database/sql"
	"strings"
	"testing"

	"github.com/taskmodel/taskmodel/backends/mysql"
	"github.com/taskmodel/taskmodel/backends/mysql/mysqltest"
	"github.com/taskmodel/taskmodel/gen/catalog"
	"github.com/taskmodel/taskmodel/tasktype"
)

// TestCatalogSchema checks what the MySQL framework migrations after the
// schema leave, on a new database and on one migrated before them that
// holds a task: no descending index (MariaDB cannot start a claim at its
// queue position in one), history rows whose actor and message default
// to an empty string, and no index of finished tasks (retention reads the
// index of tasks by their last change).
func TestCatalogSchema(t *testing.T) {
	ctx := context.Background()
	all := catalog.Migrations(mysql.Engine)
	var before []tasktype.Migration
	for _, m := range all {
		if !strings.HasSuffix(m.Name, "_ascending_indexes") && !strings.HasSuffix(m.Name, "_history_defaults") && !strings.HasSuffix(m.Name, "_retention_index") {
			before = append(before, m)
		}
	}
	if len(before) == len(all) {
		t.Fatal("the catalog has no ascending_indexes, history_defaults or retention_index migration")
	}
	tests := []struct {
		name  string
		first []tasktype.Migration // applied, with a task written, before all
	}{
		{"new database", nil},
		{"migrated from the schema before", before},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			url := mysqltest.Database(t)
			const id = "0b5f7c9e-4a55-4c8e-9a7e-2f1c3d4e5f60"
			finished := func(db *sql.DB) int {
				t.Helper()
				var n int
				if err := db.QueryRowContext(ctx, `SELECT COUNT(DISTINCT TABLE_NAME) FROM information_schema.STATISTICS
					WHERE TABLE_SCHEMA = DATABASE() AND INDEX_NAME LIKE '%\_finished\_idx'`).Scan(&n); err != nil {
					t.Fatal(err)
				}
				return n
			}
			if tt.first != nil {
				db := open(t, url, tt.first)
				if finished(db) == 0 {
					t.Fatal("the schema before has no index of finished tasks")
				}
				if _, err := db.ExecContext(ctx, `INSERT INTO training (id, status, version, created_at, updated_at, progress) VALUES (?, 'QUEUED', 1, NOW(6), NOW(6), 0)`, id); err != nil {
					t.Fatal(err)
				}
				db.Close()
			}
			db := open(t, url, all)
			if tt.first == nil {
				if _, err := db.ExecContext(ctx, `INSERT INTO training (id, status, version, created_at, updated_at, progress) VALUES (?, 'QUEUED', 1, NOW(6), NOW(6), 0)`, id); err != nil {
					t.Fatal(err)
				}
			}
			if n := finished(db); n != 0 {
				t.Errorf("%d tables keep an index of finished tasks", n)
			}
			// A start that stopped after the DROP runs the migration's
			// statements again, from its SET, on a schema without the index.
			again(t, db, all, "training/", "_retention_index")
			rows, err := db.QueryContext(ctx, `SELECT TABLE_NAME, INDEX_NAME, COLUMN_NAME FROM information_schema.STATISTICS
				WHERE TABLE_SCHEMA = DATABASE() AND COLLATION = 'D' ORDER BY TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX`)
			if err != nil {
				t.Fatal(err)
			}
			for rows.Next() {
				var table, index, column string
				if err := rows.Scan(&table, &index, &column); err != nil {
					t.Fatal(err)
				}
				t.Errorf("index %s of %s has %s descending", index, table, column)
			}
			rows.Close()
			var n int
			if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM information_schema.STATISTICS
				WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'training' AND INDEX_NAME = 'training_status_created_at_idx'`).Scan(&n); err != nil || n != 3 {
				t.Fatalf("training_status_created_at_idx has %d columns (%v), want 3", n, err)
			}
			if _, err := db.ExecContext(ctx, `INSERT INTO training_history (task_id, seq, to_status, at) VALUES (?, 1, 'QUEUED', NOW(6))`, id); err != nil {
				t.Fatalf("a history row without actor and message: %v", err)
			}
			var actor, message string
			if err := db.QueryRowContext(ctx, `SELECT actor, message FROM training_history WHERE task_id = ?`, id).Scan(&actor, &message); err != nil || actor != "" || message != "" {
				t.Fatalf("actor %q, message %q (%v), want both empty", actor, message, err)
			}
			if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE()
				AND TABLE_NAME LIKE '%\_history' AND COLUMN_NAME IN ('actor', 'message') AND COLUMN_DEFAULT IS NULL`).Scan(&n); err != nil || n != 0 {
				t.Fatalf("%d history columns actor or message without a default (%v)", n, err)
			}
		})
	}
}

// again runs the statements of the migration of all whose name has prefix
// and suffix once more, on one connection, as a start after a stop would.
func again(t *testing.T, db *sql.DB, all []tasktype.Migration, prefix, suffix string) {
	t.Helper()
	ctx := context.Background()
	for _, m := range all {
		if !strings.HasPrefix(m.Name, prefix) || !strings.HasSuffix(m.Name, suffix) {
			continue
		}
		stmts, err := mysql.SplitStatements(m.SQL)
		if err != nil {
			t.Fatal(err)
		}
		conn, err := db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		for _, stmt := range stmts {
			if _, err := conn.ExecContext(ctx, stmt); err != nil {
				t.Fatalf("%s run again: %v", m.Name, err)
			}
		}
		return
	}
	t.Fatalf("no migration %s…%s", prefix, suffix)
}
