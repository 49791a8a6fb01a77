package gen_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/taskmodel/taskmodel/tools/taskgen/internal/gen"
	"github.com/taskmodel/taskmodel/tools/taskgen/internal/spec"
)

// changedText is the evolution cases' base spec with each of edits (old,
// new) applied.
func changedText(t *testing.T, edits ...string) string {
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
	return text
}

// changedSpec loads the evolution cases' base spec with each of edits (old,
// new) applied.
func changedSpec(t *testing.T, edits ...string) *spec.Model {
	t.Helper()
	m, err := spec.Parse("job.yaml", []byte(changedText(t, edits...)), nil)
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
		"- status `RUNNING` timeout: after 2h to FAILED by event fail with error code CRASH (was after 1h to FAILED by event fail with error code TIMEOUT)",
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
	if md := gen.Compare(old, new).Markdown("`base.yaml`"); !strings.Contains(md, "with error code CRASH (was after 1h to FAILED by event fail with error code TIMEOUT)") {
		t.Errorf("a timeout's error code change is not reported:\n%s", md)
	}
}

// TestCompareCodesAndDefaults: a status's code and a field's default are
// not stored (the status column holds names; no column has a DEFAULT), so
// changing them appends no migration, but clients see them: the report
// says what changes, under Behaviour, and not as breaking.
func TestCompareCodesAndDefaults(t *testing.T) {
	withType := []string{"enums:\n", "types:\n  Result:\n    fields:\n      size: {type: int, default: 1}\nenums:\n",
		"  user_id: {type: string, optional: true, max_len: 100}\n", "  user_id: {type: string, optional: true, max_len: 100}\n  result: {type: Result, optional: true}\n"}
	weightRequired := []string{"weight: {type: int, default: 1, ge: 1}", "weight: {type: int, required: true, ge: 1}"}
	noCodes := []string{"QUEUED: {initial: true, code: Q}", "QUEUED: {initial: true}", "    code: R\n", "", "PAUSED: {code: Q}", "PAUSED: {}",
		"DONE: {terminal: true, code: D,", "DONE: {terminal: true,", "FAILED: {terminal: true, code: F,", "FAILED: {terminal: true,", "CANCELLED: {terminal: true, code: C,", "CANCELLED: {terminal: true,"}
	tests := []struct {
		name     string
		old, new []string // edits of base.yaml
		want     []string
		breaking []string
	}{
		{"status code", nil, []string{"    code: R\n", "    code: Q\n"}, []string{
			"- status `RUNNING` code: Q (was R): the unified listing (`/tasks`) shows its tasks as Q, `/tasks?status=Q` selects them and `?status=R` no longer does, and `Code()`, `StatusesWithCode` and the clients' `STATUS_CODE` follow; while programs of both specs serve the same database (a rolling deploy), each shows its own code for the same task",
		}, nil},
		{"codes removed", nil, noCodes, []string{"- the unified listing (`/tasks`) no longer lists the model's tasks: its statuses have no code"}, nil},
		{"codes added", noCodes, nil, []string{"- the unified listing (`/tasks`) lists the model's tasks: every status has a code"}, nil},
		{"default", nil, []string{"weight: {type: int, default: 1, ge: 1}", "weight: {type: int, default: 2, ge: 1}"}, []string{
			"- field `weight` default: `2` (was `1`): a task created without it gets `2`, as OpenAPI shows; stored tasks keep their values",
		}, nil},
		{"default added", weightRequired, nil, []string{
			"- field `weight` default: `1` (was none): a task created without it gets `1`, as OpenAPI shows; stored tasks keep their values",
		}, nil},
		// Only a field that is not optional has a default: without one, it
		// is required (breaking on its own), or optional (a migration).
		{"default removed", nil, weightRequired, []string{"- field `weight` has no default (was `1`)"}, []string{"field.weight.required"}},
		{"value type default", withType, append(append([]string(nil), withType...), "size: {type: int, default: 1}", "size: {type: int, default: 3}"), []string{
			"- type `Result` field `size` default: `3` (was `1`): a value whose JSON lacks it reads as `3`, as OpenAPI shows, stored values written before the field existed included",
		}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			old, new := changedSpec(t, tt.old...), changedSpec(t, tt.new...)
			r := gen.Compare(old, new)
			md := r.Markdown("`base.yaml`")
			for _, want := range tt.want {
				if !strings.Contains(md, want) {
					t.Errorf("the report lacks %q:\n%s", want, md)
				}
			}
			if strings.Contains(md, "No change") || strings.Contains(md, "### Database") || !strings.Contains(md, "### Behaviour") {
				t.Errorf("want a change under Behaviour and none of the database:\n%s", md)
			}
			if got := r.Unacknowledged(); !slices.Equal(got, tt.breaking) {
				t.Errorf("breaking: %q, want %q\n%s", got, tt.breaking, md)
			}
			// Nothing is stored: no migration.
			dir := t.TempDir()
			for i, edits := range [][]string{tt.old, tt.new} {
				text := changedText(t, edits...)
				if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("v%d.yaml", i+1)), []byte(text), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			base := generateNew(t, filepath.Join(dir, "v1.yaml"))
			files, err := generateOver(t, base, filepath.Join(dir, "v2.yaml"))
			if err != nil {
				t.Fatal(err)
			}
			for name := range files {
				if _, ok := base[name]; !ok && strings.HasPrefix(name, gen.MigrationsDir+"/") {
					t.Errorf("the change added %s", name)
				}
			}
		})
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

// uploadsLifecycle adds to the evolution cases' base spec the statuses and
// events of an upload → process lifecycle; uploadsSection then adds the
// api section's uploads, whose files are a required one (primary), an
// optional one (baseline) and one asked for by a flag (parameters).
var (
	uploadsLifecycle = []string{
		"  QUEUED: {initial: true, code: Q}\n", "  CREATED: {initial: true, code: Q}\n  UPLOADING: {code: Q}\n  UPLOAD_FAILED: {code: Q}\n  QUEUED: {code: Q}\n",
		"events:\n", "events:\n  request_upload: {from: [CREATED, UPLOAD_FAILED], to: UPLOADING}\n  verify_uploads: {from: UPLOADING, to: QUEUED}\n  upload_failed: {from: UPLOADING, to: UPLOAD_FAILED}\n",
	}
	uploadsSection = []string{
		"  create: [tag, note, priority, weight, size, labels]\n", "  create: [tag, note, priority, weight, size, labels]\n" + `  uploads:
    request: request_upload
    verify: verify_uploads
    missing: upload_failed
    files:
      primary: {required: true, content_types: [text/csv, application/json], max_size: 10MiB}
      baseline: {max_size: 10MiB}
      parameters: {filename: parameters.json, flag: has_parameters, content_types: [application/json], format: json, max_size: 1MiB}
`,
	}
	noAPISection = []string{"api:\n  owner: user_id\n  create: [tag, note, priority, weight, size, labels]\n", ""}
)

// TestCompareUploads: every change of the api section's uploads is
// reported, and those that make a request or an upload that worked before
// fail are breaking, each with its ID.
func TestCompareUploads(t *testing.T) {
	cat := func(parts ...[]string) []string {
		var out []string
		for _, p := range parts {
			out = append(out, p...)
		}
		return out
	}
	withUploads := cat(uploadsLifecycle, uploadsSection)
	// with is the uploads spec with edits.
	with := func(edits ...string) []string { return cat(withUploads, edits) }
	tests := []struct {
		name     string
		old, new []string // edits of base.yaml; old nil: withUploads
		want     []string // the report's lines about the uploads, in order, after their area
		unacked  []string // sorted
	}{
		{name: "no change", new: with()},
		{name: "section added", old: uploadsLifecycle, new: with(), want: []string{
			"Wire - api uploads added: clients upload a task's files `primary` (required), `baseline` (optional), `parameters` (optional, asked for by `has_parameters`) through signed URLs (`POST /tasks/{id}/upload-urls` fires `request_upload`), then `POST /tasks/{id}/process` verifies them (fires `verify_uploads`, or `upload_failed` when a required file is missing or a file is refused); `server.New` requires `Config.Blobs` for the model",
		}},
		{name: "section removed", new: uploadsLifecycle, want: []string{
			"Wire - api uploads removed: `POST /tasks/{id}/upload-urls` and `POST /tasks/{id}/process` answer 409 for the model's tasks: clients can no longer ask for upload URLs, and a task waiting for its files in `UPLOADING` can no longer be processed (**breaking**: `api.uploads.removed`)",
		}, unacked: []string{"api.uploads.removed"}},
		{name: "api section removed with its uploads", new: cat(uploadsLifecycle, noAPISection), want: []string{
			"Wire - api uploads removed with the section: `POST /tasks/{id}/upload-urls` and `POST /tasks/{id}/process` answer 409 for the model's tasks: clients can no longer ask for upload URLs, and a task waiting for its files in `UPLOADING` can no longer be processed (**breaking**: `api.removed`)",
		}, unacked: []string{"api.removed"}},
		{name: "api section added with uploads", old: cat(uploadsLifecycle, noAPISection), new: with(), want: []string{
			"Wire - api uploads added: clients upload a task's files `primary` (required), `baseline` (optional), `parameters` (optional, asked for by `has_parameters`) through signed URLs (`POST /tasks/{id}/upload-urls` fires `request_upload`), then `POST /tasks/{id}/process` verifies them (fires `verify_uploads`, or `upload_failed` when a required file is missing or a file is refused); `server.New` requires `Config.Blobs` for the model",
		}},
		{name: "required file added", new: with("      baseline:", "      extra: {required: true}\n      baseline:"), want: []string{
			"Wire - api uploads file `extra` added, required: `POST /tasks/{id}/upload-urls` without it answers 400, and `POST /tasks/{id}/process` moves a task whose file is missing, such as one whose upload URLs were signed before, to `UPLOAD_FAILED` (**breaking**: `api.uploads.files.extra.added`)",
		}, unacked: []string{"api.uploads.files.extra.added"}},
		{name: "optional files added", new: with("      baseline:", "      extra: {max_size: 1KiB}\n      config: {filename: config.yaml, flag: has_config}\n      baseline:"), want: []string{
			"Wire - api uploads file `extra` added, optional: clients may ask for its upload URL under `files`",
			"Wire - api uploads file `config` added, optional: clients may ask for it (`config.yaml`) with `has_config: true`",
		}},
		{name: "files removed", new: with("      baseline: {max_size: 10MiB}\n", "", "      parameters: {filename: parameters.json, flag: has_parameters, content_types: [application/json], format: json, max_size: 1MiB}\n", ""), want: []string{
			"Wire - api uploads file `baseline` removed: `POST /tasks/{id}/upload-urls` no longer signs a URL for it: a request naming it under `files` answers 400 (unknown file) (**breaking**: `api.uploads.files.baseline.removed`)",
			"Wire - api uploads file `parameters` removed: `POST /tasks/{id}/upload-urls` no longer signs a URL for it: a request setting `has_parameters` answers 400 (unknown field) (**breaking**: `api.uploads.files.parameters.removed`)",
		}, unacked: []string{"api.uploads.files.baseline.removed", "api.uploads.files.parameters.removed"}},
		{name: "required swapped", new: with("      primary: {required: true, content_types: [text/csv, application/json], max_size: 10MiB}", "      primary: {content_types: [text/csv, application/json], max_size: 10MiB}", "      baseline: {max_size: 10MiB}", "      baseline: {required: true, max_size: 10MiB}"), want: []string{
			"Wire - api uploads file `primary` optional (was required): `POST /tasks/{id}/upload-urls` may leave it out, and `POST /tasks/{id}/process` verifies a task without it",
			"Wire - api uploads file `baseline` required (was optional): `POST /tasks/{id}/upload-urls` without it answers 400, and `POST /tasks/{id}/process` moves a task whose file is missing to `UPLOAD_FAILED` (**breaking**: `api.uploads.files.baseline.required`)",
		}, unacked: []string{"api.uploads.files.baseline.required"}},
		{name: "filename changed", new: with("filename: parameters.json", "filename: params.json"), want: []string{
			"Wire - api uploads file `parameters` filename: `params.json` (was `parameters.json`): the documentation (OpenAPI, TypeScript, `tasktype.UploadFile.Filename`) follows; the server stores the file under its name, `parameters`, whatever its filename",
		}},
		{name: "flag renamed", new: with("flag: has_parameters", "flag: with_parameters"), want: []string{
			"Wire - api uploads file `parameters` flag: `with_parameters` (was `has_parameters`): a request setting `has_parameters` answers 400 (unknown field) (**breaking**: `api.uploads.files.parameters.flag`)",
		}, unacked: []string{"api.uploads.files.parameters.flag"}},
		{name: "flag removed", new: with("filename: parameters.json, flag: has_parameters, ", ""), want: []string{
			"Wire - api uploads file `parameters` flag: none (was `has_parameters`): clients describe it under `files`; a request setting `has_parameters` answers 400 (unknown field) (**breaking**: `api.uploads.files.parameters.flag`)",
		}, unacked: []string{"api.uploads.files.parameters.flag"}},
		{name: "flag added", new: with("      baseline: {max_size: 10MiB}", "      baseline: {filename: baseline.csv, flag: has_baseline, max_size: 10MiB}"), want: []string{
			"Wire - api uploads file `baseline` flag: `has_baseline` (was none): clients ask for it (`baseline.csv`) with `has_baseline: true`; a request naming it under `files` answers 400 (unknown file) (**breaking**: `api.uploads.files.baseline.flag`)",
		}, unacked: []string{"api.uploads.files.baseline.flag"}},
		{name: "content type removed", new: with("content_types: [text/csv, application/json]", "content_types: [text/csv]"), want: []string{
			"Wire - api uploads file `primary` content_types: `text/csv` (was `text/csv`, `application/json`): a file of type `application/json`, accepted before, is refused: `POST /tasks/{id}/upload-urls` asking for one answers 400, and `POST /tasks/{id}/process` deletes a stored file of type `application/json` and moves its task to `UPLOAD_FAILED` (**breaking**: `api.uploads.files.primary.content_types`)",
		}, unacked: []string{"api.uploads.files.primary.content_types"}},
		{name: "content types listed where any was allowed", new: with("      baseline: {max_size: 10MiB}", "      baseline: {content_types: [text/csv], max_size: 10MiB}"), want: []string{
			"Wire - api uploads file `baseline` content_types: `text/csv` (was any): a file of another type, accepted before, is refused: `POST /tasks/{id}/upload-urls` asking for one answers 400, and `POST /tasks/{id}/process` deletes a stored file of another type and moves its task to `UPLOAD_FAILED` (**breaking**: `api.uploads.files.baseline.content_types`)",
		}, unacked: []string{"api.uploads.files.baseline.content_types"}},
		{name: "content types widened", new: with("content_types: [text/csv, application/json]", "content_types: [text/csv, application/json, text/plain]"), want: []string{
			"Wire - api uploads file `primary` content_types: `text/csv`, `application/json`, `text/plain` (was `text/csv`, `application/json`)",
		}},
		{name: "content types list removed", new: with("content_types: [text/csv, application/json], ", ""), want: []string{
			"Wire - api uploads file `primary` content_types: any (was `text/csv`, `application/json`)",
		}},
		// The upload URL of a file asked for by its flag is signed for its
		// first content type.
		{name: "flag's content types widened", new: with("content_types: [application/json], format", "content_types: [application/json, text/plain], format"), want: []string{
			"Wire - api uploads file `parameters` content_types: `application/json`, `text/plain` (was `application/json`)",
		}},
		{name: "flag's signed content type changed", new: with("content_types: [application/json], format", "content_types: [text/plain, application/json], format"), want: []string{
			"Wire - api uploads file `parameters` content_types: `text/plain`, `application/json` (was `application/json`): the upload URL that `has_parameters` asks for is signed for Content-Type `text/plain` (was `application/json`): a PUT that sends `application/json` is refused; clients that send the headers of the upload-urls response follow (**breaking**: `api.uploads.files.parameters.content_types`)",
		}, unacked: []string{"api.uploads.files.parameters.content_types"}},
		// Its uploads could only be of that type: taking out another
		// refuses nothing that worked before.
		{name: "flag's other content type taken out", old: with("content_types: [application/json], format", "content_types: [application/json, text/plain], format"), new: with(), want: []string{
			"Wire - api uploads file `parameters` content_types: `application/json` (was `application/json`, `text/plain`): the upload URL that `has_parameters` asks for is signed for Content-Type `application/json`, as before, so no file of a type taken out could be uploaded",
		}},
		{name: "flag's signed content type taken out", old: with("content_types: [application/json], format", "content_types: [application/json, text/plain], format"), new: with("content_types: [application/json], format", "content_types: [text/plain], format"), want: []string{
			"Wire - api uploads file `parameters` content_types: `text/plain` (was `application/json`, `text/plain`): a file of type `application/json`, accepted before, is refused: `POST /tasks/{id}/process` deletes a stored file of type `application/json` and moves its task to `UPLOAD_FAILED`; the upload URL that `has_parameters` asks for is signed for Content-Type `text/plain` (was `application/json`): a PUT that sends `application/json` is refused; clients that send the headers of the upload-urls response follow (**breaking**: `api.uploads.files.parameters.content_types`)",
		}, unacked: []string{"api.uploads.files.parameters.content_types"}},
		{name: "flag removed, its other content type taken out", old: with("content_types: [application/json], format", "content_types: [application/json, text/plain], format"), new: with("filename: parameters.json, flag: has_parameters, ", ""), want: []string{
			"Wire - api uploads file `parameters` flag: none (was `has_parameters`): clients describe it under `files`; a request setting `has_parameters` answers 400 (unknown field) (**breaking**: `api.uploads.files.parameters.flag`)",
			"Wire - api uploads file `parameters` content_types: `application/json` (was `application/json`, `text/plain`)",
		}, unacked: []string{"api.uploads.files.parameters.flag"}},
		{name: "flag's content types list removed", new: with("content_types: [application/json], format", "format"), want: []string{
			"Wire - api uploads file `parameters` content_types: any (was `application/json`): the upload URL that `has_parameters` asks for is signed for Content-Type `application/octet-stream` (was `application/json`): a PUT that sends `application/json` is refused; clients that send the headers of the upload-urls response follow (**breaking**: `api.uploads.files.parameters.content_types`)",
		}, unacked: []string{"api.uploads.files.parameters.content_types"}},
		{name: "max_size lowered and raised", new: with("content_types: [text/csv, application/json], max_size: 10MiB", "content_types: [text/csv, application/json], max_size: 1MiB", "baseline: {max_size: 10MiB}", "baseline: {max_size: 1GiB}", "format: json, max_size: 1MiB", "format: json, max_size: 512KiB"), want: []string{
			"Wire - api uploads file `primary` max_size: 1MiB (was 10MiB): a larger file, accepted before, is refused: `POST /tasks/{id}/upload-urls` declaring a larger size answers 400, and `POST /tasks/{id}/process` deletes a stored file that is larger and moves its task to `UPLOAD_FAILED` (**breaking**: `api.uploads.files.primary.max_size`)",
			"Wire - api uploads file `baseline` max_size: 1GiB (was 10MiB)",
			"Wire - api uploads file `parameters` max_size: 512KiB (was 1MiB): a larger file, accepted before, is refused: `POST /tasks/{id}/process` deletes a stored file that is larger and moves its task to `UPLOAD_FAILED` (**breaking**: `api.uploads.files.parameters.max_size`)",
		}, unacked: []string{"api.uploads.files.parameters.max_size", "api.uploads.files.primary.max_size"}},
		{name: "min_size raised and lowered", new: with("max_size: 10MiB}", "max_size: 10MiB, min_size: 1KiB}", "baseline: {max_size: 10MiB}", "baseline: {max_size: 10MiB, min_size: 0B}"), want: []string{
			"Behaviour - api uploads file `primary` min_size: 1KiB (was 1B): a smaller file, accepted before, is refused: `POST /tasks/{id}/process` deletes it and moves its task to `UPLOAD_FAILED` (**breaking**: `api.uploads.files.primary.min_size`)",
			"Behaviour - api uploads file `baseline` min_size: 0B (was 1B)",
		}, unacked: []string{"api.uploads.files.primary.min_size"}},
		{name: "format added and removed", new: with("baseline: {max_size: 10MiB}", "baseline: {max_size: 10MiB, format: json}", "format: json, max_size: 1MiB", "max_size: 1MiB"), want: []string{
			"Behaviour - api uploads file `baseline` format: json (was any bytes): a file that is not one well-formed JSON value, accepted before, is refused: `POST /tasks/{id}/process` deletes it and moves its task to `UPLOAD_FAILED` (**breaking**: `api.uploads.files.baseline.format`)",
			"Behaviour - api uploads file `parameters` format: any bytes (was json): `POST /tasks/{id}/process` no longer checks that the file is JSON",
		}, unacked: []string{"api.uploads.files.baseline.format"}},
		{name: "expiry and missing_message", new: with("    missing: upload_failed\n", "    missing: upload_failed\n    missing_message: Upload the files again\n    expiry: 1h\n"), want: []string{
			"Behaviour - api uploads expiry: 1h (was 15m): how long upload URLs, and the download URLs of a finished task's outputs, stay valid",
			"Behaviour - api uploads missing_message: \"Upload the files again\" (was \"Required files not found in storage\"): the error message of a task whose required files are missing at `POST /tasks/{id}/process`",
		}},
		// A client that PUTs or downloads later than the new expiry, but
		// within the old one, is refused.
		{name: "expiry shortened", new: with("    missing: upload_failed\n", "    missing: upload_failed\n    expiry: 90s\n"), want: []string{
			"Behaviour - api uploads expiry: 1m30s (was 15m): upload URLs, and the download URLs of a finished task's outputs, stay valid for 1m30s after they are signed: a PUT to an upload URL, or a GET of a download URL, later than that, accepted before, is refused (403) (**breaking**: `api.uploads.expiry`)",
		}, unacked: []string{"api.uploads.expiry"}},
		{name: "expiry lengthened", old: with("    missing: upload_failed\n", "    missing: upload_failed\n    expiry: 1h30m\n"), new: with("    missing: upload_failed\n", "    missing: upload_failed\n    expiry: 36h\n"), want: []string{
			"Behaviour - api uploads expiry: 36h (was 1h30m): how long upload URLs, and the download URLs of a finished task's outputs, stay valid",
		}},
		{name: "acknowledged", new: with("max_size: 10MiB}", "max_size: 1MiB}", "api:\n", "breaking_changes: [api.uploads.files.primary.max_size]\napi:\n"), want: []string{
			"Wire - api uploads file `primary` max_size: 1MiB (was 10MiB): a larger file, accepted before, is refused: `POST /tasks/{id}/upload-urls` declaring a larger size answers 400, and `POST /tasks/{id}/process` deletes a stored file that is larger and moves its task to `UPLOAD_FAILED` (breaking, acknowledged: `api.uploads.files.primary.max_size`)",
		}},
		// Events: a rename (the event removed and added are reported, not
		// the uploads), another event of the same transition, and events
		// that move tasks between other statuses.
		{name: "request event renamed", new: with("  request_upload: {", "  ask_upload: {", "request: request_upload", "request: ask_upload"), want: nil, unacked: []string{"event.request_upload.removed"}},
		{name: "uploading status renamed", new: with(
			"  UPLOADING: {code: Q}\n", "  TRANSFERRING: {code: Q}\n",
			"  request_upload: {from: [CREATED, UPLOAD_FAILED], to: UPLOADING}", "  request_transfer: {from: [CREATED, UPLOAD_FAILED], to: TRANSFERRING}",
			"from: UPLOADING, to: QUEUED", "from: TRANSFERRING, to: QUEUED",
			"from: UPLOADING, to: UPLOAD_FAILED", "from: TRANSFERRING, to: UPLOAD_FAILED",
			"request: request_upload", "request: request_transfer",
			"statuses:\n", "retired:\n  statuses:\n    UPLOADING: {replaced_by: TRANSFERRING}\n  events: [request_upload]\nstatuses:\n"), want: nil, unacked: []string{"event.request_upload.removed", "status.UPLOADING.removed"}},
		{name: "another event of the same transition", old: with("events:\n", "events:\n  retry_upload: {from: [CREATED, UPLOAD_FAILED], to: UPLOADING}\n"), new: with("events:\n", "events:\n  retry_upload: {from: [CREATED, UPLOAD_FAILED], to: UPLOADING}\n", "request: request_upload", "request: retry_upload"), want: []string{
			"Behaviour - api uploads request: `retry_upload` (was `request_upload`): the same transition (`CREATED`, `UPLOAD_FAILED` → `UPLOADING`), which the tasks' history records as `retry_upload`",
		}},
		{name: "request from fewer statuses", new: with("events:\n", "events:\n  first_upload: {from: CREATED, to: UPLOADING}\n", "request: request_upload", "request: first_upload"), want: []string{
			"Behaviour - api uploads request: `first_upload` (was `request_upload`): `POST /tasks/{id}/upload-urls` takes tasks in `CREATED` (was `CREATED`, `UPLOAD_FAILED`) and moves them to `UPLOADING`; a task in `UPLOAD_FAILED` can no longer ask for upload URLs (409) (**breaking**: `api.uploads.request`)",
		}, unacked: []string{"api.uploads.request"}},
		{name: "request to another status", new: with("  UPLOADING: {code: Q}\n", "  UPLOADING: {code: Q}\n  SENDING: {code: Q}\n", "events:\n", "events:\n  send: {from: [CREATED, UPLOAD_FAILED], to: SENDING}\n  sent: {from: SENDING, to: QUEUED}\n  not_sent: {from: SENDING, to: UPLOAD_FAILED}\n", "request: request_upload\n    verify: verify_uploads\n    missing: upload_failed", "request: send\n    verify: sent\n    missing: not_sent"), want: []string{
			"Behaviour - api uploads request: `send` (was `request_upload`): `POST /tasks/{id}/upload-urls` takes tasks in `CREATED`, `UPLOAD_FAILED` and moves them to `SENDING` (was `UPLOADING`) (**breaking**: `api.uploads.request`)",
			"Behaviour - api uploads verify: `sent` (was `verify_uploads`): `POST /tasks/{id}/process` takes tasks in `SENDING` (was `UPLOADING`) and moves those whose files pass its checks to `QUEUED`; a task waiting for its files in `UPLOADING` can no longer be processed (409) (**breaking**: `api.uploads.verify`)",
			"Behaviour - api uploads missing: `not_sent` (was `upload_failed`): `POST /tasks/{id}/process` moves a task in `SENDING` (was `UPLOADING`) whose files are missing or refused to `UPLOAD_FAILED`; for a task in `UPLOADING`, `POST /tasks/{id}/process` answers 409 whatever its files (`sent` does not fire from there), so nothing more fails",
		}, unacked: []string{"api.uploads.request", "api.uploads.verify"}},
		{name: "verify to another status", new: with("events:\n", "events:\n  hold: {from: UPLOADING, to: PAUSED}\n", "verify: verify_uploads", "verify: hold"), want: []string{
			"Behaviour - api uploads verify: `hold` (was `verify_uploads`): `POST /tasks/{id}/process` takes tasks in `UPLOADING` and moves those whose files pass its checks to `PAUSED` (was `QUEUED`); workers, which claim tasks from `QUEUED`, no longer receive them (**breaking**: `api.uploads.verify`)",
		}, unacked: []string{"api.uploads.verify"}},
		{name: "missing to another status", new: with("events:\n", "events:\n  upload_lost: {from: UPLOADING, to: FAILED}\n", "missing: upload_failed", "missing: upload_lost"), want: []string{
			"Behaviour - api uploads missing: `upload_lost` (was `upload_failed`): `POST /tasks/{id}/process` moves a task in `UPLOADING` whose files are missing or refused to `FAILED` (was `UPLOAD_FAILED`); such a task can no longer ask for upload URLs again (`request_upload` does not fire from `FAILED`) (**breaking**: `api.uploads.missing`)",
		}, unacked: []string{"api.uploads.missing"}},
		{name: "missing to another status clients can upload from", new: with("events:\n", "events:\n  upload_reset: {from: UPLOADING, to: CREATED}\n", "missing: upload_failed", "missing: upload_reset"), want: []string{
			"Behaviour - api uploads missing: `upload_reset` (was `upload_failed`): `POST /tasks/{id}/process` moves a task in `UPLOADING` whose files are missing or refused to `CREATED` (was `UPLOAD_FAILED`); such a task is left in `CREATED`, not `UPLOAD_FAILED`: a client that waits for `UPLOAD_FAILED` to upload its files again no longer sees it (**breaking**: `api.uploads.missing`)",
		}, unacked: []string{"api.uploads.missing"}},
		// verify still takes tasks in PAUSED: one whose files are missing
		// moved to UPLOAD_FAILED and now is refused.
		{name: "missing from fewer statuses", old: with("verify_uploads: {from: UPLOADING", "verify_uploads: {from: [UPLOADING, PAUSED]", "upload_failed: {from: UPLOADING", "upload_failed: {from: [UPLOADING, PAUSED]"), new: with("verify_uploads: {from: UPLOADING", "verify_uploads: {from: [UPLOADING, PAUSED]", "upload_failed: {from: UPLOADING", "upload_failed: {from: [UPLOADING, PAUSED]", "events:\n", "events:\n  upload_missing: {from: UPLOADING, to: UPLOAD_FAILED}\n", "missing: upload_failed", "missing: upload_missing"), want: []string{
			"Behaviour - api uploads missing: `upload_missing` (was `upload_failed`): `POST /tasks/{id}/process` moves a task in `UPLOADING` (was `UPLOADING`, `PAUSED`) whose files are missing or refused to `UPLOAD_FAILED`; processing a task in `PAUSED` whose files are missing or refused answers 409 (`verify_uploads` still takes it when they pass) (**breaking**: `api.uploads.missing`)",
		}, unacked: []string{"api.uploads.missing"}},
		// verify never took tasks in PAUSED: process refused them anyway.
		{name: "missing from fewer statuses verify does not take", old: with("upload_failed: {from: UPLOADING", "upload_failed: {from: [UPLOADING, PAUSED]"), new: with("upload_failed: {from: UPLOADING", "upload_failed: {from: [UPLOADING, PAUSED]", "events:\n", "events:\n  upload_missing: {from: UPLOADING, to: UPLOAD_FAILED}\n", "missing: upload_failed", "missing: upload_missing"), want: []string{
			"Behaviour - api uploads missing: `upload_missing` (was `upload_failed`): `POST /tasks/{id}/process` moves a task in `UPLOADING` (was `UPLOADING`, `PAUSED`) whose files are missing or refused to `UPLOAD_FAILED`; for a task in `PAUSED`, `POST /tasks/{id}/process` answers 409 whatever its files (`verify_uploads` does not fire from there), so nothing more fails",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			old := tt.old
			if old == nil {
				old = withUploads
			}
			r := gen.Compare(changedSpec(t, old...), changedSpec(t, tt.new...))
			md := r.Markdown("`base.yaml`")
			var got []string
			area := ""
			for _, line := range strings.Split(md, "\n") {
				if h, ok := strings.CutPrefix(line, "### "); ok {
					area, _, _ = strings.Cut(h, " ")
				}
				if strings.HasPrefix(line, "- api uploads") {
					got = append(got, area+" "+line)
				}
			}
			if tt.want == nil && tt.unacked == nil && !strings.Contains(md, "No change.") {
				t.Errorf("want no change:\n%s", md)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("uploads lines:\n%s\nwant:\n%s\nreport:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"), md)
			}
			un := r.Unacknowledged()
			slices.Sort(un)
			if !slices.Equal(un, tt.unacked) {
				t.Errorf("unacknowledged %q, want %q\n%s", un, tt.unacked, md)
			}
		})
	}
}

