package gen

import (
	"fmt"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/dave/jennifer/jen"

	"github.com/taskmodel/taskmodel/tools/taskgen/internal/spec"
)

// CatalogPackage is the directory and package, next to the model packages,
// of the unified listing across models.
const CatalogPackage = "catalog"

// Listed reports whether a model is part of the unified listing: every
// status has a unified code.
func Listed(m *spec.Model) bool { return m.HasCodes }

// tagField returns the model's tag field (a string named tag), or nil.
func tagField(m *spec.Model) *spec.Field {
	if f := m.FieldByName("tag"); f != nil && f.Type.Kind == spec.KindString {
		return f
	}
	return nil
}

// ownerField returns the model's owner field (the api section's owner, a
// string), or nil.
func ownerField(m *spec.Model) *spec.Field {
	if m.API != nil && m.API.Owner != nil && m.API.Owner.Type.Kind == spec.KindString {
		return m.API.Owner
	}
	return nil
}

// endDateFields returns the fields whose first non-null value is the time a
// task finished: end_date if the model has it, else the entry timestamps of
// its terminal statuses.
func endDateFields(m *spec.Model) []*spec.Field {
	if f := m.FieldByName("end_date"); f != nil && f.Type.Kind == spec.KindTime {
		return []*spec.Field{f}
	}
	var out []*spec.Field
	seen := map[string]bool{}
	for _, s := range m.Statuses {
		if s.Terminal && s.EnteredAt != "" && !seen[s.EnteredAt] {
			if f := m.FieldByName(s.EnteredAt); f != nil {
				seen[s.EnteredAt] = true
				out = append(out, f)
			}
		}
	}
	return out
}

// endDateExpr returns the SQL of a task's end date: the first non-null of
// its end-date fields, each written by field, or none without one.
func endDateExpr(m *spec.Model, field func(*spec.Field) string, none string) string {
	fs := endDateFields(m)
	switch len(fs) {
	case 0:
		return none
	case 1:
		return field(fs[0])
	}
	var cols []string
	for _, f := range fs {
		cols = append(cols, field(f))
	}
	return "coalesce(" + strings.Join(cols, ", ") + ")"
}

// listRowMethod emits ListRow: the task as a row of the unified listing.
func (g *generator) listRowMethod(f *jen.File) {
	m := g.m
	if !Listed(m) {
		return
	}
	d := jen.Dict{
		jen.Id("ID"): jen.Id("x").Dot("ID"), jen.Id("TaskType"): jen.Id("ModelName"),
		jen.Id("TaskStatus"): jen.Id("x").Dot("Status").Dot("Code").Call(), jen.Id("CreatedAt"): jen.Id("x").Dot("CreatedAt"),
	}
	body := []jen.Code{}
	if t := tagField(m); t != nil {
		if t.Optional {
			d[jen.Id("Tag")] = jen.Id("x").Dot(t.GoName)
		} else {
			d[jen.Id("Tag")] = jen.Op("&").Id("x").Dot(t.GoName)
		}
	}
	body = append(body, jen.Id("r").Op(":=").Qual(pkgTasktype, "Row").Values(d))
	for _, e := range endDateFields(m) {
		v := jen.Id("x").Dot(e.GoName)
		if !e.Optional {
			v = jen.Op("&").Id("x").Dot(e.GoName)
		}
		body = append(body, jen.If(jen.Id("r").Dot("EndDate").Op("==").Nil()).Block(jen.Id("r").Dot("EndDate").Op("=").Add(v)))
	}
	body = append(body, jen.Return(jen.Id("r")))
	f.Comment("ListRow returns the task as a row of the unified listing across models.")
	f.Func().Params(jen.Id("x").Op("*").Id(m.Struct)).Id("ListRow").Params().Qual(pkgTasktype, "Row").Block(body...)
	f.Comment("IsFinished reports whether the task is in a terminal status: the listing's")
	f.Comment("time window keeps unfinished tasks whenever they were created.")
	f.Func().Params(jen.Id("x").Op("*").Id(m.Struct)).Id("IsFinished").Params().Bool().Block(jen.Return(jen.Id("x").Dot("Status").Dot("IsTerminal").Call()))
}

