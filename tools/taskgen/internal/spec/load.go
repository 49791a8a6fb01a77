package spec

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// ReadFunc reads a file a spec refers to (a lifecycle file), by a path
// relative to the working directory.
type ReadFunc func(path string) ([]byte, error)

// BuiltinFields are the fields every model struct has.
var BuiltinFields = []string{"id", "status", "version", "created_at", "updated_at"}

var modelKeys = []string{"model", "package", "struct", "doc", "lifecycle", "statuses", "sets", "events", "error_codes", "worker", "retired", "breaking_changes", "api", "enums", "types", "fields"}
var lifecycleKeys = []string{"doc", "statuses", "sets", "events", "error_codes", "worker", "retired"}

// LoadFile loads one spec file. A model that another references through a
// uuid field's `references` is looked up as <name>.yaml beside it.
func LoadFile(path string) (*Model, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	m, err := Parse(path, data, os.ReadFile)
	if err != nil {
		return nil, err
	}
	dir := filepath.Dir(path)
	errs := checkReferences([]*Model{m}, func(name string) bool {
		other, err := os.ReadFile(filepath.Join(dir, name+".yaml"))
		if err != nil {
			return false
		}
		var doc struct {
			Model string `yaml:"model"`
		}
		return yaml.Unmarshal(other, &doc) == nil && doc.Model == name
	})
	if len(errs) > 0 {
		return nil, errs
	}
	return m, nil
}

// LoadDir loads every *.yaml file directly inside dir but sqlc.yaml (lifecycle
// files live in subdirectories), in name order, and checks them together: model and
// package names are unique and references resolve.
func LoadDir(dir string) ([]*Model, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var (
		models []*Model
		errs   ErrorList
	)
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".yaml") || e.Name() == "sqlc.yaml" {
			continue // sqlc.yaml: the sqlc configuration taskgen writes beside the specs
		}
		m, err := LoadFile(filepath.Join(dir, e.Name()))
		var list ErrorList
		switch {
		case errors.As(err, &list):
			errs = append(errs, list...)
		case err != nil:
			return nil, err
		default:
			models = append(models, m)
		}
	}
	byName, byPkg := map[string]*Model{}, map[string]*Model{}
	for _, m := range models {
		if first, ok := byName[m.Name]; ok {
			errs = append(errs, &Error{Pos: m.Pos, Msg: fmt.Sprintf("model %q is also declared in %s", m.Name, first.Pos)})
		} else if first, ok := byPkg[m.Package]; ok {
			errs = append(errs, &Error{Pos: m.Pos, Msg: fmt.Sprintf("model %q has the Go package name %q, as model %q (%s) does; set package: to tell them apart", m.Name, m.Package, first.Name, first.Pos)})
		}
		byName[m.Name], byPkg[m.Package] = m, m
	}
	if len(models) == 0 && len(errs) == 0 {
		return nil, fmt.Errorf("%s: no *.yaml spec files", dir)
	}
	if len(errs) > 0 {
		errs.sort()
		return nil, errs
	}
	sort.Slice(models, func(i, j int) bool { return models[i].Name < models[j].Name })
	return models, nil
}

func checkReferences(models []*Model, exists func(string) bool) ErrorList {
	var errs ErrorList
	check := func(m *Model, fields []*Field) {
		for _, f := range fields {
			if f.References != "" && f.References != m.Name && !exists(f.References) {
				errs = append(errs, &Error{Pos: f.Pos, Msg: fmt.Sprintf("field %q references model %q, which is not found (looked for %s.yaml beside this spec)", f.Name, f.References, f.References)})
			}
		}
	}
	for _, m := range models {
		check(m, m.Fields)
		for _, t := range m.Types {
			check(m, t.Fields)
		}
	}
	return errs
}

// Parse loads one spec from data; file names it in errors, and read loads
// the lifecycle file it may name (nil forbids lifecycle files). It returns a
// checked *Model or an ErrorList.
func Parse(file string, data []byte, read ReadFunc) (*Model, error) {
	l := &loader{file: file, read: read, idents: map[string]string{}, brokenEvents: map[*Event]bool{}}
	m := l.model(data)
	if len(l.errs) > 0 {
		l.errs.sort()
		return nil, l.errs
	}
	return m, nil
}

type loader struct {
	file   string
	read   ReadFunc
	errs   ErrorList
	idents map[string]string // Go package-level identifier → what declared it
	m      *Model
	// badInitial is a status whose initial: is not true or false: no
	// status may be initial, and this one may be the one.
	badInitial *Status
	// badStatuses are the status names refused as names: what names them
	// (an event, a set) and "no status is initial" would only repeat it.
	badStatuses map[string]bool
	// badEnteredAt are the statuses whose entered_at is left out because
	// of an error reported already (in it, or in the status's initial):
	// a timeout does not ask for entered_at again.
	badEnteredAt map[*Status]bool
	// brokenEvents are the events whose own errors (a from or a to wrong
	// or missing) are reported: the worker and api sections do not report
	// again what follows from them.
	brokenEvents map[*Event]bool
	// lifecycleBroken: a status or an event has an error of its own, so the
	// checks of the moves between statuses, whose errors would follow from
	// it, are not made.
	lifecycleBroken bool
	// boundNodes are the bounds that name another field, checked once the
	// fields holding them are read (checkBounds).
	boundNodes []boundNode
}

type boundNode struct {
	f    *Field
	key  string
	node *yaml.Node
}

var yamlLineRe = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// indentTab finds the first line whose indentation holds a tab: its line
// and the tab's column.
func indentTab(data []byte) (line, col int, ok bool) {
	for i, text := range strings.Split(string(data), "\n") {
		indent := len(text) - len(strings.TrimLeft(text, " \t"))
		if j := strings.IndexByte(text[:indent], '\t'); j >= 0 {
			return i + 1, j + 1, true
		}
	}
	return 0, 0, false
}

// ConflictMarker finds the first line that starts with a marker git
// leaves in a file it could not merge: its line and text.
func ConflictMarker(data []byte) (line int, text string, ok bool) {
	for i, text := range strings.Split(string(data), "\n") {
		text = strings.TrimRight(text, "\r")
		if strings.HasPrefix(text, "<<<<<<< ") || text == "<<<<<<<" || text == "=======" ||
			strings.HasPrefix(text, ">>>>>>> ") || text == ">>>>>>>" || strings.HasPrefix(text, "||||||| ") {
			return i + 1, text, true
		}
	}
	return 0, "", false
}

