package gen

import (
	"bytes"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/taskmodel/taskmodel/tools/taskgen/internal/spec"
)

// PythonFile is the name of the Python module Generate emits for a model.
const PythonFile = "types.py"

// Python returns the model's Python module: the types.py Generate emits.
func Python(m *spec.Model) []byte { return (&generator{m: m, pkg: m.Package}).python() }

// python renders types.py: the model's lifecycle and JSON shapes for Python
// programs, as types.ts does for TypeScript (statuses and events as
// str-valued enums, the terminal set and the named sets, codes, display,
// poll intervals in seconds, progress, transitions, error codes, the spec's
// enums and value types, and a dataclass of the model with from_json and
// to_json). Standard library only; Python 3.8 or later.
func (g *generator) python() []byte {
	m := g.m
	var b bytes.Buffer
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	p("# %s\n", Header)
	p("#\n# Python types of the %s model (task_type %s): its lifecycle and JSON\n# shapes. Standard library only; Python 3.8 or later.\n", m.Name, pyString(m.Name))
	p("%s", pyModuleDoc(firstNonEmpty(m.Doc, "A task of the "+m.Name+" model.")))
	p("\nfrom __future__ import annotations\n\nimport dataclasses\nimport enum\nfrom typing import Any, Dict, FrozenSet, List, Mapping, Optional, Tuple, Union\n")
	p("\n#: The model's task_type in the HTTP API.\nTASK_TYPE = %s\n", pyString(m.Name))

	statuses := pyMembers(g.statusNames())
	p("\n\nclass Status(str, enum.Enum):\n    \"\"\"A lifecycle status: the stored and serialised value (compares equal to its string).\"\"\"\n")
	for i, s := range m.Statuses {
		p("\n    %s = %s\n", statuses[i], pyString(s.Name))
		if d := oneLine(s.Doc); d != "" {
			p("    %s\n", pyDocString(d, "    "))
		}
	}
	p("\n    def __str__(self) -> str:\n        return str(self.value)\n")
	st := func(name string) string {
		for i, s := range m.Statuses {
			if s.Name == name {
				return "Status." + statuses[i]
			}
		}
		panic("unknown status " + name)
	}
	stList := func(list []*spec.Status) string {
		out := make([]string, len(list))
		for i, s := range list {
			out[i] = st(s.Name)
		}
		return pyTuple(out)
	}

	p("\n\n#: Every status, in spec order.\nSTATUSES: Tuple[Status, ...] = %s\n", stList(m.Statuses))
	p("\n#: The status a new task starts in.\nINITIAL_STATUS = %s\n", st(m.Initial.Name))
	terminal := make([]string, 0)
	for _, name := range m.TerminalStatuses() {
		terminal = append(terminal, st(name))
	}
	p("\n#: Statuses no event leaves: the task is finished; stop polling.\nTERMINAL_STATUSES: FrozenSet[Status] = frozenset(%s)\n", pyTuple(terminal))
	p("\n\ndef is_terminal(status: Union[Status, str]) -> bool:\n    \"\"\"Reports whether a task in this status is finished.\"\"\"\n    return status in TERMINAL_STATUSES\n")
	if len(m.Sets) > 0 {
		p("\n")
	}
	for _, set := range m.Sets {
		konst := upperSnake(set.Name) + "_STATUSES"
		p("\n#: %s\n%s: FrozenSet[Status] = frozenset(%s)\n", oneLine(firstNonEmpty(set.Doc, "The statuses of the set "+set.Name+".")), konst, stList(set.Statuses))
		p("\n\ndef is_%s(status: Union[Status, str]) -> bool:\n    \"\"\"Reports whether the status is in the set %s.\"\"\"\n    return status in %s\n\n", pyIdent(set.Name), set.Name, konst)
	}

	if m.HasCodes {
		p("\n#: Each status's unified code, as GET /tasks reports it in task_status:\n#: Q queued, R running, D done, F failed, C cancelled.\nSTATUS_CODE: Mapping[Status, str] = {\n")
		for _, s := range m.Statuses {
			p("    %s: %s,\n", st(s.Name), pyString(s.Code))
		}
		p("}\n")
	}

	p("\n\n@dataclasses.dataclass(frozen=True)\nclass StatusDisplay:\n    \"\"\"What a user interface shows for a status.\"\"\"\n\n    label: str\n    color: str\n    icon: str\n    message: str\n")
	p("\n\n#: The spec's display of each status (statuses without one are absent).\nSTATUS_DISPLAY: Mapping[Status, StatusDisplay] = {")
	some := false
	for _, s := range m.Statuses {
		if d := s.Display; d != nil {
			if !some {
				p("\n")
				some = true
			}
			p("    %s: StatusDisplay(\n        label=%s,\n        color=%s,\n        icon=%s,\n        message=%s,\n    ),\n", st(s.Name), pyString(d.Label), pyString(d.Color), pyString(d.Icon), pyString(d.Message))
		}
	}
	p("}\n")

	p("\n#: How often to poll a task in each status, in seconds (the spec's display\n#: poll); terminal statuses and statuses without one are absent.\nPOLL_INTERVALS: Mapping[Status, float] = {")
	first := true
	for _, s := range m.Statuses {
		if s.Display != nil && s.Display.Poll > 0 && !s.Terminal {
			if first {
				p("\n")
				first = false
			}
			p("    %s: %s,\n", st(s.Name), strconv.FormatFloat(s.Display.Poll.Seconds(), 'f', -1, 64)+pyFloatSuffix(s.Display.Poll.Seconds()))
		}
	}
	p("}\n")

	p("\n#: The progress each status maps: a fixed percent, or a (from, to) range the\n#: work done fills; statuses without a mapping keep the stored progress.\nPROGRESS: Mapping[Status, Union[int, Tuple[int, int]]] = {")
	first = true
	for _, s := range m.Statuses {
		if pr := s.Progress; pr != nil {
			if first {
				p("\n")
				first = false
			}
			if pr.Fixed {
				p("    %s: %d,\n", st(s.Name), pr.Percent)
			} else {
				p("    %s: (%d, %d),\n", st(s.Name), pr.From, pr.To)
			}
		}
	}
	p("}\n")

	events := pyMembers(g.eventNames())
	p("\n\nclass Event(str, enum.Enum):\n    \"\"\"An event moves a task from one of its from statuses to its to status.\"\"\"\n")
	if len(m.Events) == 0 {
		p("\n    pass\n")
	}
	for i, e := range m.Events {
		p("\n    %s = %s\n", events[i], pyString(e.Name))
		if d := oneLine(e.Doc); d != "" {
			p("    %s\n", pyDocString(d, "    "))
		}
	}
	p("\n\n#: Every event, in spec order.\nEVENTS: Tuple[Event, ...] = %s\n", pyTuple(prefixAll("Event.", events)))
	p("\n#: The transitions each event makes: (from statuses, to status).\nTRANSITIONS: Mapping[Event, Tuple[Tuple[Status, ...], Status]] = {")
	if len(m.Events) > 0 {
		p("\n")
	}
	for i, e := range m.Events {
		p("    Event.%s: (%s, %s),\n", events[i], stList(e.From), st(e.To.Name))
	}
	p("}\n")

	codeNames := make([]string, len(m.ErrorCodes))
	for i, c := range m.ErrorCodes {
		codeNames[i] = c.Name
	}
	codes := pyMembers(codeNames)
	p("\n\nclass ErrorCode(str, enum.Enum):\n    \"\"\"Says why a task failed, in a form programs can test.\"\"\"\n")
	if len(m.ErrorCodes) == 0 {
		p("\n    pass\n")
	}
	for i, c := range m.ErrorCodes {
		p("\n    %s = %s\n", codes[i], pyString(c.Name))
		if msg := oneLine(c.Message); msg != "" {
			p("    %s\n", pyDocString(msg, "    "))
		}
	}
	p("\n\n#: Each error code's message.\nERROR_CODES: Mapping[ErrorCode, str] = {")
	if len(m.ErrorCodes) > 0 {
		p("\n")
	}
	for i, c := range m.ErrorCodes {
		p("    ErrorCode.%s: %s,\n", codes[i], pyString(c.Message))
	}
	p("}\n")

	for _, e := range m.Enums {
		vals := make([]string, len(e.Values))
		for i, v := range e.Values {
			vals[i] = v.Name
		}
		members := pyMembers(vals)
		p("\n\nclass %s(str, enum.Enum):\n    %s\n", e.Name, pyDocString(firstNonEmpty(oneLine(e.Doc), "The values of "+e.Name+"."), "    "))
		for i, v := range e.Values {
			p("\n    %s = %s\n", members[i], pyString(v.Value))
			if d := oneLine(v.Doc); d != "" {
				p("    %s\n", pyDocString(d, "    "))
			}
		}
	}
	for _, t := range m.Types {
		g.pyDataclass(&b, t.Name, firstNonEmpty(t.Doc, "The value type "+t.Name+"."), t.Fields)
	}
	g.pyDataclass(&b, m.Struct, firstNonEmpty(m.Doc, "A task of the "+m.Name+" model.")+
		" The task JSON of the HTTP API also holds task_id and task_type; from_json ignores keys it does not know.",
		append(g.builtinFields(), m.Fields...))

	if a := m.API; a != nil {
		names := make([]string, len(a.Create))
		for i, f := range a.Create {
			names[i] = pyString(f.Name)
		}
		p("\n\n#: The fields POST /tasks takes for this model besides task_type; other\n#: fields are refused.\nCREATE_FIELDS: Tuple[str, ...] = %s\n", pyTuple(names))
		if u := a.Uploads; u != nil {
			files := make([]string, len(u.Files))
			for i, f := range u.Files {
				files[i] = pyString(f.Name)
			}
			p("\n#: The files POST /tasks/{id}/upload-urls takes.\nUPLOAD_FILES: Tuple[str, ...] = %s\n", pyTuple(files))
		}
	}
	return b.Bytes()
}

