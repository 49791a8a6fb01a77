package backends_test

import (
	"errors"
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
	long := "a_model_whose_name_is_long_enough_to_be_cut" // 43 bytes
	for _, tc := range []struct {
		limit      int
		table, col string
		want       string
	}{
		{63, "report", "title", "report_title_check"},
		{63, long, "a_column_name_also_rather_long", "a_model_whose_name_is_long_e_a_column_name_also_rather_lo_check"},
		{64, long, "a_column_name_also_rather_long", "a_model_whose_name_is_long_en_a_column_name_also_rather_lo_check"},
		{63, long, "tag", long + "_tag_check"},
	} {
		if got := backends.CheckName(tc.limit, tc.table, tc.col); got != tc.want || len(got) > tc.limit {
			t.Errorf("CheckName(%d, %q, %q) = %q (%d bytes), want %q", tc.limit, tc.table, tc.col, got, len(got), tc.want)
		}
	}
}
