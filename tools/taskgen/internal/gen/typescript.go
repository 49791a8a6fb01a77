package gen

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/taskmodel/taskmodel/tools/taskgen/internal/spec"
)

// DefaultTaskType is the model POST /tasks creates when the body names no
// task_type (the upload → process lifecycle's requests carry none).
const DefaultTaskType = "analysis"

// typescript renders types.ts: the model's lifecycle and JSON shapes for
// frontends (statuses, terminal set, sets, codes, display map, poll
// intervals, progress, events, error codes, the model and its requests).
// It needs no runtime and compiles with any TypeScript ≥ 3.4 target.
func (g *generator) typescript() []byte {
	m := g.m
	var b bytes.Buffer
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	p("// %s\n", Header)
	p("//\n// TypeScript types of the %s model (task_type %q) for frontends.\n", m.Name, m.Name)
	if m.Doc != "" {
		for _, line := range wrap(oneLine(m.Doc), 76) {
			p("// %s\n", line)
		}
	}
	p("\n/** The model's task_type in the HTTP API. */\nexport const TASK_TYPE = %s;\n", tsString(m.Name))

	statuses := g.statusNames()
	p("\n/** A lifecycle status: the stored and serialised value. */\nexport type Status =%s;\n", tsUnion(statuses))
	p("\n/** Every status, in spec order. */\nexport const STATUSES: readonly Status[] = %s;\n", tsArray(statuses))
	p("\n/** The status a new task starts in. */\nexport const INITIAL_STATUS: Status = %s;\n", tsString(m.Initial.Name))
	p("\n/** Statuses no event leaves: the task is finished; stop polling. */\nexport const TERMINAL_STATUSES: readonly Status[] = %s;\n", tsArray(m.TerminalStatuses()))
	p("\n/** Reports whether a task in this status is finished. */\nexport function isTerminal(status: Status): boolean {\n  return TERMINAL_STATUSES.indexOf(status) >= 0;\n}\n")
	for _, set := range m.Sets {
		names := make([]string, len(set.Statuses))
		for i, s := range set.Statuses {
			names[i] = s.Name
		}
		konst := upperSnake(set.Name) + "_STATUSES"
		p("\n%sexport const %s: readonly Status[] = %s;\n", tsDoc(firstNonEmpty(set.Doc, "The statuses of the set "+set.Name+"."), ""), konst, tsArray(names))
		p("\n/** Reports whether the status is in the set %s. */\nexport function is%s(status: Status): boolean {\n  return %s.indexOf(status) >= 0;\n}\n", set.Name, set.GoName, konst)
	}

	if m.HasCodes {
		p("\n/** Unified short status code: Q queued, R running, D done, F failed, C cancelled. */\nexport type StatusCode = \"Q\" | \"R\" | \"D\" | \"F\" | \"C\";\n")
		p("\n/** Each status's unified code, as GET /tasks reports it in task_status. */\nexport const STATUS_CODE: Readonly<Record<Status, StatusCode>> = {\n")
		for _, s := range m.Statuses {
			p("  %s: %s,\n", tsKey(s.Name), tsString(s.Code))
		}
		p("};\n")
	}

	p("\n/** What a user interface shows for a status. */\nexport interface StatusDisplay {\n  label: string;\n  color: string;\n  icon: string;\n  message: string;\n}\n")
	all, some := true, false
	for _, s := range m.Statuses {
		all = all && s.Display != nil
		some = some || s.Display != nil
	}
	p("\n/** The spec's display of each status%s. */\nexport const STATUS_DISPLAY: Readonly<%s> = {", map[bool]string{true: "", false: " (statuses without one are absent)"}[all], partial(all, "Status, StatusDisplay"))
	if some {
		p("\n")
	}
	for _, s := range m.Statuses {
		if d := s.Display; d != nil {
			p("  %s: {\n    label: %s,\n    color: %s,\n    icon: %s,\n    message: %s,\n  },\n", tsKey(s.Name), tsString(d.Label), tsString(d.Color), tsString(d.Icon), tsString(d.Message))
		}
	}
	p("};\n")

	p("\n/** How often to poll a task in each status, in milliseconds (the spec's display poll); terminal statuses have none. */\nexport const POLL_INTERVALS: Readonly<Partial<Record<Status, number>>> = {")
	first := true
	for _, s := range m.Statuses {
		if s.Display != nil && s.Display.Poll > 0 && !s.Terminal {
			if first {
				p("\n")
				first = false
			}
			p("  %s: %d,\n", tsKey(s.Name), s.Display.Poll.Milliseconds())
		}
	}
	p("};\n")

	p("\n/** A status's progress: a fixed percent, or a range filled by the work done. */\nexport type ProgressMapping = number | { readonly from: number; readonly to: number };\n")
	p("\n/** The progress each status maps (statuses without a mapping keep the stored progress). */\nexport const PROGRESS: Readonly<Partial<Record<Status, ProgressMapping>>> = {")
	first = true
	for _, s := range m.Statuses {
		if pr := s.Progress; pr != nil {
			if first {
				p("\n")
				first = false
			}
			if pr.Fixed {
				p("  %s: %d,\n", tsKey(s.Name), pr.Percent)
			} else {
				p("  %s: { from: %d, to: %d },\n", tsKey(s.Name), pr.From, pr.To)
			}
		}
	}
	p("};\n")

	events := g.eventNames()
	p("\n/** An event moves a task from one of its from statuses to its to status. */\nexport type Event =%s;\n", tsUnion(events))
	p("\n/** Every event, in spec order. */\nexport const EVENTS: readonly Event[] = %s;\n", tsArray(events))
	p("\n/** The transitions each event makes. */\nexport const TRANSITIONS: Readonly<Record<Event, { readonly from: readonly Status[]; readonly to: Status }>> = {\n")
	for _, e := range m.Events {
		from := make([]string, len(e.From))
		for i, s := range e.From {
			from[i] = s.Name
		}
		p("  %s: { from: %s, to: %s },\n", tsKey(e.Name), tsArray(from), tsString(e.To.Name))
	}
	p("};\n")

	codes := make([]string, len(m.ErrorCodes))
	for i, c := range m.ErrorCodes {
		codes[i] = c.Name
	}
	p("\n/** Says why a task failed, in a form programs can test. */\nexport type ErrorCode =%s;\n", tsUnion(codes))
	p("\n/** Each error code's message. */\nexport const ERROR_CODES: Readonly<Record<ErrorCode, string>> = {")
	if len(m.ErrorCodes) > 0 {
		p("\n")
	}
	for _, c := range m.ErrorCodes {
		p("  %s: %s,\n", tsKey(c.Name), tsString(c.Message))
	}
	p("};\n")

	for _, e := range m.Enums {
		vals := make([]string, len(e.Values))
		for i, v := range e.Values {
			vals[i] = v.Value
		}
		p("\n%sexport type %s =%s;\n", tsDoc(e.Doc, ""), e.Name, tsUnion(vals))
		p("\n/** Every %s value, in spec order. */\nexport const %s_VALUES: readonly %s[] = %s;\n", e.Name, upperSnake(e.Name), e.Name, tsArray(vals))
	}
	for _, t := range m.Types {
		p("\n%sexport interface %s {\n", tsDoc(t.Doc, ""), t.Name)
		for _, f := range t.Fields {
			g.tsField(&b, f, false)
		}
		p("}\n")
	}

	p("\n%sexport interface %s {\n", tsDoc(firstNonEmpty(m.Doc, "A task of the "+m.Name+" model."), ""), m.Struct)
	for _, f := range append(g.builtinFields(), m.Fields...) {
		g.tsField(&b, f, false)
	}
	p("}\n")
	p("\n/** A task as the HTTP API returns it (GET /tasks/{id}, POST /tasks …): the model's JSON with its id again as task_id, and its task_type. */\nexport interface %sResponse extends %s {\n", m.Struct, m.Struct)
	// A model's own task_id or task_type field keeps its type.
	if m.FieldByName("task_id") == nil {
		p("  task_id: string;\n")
	}
	if m.FieldByName("task_type") == nil {
		p("  task_type: typeof TASK_TYPE;\n")
	}
	p("}\n")

	if a := m.API; a != nil {
		opt := "?"
		note := ""
		if m.Name != DefaultTaskType {
			opt = ""
		} else {
			note = " (optional: the default model)"
		}
		p("\n/** The body of POST /tasks creating a task of this model; other fields are refused. */\nexport interface Create%sRequest {\n  /** The model%s. */\n  task_type%s: typeof TASK_TYPE;\n", m.Struct, note, opt)
		for _, f := range a.Create {
			g.tsField(&b, f, true)
		}
		p("}\n")
		if u := a.Uploads; u != nil {
			var names []string
			p("\n/** A file to upload: its name and media type, and optionally its size in bytes. */\nexport interface UploadFileRequest {\n  filename: string;\n  content_type: string;\n  size?: number;\n}\n")
			p("\n/** The body of POST /tasks/{id}/upload-urls. */\nexport interface UploadURLsRequest {\n  files: {\n")
			for _, f := range u.Files {
				names = append(names, f.Name)
				if f.Flag == "" {
					p("%s    %s%s: UploadFileRequest;\n", tsDoc(uploadDoc(f), "    "), tsKey(f.Name), map[bool]string{true: "", false: "?"}[f.Required])
				}
			}
			p("  };\n")
			for _, f := range u.Files {
				if f.Flag != "" {
					p("%s  %s?: boolean;\n", tsDoc(fmt.Sprintf("Also upload %s (%s).", f.Filename, uploadDoc(f)), "  "), tsKey(f.Flag))
				}
			}
			p("}\n")
			p("\n/** The files a task of this model takes. */\nexport type UploadFile =%s;\n", tsUnion(names))
			p("\n/** A signed request that uploads one file. */\nexport interface UploadTarget {\n  method: string;\n  url: string;\n  headers: Record<string, string>;\n  expires_at: string;\n}\n")
			p("\n/** The response of POST /tasks/{id}/upload-urls. */\nexport interface UploadURLsResponse {\n  task_id: string;\n  status: Status;\n  uploads: Partial<Record<UploadFile, UploadTarget>>;\n}\n")
		}
	}
	return b.Bytes()
}

