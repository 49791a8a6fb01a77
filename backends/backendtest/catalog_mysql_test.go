package backendtest_test

import (
	"context"
	"strings"
	"testing"

	"github.com/taskmodel/taskmodel/backends/backendtest"
	"github.com/taskmodel/taskmodel/backends/mysql"
	"github.com/taskmodel/taskmodel/backends/mysql/mysqltest"
)

func openMySQLCatalog(t *testing.T) *catalogDB {
	t.Helper()
	db, err := mysql.Open(context.Background(), mysqltest.Database(t))
	if err != nil {
		t.Fatal(err)
	}
	return sqlCatalogDB(t, db, backendtest.CatalogMySQL)
}

// TestCatalogMySQL: a table reached by ALTER TABLE (a column added, a
// CHECK replaced, a column renamed) dumps as the same table created
// directly, without the bookkeeping tables; a change of a CHECK, a type, an
// index or a foreign key shows in the diff.
func TestCatalogMySQL(t *testing.T) {
	parent := `CREATE TABLE p (id INT PRIMARY KEY)`
	base := []string{
		parent,
		`CREATE TABLE t (id INT PRIMARY KEY, n INT NOT NULL DEFAULT 0, note VARCHAR(20), p INT,
			CONSTRAINT t_n_check CHECK (n >= 0), CONSTRAINT t_p_fkey FOREIGN KEY (p) REFERENCES p (id) ON DELETE CASCADE)`,
		`CREATE INDEX t_n_idx ON t (n DESC, note(10))`,
	}
	want := openMySQLCatalog(t)
	want.run(base...)
	dump := want.catalog()
	if strings.Contains(dump, "taskmodel_") {
		t.Errorf("the dump shows bookkeeping tables:\n%s", dump)
	}
	for _, line := range []string{
		"table t check t_n_check: `n` >= 0",
		"table t column note: varchar(20) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin",
		"table t index t_n_idx: index BTREE (n DESC, note(10))",
		"table t foreign key t_p_fkey: (p -> id) references p on update RESTRICT on delete CASCADE",
	} {
		if !hasLine(dump, line) {
			t.Errorf("no line %q in:\n%s", line, dump)
		}
	}
	other := openMySQLCatalog(t)
	other.run(parent,
		`CREATE TABLE t (id INT PRIMARY KEY, remark VARCHAR(20), n INT NOT NULL DEFAULT 0, CONSTRAINT t_n_check CHECK (n > 5))`,
		`ALTER TABLE t ADD COLUMN p INT, ADD CONSTRAINT t_p_fkey FOREIGN KEY (p) REFERENCES p (id) ON DELETE CASCADE`,
		`ALTER TABLE t DROP CONSTRAINT t_n_check, RENAME COLUMN remark TO note, ADD CONSTRAINT t_n_check CHECK (n >= 0)`,
		base[2])
	if diff := backendtest.DiffCatalogs(dump, other.catalog()); diff != "" {
		t.Errorf("the same schema by ALTER TABLE dumps differently:\n%s", diff)
	}
	for _, tc := range []struct{ name, stmt, mentions string }{
		{"CHECK", `ALTER TABLE t DROP CONSTRAINT t_n_check, ADD CONSTRAINT t_n_check CHECK (n > 0)`, "table t check t_n_check:"},
		{"type", `ALTER TABLE t MODIFY COLUMN note TEXT`, "table t column note:"},
		{"index", `ALTER TABLE t DROP INDEX t_n_idx, ADD INDEX t_n_idx (n, note(10))`, "table t index t_n_idx:"},
		{"foreign key", `ALTER TABLE t DROP FOREIGN KEY t_p_fkey`, "- table t foreign key t_p_fkey:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := openMySQLCatalog(t)
			d.run(base...)
			d.run(tc.stmt)
			diff := backendtest.DiffCatalogs(dump, d.catalog())
			if !strings.Contains(diff, tc.mentions) {
				t.Errorf("the diff does not name %q:\n%s", tc.mentions, diff)
			}
		})
	}
}