// CatalogFiles renders the catalog package for the listed models, whose
// packages live in importBase/<package>: the listing query of each engine,
// its listers, and Models and Migrations across the models.
func CatalogFiles(models []*spec.Model, importBase string) (map[string][]byte, error) {
	var listed []*spec.Model
	for _, m := range models {
		if Listed(m) {
			listed = append(listed, m)
		}
	}
	if len(listed) == 0 {
		return nil, nil
	}
	files := map[string][]byte{}
	for _, e := range SQLCEngines {
		files["sql/"+string(e)+"/query.sql"] = catalogSQL(listed, e)
		f := jen.NewFile(SQLCPackages[e])
		f.HeaderComment(Header)
		f.ImportName(pkgBackends, "backends")
		f.ImportName(pkgTasktype, "tasktype")
		catalogLister(f, listed, e)
		var buf strings.Builder
		if err := f.Render(&buf); err != nil {
			return nil, err
		}
		files[SQLCPackages[e]+"/lister.go"] = []byte(buf.String())
	}
	files[MySQLPackage+"/"+MySQLQueryFile] = catalogMySQL(listed)
	mf := jen.NewFile(MySQLPackage)
	mf.HeaderComment(Header)
	mf.ImportAlias(pkgMySQLBackend, "mysqlbackend")
	mf.Anon("embed")
	mf.Comment("branches hold the listing's branches, which the Lister composes per request.")
	mf.Comment("//go:embed " + MySQLQueryFile)
	mf.Var().Id("branches").String()
	mf.Comment("NewLister returns the unified listing over a MySQL or MariaDB database that")
	mf.Comment("holds every listed model.")
	mf.Func().Id("NewLister").Params(jen.Id("db").Op("*").Qual(pkgSQL, "DB")).Op("*").Qual(pkgMySQLBackend, "Lister").Block(
		jen.Return(jen.Qual(pkgMySQLBackend, "NewLister").Call(jen.Id("db"), jen.Id("branches"))))
	var mbuf strings.Builder
	if err := mf.Render(&mbuf); err != nil {
		return nil, err
	}
	files[MySQLPackage+"/lister.go"] = []byte(mbuf.String())
	f := jen.NewFile(CatalogPackage)
	f.HeaderComment(Header)
	f.ImportName(pkgBackends, "backends")
	f.ImportName(pkgTasktype, "tasktype")
	names := make([]string, len(listed))
	for i, m := range listed {
		names[i] = m.Name
	}
	f.PackageComment(fmt.Sprintf("Package %s lists tasks across the models %s: the unified\n/tasks listing, newest first, with every filter pushed into each\nmodel's branch of one UNION ALL query (see sql/).", CatalogPackage, strings.Join(names, ", ")))
	var entries, migs []jen.Code
	for _, m := range listed {
		ip := path.Join(importBase, m.Package)
		f.ImportName(ip, m.Package)
		entries = append(entries, jen.Values(jen.Dict{
			jen.Id("Name"): jen.Qual(ip, "ModelName"), jen.Id("Owner"): jen.Lit(ownerField(m) != nil),
			jen.Id("Statuses"): jen.Func().Params().Index().String().Block(
				jen.Return(jen.Id("names").Call(jen.Qual(ip, "Statuses").Call()))),
			jen.Id("StatusesWithCode"): jen.Func().Params(jen.Id("c").Qual(pkgTasktype, "Code")).Index().String().Block(
				jen.Return(jen.Id("names").Call(jen.Qual(ip, "StatusesWithCode").Call(jen.Id("c"))))),
		}))
		migs = append(migs, jen.Id("out").Op("=").Append(jen.Id("out"), jen.Qual(ip, "Migrations").Call(jen.Id("engine")).Op("...")))
	}
	f.Comment("Models returns the models of the unified listing, for backends.NewCatalog.")
	f.Func().Id("Models").Params().Index().Qual(pkgBackends, "CatalogModel").Block(
		jen.Return(jen.Index().Qual(pkgBackends, "CatalogModel").Values(entries...)))
	f.Comment("Migrations returns the migrations of every listed model for an engine:")
	f.Comment("the listing reads all their tables.")
	f.Func().Id("Migrations").Params(jen.Id("engine").String()).Index().Qual(pkgTasktype, "Migration").Block(
		append(append([]jen.Code{jen.Var().Id("out").Index().Qual(pkgTasktype, "Migration")}, migs...), jen.Return(jen.Id("out")))...)
	f.Func().Id("names").Types(jen.Id("S").Op("~").String()).Params(jen.Id("s").Index().Id("S")).Index().String().Block(
		jen.Id("out").Op(":=").Make(jen.Index().String(), jen.Len(jen.Id("s"))),
		jen.For(jen.List(jen.Id("i"), jen.Id("v")).Op(":=").Range().Id("s")).Block(jen.Id("out").Index(jen.Id("i")).Op("=").String().Parens(jen.Id("v"))),
		jen.Return(jen.Id("out")),
	)
	var buf strings.Builder
	if err := f.Render(&buf); err != nil {
		return nil, err
	}
	files["catalog.go"] = []byte(buf.String())
	serve, err := catalogServe(listed, importBase)
	if err != nil {
		return nil, err
	}
	files["serve.go"] = serve
	if files["openapi.json"], err = OpenAPI(listed); err != nil {
		return nil, err
	}
	if files["openapi.go"], err = openAPIFile(); err != nil {
		return nil, err
	}
	return files, nil
}

// statusesParam names the per-model parameter holding the statuses to keep.
func statusesParam(m *spec.Model) string { return "tm_" + m.Name + "_statuses" }

// catalogBranch renders one model's branch of the listing: every filter is
// applied here, and the branch is cut to the first top rows, newest first,
// before the union.
func catalogBranch(m *spec.Model, e Engine, pushdown bool) string {
	sel, code, text := branchSelect(m, e, pushdown)
	if !pushdown {
		return sel
	}
	// One branch per status, so that each reads the (status, created_at DESC,
	// id DESC) index in order and stops after tm_top rows: an = ANY(array) on
	// the index's leading column would make PostgreSQL fetch and sort every
	// matching row. The guard involves only a parameter: PostgreSQL makes it
	// a one-time filter and SQLite evaluates it once, so a status (or model)
	// the filter leaves out is not read at all. The window keeps unfinished
	// statuses whatever their age, so only terminal ones get a time bound.
	var out []string
	for _, b := range listBranches(m, e, sel, code, text) {
		out = append(out, b.sql)
	}
	return strings.Join(out, "\x00")
}