func (l *loader) parseYAML(data []byte) *yaml.Node {
	if line, text, ok := ConflictMarker(data); ok {
		l.errs = append(l.errs, &Error{Pos: Pos{File: l.file, Line: line, Col: 1},
			Msg: fmt.Sprintf("a merge conflict marker (%s): git could not merge two changes of this spec; edit the file into the spec both changes make, remove the markers, then run go generate", text)})
		return nil
	}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		msg, line := err.Error(), 1
		if m := yamlLineRe.FindStringSubmatch(msg); m != nil {
			line, _ = strconv.Atoi(m[1])
			msg = m[2]
		} else {
			msg = strings.TrimPrefix(msg, "yaml: ")
		}
		col := 1
		if msg == "EOF" {
			msg = "the file is empty; a spec starts with model: NAME"
		} else if n, c, m, ok := yamlSyntax(data); ok {
			line, col, msg = n, c, m
		} else if strings.Contains(msg, "cannot start any token") {
			if n, c, ok := indentTab(data); ok {
				line, col, msg = n, c, "a tab in the indentation; YAML indents with spaces"
			}
		}
		l.errs = append(l.errs, &Error{Pos: Pos{File: l.file, Line: line, Col: col}, Msg: "invalid YAML: " + msg})
		return nil
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		l.errorf(&extra, "a spec file holds one YAML document; this is a second one")
	}
	if len(doc.Content) == 0 {
		l.errs = append(l.errs, &Error{Pos: Pos{File: l.file, Line: 1, Col: 1}, Msg: "the file is empty; a spec starts with model: NAME"})
		return nil
	}
	return doc.Content[0]
}

func (l *loader) model(data []byte) *Model {
	root := l.parseYAML(data)
	if root == nil {
		return nil
	}
	m := &Model{Pos: l.pos(root)}
	l.m = m
	k := l.keys(root, "the spec", modelKeys...)
	if len(l.errs) > 0 && deref(root).Kind != yaml.MappingNode {
		return nil
	}
	if p, ok := k["model"]; ok {
		m.Pos = l.pos(p.key)
		m.Name, _ = l.name(p.val, "model name", reModel, "[a-z][a-z0-9_]*")
		l.sqlName(p.val, "model name", m.Name, "table", fmt.Sprintf("rename the model, for example to %q", m.Name+"_task"))
		if strings.HasPrefix(m.Name, "tm_") {
			// MySQL's batch tables are tm_batch_<table>: a temporary table
			// hides a table of the same name from its connection.
			l.errorf(p.val, "model name %q: the prefix tm_ is reserved for taskmodel's own tables; rename the model, for example to %q", m.Name, strings.TrimPrefix(m.Name, "tm_")+"_task")
		}
	} else {
		l.errorf(root, "missing key model: every spec names its model (model: NAME)")
	}
	m.Package = strings.ReplaceAll(m.Name, "_", "")
	pkgNode := k["model"].val
	if p, ok := k["package"]; ok {
		m.Package, _ = l.name(p.val, "package", rePackage, "[a-z][a-z0-9]*")
		pkgNode = p.val
	}
	if m.Package != "" && isGoKeyword(m.Package) {
		l.errorf(pkgNode, "Go package name %q is a Go keyword or predeclared identifier; rename the model or set package:", m.Package)
	}
	m.Struct = GoName(m.Name)
	if p, ok := k["struct"]; ok {
		m.Struct, _ = l.name(p.val, "struct", reTypeName, "[A-Z][A-Za-z0-9]*")
	}
	if p, ok := k["doc"]; ok {
		m.Doc, _ = l.str(p.val, "doc")
	}

	// The lifecycle: inline, or from a lifecycle file.
	lc := k
	if p, ok := k["lifecycle"]; ok {
		for _, key := range lifecycleKeys[1:] {
			if q, ok := k[key]; ok {
				l.errorf(q.key, "%s comes from the lifecycle file %s; a model that names a lifecycle may not declare it", key, p.val.Value)
			}
		}
		lc = l.lifecycle(p.val)
		if lc == nil {
			return m
		}
	}
	statusesNode := lc["statuses"]
	if statusesNode.val == nil {
		l.errorf(root, "missing key statuses: a model needs a lifecycle (statuses and events), inline or through lifecycle:")
		return m
	}
	if m.Doc == "" {
		if p, ok := lc["doc"]; ok && k["lifecycle"].val != nil {
			m.Doc, _ = l.str(p.val, "doc")
		}
	}

	for id, what := range GeneratedNames {
		l.idents[id] = "a generated name (" + what + ")"
	}
	if m.Struct != "" {
		// The struct's name comes from struct:, or else from the model's name.
		n, hint := k["model"].val, fmt.Sprintf("the struct is named after model %q; set struct: to another name", m.Name)
		if p, ok := k["struct"]; ok {
			n, hint = p.val, "choose another name in struct:"
		}
		for _, d := range []struct{ id, what string }{
			{m.Struct, "the model struct"},
			{"New" + m.Struct, "the constructor of " + m.Struct},
			{lowerFirst(m.Struct) + "Keys", "a table of " + m.Struct},
			{lowerFirst(m.Struct) + "Required", "a table of " + m.Struct},
		} {
			if !l.declareHint(d.id, d.what, hint, n) {
				break
			}
		}
	}

	// Error codes first: timeouts and fields refer to them.
	if p, ok := lc["error_codes"]; ok {
		l.file = l.fileOf(p)
		l.errorCodes(p.val)
	}
	l.file = l.fileOf(statusesNode)
	lifecycleErrs := len(l.errs)
	statusNodes := l.statuses(statusesNode)
	if p, ok := lc["events"]; ok {
		l.file = l.fileOf(p)
		l.events(p.val)
	} else {
		l.errorf(statusesNode.key, "missing key events: a lifecycle needs events to move between statuses")
	}
	// A status or an event that is itself wrong is left out of the graph,
	// or has lost its from or to: the graph's own errors would follow from
	// that one, and bury it.
	l.lifecycleBroken = len(l.errs) > lifecycleErrs
	if p, ok := lc["sets"]; ok {
		l.file = l.fileOf(p)
		l.sets(p.val)
	}
	l.file = l.fileOf(k["model"])
	if p, ok := k["enums"]; ok {
		l.enums(p.val)
	}
	// Type names are declared before any field is read, so fields may refer
	// to types declared later in the file.
	typeNodes := map[*Type]*yaml.Node{}
	if p, ok := k["types"]; ok {
		for _, q := range l.mapping(p.val, "types") {
			name, ok := l.name(q.key, "type name", reTypeName, "[A-Z][A-Za-z0-9]*")
			if !ok {
				continue
			}
			t := &Type{Pos: l.pos(q.key), Name: name}
			what := fmt.Sprintf("type %q", name)
			for _, id := range []string{name, "New" + name, name + "Shape", lowerFirst(name) + "Keys", lowerFirst(name) + "Required"} {
				if !l.declare(id, what, q.key) {
					break
				}
			}
			m.Types = append(m.Types, t)
			typeNodes[t] = q.val
		}
	}
	for _, t := range m.Types {
		tk := l.keys(typeNodes[t], fmt.Sprintf("type %q", t.Name), "doc", "fields")
		if p, ok := tk["doc"]; ok {
			t.Doc, _ = l.str(p.val, "doc")
		}
		if p, ok := tk["fields"]; ok {
			t.Fields = l.fields(p.val, fmt.Sprintf("type %q", t.Name), nil)
			l.checkRenames(t.Fields)
			l.checkBounds(t.Fields, fmt.Sprintf("type %q", t.Name))
		}
	}
	if p, ok := k["fields"]; ok {
		m.Fields = l.fields(p.val, "the model", BuiltinFields)
		l.checkRenames(m.Fields)
		l.checkBounds(m.Fields, "the model")
	}
	l.file = l.fileOf(statusesNode)
	l.statusDetails(statusNodes)
	if !l.lifecycleBroken {
		l.checkGraph(statusesNode.key)
	}
	l.progressField()
	if p, ok := lc["retired"]; ok {
		l.file = l.fileOf(p)
		l.retired(p.val)
	}
	l.file = l.fileOf(k["model"])
	if p, ok := k["breaking_changes"]; ok {
		l.breakingChanges(p.val)
	}
	if p, ok := lc["worker"]; ok {
		l.file = l.fileOf(p)
		l.worker(p.val)
	}
	l.file = l.fileOf(k["model"])
	if p, ok := k["api"]; ok {
		l.api(p.val)
	}
	l.checkTypeCycles()
	return m
}

