package gen_test

import (
	"os"
	"slices"
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

// TestCompareOneIDPerChange: a change the user makes has one ID, however
// many lines of the report it causes, and an entry naming an ID an earlier
// taskgen gave a part of that change still acknowledges it.
func TestCompareOneIDPerChange(t *testing.T) {
	dropLabels := []string{"  labels: {type: list, of: string, optional: true, max_items: 5}\n", "", "size, labels]", "size]"}
	dropLarge := []string{"      large: A large job.\n", ""}
	dropTimeout := []string{"  TIMEOUT: Took too long.\n", "", "error_code: TIMEOUT}", "error_code: CRASH}"}
	narrowTag := []string{"tag: {type: string, optional: true, max_len: 255}", "tag: {type: string, optional: true, max_len: 200}"}
	tests := []struct {
		name      string
		edits     []string
		entries   string // breaking_changes, as YAML
		ids       []string
		unacked   []string
		unmatched []string
	}{
		{"field removed", dropLabels, "", []string{"field.labels.removed"}, []string{"field.labels.removed"}, nil},
		{"field removed, acknowledged", dropLabels, "[field.labels.removed]", []string{"field.labels.removed"}, nil, nil},
		{"field removed, acknowledged by its column's earlier ID", dropLabels, "[field.labels.dropped]", []string{"field.labels.removed"}, nil, nil},
		{"field removed, acknowledged by both earlier IDs", dropLabels, "[field.labels.dropped, field.labels.removed]", []string{"field.labels.removed"}, nil, nil},
		{"enum value removed", dropLarge, "", []string{"enum.Size.large.removed"}, []string{"enum.Size.large.removed"}, nil},
		{"enum value removed, acknowledged", dropLarge, "[enum.Size.large.removed]", []string{"enum.Size.large.removed"}, nil, nil},
		{"enum value removed, acknowledged by its field's earlier ID", dropLarge, "[field.size.narrowed]", []string{"enum.Size.large.removed"}, nil, nil},
		{"enum value removed, acknowledged by both earlier IDs", dropLarge, "[field.size.narrowed, enum.Size.large.removed]", []string{"enum.Size.large.removed"}, nil, nil},
		{"error code removed", dropTimeout, "", []string{"error_code.TIMEOUT.removed"}, []string{"error_code.TIMEOUT.removed"}, nil},
		{"error code removed, acknowledged by its field's earlier ID", dropTimeout, "[field.error_code.narrowed]", []string{"error_code.TIMEOUT.removed"}, nil, nil},
		// A field narrowed on its own keeps its ID, and an enum's removal
		// does not make it one: both changes need their entries.
		{"limit narrowed and enum value removed", append(append([]string(nil), narrowTag...), dropLarge...), "[enum.Size.large.removed]", []string{"field.tag.narrowed", "enum.Size.large.removed"}, []string{"field.tag.narrowed"}, nil},
		{"an earlier ID of a change that is not there", narrowTag, "[field.tag.narrowed, field.labels.dropped]", []string{"field.tag.narrowed"}, nil, []string{"field.labels.dropped"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			edits := tt.edits
			if tt.entries != "" {
				edits = append(append([]string(nil), edits...), "api:\n", "breaking_changes: "+tt.entries+"\napi:\n")
			}
			r := gen.Compare(changedSpec(t), changedSpec(t, edits...))
			var ids []string
			for _, c := range r.Changes {
				if c.ID != "" && !slices.Contains(ids, c.ID) {
					ids = append(ids, c.ID)
				}
			}
			if !slices.Equal(ids, tt.ids) {
				t.Errorf("IDs %q, want %q\n%s", ids, tt.ids, r.Markdown("`base.yaml`"))
			}
			if got := r.Unacknowledged(); !slices.Equal(got, tt.unacked) {
				t.Errorf("unacknowledged %q, want %q", got, tt.unacked)
			}
			if !slices.Equal(r.Unmatched, tt.unmatched) {
				t.Errorf("unmatched %q, want %q", r.Unmatched, tt.unmatched)
			}
		})
	}
}

// TestCompareValueTypeEnumRemoval: removing an enum value a value type's
// field holds is one change, which the report says the migration does not
// check (stored values inside JSON that hold it no longer read).
func TestCompareValueTypeEnumRemoval(t *testing.T) {
	withType := []string{"enums:\n", "types:\n  Result:\n    fields:\n      size: {type: Size, optional: true}\n      note: {type: string, optional: true}\nenums:\n",
		"  user_id: {type: string, optional: true, max_len: 100}\n", "  user_id: {type: string, optional: true, max_len: 100}\n  result: {type: Result, optional: true}\n"}
	old := changedSpec(t, withType...)
	new := changedSpec(t, append(append([]string(nil), withType...), "      large: A large job.\n", "")...)
	r := gen.Compare(old, new)
	md := r.Markdown("`base.yaml`")
	for _, want := range []string{
		"- **not checked**: type `Result` field `size`: a stored value holding `large` (removed) no longer reads (`backends.StoredValueError`); the migration checks the model's own columns, not the values inside a value type's JSON: rewrite such values, or keep the value declared (**breaking**: `enum.Size.large.removed`)",
		"- type `Result` field `size`: one of small (was one of small, large): values allowed before are refused (**breaking**: `enum.Size.large.removed`)",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("the report lacks %q:\n%s", want, md)
		}
	}
	if got := r.Unacknowledged(); !slices.Equal(got, []string{"enum.Size.large.removed"}) {
		t.Errorf("unacknowledged %q", got)
	}
}

