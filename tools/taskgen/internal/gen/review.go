package gen

import (
	"fmt"
	"sort"
	"strings"

	"github.com/taskmodel/taskmodel/tools/taskgen/internal/spec"
)

// review renders README.md: the document a reviewer reads in a pull request.
func (g *generator) review() []byte {
	m := g.m
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	p("<!-- %s -->\n\n", Header)
	p("# Model `%s`\n\n", m.Name)
	if m.Doc != "" {
		p("%s\n\n", oneLine(m.Doc))
	}
	p("Go package `%s`, struct `%s`", g.pkg, m.Struct)
	if m.Lifecycle != "" {
		p(", lifecycle from `%s`", m.Lifecycle)
	}
	p(".\n\n")

	p("## State diagram\n\n```mermaid\nstateDiagram-v2\n")
	for _, s := range m.Statuses {
		p("    state \"%s\" as s%d\n", s.Name, s.Index)
	}
	p("    [*] --> s%d\n", m.Initial.Index)
	for _, s := range m.Statuses {
		for _, t := range m.Statuses {
			var names []string
			for _, e := range m.Events {
				if e.To == t && e.Leaves(s) {
					names = append(names, e.Name)
				}
			}
			if len(names) > 0 {
				p("    s%d --> s%d: %s\n", s.Index, t.Index, strings.Join(names, ", "))
			}
		}
	}
	for _, s := range m.Statuses {
		if s.Terminal {
			p("    s%d --> [*]\n", s.Index)
		}
	}
	p("```\n\n")

	p("## Transition matrix\n\nRows are the status a task is in, columns the status it moves to; a cell names the event that makes the move.\n\n")
	p("| From \\ To |")
	for _, s := range m.Statuses {
		p(" %s |", s.Name)
	}
	p("\n| --- |%s\n", strings.Repeat(" --- |", len(m.Statuses)))
	for _, s := range m.Statuses {
		p("| **%s** |", s.Name)
		for _, t := range m.Statuses {
			var names []string
			for _, e := range m.Events {
				if e.To == t && e.Leaves(s) {
					names = append(names, "`"+e.Name+"`")
				}
			}
			if len(names) == 0 {
				p(" - |")
			} else {
				p(" ✅ %s |", strings.Join(names, " "))
			}
		}
		p("\n")
	}
	p("\n")

	p("## Statuses\n\n| Status | Code | Initial / terminal | Sets | Progress | Entered at | Timeout | Doc |\n| --- | --- | --- | --- | --- | --- | --- | --- |\n")
	for _, s := range m.Statuses {
		flags := []string{}
		if s.Initial {
			flags = append(flags, "initial")
		}
		if s.Terminal {
			flags = append(flags, "terminal")
		}
		sets := make([]string, len(s.Sets))
		for i, set := range s.Sets {
			sets[i] = set.Name
		}
		progress := ""
		if pr := s.Progress; pr != nil {
			if pr.Fixed {
				progress = fmt.Sprintf("%d%%", pr.Percent)
			} else {
				progress = fmt.Sprintf("%d–%d%% by work done", pr.From, pr.To)
			}
		}
		timeout := ""
		if t := s.Timeout; t != nil && t.Event != nil {
			timeout = fmt.Sprintf("%s → %s (`%s`)", durationText(t.After), t.To.Name, t.Event.Name)
			if t.ErrorCode != nil {
				timeout += ", " + t.ErrorCode.Name
			}
		}
		p("| `%s` | %s | %s | %s | %s | %s | %s | %s |\n", s.Name, s.Code, strings.Join(flags, ", "), strings.Join(sets, ", "),
			progress, code(s.EnteredAt), timeout, cell(s.Doc))
	}
	p("\n")

	if hasDisplay(m) {
		p("### Display\n\n| Status | Label | Color | Icon | Message | Poll |\n| --- | --- | --- | --- | --- | --- |\n")
		for _, s := range m.Statuses {
			if d := s.Display; d != nil {
				poll := ""
				if d.Poll > 0 {
					poll = durationText(d.Poll)
				}
				p("| `%s` | %s | %s | %s | %s | %s |\n", s.Name, cell(d.Label), cell(d.Color), cell(d.Icon), cell(d.Message), poll)
			}
		}
		p("\n")
	}

	if len(m.Sets) > 0 {
		p("## Sets\n\n| Set | Statuses | Doc |\n| --- | --- | --- |\n")
		for _, set := range m.Sets {
			names := make([]string, len(set.Statuses))
			for i, s := range set.Statuses {
				names[i] = s.Name
			}
			p("| `%s` | %s | %s |\n", set.Name, strings.Join(names, ", "), cell(set.Doc))
		}
		p("\n")
	}

	p("## Events\n\n| Event | From | To | Requires | Doc |\n| --- | --- | --- | --- | --- |\n")
	for _, e := range m.Events {
		from := make([]string, len(e.From))
		for i, s := range e.From {
			from[i] = s.Name
		}
		req := make([]string, len(e.Requires))
		for i, f := range e.Requires {
			req[i] = "`" + f.Name + "`"
		}
		p("| `%s` | %s | %s | %s | %s |\n", e.Name, strings.Join(from, ", "), e.To.Name, strings.Join(req, ", "), cell(e.Doc))
	}
	p("\n")

	p("## Fields\n\nBuilt in: `id` (uuid), `status`, `version`, `created_at`, `updated_at`.\n\n")
	fieldTable(p, m.Fields)
	for _, t := range m.Types {
		p("### Type `%s`\n\n", t.Name)
		if t.Doc != "" {
			p("%s\n\n", oneLine(t.Doc))
		}
		fieldTable(p, t.Fields)
	}
	for _, e := range m.Enums {
		p("### Enum `%s`\n\n", e.Name)
		if e.Doc != "" {
			p("%s\n\n", oneLine(e.Doc))
		}
		p("| Name | Value | Doc |\n| --- | --- | --- |\n")
		for _, v := range e.Values {
			p("| `%s` | `%s` | %s |\n", v.Name, v.Value, cell(v.Doc))
		}
		p("\n")
	}
	if len(m.ErrorCodes) > 0 {
		p("## Error codes\n\n| Code | Message |\n| --- | --- |\n")
		for _, c := range m.ErrorCodes {
			p("| `%s` | %s |\n", c.Name, cell(c.Message))
		}
		p("\n")
	}
	if a := m.API; a != nil {
		p("## HTTP API\n\n")
		if a.Owner != nil {
			p("- Owner: `%s` — set by the server to the authenticated user; other users get 404 for the task.\n", a.Owner.Name)
		} else {
			p("- No owner: only admins see these tasks.\n")
		}
		if len(a.Create) > 0 {
			p("- Clients set on `POST /tasks`: %s; any other field is refused.\n", codeList(a.Create))
		} else {
			p("- Clients cannot create these tasks over HTTP.\n")
		}
		if u := a.Uploads; u != nil {
			p("- Uploads (URLs valid %s): `POST /tasks/{id}/upload-urls` fires `%s`; `POST /tasks/{id}/process` fires `%s` when the required files are stored, else `%s` with %q.\n\n", durationText(u.Expiry), u.Request.Name, u.Verify.Name, u.Missing.Name, u.MissingMessage)
			p("| File | Required | Asked for by | Content types | Max size |\n| --- | --- | --- | --- | --- |\n")
			for _, f := range u.Files {
				req, by, types := "no", "`files."+f.Name+"`", "any"
				if f.Required {
					req = "yes"
				}
				if f.Flag != "" {
					by = fmt.Sprintf("`%s` (`%s`)", f.Flag, f.Filename)
				}
				if len(f.ContentTypes) > 0 {
					types = "`" + strings.Join(f.ContentTypes, "`, `") + "`"
				}
				p("| `%s` | %s | %s | %s | %d bytes |\n", f.Name, req, by, types, f.MaxBytes)
			}
		}
		p("\n")
	}
	if g.storage {
		g.reviewChanges(p)
	}
	return []byte(strings.TrimRight(b.String(), "\n") + "\n")
}