// pyDataclass writes a dataclass of fields with from_json and to_json:
// fields that are never null first (no default), then the nullable ones
// (default None), each keeping the spec's order.
func (g *generator) pyDataclass(b *bytes.Buffer, name, doc string, fields []*spec.Field) {
	p := func(format string, args ...any) { fmt.Fprintf(b, format, args...) }
	var ordered []*spec.Field
	for _, nullFirst := range []bool{false, true} {
		for _, f := range fields {
			if nullable(f) == nullFirst {
				ordered = append(ordered, f)
			}
		}
	}
	attrs := map[string]string{}
	used := map[string]bool{"from_json": true, "to_json": true}
	for _, f := range ordered {
		a := pyIdent(f.Name)
		for used[a] {
			a += "_"
		}
		used[a] = true
		attrs[f.Name] = a
	}
	p("\n\n@dataclasses.dataclass\nclass %s:\n    %s\n", name, pyDocString(oneLine(doc)+" Fields that are never null come first; times are ISO 8601 strings, durations nanoseconds.", "    "))
	for _, f := range ordered {
		d := oneLine(f.Doc)
		if lim := limitsText(f); lim != "" {
			d = strings.TrimSpace(d + " " + lim)
		}
		if attrs[f.Name] != f.Name {
			d = strings.TrimSpace(d + " JSON key " + pyString(f.Name) + ".")
		}
		p("\n")
		for _, line := range wrap(d, 72) {
			p("    #: %s\n", line)
		}
		t := g.pyType(f.Type)
		if nullable(f) {
			p("    %s: Optional[%s] = None\n", attrs[f.Name], t)
		} else {
			p("    %s: %s\n", attrs[f.Name], t)
		}
	}
	p("\n    @classmethod\n    def from_json(cls, data: Mapping[str, Any]) -> %s:\n        \"\"\"Builds a %s from its JSON object (a dict); unknown keys are ignored.\"\"\"\n        return cls(\n", name, name)
	for _, f := range ordered {
		get := "data[" + pyString(f.Name) + "]"
		if nullable(f) {
			get = "data.get(" + pyString(f.Name) + ")"
		}
		p("            %s=%s,\n", attrs[f.Name], pyConvert(f.Type, get, nullable(f), false, 0))
	}
	p("        )\n")
	p("\n    def to_json(self) -> Dict[str, Any]:\n        \"\"\"Returns the JSON object (a dict) of the value, None as null.\"\"\"\n        return {\n")
	for _, f := range fields {
		p("            %s: %s,\n", pyString(f.Name), pyConvert(f.Type, "self."+attrs[f.Name], nullable(f), true, 0))
	}
	p("        }\n")
}

