package gen

import "testing"

// TestSQLCParses: a statement goes to the file sqlc vet checks only when
// sqlc's MySQL engine parses it.
func TestSQLCParses(t *testing.T) {
	for _, tc := range []struct {
		stmt string
		want bool
	}{
		{"SELECT `id` FROM job WHERE id = sqlc.arg(id)", true},
		{"UPDATE job SET `rows` = sqlc.arg(title) WHERE id = sqlc.arg(id)", true},
		{"UPDATE job SET `rows` = sqlc.arg(rows) WHERE id = sqlc.arg(id)", false}, // a keyword as a parameter's name
		{"SELECT JSON_ARRAYAGG(id) INTO @tm_ids FROM job", false},
		{"SELECT id FROM job LIMIT sqlc.arg(tm_max_rows)", false},
		{"SELECT id FROM JSON_TABLE(@tm_ids, '$[*]' COLUMNS (id CHAR(36) PATH '$')) AS j", false},
	} {
		if got := sqlcParses(tc.stmt); got != tc.want {
			t.Errorf("sqlcParses(%q) = %v, want %v", tc.stmt, got, tc.want)
		}
	}
}