// fileOf tells which file a node came from: lifecycle nodes are tagged by
// lifecycle() with the lifecycle file's name in their HeadComment slot.
func (l *loader) fileOf(p pair) string {
	if p.key != nil && strings.HasPrefix(p.key.Tag, "!taskgen-file:") {
		return strings.TrimPrefix(p.key.Tag, "!taskgen-file:")
	}
	return l.m.Pos.File
}

func (l *loader) lifecycle(n *yaml.Node) map[string]pair {
	rel, ok := l.str(n, "lifecycle")
	if !ok {
		return nil
	}
	if l.read == nil {
		l.errorf(n, "lifecycle files cannot be read here")
		return nil
	}
	if filepath.IsAbs(rel) || !fs.ValidPath(filepath.ToSlash(filepath.Clean(rel))) {
		l.errorf(n, "lifecycle %q must be a relative path inside the spec's directory tree", rel)
		return nil
	}
	path := filepath.Join(filepath.Dir(l.file), rel)
	data, err := l.read(path)
	if err != nil {
		l.errorf(n, "cannot read lifecycle file %s: %v", rel, errors.Unwrap(err))
		return nil
	}
	l.m.Lifecycle = rel
	outer := l.file
	l.file = path
	defer func() { l.file = outer }()
	root := l.parseYAML(data)
	if root == nil {
		return nil
	}
	k := l.keys(root, "a lifecycle file", lifecycleKeys...)
	for name, p := range k {
		p.key.Tag = "!taskgen-file:" + path
		k[name] = p
	}
	return k
}

// declare records a package-level Go identifier and reports a collision.
func (l *loader) declare(ident, what string, n *yaml.Node) bool {
	return l.declareHint(ident, what, "", n)
}

// declareHint is declare whose error ends with hint, when not "".
func (l *loader) declareHint(ident, what, hint string, n *yaml.Node) bool {
	if first, ok := l.idents[ident]; ok {
		if hint != "" {
			hint = "; " + hint
		}
		l.errorf(n, "%s becomes the Go name %s, which is already %s%s", what, ident, first, hint)
		return false
	}
	pos := l.pos(n)
	l.idents[ident] = fmt.Sprintf("%s (%s:%d:%d)", what, filepath.Base(pos.File), pos.Line, pos.Col)
	return true
}

func (l *loader) errorCodes(n *yaml.Node) {
	l.declare("ErrorCode", "the error code type", n)
	l.declare("ErrorCodes", "the error code list", n)
	l.declare("ParseErrorCode", "the error code parser", n)
	l.declare("errorCodeEnum", "the error code table", n)
	for _, p := range l.mapping(n, "error_codes") {
		name, ok := l.name(p.key, "error code", reErrorCode, "[A-Z][A-Z0-9_]*")
		if !ok {
			continue
		}
		// A code whose message is wrong is declared all the same, so that
		// its uses are not reported as unknown codes too.
		msg, _ := l.str(p.val, fmt.Sprintf("the message of error code %q", name))
		c := &ErrorCode{Pos: l.pos(p.key), Name: name, GoName: "ErrorCode" + GoName(name), Message: msg}
		if l.declare(c.GoName, fmt.Sprintf("error code %q", name), p.key) {
			l.m.ErrorCodes = append(l.m.ErrorCodes, c)
		}
	}
}

func (l *loader) errorCode(n *yaml.Node, what string) *ErrorCode {
	name, ok := l.str(n, what)
	if !ok {
		return nil
	}
	for _, c := range l.m.ErrorCodes {
		if c.Name == name {
			return c
		}
	}
	if len(l.m.ErrorCodes) == 0 {
		l.errorf(n, "%s: unknown error code %q; this model declares no error_codes", what, name)
	} else {
		l.errorf(n, "%s: unknown error code %q; error codes are %s", what, name, l.errorCodeNames())
	}
	return nil
}

func (l *loader) errorCodeNames() string {
	names := make([]string, len(l.m.ErrorCodes))
	for i, c := range l.m.ErrorCodes {
		names[i] = c.Name
	}
	return strings.Join(names, ", ")
}

func (l *loader) statusNames() string {
	names := make([]string, len(l.m.Statuses))
	for i, s := range l.m.Statuses {
		names[i] = s.Name
	}
	return strings.Join(names, ", ")
}

// statuses declares the statuses; their details are read by statusDetails
// once events, sets and fields are known.
func (l *loader) statuses(p pair) map[*Status]map[string]pair {
	nodes := map[*Status]map[string]pair{}
	pairs := l.mapping(p.val, "statuses")
	for _, q := range pairs {
		name, ok := l.name(q.key, "status", reStatus, "[A-Za-z][A-Za-z0-9_-]*")
		if !ok {
			if l.badStatuses == nil {
				l.badStatuses = map[string]bool{}
			}
			if k := deref(q.key); k != nil {
				l.badStatuses[k.Value] = true
			}
			continue
		}
		s := &Status{Pos: l.pos(q.key), Name: name, GoName: "Status" + GoName(name), Index: len(l.m.Statuses)}
		if !l.declare(s.GoName, fmt.Sprintf("status %q", name), q.key) {
			continue
		}
		l.m.Statuses = append(l.m.Statuses, s)
		// The keys are read once; initial and terminal are used now (the
		// graph checks need them), the rest by statusDetails.
		sk := l.keys(q.val, fmt.Sprintf("status %q", name), "doc", "initial", "terminal", "code", "progress", "entered_at", "display", "timeout")
		nodes[s] = sk
		if v, ok := sk["initial"]; ok {
			var ok bool
			if s.Initial, ok = l.boolean(v.val, fmt.Sprintf("initial of status %q", name)); !ok {
				l.badInitial = s
			}
		}
		if v, ok := sk["terminal"]; ok {
			s.Terminal, _ = l.boolean(v.val, fmt.Sprintf("terminal of status %q", name))
		}
		if s.Initial {
			if first := l.m.Initial; first != nil {
				l.errorf(q.key, "status %q is initial, but so is %q (line %d:%d); exactly one status may be initial", name, first.Name, first.Pos.Line, first.Pos.Col)
			} else {
				l.m.Initial = s
			}
		}
	}
	switch d := deref(p.val); {
	case len(pairs) == 0 && (d == nil || d.Kind == yaml.MappingNode || d.Tag == "!!null"):
		l.errorf(p.key, "statuses is empty; a model needs at least one status")
	case len(l.m.Statuses) > 0 && l.m.Initial == nil && l.badInitial == nil && len(l.badStatuses) == 0:
		l.errorf(p.key, "no status is initial; mark exactly one with initial: true")
	}
	return nodes
}

