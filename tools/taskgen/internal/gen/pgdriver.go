package gen

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/dave/jennifer/jen"

	"github.com/taskmodel/taskmodel/tools/taskgen/internal/spec"
)

// pgStatements are the queries of a model's PostgreSQL query file that
// postgres.Driver runs, by the name of their Table field; a model has those
// of its spec (Due with timeouts, DeleteFinished with terminal statuses,
// the worker's with a worker section, Claim when its event needs no
// fields).
var pgStatements = []string{"Create", "CreateMany", "Transition", "TransitionMany", "Update", "Get", "Keys", "Delete",
	"History", "ListByStatus", "DeleteFinished", "Due", "Reserve", "Claim", "Heartbeat", "Lost"}

var (
	queryNameRE = regexp.MustCompile(`(?m)^-- name: (\w+) `)
	sqlcArgRE   = regexp.MustCompile(`sqlc\.n?arg\((\w+)\)`)
)

// queryArgs returns the parameters of every query of a sqlc query file, by
// query name: a name per use, in the order of the text. sqlc replaces each
// use by its number ($1, $2, ...) in place, numbering them in an order of
// its own; postgres.NewDriver pairs the uses with the numbers.
func queryArgs(file []byte) map[string][]string {
	out := map[string][]string{}
	text := string(file)
	locs := queryNameRE.FindAllStringSubmatchIndex(text, -1)
	for i, loc := range locs {
		end := len(text)
		if i+1 < len(locs) {
			end = locs[i+1][0]
		}
		name := text[loc[2]:loc[3]]
		args := []string{}
		for _, m := range sqlcArgRE.FindAllStringSubmatch(text[loc[1]:end], -1) {
			args = append(args, m[1])
		}
		out[name] = args
	}
	return out
}

// pgDriverFile emits the PostgreSQL driver of the model: the Table that
// describes its columns and statements to postgres.Driver, which does the
// rest, and the function that reads a row into a task.
func (g *generator) pgDriverFile(f *jen.File) {
	m := g.m
	model := g.importPath
	T := jen.Qual(model, m.Struct)
	table, _ := Table(m)
	rowType := SQLCName(table)
	f.ImportName(model, g.pkg)
	f.ImportName(pkgBackends, "backends")
	f.ImportName(pkgPGX, "pgx")
	f.ImportAlias(pkgPGBackend, "pgbackend")

	driver, newDriver := "Driver", "NewDriver"
	if g.sqlClaim() {
		driver, newDriver = "ClaimingDriver", "NewClaimingDriver"
	}
	f.Comment(fmt.Sprintf("Driver stores %s tasks (model %q) in PostgreSQL: postgres.%s over", m.Struct, m.Name, driver))
	f.Comment("the statements sqlc compiled in this package. Use it through a backends.Store.")
	f.Type().Id("Driver").Op("=").Qual(pkgPGBackend, driver).Types(T)
	f.Comment("NewDriver returns a Driver over a pgx pool. Concurrent creates and")
	f.Comment("transitions are group-committed: written together in one round trip and")
	f.Comment("one transaction.")
	f.Func().Id("NewDriver").Params(jen.Id("db").Id("DBTX")).Op("*").Id("Driver").Block(
		jen.Return(jen.Qual(pkgPGBackend, newDriver).Call(jen.Id("db"), jen.Op("&").Id("table"))))

	// The columns, and their values.
	var specs []string
	values := []jen.Code{}
	for i, c := range g.columns(PostgreSQL) {
		kind, value, fails := g.pgColumnValue(c)
		spec := c.Name + " " + kind
		if !c.NotNull {
			spec += " null"
		}
		specs = append(specs, spec)
		v := jen.Id("v").Index(jen.Lit(i))
		if fails {
			values = append(values, jen.If(jen.List(v, jen.Err()).Op("=").Add(value), jen.Err().Op("!=").Nil()).Block(
				jen.Return(jen.Qual("fmt", "Errorf").Call(jen.Lit(c.Name+": %w"), jen.Err()))))
			continue
		}
		values = append(values, v.Op("=").Add(value))
	}
	values = append(values, jen.Return(jen.Nil()))
	fields := jen.Dict{
		jen.Id("Model"):   jen.Lit(m.Name),
		jen.Id("Columns"): jen.Lit(strings.Join(specs, ", ")),
		jen.Id("Values"):  jen.Id("values"),
		jen.Id("Scan"):    jen.Id("scan"),
		jen.Id("ID"):      jen.Func().Params(jen.Id("x").Op("*").Add(T)).Qual(pkgUUID, "UUID").Block(jen.Return(jen.Id("x").Dot("ID"))),
	}
	if m.Worker != nil {
		fields[jen.Id("Running")] = jen.Lit(m.Worker.Running.Name)
	}
	var deadlines []jen.Code
	for _, s := range m.Statuses {
		if s.Timeout == nil {
			continue
		}
		deadlines = append(deadlines, jen.Values(jen.Dict{jen.Id("Arg"): jen.Lit("tm_" + GoNameToSnake(s.GoName) + "_deadline"), jen.Id("After"): durationLit(s.Timeout.After)}))
	}
	if len(deadlines) > 0 {
		fields[jen.Id("Deadlines")] = jen.Index().Qual(pkgPGBackend, "Deadline").Values(deadlines...)
	}
	args := queryArgs(g.querySQL(PostgreSQL))
	for _, name := range pgStatements {
		a, ok := args[name]
		if !ok || (name == "Claim" && !g.sqlClaim()) {
			continue
		}
		lits := make([]jen.Code, len(a))
		for i, s := range a {
			lits[i] = jen.Lit(s)
		}
		fields[jen.Id(name)] = jen.Qual(pkgPGBackend, "Stmt").Values(jen.Dict{
			jen.Id("SQL"): jen.Id(lowerFirst(name)), jen.Id("Args"): jen.Index().String().Values(lits...)})
	}
	f.Comment("table describes the model's table to postgres.Driver.")
	f.Var().Id("table").Op("=").Qual(pkgPGBackend, "Table").Types(T).Values(fields)
	f.Comment("values sets the parameters of x's columns, in Columns' order.")
	f.Func().Id("values").Params(jen.Id("x").Op("*").Add(T), jen.Id("v").Index().Any()).Params(jen.Err().Error()).Block(values...)

	// scan reads a row of every column of the table, in its order.
	goNames := map[string]string{}
	for _, c := range g.columns(PostgreSQL) {
		goNames[c.Name] = c.Field.GoName // sqlc's field, renamed as sqlc.yaml says
	}
	var dests []jen.Code
	for _, name := range g.tableColumns(PostgreSQL) {
		field, ok := goNames[name]
		if !ok {
			field = SQLCName(name)
		}
		dests = append(dests, jen.Op("&").Id("r").Dot(field))
	}
	lease := jen.Qual(pkgBackends, "Lease").Values()
	if m.Worker != nil {
		lease = jen.Qual(pkgBackends, "Lease").Values(jen.Dict{
			jen.Id("Owner"): jen.Id("r").Dot(SQLCName(LeaseOwnerColumn)), jen.Id("Attempt"): jen.Int().Parens(jen.Id("r").Dot(SQLCName(LeaseAttemptColumn)))})
	}
	f.Comment("scan reads a task row: every column of the table, in its order.")
	f.Func().Id("scan").Params(jen.Id("row").Qual(pkgPGX, "Row")).Params(jen.Op("*").Add(T), jen.Qual(pkgBackends, "Lease"), jen.Error()).Block(
		jen.Var().Id("r").Id(rowType),
		jen.If(jen.Err().Op(":=").Id("row").Dot("Scan").Call(dests...), jen.Err().Op("!=").Nil()).Block(
			jen.Return(jen.Nil(), jen.Qual(pkgBackends, "Lease").Values(), jen.Err())),
		jen.List(jen.Id("x"), jen.Err()).Op(":=").Id("fromRow").Call(jen.Id("r")),
		jen.Return(jen.Id("x"), lease, jen.Err()),
	)
	g.fromRowFunc(f, PostgreSQL, T, rowType)
}

