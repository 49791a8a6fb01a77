package gen

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/dave/jennifer/jen"

	"github.com/taskmodel/taskmodel/tools/taskgen/internal/spec"
)

func (g *generator) modelFile(f *jen.File) {
	m := g.m
	if len(m.ErrorCodes) > 0 {
		goNames := make([]string, len(m.ErrorCodes))
		values := make([]string, len(m.ErrorCodes))
		docs := make([]string, len(m.ErrorCodes))
		cases := make([]jen.Code, len(m.ErrorCodes))
		for i, c := range m.ErrorCodes {
			goNames[i], values[i], docs[i] = c.GoName, c.Name, c.Message
			cases[i] = jen.Case(jen.Id(c.GoName)).Block(jen.Return(jen.Lit(c.Message)))
		}
		stringEnum{
			Type: "ErrorCode", Doc: "ErrorCode says why a task failed, in a form programs can test.",
			What: "error code", Field: "error_code", ListFunc: "ErrorCodes",
			ListDoc:   "ErrorCodes returns every error code in spec order.",
			ParseFunc: "ParseErrorCode", GoNames: goNames, Values: values, Docs: docs, SQL: true,
		}.emit(f)
		f.Comment("Message returns the human-readable message of the error code.")
		f.Func().Params(jen.Id("v").Id("ErrorCode")).Id("Message").Params().String().Block(
			jen.Switch(jen.Id("v")).Block(cases...), jen.Return(jen.Lit("")))
	}
	for _, e := range m.Enums {
		goNames := make([]string, len(e.Values))
		values := make([]string, len(e.Values))
		docs := make([]string, len(e.Values))
		for i, v := range e.Values {
			goNames[i], values[i], docs[i] = v.GoName, v.Value, v.Doc
		}
		doc := e.Name + " is an enumeration of the spec."
		if e.Doc != "" {
			doc = e.Name + ": " + oneLine(e.Doc)
		}
		stringEnum{
			Type: e.Name, Doc: doc, What: e.Name + " value", Field: "", ListFunc: e.Name + "Values",
			ListDoc:   e.Name + "Values returns every value in spec order.",
			ParseFunc: "Parse" + e.Name, GoNames: goNames, Values: values, Docs: docs, SQL: true,
		}.emit(f)
	}
	for _, t := range m.Types {
		doc := t.Name + " is a value type of the spec."
		if t.Doc != "" {
			doc = t.Name + ": " + oneLine(t.Doc)
		}
		g.structType(f, t.Name, doc, nil, t.Fields)
		g.shapeVar(f, t)
	}
	doc := fmt.Sprintf("%s is one task of model %q.", m.Struct, m.Name)
	if m.Doc != "" {
		doc += " " + oneLine(m.Doc)
	}
	g.structType(f, m.Struct, doc, g.builtinFields(), m.Fields, traceparentMembers()...)
	g.traceparentMethods(f)
	g.fireMethod(f)
	g.storeMethods(f)
	g.timeoutMethod(f)
	g.enteredAtMethod(f)
	g.prepareTimeoutMethod(f)
	g.progressMethod(f)
	g.workerDecl(f)
	g.apiDecl(f)
	g.listRowMethod(f)
	f.Comment("RetentionTime returns when the task reached its terminal status (its last")
	f.Comment("change), and false while it is unfinished.")
	f.Func().Params(jen.Id("x").Op("*").Id(m.Struct)).Id("RetentionTime").Params().Params(jen.Qual("time", "Time"), jen.Bool()).Block(
		jen.If(jen.Id("x").Dot("Status").Dot("IsTerminal").Call()).Block(jen.Return(jen.Id("x").Dot("UpdatedAt"), jen.True())),
		jen.Return(jen.Qual("time", "Time").Values(), jen.False()),
	)
	if g.storage {
		g.migrations(f)
	}
}