func (l *loader) status(n *yaml.Node, what string) *Status {
	name, ok := l.str(n, what)
	if !ok {
		return nil
	}
	if s := l.m.StatusByName(name); s != nil {
		return s
	}
	if len(l.m.Statuses) == 0 || l.badStatuses[name] {
		return nil // statuses is wrong, and says so: every name would be unknown
	}
	l.errorf(n, "%s: unknown status %q; statuses are %s", what, name, l.statusNames())
	return nil
}

func (l *loader) events(n *yaml.Node) {
	for _, p := range l.mapping(n, "events") {
		name, ok := l.name(p.key, "event", reLower, "[a-z][a-z0-9_]*")
		if !ok {
			continue
		}
		e := &Event{Pos: l.pos(p.key), Name: name, GoName: "Event" + GoName(name), Index: len(l.m.Events)}
		if !l.declare(e.GoName, fmt.Sprintf("event %q", name), p.key) {
			continue
		}
		what := fmt.Sprintf("event %q", name)
		errs := len(l.errs)
		l.m.Events = append(l.m.Events, e)
		if d := deref(p.val); d != nil && d.Kind != yaml.MappingNode && d.Tag != "!!null" {
			l.errorf(p.val, "%s must be a mapping with from and to, such as {from: [A, B], to: C}, not %s", what, kindName(d))
			l.brokenEvents[e] = true
			continue
		}
		k := l.keys(p.val, what, "doc", "from", "to", "requires")
		if v, ok := k["doc"]; ok {
			e.Doc, _ = l.str(v.val, "doc")
		}
		if v, ok := k["from"]; ok {
			for _, f := range l.names(v.val, what+" from") {
				s := l.status(f, what+" from")
				if s == nil {
					continue
				}
				if e.Leaves(s) {
					l.errorf(f, "%s lists status %q twice in from", what, s.Name)
					continue
				}
				if s.Terminal {
					l.errorf(f, "%s leaves terminal status %q; terminal statuses have no way out", what, s.Name)
				}
				e.From = append(e.From, s)
			}
			if d := deref(v.val); d != nil && d.Kind == yaml.SequenceNode && len(d.Content) == 0 {
				l.errorf(v.key, "%s has an empty from; list the statuses it may fire from", what)
			}
		} else {
			l.errorf(p.key, "%s has no from; list the statuses it may fire from", what)
		}
		if v, ok := k["to"]; ok {
			e.To = l.status(v.val, what+" to")
		} else {
			l.errorf(p.key, "%s has no to; name the status it leads to", what)
		}
		if v, ok := k["requires"]; ok {
			// Resolved against the model's fields in statusDetails.
			for _, f := range l.names(v.val, what+" requires") {
				e.Requires = append(e.Requires, &Field{Pos: l.pos(f), Name: f.Value})
			}
		}
		// With statuses wrong, from and to are left out with no error of
		// their own.
		if len(l.errs) > errs || len(e.From) == 0 || e.To == nil {
			l.brokenEvents[e] = true
		}
	}
	if len(l.m.Events) == 0 {
		l.errorf(n, "events is empty; a lifecycle needs events to move between statuses")
	}
}

var reservedMethods = map[string]bool{
	"String": true, "Valid": true, "IsTerminal": true, "Code": true, "Progress": true, "Display": true,
	"Timeout": true, "EnteredAtField": true, "MarshalText": true, "UnmarshalText": true, "Scan": true, "Value": true,
	"Index": true, "IsInitial": true,
}

func (l *loader) sets(n *yaml.Node) {
	for _, p := range l.mapping(n, "sets") {
		name, ok := l.name(p.key, "set", reLower, "[a-z][a-z0-9_]*")
		if !ok {
			continue
		}
		set := &Set{Pos: l.pos(p.key), Name: name, GoName: GoName(name)}
		what := fmt.Sprintf("set %q", name)
		if reservedMethods["Is"+set.GoName] || set.GoName == "" {
			l.errorf(p.key, "%s would generate the method Is%s, which Status already has; choose another name", what, set.GoName)
			continue
		}
		if !l.declare(set.GoName+"Statuses", what, p.key) || !l.declare("set"+set.GoName, what, p.key) {
			continue
		}
		for _, other := range l.m.Sets {
			if other.GoName == set.GoName {
				l.errorf(p.key, "%s and set %q both become the method Is%s", what, other.Name, set.GoName)
			}
		}
		k := l.keys(p.val, what, "doc", "statuses")
		if v, ok := k["doc"]; ok {
			set.Doc, _ = l.str(v.val, "doc")
		}
		if v, ok := k["statuses"]; ok {
			for _, sn := range l.names(v.val, what) {
				s := l.status(sn, what)
				if s == nil {
					continue
				}
				if set.Has(s) {
					l.errorf(sn, "%s lists status %q twice", what, s.Name)
					continue
				}
				set.Statuses = append(set.Statuses, s)
				s.Sets = append(s.Sets, set)
			}
		} else {
			l.errorf(p.key, "%s has no statuses key; list its members (an empty list is allowed)", what)
		}
		l.m.Sets = append(l.m.Sets, set)
	}
}

func (l *loader) enums(n *yaml.Node) {
	for _, p := range l.mapping(n, "enums") {
		name, ok := l.name(p.key, "enum name", reTypeName, "[A-Z][A-Za-z0-9]*")
		if !ok {
			continue
		}
		what := fmt.Sprintf("enum %q", name)
		if !l.declare(name, what, p.key) {
			continue
		}
		l.declare(name+"Values", what, p.key)
		l.declare("Parse"+name, what, p.key)
		l.declare(lowerFirst(name)+"Enum", what, p.key)
		e := &Enum{Pos: l.pos(p.key), Name: name}
		k := l.keys(p.val, what, "doc", "values")
		if v, ok := k["doc"]; ok {
			e.Doc, _ = l.str(v.val, "doc")
		}
		values := map[string]*EnumValue{}
		v, hasValues := k["values"]
		if hasValues && deref(v.val) != nil && deref(v.val).Kind == yaml.SequenceNode {
			l.errorf(v.val, "%s values must be a mapping of each value to its doc, such as {eu: Europe, us: United States} (or {eu: , us: } without docs), not a list", what)
		} else if hasValues {
			for _, q := range l.mapping(v.val, what+" values") {
				vn, ok := l.name(q.key, what+" value", reStatus, "[A-Za-z][A-Za-z0-9_-]*")
				if !ok {
					continue
				}
				ev := &EnumValue{Pos: l.pos(q.key), Name: vn, GoName: name + GoName(vn), Value: vn}
				if val := deref(q.val); val != nil && val.Kind == yaml.MappingNode {
					vk := l.keys(val, fmt.Sprintf("%s value %q", what, vn), "value", "doc")
					if x, ok := vk["value"]; ok {
						ev.Value, _ = l.str(x.val, "value")
					}
					if x, ok := vk["doc"]; ok {
						ev.Doc, _ = l.str(x.val, "doc")
					}
				} else if val != nil && !(val.Kind == yaml.ScalarNode && val.Tag == "!!null") {
					ev.Doc, _ = l.str(val, fmt.Sprintf("the doc of %s value %q", what, vn))
				}
				if !reEnumValue.MatchString(ev.Value) {
					l.errorf(q.key, "%s value %q is stored as %q; a stored value must match %s", what, vn, ev.Value, reEnumValue)
					continue
				}
				if first, dup := values[ev.Value]; dup {
					l.errorf(q.key, "%s: values %q and %q are both stored as %q", what, first.Name, vn, ev.Value)
					continue
				}
				if !l.declare(ev.GoName, fmt.Sprintf("%s value %q", what, vn), q.key) {
					continue
				}
				values[ev.Value] = ev
				e.Values = append(e.Values, ev)
			}
		}
		malformed := hasValues && deref(v.val) != nil && deref(v.val).Kind != yaml.MappingNode && deref(v.val).Tag != "!!null"
		if len(e.Values) == 0 && !malformed {
			l.errorf(p.key, "%s has no values; list them under values:", what)
		}
		l.m.Enums = append(l.m.Enums, e)
	}
}