// branchSpelling returns the engine's spelling in a branch: by picks
// PostgreSQL's, SQLite's or MySQL's text; col and field name a column of
// the branch's table. Each branch is a scope of its own, so every table is
// t: shorter text matters to SQLite, which parses the statement on every
// execution. MySQL's field columns are quoted, as its schema writes them.
func branchSpelling(e Engine) (by func(pgText, sqliteText, mysqlText string) string, col, field func(name string) string) {
	by = func(pgText, sqliteText, mysqlText string) string {
		switch e {
		case PostgreSQL:
			return pgText
		case MySQL:
			return mysqlText
		}
		return sqliteText
	}
	col = func(name string) string { return "t." + name }
	field = func(name string) string { return "t." + by(name, name, mysqlIdent(name)) }
	return by, col, field
}

// branchSelect returns a model's select list and FROM for the listing (with
// the finished column for the naive design), the CASE arms that turn its
// statuses into codes, and the engine's text type.
func branchSelect(m *spec.Model, e Engine, pushdown bool) (sel string, code []string, text string) {
	by, col, field := branchSpelling(e)
	var open []string
	for _, s := range m.Statuses {
		code = append(code, fmt.Sprintf("WHEN %s THEN '%s'", quoteSQL(s.Name), s.Code))
		if !s.Terminal {
			open = append(open, s.Name)
		}
	}
	tagExpr := by("NULL::text", "CAST(NULL AS TEXT)", "CAST(NULL AS CHAR)")
	if f := tagField(m); f != nil {
		tagExpr = field(f.Name)
	}
	endExpr := endDateExpr(m, func(f *spec.Field) string { return field(f.Name) }, by("NULL::timestamptz", "CAST(NULL AS DATETIME)", "CAST(NULL AS DATETIME(6))"))
	finished := "true"
	if len(open) > 0 {
		finished = "NOT (" + inList(col("status"), open) + ")"
	}
	extra := ""
	if !pushdown {
		extra = ", " + finished + " AS finished"
	}
	text = by("text", "TEXT", "CHAR")
	sel = fmt.Sprintf("SELECT %s, %s AS task_type, CAST(CASE %s %s END AS %s) AS task_status, %s AS tag, %s, %s AS end_date%s FROM %s",
		col("id"), by(quoteSQL(m.Name)+"::text", "CAST("+quoteSQL(m.Name)+" AS TEXT)", "CAST("+quoteSQL(m.Name)+" AS CHAR)"), col("status"), strings.Join(code, " "),
		text, tagExpr, col("created_at"), endExpr, extra, m.Name+" AS t")
	return sel, code, text
}

// listBranch is one branch of the listing: a model's status under one
// combination of the tag and owner filters.
type listBranch struct {
	status  string
	variant string // "", "tag", "owner" or "owner tag": the filters it serves (MySQL)
	sql     string
}