// frameworkSummaries say what each migration taskgen writes for every model
// does.
var frameworkSummaries = map[string]string{
	"schema":             "the table, its CHECKs and indexes, and the history table",
	"worker":             "the lease table",
	"changes":            "change streams: a notifying trigger (PostgreSQL), an index on the last change (SQLite)",
	"listen_gate":        "the change trigger fires only while a listener is registered (PostgreSQL)",
	"history_seq":        "each task counts its history rows (PostgreSQL)",
	"lean_writes":        "partial listing indexes, history kept by a statement trigger (PostgreSQL)",
	"worker_lean_writes": "leaner lease writes",
	"lease_in_row":       "the lease moves into the task row",
	"history_at":         "an index of the history by time, for the moves of a time window",
	"traceparent":        "the trace context a task was created with (tm_traceparent), for tracing across processes",
	"worker_wake":        "a task queued by any process wakes the worker pools that wait (PostgreSQL)",
	"ascending_indexes":  "the listing and queue indexes in ascending order, which MariaDB reads backwards within a range (MySQL and MariaDB)",
	"history_defaults":   "the history's actor and message default to an empty string, as on the other engines (MySQL and MariaDB)",
	"retention_index":    "drops the index of finished tasks, whose entry every transition rewrote; retention reads the index of tasks by their last change (MySQL and MariaDB)",
	"sqlite_lean_writes": "status, event and enumeration CHECKs that SQLite evaluates in place (comparisons, not IN lists it built a temporary index for at every write), and listing indexes on an optional tag or owner that hold only the tasks that have one; the tables are rebuilt for a model generated before, created so for a new one (SQLite)",
}

