package schema_test

import (
	"encoding/json"
	"testing"

	"github.com/taskmodel/taskmodel/gen/modelupload"
	"github.com/taskmodel/taskmodel/gen/pipelinerun"
)

// TestEnumMessages: an enum field's error names the field by its JSON name,
// lists the allowed values, tells a missing value from an unknown one, and
// names no Go type.
func TestEnumMessages(t *testing.T) {
	tests := []struct {
		name string
		err  func() error
		want string
	}{
		{"unknown in JSON", func() error {
			var x modelupload.ModelUpload
			return json.Unmarshal([]byte(`{"source":"S3"}`), &x)
		}, `source: unknown value "S3"; allowed: HUGGINGFACE, GITHUB, LOCAL`},
		{"empty in JSON", func() error {
			var x modelupload.ModelUpload
			return json.Unmarshal([]byte(`{"source":""}`), &x)
		}, `source: missing; allowed: HUGGINGFACE, GITHUB, LOCAL`},
		{"missing from JSON", func() error {
			var x modelupload.ModelUpload
			return json.Unmarshal([]byte(`{}`), &x)
		}, `source: is required; allowed: HUGGINGFACE, GITHUB, LOCAL`},
		{"never set", func() error { return modelupload.NewModelUpload().Validate() }, `source: missing; allowed: HUGGINGFACE, GITHUB, LOCAL`},
		{"Parse", func() error { _, err := pipelinerun.ParseTaskKind("Rscript"); return err }, `unknown value "Rscript"; allowed: R, sh, python`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.err()
			if err == nil || err.Error() != tt.want {
				t.Fatalf("error = %v\nwant %s", err, tt.want)
			}
		})
	}
}