// listBranches renders the branches of one model, one per status and
// filter; sel is the model's select list (its status code a CASE, which each
// branch replaces by its status's code).
func listBranches(m *spec.Model, e Engine, sel string, code []string, text string) []listBranch {
	pg := e == PostgreSQL
	by, col, field := branchSpelling(e)
	var branches []listBranch
	caseExpr := "CAST(CASE " + col("status") + " " + strings.Join(code, " ") + " END AS " + text + ")"
	statuses := m.Statuses
	if e == MySQL {
		// MySQL's Lister runs this branch on its own, before the listing
		// (SQLite's and PostgreSQL's run undeclaredSQL).
		statuses = append(slices.Clone(statuses), &spec.Status{Name: UndeclaredBranch})
	}
	for _, s := range statuses {
		undeclared := s.Name == UndeclaredBranch
		var guard, codeExpr, statusCond string
		switch {
		case undeclared:
			// MySQL only: the tasks of the statuses the walk finds, each
			// read through the status index (STRAIGHT_JOIN: the walk's
			// rows, none unless such a task exists, drive the join).
		case pg:
			guard = fmt.Sprintf("%s = ANY(sqlc.arg(%s)::text[])", quoteSQL(s.Name), statusesParam(m))
		default:
			// A function of the parameter alone, which SQLite evaluates once
			// before the loop (an EXISTS over json_each ran once per row).
			guard = fmt.Sprintf("instr(sqlc.arg(%s), '%s') > 0", statusesParam(m), strconv.Quote(s.Name))
		}
		one := sel
		if undeclared {
			codeExpr = "CAST(CONCAT('" + UndeclaredMark + "', " + col("status") + ") AS CHAR)"
			statusCond = col("status") + " = s.v"
			one = strings.Replace(one, " FROM "+m.Name+" AS t", " FROM "+undeclaredStatuses(m, e)+" AS s STRAIGHT_JOIN "+m.Name+" AS t", 1)
		} else {
			codeExpr = by("'"+s.Code+"'::text", "CAST('"+s.Code+"' AS TEXT)", "CAST('"+s.Code+"' AS CHAR)")
			statusCond = col("status") + " = " + quoteSQL(s.Name)
		}
		one = strings.Replace(one, caseExpr, codeExpr, 1)
		// Without a tag column, the branch reads nothing when a tag is asked
		// for; with one, a tag filter reads (tag, status, created_at) and no
		// tag filter reads (status, created_at), each behind its own guard.
		// Those read every owner's tasks (an admin's listing); with an owner
		// column, a listing by owner reads (owner, status, created_at) in a
		// branch of its own, the tag (if asked for) a filter on the owner's
		// rows. Without an owner column, a listing by owner reads nothing.
		// A variant is its parameter-only guards and its column conditions.
		// MySQL's Lister composes each request's statement of the branches
		// its filters make possible, so its branches have no guards and a
		// listing by owner with a tag has a branch of its own.
		type variant struct {
			name          string
			guards, conds []string
		}
		tagNull := pick(pg, "sqlc.narg(tm_tag)::text IS NULL", "sqlc.narg(tm_tag) IS NULL")
		tagSet := pick(pg, "sqlc.narg(tm_tag)::text IS NOT NULL", "sqlc.narg(tm_tag) IS NOT NULL")
		// On SQLite a parameter compared to an indexed column is written +?
		// (a no-op on any value): SQLite built with STAT4, as modernc.org's
		// is, re-prepares a statement whose plan read a bound value each
		// time that value changes, once sqlite_stat4 holds statistics (after
		// an ANALYZE or PRAGMA optimize). This listing's statement has over a
		// hundred branches; re-parsing it on every call took the unified listing's example
		// queries over 1,000,000 tasks from 1–4 ms to 7–12 ms at p99.
		arg := func(a string) string { return by(a, "+"+a, a) }
		// MySQL's utf8mb4_bin pads ('a' = 'a '): equal lengths too make the
		// comparison exact, as on SQLite and PostgreSQL, and keep the index.
		exact := func(col, param string) string {
			if e != MySQL {
				return ""
			}
			return " AND CHAR_LENGTH(" + col + ") = CHAR_LENGTH(" + param + ")"
		}
		tagEq := field("tag") + pick(pg, " = sqlc.narg(tm_tag)::text", " = "+arg("sqlc.narg(tm_tag)")) + exact(field("tag"), "sqlc.narg(tm_tag)")
		ownerNull := pick(pg, "sqlc.narg(tm_owner)::text IS NULL", "sqlc.narg(tm_owner) IS NULL")
		ownerSet := pick(pg, "sqlc.narg(tm_owner)::text IS NOT NULL", "sqlc.narg(tm_owner) IS NOT NULL")
		variants := []variant{{guards: []string{tagNull, ownerNull}}}
		if tagField(m) != nil {
			variants = append(variants, variant{name: "tag", guards: []string{tagSet, ownerNull}, conds: []string{tagEq}})
		}
		if o := ownerField(m); o != nil {
			ownerEq := field(o.Name) + pick(pg, " = sqlc.narg(tm_owner)::text", " = "+arg("sqlc.narg(tm_owner)")) + exact(field(o.Name), "sqlc.narg(tm_owner)")
			switch {
			case e == MySQL:
				variants = append(variants, variant{name: "owner", conds: []string{ownerEq}})
				if tagField(m) != nil {
					variants = append(variants, variant{name: "owner tag", conds: []string{ownerEq, tagEq}})
				}
			case tagField(m) != nil:
				variants = append(variants, variant{name: "owner", guards: []string{ownerSet}, conds: []string{ownerEq, "(" + tagNull + " OR " + tagEq + ")"}})
			default:
				variants = append(variants, variant{name: "owner", guards: []string{tagNull, ownerSet}, conds: []string{ownerEq}})
			}
		}
		for _, v := range variants {
			where := append(append([]string{guard}, v.guards...), statusCond)
			if e == MySQL {
				where = []string{statusCond}
			}
			where = append(where, v.conds...)
			if s.Terminal {
				where = append(where, col("created_at")+pick(pg, " >= sqlc.arg(tm_since)::timestamptz", " >= "+arg("sqlc.arg(tm_since)")))
			}
			branches = append(branches, listBranch{status: s.Name, variant: v.name, sql: fmt.Sprintf("%s\n    WHERE %s\n    ORDER BY %s DESC, %s DESC\n    LIMIT %s", one, strings.Join(where, "\n      AND "),
				col("created_at"), col("id"), pick(pg, "sqlc.arg(tm_top)::integer", "sqlc.arg(tm_top)"))})
		}
	}
	return branches
}

// The listing's branches read a model's tasks one declared status at a
// time, so a task in a status the spec does not declare (a program built
// from a newer spec wrote it, in a rolling deploy) would be left out
// without a word. Before the listing, each Lister therefore looks for such
// a task among those the request may list (its models, owner and tag, of
// any age: whether the status is finished is unknown) and, finding one,
// fails with a *backends.UndeclaredValueError instead: listing it under a
// code the program cannot know would be a guess. SQLite's and PostgreSQL's
// run undeclaredSQL; MySQL's, each model's branch "_undeclared".

// UndeclaredBranch names, as a status of MySQL's branches file ("--
// branch: <model> _undeclared"), each model's branch of the tasks whose
// status the spec does not declare. No status is named so: a status starts
// with a letter.
const UndeclaredBranch = "_undeclared"

// UndeclaredMark starts the task_status of a row of an undeclared branch,
// followed by the status the row holds.
const UndeclaredMark = "!"