// pyConvert renders the expression that turns v from JSON into its Python
// type (out false) or back (out true).
func pyConvert(t *spec.TypeRef, v string, null, out bool, depth int) string {
	var expr string
	switch t.Kind {
	case spec.KindStatus, spec.KindErrorCode, spec.KindEnum:
		if out {
			// A plain string of a valid value passes too.
			expr = pyTypeName(t) + "(" + v + ").value"
		} else {
			expr = pyTypeName(t) + "(" + v + ")"
		}
	case spec.KindType:
		if out {
			expr = v + ".to_json()"
		} else {
			expr = t.Type.Name + ".from_json(" + v + ")"
		}
	case spec.KindList:
		x := "x" + strconv.Itoa(depth)
		inner := pyConvert(t.Elem, x, false, out, depth+1)
		if inner == x {
			expr = "list(" + v + ")"
		} else {
			expr = "[" + inner + " for " + x + " in " + v + "]"
		}
	default:
		return v
	}
	if null {
		return "None if " + v + " is None else " + expr
	}
	return expr
}

func pyTypeName(t *spec.TypeRef) string {
	switch t.Kind {
	case spec.KindStatus:
		return "Status"
	case spec.KindErrorCode:
		return "ErrorCode"
	case spec.KindEnum:
		return t.Enum.Name
	}
	return t.Type.Name
}