func uploadDoc(f *spec.UploadFile) string {
	var parts []string
	if f.Required {
		parts = append(parts, "required")
	} else {
		parts = append(parts, "optional")
	}
	if len(f.ContentTypes) > 0 {
		parts = append(parts, strings.Join(f.ContentTypes, " or "))
	}
	parts = append(parts, "at most "+strconv.FormatInt(f.MaxBytes, 10)+" bytes")
	return strings.Join(parts, ", ")
}

// tsField writes one interface member; in a request, fields that are not
// required may be left out.
func (g *generator) tsField(b *bytes.Buffer, f *spec.Field, request bool) {
	doc := oneLine(f.Doc)
	if lim := limitsText(f); lim != "" {
		doc = strings.TrimSpace(doc + " " + lim)
	}
	opt := ""
	if request && !f.Required {
		opt = "?"
	}
	t := g.tsType(f.Type)
	if nullable(f) && f.Type.Kind != spec.KindJSON {
		t += " | null"
	}
	fmt.Fprintf(b, "%s  %s%s: %s;\n", tsDoc(doc, "  "), tsKey(f.Name), opt, t)
}

// nullable reports whether a field's JSON value may be null: optional
// fields, and lists that may be nil (nothing requires or fills them).
func nullable(f *spec.Field) bool {
	if f.Optional || f.Type.Kind == spec.KindJSON {
		return true
	}
	return f.Type.Kind == spec.KindList && !f.Required && !f.HasDefault && (f.MinItems == nil || *f.MinItems == 0)
}