// undeclaredSQL renders SQLite's or PostgreSQL's statement that finds a
// task of the listing's models whose status the spec does not declare: its
// task type and status, at most one row. Parameters: the models read (a
// JSON array on SQLite, text[] on PostgreSQL), the owner and the tag (both
// nullable), as ListQuery has them.
func undeclaredSQL(models []*spec.Model, e Engine) string {
	pg := e == PostgreSQL
	by, col, field := branchSpelling(e)
	var b strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	p("SELECT u.task_type, u.status FROM (\n")
	for i, m := range models {
		if i > 0 {
			p("  UNION ALL\n")
		}
		// The table is read for each undeclared status the walk found,
		// through its status index: nothing when there is none. On
		// PostgreSQL a LATERAL subquery cut to one row in the index's order
		// (with a plain semi-join, or without the ORDER BY, its planner
		// scans the whole table for the LIMIT 1); on SQLite a correlated
		// EXISTS. A listing by owner leaves a model without an owner column
		// out (backends.Catalog.Resolve); one by tag reads nothing of a
		// model without a tag column.
		conds := []string{col("status") + " = s.v"}
		if o := ownerField(m); o != nil {
			conds = append(conds, by("($2::text IS NULL OR "+field(o.Name)+" = $2::text)", "(?2 IS NULL OR "+field(o.Name)+" = ?2)", ""))
		}
		if t := tagField(m); t != nil {
			conds = append(conds, by("($3::text IS NULL OR "+field(t.Name)+" = $3::text)", "(?3 IS NULL OR "+field(t.Name)+" = ?3)", ""))
		} else {
			conds = append(conds, by("$3::text IS NULL", "?3 IS NULL", ""))
		}
		match := fmt.Sprintf("SELECT 1 FROM %s AS t WHERE %s", m.Name, strings.Join(conds, " AND "))
		if pg {
			p("  SELECT %s::text AS task_type, s.v AS status FROM %s AS s\n    CROSS JOIN LATERAL (%s ORDER BY t.created_at DESC, t.id DESC LIMIT 1) AS x\n    WHERE %s = ANY($1::text[])\n",
				quoteSQL(m.Name), undeclaredStatuses(m, e), match, quoteSQL(m.Name))
		} else {
			p("  SELECT CAST(%s AS TEXT) AS task_type, s.v AS status FROM %s AS s\n    WHERE instr(?1, '%s') > 0\n      AND EXISTS (%s)\n",
				quoteSQL(m.Name), undeclaredStatuses(m, e), strconv.Quote(m.Name), match)
		}
	}
	p(") AS u\n")
	if pg && !slices.ContainsFunc(models, func(m *spec.Model) bool { return ownerField(m) != nil }) {
		p("WHERE $2::text IS NULL OR $2::text IS NOT NULL\n") // PostgreSQL types every parameter
	}
	p("LIMIT 1")
	return b.String()
}

// undeclaredStatuses is a subquery of the statuses model m's table holds
// that its spec does not declare: the table's distinct statuses, walked
// through its (status, …) index one probe each (the next status after the
// last, in the database's own collation), those the spec declares dropped.
// The walk costs as many index probes as there are distinct statuses, so
// that nothing is read unless such a task exists, whatever the size of the
// table.
//
// MariaDB reads a probe whose bound comes from the walk (status > tm_s.v)
// by scanning the index from its start, not as a range: there the walk
// starts from a probe after each declared status (and one for the first
// status), bounds the planner sees as constants, and only the statuses
// that follow an undeclared one, which exist only while such tasks do, are
// probed from the walk.
func undeclaredStatuses(m *spec.Model, e Engine) string {
	var declared []string
	for _, s := range m.Statuses {
		declared = append(declared, quoteSQL(s.Name))
	}
	in := strings.Join(declared, ", ")
	next := func(after string) string {
		return fmt.Sprintf("(SELECT status FROM %s WHERE status > %s ORDER BY status LIMIT 1)", m.Name, after)
	}
	first := fmt.Sprintf("(SELECT status FROM %s ORDER BY status LIMIT 1)", m.Name)
	if e != MySQL {
		return fmt.Sprintf("(WITH RECURSIVE tm_s (v) AS (SELECT %s UNION ALL SELECT %s FROM tm_s WHERE tm_s.v IS NOT NULL) "+
			"SELECT tm_s.v FROM tm_s WHERE tm_s.v NOT IN (%s))", first, next("tm_s.v"), in)
	}
	probes := []string{"SELECT " + first + " AS v"}
	for _, d := range declared {
		probes = append(probes, "SELECT "+next(d))
	}
	return fmt.Sprintf("(WITH RECURSIVE tm_s (v) AS (SELECT tm_p.v FROM (%s) AS tm_p WHERE tm_p.v NOT IN (%s) "+
		"UNION ALL SELECT %s FROM tm_s WHERE tm_s.v IS NOT NULL AND tm_s.v NOT IN (%s)) "+
		"SELECT tm_s.v FROM tm_s WHERE tm_s.v NOT IN (%s))", strings.Join(probes, " UNION ALL "), in, next("tm_s.v"), in, in)
}

