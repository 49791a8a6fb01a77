package backends_test

import (
	"errors"
	"testing"

	"github.com/taskmodel/taskmodel/backends"
	"github.com/taskmodel/taskmodel/gen/pipelinerun"
	"github.com/taskmodel/taskmodel/gen/stage"
	"github.com/taskmodel/taskmodel/tasktype"
	"github.com/taskmodel/taskmodel/validation"
)

func stageHistory() (any, *validation.Shape) {
	return &[]stage.StageStateHistoryEntry{}, stage.StageStateHistoryEntryShape
}

func taskDefinition() (any, *validation.Shape) {
	return &pipelinerun.TaskDefinition{}, pipelinerun.TaskDefinitionShape
}

// TestDecodeStoredUndeclared: a value type stored in a JSON column whose
// field holds a status or enumeration value the spec no longer declares
// (removed since the value was stored: no migration checks values inside a
// value type's JSON) fails to read with an error naming the item, the
// field, the type, the value, the allowed values and the likely cause,
// never encoding/json's or a Go type's words; other stored values read.
func TestDecodeStoredUndeclared(t *testing.T) {
	history := func(items ...string) []byte {
		out := "["
		for i := 0; i+1 < len(items); i += 2 {
			if i > 0 {
				out += ","
			}
			out += `{"attempt":1,"begin_status":"` + items[i] + `","begin_ts":"t0","end_status":"` + items[i+1] + `","end_ts":"t1","message":"m","run_time_seconds":1}`
		}
		return []byte(out + "]")
	}
	statuses := "UNBOUND, CREATED, RUNNING, RETRY, ERROR, COMPLETE, CANCELED"
	cause := "; the value was likely stored before the spec removed it (a migration checks the values of the model's own columns, not those inside a value type's JSON), unless a program built from a newer spec stored it: declare the value again, or rewrite the stored values that hold it"
	tests := []struct {
		name   string
		stored []byte
		dst    func() (any, *validation.Shape)
		want   string // "" reads
	}{
		{"a list, declared", history("CREATED", "RUNNING", "RUNNING", "COMPLETE"), stageHistory, ""},
		{"a list, the first item", history("PAUSED", "RUNNING"), stageHistory,
			`item 0: field begin_status of type StageStateHistoryEntry holds "PAUSED", which this program's spec does not declare (it allows ` + statuses + ")" + cause},
		{"a list, a later item", history("CREATED", "RUNNING", "RUNNING", "PAUSED"), stageHistory,
			`item 1: field end_status of type StageStateHistoryEntry holds "PAUSED", which this program's spec does not declare (it allows ` + statuses + ")" + cause},
		{"a list, an item of an earlier shape too", []byte(`[{"attempt":1,"begin_status":"RUNNING","begin_ts":"t0","end_status":"DONE","end_ts":"t1","message":"m","run_time_seconds":1,"host":"a"}]`), stageHistory,
			`item 0: field end_status of type StageStateHistoryEntry holds "DONE", which this program's spec does not declare (it allows ` + statuses + ")" + cause},
		{"one value", []byte(`{"stage":"s","name":"n","type":"perl"}`), taskDefinition,
			`field type of type TaskDefinition holds "perl", which this program's spec does not declare (it allows R, sh, python)` + cause},
		{"one value, declared", []byte(`{"stage":"s","name":"n","type":"sh"}`), taskDefinition, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dst, shape := tt.dst()
			err := backends.DecodeStoredJSON(tt.stored, dst, shape)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("DecodeStoredJSON: %v", err)
				}
				return
			}
			var se *backends.StoredValueError
			if !errors.As(err, &se) || !errors.Is(err, backends.ErrUndeclaredValue) {
				t.Fatalf("DecodeStoredJSON: %v (%T), want a *backends.StoredValueError", err, err)
			}
			if err.Error() != tt.want {
				t.Errorf("error\n got: %s\nwant: %s", err, tt.want)
			}
		})
	}
	// A value of another type is no undeclared value: the error stays the
	// decoder's, naming the field.
	var h []stage.StageStateHistoryEntry
	err := backends.DecodeStoredJSON([]byte(`[{"attempt":"one","begin_status":"RUNNING","begin_ts":"t0","end_status":"RUNNING","end_ts":"t1","message":"m","run_time_seconds":1}]`), &h, stage.StageStateHistoryEntryShape)
	var se *backends.StoredValueError
	var ve *tasktype.ValidationError
	if errors.As(err, &se) || !errors.As(err, &ve) {
		t.Errorf("a value of another type: %v (%T)", err, err)
	}
}