// limitsText describes a field's limits for a doc comment.
func limitsText(f *spec.Field) string {
	var parts []string
	k := f.Type.Kind
	if f.MinLen != nil {
		parts = append(parts, fmt.Sprintf("at least %d %s", *f.MinLen, plural(*f.MinLen, "character")))
	}
	if f.MaxLen != nil {
		parts = append(parts, fmt.Sprintf("at most %d %s", *f.MaxLen, plural(*f.MaxLen, "character")))
	}
	for _, x := range []struct {
		op string
		v  *float64
	}{{"≥", f.Ge}, {">", f.Gt}, {"≤", f.Le}, {"<", f.Lt}} {
		if x.v != nil {
			parts = append(parts, x.op+" "+num(*x.v, k))
		}
	}
	parts = append(parts, fieldBounds(f, "≥", ">", "≤", "<")...)
	if f.MinItems != nil {
		parts = append(parts, fmt.Sprintf("at least %d %s", *f.MinItems, plural(*f.MinItems, "item")))
	}
	if f.MaxItems != nil {
		parts = append(parts, fmt.Sprintf("at most %d %s", *f.MaxItems, plural(*f.MaxItems, "item")))
	}
	if f.Pattern != "" {
		parts = append(parts, "matching "+spec.AnchoredPattern(f.Pattern))
	}
	if f.Items != nil {
		if t := limitsText(f.Items); t != "" {
			parts = append(parts, "each item "+t)
		}
	}
	switch k {
	case spec.KindTime:
		parts = append(parts, "ISO 8601 time")
	case spec.KindUUID:
		parts = append(parts, "UUID")
	case spec.KindDuration:
		parts = append(parts, "nanoseconds")
	}
	if len(parts) == 0 {
		return ""
	}
	return "(" + strings.Join(parts, ", ") + ")"
}