// reservedStructMethods are the methods generated on model and value structs.
var reservedStructMethods = map[string]bool{"Fire": true, "Validate": true, "UnmarshalJSON": true, "MarshalJSON": true, "Key": true, "Init": true, "Touch": true, "TimeoutAt": true, "ListRow": true, "IsFinished": true, "PrepareTimeout": true, "RetentionTime": true, "PrepareFailure": true, "ReportProgress": true, "Owner": true, "SetOwner": true}

var fieldKeys = []string{"type", "of", "doc", "required", "optional", "default", "backfill", "renamed_from", "max_len", "min_len", "pattern", "multiline", "ge", "le", "gt", "lt", "min_items", "max_items", "items", "references"}

// itemKeys are the keys of a list field's items: the limits of one element.
var itemKeys = []string{"max_len", "min_len", "pattern", "multiline", "ge", "le", "gt", "lt"}

func (l *loader) fields(n *yaml.Node, owner string, builtin []string) []*Field {
	var out []*Field
	goNames := map[string]*Field{}
	for _, b := range builtin {
		goNames[GoName(b)] = &Field{Name: b}
	}
	for _, p := range l.mapping(n, "fields of "+owner) {
		name, ok := l.name(p.key, "field", reLower, "[a-z][a-z0-9_]*")
		if !ok {
			continue
		}
		if contains(builtin, name) {
			l.errorf(p.key, "field %q is built in; every model has %s", name, strings.Join(builtin, ", "))
			continue
		}
		f := &Field{Pos: l.pos(p.key), Name: name, GoName: GoName(name)}
		if strings.HasPrefix(name, "tm_") {
			l.errorf(p.key, "field %q: the prefix tm_ is reserved for taskmodel's own SQL parameters and columns; rename the field", name)
			continue
		}
		if reservedStructMethods[f.GoName] {
			l.errorf(p.key, "field %q becomes the Go name %s, which is a generated method of %s; rename the field", name, f.GoName, owner)
			continue
		}
		// The model's fields are columns; a type's are inside a JSON value.
		if builtin != nil && !l.sqlName(p.key, "field", name, "column", fmt.Sprintf("rename the field, for example to %q", "task_"+name)) {
			continue
		}
		if first, ok := goNames[f.GoName]; ok {
			l.errorf(p.key, "field %q and field %q of %s both become the Go name %s", name, first.Name, owner, f.GoName)
			continue
		}
		goNames[f.GoName] = f
		if l.field(f, p.val, owner) {
			out = append(out, f)
		}
	}
	return out
}

func (l *loader) typeRef(n *yaml.Node, what string, allowList bool) *TypeRef {
	name, ok := l.str(n, what)
	if !ok {
		return nil
	}
	switch k := Kind(name); k {
	case KindString, KindInt, KindFloat, KindBool, KindTime, KindDuration, KindUUID, KindJSON, KindStatus:
		return &TypeRef{Kind: k}
	case KindList:
		if !allowList {
			l.errorf(n, "%s: a list's elements may not be lists", what)
			return nil
		}
		return &TypeRef{Kind: k}
	case KindErrorCode:
		if len(l.m.ErrorCodes) == 0 {
			l.errorf(n, "%s: type ErrorCode needs error_codes in the spec", what)
			return nil
		}
		return &TypeRef{Kind: k}
	}
	for _, e := range l.m.Enums {
		if e.Name == name {
			return &TypeRef{Kind: KindEnum, Enum: e}
		}
	}
	for _, t := range l.m.Types {
		if t.Name == name {
			return &TypeRef{Kind: KindType, Type: t}
		}
	}
	var declared []string
	for _, e := range l.m.Enums {
		declared = append(declared, e.Name)
	}
	for _, t := range l.m.Types {
		declared = append(declared, t.Name)
	}
	allowed := "string, int, float, bool, time, duration, uuid, json, list, Status"
	if len(l.m.ErrorCodes) > 0 {
		allowed += ", ErrorCode"
	}
	if len(declared) > 0 {
		allowed += ", " + strings.Join(declared, ", ")
	}
	l.errorf(n, "%s: unknown type %q; allowed: %s", what, name, allowed)
	return nil
}

func (l *loader) field(f *Field, n *yaml.Node, owner string) bool {
	what := fmt.Sprintf("field %q", f.Name)
	k := l.keys(n, what, fieldKeys...)
	tp, ok := k["type"]
	if !ok {
		l.errorf(n, "%s has no type", what)
		return false
	}
	f.Type = l.typeRef(tp.val, what, true)
	if f.Type == nil {
		return false
	}
	if v, ok := k["of"]; ok {
		if f.Type.Kind != KindList {
			l.errorf(v.key, "%s: of applies to list fields; this one is %s", what, f.Type.Name())
		} else {
			f.Type.Elem = l.typeRef(v.val, what+" of", false)
		}
	}
	if f.Type.Kind == KindList && f.Type.Elem == nil {
		if _, ok := k["of"]; !ok {
			l.errorf(tp.val, "%s is a list; say what it holds with of:", what)
		}
		return false
	}
	if v, ok := k["doc"]; ok {
		f.Doc, _ = l.str(v.val, "doc")
	}
	if v, ok := k["required"]; ok {
		f.Required, _ = l.boolean(v.val, what+" required")
	}
	if v, ok := k["optional"]; ok {
		f.Optional, _ = l.boolean(v.val, what+" optional")
	}
	l.limits(f, n, k, what)
	if v, ok := k["items"]; ok {
		if f.Type.Kind != KindList {
			l.errorf(v.key, "%s: items applies to list fields; this one is %s", what, f.Type.Name())
		} else {
			ik := l.keys(v.val, what+" items", itemKeys...)
			f.Items = &Field{Pos: l.pos(v.key), Name: f.Name + "[]", GoName: f.GoName, Type: f.Type.Elem}
			l.limits(f.Items, v.val, ik, what+" items")
		}
	}
	kind := f.Type.Kind
	if v, ok := k["references"]; ok {
		if kind != KindUUID {
			l.errorf(v.key, "%s: references applies to uuid fields; this one is %s", what, f.Type.Name())
		} else {
			f.References, _ = l.name(v.val, what+" references", reModel, "[a-z][a-z0-9_]*")
		}
	}
	if v, ok := k["default"]; ok {
		switch {
		case f.Required:
			l.errorf(v.key, "%s is required and has a default; a required field must be given, so drop one of the two", what)
		case f.Optional:
			if d := deref(v.val); d == nil || d.Tag != "!!null" {
				l.errorf(v.key, "%s is optional, so its default is null; drop default or optional", what)
			}
		case deref(v.val) != nil && deref(v.val).Tag == "!!null":
			l.errorf(v.val, "%s default cannot be null; omit default, or make the field optional (optional: true), whose default is null", what)
		default:
			f.Default, f.HasDefault = l.defaultValue(v.val, f.Type, what)
			if f.HasDefault {
				if why := f.breaks(f.Default); why != "" {
					l.errorf(v.val, "%s default: %s; every new task would break the field's own limit", what, why)
				}
			}
		}
	}
	l.evolution(f, k, what, owner)
	return true
}