// pgColumnValue returns a column's kind in postgres.Table's Columns, the
// expression of its parameter for the column of task x, and whether that
// expression also returns an error (a JSON encoding).
func (g *generator) pgColumnValue(c column) (kind string, value jen.Code, fails bool) {
	fld := c.Field
	x := jen.Id("x").Dot(fld.GoName)
	opt := fld.Optional
	if c.JSON {
		var enc jen.Code
		switch k := fld.Type.Kind; {
		case k == spec.KindList && !opt:
			enc = jen.Qual(pkgBackends, "JSONList").Call(x)
		case k == spec.KindList || k == spec.KindJSON:
			enc = jen.Qual(pkgBackends, "JSONNullable").Call(x, jen.Lit(!opt))
		case opt:
			enc = jen.Qual(pkgBackends, "JSONPointer").Call(x)
		default:
			enc = jen.Qual(pkgJSON, "Marshal").Call(x)
		}
		return "json", jen.Qual(pkgPGBackend, "JSON").Call(enc), true
	}
	switch fld.Type.Kind {
	case spec.KindStatus, spec.KindErrorCode, spec.KindEnum:
		if opt {
			return "text", jen.Qual(pkgPGBackend, "OptText").Call(x), false
		}
		return "text", jen.String().Parens(x), false
	case spec.KindTime:
		if opt {
			return "time", jen.Qual(pkgPGBackend, "OptTime").Call(x), false
		}
		return "time", x.Clone().Dot("UTC").Call(), false
	case spec.KindDuration:
		if opt {
			return "int", jen.Qual(pkgPGBackend, "OptInt").Call(x), false
		}
		return "int", jen.Int64().Parens(x), false
	}
	kind = map[spec.Kind]string{spec.KindString: "text", spec.KindInt: "int", spec.KindFloat: "float",
		spec.KindBool: "bool", spec.KindUUID: "uuid"}[fld.Type.Kind]
	if kind == "" {
		panic(fmt.Sprintf("taskgen: column %s of kind %s has no PostgreSQL parameter kind", c.Name, fld.Type.Kind))
	}
	if opt {
		return kind, jen.Qual(pkgPGBackend, "Opt").Call(x), false
	}
	return kind, x, false
}

// fromRowFunc emits fromRow, which turns sqlc's row of the table into a
// task, and fromRows.
func (g *generator) fromRowFunc(f *jen.File, e Engine, T jen.Code, rowType string) {
	var post []jen.Code
	d := jen.Dict{}
	for _, c := range g.columns(e) {
		g.fromDB(e, c, d, &post)
	}
	body := []jen.Code{jen.Id("x").Op(":=").Op("&").Add(T).Values(d)}
	body = append(body, post...)
	body = append(body, jen.Return(jen.Id("x"), jen.Nil()))
	f.Func().Id("fromRow").Params(jen.Id("r").Id(rowType)).Params(jen.Op("*").Add(T), jen.Error()).Block(body...)
}
