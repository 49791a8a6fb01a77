package gen

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/dave/jennifer/jen"

	"github.com/taskmodel/taskmodel/tools/taskgen/internal/spec"
)

// driverStatements are the queries of a model's query file that the
// engine's generic driver runs; a model has those of its spec (Due with
// timeouts, DeleteFinished with terminal statuses, the worker's with a
// worker section, Claim when its event needs no fields).
var driverStatements = map[Engine][]string{
	PostgreSQL: {"Create", "CreateMany", "Transition", "TransitionMany", "Update", "Get", "Keys", "Delete",
		"History", "ListByStatus", "DeleteFinished", "Due", "Reserve", "Claim", "Heartbeat", "Lost"},
	SQLite: {"Insert", "UpdateGuarded", "InsertHistory", "Update", "Get", "Keys", "Delete", "History", "ListByStatus",
		"DeleteFinished", "Due", "ChangedSince", "Reserve", "Claim", "Claimable", "Heartbeat", "Lost"},
}

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

// tableDriverFile emits the driver of the model for an engine: the
// sqltable.Table that describes its columns and statements to the engine's
// generic driver, which does the rest, and the functions that set a task's
// column values and read a row into a task.
func (g *generator) tableDriverFile(f *jen.File, e Engine) {
	m := g.m
	pg := e == PostgreSQL
	model := g.importPath
	T := jen.Qual(model, m.Struct)
	table, _ := Table(m)
	rowType := SQLCName(table)
	f.ImportName(model, g.pkg)
	f.ImportName(pkgBackends, "backends")
	f.ImportName(pkgSQLTable, "sqltable")
	f.ImportAlias(pkgPGBackend, "pgbackend")
	f.ImportAlias(pkgSQLiteBackend, "sqlitebackend")

	args := queryArgs(g.querySQL(e))
	_, claims := args["Claim"]
	claims = claims && (!pg || g.sqlClaim())
	backend, engineName, db := pkgSQLiteBackend, "SQLite", jen.Op("*").Qual(pkgSQL, "DB")
	if pg {
		backend, engineName, db = pkgPGBackend, "PostgreSQL", jen.Id("DBTX")
	}
	driver, newDriver := "Driver", "NewDriver"
	if claims {
		driver, newDriver = "ClaimingDriver", "NewClaimingDriver"
	}
	f.Comment(fmt.Sprintf("Driver stores %s tasks (model %q) in %s: the engine's generic driver", m.Struct, m.Name, engineName))
	f.Comment("over the statements sqlc compiled in this package. Use it through a backends.Store.")
	f.Type().Id("Driver").Op("=").Qual(backend, driver).Types(T)
	if pg {
		f.Comment("NewDriver returns a Driver over a pgx pool. Concurrent creates and")
		f.Comment("transitions are group-committed: written together in one round trip and")
		f.Comment("one transaction.")
	} else {
		f.Comment("NewDriver returns a Driver over a database opened by backends/sqlite. Its")
		f.Comment("writes go through the database's sqlite.Writer, with the process's others.")
	}
	f.Func().Id("NewDriver").Params(jen.Id("db").Add(db)).Op("*").Id("Driver").Block(
		jen.Return(jen.Qual(backend, newDriver).Call(jen.Id("db"), jen.Op("&").Id("table"))))

	columns, values := g.columnValues(e)
	fields := g.tableFields(T, columns)
	stmts := jen.Dict{}
	for _, name := range driverStatements[e] {
		a, ok := args[name]
		if !ok || (name == "Claim" && !claims) {
			continue
		}
		lits := make([]jen.Code, len(a))
		for i, s := range a {
			lits[i] = jen.Lit(s)
		}
		stmts[jen.Lit(name)] = jen.Values(jen.Dict{jen.Id("SQL"): jen.Id(lowerFirst(name)), jen.Id("Args"): jen.Index().String().Values(lits...)})
	}
	fields[jen.Id("Stmts")] = jen.Map(jen.String()).Qual(pkgSQLTable, "Stmt").Values(stmts)
	f.Comment("table describes the model's table to the generic driver.")
	f.Var().Id("table").Op("=").Qual(pkgSQLTable, "Table").Types(T).Values(fields)
	f.Comment("values sets the parameters of x's columns, in Columns' order.")
	f.Func().Id("values").Params(jen.Id("x").Op("*").Add(T), jen.Id("v").Index().Any()).Params(jen.Err().Error()).Block(values...)

	// scan reads a row of every column of the table, in its order.
	goNames := map[string]string{}
	for _, c := range g.columns(e) {
		goNames[c.Name] = c.Field.GoName // sqlc's field, renamed as sqlc.yaml says
	}
	var dests []jen.Code
	for _, name := range g.tableColumns(e) {
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
	f.Func().Id("scan").Params(jen.Id("row").Qual(pkgSQLTable, "Scanner")).Params(jen.Op("*").Add(T), jen.Qual(pkgBackends, "Lease"), jen.Error()).Block(
		jen.Var().Id("r").Id(rowType),
		jen.If(jen.Err().Op(":=").Id("row").Dot("Scan").Call(dests...), jen.Err().Op("!=").Nil()).Block(
			jen.Return(jen.Nil(), jen.Qual(pkgBackends, "Lease").Values(), jen.Err())),
		jen.List(jen.Id("x"), jen.Err()).Op(":=").Id("fromRow").Call(jen.Id("r")),
		jen.Return(jen.Id("x"), lease, jen.Err()),
	)
	g.fromRowFunc(f, e, T, rowType)
}

// columnValues returns a Table's Columns for an engine and the body of its
// values function: each column's parameter, in order.
func (g *generator) columnValues(e Engine) (columns string, values []jen.Code) {
	var specs []string
	for i, c := range g.columns(e) {
		kind, value, fails := g.columnValue(e, c)
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
	return strings.Join(specs, ", "), append(values, jen.Return(jen.Nil()))
}

// columnValue returns a column's kind in sqltable.Table's Columns, the
// expression of its parameter for the column of task x, and whether that
// expression also returns an error (a JSON encoding: bytes on PostgreSQL,
// text on SQLite).
func (g *generator) columnValue(e Engine, c column) (kind string, value jen.Code, fails bool) {
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
		return "json", jen.Qual(pkgSQLTable, pick(e == PostgreSQL, "JSON", "JSONText")).Call(enc), true // MySQL refuses JSON sent as binary
	}
	switch fld.Type.Kind {
	case spec.KindStatus, spec.KindErrorCode, spec.KindEnum:
		if opt {
			return "text", jen.Qual(pkgSQLTable, "OptText").Call(x), false
		}
		return "text", jen.String().Parens(x), false
	case spec.KindTime:
		if opt {
			return "time", jen.Qual(pkgSQLTable, "OptTime").Call(x), false
		}
		return "time", x.Clone().Dot("UTC").Call(), false
	case spec.KindDuration:
		if opt {
			return "int", jen.Qual(pkgSQLTable, "OptInt").Call(x), false
		}
		return "int", jen.Int64().Parens(x), false
	}
	kind = map[spec.Kind]string{spec.KindString: "text", spec.KindInt: "int", spec.KindFloat: "float",
		spec.KindBool: "bool", spec.KindUUID: "uuid"}[fld.Type.Kind]
	if kind == "" {
		panic(fmt.Sprintf("taskgen: column %s of kind %s has no PostgreSQL parameter kind", c.Name, fld.Type.Kind))
	}
	if opt {
		return kind, jen.Qual(pkgSQLTable, "Opt").Call(x), false
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