// TestCompareAPI: the api section's changes need no migration but change
// what clients may do: taking a field out of create (clients sending it
// get 400) and changing the owner (stored tasks leave their owners'
// listings) are breaking; adding a field to create or the section is not.
func TestCompareAPI(t *testing.T) {
	old := changedSpec(t)
	tests := []struct {
		name    string
		edits   []string
		want    []string
		unacked []string
	}{
		{"create field removed and added", []string{"create: [tag, note, priority, weight, size, labels]", "create: [tag, note, priority, weight, size, user_id]", "owner: user_id", "owner: note", "create: [tag, note,", "create: [tag,"}, []string{
			"- api create: field `labels` removed: a client that sends it when creating a task gets 400 (**breaking**: `api.create.labels.removed`)",
			"- api create: field `note` removed: a client that sends it when creating a task gets 400 (**breaking**: `api.create.note.removed`)",
			"- api create: field `user_id` added: clients may set it when creating a task\n",
			"- api owner: `note` (was `user_id`): the server shows a task to a user who is not an admin only when its `note` names them; a task stored before whose `note` does not name the user its `user_id` named vanishes from its owner's listing, and reading it answers 404 (**breaking**: `api.owner`)",
		}, []string{"api.create.labels.removed", "api.create.note.removed", "api.owner"}},
		{"owner removed", []string{"  owner: user_id\n", ""}, []string{
			"- api owner: none (was `user_id`): only admins see the model's tasks; their owners no longer list or read them (**breaking**: `api.owner`)",
		}, []string{"api.owner"}},
		{"create field acknowledged", []string{", labels]", "]", "api:\n", "breaking_changes: [api.create.labels.removed]\napi:\n"}, []string{
			"- api create: field `labels` removed: a client that sends it when creating a task gets 400 (breaking, acknowledged: `api.create.labels.removed`)",
		}, nil},
		// A field renamed keeps its place in create and as the owner.
		{"renamed", []string{"  user_id: {type: string, optional: true, max_len: 100}", "  owner_id: {type: string, optional: true, max_len: 100, renamed_from: user_id}", "owner: user_id", "owner: owner_id", "  labels: {type: list", "  tags: {renamed_from: labels, type: list", ", labels]", ", tags]"}, nil, []string{"field.labels.renamed", "field.user_id.renamed"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := gen.Compare(old, changedSpec(t, tt.edits...))
			md := r.Markdown("`base.yaml`")
			for _, want := range tt.want {
				if !strings.Contains(md, want) {
					t.Errorf("the report lacks %q:\n%s", want, md)
				}
			}
			if tt.want == nil && strings.Contains(md, "api ") {
				t.Errorf("want no api change:\n%s", md)
			}
			got := r.Unacknowledged()
			slices.Sort(got)
			if !slices.Equal(got, tt.unacked) {
				t.Errorf("unacknowledged %q, want %q\n%s", got, tt.unacked, md)
			}
		})
	}
	// The section added.
	i := strings.Index(string(mustRead(t, "testdata/evolve/base.yaml")), "api:\n")
	noAPI, err := spec.Parse("job.yaml", mustRead(t, "testdata/evolve/base.yaml")[:i], nil)
	if err != nil {
		t.Fatal(err)
	}
	r := gen.Compare(noAPI, old)
	md := r.Markdown("`base.yaml`")
	for _, want := range []string{
		"- api section added: clients may create the model's tasks over HTTP (`POST /tasks`)\n",
		"- api owner: `user_id`: a user who is not an admin sees the tasks whose `user_id` names them (was: admins only)\n",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("the report lacks %q:\n%s", want, md)
		}
	}
	if len(r.Unacknowledged()) > 0 {
		t.Errorf("adding the api section is not breaking:\n%s", md)
	}
}

// TestCompareSetAdded: a set added is reported with the Go API it adds,
// not as breaking.
func TestCompareSetAdded(t *testing.T) {
	r := gen.Compare(changedSpec(t), changedSpec(t, "fields:\n", "sets:\n  active: {statuses: [QUEUED, RUNNING]}\nfields:\n"))
	md := r.Markdown("`base.yaml`")
	if want := "### Go API\n\n- set `active` added (`IsActive`, `ActiveStatuses`)\n"; !strings.Contains(md, want) {
		t.Errorf("the report lacks %q:\n%s", want, md)
	}
	if len(r.Unacknowledged()) > 0 {
		t.Errorf("adding a set is not breaking:\n%s", md)
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestCompareSetMembers: a set whose statuses change is reported under
// Behaviour (its Is and Statuses functions answer differently), not as
// breaking; the same members in the same order report nothing.
func TestCompareSetMembers(t *testing.T) {
	base := changedSpec(t, "fields:\n", "sets:\n  active: {statuses: [QUEUED, RUNNING]}\nfields:\n")
	for _, tc := range []struct {
		name, members, want string
	}{
		{"a status added", "[QUEUED, RUNNING, DONE]", "### Behaviour\n\n- set `active` holds `QUEUED`, `RUNNING`, `DONE` (was `QUEUED`, `RUNNING`): `IsActive` and `ActiveStatuses` answer accordingly\n"},
		{"a status removed", "[RUNNING]", "- set `active` holds `RUNNING` (was `QUEUED`, `RUNNING`)"},
		{"unchanged", "[QUEUED, RUNNING]", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := gen.Compare(base, changedSpec(t, "fields:\n", "sets:\n  active: {statuses: "+tc.members+"}\nfields:\n"))
			md := r.Markdown("`base.yaml`")
			if tc.want == "" && strings.Contains(md, "set `active`") || tc.want != "" && !strings.Contains(md, tc.want) {
				t.Errorf("the report, want %q:\n%s", tc.want, md)
			}
			if len(r.Unacknowledged()) > 0 {
				t.Errorf("a set's members are not breaking:\n%s", md)
			}
		})
	}
}