// reviewChanges lists the model's migrations, a line each: the "Changes"
// section of the review document.
func (g *generator) reviewChanges(p func(string, ...any)) {
	var names []string
	byName := map[string]frozen{}
	for _, e := range Engines {
		for _, f := range g.chain[e] {
			if _, ok := byName[f.name]; !ok {
				names = append(names, f.name)
				byName[f.name] = f
			}
		}
	}
	sort.Strings(names)
	p("## Changes\n\nThe model's migrations, applied in order to every database (`%s/<engine>/`).\n\n| Migration | What it does |\n| --- | --- |\n", MigrationsDir)
	mysqlOnly := map[string]bool{}
	for _, f := range g.chain[MySQL] {
		mysqlOnly[f.name] = true
	}
	for _, e := range SQLCEngines {
		for _, f := range g.chain[e] {
			delete(mysqlOnly, f.name)
		}
	}
	for _, name := range names {
		what := frameworkSummaries[name[5:]]
		if mysqlOnly[name] && name[5:] == mysqlMigrations[0].name[5:] {
			what = "MySQL and MariaDB only: the whole schema as the migrations before it leave it on the other engines (the tables, their CHECKs and indexes, the history table), in one migration"
		}
		if !isFrameworkName(name[5:]) {
			var lines []string
			for _, l := range strings.Split(string(byName[name].sql), "\n") {
				if rest, ok := strings.CutPrefix(l, "--   - "); ok {
					lines = append(lines, rest)
				}
			}
			what = strings.Join(lines, "; ")
		}
		p("| `%s` | %s |\n", name, cell(what))
	}
	p("\n")
}

func hasDisplay(m *spec.Model) bool {
	for _, s := range m.Statuses {
		if s.Display != nil {
			return true
		}
	}
	return false
}

func fieldTable(p func(string, ...any), fields []*spec.Field) {
	if len(fields) == 0 {
		p("No fields.\n\n")
		return
	}
	p("| Field | Type | Presence | Limits | Doc |\n| --- | --- | --- | --- | --- |\n")
	for _, f := range fields {
		presence := []string{}
		if f.Required {
			presence = append(presence, "required")
		}
		if f.Optional {
			presence = append(presence, "optional")
		}
		if f.HasDefault {
			presence = append(presence, fmt.Sprintf("default `%s`", defaultText(f.Default)))
		}
		p("| `%s` | %s | %s | %s | %s |\n", f.Name, f.Type.Name(), strings.Join(presence, ", "), limits(f), cell(f.Doc))
	}
	p("\n")
}

func limits(f *spec.Field) string {
	var out []string
	add := func(label string, v *int) {
		if v != nil {
			out = append(out, fmt.Sprintf("%s %d", label, *v))
		}
	}
	add("min_len", f.MinLen)
	add("max_len", f.MaxLen)
	add("min_items", f.MinItems)
	add("max_items", f.MaxItems)
	for _, b := range []struct {
		op string
		v  *float64
	}{{"≥", f.Ge}, {">", f.Gt}, {"≤", f.Le}, {"<", f.Lt}} {
		if b.v != nil {
			out = append(out, b.op+" "+num(*b.v, f.Type.Kind))
		}
	}
	out = append(out, fieldBounds(f, "≥", ">", "≤", "<")...)
	if f.Pattern != "" {
		out = append(out, "pattern `"+strings.ReplaceAll(f.Pattern, "|", `\|`)+"`")
	}
	if f.Multiline {
		out = append(out, "multiline")
	}
	if f.Items != nil {
		if t := limits(f.Items); t != "" {
			out = append(out, "items: "+t)
		}
	}
	if f.References != "" {
		out = append(out, "→ `"+f.References+"`")
	}
	return strings.Join(out, ", ")
}

func defaultText(v any) string {
	switch x := v.(type) {
	case []any:
		parts := make([]string, len(x))
		for i, it := range x {
			parts[i] = defaultText(it)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case string:
		if x == "" {
			return `""`
		}
		return x
	}
	return fmt.Sprint(v)
}

func code(s string) string {
	if s == "" {
		return ""
	}
	return "`" + s + "`"
}

// cell makes text safe inside a Markdown table cell.
func cell(s string) string {
	return strings.ReplaceAll(oneLine(s), "|", "\\|")
}

func codeList(fs []*spec.Field) string {
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = "`" + f.Name + "`"
	}
	return strings.Join(out, ", ")
}
