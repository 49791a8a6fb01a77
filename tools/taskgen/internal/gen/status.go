package gen

import (
	"fmt"
	"strings"

	"github.com/dave/jennifer/jen"

	"github.com/taskmodel/taskmodel/tools/taskgen/internal/spec"
)

func (g *generator) docFile(f *jen.File) {
	doc := strings.TrimSpace(g.m.Doc)
	lines := []string{fmt.Sprintf("Package %s is the generated task model %q.", g.pkg, g.m.Name)}
	if doc != "" {
		lines = append(lines, "", doc)
	}
	lines = append(lines, "",
		fmt.Sprintf("A %s moves through the statuses of Statuses(), starting at %s; events", g.m.Struct, g.m.Initial.GoName),
		"(Events()) move it, and Fire and CanTransition check every move against the",
		"transition table derived from the spec. README.md beside this file is the",
		"review document: state diagram, transition matrix, fields and limits.",
	)
	f.PackageComment(strings.Join(lines, "\n"))
	f.Comment("ModelName is the model's name in the spec: its SQL table base and task type.")
	f.Const().Id("ModelName").Op("=").Lit(g.m.Name)
}

func (g *generator) statusFile(f *jen.File) {
	m := g.m
	n := len(m.Statuses)
	goNames := make([]string, n)
	docs := make([]string, n)
	for i, s := range m.Statuses {
		goNames[i], docs[i] = s.GoName, s.Doc
	}
	stringEnum{
		Type: "Status", Doc: fmt.Sprintf("Status is the lifecycle status of a %s.", m.Struct),
		What: "status", Field: "status", ListFunc: "Statuses", ListVarName: "statuses",
		ListDoc:   "Statuses returns every status in spec order.",
		ParseFunc: "ParseStatus", GoNames: goNames, Values: g.statusNames(), Docs: docs, SQL: true, Recv: "s",
	}.emit(f)

	f.Comment(fmt.Sprintf("Initial returns the status a new %s starts in: %s.", m.Struct, m.Initial.Name))
	f.Func().Id("Initial").Params().Id("Status").Block(jen.Return(jen.Id(m.Initial.GoName)))
	f.Comment("IsInitial reports whether s is the initial status.")
	f.Func().Params(jen.Id("s").Id("Status")).Id("IsInitial").Params().Bool().Block(jen.Return(jen.Id("s").Op("==").Id(m.Initial.GoName)))

	// Boolean tables: terminal and one per set.
	boolTable := func(name string, member func(*spec.Status) bool) {
		vals := jen.Dict{}
		for _, s := range m.Statuses {
			if member(s) {
				vals[jen.Lit(s.Index)] = jen.True()
			}
		}
		f.Var().Id(name).Op("=").Index(jen.Lit(n)).Bool().Values(vals)
	}
	terminal := m.TerminalStatuses()
	boolTable("terminalTable", func(s *spec.Status) bool { return s.Terminal })
	f.Comment(fmt.Sprintf("IsTerminal reports whether s is terminal (%s): no event leaves it.", orNone(terminal)))
	f.Func().Params(jen.Id("s").Id("Status")).Id("IsTerminal").Params().Bool().Block(atIndex("terminalTable"))
	for _, set := range m.Sets {
		table := "set" + set.GoName
		boolTable(table, set.Has)
		members := make([]string, len(set.Statuses))
		ids := make([]jen.Code, len(set.Statuses))
		for i, s := range set.Statuses {
			members[i] = s.Name
			ids[i] = jen.Id(s.GoName)
		}
		desc := fmt.Sprintf("the set %q (%s)", set.Name, orNone(members))
		if set.Doc != "" {
			desc += ". " + oneLine(set.Doc)
		}
		f.Comment(fmt.Sprintf("Is%s reports whether s is in %s", set.GoName, desc))
		f.Func().Params(jen.Id("s").Id("Status")).Id("Is" + set.GoName).Params().Bool().Block(atIndex(table))
		f.Comment(fmt.Sprintf("%sStatuses returns the members of the set %q in spec order.", set.GoName, set.Name))
		f.Func().Id(set.GoName + "Statuses").Params().Index().Id("Status").Block(jen.Return(jen.Index().Id("Status").Values(ids...)))
	}

	// Unified short codes.
	codeConst := map[string]string{"Q": "CodeQueued", "R": "CodeRunning", "D": "CodeDone", "F": "CodeFailed", "C": "CodeCancelled"}
	if m.HasCodes {
		vals := make([]jen.Code, n)
		for i, s := range m.Statuses {
			vals[i] = jen.Qual(pkgTasktype, codeConst[s.Code])
		}
		f.Var().Id("codeTable").Op("=").Index(jen.Lit(n)).Qual(pkgTasktype, "Code").Values(vals...)
		f.Comment("Code returns the unified short code of s (Q, R, D, F or C), or \"\" for an undeclared status.")
		f.Func().Params(jen.Id("s").Id("Status")).Id("Code").Params().Qual(pkgTasktype, "Code").Block(atIndex("codeTable"))
		var cases []jen.Code
		for _, c := range []string{"Q", "R", "D", "F", "C"} {
			var ids []jen.Code
			for _, s := range m.Statuses {
				if s.Code == c {
					ids = append(ids, jen.Id(s.GoName))
				}
			}
			if len(ids) > 0 {
				cases = append(cases, jen.Case(jen.Qual(pkgTasktype, codeConst[c])).Block(jen.Return(jen.Index().Id("Status").Values(ids...))))
			}
		}
		f.Comment("StatusesWithCode returns the statuses whose unified short code is c, in spec order.")
		f.Func().Id("StatusesWithCode").Params(jen.Id("c").Qual(pkgTasktype, "Code")).Index().Id("Status").Block(
			jen.Switch(jen.Id("c")).Block(cases...), jen.Return(jen.Nil()))
	} else {
		f.Comment("Code returns \"\": this model's spec gives its statuses no unified short codes.")
		f.Func().Params(jen.Id("s").Id("Status")).Id("Code").Params().Qual(pkgTasktype, "Code").Block(jen.Return(jen.Lit("")))
		f.Comment("StatusesWithCode returns nil: this model's spec gives its statuses no unified short codes.")
		f.Func().Id("StatusesWithCode").Params(jen.Id("c").Qual(pkgTasktype, "Code")).Index().Id("Status").Block(jen.Return(jen.Nil()))
	}

	// Progress.
	var pcases []jen.Code
	for _, s := range m.Statuses {
		switch p := s.Progress; {
		case p == nil:
		case p.Fixed:
			pcases = append(pcases, jen.Case(jen.Id(s.GoName)).Block(jen.Return(jen.Lit(p.Percent), jen.True())))
		default:
			pcases = append(pcases, jen.Case(jen.Id(s.GoName)).Block(jen.Return(
				jen.Qual(pkgTasktype, "FillRange").Call(jen.Lit(p.From), jen.Lit(p.To), jen.Id("done")), jen.True())))
		}
	}
	f.Comment("Progress returns the percent a task in status s reports, given the fraction")
	f.Comment("of its work done (0 to 1). ok is false when the spec maps s to no progress:")
	f.Comment("the task's stored progress stands.")
	body := []jen.Code{}
	if len(pcases) > 0 {
		body = append(body, jen.Switch(jen.Id("s")).Block(pcases...))
	}
	body = append(body, jen.Return(jen.Lit(0), jen.False()))
	f.Func().Params(jen.Id("s").Id("Status")).Id("Progress").Params(jen.Id("done").Float64()).Params(jen.Id("percent").Int(), jen.Id("ok").Bool()).Block(body...)

	// Display.
	dvals := jen.Dict{}
	for _, s := range m.Statuses {
		d := s.Display
		if d == nil {
			continue
		}
		fields := jen.Dict{}
		for k, v := range map[string]string{"Label": d.Label, "Color": d.Color, "Icon": d.Icon, "Message": d.Message} {
			if v != "" {
				fields[jen.Id(k)] = jen.Lit(v)
			}
		}
		if d.Poll > 0 {
			fields[jen.Id("PollInterval")] = durationLit(d.Poll)
		}
		dvals[jen.Lit(s.Index)] = jen.Values(fields)
	}
	f.Var().Id("displayTable").Op("=").Index(jen.Lit(n)).Qual(pkgTasktype, "Display").Values(dvals)
	f.Comment("Display returns what a user interface shows for s: label, color, icon,")
	f.Comment("message and poll interval. It is the zero Display where the spec gives none.")
	f.Func().Params(jen.Id("s").Id("Status")).Id("Display").Params().Qual(pkgTasktype, "Display").Block(atIndex("displayTable"))

	// Entry timestamps.
	evals := jen.Dict{}
	for _, s := range m.Statuses {
		if s.EnteredAt != "" {
			evals[jen.Lit(s.Index)] = jen.Lit(s.EnteredAt)
		}
	}
	f.Var().Id("enteredAtTable").Op("=").Index(jen.Lit(n)).String().Values(evals)
	f.Comment("EnteredAtField returns the name of the time field set when a task enters s,")
	f.Comment("or \"\" when the spec names none.")
	f.Func().Params(jen.Id("s").Id("Status")).Id("EnteredAtField").Params().String().Block(atIndex("enteredAtTable"))

	// Timeouts.
	hasCodes := len(m.ErrorCodes) > 0
	tfields := []jen.Code{
		jen.Comment("Status is the status the task stayed in for too long."),
		jen.Id("Status").Id("Status"),
		jen.Comment("After is how long a task may stay in Status, counted from EnteredAtField."),
		jen.Id("After").Qual("time", "Duration"),
		jen.Comment("EnteredAtField names the time field the clock starts at."),
		jen.Id("EnteredAtField").String(),
		jen.Comment("Event is the event fired when the time is up; To is where it leads."),
		jen.Id("Event").Id("Event"),
		jen.Id("To").Id("Status"),
	}
	if hasCodes {
		tfields = append(tfields, jen.Comment("ErrorCode is recorded with the move, when the spec gives one."), jen.Id("ErrorCode").Id("ErrorCode"))
	}
	f.Comment("Timeout moves a task that stayed too long in a status.")
	f.Type().Id("Timeout").Struct(tfields...)
	var tvals []jen.Code
	tindex := jen.Dict{}
	for _, s := range m.Statuses {
		t := s.Timeout
		if t == nil || t.Event == nil {
			continue
		}
		d := jen.Dict{
			jen.Id("Status"): jen.Id(s.GoName), jen.Id("After"): durationLit(t.After),
			jen.Id("EnteredAtField"): jen.Lit(s.EnteredAt), jen.Id("Event"): jen.Id(t.Event.GoName), jen.Id("To"): jen.Id(t.To.GoName),
		}
		if t.ErrorCode != nil {
			d[jen.Id("ErrorCode")] = jen.Id(t.ErrorCode.GoName)
		}
		tindex[jen.Lit(s.Index)] = jen.Lit(len(tvals) + 1)
		tvals = append(tvals, jen.Values(d))
	}
	f.Var().Id("timeouts").Op("=").Index(jen.Op("...")).Id("Timeout").Values(tvals...)
	f.Comment("timeoutIndex[status index] is the 1-based index into timeouts, 0 for none.")
	f.Var().Id("timeoutIndex").Op("=").Index(jen.Lit(n)).Uint8().Values(tindex)
	f.Comment("Timeouts returns the spec's timeouts in status order.")
	f.Func().Id("Timeouts").Params().Index().Id("Timeout").Block(
		jen.Return(jen.Append(jen.Index().Id("Timeout").Parens(jen.Nil()), jen.Id("timeouts").Index(jen.Empty(), jen.Empty()).Op("..."))))
	f.Comment("Timeout returns the timeout of s, if the spec gives it one.")
	f.Func().Params(jen.Id("s").Id("Status")).Id("Timeout").Params().Params(jen.Id("Timeout"), jen.Bool()).Block(
		jen.Id("i").Op(":=").Id("s").Dot("index").Call(),
		jen.If(jen.Id("i").Op("<").Lit(0).Op("||").Id("timeoutIndex").Index(jen.Id("i")).Op("==").Lit(0)).Block(
			jen.Return(jen.Id("Timeout").Values(), jen.False())),
		jen.Return(jen.Id("timeouts").Index(jen.Id("timeoutIndex").Index(jen.Id("i")).Op("-").Lit(1)), jen.True()),
	)
}

// atIndex is the body of a method that looks s up in a per-status table:
// the table's entry, or its zero value for an undeclared status.
func atIndex(table string) jen.Code {
	return jen.Return(jen.Qual(pkgEnum, "At").Call(jen.Id(table).Index(jen.Empty(), jen.Empty()), jen.Id("s").Dot("index").Call()))
}

func orNone(items []string) string {
	if len(items) == 0 {
		return "none"
	}
	return strings.Join(items, ", ")
}

// durationLit writes a duration the way a person would: 15 * time.Minute.
func durationLit(d interface{ Nanoseconds() int64 }) jen.Code {
	ns := d.Nanoseconds()
	for _, u := range []struct {
		name string
		ns   int64
	}{{"Hour", 3600e9}, {"Minute", 60e9}, {"Second", 1e9}, {"Millisecond", 1e6}, {"Microsecond", 1e3}} {
		if ns != 0 && ns%u.ns == 0 {
			if ns == u.ns {
				return jen.Qual("time", u.name)
			}
			return jen.Lit(int(ns/u.ns)).Op("*").Qual("time", u.name)
		}
	}
	return jen.Qual("time", "Duration").Parens(jen.Lit(ns))
}
