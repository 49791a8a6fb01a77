package gen

import (
	"fmt"

	"github.com/dave/jennifer/jen"

	"github.com/taskmodel/taskmodel/tools/taskgen/internal/spec"
)

// MySQLPackage is the package of a model's MySQL driver, next to the
// sqlc-compiled ones (SQLCPackages).
const MySQLPackage = "mysqldb"

// mysqlDriverFile emits the MySQL driver of the model: the sqltable.Table
// of backends/mysql's generic driver, with the statements of the embedded
// MySQLQueryFile, the function that sets a task's column values, and the
// one that scans a row into a task (there is no sqlc row type on MySQL:
// database/sql converts each column into the task's field).
func (g *generator) mysqlDriverFile(f *jen.File) {
	m := g.m
	T := jen.Qual(g.importPath, m.Struct)
	f.ImportName(g.importPath, g.pkg)
	f.ImportName(pkgBackends, "backends")
	f.ImportName(pkgSQLTable, "sqltable")
	f.ImportAlias(pkgMySQLBackend, "mysqlbackend")
	f.Anon("embed")

	driver, newDriver := "Driver", "NewDriver"
	if g.sqlClaim() {
		driver, newDriver = "ClaimingDriver", "NewClaimingDriver"
	}
	f.Comment(fmt.Sprintf("Driver stores %s tasks (model %q) in MySQL or MariaDB: the engine's", m.Struct, m.Name))
	f.Comment("generic driver over the statements of " + MySQLQueryFile + " and " + MySQLScriptFile + ". Use it through a")
	f.Comment("backends.Store.")
	f.Type().Id("Driver").Op("=").Qual(pkgMySQLBackend, driver).Types(T)
	f.Comment("NewDriver returns a Driver over a database opened by backends/mysql.")
	f.Func().Id("NewDriver").Params(jen.Id("db").Op("*").Qual(pkgSQL, "DB")).Op("*").Id("Driver").Block(
		jen.Return(jen.Qual(pkgMySQLBackend, newDriver).Call(jen.Id("db"), jen.Op("&").Id("table"))))
	f.Comment("queries and script are the driver's statements: those sqlc checks, and the others.")
	f.Comment("//go:embed " + MySQLQueryFile)
	f.Var().Id("queries").String()
	f.Comment("//go:embed " + MySQLScriptFile)
	f.Var().Id("script").String()

	columns, values := g.columnValues(MySQL)
	fields := g.tableFields(T, columns)
	fields[jen.Id("Stmts")] = jen.Qual(pkgSQLTable, "MustParseStatements").Call(jen.Id("queries").Op("+").Lit("\n").Op("+").Id("script"))
	f.Comment("table describes the model's table to the generic driver.")
	f.Var().Id("table").Op("=").Qual(pkgSQLTable, "Table").Types(T).Values(fields)
	f.Comment("values sets the parameters of x's columns, in Columns' order.")
	f.Func().Id("values").Params(jen.Id("x").Op("*").Add(T), jen.Id("v").Index().Any()).Params(jen.Err().Error()).Block(values...)

	// scan: each column into its field, JSON through bytes, the lease into
	// locals.
	byName := map[string]column{}
	for _, c := range g.columns(MySQL) {
		byName[c.Name] = c
	}
	var decls, dests, post []jen.Code
	for _, name := range g.tableColumns(MySQL) {
		c, ok := byName[name]
		switch {
		case name == LeaseOwnerColumn:
			dests = append(dests, jen.Op("&").Id("l").Dot("Owner"))
		case name == LeaseExpiresColumn:
			decls = append(decls, jen.Var().Id("expires").Any())
			dests = append(dests, jen.Op("&").Id("expires"))
		case name == LeaseAttemptColumn:
			decls = append(decls, jen.Var().Id("attempt").Int64())
			dests = append(dests, jen.Op("&").Id("attempt"))
			post = append(post, jen.Id("l").Dot("Attempt").Op("=").Int().Parens(jen.Id("attempt")))
		case !ok:
			panic("taskgen: MySQL column " + name + " has no field")
		case c.JSON:
			v := "j" + c.Field.GoName
			decls = append(decls, jen.Var().Id(v).Index().Byte())
			dests = append(dests, jen.Op("&").Id(v))
			post = append(post, jen.If(jen.Err().Op(":=").Add(g.decodeJSON(jen.Id(v), c.Field)), jen.Err().Op("!=").Nil()).Block(
				jen.Return(jen.Nil(), jen.Id("l"), jen.Qual("fmt", "Errorf").Call(jen.Lit(c.Name+": %w"), jen.Err()))))
		case c.Field.Type.Kind == spec.KindStatus || c.Field.Type.Kind == spec.KindErrorCode || c.Field.Type.Kind == spec.KindEnum:
			// As text, not through the type's Scan, which refuses an
			// undeclared value with database/sql's "Scan error on column
			// index" message: checkDeclared refuses it as the other
			// engines do.
			if c.Field.Optional {
				v := "s" + c.Field.GoName
				decls = append(decls, jen.Var().Id(v).Op("*").String())
				dests = append(dests, jen.Op("&").Id(v))
				post = append(post, jen.Id("x").Dot(c.Field.GoName).Op("=").Parens(jen.Op("*").Add(g.enumType(c.Field.Type))).Parens(jen.Id(v)))
			} else {
				dests = append(dests, jen.Parens(jen.Op("*").String()).Parens(jen.Op("&").Id("x").Dot(c.Field.GoName)))
			}
			post = append(post, g.checkDeclared(c, jen.Nil(), jen.Id("l")))
		default:
			dests = append(dests, jen.Op("&").Id("x").Dot(c.Field.GoName))
		}
	}
	body := []jen.Code{jen.Id("x").Op(":=").New(T), jen.Var().Id("l").Qual(pkgBackends, "Lease")}
	body = append(body, decls...)
	body = append(body, jen.If(jen.Err().Op(":=").Id("row").Dot("Scan").Call(dests...), jen.Err().Op("!=").Nil()).Block(
		jen.Return(jen.Nil(), jen.Id("l"), jen.Err())))
	body = append(body, post...)
	body = append(body, jen.Return(jen.Id("x"), jen.Id("l"), jen.Nil()))
	f.Comment("scan reads a task row: every column of the table, in its order.")
	f.Func().Id("scan").Params(jen.Id("row").Qual(pkgSQLTable, "Scanner")).Params(jen.Op("*").Add(T), jen.Qual(pkgBackends, "Lease"), jen.Error()).Block(body...)
}

