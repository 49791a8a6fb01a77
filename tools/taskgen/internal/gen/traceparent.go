package gen

import (
	"fmt"
	"strings"

	"github.com/dave/jennifer/jen"

	"github.com/taskmodel/taskmodel/tools/taskgen/internal/spec"
)

// TraceparentColumn holds the W3C trace context (a traceparent header)
// of the request that created a task, ” for none: a worker's span continues
// the creator's trace from it, in any process (migration 0010_traceparent).
const TraceparentColumn = "tm_traceparent"

// traceparentField is the model struct's field of TraceparentColumn: not
// part of the task's JSON.
var traceparentField = &spec.Field{Name: TraceparentColumn, GoName: "TmTraceparent", Type: &spec.TypeRef{Kind: spec.KindString}}

// traceparentColumn is TraceparentColumn: NOT NULL DEFAULT ”, so that a
// writer that predates it (a rolling deploy) still inserts rows.
func (g *generator) traceparentColumn(e Engine) column {
	if e == MySQL {
		return column{Name: TraceparentColumn, Field: traceparentField, Type: "TEXT", NotNull: true, Default: "('')"}
	}
	return column{Name: TraceparentColumn, Field: traceparentField, Type: pick(e == PostgreSQL, "text", "TEXT"), NotNull: true, Default: "''"}
}

// traceparentSQL renders the migration that adds TraceparentColumn.
func (g *generator) traceparentSQL(e Engine) []byte {
	table, _ := Table(g.m)
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n-- Trace context of model %q for %s: the W3C traceparent of the request\n", SQLHeader, g.m.Name, e)
	fmt.Fprintf(&b, "-- that created a task ('' for none), which the workers' spans continue.\n\n")
	fmt.Fprintf(&b, "ALTER TABLE %s ADD COLUMN %s;\n", table, g.traceparentColumn(e).def())
	return []byte(b.String())
}

// traceparentMembers are the model struct's field for TraceparentColumn.
func traceparentMembers() []jen.Code {
	return []jen.Code{
		jen.Comment("TmTraceparent is the W3C traceparent of the request that created the"),
		jen.Comment("task (\"\" for none): tracing continues the creator's trace from it. It is"),
		jen.Comment("stored, not part of the task's JSON."),
		jen.Id(traceparentField.GoName).String().Tag(map[string]string{"json": "-"}),
	}
}

// traceparentMethods emits Traceparent and SetTraceparent, through which
// sdk/engine's tracer reads and sets the trace context.
func (g *generator) traceparentMethods(f *jen.File) {
	recv := jen.Id("x").Op("*").Id(g.m.Struct)
	f.Comment("Traceparent returns the W3C traceparent the task was created with (\"\" for none).")
	f.Func().Params(recv).Id("Traceparent").Params().String().Block(jen.Return(jen.Id("x").Dot(traceparentField.GoName)))
	f.Comment("SetTraceparent sets the W3C traceparent the task is created with.")
	f.Func().Params(jen.Id("x").Op("*").Id(g.m.Struct)).Id("SetTraceparent").Params(jen.Id("tp").String()).Block(
		jen.Id("x").Dot(traceparentField.GoName).Op("=").Id("tp"))
}