// limits reads the limits of a field, or of a list's elements (items:):
// lengths, pattern and multiline for strings, bounds for numbers, item
// counts for lists.
func (l *loader) limits(f *Field, n *yaml.Node, k map[string]pair, what string) {
	kind := f.Type.Kind
	isNum := kind == KindInt || kind == KindFloat || kind == KindDuration
	limit := func(key string, applies bool, kindWord string) *yaml.Node {
		v, ok := k[key]
		if !ok {
			return nil
		}
		if !applies {
			l.errorf(v.key, "%s: %s applies to %s fields; this one is %s", what, key, kindWord, f.Type.Name())
			return nil
		}
		return v.val
	}
	if v := limit("max_len", kind == KindString, "string"); v != nil {
		f.MaxLen, _ = l.nonNegInt(v, what+" max_len")
	}
	if v := limit("min_len", kind == KindString, "string"); v != nil {
		f.MinLen, _ = l.nonNegInt(v, what+" min_len")
	}
	if v := limit("pattern", kind == KindString, "string"); v != nil {
		if p, ok := l.str(v, what+" pattern"); ok {
			if p == "" {
				l.errorf(v, "%s pattern is empty; drop it, or give a regular expression the whole value must match", what)
			} else if _, err := regexp.Compile(p); err != nil {
				l.errorf(v, "%s pattern %q is not a regular expression (Go syntax): %s", what, p, strings.TrimPrefix(err.Error(), "error parsing regexp: "))
			} else {
				f.Pattern = p // p compiles, so ^(?:p)$ does
			}
		}
	}
	if v := limit("multiline", kind == KindString, "string"); v != nil {
		f.Multiline, _ = l.boolean(v, what+" multiline")
	}
	if v := limit("min_items", kind == KindList, "list"); v != nil {
		f.MinItems, _ = l.nonNegInt(v, what+" min_items")
	}
	if v := limit("max_items", kind == KindList, "list"); v != nil {
		f.MaxItems, _ = l.nonNegInt(v, what+" max_items")
	}
	num := func(key string) *float64 {
		v := limit(key, isNum, "int, float and duration")
		if v == nil {
			return nil
		}
		if d := deref(v); d != nil && d.Kind == yaml.ScalarNode && d.Tag == "!!str" && reLower.MatchString(d.Value) && !strings.HasSuffix(f.Name, "[]") {
			// Another field's name: checked once every field is read.
			if f.Bounds == nil {
				f.Bounds = map[string]string{}
			}
			f.Bounds[key] = d.Value
			l.boundNodes = append(l.boundNodes, boundNode{f, key, d})
			return nil
		}
		var x float64
		var ok bool
		if kind == KindDuration {
			var d time.Duration
			d, ok = l.duration(v, what+" "+key)
			x = float64(d)
		} else if kind == KindInt {
			var i int64
			i, ok = l.integer(v, what+" "+key)
			x = float64(i)
		} else {
			x, ok = l.number(v, what+" "+key)
		}
		if !ok {
			return nil
		}
		return &x
	}
	f.Ge, f.Le, f.Gt, f.Lt = num("ge"), num("le"), num("gt"), num("lt")
	bad := func(lo, hi string, a, b *int) {
		if a != nil && b != nil && *a > *b {
			l.errorf(k[lo].key, "%s: %s (%d) is greater than %s (%d); no value would be allowed", what, lo, *a, hi, *b)
		}
	}
	bad("min_len", "max_len", f.MinLen, f.MaxLen)
	bad("min_items", "max_items", f.MinItems, f.MaxItems)
	for _, c := range []struct {
		lo, hi string
		a, b   *float64
		strict bool
	}{{"ge", "le", f.Ge, f.Le, false}, {"gt", "lt", f.Gt, f.Lt, true}, {"ge", "lt", f.Ge, f.Lt, true}, {"gt", "le", f.Gt, f.Le, true}} {
		if c.a != nil && c.b != nil && (*c.a > *c.b || (c.strict && *c.a == *c.b)) {
			l.errorf(k[c.lo].key, "%s: %s (%s) and %s (%s) leave no value allowed", what, c.lo, fmtNum(*c.a), c.hi, fmtNum(*c.b))
		}
	}
	has := func(key string, v *float64) bool { return v != nil || f.Bounds[key] != "" }
	if (has("ge", f.Ge) && has("gt", f.Gt)) || (has("le", f.Le) && has("lt", f.Lt)) {
		l.errorf(n, "%s: use one lower bound (ge or gt) and one upper bound (le or lt)", what)
	}
}

// AnchoredPattern is the expression a field's pattern compiles to: the
// pattern matched against the whole value.
func AnchoredPattern(p string) string { return "^(?:" + p + ")$" }

func fmtNum(x float64) string { return strconv.FormatFloat(x, 'g', -1, 64) }

func (l *loader) defaultValue(n *yaml.Node, t *TypeRef, what string) (any, bool) {
	return l.value(n, t, what+" default")
}