func (g *generator) tsType(t *spec.TypeRef) string {
	switch t.Kind {
	case spec.KindString, spec.KindTime, spec.KindUUID:
		return "string"
	case spec.KindInt, spec.KindFloat, spec.KindDuration:
		return "number"
	case spec.KindBool:
		return "boolean"
	case spec.KindJSON:
		return "unknown"
	case spec.KindList:
		return g.tsType(t.Elem) + "[]"
	case spec.KindStatus:
		return "Status"
	case spec.KindErrorCode:
		return "ErrorCode"
	case spec.KindEnum:
		return t.Enum.Name
	case spec.KindType:
		return t.Type.Name
	}
	panic("unknown kind " + string(t.Kind))
}

func partial(all bool, args string) string {
	if all {
		return "Record<" + args + ">"
	}
	return "Partial<Record<" + args + ">>"
}

func firstNonEmpty(a, b string) string {
	if strings.TrimSpace(a) != "" {
		return a
	}
	return b
}

// tsString renders a TypeScript string literal (a JSON string, which is one).
func tsString(s string) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)
	return strings.TrimSuffix(b.String(), "\n")
}

// tsKey renders an object key: bare when it is an identifier.
func tsKey(s string) string {
	for i, r := range s {
		if !(r == '_' || r == '$' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || i > 0 && r >= '0' && r <= '9') {
			return tsString(s)
		}
	}
	if s == "" {
		return `""`
	}
	return s
}

func tsUnion(vals []string) string {
	if len(vals) == 0 {
		return " never"
	}
	var b strings.Builder
	for _, v := range vals {
		b.WriteString("\n  | " + tsString(v))
	}
	return b.String()
}

func tsArray(vals []string) string {
	q := make([]string, len(vals))
	for i, v := range vals {
		q[i] = tsString(v)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// tsDoc renders a JSDoc comment at an indent, or nothing.
func tsDoc(doc, indent string) string {
	doc = strings.ReplaceAll(oneLine(doc), "*/", "*\\/")
	if doc == "" {
		return ""
	}
	return indent + "/** " + doc + " */\n"
}

// upperSnake turns a set or enum name into a constant name: active →
// ACTIVE, RetryPolicy → RETRY_POLICY.
func upperSnake(s string) string {
	var b strings.Builder
	up := func(c byte) bool { return c >= 'A' && c <= 'Z' }
	for i := 0; i < len(s); i++ {
		if i > 0 && up(s[i]) && s[i-1] != '_' && (!up(s[i-1]) || i+1 < len(s) && !up(s[i+1]) && s[i+1] != '_') {
			b.WriteByte('_')
		}
		b.WriteByte(s[i])
	}
	return strings.ToUpper(b.String())
}

// wrap splits text into lines of at most width bytes (longer words stay whole).
func wrap(text string, width int) []string {
	var lines []string
	line := ""
	for _, w := range strings.Fields(text) {
		if line != "" && len(line)+1+len(w) > width {
			lines = append(lines, line)
			line = w
			continue
		}
		if line != "" {
			line += " "
		}
		line += w
	}
	if line != "" {
		lines = append(lines, line)
	}
	return lines
}

// plural returns noun for a count of 1, else noun + "s".
func plural(n int, noun string) string {
	if n == 1 {
		return noun
	}
	return noun + "s"
}