func (g *generator) pyType(t *spec.TypeRef) string {
	switch t.Kind {
	case spec.KindString, spec.KindTime, spec.KindUUID:
		return "str"
	case spec.KindInt, spec.KindDuration:
		return "int"
	case spec.KindFloat:
		return "float"
	case spec.KindBool:
		return "bool"
	case spec.KindJSON:
		return "Any"
	case spec.KindList:
		return "List[" + g.pyType(t.Elem) + "]"
	case spec.KindStatus, spec.KindErrorCode, spec.KindEnum, spec.KindType:
		return pyTypeName(t)
	}
	panic("unknown kind " + string(t.Kind))
}

// pyKeywords are Python's reserved words a lower-case spec name may equal.
var pyKeywords = map[string]bool{
	"and": true, "as": true, "assert": true, "async": true, "await": true, "break": true, "class": true,
	"continue": true, "def": true, "del": true, "elif": true, "else": true, "except": true, "finally": true,
	"for": true, "from": true, "global": true, "if": true, "import": true, "in": true, "is": true,
	"lambda": true, "nonlocal": true, "not": true, "or": true, "pass": true, "raise": true, "return": true,
	"try": true, "while": true, "with": true, "yield": true,
}

// pyIdent turns a lower-case spec name (a field, a set, a package) into a
// Python identifier: reserved words get a trailing underscore.
func pyIdent(s string) string {
	if pyKeywords[s] {
		return s + "_"
	}
	return s
}

// PythonModule is the name of a model's module in a Python package of
// models: its Go package name, a reserved word with a trailing underscore.
func PythonModule(m *spec.Model) string { return pyIdent(m.Package) }

// pyMembers turns names (statuses, events, codes, enum values) into enum
// member names: upper case, '-' as '_'; a name that would repeat an earlier
// one gets a numeric suffix.
func pyMembers(names []string) []string {
	out := make([]string, len(names))
	used := map[string]bool{}
	for i, n := range names {
		base := strings.ToUpper(strings.ReplaceAll(n, "-", "_"))
		name := base
		for k := 2; used[name]; k++ {
			name = base + "_" + strconv.Itoa(k)
		}
		used[name] = true
		out[i] = name
	}
	return out
}

func prefixAll(prefix string, names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = prefix + n
	}
	return out
}

// pyString renders a Python string literal: a JSON string is one, given
// that Python reads \uXXXX escapes the same way in a plain literal.
func pyString(s string) string { return tsString(s) }

// pyTuple renders a tuple literal, with the trailing comma a one-item tuple needs.
func pyTuple(items []string) string {
	switch len(items) {
	case 0:
		return "()"
	case 1:
		return "(" + items[0] + ",)"
	}
	return "(" + strings.Join(items, ", ") + ")"
}

// pyFloatSuffix makes a whole number of seconds read as a float (2 → 2.0).
func pyFloatSuffix(f float64) string {
	if f == float64(int64(f)) {
		return ".0"
	}
	return ""
}

// pyDocString renders a one-paragraph docstring at an indent, wrapped.
func pyDocString(doc, indent string) string {
	doc = strings.ReplaceAll(strings.ReplaceAll(oneLine(doc), `\`, `\\`), `"""`, `\"\"\"`)
	if strings.HasSuffix(doc, `"`) {
		doc += " "
	}
	lines := wrap(doc, 76-len(indent))
	if len(lines) <= 1 {
		return `"""` + doc + `"""`
	}
	return `"""` + strings.Join(lines, "\n"+indent) + "\n" + indent + `"""`
}

// pyModuleDoc renders the module docstring.
func pyModuleDoc(doc string) string {
	return pyDocString(doc, "") + "\n"
}

// PythonInit renders the __init__.py of a Python package holding the
// models' modules (PythonModule names each): it imports them and maps each
// task_type onto its module.
func PythonInit(models []*spec.Model) []byte {
	var b bytes.Buffer
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	p("# %s\n", Header)
	p("\"\"\"The models' types, one module per model (the types.py taskgen writes\nbeside each model's Go package), and MODELS, each module by its task_type.\n\"\"\"\n\n")
	p("from __future__ import annotations\n\nfrom types import ModuleType\nfrom typing import Mapping\n\n")
	sorted := append([]*spec.Model(nil), models...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Name < sorted[j].Name })
	for _, m := range sorted {
		p("from . import %s\n", PythonModule(m))
	}
	p("\n#: Each model's module by its task_type.\nMODELS: Mapping[str, ModuleType] = {\n")
	for _, m := range sorted {
		p("    %s: %s,\n", pyString(m.Name), PythonModule(m))
	}
	p("}\n")
	return b.Bytes()
}