func catalogSQL(models []*spec.Model, e Engine) []byte {
	pg := e == PostgreSQL
	var b strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	p("%s\n-- The unified /tasks listing over %d models for %s, compiled by sqlc.\n\n", SQLHeader, len(models), e)
	p("-- name: List :many\n-- Newest first. Every filter is pushed into each model's branch, which is cut\n")
	p("-- to the first tm_top = offset + limit rows (through its created_at indexes)\n-- before the union is merged; a model not asked for gets no statuses and\n-- reads nothing.\n")
	p("SELECT listing.id, listing.task_type, listing.task_status, listing.tag, listing.created_at, listing.end_date FROM (\n")
	first := true
	for _, m := range models {
		for _, br := range strings.Split(catalogBranch(m, e, true), "\x00") {
			if !first {
				p("  UNION ALL\n")
			}
			first = false
			if e == SQLite {
				p("  SELECT * FROM (%s)\n", br)
			} else {
				p("  (%s)\n", br)
			}
		}
	}
	p(") AS listing\nORDER BY listing.created_at DESC, listing.id DESC\nLIMIT %s OFFSET %s;\n\n", pick(pg, "sqlc.arg(tm_limit)::integer", "sqlc.arg(tm_limit)"), pick(pg, "sqlc.arg(tm_offset)::integer", "sqlc.arg(tm_offset)"))

	return []byte(b.String())
}

// catalogMySQL renders the branches of MySQL's listing, which mysql.Lister
// composes per request into one UNION ALL of the branches the request's
// filters make possible (MariaDB plans every branch of a statement on every
// execution, so branches a request cannot use cost it time). A line
// "-- branch: <model> <status> [<filters>]" starts each branch; its filters,
// "tag", "owner" or "owner tag", are those it applies besides the status and
// the window. A branch reads its index alone (id, status and created_at):
// the page's tag and end date are read after the union is cut to the page,
// through the columns of "-- tag: <model>" and "-- end_date: <model>",
// written with the table's name, so that a page reads offset + limit rows
// of the tables rather than a branch's worth each.
func catalogMySQL(models []*spec.Model) []byte {
	var b strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	p("%s\n-- The branches of the unified /tasks listing over %d models for %s, composed\n", SQLHeader, len(models), MySQL)
	p("-- per request by the generated Lister: each is one model's tasks in one status,\n")
	p("-- newest first, with the filters it names, cut to the first tm_top = offset +\n")
	p("-- limit rows through its created_at indexes before the union is merged; the\n")
	p("-- page's tag and end date are then read through each model's columns.\n")
	for _, m := range models {
		_, code, text := branchSelect(m, MySQL, true)
		sel := fmt.Sprintf("SELECT t.id, CAST(%s AS CHAR) AS task_type, CAST(CASE t.status %s END AS %s) AS task_status, t.created_at FROM %s AS t",
			quoteSQL(m.Name), strings.Join(code, " "), text, m.Name)
		field := func(f *spec.Field) string { return mysqlIdent(m.Name) + "." + mysqlIdent(f.Name) }
		if f := tagField(m); f != nil {
			p("\n-- tag: %s\n%s\n", m.Name, field(f))
		}
		p("\n-- end_date: %s\n%s\n", m.Name, endDateExpr(m, field, "CAST(NULL AS DATETIME(6))"))
		for _, br := range listBranches(m, MySQL, sel, code, text) {
			p("\n-- branch: %s\n%s\n", strings.TrimSpace(m.Name+" "+br.status+" "+br.variant), br.sql)
		}
	}
	return []byte(b.String())
}

// naiveSQL renders the naive design of the listing, kept only to measure
// List against: union every row of every model first (materialized), filter
// after. Parameters: task types and codes (PostgreSQL text[], SQLite JSON
// arrays), tag (nullable), since, limit, offset.
func naiveSQL(models []*spec.Model, e Engine) string {
	pg := e == PostgreSQL
	var b strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	// PostgreSQL: a MATERIALIZED CTE; SQLite: a LIMIT in the subquery, which
	// disables its push-down. Either way the filters run after the union.
	p("WITH listing AS %s(\n", pick(pg, "MATERIALIZED ", ""))
	if !pg {
		p("  SELECT * FROM (\n")
	}
	for i, m := range models {
		if i > 0 {
			p("  UNION ALL\n")
		}
		p("  %s\n", catalogBranch(m, e, false))
	}
	if !pg {
		p("  ) LIMIT -1\n")
	}
	p(")\nSELECT id, task_type, task_status, tag, created_at, end_date FROM listing\n")
	if pg {
		p("WHERE task_type = ANY($1::text[]) AND task_status = ANY($2::text[])\n  AND ($3::text IS NULL OR tag = $3::text)\n  AND (created_at >= $4::timestamptz OR NOT finished)\n")
		p("ORDER BY created_at DESC, id DESC\nLIMIT $5 OFFSET $6")
	} else {
		p("WHERE task_type IN (SELECT value FROM json_each(?1)) AND task_status IN (SELECT value FROM json_each(?2))\n  AND (?3 IS NULL OR tag = ?3)\n  AND (created_at >= ?4 OR NOT finished)\n")
		p("ORDER BY created_at DESC, id DESC\nLIMIT ?5 OFFSET ?6")
	}
	return b.String()
}