// timeoutMethod emits TimeoutAt: when the task's current status times out.
func (g *generator) timeoutMethod(f *jen.File) {
	m := g.m
	var cases []jen.Code
	for _, s := range m.Statuses {
		t := s.Timeout
		if t == nil {
			continue
		}
		fd := m.FieldByName(s.EnteredAt)
		if fd == nil { // created_at, a built-in
			cases = append(cases, jen.Case(jen.Id(s.GoName)).Block(jen.Return(jen.Id("x").Dot("CreatedAt").Dot("Add").Call(durationLit(t.After)), jen.True())))
			continue
		}
		cases = append(cases, jen.Case(jen.Id(s.GoName)).Block(
			jen.If(jen.Id("x").Dot(fd.GoName).Op("!=").Nil()).Block(jen.Return(jen.Id("x").Dot(fd.GoName).Dot("Add").Call(durationLit(t.After)), jen.True()))))
	}
	body := []jen.Code{}
	if len(cases) > 0 {
		body = append(body, jen.Switch(jen.Id("x").Dot("Status")).Block(cases...))
	}
	body = append(body, jen.Return(jen.Qual("time", "Time").Values(), jen.False()))
	f.Comment("TimeoutAt returns when the task's current status times out (its entry time")
	f.Comment("plus the spec's after), and false when the status has no timeout.")
	f.Func().Params(jen.Id("x").Op("*").Id(m.Struct)).Id("TimeoutAt").Params().Params(jen.Qual("time", "Time"), jen.Bool()).Block(body...)
}

// enteredAtMethod emits EnteredAt: when the task entered a status, as its
// row tells (metrics read it to time the statuses: sdk/engine.Observer).
func (g *generator) enteredAtMethod(f *jen.File) {
	m := g.m
	var cases []jen.Code
	for _, s := range m.Statuses {
		switch fd := m.FieldByName(s.EnteredAt); {
		case s.EnteredAt == "created_at":
			cases = append(cases, jen.Case(jen.Lit(s.Name)).Block(jen.Return(jen.Id("x").Dot("CreatedAt"), jen.True())))
		case fd != nil:
			cases = append(cases, jen.Case(jen.Lit(s.Name)).Block(
				jen.If(jen.Id("x").Dot(fd.GoName).Op("!=").Nil()).Block(jen.Return(jen.Op("*").Id("x").Dot(fd.GoName), jen.True()))))
		}
	}
	var body []jen.Code
	if len(cases) > 0 {
		body = append(body, jen.Switch(jen.Id("status")).Block(cases...))
	}
	body = append(body,
		jen.If(jen.String().Call(jen.Id("x").Dot("Status")).Op("==").Id("status")).Block(jen.Return(jen.Id("x").Dot("UpdatedAt"), jen.False())),
		jen.Return(jen.Qual("time", "Time").Values(), jen.False()))
	f.Comment("EnteredAt returns when the task entered status, as its row tells. exact is")
	f.Comment("true for the time in the status's entry timestamp (the spec's entered_at),")
	f.Comment("when the spec names one and it is set. Otherwise, while the")
	f.Comment("task is in it, it is updated_at, the task's last change: the entry unless")
	f.Comment("the task changed in the status since (progress), with exact false. Else it")
	f.Comment("is the zero time.")
	f.Func().Params(jen.Id("x").Op("*").Id(m.Struct)).Id("EnteredAt").Params(jen.Id("status").String()).Params(jen.Id("at").Qual("time", "Time"), jen.Id("exact").Bool()).Block(body...)
}

// migrations embeds the schema of each engine and exposes it as migrations.
func (g *generator) migrations(f *jen.File) {
	f.Anon("embed")
	var cases []jen.Code
	for _, e := range Engines {
		suffix := map[Engine]string{PostgreSQL: "PostgreSQL", SQLite: "SQLite", MySQL: "MySQL"}[e]
		var list []jen.Code
		for _, mg := range g.chain[e] {
			f.Comment("//go:embed " + mg.path(e))
			v := "migration" + spec.GoName(mg.name) + suffix
			f.Var().Id(v).String()
			list = append(list, jen.Values(jen.Dict{jen.Id("Name"): jen.Lit(g.m.Name + "/" + mg.name), jen.Id("SQL"): jen.Id(v)}))
		}
		cases = append(cases, jen.Case(jen.Lit(string(e))).Block(jen.Return(jen.Index().Qual(pkgTasktype, "Migration").Values(list...))))
	}
	f.Comment("Migrations returns the schema migrations of the model for an engine,")
	f.Comment("\"postgresql\", \"sqlite\" or \"mysql\" (MySQL and MariaDB), in order; nil for")
	f.Comment("another engine.")
	f.Func().Id("Migrations").Params(jen.Id("engine").String()).Index().Qual(pkgTasktype, "Migration").Block(
		jen.Switch(jen.Id("engine")).Block(cases...), jen.Return(jen.Nil()))
}