// TestCompareEventEdges: an event that requires a field more refuses
// callers that fired it without one (breaking); one that requires less,
// or leaves a status more, breaks nobody but is reported.
func TestCompareEventEdges(t *testing.T) {
	for _, tc := range []struct {
		name       string
		edits      []string
		want       string
		breakingID string
	}{
		{"requires a field more", []string{"requires: [error_code]", "requires: [error_code, note]"},
			"- event `fail` requires `note`: firing it without one is refused (**breaking**: `event.fail.requires.note.added`)", "event.fail.requires.note.added"},
		{"requires a field less", []string{"requires: [error_code]", "requires: []"},
			"- event `fail` no longer requires `error_code`", ""},
		{"requires a renamed field", []string{"requires: [error_code]", "requires: [failure_code]", "error_code: {type: ErrorCode, optional: true}", "failure_code: {type: ErrorCode, optional: true, renamed_from: error_code}"},
			"", "field.error_code.renamed"},
		{"leaves a status more", []string{"pause: {from: RUNNING, to: PAUSED}", "pause: {from: [QUEUED, RUNNING], to: PAUSED}"},
			"- event `pause` also leaves `QUEUED`", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := gen.Compare(changedSpec(t), changedSpec(t, tc.edits...))
			md := r.Markdown("`base.yaml`")
			if tc.want != "" && !strings.Contains(md, tc.want) {
				t.Errorf("the report lacks %q:\n%s", tc.want, md)
			}
			if tc.want == "" && strings.Contains(md, "requires") {
				t.Errorf("a renamed field is reported as a requirement change:\n%s", md)
			}
			var want []string
			if tc.breakingID != "" {
				want = []string{tc.breakingID}
			}
			if got := r.Unacknowledged(); !slices.Equal(got, want) {
				t.Errorf("unacknowledged = %v, want %v\n%s", got, want, md)
			}
		})
	}
}
