package gen

import (
	"github.com/dave/jennifer/jen"
)

// lifecycleFile emits lifecycle.go: Lifecycle returns the model's lifecycle
// as a tasktype.Lifecycle, the data tools read instead of the generated
// methods (the dashboard's model page). The type and its helpers are
// tasktype's; this file only fills in the spec's values. The review
// document is README.md, embedded.
func (g *generator) lifecycleFile(f *jen.File) {
	m := g.m
	f.Anon("embed")
	f.Comment("review is the model's review document, README.md.")
	f.Comment("")
	f.Comment("//go:embed README.md")
	f.Var().Id("review").String()

	strs := func(names []string) jen.Code {
		if len(names) == 0 {
			return jen.Nil()
		}
		vals := make([]jen.Code, len(names))
		for i, n := range names {
			vals[i] = jen.Lit(n)
		}
		return jen.Index().String().Values(vals...)
	}
	optional := func(d jen.Dict, key, v string) {
		if v != "" {
			d[jen.Id(key)] = jen.Lit(v)
		}
	}

	var statuses []jen.Code
	for _, s := range m.Statuses {
		d := jen.Dict{
			jen.Id("Name"):    jen.Lit(s.Name),
			jen.Id("Display"): jen.Id(s.GoName).Dot("Display").Call(),
		}
		optional(d, "Doc", oneLine(s.Doc))
		optional(d, "EnteredAt", s.EnteredAt)
		if s.Code != "" {
			d[jen.Id("Code")] = jen.Id(s.GoName).Dot("Code").Call()
		}
		if s.Initial {
			d[jen.Id("Initial")] = jen.True()
		}
		if s.Terminal {
			d[jen.Id("Terminal")] = jen.True()
		}
		if t := s.Timeout; t != nil && t.Event != nil {
			td := jen.Dict{jen.Id("After"): durationLit(t.After), jen.Id("Event"): jen.Lit(t.Event.Name), jen.Id("To"): jen.Lit(t.To.Name)}
			if t.ErrorCode != nil {
				td[jen.Id("ErrorCode")] = jen.Lit(t.ErrorCode.Name)
			}
			d[jen.Id("Timeout")] = jen.Op("&").Qual(pkgTasktype, "StatusTimeout").Values(td)
		}
		statuses = append(statuses, jen.Values(d))
	}
	var events []jen.Code
	for _, e := range m.Events {
		from := make([]string, len(e.From))
		for i, s := range e.From {
			from[i] = s.Name
		}
		var req []string
		for _, r := range e.Requires {
			req = append(req, r.Name)
		}
		d := jen.Dict{jen.Id("Name"): jen.Lit(e.Name), jen.Id("From"): strs(from), jen.Id("To"): jen.Lit(e.To.Name)}
		optional(d, "Doc", oneLine(e.Doc))
		if len(req) > 0 {
			d[jen.Id("Requires")] = strs(req)
		}
		events = append(events, jen.Values(d))
	}
	var sets []jen.Code
	for _, set := range m.Sets {
		names := make([]string, len(set.Statuses))
		for i, s := range set.Statuses {
			names[i] = s.Name
		}
		d := jen.Dict{jen.Id("Name"): jen.Lit(set.Name), jen.Id("Statuses"): strs(names)}
		optional(d, "Doc", oneLine(set.Doc))
		sets = append(sets, jen.Values(d))
	}
	d := jen.Dict{
		jen.Id("Model"):    jen.Id("ModelName"),
		jen.Id("Initial"):  jen.Lit(m.Initial.Name),
		jen.Id("Statuses"): jen.Index().Qual(pkgTasktype, "StatusInfo").Values(statuses...),
		jen.Id("Events"):   jen.Index().Qual(pkgTasktype, "EventInfo").Values(events...),
		jen.Id("Review"):   jen.Id("review"),
	}
	optional(d, "Doc", oneLine(m.Doc))
	if len(sets) > 0 {
		d[jen.Id("Sets")] = jen.Index().Qual(pkgTasktype, "SetInfo").Values(sets...)
	}
	var body []jen.Code
	if m.Worker != nil {
		body = append(body, jen.Id("w").Op(":=").Id("Worker"))
		d[jen.Id("Worker")] = jen.Op("&").Id("w")
	}
	body = append(body, jen.Return(jen.Qual(pkgTasktype, "Lifecycle").Values(d)))
	f.Comment("Lifecycle returns the model's lifecycle as its spec declares it: statuses,")
	f.Comment("events, sets, the worker section and the review document. Each call")
	f.Comment("returns a new value, which the caller may change.")
	f.Func().Id("Lifecycle").Params().Qual(pkgTasktype, "Lifecycle").Block(body...)
}
