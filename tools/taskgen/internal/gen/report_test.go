package gen_test

import (
	"os"
	"strings"
	"testing"

	"github.com/taskmodel/taskmodel/tools/taskgen/internal/gen"
	"github.com/taskmodel/taskmodel/tools/taskgen/internal/spec"
)

// changedSpec loads the evolution cases' base spec with each of edits (old,
// new) applied.
func changedSpec(t *testing.T, edits ...string) *spec.Model {
	t.Helper()
	data, err := os.ReadFile("testdata/evolve/base.yaml")
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	for i := 0; i < len(edits); i += 2 {
		if !strings.Contains(text, edits[i]) {
			t.Fatalf("base.yaml has no %q", edits[i])
		}
		text = strings.Replace(text, edits[i], edits[i+1], 1)
	}
	m, err := spec.Parse("job.yaml", []byte(text), nil)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestCompareBehaviour: changes that change generated code but neither the
// database nor what callers send are reported, under Behaviour, and not as
// breaking.
func TestCompareBehaviour(t *testing.T) {
	old := changedSpec(t)
	new := changedSpec(t,
		"timeout: {after: 1h, to: FAILED, error_code: TIMEOUT}", "timeout: {after: 2h, to: FAILED, error_code: CRASH}",
		"PAUSED: {code: Q}", "PAUSED: {code: Q, display: {label: Paused, color: grey, poll: 5s}}",
		"  cancel: cancel\n", "",
		"  error_code: CRASH\nerror_codes", "  error_code: TIMEOUT\nerror_codes",
	)
	r := gen.Compare(old, new)
	md := r.Markdown("`base.yaml`")
	for _, want := range []string{
		"- status `RUNNING` timeout: after 2h0m0s to FAILED by event fail with error code CRASH (was after 1h0m0s to FAILED by event fail with error code TIMEOUT)",
		"- status `PAUSED` display: label \"Paused\", color \"grey\", poll 5s (was none)",
		"- worker error_code: `TIMEOUT` (was `CRASH`)",
		"- worker cancel: none (was `cancel`)",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("the report lacks %q:\n%s", want, md)
		}
	}
	if strings.Contains(md, "No change") || strings.Contains(md, "### Database") || len(r.Unacknowledged()) > 0 {
		t.Errorf("want behaviour changes only, none breaking:\n%s", md)
	}
	// The error code alone.
	new = changedSpec(t, "error_code: TIMEOUT}", "error_code: CRASH}")
	if md := gen.Compare(old, new).Markdown("`base.yaml`"); !strings.Contains(md, "with error code CRASH (was after 1h0m0s to FAILED by event fail with error code TIMEOUT)") {
		t.Errorf("a timeout's error code change is not reported:\n%s", md)
	}
}

// TestCompareNullable: a field made optional is breaking on the wire too
// (a reader gets null where it always had a value), under the Go API's ID.
func TestCompareNullable(t *testing.T) {
	old := changedSpec(t)
	new := changedSpec(t, "weight: {type: int, default: 1, ge: 1}", "weight: {type: int, optional: true, ge: 1}")
	md := gen.Compare(old, new).Markdown("`base.yaml`")
	for _, want := range []string{
		"- field `weight` may be null (**breaking**: `field.weight.nullable`)",
		"- field `Weight` becomes a pointer (**breaking**: `field.weight.nullable`)",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("the report lacks %q:\n%s", want, md)
		}
	}
}