// tableFields are the fields of a model's sqltable.Table but its
// statements: columns is its Columns.
func (g *generator) tableFields(T jen.Code, columns string) jen.Dict {
	m := g.m
	fields := jen.Dict{
		jen.Id("Model"):   jen.Lit(m.Name),
		jen.Id("Columns"): jen.Lit(columns),
		jen.Id("Values"):  jen.Id("values"),
		jen.Id("Scan"):    jen.Id("scan"),
		jen.Id("Key"):     jen.Parens(jen.Op("*").Add(T)).Dot("Key"),
		jen.Id("CreatedAt"): jen.Func().Params(jen.Id("x").Op("*").Add(T)).Qual("time", "Time").Block(
			jen.Return(jen.Id("x").Dot("CreatedAt"))),
	}
	if w := m.Worker; w != nil {
		fields[jen.Id("Queue")] = jen.Lit(w.Queue.Name)
		fields[jen.Id("Running")] = jen.Lit(w.Running.Name)
		if w.Claim != nil {
			fields[jen.Id("ClaimEvent")] = jen.Lit(w.Claim.Name)
		}
	}
	var deadlines []jen.Code
	for _, s := range m.Statuses {
		if s.Timeout == nil {
			continue
		}
		deadlines = append(deadlines, jen.Values(jen.Dict{jen.Id("Arg"): jen.Lit("tm_" + GoNameToSnake(s.GoName) + "_deadline"), jen.Id("After"): durationLit(s.Timeout.After)}))
	}
	if len(deadlines) > 0 {
		fields[jen.Id("Deadlines")] = jen.Index().Qual(pkgSQLTable, "Deadline").Values(deadlines...)
	}
	return fields
}
