package spec

import "testing"

// TestSQLReservedTable: the table is sorted without duplicates (the lookup
// searches it), and every word could otherwise be a field or model name.
func TestSQLReservedTable(t *testing.T) {
	for i, e := range sqlReserved {
		if i > 0 && sqlReserved[i-1].word >= e.word {
			t.Errorf("%q follows %q: the table must be sorted, without duplicates", e.word, sqlReserved[i-1].word)
		}
		if !reModel.MatchString(e.word) || e.in == 0 || e.in&^(inPostgreSQL|inSQLite) != 0 {
			t.Errorf("bad entry %+v", e)
		}
	}
	tests := []struct {
		name  string
		table bool
		want  string
	}{
		{"order", false, "PostgreSQL and SQLite"},
		{"user", true, "PostgreSQL"},
		{"values", false, "SQLite"},
		{"if", true, "SQLite"},
		{"if", false, ""},
		{"name", false, ""},
		{"zzz", false, ""},
		{"", false, ""},
	}
	for _, tt := range tests {
		if got := sqlReservedIn(tt.name, tt.table).String(); got != tt.want {
			t.Errorf("sqlReservedIn(%q, %v) = %q, want %q", tt.name, tt.table, got, tt.want)
		}
	}
}
