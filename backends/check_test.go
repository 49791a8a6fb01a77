package backends_test

import (
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/taskmodel/taskmodel/backends"
	"github.com/taskmodel/taskmodel/tasktype"
)

func TestCheckViolation(t *testing.T) {
	const why = ", which this program's spec does not have (a newer version of the spec likely migrated the database)"
	for _, tc := range []struct {
		name, table, constraint, expr string
		field, message                string
	}{
		{"named by taskgen", "report", "report_title_check", "", "title", "the value breaks the database's constraint report_title_check" + why},
		{"table with an underscore", "dataset_upload", "dataset_upload_tool_id_check", "", "tool_id", "the value breaks the database's constraint dataset_upload_tool_id_check" + why},
		{"another table's name", "job", "report_title_check", "", "", "the value breaks the database's constraint report_title_check" + why},
		{"no table", "", "report_title_check", "", "", "the value breaks the database's constraint report_title_check" + why},
		{"a name that is not taskgen's", "report", "report_short", "", "", "the value breaks the database's constraint report_short" + why},
		{"expression of one column", "", "", "length(title) >= 1 AND length(title) <= 40", "title", "the value breaks the database's constraint length(title) >= 1 AND length(title) <= 40" + why},
		{"quoted column, values in quotes", "", "", `"status" IN ('QUEUED', 'it''s', 'DONE')`, "status", `the value breaks the database's constraint "status" IN ('QUEUED', 'it''s', 'DONE')` + why},
		{"expression of two columns", "", "", "ends_at >= starts_at", "", "the value breaks the database's constraint ends_at >= starts_at" + why},
		{"nothing known", "", "", "", "", "the value breaks a constraint of the database" + why},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := backends.CheckViolation(tc.table, tc.constraint, tc.expr)
			var ve *tasktype.ValidationError
			if !errors.As(err, &ve) || !errors.Is(err, tasktype.ErrValidation) || len(ve.Fields) != 1 {
				t.Fatalf("%v: not one field's ValidationError", err)
			}
			if f := ve.Fields[0]; f.Field != tc.field || f.Rule != "check" || f.Message != tc.message {
				t.Errorf("field %q rule %q message %q\nwant field %q, message %q", f.Field, f.Rule, f.Message, tc.field, tc.message)
			}
		})
	}
}

// TestCheckName: PostgreSQL's and MySQL's names of a column's CHECK, which
// taskgen's migrations give too: the longer name is cut first.
func TestCheckName(t *testing.T) {
	data, err := os.ReadFile("testdata/checknames.txt")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || strings.HasPrefix(f[0], "#") {
			continue
		}
		limit, err := strconv.Atoi(f[0])
		if err != nil || len(f) != 4 {
			t.Fatalf("testdata/checknames.txt: bad line %q", line)
		}
		n++
		if got := backends.CheckName(limit, f[1], f[2]); got != f[3] || len(got) > limit {
			t.Errorf("CheckName(%d, %q, %q) = %q (%d bytes), want %q", limit, f[1], f[2], got, len(got), f[3])
		}
	}
	if n == 0 {
		t.Fatal("testdata/checknames.txt holds no case")
	}
}
