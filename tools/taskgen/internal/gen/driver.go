package gen

import (
	"fmt"

	"github.com/dave/jennifer/jen"

	"github.com/taskmodel/taskmodel/tools/taskgen/internal/spec"
)

const (
	pkgBackends = "github.com/taskmodel/taskmodel/backends"
	pkgJSON     = "encoding/json"
	pkgPGX      = "github.com/jackc/pgx/v5"
	pkgPGConn   = "github.com/jackc/pgx/v5/pgconn"
	pkgSQL      = "database/sql"
	pkgErrors   = "errors"

	pkgSQLiteBackend = "github.com/taskmodel/taskmodel/backends/sqlite"
	pkgPGBackend     = "github.com/taskmodel/taskmodel/backends/postgres"
	pkgSQLTable      = "github.com/taskmodel/taskmodel/backends/sqltable"
)

// driverFile emits the Driver of the model for an engine, in the package
// sqlc generates for that engine: it maps the model struct to sqlc's
// parameters and rows and implements backends.Driver.
func (g *generator) driverFile(f *jen.File, e Engine) {
	m := g.m
	pg := e == PostgreSQL
	model := g.importPath
	T := jen.Qual(model, m.Struct)
	table, _ := Table(m)
	rowType := SQLCName(table)
	f.ImportName(model, g.pkg)
	f.ImportName(pkgBackends, "backends")
	f.ImportName(pkgPGX, "pgx")
	f.ImportName(pkgPGConn, "pgconn")
	f.ImportAlias(pkgSQLiteBackend, "sqlitebackend")
	f.ImportAlias(pkgPGBackend, "pgbackend")

	engineName := map[Engine]string{PostgreSQL: "PostgreSQL", SQLite: "SQLite"}[e]
	f.Comment(fmt.Sprintf("Driver stores %s tasks (model %q) in %s through the queries sqlc", m.Struct, m.Name, engineName))
	f.Comment("generated in this package. It implements backends.Driver; use it through a backends.Store.")
	if pg {
		f.Type().Id("Driver").Struct(jen.Id("q").Op("*").Id("Queries"),
			jen.Id("replanned").Op("*").Id("Queries").Comment("planned at each execution: claims and periodic statements (postgres.Replanned)"),
			jen.Id("group").Op("*").Qual(pkgPGBackend, "Group").Types(jen.Id("transitionRow")),
			jen.Id("inserts").Op("*").Qual(pkgPGBackend, "Group").Types(jen.Id("insertRow")))
		f.Comment("transitionRow is one transition of a group-committed batch: the task")
		f.Comment("with the guard and the history row.")
		f.Type().Id("transitionRow").Struct(
			jen.Op("*").Add(T),
			jen.Id("FromStatus").String(),
			jen.Id("FromVersion").Int64(),
			jen.Id("Event").String(),
			jen.Id("Attempt").Int(),
			jen.Id("Actor").String(),
			jen.Id("Message").String(),
		)
		f.Comment("insertRow is one create of a group-committed batch: the task with its")
		f.Comment("first history row's actor and message.")
		f.Type().Id("insertRow").Struct(
			jen.Op("*").Add(T),
			jen.Id("Actor").String(),
			jen.Id("Message").String(),
		)
		g.batchParams(f, "createManyParams", "insertRow", "CreateManyParams", nil, [][2]string{{"tm_actor", "Actor"}, {"tm_message", "Message"}})
		g.batchParams(f, "transitionManyParams", "transitionRow", "TransitionManyParams", createdOnly, [][2]string{
			{"tm_from_status", "FromStatus"}, {"tm_from_version", "FromVersion"}, {"tm_event", "Event"}, {"tm_attempt", "Attempt"},
			{"tm_actor", "Actor"}, {"tm_message", "Message"}})
		f.Comment("NewDriver returns a Driver over a pgx pool. Concurrent creates and")
		f.Comment("transitions are group-committed: written together in one round trip and")
		f.Comment("one transaction.")
		f.Func().Id("NewDriver").Params(jen.Id("db").Id("DBTX")).Op("*").Id("Driver").Block(
			jen.Id("d").Op(":=").Op("&").Id("Driver").Values(jen.Dict{jen.Id("q"): jen.Id("New").Call(jen.Id("db")), jen.Id("replanned"): jen.Id("New").Call(jen.Qual(pkgPGBackend, "Replanned").Call(jen.Id("db")))}),
			jen.Id("d").Dot("group").Op("=").Qual(pkgPGBackend, "NewGroup").Call(jen.Id("d").Dot("flush"), jen.Id("d").Dot("transitionOne"),
				jen.Func().Params(jen.Id("r").Id("transitionRow")).Qual(pkgUUID, "UUID").Block(jen.Return(jen.Id("r").Dot("ID")))),
			jen.Id("d").Dot("inserts").Op("=").Qual(pkgPGBackend, "NewGroup").Call(jen.Id("d").Dot("flushInserts"), jen.Id("d").Dot("insertOne"),
				jen.Func().Params(jen.Id("r").Id("insertRow")).Qual(pkgUUID, "UUID").Block(jen.Return(jen.Id("r").Dot("ID")))),
			jen.Return(jen.Id("d")),
		)
		f.Comment("flushInserts writes a batch of creates in one statement: one round trip,")
		f.Comment("one commit. An error aborts the whole batch, which the group then writes")
		f.Comment("item by item.")
		f.Func().Params(jen.Id("d").Op("*").Id("Driver")).Id("flushInserts").Params(jen.Id("ctx").Qual("context", "Context"), jen.Id("items").Index().Id("insertRow")).Index().Error().Block(
			jen.Id("errs").Op(":=").Make(jen.Index().Error(), jen.Len(jen.Id("items"))),
			jen.List(jen.Id("p"), jen.Err()).Op(":=").Id("createManyParams").Call(jen.Id("items")),
			jen.If(jen.Err().Op("==").Nil()).Block(
				jen.Var().Id("n").Int64(),
				jen.List(jen.Id("n"), jen.Err()).Op("=").Id("d").Dot("q").Dot("CreateMany").Call(jen.Id("ctx"), jen.Id("p")),
				jen.If(jen.Err().Op("==").Nil().Op("&&").Id("n").Op("!=").Int64().Parens(jen.Len(jen.Id("items")))).Block(
					jen.Err().Op("=").Qual("fmt", "Errorf").Call(jen.Lit("create: %d of %d tasks written"), jen.Id("n"), jen.Len(jen.Id("items")))),
			),
			jen.For(jen.Id("i").Op(":=").Range().Id("errs")).Block(jen.Id("errs").Index(jen.Id("i")).Op("=").Err()),
			jen.Return(jen.Id("errs")),
		)
		f.Comment("flush writes a batch of transitions in one statement; a row whose guard")
		f.Comment("failed gets pgx.ErrNoRows.")
		f.Func().Params(jen.Id("d").Op("*").Id("Driver")).Id("flush").Params(jen.Id("ctx").Qual("context", "Context"), jen.Id("items").Index().Id("transitionRow")).Index().Error().Block(
			jen.Id("errs").Op(":=").Make(jen.Index().Error(), jen.Len(jen.Id("items"))),
			jen.List(jen.Id("p"), jen.Err()).Op(":=").Id("transitionManyParams").Call(jen.Id("items")),
			jen.If(jen.Err().Op("==").Nil()).Block(
				jen.Var().Id("ids").Index().Qual(pkgUUID, "UUID"),
				jen.List(jen.Id("ids"), jen.Err()).Op("=").Id("d").Dot("q").Dot("TransitionMany").Call(jen.Id("ctx"), jen.Id("p")),
				jen.If(jen.Err().Op("==").Nil()).Block(
					jen.Id("applied").Op(":=").Make(jen.Map(jen.Qual(pkgUUID, "UUID")).Bool(), jen.Len(jen.Id("ids"))),
					jen.For(jen.List(jen.Id("_"), jen.Id("id")).Op(":=").Range().Id("ids")).Block(jen.Id("applied").Index(jen.Id("id")).Op("=").True()),
					jen.For(jen.List(jen.Id("i"), jen.Id("it")).Op(":=").Range().Id("items")).Block(
						jen.If(jen.Op("!").Id("applied").Index(jen.Id("it").Dot("ID"))).Block(jen.Id("errs").Index(jen.Id("i")).Op("=").Qual(pkgPGX, "ErrNoRows"))),
					jen.Return(jen.Id("errs")),
				),
			),
			jen.For(jen.Id("i").Op(":=").Range().Id("errs")).Block(jen.Id("errs").Index(jen.Id("i")).Op("=").Err()),
			jen.Return(jen.Id("errs")),
		)
	} else {
		f.Type().Id("Driver").Struct(jen.Id("db").Op("*").Qual(pkgSQL, "DB"), jen.Id("q").Op("*").Id("Queries"),
			jen.Id("w").Op("*").Qual(pkgSQLiteBackend, "Writer").Comment("group-commits this process's writes (sqlite.Writer)"))
		f.Comment("NewDriver returns a Driver over a database opened by backends/sqlite; its")
		f.Comment("queries run as prepared statements (sqlite.Stmts).")
		f.Func().Id("NewDriver").Params(jen.Id("db").Op("*").Qual(pkgSQL, "DB")).Op("*").Id("Driver").Block(
			jen.Return(jen.Op("&").Id("Driver").Values(jen.Dict{jen.Id("db"): jen.Id("db"), jen.Id("q"): jen.Id("New").Call(jen.Qual(pkgSQLiteBackend, "NewStmts").Call(jen.Id("db"))),
				jen.Id("w"): jen.Qual(pkgSQLiteBackend, "WriterFor").Call(jen.Id("db"))})))
	}
	f.Var().Id("_").Qual(pkgBackends, "Driver").Types(T).Op("=").Parens(jen.Op("*").Id("Driver")).Parens(jen.Nil())

	cols := g.columns(e)
	// encode: the values of every column, JSON encoded where needed.
	encode := func(skip func(column) bool, withBool bool) ([]jen.Code, jen.Dict) {
		g.retBool = withBool
		var pre []jen.Code
		d := jen.Dict{}
		for _, c := range cols {
			if skip != nil && skip(c) {
				continue
			}
			name := c.Field.GoName
			d[jen.Id(name)] = g.toDB(e, c, &pre)
		}
		return pre, d
	}

	// Insert.
	var insertBody []jen.Code
	if pg {
		pre, vals := encode(nil, false)
		vals[jen.Id("TmActor")] = jen.Id("r").Dot("Actor")
		vals[jen.Id("TmMessage")] = jen.Id("r").Dot("Message")
		// Insert hands the task to the group; a lone create (insertOne)
		// encodes it for the single-row statement.
		one := []jen.Code{jen.Id("x").Op(":=").Id("r").Dot(m.Struct)}
		one = append(one, pre...)
		one = append(one,
			jen.List(jen.Id("_"), jen.Err()).Op(assign(pre)).Id("d").Dot("q").Dot("Create").Call(jen.Id("ctx"), jen.Id("CreateParams").Values(vals)),
			jen.Return(jen.Err()),
		)
		f.Comment("insertOne writes one create with the single-row statement.")
		f.Func().Params(jen.Id("d").Op("*").Id("Driver")).Id("insertOne").Params(jen.Id("ctx").Qual("context", "Context"), jen.Id("r").Id("insertRow")).Error().Block(one...)
		insertBody = []jen.Code{
			jen.Return(jen.Id("classify").Call(jen.Id("d").Dot("inserts").Dot("Do").Call(jen.Id("ctx"), jen.Id("insertRow").Values(jen.Dict{
				jen.Id(m.Struct): jen.Id("x"), jen.Id("Actor"): jen.Id("h").Dot("Actor"), jen.Id("Message"): jen.Id("h").Dot("Message"),
			})))),
		}
	} else {
		// A lone create is a batch of one (InsertMany, below).
		insertBody = []jen.Code{jen.Return(jen.Id("d").Dot("InsertMany").Call(jen.Id("ctx"),
			jen.Index().Op("*").Add(T).Values(jen.Id("x")), jen.Index().Qual(pkgBackends, "History").Values(jen.Id("h"))))}
	}
	f.Comment("Insert writes a new task and its first history row.")
	f.Func().Params(jen.Id("d").Op("*").Id("Driver")).Id("Insert").Params(
		jen.Id("ctx").Qual("context", "Context"), jen.Id("x").Op("*").Add(T), jen.Id("h").Qual(pkgBackends, "History")).Error().Block(insertBody...)

	// InsertMany: a bulk create, all or none.
	manyCheck := []jen.Code{
		jen.If(jen.Len(jen.Id("xs")).Op("!=").Len(jen.Id("hs"))).Block(
			jen.Return(jen.Qual("fmt", "Errorf").Call(jen.Lit("InsertMany: %d tasks and %d history rows"), jen.Len(jen.Id("xs")), jen.Len(jen.Id("hs"))))),
		jen.If(jen.Len(jen.Id("xs")).Op("==").Lit(0)).Block(jen.Return(jen.Nil())),
	}
	var manyBody []jen.Code
	if pg {
		f.Comment("InsertMany writes new tasks and their first history rows in one statement,")
		f.Comment("all or none (the statement group-committed creates use); it implements")
		f.Comment("backends.BatchInserter.")
		manyBody = append(manyCheck,
			jen.Id("items").Op(":=").Make(jen.Index().Id("insertRow"), jen.Len(jen.Id("xs"))),
			jen.For(jen.List(jen.Id("i"), jen.Id("x")).Op(":=").Range().Id("xs")).Block(
				jen.Id("items").Index(jen.Id("i")).Op("=").Id("insertRow").Values(jen.Dict{
					jen.Id(m.Struct): jen.Id("x"), jen.Id("Actor"): jen.Id("hs").Index(jen.Id("i")).Dot("Actor"), jen.Id("Message"): jen.Id("hs").Index(jen.Id("i")).Dot("Message"),
				})),
			jen.Return(jen.Id("classify").Call(jen.Id("d").Dot("flushInserts").Call(jen.Id("ctx"), jen.Id("items")).Index(jen.Lit(0)))),
		)
	} else {
		f.Comment("InsertMany writes new tasks and their first history rows in one")
		f.Comment("transaction, all or none; it implements backends.BatchInserter.")
		pre, vals := encode(nil, false)
		loop := []jen.Code{jen.Id("h").Op(":=").Id("hs").Index(jen.Id("i"))}
		loop = append(loop, pre...)
		loop = append(loop,
			jen.If(jen.Err().Op(":=").Id("q").Dot("Insert").Call(jen.Id("ctx"), jen.Id("InsertParams").Values(vals)), jen.Err().Op("!=").Nil()).Block(
				jen.Return(jen.Id("classify").Call(jen.Err()))),
			jen.If(jen.Err().Op(":=").Id("q").Dot("InsertHistory").Call(jen.Id("ctx"), g.histParams(jen.Id("x").Dot("ID"), jen.Nil(), jen.String().Parens(jen.Id("x").Dot("Status")), jen.Nil())), jen.Err().Op("!=").Nil()).Block(
				jen.Return(jen.Err())),
		)
		manyBody = append(manyCheck,
			jen.Return(jen.Id("d").Dot("inTx").Call(jen.Id("ctx"), jen.Func().Params(jen.Id("q").Op("*").Id("Queries")).Error().Block(
				jen.For(jen.List(jen.Id("i"), jen.Id("x")).Op(":=").Range().Id("xs")).Block(loop...),
				jen.Return(jen.Nil()),
			))),
		)
	}
	f.Func().Params(jen.Id("d").Op("*").Id("Driver")).Id("InsertMany").Params(
		jen.Id("ctx").Qual("context", "Context"), jen.Id("xs").Index().Op("*").Add(T), jen.Id("hs").Index().Qual(pkgBackends, "History")).Error().Block(manyBody...)
	f.Var().Id("_").Qual(pkgBackends, "BatchInserter").Types(T).Op("=").Parens(jen.Op("*").Id("Driver")).Parens(jen.Nil())

	// Get.
	f.Comment("Get reads a task.")
	f.Func().Params(jen.Id("d").Op("*").Id("Driver")).Id("Get").Params(jen.Id("ctx").Qual("context", "Context"), jen.Id("id").Qual(pkgUUID, "UUID")).Params(jen.Op("*").Add(T), jen.Error()).Block(
		jen.List(jen.Id("r"), jen.Err()).Op(":=").Id("d").Dot("q").Dot("Get").Call(jen.Id("ctx"), jen.Id("id")),
		jen.If(jen.Err().Op("!=").Nil()).Block(jen.Return(jen.Nil(), jen.Id("classify").Call(jen.Err()))),
		jen.Return(jen.Id("fromRow").Call(jen.Id("r"))),
	)

	// Keys.
	var keysArg jen.Code = jen.Id("ids")
	var keysPre []jen.Code
	if !pg {
		// SQLite reads the ids from a JSON array (json_each): one statement
		// whatever their number.
		keysPre = append(keysPre,
			jen.List(jen.Id("js"), jen.Err()).Op(":=").Qual(pkgJSON, "Marshal").Call(jen.Id("ids")),
			jen.If(jen.Err().Op("!=").Nil()).Block(jen.Return(jen.Nil(), jen.Err())))
		keysArg = jen.String().Parens(jen.Id("js"))
	}
	f.Comment("Keys reads the keys (status and version) of those of the tasks that")
	f.Comment("exist, in one query; it implements backends.KeyReader.")
	f.Func().Params(jen.Id("d").Op("*").Id("Driver")).Id("Keys").Params(jen.Id("ctx").Qual("context", "Context"), jen.Id("ids").Index().Qual(pkgUUID, "UUID")).Params(jen.Index().Qual(pkgBackends, "Key"), jen.Error()).Block(append(keysPre,
		jen.List(jen.Id("rows"), jen.Err()).Op(":=").Add(g.replannedQueries(pg)).Dot("Keys").Call(jen.Id("ctx"), keysArg),
		jen.If(jen.Err().Op("!=").Nil()).Block(jen.Return(jen.Nil(), jen.Id("classify").Call(jen.Err()))),
		jen.Id("out").Op(":=").Make(jen.Index().Qual(pkgBackends, "Key"), jen.Len(jen.Id("rows"))),
		jen.For(jen.List(jen.Id("i"), jen.Id("r")).Op(":=").Range().Id("rows")).Block(
			jen.Id("out").Index(jen.Id("i")).Op("=").Qual(pkgBackends, "Key").Values(jen.Dict{
				jen.Id("ID"): jen.Id("r").Dot("ID"), jen.Id("Status"): jen.Id("r").Dot("Status"), jen.Id("Version"): jen.Id("r").Dot("Version"),
			})),
		jen.Return(jen.Id("out"), jen.Nil()),
	)...)
	f.Var().Id("_").Qual(pkgBackends, "KeyReader").Op("=").Parens(jen.Op("*").Id("Driver")).Parens(jen.Nil())

	// Transition and Update share the column encoding minus id and the
	// columns creation alone writes.
	notKey := func(c column) bool { return c.Primary || createdOnly(c) }
	pre, vals := encode(notKey, true)
	vals[jen.Id("ID")] = jen.Id("from").Dot("ID")
	vals[jen.Id("TmFromStatus")] = jen.Id("from").Dot("Status")
	vals[jen.Id("TmFromVersion")] = jen.Id("from").Dot("Version")
	var trBody []jen.Code
	if !pg {
		trBody = append(trBody, pre...)
	}
	if pg {
		vals[jen.Id("TmEvent")] = jen.Id("h").Dot("Event")
		vals[jen.Id("TmAttempt")] = jen.Int32().Parens(jen.Id("h").Dot("Attempt"))
		vals[jen.Id("TmActor")] = jen.Id("h").Dot("Actor")
		vals[jen.Id("TmMessage")] = jen.Id("h").Dot("Message")
		trBody = append(trBody,
			jen.Err().Op(":=").Id("d").Dot("group").Dot("Do").Call(jen.Id("ctx"), jen.Id("transitionRow").Values(jen.Dict{
				jen.Id(m.Struct): jen.Id("x"), jen.Id("FromStatus"): jen.Id("from").Dot("Status"), jen.Id("FromVersion"): jen.Id("from").Dot("Version"),
				jen.Id("Event"): jen.Id("h").Dot("Event"), jen.Id("Attempt"): jen.Id("h").Dot("Attempt"), jen.Id("Actor"): jen.Id("h").Dot("Actor"), jen.Id("Message"): jen.Id("h").Dot("Message"),
			})),
			jen.If(jen.Qual(pkgErrors, "Is").Call(jen.Err(), jen.Qual(pkgPGX, "ErrNoRows"))).Block(jen.Return(jen.False(), jen.Nil())),
			jen.Return(jen.Err().Op("==").Nil(), jen.Id("classify").Call(jen.Err())),
		)
	} else {
		trBody = append(trBody,
			jen.Id("ok").Op(":=").False(),
			jen.Err().Op(assign(pre)).Id("d").Dot("inTx").Call(jen.Id("ctx"), jen.Func().Params(jen.Id("q").Op("*").Id("Queries")).Error().Block(
				jen.List(jen.Id("n"), jen.Err()).Op(":=").Id("q").Dot("UpdateGuarded").Call(jen.Id("ctx"), jen.Id("UpdateGuardedParams").Values(vals)),
				jen.If(jen.Err().Op("!=").Nil().Op("||").Id("n").Op("!=").Lit(1)).Block(jen.Return(jen.Id("classify").Call(jen.Err()))),
				jen.Id("ok").Op("=").True(),
				jen.Return(jen.Id("q").Dot("InsertHistory").Call(jen.Id("ctx"), g.histParams(jen.Id("from").Dot("ID"), jen.Op("&").Id("from").Dot("Status"), jen.String().Parens(jen.Id("x").Dot("Status")), jen.Op("&").Id("h").Dot("Event")))),
			)),
			jen.Return(jen.Id("ok").Op("&&").Err().Op("==").Nil(), jen.Err()),
		)
	}
	f.Comment("Transition writes x over the task if it still has from's status and version,")
	f.Comment("and appends its history row, atomically; false when the guard fails.")
	f.Func().Params(jen.Id("d").Op("*").Id("Driver")).Id("Transition").Params(
		jen.Id("ctx").Qual("context", "Context"), jen.Id("from").Qual(pkgBackends, "Key"), jen.Id("x").Op("*").Add(T), jen.Id("h").Qual(pkgBackends, "History")).Params(jen.Bool(), jen.Error()).Block(trBody...)

	if pg {
		pre1, vals1 := encode(notKey, false)
		vals1[jen.Id("ID")] = jen.Id("r").Dot("ID")
		vals1[jen.Id("TmFromStatus")] = jen.Id("r").Dot("FromStatus")
		vals1[jen.Id("TmFromVersion")] = jen.Id("r").Dot("FromVersion")
		vals1[jen.Id("TmEvent")] = jen.Id("r").Dot("Event")
		vals1[jen.Id("TmAttempt")] = jen.Int32().Parens(jen.Id("r").Dot("Attempt"))
		vals1[jen.Id("TmActor")] = jen.Id("r").Dot("Actor")
		vals1[jen.Id("TmMessage")] = jen.Id("r").Dot("Message")
		body := append([]jen.Code{jen.Id("x").Op(":=").Id("r").Dot(m.Struct)}, pre1...)
		body = append(body,
			jen.List(jen.Id("n"), jen.Err()).Op(":=").Id("d").Dot("q").Dot("Transition").Call(jen.Id("ctx"), jen.Id("TransitionParams").Values(vals1)),
			jen.If(jen.Err().Op("==").Nil().Op("&&").Id("n").Op("!=").Lit(1)).Block(jen.Return(jen.Qual(pkgPGX, "ErrNoRows"))),
			jen.Return(jen.Err()),
		)
		f.Comment("transitionOne writes one transition with the single-row statement; a")
		f.Comment("failed guard is pgx.ErrNoRows, as in a batch.")
		f.Func().Params(jen.Id("d").Op("*").Id("Driver")).Id("transitionOne").Params(jen.Id("ctx").Qual("context", "Context"), jen.Id("r").Id("transitionRow")).Error().Block(body...)
	}

	notKeyOrStatus := func(c column) bool { return notKey(c) || c.Name == "status" }
	pre, vals = encode(notKeyOrStatus, true)
	vals[jen.Id("ID")] = jen.Id("from").Dot("ID")
	vals[jen.Id("TmFromStatus")] = jen.Id("from").Dot("Status")
	vals[jen.Id("TmFromVersion")] = jen.Id("from").Dot("Version")
	upBody := append(append(pre, writeCall(pg, "n", jen.Int64(), jen.Id("d").Dot("q"), "Update", jen.Id("UpdateParams").Values(vals))...),
		jen.Return(jen.Id("n").Op("==").Lit(1), jen.Id("classify").Call(jen.Err())),
	)
	f.Comment("Update writes x over the task if it still has from's status and version.")
	f.Func().Params(jen.Id("d").Op("*").Id("Driver")).Id("Update").Params(
		jen.Id("ctx").Qual("context", "Context"), jen.Id("from").Qual(pkgBackends, "Key"), jen.Id("x").Op("*").Add(T)).Params(jen.Bool(), jen.Error()).Block(upBody...)

	f.Comment("Delete removes a task and its history.")
	f.Func().Params(jen.Id("d").Op("*").Id("Driver")).Id("Delete").Params(jen.Id("ctx").Qual("context", "Context"), jen.Id("id").Qual(pkgUUID, "UUID")).Params(jen.Bool(), jen.Error()).Block(
		append(writeCall(pg, "n", jen.Int64(), jen.Id("d").Dot("q"), "Delete", jen.Id("id")),
			jen.Return(jen.Id("n").Op("==").Lit(1), jen.Id("classify").Call(jen.Err())),
		)...,
	)

	var terminal bool
	for _, st := range m.Statuses {
		terminal = terminal || st.Terminal
	}
	delBody := []jen.Code{jen.Return(jen.Lit(0), jen.Nil())}
	if terminal {
		delBody = append(writeCall(pg, "n", jen.Int64(), g.replannedQueries(pg), "DeleteFinished", jen.Id("DeleteFinishedParams").Values(jen.Dict{
			jen.Id("TmBefore"): jen.Id("before").Dot("UTC").Call(), jen.Id("TmMaxRows"): limitTypeFor(pg).Parens(jen.Id("limit")),
		})),
			jen.Return(jen.Int().Parens(jen.Id("n")), jen.Id("classify").Call(jen.Err())),
		)
	}
	f.Comment("DeleteFinished removes up to limit finished tasks, and their history, whose")
	f.Comment("last change is older than before; it returns how many it removed.")
	f.Func().Params(jen.Id("d").Op("*").Id("Driver")).Id("DeleteFinished").Params(jen.Id("ctx").Qual("context", "Context"), jen.Id("before").Qual("time", "Time"), jen.Id("limit").Int()).Params(jen.Int(), jen.Error()).Block(delBody...)

	f.Comment("History returns a task's history in order.")
	f.Func().Params(jen.Id("d").Op("*").Id("Driver")).Id("History").Params(jen.Id("ctx").Qual("context", "Context"), jen.Id("id").Qual(pkgUUID, "UUID")).Params(jen.Index().Qual(pkgBackends, "History"), jen.Error()).Block(
		jen.List(jen.Id("rows"), jen.Err()).Op(":=").Id("d").Dot("q").Dot("History").Call(jen.Id("ctx"), jen.Id("id")),
		jen.If(jen.Err().Op("!=").Nil()).Block(jen.Return(jen.Nil(), jen.Id("classify").Call(jen.Err()))),
		jen.Id("out").Op(":=").Make(jen.Index().Qual(pkgBackends, "History"), jen.Len(jen.Id("rows"))),
		jen.For(jen.List(jen.Id("i"), jen.Id("r")).Op(":=").Range().Id("rows")).Block(
			jen.Id("out").Index(jen.Id("i")).Op("=").Qual(pkgBackends, "History").Values(jen.Dict{
				jen.Id("Seq"): jen.Id("r").Dot("Seq"), jen.Id("From"): jen.Qual(pkgBackends, "Deref").Call(jen.Id("r").Dot("FromStatus")),
				jen.Id("To"): jen.Id("r").Dot("ToStatus"), jen.Id("Event"): jen.Qual(pkgBackends, "Deref").Call(jen.Id("r").Dot("Event")),
				jen.Id("At"): jen.Id("r").Dot("At").Dot("UTC").Call(), jen.Id("Attempt"): jen.Int().Parens(jen.Id("r").Dot("Attempt")),
				jen.Id("Actor"): jen.Id("r").Dot("Actor"), jen.Id("Message"): jen.Id("r").Dot("Message"),
			}),
		),
		jen.Return(jen.Id("out"), jen.Nil()),
	)

	limitType := jen.Int64()
	if pg {
		limitType = jen.Int32()
	}
	f.Comment("ListByStatus returns up to limit tasks in a status, oldest first.")
	f.Func().Params(jen.Id("d").Op("*").Id("Driver")).Id("ListByStatus").Params(jen.Id("ctx").Qual("context", "Context"), jen.Id("status").String(), jen.Id("limit").Int()).Params(jen.Index().Op("*").Add(T), jen.Error()).Block(
		jen.List(jen.Id("rows"), jen.Err()).Op(":=").Add(g.replannedQueries(pg)).Dot("ListByStatus").Call(jen.Id("ctx"), jen.Id("ListByStatusParams").Values(jen.Dict{
			jen.Id("TmStatus"): jen.Id("status"), jen.Id("TmMaxRows"): limitType.Clone().Parens(jen.Id("limit")),
		})),
		jen.Return(jen.Id("fromRows").Call(jen.Id("rows"), jen.Err())),
	)

	// Due.
	dueParams := jen.Dict{jen.Id("TmMaxRows"): limitType.Clone().Parens(jen.Id("limit"))}
	hasDue := false
	for _, s := range m.Statuses {
		t := s.Timeout
		if t == nil {
			continue
		}
		hasDue = true
		deadline := jen.Id("now").Dot("Add").Call(jen.Op("-").Add(durationLit(t.After))).Dot("UTC").Call()
		field := m.FieldByName(s.EnteredAt)
		if field != nil && field.Optional && !pg {
			deadline = jen.Qual(pkgBackends, "Ptr").Call(deadline)
		}
		dueParams[jen.Id(SQLCName("tm_"+GoNameToSnake(s.GoName)+"_deadline"))] = deadline
	}
	f.Comment("Due returns up to limit tasks whose status timeout has passed at now.")
	dueBody := []jen.Code{jen.Return(jen.Nil(), jen.Nil())}
	if hasDue {
		dueBody = []jen.Code{
			jen.List(jen.Id("rows"), jen.Err()).Op(":=").Add(g.replannedQueries(pg)).Dot("Due").Call(jen.Id("ctx"), jen.Id("DueParams").Values(dueParams)),
			jen.Return(jen.Id("fromRows").Call(jen.Id("rows"), jen.Err())),
		}
	}
	f.Func().Params(jen.Id("d").Op("*").Id("Driver")).Id("Due").Params(jen.Id("ctx").Qual("context", "Context"), jen.Id("now").Qual("time", "Time"), jen.Id("limit").Int()).Params(jen.Index().Op("*").Add(T), jen.Error()).Block(dueBody...)
	g.workerDriver(f, e)
	if !pg {
		g.changesDriver(f)
	}

	// Row decoding.
	var fields []jen.Code
	var post []jen.Code
	d := jen.Dict{}
	for _, c := range cols {
		g.fromDB(e, c, d, &post)
	}
	fields = append(fields, jen.Id("x").Op(":=").Op("&").Add(T).Values(d))
	fields = append(fields, post...)
	fields = append(fields, jen.Return(jen.Id("x"), jen.Nil()))
	f.Func().Id("fromRow").Params(jen.Id("r").Id(rowType)).Params(jen.Op("*").Add(T), jen.Error()).Block(fields...)
	f.Func().Id("fromRows").Params(jen.Id("rows").Index().Id(rowType), jen.Err().Error()).Params(jen.Index().Op("*").Add(T), jen.Error()).Block(
		jen.If(jen.Err().Op("!=").Nil()).Block(jen.Return(jen.Nil(), jen.Id("classify").Call(jen.Err()))),
		jen.Id("out").Op(":=").Make(jen.Index().Op("*").Add(T), jen.Lit(0), jen.Len(jen.Id("rows"))),
		jen.For(jen.List(jen.Id("_"), jen.Id("r")).Op(":=").Range().Id("rows")).Block(
			jen.List(jen.Id("x"), jen.Err()).Op(":=").Id("fromRow").Call(jen.Id("r")),
			jen.If(jen.Err().Op("!=").Nil()).Block(jen.Return(jen.Nil(), jen.Err())),
			jen.Id("out").Op("=").Append(jen.Id("out"), jen.Id("x")),
		),
		jen.Return(jen.Id("out"), jen.Nil()),
	)

	// Error classification and transactions.
	if pg {
		f.Comment("classify maps driver errors to the tasktype error values.")
		f.Func().Id("classify").Params(jen.Err().Error()).Error().Block(
			jen.Var().Id("pgErr").Op("*").Qual(pkgPGConn, "PgError"),
			jen.Switch().Block(
				jen.Case(jen.Err().Op("==").Nil()).Block(jen.Return(jen.Nil())),
				jen.Case(jen.Qual(pkgErrors, "Is").Call(jen.Err(), jen.Qual(pkgPGX, "ErrNoRows"))).Block(jen.Return(jen.Qual(pkgTasktype, "ErrNotFound"))),
				jen.Case(jen.Qual(pkgErrors, "As").Call(jen.Err(), jen.Op("&").Id("pgErr")).Op("&&").Id("pgErr").Dot("Code").Op("==").Lit("23505")).Block(
					jen.Return(jen.Qual("fmt", "Errorf").Call(jen.Lit("%w: %s"), jen.Qual(pkgTasktype, "ErrDuplicate"), jen.Id("pgErr").Dot("Detail")))),
			),
			jen.Return(jen.Err()),
		)
	} else {
		f.Comment("classify maps driver errors to the tasktype error values.")
		f.Func().Id("classify").Params(jen.Err().Error()).Error().Block(
			jen.Switch().Block(
				jen.Case(jen.Err().Op("==").Nil()).Block(jen.Return(jen.Nil())),
				jen.Case(jen.Qual(pkgErrors, "Is").Call(jen.Err(), jen.Qual(pkgSQL, "ErrNoRows"))).Block(jen.Return(jen.Qual(pkgTasktype, "ErrNotFound"))),
				jen.Case(jen.Qual(pkgSQLiteBackend, "IsUniqueViolation").Call(jen.Err())).Block(
					jen.Return(jen.Qual("fmt", "Errorf").Call(jen.Lit("%w: %v"), jen.Qual(pkgTasktype, "ErrDuplicate"), jen.Err()))),
			),
			jen.Return(jen.Err()),
		)
		f.Comment("inTx runs fn in a transaction, rolled back on error, that it shares with the")
		f.Comment("writes of this process that queue meanwhile (sqlite.Writer): fn may run twice.")
		f.Func().Params(jen.Id("d").Op("*").Id("Driver")).Id("inTx").Params(jen.Id("ctx").Qual("context", "Context"), jen.Id("fn").Func().Params(jen.Op("*").Id("Queries")).Error()).Error().Block(
			jen.Return(jen.Id("d").Dot("w").Dot("Do").Call(jen.Id("ctx"), jen.Func().Params(jen.Id("tx").Qual(pkgSQLiteBackend, "DBTX")).Error().Block(
				jen.Return(jen.Id("fn").Call(jen.Id("New").Call(jen.Id("tx")))),
			))),
		)
	}
}