// value reads a constant of type t (a default or a backfill); what names it
// in errors.
func (l *loader) value(n *yaml.Node, t *TypeRef, what string) (any, bool) {
	n = deref(n)
	switch t.Kind {
	case KindString:
		if n.Kind != yaml.ScalarNode || n.Tag != "!!str" {
			l.errorf(n, "%s must be a string; quote it if it looks like a number or a boolean", what)
			return nil, false
		}
		return n.Value, true
	case KindInt:
		v, ok := l.integer(n, what)
		return v, ok
	case KindFloat:
		v, ok := l.number(n, what)
		return v, ok
	case KindBool:
		v, ok := l.boolean(n, what)
		return v, ok
	case KindDuration:
		v, ok := l.duration(n, what)
		return v, ok
	case KindStatus:
		if s := l.status(n, what); s != nil {
			return s.Name, true
		}
		return nil, false
	case KindErrorCode:
		if c := l.errorCode(n, what); c != nil {
			return c.Name, true
		}
		return nil, false
	case KindEnum:
		name, ok := l.str(n, what)
		if !ok {
			return nil, false
		}
		for _, v := range t.Enum.Values {
			if v.Name == name || v.Value == name {
				return v.Value, true
			}
		}
		if len(t.Enum.Values) == 0 {
			return nil, false // the enum's own error says what is wrong
		}
		names := make([]string, len(t.Enum.Values))
		for i, v := range t.Enum.Values {
			names[i] = v.Name
		}
		l.errorf(n, "%s: %q is not a value of enum %s; values are %s", what, name, t.Enum.Name, strings.Join(names, ", "))
		return nil, false
	case KindList:
		if n.Kind != yaml.SequenceNode {
			l.errorf(n, "%s must be a list", what)
			return nil, false
		}
		if len(n.Content) > 0 {
			switch t.Elem.Kind {
			case KindString, KindInt, KindFloat, KindBool, KindEnum, KindStatus, KindErrorCode:
			default:
				l.errorf(n, "%s: only an empty list [] is allowed for a list of %s", what, t.Elem.Name())
				return nil, false
			}
		}
		out := []any{}
		for _, c := range n.Content {
			v, ok := l.value(c, t.Elem, what)
			if !ok {
				return nil, false
			}
			out = append(out, v)
		}
		return out, true
	}
	l.errorf(n, "%s: fields of type %s take no default", what, t.Name())
	return nil, false
}

// statusDetails reads the keys of each status that refer to events, fields
// and error codes, and resolves the fields events require.
func (l *loader) statusDetails(nodes map[*Status]map[string]pair) {
	m := l.m
	codeSeen := false
	var noCode []*Status
	for _, s := range m.Statuses {
		what := fmt.Sprintf("status %q", s.Name)
		k := nodes[s]
		if v, ok := k["doc"]; ok {
			s.Doc, _ = l.str(v.val, "doc")
		}
		if v, ok := k["code"]; ok {
			code, ok := l.str(v.val, what+" code")
			if ok {
				switch code {
				case "Q", "R", "D", "F", "C":
					s.Code = code
					codeSeen = true
				default:
					l.errorf(v.val, "unknown short code %q in %s; allowed: Q, R, D, F, C", code, what)
				}
			}
		} else {
			noCode = append(noCode, s)
		}
		if v, ok := k["progress"]; ok {
			s.Progress = l.progress(v.val, what)
		}
		if v, ok := k["entered_at"]; ok {
			if s.EnteredAt = l.enteredAt(v.val, s); s.EnteredAt == "" {
				if l.badEnteredAt == nil {
					l.badEnteredAt = map[*Status]bool{}
				}
				l.badEnteredAt[s] = true
			}
		}
		if v, ok := k["display"]; ok {
			dk := l.keys(v.val, what+" display", "label", "color", "icon", "message", "poll")
			d := &Display{}
			for key, dst := range map[string]*string{"label": &d.Label, "color": &d.Color, "icon": &d.Icon, "message": &d.Message} {
				if x, ok := dk[key]; ok {
					*dst, _ = l.str(x.val, what+" display "+key)
				}
			}
			if x, ok := dk["poll"]; ok {
				d.Poll, _ = l.duration(x.val, what+" display poll")
				if d.Poll < 0 {
					l.errorf(x.val, "%s display poll must not be negative", what)
				}
			}
			s.Display = d
		}
		if v, ok := k["timeout"]; ok {
			s.Timeout = l.timeout(v.val, s)
		}
	}
	if codeSeen && len(noCode) > 0 {
		for _, s := range noCode {
			l.errs = append(l.errs, &Error{Pos: s.Pos, Msg: fmt.Sprintf("status %q has no code; when one status has a short code every status needs one (Q, R, D, F, C)", s.Name)})
		}
	}
	m.HasCodes = codeSeen && len(noCode) == 0
	for _, f := range m.Fields {
		if f.EnteredAt {
			var in []string
			for _, s := range m.Statuses {
				if s.EnteredAt == f.Name {
					in = append(in, s.Name)
				}
			}
			f.Doc = "Set when the task enters " + strings.Join(in, ", ") + "."
		}
	}
	for _, e := range m.Events {
		for i, r := range e.Requires {
			f := m.FieldByName(r.Name)
			if f == nil {
				l.file = r.Pos.File
				l.errs = append(l.errs, &Error{Pos: r.Pos, Msg: fmt.Sprintf("event %q requires field %q, which model %q does not declare", e.Name, r.Name, m.Name)})
				continue
			}
			e.Requires[i] = f
		}
	}
	// A timeout fires its event with no caller: it can fill an ErrorCode
	// field (with its error_code) and string fields (with a message), and
	// nothing else.
	for _, s := range m.Statuses {
		t := s.Timeout
		if t == nil || t.Event == nil {
			continue
		}
		for _, r := range t.Event.Requires {
			if r.Type == nil {
				continue // an unknown field, reported above
			}
			switch {
			case r.Type.Kind == KindString:
			case r.Type.Kind == KindErrorCode && (t.ErrorCode != nil || t.badErrorCode): // a wrong one is reported where it is
			case r.Type.Kind == KindErrorCode:
				l.file = t.Pos.File
				l.errs = append(l.errs, &Error{Pos: t.Pos, Msg: fmt.Sprintf("status %q timeout fires %q, which requires %q: give the timeout an error_code", s.Name, t.Event.Name, r.Name)})
			default:
				l.file = t.Pos.File
				l.errs = append(l.errs, &Error{Pos: t.Pos, Msg: fmt.Sprintf("status %q timeout fires %q, which requires field %q of type %s; a timeout can fill only ErrorCode and string fields", s.Name, t.Event.Name, r.Name, r.Type.Name())})
			}
		}
	}
}

func (l *loader) progress(n *yaml.Node, what string) *Progress {
	d := deref(n)
	if d != nil && d.Kind == yaml.MappingNode {
		k := l.keys(d, what+" progress", "from", "to")
		p := &Progress{Pos: l.pos(n)}
		from, okf := k["from"]
		to, okt := k["to"]
		if !okf || !okt {
			l.errorf(d, "%s progress range needs both from and to (percent 0–100)", what)
			return nil
		}
		a, ok1 := l.integer(from.val, what+" progress from")
		b, ok2 := l.integer(to.val, what+" progress to")
		if !ok1 || !ok2 {
			return nil
		}
		if a < 0 || b > 100 || a > b {
			l.errorf(d, "%s progress range must satisfy 0 ≤ from ≤ to ≤ 100 (got from %d, to %d)", what, a, b)
			return nil
		}
		p.From, p.To = int(a), int(b)
		return p
	}
	v, ok := l.integer(n, what+" progress")
	if !ok {
		return nil
	}
	if v < 0 || v > 100 {
		l.errorf(n, "%s progress must be a percent from 0 to 100 (got %d)", what, v)
		return nil
	}
	return &Progress{Pos: l.pos(n), Fixed: true, Percent: int(v)}
}