// storeMethods emits Key, Init and Touch: what the generic store needs of a
// model besides Fire and Validate.
func (g *generator) storeMethods(f *jen.File) {
	m := g.m
	recv := jen.Id("x").Op("*").Id(m.Struct)
	f.Comment("Key returns the task's id, status and version: what a guarded write compares.")
	f.Func().Params(recv).Id("Key").Params().Qual(pkgTasktype, "Key").Block(
		jen.Return(jen.Qual(pkgTasktype, "Key").Values(jen.Dict{
			jen.Id("ID"): jen.Id("x").Dot("ID"), jen.Id("Status"): jen.String().Parens(jen.Id("x").Dot("Status")), jen.Id("Version"): jen.Id("x").Dot("Version"),
		})))
	body := []jen.Code{
		jen.Id("x").Dot("ID").Op("=").Id("id"),
		jen.Id("x").Dot("Status").Op("=").Id(m.Initial.GoName),
		jen.Id("x").Dot("Version").Op("=").Lit(1),
		jen.List(jen.Id("x").Dot("CreatedAt"), jen.Id("x").Dot("UpdatedAt")).Op("=").List(jen.Id("at"), jen.Id("at")),
	}
	if e := m.Initial.EnteredAt; e != "" && e != "created_at" {
		body = append(body, jen.Id("x").Dot(m.FieldByName(e).GoName).Op("=").Op("&").Id("at"))
	}
	f.Comment(fmt.Sprintf("Init makes x a new task: id, status %s, version 1, created at at.", m.Initial.Name))
	f.Func().Params(recv).Id("Init").Params(jen.Id("id").Qual(pkgUUID, "UUID"), jen.Id("at").Qual("time", "Time")).Block(body...)
	f.Comment("Touch records a change that keeps the status: version + 1, updated_at = at.")
	f.Func().Params(recv).Id("Touch").Params(jen.Id("at").Qual("time", "Time")).Block(
		jen.Id("x").Dot("Version").Op("++"),
		jen.Id("x").Dot("UpdatedAt").Op("=").Id("at"),
	)
}

func lowerFirst(s string) string { return strings.ToLower(s[:1]) + s[1:] }

// builtinFields are the fields every model struct starts with.
func (g *generator) builtinFields() []*spec.Field {
	statusDefault := g.m.Initial.Name
	return []*spec.Field{
		{Name: "id", GoName: "ID", Doc: "ID identifies the task.", Type: &spec.TypeRef{Kind: spec.KindUUID}},
		{Name: "status", GoName: "Status", Doc: "Status is the task's lifecycle status.", Type: &spec.TypeRef{Kind: spec.KindStatus}, HasDefault: true, Default: statusDefault},
		{Name: "version", GoName: "Version", Doc: "Version counts the changes made to the task; storage uses it to detect lost updates.", Type: &spec.TypeRef{Kind: spec.KindInt}, Ge: ptrFloat(0)},
		{Name: "created_at", GoName: "CreatedAt", Doc: "CreatedAt is when the task was created.", Type: &spec.TypeRef{Kind: spec.KindTime}},
		{Name: "updated_at", GoName: "UpdatedAt", Doc: "UpdatedAt is when the task last changed.", Type: &spec.TypeRef{Kind: spec.KindTime}},
	}
}

func ptrFloat(f float64) *float64 { return &f }

// goType returns the Go type of a spec type.
func (g *generator) goType(t *spec.TypeRef) *jen.Statement {
	switch t.Kind {
	case spec.KindString:
		return jen.String()
	case spec.KindInt:
		return jen.Int64()
	case spec.KindFloat:
		return jen.Float64()
	case spec.KindBool:
		return jen.Bool()
	case spec.KindTime:
		return jen.Qual("time", "Time")
	case spec.KindDuration:
		return jen.Qual("time", "Duration")
	case spec.KindUUID:
		return jen.Qual(pkgUUID, "UUID")
	case spec.KindJSON:
		return jen.Qual("encoding/json", "RawMessage")
	case spec.KindList:
		return jen.Index().Add(g.goType(t.Elem))
	case spec.KindStatus:
		return jen.Id("Status")
	case spec.KindErrorCode:
		return jen.Id("ErrorCode")
	case spec.KindEnum:
		return jen.Id(t.Enum.Name)
	case spec.KindType:
		return jen.Id(t.Type.Name)
	}
	panic("unknown kind " + string(t.Kind)) // the loader resolves every type
}

