package gen

import (
	"fmt"
	"strings"

	"github.com/dave/jennifer/jen"
)

func (g *generator) eventFile(f *jen.File) {
	m := g.m
	ns, ne := len(m.Statuses), len(m.Events)
	goNames := make([]string, ne)
	docs := make([]string, ne)
	for i, e := range m.Events {
		goNames[i] = e.GoName
		from := make([]string, len(e.From))
		for j, s := range e.From {
			from[j] = s.Name
		}
		docs[i] = fmt.Sprintf("%s → %s.", strings.Join(from, ", "), e.To.Name)
		if e.Doc != "" {
			docs[i] += " " + oneLine(e.Doc)
		}
	}
	stringEnum{
		Type: "Event", Doc: fmt.Sprintf("Event is something that happens to a %s and moves it to another status.", m.Struct),
		What: "event", Field: "event", ListFunc: "Events", ListVarName: "events",
		ListDoc:   "Events returns every event in spec order.",
		ParseFunc: "ParseEvent", GoNames: goNames, Values: g.eventNames(), Docs: docs, Recv: "ev", SQL: true,
	}.emit(f)

	// fireTable[from][event] is the 1-based index of the target status.
	elem := jen.Uint8()
	if ns >= 255 {
		elem = jen.Uint16()
	}
	rows := jen.Dict{}
	for i, s := range m.Statuses {
		cells := make([]jen.Code, ne)
		for j, e := range m.Events {
			if e.Leaves(s) {
				cells[j] = jen.Lit(e.To.Index + 1)
			} else {
				cells[j] = jen.Lit(0)
			}
		}
		rows[jen.Lit(i)] = jen.Values(cells...)
	}
	f.Comment("fireTable[from][event] is the 1-based index of the status the event leads to, 0 where it may not fire.")
	f.Var().Id("fireTable").Op("=").Index(jen.Lit(ns)).Index(jen.Lit(ne)).Add(elem).Values(rows)
	moveRows := jen.Dict{}
	for i, s := range m.Statuses {
		d := jen.Dict{}
		for _, t := range m.Statuses {
			if m.CanTransition(s, t) {
				d[jen.Lit(t.Index)] = jen.True()
			}
		}
		moveRows[jen.Lit(i)] = jen.Values(d)
	}
	f.Comment("moveTable[from][to] is the transition matrix the events derive.")
	f.Var().Id("moveTable").Op("=").Index(jen.Lit(ns)).Index(jen.Lit(ns)).Bool().Values(moveRows)

	f.Comment("Fire returns the status event ev leads to from status from. When ev may not")
	f.Comment("fire from there (or either is undeclared) it returns from unchanged and a")
	f.Comment("*TransitionError listing the events allowed from there. It does not allocate")
	f.Comment("on success.")
	f.Func().Id("Fire").Params(jen.Id("from").Id("Status"), jen.Id("ev").Id("Event")).Params(jen.Id("Status"), jen.Error()).Block(
		jen.List(jen.Id("i"), jen.Id("j")).Op(":=").List(jen.Id("from").Dot("index").Call(), jen.Id("ev").Dot("index").Call()),
		jen.If(jen.Id("i").Op(">=").Lit(0).Op("&&").Id("j").Op(">=").Lit(0)).Block(
			jen.If(jen.Id("t").Op(":=").Id("fireTable").Index(jen.Id("i")).Index(jen.Id("j")), jen.Id("t").Op("!=").Lit(0)).Block(
				jen.Return(jen.Id("statuses").Index(jen.Id("t").Op("-").Lit(1)), jen.Nil()),
			),
		),
		jen.Return(jen.Id("from"), jen.Op("&").Id("TransitionError").Values(jen.Dict{
			jen.Id("From"): jen.Id("from"), jen.Id("Event"): jen.Id("ev"), jen.Id("Allowed"): jen.Id("AllowedEvents").Call(jen.Id("from")),
		})),
	)
	f.Comment("CanTransition reports whether some event moves a task from from to to.")
	f.Func().Id("CanTransition").Params(jen.List(jen.Id("from"), jen.Id("to")).Id("Status")).Bool().Block(
		jen.List(jen.Id("i"), jen.Id("j")).Op(":=").List(jen.Id("from").Dot("index").Call(), jen.Id("to").Dot("index").Call()),
		jen.Return(jen.Id("i").Op(">=").Lit(0).Op("&&").Id("j").Op(">=").Lit(0).Op("&&").Id("moveTable").Index(jen.Id("i")).Index(jen.Id("j"))),
	)
	f.Comment("Transition returns the first event (in spec order) that moves a task from")
	f.Comment("from to to, or a *TransitionError when none does.")
	f.Func().Id("Transition").Params(jen.List(jen.Id("from"), jen.Id("to")).Id("Status")).Params(jen.Id("Event"), jen.Error()).Block(
		jen.If(jen.Id("i").Op(":=").Id("from").Dot("index").Call(), jen.Id("i").Op(">=").Lit(0).Op("&&").Id("to").Dot("Valid").Call()).Block(
			jen.For(jen.List(jen.Id("j"), jen.Id("t")).Op(":=").Range().Id("fireTable").Index(jen.Id("i"))).Block(
				jen.If(jen.Id("t").Op("!=").Lit(0).Op("&&").Id("statuses").Index(jen.Id("t").Op("-").Lit(1)).Op("==").Id("to")).Block(
					jen.Return(jen.Id("events").Index(jen.Id("j")), jen.Nil()),
				),
			),
		),
		jen.Return(jen.Lit(""), jen.Op("&").Id("TransitionError").Values(jen.Dict{
			jen.Id("From"): jen.Id("from"), jen.Id("To"): jen.Id("to"), jen.Id("Allowed"): jen.Id("AllowedEvents").Call(jen.Id("from")),
		})),
	)
	f.Comment("AllowedEvents returns the events that may fire from status from, in spec order.")
	f.Func().Id("AllowedEvents").Params(jen.Id("from").Id("Status")).Index().Id("Event").Block(
		jen.Id("i").Op(":=").Id("from").Dot("index").Call(),
		jen.If(jen.Id("i").Op("<").Lit(0)).Block(jen.Return(jen.Nil())),
		jen.Var().Id("out").Index().Id("Event"),
		jen.For(jen.List(jen.Id("j"), jen.Id("t")).Op(":=").Range().Id("fireTable").Index(jen.Id("i"))).Block(
			jen.If(jen.Id("t").Op("!=").Lit(0)).Block(jen.Id("out").Op("=").Append(jen.Id("out"), jen.Id("events").Index(jen.Id("j")))),
		),
		jen.Return(jen.Id("out")),
	)

	// Per-event metadata: tables indexed like events.
	targets := make([]jen.Code, 0, ne)
	sources := make([]jen.Code, 0, ne)
	reqCases := []jen.Code{}
	for _, e := range m.Events {
		targets = append(targets, jen.Id(e.To.GoName))
		from := make([]jen.Code, len(e.From))
		for i, s := range e.From {
			from[i] = jen.Id(s.GoName)
		}
		sources = append(sources, jen.Values(from...))
		if len(e.Requires) > 0 {
			names := make([]jen.Code, len(e.Requires))
			for i, r := range e.Requires {
				names[i] = jen.Lit(r.Name)
			}
			reqCases = append(reqCases, jen.Case(jen.Id(e.GoName)).Block(jen.Return(jen.Index().String().Values(names...))))
		}
	}
	f.Var().Id("targetTable").Op("=").Index(jen.Lit(ne)).Id("Status").Values(targets...)
	f.Comment("Target returns the status ev leads to, or \"\" for an undeclared event.")
	f.Func().Params(jen.Id("ev").Id("Event")).Id("Target").Params().Id("Status").Block(
		jen.Return(jen.Qual(pkgEnum, "At").Call(jen.Id("targetTable").Index(jen.Empty(), jen.Empty()), jen.Id("ev").Dot("index").Call())))
	f.Var().Id("sourcesTable").Op("=").Index(jen.Lit(ne)).Index().Id("Status").Values(sources...)
	f.Comment("Sources returns the statuses ev may fire from, in spec order, in a new slice.")
	f.Func().Params(jen.Id("ev").Id("Event")).Id("Sources").Params().Index().Id("Status").Block(
		jen.Return(jen.Qual("slices", "Clone").Call(jen.Qual(pkgEnum, "At").Call(jen.Id("sourcesTable").Index(jen.Empty(), jen.Empty()), jen.Id("ev").Dot("index").Call()))))
	f.Comment("RequiredFields returns the names of the fields a caller must supply with ev.")
	reqBody := []jen.Code{}
	if len(reqCases) > 0 {
		reqBody = append(reqBody, jen.Switch(jen.Id("ev")).Block(reqCases...))
	}
	reqBody = append(reqBody, jen.Return(jen.Nil()))
	f.Func().Params(jen.Id("ev").Id("Event")).Id("RequiredFields").Params().Index().String().Block(reqBody...)

	// TransitionError.
	f.Comment("TransitionError reports a move the lifecycle does not allow. It matches")
	f.Comment("tasktype.ErrTransitionNotAllowed with errors.Is.")
	f.Type().Id("TransitionError").Struct(
		jen.Comment("From is the task's status."),
		jen.Id("From").Id("Status"),
		jen.Comment("Event is the event that was fired, or \"\" when a target status was asked for."),
		jen.Id("Event").Id("Event"),
		jen.Comment("To is the target status that was asked for, or \"\" when an event was fired."),
		jen.Id("To").Id("Status"),
		jen.Comment("Allowed lists the events that may fire from From."),
		jen.Id("Allowed").Index().Id("Event"),
	)
	f.Func().Params(jen.Id("e").Op("*").Id("TransitionError")).Id("Error").Params().String().Block(
		jen.Var().Id("b").Qual("strings", "Builder"),
		jen.Switch().Block(
			jen.Case(jen.Op("!").Id("e").Dot("From").Dot("Valid").Call()).Block(
				jen.Qual("fmt", "Fprintf").Call(jen.Op("&").Id("b"), jen.Lit("unknown status %q; statuses are "+strings.Join(g.statusNames(), ", ")), jen.Id("e").Dot("From")),
				jen.Return(jen.Id("b").Dot("String").Call()),
			),
			jen.Case(jen.Id("e").Dot("Event").Op("!=").Lit("").Op("&&").Op("!").Id("e").Dot("Event").Dot("Valid").Call()).Block(
				jen.Qual("fmt", "Fprintf").Call(jen.Op("&").Id("b"), jen.Lit("unknown event %q for a task in status %s"), jen.Id("e").Dot("Event"), jen.Id("e").Dot("From")),
			),
			jen.Case(jen.Id("e").Dot("Event").Op("!=").Lit("")).Block(
				jen.Qual("fmt", "Fprintf").Call(jen.Op("&").Id("b"), jen.Lit("event %q is not allowed from status %s"), jen.Id("e").Dot("Event"), jen.Id("e").Dot("From")),
			),
			jen.Default().Block(
				jen.Qual("fmt", "Fprintf").Call(jen.Op("&").Id("b"), jen.Lit("no event moves a task from status %s to %q"), jen.Id("e").Dot("From"), jen.Id("e").Dot("To")),
			),
		),
		jen.If(jen.Id("e").Dot("From").Dot("IsTerminal").Call()).Block(
			jen.Id("b").Dot("WriteString").Call(jen.Lit("; it is terminal, no event is allowed")),
		).Else().If(jen.Len(jen.Id("e").Dot("Allowed")).Op(">").Lit(0)).Block(
			jen.Id("b").Dot("WriteString").Call(jen.Lit("; allowed: ")),
			jen.For(jen.List(jen.Id("i"), jen.Id("a")).Op(":=").Range().Id("e").Dot("Allowed")).Block(
				jen.If(jen.Id("i").Op(">").Lit(0)).Block(jen.Id("b").Dot("WriteString").Call(jen.Lit(", "))),
				jen.Id("b").Dot("WriteString").Call(jen.String().Parens(jen.Id("a"))),
			),
		),
		jen.Return(jen.Id("b").Dot("String").Call()),
	)
	f.Comment("Is makes errors.Is(err, tasktype.ErrTransitionNotAllowed) true.")
	f.Func().Params(jen.Id("e").Op("*").Id("TransitionError")).Id("Is").Params(jen.Id("target").Error()).Bool().Block(
		jen.Return(jen.Id("target").Op("==").Qual(pkgTasktype, "ErrTransitionNotAllowed")))
	f.Comment("Transition returns the move as model-independent names, for callers that")
	f.Comment("handle every model alike (an HTTP 409 lists the allowed events).")
	f.Func().Params(jen.Id("e").Op("*").Id("TransitionError")).Id("Transition").Params().Qual(pkgTasktype, "TransitionInfo").Block(
		jen.Id("t").Op(":=").Qual(pkgTasktype, "TransitionInfo").Values(jen.Dict{
			jen.Id("From"):  jen.String().Call(jen.Id("e").Dot("From")),
			jen.Id("Event"): jen.String().Call(jen.Id("e").Dot("Event")),
			jen.Id("To"):    jen.String().Call(jen.Id("e").Dot("To")),
		}),
		jen.For(jen.List(jen.Id("_"), jen.Id("ev")).Op(":=").Range().Id("e").Dot("Allowed")).Block(
			jen.Id("t").Dot("Allowed").Op("=").Append(jen.Id("t").Dot("Allowed"), jen.String().Call(jen.Id("ev")))),
		jen.Return(jen.Id("t")),
	)
}
