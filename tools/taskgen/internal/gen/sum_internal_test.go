package gen

import (
	"strings"
	"testing"
)

// TestCheckSums: a migration file is refused only when the sum file lists
// it with another checksum; line ends, files the sum file does not list
// (written before taskgen kept sums) and a sum file two merged branches
// left with git's markers are taken as they are.
func TestCheckSums(t *testing.T) {
	sql := []byte("CREATE TABLE job (id TEXT);\n")
	other := []byte("CREATE TABLE job (id TEXT); -- edited\n")
	line := func(data []byte) string { return "sqlite/0001_schema.sql " + fileSum(data) + "\n" }
	tests := []struct {
		name string
		file []byte
		sum  string // "" for no sum file
		bad  bool
	}{
		{"no sum file", other, "", false},
		{"listed, unchanged", sql, sumHeader + line(sql), false},
		{"listed, edited", other, sumHeader + line(sql), true},
		{"line ends made CRLF", []byte(strings.ReplaceAll(string(sql), "\n", "\r\n")), sumHeader + line(sql), false},
		{"not listed", other, sumHeader + "sqlite/0002_other.sql " + fileSum(sql) + "\n", false},
		{"merged with markers, ours", sql, "<<<<<<< HEAD\n" + line(sql) + "=======\n" + line(other) + ">>>>>>> feat\n", false},
		{"merged with markers, theirs", other, "<<<<<<< HEAD\n" + line(sql) + "=======\n" + line(other) + ">>>>>>> feat\n", false},
		{"a malformed line", other, "sqlite/0001_schema.sql nothex\n", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := &History{Migrations: map[Engine]map[string][]byte{SQLite: {"0001_schema": tt.file}}, Specs: map[string][]byte{}}
			if tt.sum != "" {
				h.Sum = []byte(tt.sum)
			}
			err := h.checkSums("gen/job")
			if (err != nil) != tt.bad {
				t.Fatalf("checkSums: %v, want refused %v", err, tt.bad)
			}
			if err != nil && !strings.HasPrefix(err.Error(), "gen/job/migrations/sqlite/0001_schema.sql is not the file taskgen wrote") {
				t.Errorf("error: %v", err)
			}
		})
	}
}

// TestRenderSums: the sum file lists every file under migrations/ but
// itself, sorted, and nothing else; parseSums reads it back.
func TestRenderSums(t *testing.T) {
	files := map[string][]byte{
		"migrations/sqlite/0001_schema.sql":     []byte("a"),
		"migrations/postgresql/0001_schema.sql": []byte("b"),
		"migrations/spec/0001_schema.yaml":      []byte("c"),
		SumFile:                                 []byte("old"),
		"model.go":                              []byte("package job"),
	}
	out := renderSums(files)
	want := sumHeader + "postgresql/0001_schema.sql " + fileSum([]byte("b")) + "\nspec/0001_schema.yaml " + fileSum([]byte("c")) + "\nsqlite/0001_schema.sql " + fileSum([]byte("a")) + "\n"
	if string(out) != want {
		t.Fatalf("renderSums:\n%s\nwant\n%s", out, want)
	}
	if sums := parseSums(out); len(sums) != 3 || sums["spec/0001_schema.yaml"][0] != fileSum([]byte("c")) {
		t.Errorf("parseSums: %v", sums)
	}
}

// FuzzParseSums: any content reads without panicking, and every checksum
// read is one of a line's.
func FuzzParseSums(f *testing.F) {
	f.Add([]byte(sumHeader + "sqlite/0001_schema.sql " + fileSum([]byte("a")) + "\n"))
	f.Add([]byte("<<<<<<< HEAD\nx y\n=======\n>>>>>>> b\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		for path, sums := range parseSums(data) {
			for _, s := range sums {
				if len(s) != 64 || !strings.Contains(string(data), path+" "+s) {
					t.Fatalf("%q: %q not read from the content", path, s)
				}
			}
		}
	})
}