func (g *generator) fieldType(f *spec.Field) *jen.Statement {
	t := g.goType(f.Type)
	// Lists and json are nil-able already; other optional fields are pointers.
	if f.Optional && f.Type.Kind != spec.KindList && f.Type.Kind != spec.KindJSON {
		return jen.Op("*").Add(t)
	}
	return t
}

// oneOf returns the validator oneof list of an enumerated type, or "".
func (g *generator) oneOf(t *spec.TypeRef) string {
	var vals []string
	switch t.Kind {
	case spec.KindStatus:
		vals = g.statusNames()
	case spec.KindErrorCode:
		for _, c := range g.m.ErrorCodes {
			vals = append(vals, c.Name)
		}
	case spec.KindEnum:
		for _, v := range t.Enum.Values {
			vals = append(vals, v.Value)
		}
	default:
		return ""
	}
	return "oneof=" + strings.Join(vals, " ")
}

func num(f float64, kind spec.Kind) string {
	if kind == spec.KindInt || kind == spec.KindDuration {
		return strconv.FormatInt(int64(f), 10)
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

// validateTag mirrors the spec's limits in validator/v10 syntax. owner
// names the struct, for the key of a registered pattern.
func (g *generator) validateTag(owner string, f *spec.Field) string {
	var rules []string
	if f.Optional && f.Type.Kind != spec.KindList && f.Type.Kind != spec.KindJSON {
		rules = append(rules, "omitnil")
	}
	if f.Required && (f.Type.Kind == spec.KindUUID || f.Type.Kind == spec.KindTime) {
		rules = append(rules, "required")
	}
	k := f.Type.Kind
	rules = append(rules, g.valueRules(owner, f)...)
	if k == spec.KindJSON {
		rules = append(rules, "json_text")
	}
	if k == spec.KindList {
		items := f.Elem()
		if one := g.oneOf(f.Type.Elem); one != "" {
			rules = append(rules, "dive", one)
		} else if f.Type.Elem.Kind == spec.KindType {
			rules = append(rules, "dive")
		} else if r := g.valueRules(owner, items); len(r) > 0 {
			rules = append(rules, "dive")
			rules = append(rules, r...)
		}
	} else if one := g.oneOf(f.Type); one != "" {
		rules = append(rules, one)
	}
	if len(rules) == 1 && rules[0] == "omitnil" {
		return ""
	}
	return strings.Join(rules, ",")
}

// valueRules are the rules of one value, a field's or a list element's:
// the text rule and lengths and pattern of a string, a number's bounds, a
// list's item counts (spec.Field.Limits, from which the spec loader's check
// of a default comes too), then the bounds that name another field.
func (g *generator) valueRules(owner string, f *spec.Field) []string {
	var rules []string
	k := f.Type.Kind
	for _, lim := range f.Limits() {
		switch lim.Key {
		case "multiline":
			// Every string is valid text (validation.CheckText): single-line
			// unless the spec says multiline.
			if lim.Multiline {
				rules = append(rules, "text")
			} else {
				rules = append(rules, "line")
			}
		case "min_len", "min_items":
			rules = append(rules, fmt.Sprintf("min=%d", int(lim.N)))
		case "max_len", "max_items":
			rules = append(rules, fmt.Sprintf("max=%d", int(lim.N)))
		case "pattern":
			rules = append(rules, "pattern="+g.patternKey(owner, f))
		case "ge", "gt", "le", "lt":
			tag := map[string]string{"ge": "gte", "gt": "gt", "le": "lte", "lt": "lt"}[lim.Key]
			rules = append(rules, tag+"="+num(lim.N, k))
		}
	}
	for _, key := range []string{"ge", "gt", "le", "lt"} {
		if other := f.Bounds[key]; other != "" {
			rules = append(rules, key+"_field="+other)
		}
	}
	return rules
}

// patternKey names a field's pattern in the validation package's registry:
// <model>.<struct>.<field>, with .items for a list's elements.
func (g *generator) patternKey(owner string, f *spec.Field) string {
	return g.m.Name + "." + owner + "." + strings.ReplaceAll(f.Name, "[]", ".items")
}

// registerPatterns emits the registration of the patterns of a struct's
// fields, which the validate tag pattern=key refers to.
func (g *generator) registerPatterns(f *jen.File, owner string, fields []*spec.Field) {
	var defs []jen.Code
	for _, fd := range fields {
		for _, v := range []*spec.Field{fd, fd.Items} {
			if v == nil || v.Pattern == "" {
				continue
			}
			defs = append(defs, jen.Id("_").Op("=").Qual(pkgValidation, "RegisterPattern").Call(jen.Lit(g.patternKey(owner, v)), jen.Lit(spec.AnchoredPattern(v.Pattern))))
		}
	}
	if len(defs) > 0 {
		f.Comment("The patterns of " + owner + "'s fields, which its validate tags name.")
		f.Var().Defs(defs...)
	}
}

// defaultValue returns the Go expression of a field's default, or nil.
func (g *generator) defaultValue(t *spec.TypeRef, v any) jen.Code {
	switch t.Kind {
	case spec.KindStatus:
		return jen.Id(g.m.StatusByName(v.(string)).GoName)
	case spec.KindErrorCode:
		for _, c := range g.m.ErrorCodes {
			if c.Name == v {
				return jen.Id(c.GoName)
			}
		}
	case spec.KindEnum:
		for _, ev := range t.Enum.Values {
			if ev.Value == v {
				return jen.Id(ev.GoName)
			}
		}
	case spec.KindDuration:
		return durationLit(v.(time.Duration))
	case spec.KindList:
		items := v.([]any)
		vals := make([]jen.Code, len(items))
		for i, it := range items {
			vals[i] = g.defaultValue(t.Elem, it)
		}
		return g.goType(t).Values(vals...)
	case spec.KindFloat:
		return jen.Lit(v.(float64))
	case spec.KindInt:
		return jen.Lit(v.(int64))
	}
	return jen.Lit(v)
}

func isZero(v any) bool {
	switch x := v.(type) {
	case string:
		return x == ""
	case int64:
		return x == 0
	case float64:
		return x == 0
	case bool:
		return !x
	case time.Duration:
		return x == 0
	}
	return false
}

// extra are further members (the model's stored trace context).
func (g *generator) structType(f *jen.File, name, doc string, builtin, fields []*spec.Field, extra ...jen.Code) {
	all := append(append([]*spec.Field(nil), builtin...), fields...)
	members := make([]jen.Code, 0, 2*len(all))
	var keys, required []jen.Code
	defaults := jen.Dict{}
	for _, fd := range all {
		if fd.Doc != "" {
			members = append(members, jen.Comment(oneLine(fd.Doc)))
		}
		tags := map[string]string{"json": fd.Name}
		if v := g.validateTag(name, fd); v != "" {
			tags["validate"] = v
		}
		members = append(members, jen.Id(fd.GoName).Add(g.fieldType(fd)).Tag(tags))
		keys = append(keys, jen.Lit(fd.Name))
		if fd.Required {
			required = append(required, jen.Lit(fd.Name))
		}
		if fd.HasDefault && (fd.Type.Kind == spec.KindList || !isZero(fd.Default)) {
			defaults[jen.Id(fd.GoName)] = g.defaultValue(fd.Type, fd.Default)
		}
	}
	members = append(members, extra...)
	f.Comment(doc)
	f.Type().Id(name).Struct(members...)
	g.registerPatterns(f, name, fields)

	f.Comment(fmt.Sprintf("New%s returns a %s holding the spec's defaults.", name, name))
	f.Func().Id("New" + name).Params().Op("*").Id(name).Block(jen.Return(jen.Op("&").Id(name).Values(defaults)))

	f.Comment("Validate checks every limit the spec sets. The error is a")
	f.Comment("*tasktype.ValidationError naming each failing field by its JSON path.")
	f.Func().Params(jen.Id("x").Op("*").Id(name)).Id("Validate").Params().Error().Block(
		jen.Return(jen.Qual(pkgValidation, "Struct").Call(jen.Id("x"))))

	keysVar := lowerFirst(name) + "Keys"
	reqVar := lowerFirst(name) + "Required"
	reqDef := jen.Id(reqVar).Index().String()
	if len(required) > 0 {
		reqDef = jen.Id(reqVar).Op("=").Index().String().Values(required...)
	}
	f.Var().Defs(jen.Id(keysVar).Op("=").Index().String().Values(keys...), reqDef)
	f.Comment("UnmarshalJSON decodes strictly: unknown fields and missing required fields")
	f.Comment("are errors, and fields the input omits keep the spec's defaults.")
	f.Func().Params(jen.Id("x").Op("*").Id(name)).Id("UnmarshalJSON").Params(jen.Id("data").Index().Byte()).Error().Block(
		jen.Type().Id("plain").Id(name),
		jen.Id("v").Op(":=").Id("plain").Parens(jen.Op("*").Id("New"+name).Call()),
		jen.If(jen.Err().Op(":=").Qual(pkgValidation, "DecodeStrict").Call(jen.Id("data"), jen.Op("&").Id("v"), jen.Id(keysVar), jen.Id(reqVar)), jen.Err().Op("!=").Nil()).Block(
			jen.Return(jen.Err())),
		jen.Op("*").Id("x").Op("=").Id(name).Parens(jen.Id("v")),
		jen.Return(jen.Nil()),
	)
}

// fireMethod emits (x *Model) Fire(ev, at): the one way to move a task in
// memory that keeps status, entry timestamps, UpdatedAt and Version coherent.
func (g *generator) fireMethod(f *jen.File) {
	m := g.m
	recv := jen.Id("x").Op("*").Id(m.Struct)
	var reqCases []jen.Code
	for _, e := range m.Events {
		var missing []jen.Code // the condition under which each checked field is missing
		var errs []jen.Code    // its error
		for _, r := range e.Requires {
			cond := g.missing(r)
			if cond == nil {
				continue
			}
			missing = append(missing, cond)
			errs = append(errs, jen.Op("&").Qual(pkgTasktype, "FieldError").Values(jen.Dict{
				jen.Id("Field"): jen.Lit(r.Name), jen.Id("Rule"): jen.Lit("required"),
				jen.Id("Message"): jen.Lit(fmt.Sprintf("is required by event %q", e.Name)),
			}))
		}
		switch len(missing) {
		case 0:
		case 1:
			reqCases = append(reqCases, jen.Case(jen.Id(e.GoName)).Block(jen.If(missing[0]).Block(jen.Return(errs[0]))))
		default:
			// Every missing field is named: one *tasktype.FieldError alone,
			// several in a *tasktype.ValidationError.
			checks := []jen.Code{jen.Var().Id("missing").Index().Op("*").Qual(pkgTasktype, "FieldError")}
			for i := range missing {
				checks = append(checks, jen.If(missing[i]).Block(jen.Id("missing").Op("=").Append(jen.Id("missing"), errs[i])))
			}
			checks = append(checks,
				jen.If(jen.Len(jen.Id("missing")).Op("==").Lit(1)).Block(jen.Return(jen.Id("missing").Index(jen.Lit(0)))),
				jen.If(jen.Len(jen.Id("missing")).Op(">").Lit(1)).Block(jen.Return(jen.Op("&").Qual(pkgTasktype, "ValidationError").Values(jen.Dict{
					jen.Id("Fields"): jen.Id("missing"),
				}))),
			)
			reqCases = append(reqCases, jen.Case(jen.Id(e.GoName)).Block(checks...))
		}
	}
	var setCases []jen.Code
	for _, s := range m.Statuses {
		if s.EnteredAt == "" || s.EnteredAt == "created_at" {
			continue
		}
		fd := m.FieldByName(s.EnteredAt)
		setCases = append(setCases, jen.Case(jen.Id(s.GoName)).Block(jen.Id("x").Dot(fd.GoName).Op("=").Op("&").Id("at")))
	}
	body := []jen.Code{
		jen.List(jen.Id("to"), jen.Err()).Op(":=").Id("Fire").Call(jen.Id("x").Dot("Status"), jen.Id("ev")),
		jen.If(jen.Err().Op("!=").Nil()).Block(jen.Return(jen.Err())),
	}
	if len(reqCases) > 0 {
		body = append(body, jen.Switch(jen.Id("ev")).Block(reqCases...))
	}
	body = append(body, jen.Id("x").Dot("Status").Op("=").Id("to"))
	if len(setCases) > 0 {
		body = append(body, jen.Switch(jen.Id("to")).Block(setCases...))
	}
	if pf := m.ProgressField; pf != nil {
		body = append(body, jen.If(jen.List(jen.Id("p"), jen.Id("ok")).Op(":=").Id("to").Dot("Progress").Call(jen.Lit(0)), jen.Id("ok")).Block(
			jen.Id("x").Dot(pf.GoName).Op("=").Int64().Call(jen.Id("p"))))
	}
	body = append(body,
		jen.Id("x").Dot("UpdatedAt").Op("=").Id("at"),
		jen.Id("x").Dot("Version").Op("++"),
		jen.Return(jen.Nil()),
	)
	f.Comment("Fire moves the task with event ev at time at. It checks the move against the")
	f.Comment("lifecycle (a *TransitionError when it is not allowed) and that the fields ev")
	f.Comment("requires are set (a *tasktype.FieldError naming the missing field, or a")
	f.Comment("*tasktype.ValidationError holding one for each when several are missing),")
	f.Comment("then sets Status, the new status's entry timestamp, its progress (where the")
	f.Comment("spec maps one) and UpdatedAt, and increments Version. On error x is unchanged.")
	f.Func().Params(recv).Id("Fire").Params(jen.Id("ev").Id("Event"), jen.Id("at").Qual("time", "Time")).Error().Block(body...)
}

// missing returns the condition under which a required field counts as not
// set, or nil when the field's zero value is a legitimate value (numbers, bools).
func (g *generator) missing(f *spec.Field) jen.Code {
	x := jen.Id("x").Dot(f.GoName)
	switch {
	case f.Type.Kind == spec.KindList || f.Type.Kind == spec.KindJSON:
		return jen.Len(x).Op("==").Lit(0)
	case f.Optional:
		return x.Op("==").Nil()
	case f.Type.Kind == spec.KindString || f.Type.Kind == spec.KindStatus || f.Type.Kind == spec.KindErrorCode || f.Type.Kind == spec.KindEnum:
		return x.Op("==").Lit("")
	case f.Type.Kind == spec.KindUUID:
		return x.Op("==").Qual(pkgUUID, "Nil")
	case f.Type.Kind == spec.KindTime:
		return x.Dot("IsZero").Call()
	}
	return nil
}

// prepareTimeoutMethod emits PrepareTimeout: the event a timed-out task
// fires, with the fields that event requires filled in (an ErrorCode field
// from the timeout's error code, a string field with the timeout message).
func (g *generator) prepareTimeoutMethod(f *jen.File) {
	m := g.m
	var cases []jen.Code
	for _, s := range m.Statuses {
		t := s.Timeout
		if t == nil || t.Event == nil {
			continue
		}
		msg := fmt.Sprintf("timed out after %s in %s", durationText(t.After), s.Name)
		if t.ErrorCode != nil {
			msg = t.ErrorCode.Message
		}
		body := []jen.Code{}
		for _, r := range t.Event.Requires {
			switch {
			case r.Type.Kind == spec.KindErrorCode && t.ErrorCode != nil:
				v := jen.Id(t.ErrorCode.GoName)
				if r.Optional {
					body = append(body, jen.Id("code").Op(":=").Add(v), jen.Id("x").Dot(r.GoName).Op("=").Op("&").Id("code"))
				} else {
					body = append(body, jen.Id("x").Dot(r.GoName).Op("=").Add(v))
				}
			case r.Type.Kind == spec.KindString:
				if r.Optional {
					body = append(body, jen.Id("msg").Op(":=").Lit(msg), jen.Id("x").Dot(r.GoName).Op("=").Op("&").Id("msg"))
				} else {
					body = append(body, jen.Id("x").Dot(r.GoName).Op("=").Lit(msg))
				}
			}
		}
		body = append(body, jen.Return(jen.Id(t.Event.GoName), jen.True()))
		cases = append(cases, jen.Case(jen.Id(s.GoName)).Block(body...))
	}
	fb := []jen.Code{}
	if len(cases) > 0 {
		fb = append(fb, jen.Switch(jen.Id("x").Dot("Status")).Block(cases...))
	}
	fb = append(fb, jen.Return(jen.Lit(""), jen.False()))
	f.Comment("PrepareTimeout returns the event a task fires when its status times out and")
	f.Comment("fills the fields that event requires: an ErrorCode field with the timeout's")
	f.Comment("error code, a string field with its message. ok is false when the status")
	f.Comment("has no timeout.")
	f.Func().Params(jen.Id("x").Op("*").Id(m.Struct)).Id("PrepareTimeout").Params().Params(jen.Id("Event"), jen.Bool()).Block(fb...)
}
