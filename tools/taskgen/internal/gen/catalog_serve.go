package gen

import (
	"path"
	"strings"

	"github.com/dave/jennifer/jen"

	"github.com/taskmodel/taskmodel/tools/taskgen/internal/spec"
)

const (
	pkgServer  = "github.com/taskmodel/taskmodel/server"
	pkgEngine  = "github.com/taskmodel/taskmodel/sdk/engine"
	pkgPgxpool = "github.com/jackc/pgx/v5/pgxpool"
)

// catalogServe renders the catalog's serve.go: Serve binds every listed
// model to the HTTP server (package server) over a backend, so that a new
// model in the specs gets its routes by regeneration.
func catalogServe(listed []*spec.Model, importBase string) ([]byte, error) {
	f := jen.NewFile(CatalogPackage)
	f.HeaderComment(Header)
	f.ImportName(pkgBackends, "backends")
	f.ImportName(pkgServer, "server")
	f.ImportName(pkgEngine, "engine")
	f.ImportName(pkgPgxpool, "pgxpool")
	f.ImportName(path.Join(importBase, CatalogPackage, SQLCPackages[SQLite]), "sqlitedb")
	f.ImportName(path.Join(importBase, CatalogPackage, SQLCPackages[PostgreSQL]), "pgdb")
	f.ImportName(path.Join(importBase, CatalogPackage, MySQLPackage), "mysqldb")

	db := func(e Engine) (jen.Code, jen.Code) {
		if e == SQLite || e == MySQL {
			return jen.Id("db"), jen.Op("*").Qual(pkgSQL, "DB")
		}
		return jen.Id("db"), jen.Op("*").Qual(pkgPgxpool, "Pool")
	}
	sqliteDB, sqliteType := db(SQLite)
	pgDB, pgType := db(PostgreSQL)
	body := []jen.Code{
		jen.Id("ms").Op(":=").Qual(pkgServer, "NewModels").Call(jen.Id("b"), jen.Id("Models").Call(), jen.Qual(pkgServer, "Listers").Values(jen.Dict{
			jen.Id("SQLite"): jen.Func().Params(jen.Add(sqliteDB).Add(sqliteType)).Qual(pkgBackends, "Lister").Block(
				jen.Return(jen.Qual(path.Join(importBase, CatalogPackage, SQLCPackages[SQLite]), "NewLister").Call(jen.Id("db")))),
			jen.Id("Postgres"): jen.Func().Params(jen.Add(pgDB).Add(pgType)).Qual(pkgBackends, "Lister").Block(
				jen.Return(jen.Qual(path.Join(importBase, CatalogPackage, SQLCPackages[PostgreSQL]), "NewLister").Call(jen.Id("db")))),
			jen.Id("MySQL"): jen.Func().Params(jen.Add(sqliteDB).Add(sqliteType)).Qual(pkgBackends, "Lister").Block(
				jen.Return(jen.Qual(path.Join(importBase, CatalogPackage, MySQLPackage), "NewLister").Call(jen.Id("db")))),
		})),
	}
	for _, m := range listed {
		ip := path.Join(importBase, m.Package)
		f.ImportName(ip, m.Package)
		f.ImportAlias(path.Join(ip, SQLCPackages[SQLite]), m.Package+"sqlite")
		f.ImportAlias(path.Join(ip, SQLCPackages[PostgreSQL]), m.Package+"pg")
		f.ImportAlias(path.Join(ip, MySQLPackage), m.Package+"mysql")
		typ := jen.Qual(ip, m.Struct)
		drv := func(e Engine) jen.Code {
			d, t := db(e)
			pkg := SQLCPackages[e]
			if e == MySQL {
				pkg = MySQLPackage
			}
			return jen.Func().Params(jen.Add(d).Add(t)).Qual(pkgBackends, "Driver").Types(jen.Qual(ip, m.Struct)).Block(
				jen.Return(jen.Qual(path.Join(ip, pkg), "NewDriver").Call(jen.Id("db"))))
		}
		d := jen.Dict{
			jen.Id("Name"):      jen.Qual(ip, "ModelName"),
			jen.Id("New"):       jen.Qual(ip, "New"+m.Struct),
			jen.Id("API"):       jen.Qual(ip, "API"),
			jen.Id("Lifecycle"): jen.Qual(ip, "Lifecycle").Call(),
			jen.Id("SQLite"):    drv(SQLite),
			jen.Id("Postgres"):  drv(PostgreSQL),
			jen.Id("MySQL"):     drv(MySQL),
		}
		if m.Worker != nil {
			d[jen.Id("Worker")] = jen.Qual(ip, "Worker")
		}
		body = append(body, jen.Qual(pkgServer, "Add").Types(typ, jen.Qual(ip, "Event")).Call(
			jen.Id("ms"), jen.Qual(pkgServer, "Model").Types(jen.Qual(ip, m.Struct)).Values(d), jen.Id("opts").Op("...")))
	}
	body = append(body, jen.Return(jen.Id("ms"), jen.Id("ms").Dot("Err").Call()))
	f.Comment("Serve binds every model of the catalog to the HTTP server (package server)")
	f.Comment("over one backend: an engine per model, built with opts, and the unified")
	f.Comment("listing across them.")
	f.Func().Id("Serve").Params(jen.Id("b").Op("*").Qual(pkgServer, "Backend"), jen.Id("opts").Op("...").Qual(pkgEngine, "Option")).
		Params(jen.Op("*").Qual(pkgServer, "Models"), jen.Error()).Block(body...)
	var buf strings.Builder
	if err := f.Render(&buf); err != nil {
		return nil, err
	}
	return []byte(buf.String()), nil
}