func limitTypeFor(pg bool) *jen.Statement {
	if pg {
		return jen.Int32()
	}
	return jen.Int64()
}

// assign is := unless the JSON encoding before a call has declared err.
func assign(pre []jen.Code) string {
	if len(pre) > 0 {
		return "="
	}
	return ":="
}

// histParams builds the SQLite InsertHistoryParams literal.
func (g *generator) histParams(id, from, to, event jen.Code) jen.Code {
	return jen.Id("InsertHistoryParams").Values(jen.Dict{
		jen.Id("TmTaskID"): id, jen.Id("TmFromStatus"): from, jen.Id("TmToStatus"): to, jen.Id("TmEvent"): event,
		jen.Id("TmAt"): jen.Id("h").Dot("At").Dot("UTC").Call(), jen.Id("TmAttempt"): jen.Int64().Parens(jen.Id("h").Dot("Attempt")),
		jen.Id("TmActor"): jen.Id("h").Dot("Actor"), jen.Id("TmMessage"): jen.Id("h").Dot("Message"),
	})
}

// toDB returns the expression of a column's value for sqlc; JSON encoding
// is appended to pre as statements that set a local variable.
func (g *generator) toDB(e Engine, c column, pre *[]jen.Code) jen.Code {
	f := c.Field
	x := jen.Id("x").Dot(f.GoName)
	switch k := f.Type.Kind; {
	case c.JSON:
		v := "j" + f.GoName
		var enc jen.Code
		switch {
		case k == spec.KindList && !f.Optional:
			enc = jen.Qual(pkgBackends, "JSONList").Call(x)
		case k == spec.KindList || k == spec.KindJSON:
			enc = jen.Qual(pkgBackends, "JSONNullable").Call(x, jen.Lit(!f.Optional))
		case f.Optional:
			enc = jen.Qual(pkgBackends, "JSONPointer").Call(x)
		default:
			enc = jen.Qual(pkgJSON, "Marshal").Call(x)
		}
		*pre = append(*pre,
			jen.List(jen.Id(v), jen.Err()).Op(":=").Add(enc),
			jen.If(jen.Err().Op("!=").Nil()).Block(g.encodeFailed(f.Name)),
		)
		if e == PostgreSQL {
			return jen.Id(v)
		}
		if f.Optional {
			return jen.Qual(pkgBackends, "TextPointer").Call(jen.Id(v))
		}
		return jen.String().Parens(jen.Id(v))
	case k == spec.KindTime:
		if f.Optional {
			return jen.Qual(pkgBackends, "UTC").Call(x)
		}
		return x.Dot("UTC").Call()
	case k == spec.KindDuration:
		if f.Optional {
			return jen.Parens(jen.Op("*").Int64()).Parens(x)
		}
		return jen.Int64().Parens(x)
	case k == spec.KindStatus || k == spec.KindErrorCode || k == spec.KindEnum:
		if f.Optional {
			return jen.Parens(jen.Op("*").String()).Parens(x)
		}
		return jen.String().Parens(x)
	}
	return x
}