func (l *loader) enteredAt(n *yaml.Node, s *Status) string {
	what := fmt.Sprintf("status %q entered_at", s.Name)
	name, ok := l.name(n, what, reLower, "[a-z][a-z0-9_]*")
	if !ok {
		return ""
	}
	if contains(BuiltinFields, name) {
		if name == "created_at" && s.Initial {
			return name // a task enters its initial status when it is created
		}
		if name == "created_at" && s == l.badInitial {
			return "" // its initial: is wrong, and says so
		}
		why := "it is not a timestamp"
		switch name {
		case "created_at":
			why = "it records when a task enters the initial status, and only the initial status may use it"
		case "updated_at":
			why = "it changes on every update of a task, so it cannot record when a task entered a status"
		}
		own := strings.ToLower(strings.ReplaceAll(s.Name, "-", "_")) + "_at"
		l.errorf(n, "%s: %q is one of the built-in fields (%s): %s; name a field of the model's own, such as %q", what, name, strings.Join(BuiltinFields, ", "), why, own)
		return ""
	}
	if f := l.m.FieldByName(name); f != nil {
		if !f.EnteredAt && (f.Type.Kind != KindTime || !f.Optional) {
			l.errorf(n, "%s: field %q is declared as %s; an entry timestamp must be an optional time", what, name, describe(f))
			return ""
		}
		return name
	}
	if l.idents["entered:"+GoName(name)] != "" {
		return name
	}
	if !l.sqlName(n, what+":", name, "column", fmt.Sprintf("choose another name, for example %q", name+"_at")) {
		return ""
	}
	f := &Field{Pos: l.pos(n), Name: name, GoName: GoName(name), Type: &TypeRef{Kind: KindTime}, Optional: true, EnteredAt: true}
	if reservedStructMethods[f.GoName] {
		l.errorf(n, "%s: %q becomes the Go name %s, which is a generated method of the model; choose another name", what, name, f.GoName)
		return ""
	}
	for _, other := range l.m.Fields {
		if other.GoName == f.GoName {
			l.errorf(n, "%s: %q and field %q both become the Go name %s", what, name, other.Name, f.GoName)
			return ""
		}
	}
	l.m.Fields = append(l.m.Fields, f)
	return name
}

func describe(f *Field) string {
	if f.Optional {
		return "an optional " + f.Type.Name()
	}
	return "a non-optional " + f.Type.Name()
}

func (l *loader) timeout(n *yaml.Node, s *Status) *Timeout {
	what := fmt.Sprintf("status %q timeout", s.Name)
	k := l.keys(n, what, "after", "to", "event", "error_code")
	t := &Timeout{Pos: l.pos(n)}
	if v, ok := k["after"]; ok {
		var ok bool
		if t.After, ok = l.duration(v.val, what+" after"); ok && t.After <= 0 {
			l.errorf(v.val, "%s after must be a positive duration", what)
		}
	} else {
		l.errorf(n, "%s needs after: a duration such as 15m", what)
	}
	if v, ok := k["error_code"]; ok {
		t.ErrorCode = l.errorCode(v.val, what+" error_code")
		t.badErrorCode = t.ErrorCode == nil
	}
	to, ok := k["to"]
	if !ok {
		l.errorf(n, "%s needs to: the status a timed-out task moves to", what)
		return nil
	}
	t.To = l.status(to.val, what+" to")
	if t.To == nil {
		return nil
	}
	if s.EnteredAt == "" && !l.badEnteredAt[s] {
		l.errorf(n, "%s needs the status to record when a task enters it; add entered_at to status %q", what, s.Name)
	}
	if s.Terminal {
		l.errorf(n, "%s: status %q is terminal; a terminal status cannot time out", what, s.Name)
		return nil
	}
	var candidates []*Event
	for _, e := range l.m.Events {
		if e.To == t.To && e.Leaves(s) {
			candidates = append(candidates, e)
		}
	}
	if v, ok := k["event"]; ok {
		name, _ := l.str(v.val, what+" event")
		e := l.m.EventByName(name)
		switch {
		case e == nil:
			l.errorf(v.val, "%s: unknown event %q", what, name)
		case l.brokenEvents[e]: // its own error says what is wrong
		case e.To != t.To || !e.Leaves(s):
			l.errorf(v.val, "%s: event %q does not lead from %s to %s", what, name, s.Name, t.To.Name)
		default:
			t.Event = e
		}
		return t
	}
	switch len(candidates) {
	case 0:
		if l.lifecycleBroken {
			break // the event it needs may be the one that is wrong
		}
		l.errorf(to.val, "%s goes to %s, but no event leads from %s to %s; add one", what, t.To.Name, s.Name, t.To.Name)
	case 1:
		t.Event = candidates[0]
	default:
		l.errorf(to.val, "%s: events %q and %q both lead from %s to %s; say which one with event:", what, candidates[0].Name, candidates[1].Name, s.Name, t.To.Name)
	}
	return t
}

// checkGraph checks that every status is reachable from the initial one and
// that every non-terminal status has a way out.
func (l *loader) checkGraph(at *yaml.Node) {
	m := l.m
	if m.Initial == nil {
		return
	}
	reached := map[*Status]bool{m.Initial: true}
	queue := []*Status{m.Initial}
	for len(queue) > 0 {
		s := queue[0]
		queue = queue[1:]
		for _, e := range m.Events {
			if e.To != nil && e.Leaves(s) && !reached[e.To] {
				reached[e.To] = true
				queue = append(queue, e.To)
			}
		}
	}
	for _, s := range m.Statuses {
		if !reached[s] {
			l.errs = append(l.errs, &Error{Pos: s.Pos, Msg: fmt.Sprintf("status %q is unreachable from the initial status %q; add an event that leads to it", s.Name, m.Initial.Name)})
		}
		if s.Terminal {
			continue
		}
		out := false
		for _, e := range m.Events {
			if e.Leaves(s) {
				out = true
				break
			}
		}
		if !out {
			l.errs = append(l.errs, &Error{Pos: s.Pos, Msg: fmt.Sprintf("status %q is not terminal but no event leaves it; add an event from it or mark it terminal: true", s.Name)})
		}
	}
}

// checkTypeCycles rejects value types that contain themselves without an
// optional field or a list in between: such a struct has no finite size.
func (l *loader) checkTypeCycles() {
	const (
		unvisited = iota
		visiting
		done
	)
	state := map[*Type]int{}
	var visit func(t *Type, path []string) bool
	visit = func(t *Type, path []string) bool {
		switch state[t] {
		case visiting:
			l.errs = append(l.errs, &Error{Pos: t.Pos, Msg: fmt.Sprintf("type %q contains itself (%s); make one of those fields optional or a list", t.Name, strings.Join(append(path, t.Name), " → "))})
			return true
		case done:
			return false
		}
		state[t] = visiting
		for _, f := range t.Fields {
			if f.Type.Kind == KindType && !f.Optional {
				if visit(f.Type.Type, append(path, t.Name+"."+f.Name)) {
					state[t] = done
					return true
				}
			}
		}
		state[t] = done
		return false
	}
	for _, t := range l.m.Types {
		if state[t] == unvisited {
			visit(t, nil)
		}
	}
}