// catalogLister emits the engine's Lister over the List query.
func catalogLister(f *jen.File, models []*spec.Model, e Engine) {
	pg := e == PostgreSQL
	intT := jen.Int64()
	if pg {
		intT = jen.Int32()
	}
	f.Comment("Lister reads the unified listing through the List query sqlc generated here.")
	if pg {
		f.Type().Id("Lister").Struct(jen.Id("db").Id("DBTX"), jen.Id("q").Op("*").Id("Queries"), jen.Id("searches").Qual(pkgBackends, "UndeclaredSearches"))
		f.Comment("NewLister returns a Lister over the database the models' drivers use.")
		f.Func().Id("NewLister").Params(jen.Id("db").Id("DBTX")).Op("*").Id("Lister").Block(
			jen.Return(jen.Op("&").Id("Lister").Values(jen.Dict{jen.Id("db"): jen.Id("db"), jen.Id("q"): jen.Id("New").Call(jen.Id("db"))})))
	} else {
		f.Type().Id("Lister").Struct(
			jen.Id("db").Id("DBTX"),
			jen.Id("once").Qual("sync", "Once"),
			jen.Id("q").Op("*").Id("Queries"),
			jen.Id("u").Op("*").Qual("database/sql", "Stmt"),
			jen.Id("err").Error(),
			jen.Id("searches").Qual(pkgBackends, "UndeclaredSearches"),
		)
		f.Comment("NewLister returns a Lister over the database the models' drivers use. Its")
		f.Comment("statement is prepared on first use: SQLite spends more time parsing and")
		f.Comment("planning the listing's many branches than running them.")
		f.Func().Id("NewLister").Params(jen.Id("db").Id("DBTX")).Op("*").Id("Lister").Block(
			jen.Return(jen.Op("&").Id("Lister").Values(jen.Dict{jen.Id("db"): jen.Id("db")})))
	}
	f.Var().Id("_").Qual(pkgBackends, "Lister").Op("=").Parens(jen.Op("*").Id("Lister")).Parens(jen.Nil())
	params := jen.Dict{
		jen.Id("TmTag"): jen.Id("q").Dot("Tag"), jen.Id("TmOwner"): jen.Id("q").Dot("Owner"), jen.Id("TmSince"): jen.Id("q").Dot("Since").Dot("UTC").Call(),
		jen.Id("TmTop"):   intT.Clone().Parens(jen.Id("q").Dot("Offset").Op("+").Id("q").Dot("Limit")),
		jen.Id("TmLimit"): intT.Clone().Parens(jen.Id("q").Dot("Limit")), jen.Id("TmOffset"): intT.Clone().Parens(jen.Id("q").Dot("Offset")),
	}
	var pre []jen.Code
	for _, m := range models {
		field := SQLCName(statusesParam(m))
		if pg {
			params[jen.Id(field)] = jen.Id("statuses").Call(jen.Id("q"), jen.Lit(m.Name))
		} else {
			v := "j" + strconv.Itoa(len(pre)/2)
			pre = append(pre,
				jen.List(jen.Id(v), jen.Err()).Op(":=").Qual(pkgJSON, "Marshal").Call(jen.Id("statuses").Call(jen.Id("q"), jen.Lit(m.Name))),
				jen.If(jen.Err().Op("!=").Nil()).Block(jen.Return(jen.Nil(), jen.Err())))
			params[jen.Id(field)] = jen.String().Parens(jen.Id(v))
		}
	}
	undeclared := jen.If(jen.Err().Op(":=").Id("l").Dot("searches").Dot("Check").Call(jen.Id("ctx"), jen.Id("q"),
		jen.Qual(pkgBackends, "ListQuery").Values(jen.Dict{jen.Id("Statuses"): jen.Id("declaredStatuses")}), jen.Id("l").Dot("undeclared")),
		jen.Err().Op("!=").Nil()).Block(jen.Return(jen.Nil(), jen.Err()))
	if !pg {
		pre = append([]jen.Code{
			jen.Id("l").Dot("once").Dot("Do").Call(jen.Func().Params().Block(
				jen.List(jen.Id("l").Dot("q"), jen.Id("l").Dot("err")).Op("=").Id("Prepare").Call(jen.Id("ctx"), jen.Id("l").Dot("db")),
				jen.If(jen.Id("l").Dot("err").Op("==").Nil()).Block(
					jen.List(jen.Id("l").Dot("u"), jen.Id("l").Dot("err")).Op("=").Id("l").Dot("db").Dot("PrepareContext").Call(jen.Id("ctx"), jen.Id("UndeclaredSQL"))))),
			jen.If(jen.Id("l").Dot("err").Op("!=").Nil()).Block(jen.Return(jen.Nil(), jen.Id("l").Dot("err"))),
			undeclared,
		}, pre...)
	} else {
		pre = append([]jen.Code{undeclared}, pre...)
	}
	endDate := jen.Id("r").Dot("EndDate")
	if !pg {
		endDate = jen.Parens(jen.Op("*").Qual("time", "Time")).Parens(endDate) // a *sqlite.Time (see SQLCConfig)
	}
	body := append(pre,
		jen.List(jen.Id("rows"), jen.Err()).Op(":=").Id("l").Dot("q").Dot("List").Call(jen.Id("ctx"), jen.Id("ListParams").Values(params)),
		jen.If(jen.Err().Op("!=").Nil()).Block(jen.Return(jen.Nil(), jen.Err())),
		jen.Id("out").Op(":=").Make(jen.Index().Qual(pkgTasktype, "Row"), jen.Len(jen.Id("rows"))),
		jen.For(jen.List(jen.Id("i"), jen.Id("r")).Op(":=").Range().Id("rows")).Block(
			jen.Id("out").Index(jen.Id("i")).Op("=").Qual(pkgTasktype, "Row").Values(jen.Dict{
				jen.Id("ID"): jen.Id("r").Dot("ID"), jen.Id("TaskType"): jen.Id("r").Dot("TaskType"),
				jen.Id("TaskStatus"): jen.Qual(pkgTasktype, "Code").Parens(jen.Id("r").Dot("TaskStatus")),
				jen.Id("Tag"):        jen.Id("r").Dot("Tag"), jen.Id("CreatedAt"): jen.Id("r").Dot("CreatedAt").Dot("UTC").Call(),
				jen.Id("EndDate"): jen.Qual(pkgBackends, "UTC").Call(endDate),
			})),
		jen.Return(jen.Id("out"), jen.Nil()),
	)
	f.Comment("List implements backends.Lister.")
	f.Func().Params(jen.Id("l").Op("*").Id("Lister")).Id("List").Params(jen.Id("ctx").Qual("context", "Context"), jen.Id("q").Qual(pkgBackends, "ListQuery")).Params(jen.Index().Qual(pkgTasktype, "Row"), jen.Error()).Block(body...)
	// The search for a task in a status its spec does not declare.
	var query jen.Code
	if pg {
		query = jen.List(jen.Id("rows"), jen.Err()).Op(":=").Id("l").Dot("db").Dot("Query").Call(jen.Id("ctx"), jen.Id("UndeclaredSQL"), jen.Id("models"), jen.Id("q").Dot("Owner"), jen.Id("q").Dot("Tag"))
	} else {
		query = jen.Null()
	}
	ubody := []jen.Code{
		jen.Id("models").Op(":=").Id("q").Dot("Models").Call(),
		jen.If(jen.Len(jen.Id("models")).Op("==").Lit(0)).Block(jen.Return(jen.Nil())),
	}
	if pg {
		ubody = append(ubody, query)
	} else {
		ubody = append(ubody,
			jen.List(jen.Id("j"), jen.Err()).Op(":=").Qual(pkgJSON, "Marshal").Call(jen.Id("models")),
			jen.If(jen.Err().Op("!=").Nil()).Block(jen.Return(jen.Err())),
			jen.List(jen.Id("rows"), jen.Err()).Op(":=").Id("l").Dot("u").Dot("QueryContext").Call(jen.Id("ctx"), jen.String().Parens(jen.Id("j")), jen.Id("q").Dot("Owner"), jen.Id("q").Dot("Tag")))
	}
	ubody = append(ubody,
		jen.If(jen.Err().Op("!=").Nil()).Block(jen.Return(jen.Err())),
		jen.Defer().Id("rows").Dot("Close").Call(),
		jen.Return(jen.Qual(pkgBackends, "UndeclaredStatus").Call(jen.Id("rows"), jen.Id("declaredStatuses"))),
	)
	f.Comment("undeclared fails with a *backends.UndeclaredValueError when a task the request")
	f.Comment("may list holds a status its model's spec does not declare (UndeclaredSQL): the")
	f.Comment("listing reads declared statuses only, and would leave the task out without a word.")
	f.Comment("List runs it through l.searches (backends.UndeclaredSearches), which skips it while")
	f.Comment("a search over every model found none within the last second.")
	f.Func().Params(jen.Id("l").Op("*").Id("Lister")).Id("undeclared").Params(jen.Id("ctx").Qual("context", "Context"), jen.Id("q").Qual(pkgBackends, "ListQuery")).Error().Block(ubody...)
	f.Comment("UndeclaredSQL finds a task of the models read (parameter 1) whose status its")
	f.Comment("model's spec does not declare, of the owner and tag asked for (2 and 3), of any")
	f.Comment("age: each model's distinct statuses are walked through its status index.")
	f.Const().Id("UndeclaredSQL").Op("=").Lit(undeclaredSQL(models, e))
	decl := jen.Dict{}
	for _, m := range models {
		var names []jen.Code
		for _, st := range m.Statuses {
			names = append(names, jen.Lit(st.Name))
		}
		decl[jen.Lit(m.Name)] = jen.Values(names...)
	}
	f.Comment("declaredStatuses are each model's statuses, as its spec declares them.")
	f.Var().Id("declaredStatuses").Op("=").Map(jen.String()).Index().String().Values(decl)
	f.Comment("NaiveListSQL is the naive design of the listing — union every row of every")
	f.Comment("model first, filter after — kept only so benchmarks can measure List against")
	f.Comment("it. Do not use it.")
	f.Const().Id("NaiveListSQL").Op("=").Lit(naiveSQL(models, e))
	f.Comment("statuses returns the statuses to keep of a model; an empty list reads nothing.")
	f.Func().Id("statuses").Params(jen.Id("q").Qual(pkgBackends, "ListQuery"), jen.Id("model").String()).Index().String().Block(
		jen.If(jen.List(jen.Id("s"), jen.Id("ok")).Op(":=").Id("q").Dot("Statuses").Index(jen.Id("model")), jen.Id("ok")).Block(jen.Return(jen.Id("s"))),
		jen.Return(jen.Index().String().Values()),
	)
}