// encodeFailed returns from the enclosing driver method when a JSON column
// cannot be encoded: Insert returns an error, Transition and Update a bool
// too. The encoding happens before any query in all three.
func (g *generator) encodeFailed(field string) jen.Code {
	err := jen.Qual("fmt", "Errorf").Call(jen.Lit(field+": %w"), jen.Err())
	if g.retParams {
		return jen.Return(jen.Id("p"), err)
	}
	if g.retBool {
		return jen.Return(jen.False(), err)
	}
	return jen.Return(err)
}

// fromDB sets the model field of a column from sqlc's row r.
func (g *generator) fromDB(e Engine, c column, d jen.Dict, post *[]jen.Code) {
	f := c.Field
	r := jen.Id("r").Dot(f.GoName)
	model := g.importPath
	typeOf := func(t *spec.TypeRef) jen.Code {
		switch t.Kind {
		case spec.KindStatus:
			return jen.Qual(model, "Status")
		case spec.KindErrorCode:
			return jen.Qual(model, "ErrorCode")
		case spec.KindEnum:
			return jen.Qual(model, t.Enum.Name)
		}
		return nil
	}
	switch k := f.Type.Kind; {
	case c.JSON:
		src := r
		if e == SQLite {
			if f.Optional {
				src = jen.Qual(pkgBackends, "TextBytes").Call(r)
			} else {
				src = jen.Index().Byte().Parens(r)
			}
		}
		*post = append(*post,
			jen.If(jen.Err().Op(":=").Qual(pkgBackends, "DecodeJSON").Call(src, jen.Op("&").Id("x").Dot(f.GoName)), jen.Err().Op("!=").Nil()).Block(
				jen.Return(jen.Nil(), jen.Qual("fmt", "Errorf").Call(jen.Lit(f.Name+": %w"), jen.Err()))))
	case k == spec.KindTime:
		if f.Optional {
			d[jen.Id(f.GoName)] = jen.Qual(pkgBackends, "UTC").Call(r)
		} else {
			d[jen.Id(f.GoName)] = r.Dot("UTC").Call()
		}
	case k == spec.KindDuration:
		if f.Optional {
			d[jen.Id(f.GoName)] = jen.Parens(jen.Op("*").Qual("time", "Duration")).Parens(r)
		} else {
			d[jen.Id(f.GoName)] = jen.Qual("time", "Duration").Parens(r)
		}
	case k == spec.KindStatus || k == spec.KindErrorCode || k == spec.KindEnum:
		if f.Optional {
			d[jen.Id(f.GoName)] = jen.Parens(jen.Op("*").Add(typeOf(f.Type))).Parens(r)
		} else {
			d[jen.Id(f.GoName)] = jen.Add(typeOf(f.Type)).Parens(r)
		}
	default:
		d[jen.Id(f.GoName)] = r
	}
}

// writeCall returns `lhs, err := <queries>.<method>(ctx, args)`. On SQLite
// the call runs through sqlite.Write, so that the write is group-committed
// with the process's other writes (sqlite.Writer); typ is its result's
// type. PostgreSQL's row locks queue writers fairly: the call runs on
// queries.
func writeCall(pg bool, lhs string, typ jen.Code, queries *jen.Statement, method string, args jen.Code) []jen.Code {
	if pg {
		return []jen.Code{jen.List(jen.Id(lhs), jen.Err()).Op(":=").Add(queries).Dot(method).Call(jen.Id("ctx"), args)}
	}
	return []jen.Code{
		jen.List(jen.Id(lhs), jen.Err()).Op(":=").Qual(pkgSQLiteBackend, "Write").Call(jen.Id("ctx"), jen.Id("d").Dot("w"),
			jen.Func().Params(jen.Id("tx").Qual(pkgSQLiteBackend, "DBTX")).Params(typ, jen.Error()).Block(
				jen.Return(jen.Id("New").Call(jen.Id("tx")).Dot(method).Call(jen.Id("ctx"), args)),
			)),
	}
}

// batchParams emits fn, which turns a group-committed batch of items (of
// type item, each embedding the task) into the parameters of a PostgreSQL
// batch statement (sqlc's params): one array per column but those skip
// names, a NULL-marking array per nullable column that is not JSON, and the
// arrays of extra, each a parameter and the item's field that fills it.
func (g *generator) batchParams(f *jen.File, fn, item, params string, skip func(column) bool, extra [][2]string) {
	var grow, fill []jen.Code
	field := func(param string) *jen.Statement { return jen.Id("p").Dot(SQLCName(param)) }
	appendTo := func(param string, v jen.Code) jen.Code {
		return field(param).Op("=").Append(field(param), v)
	}
	g.retParams = true
	defer func() { g.retParams = false }()
	fill = append(fill, jen.Id("x").Op(":=").Id("it").Dot(g.m.Struct))
	for _, c := range g.columns(PostgreSQL) {
		if skip != nil && skip(c) {
			continue
		}
		name := c.Field.GoName
		v := g.toDB(PostgreSQL, c, &fill)
		grow = append(grow, jen.Id("p").Dot(name).Op("=").Qual("slices", "Grow").Call(jen.Id("p").Dot(name), jen.Len(jen.Id("items"))))
		if !c.NotNull && !c.JSON {
			flag := NullFlag(c.Name)
			grow = append(grow, field(flag).Op("=").Qual("slices", "Grow").Call(field(flag), jen.Len(jen.Id("items"))))
			fill = append(fill, jen.List(jen.Id("p").Dot(name), field(flag)).Op("=").Qual(pkgBackends, "AppendNullable").Call(jen.Id("p").Dot(name), field(flag), v))
			continue
		}
		fill = append(fill, jen.Id("p").Dot(name).Op("=").Append(jen.Id("p").Dot(name), v))
	}
	for _, x := range extra {
		grow = append(grow, field(x[0]).Op("=").Qual("slices", "Grow").Call(field(x[0]), jen.Len(jen.Id("items"))))
		v := jen.Id("it").Dot(x[1])
		if x[0] == "tm_attempt" {
			v = jen.Int32().Call(v)
		}
		fill = append(fill, appendTo(x[0], v))
	}
	body := append(grow, jen.For(jen.List(jen.Id("_"), jen.Id("it")).Op(":=").Range().Id("items")).Block(fill...), jen.Return(jen.Id("p"), jen.Nil()))
	f.Comment(fmt.Sprintf("%s turns a batch into %s: an array per column.", fn, params))
	f.Func().Id(fn).Params(jen.Id("items").Index().Id(item)).Params(jen.Id("p").Id(params), jen.Err().Error()).Block(body...)
}

// replannedQueries is where a driver runs its claims and periodic statements: on
// PostgreSQL the queries replanned at each execution (postgres.Replanned),
// whose plans follow the table's size. TransitionMany, the most frequent,
// keeps its prepared statement: parsing and planning its text at every
// batch cost the worker benchmark about 5 %. Its generic plan, if made while
// the table holds a few pages, hashes a sequential scan of the table, until
// the table's first ANALYZE.
func (g *generator) replannedQueries(pg bool) *jen.Statement {
	if pg {
		return jen.Id("d").Dot("replanned")
	}
	return jen.Id("d").Dot("q")
}
