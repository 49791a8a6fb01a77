package gen

import (
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
	pkgMySQLBackend  = "github.com/taskmodel/taskmodel/backends/mysql"
	pkgPGBackend     = "github.com/taskmodel/taskmodel/backends/postgres"
	pkgSQLTable      = "github.com/taskmodel/taskmodel/backends/sqltable"
)

// fromDB sets the model field of a column from sqlc's row r.
func (g *generator) fromDB(e Engine, c column, d jen.Dict, post *[]jen.Code) {
	f := c.Field
	r := jen.Id("r").Dot(f.GoName)
	typeOf := g.enumType
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
			jen.If(jen.Err().Op(":=").Add(g.decodeJSON(src, f)), jen.Err().Op("!=").Nil()).Block(
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
		*post = append(*post, g.checkDeclared(c, jen.Nil()))
	default:
		d[jen.Id(f.GoName)] = r
	}
}

// decodeJSON is the call that decodes a JSON column's bytes src into the
// field f of x: a field holding a value type reads a value stored under an
// earlier spec through the type's Shape.
func (g *generator) decodeJSON(src jen.Code, f *spec.Field) jen.Code {
	dst := jen.Op("&").Id("x").Dot(f.GoName)
	if vt := valueType(f.Type); vt != nil {
		return jen.Qual(pkgBackends, "DecodeStoredJSON").Call(src, dst, jen.Qual(g.importPath, ShapeVar(vt)))
	}
	return jen.Qual(pkgBackends, "DecodeJSON").Call(src, dst)
}

// checkDeclared is the statement that refuses the row when the enumerated
// column c (a status, error code or enumeration) read into x holds a value
// this program's spec does not declare; ret are the results returned before
// the error. Every engine's driver reads such a column as text and checks it
// here, so that all of them fail the same way, with the same
// backends.UndeclaredValueError (see there why a read fails rather than
// passing the value on or skipping the row). A typed Scan on MySQL failed
// instead, with database/sql's message naming the column's index, while the
// others passed the undeclared value on.
func (g *generator) checkDeclared(c column, ret ...jen.Code) jen.Code {
	f := c.Field
	var list string
	switch f.Type.Kind {
	case spec.KindStatus:
		list = "Statuses"
	case spec.KindErrorCode:
		list = "ErrorCodes"
	case spec.KindEnum:
		list = f.Type.Enum.Name + "Values"
	default:
		panic("taskgen: checkDeclared of column " + c.Name + " of kind " + string(f.Type.Kind))
	}
	check := "CheckDeclared"
	if f.Optional {
		check = "CheckDeclaredOpt"
	}
	table, _ := Table(g.m)
	return jen.If(jen.Err().Op(":=").Qual(pkgBackends, check).Call(jen.Lit(table), jen.Lit(c.Name),
		jen.Id("x").Dot(f.GoName), jen.Qual(g.importPath, list)), jen.Err().Op("!=").Nil()).Block(
		jen.Return(append(ret, jen.Err())...))
}

// enumType is the model package's type of an enumerated type t (a status,
// error code or enumeration), qualified for a driver's package.
func (g *generator) enumType(t *spec.TypeRef) jen.Code {
	switch t.Kind {
	case spec.KindStatus:
		return jen.Qual(g.importPath, "Status")
	case spec.KindErrorCode:
		return jen.Qual(g.importPath, "ErrorCode")
	case spec.KindEnum:
		return jen.Qual(g.importPath, t.Enum.Name)
	}
	return nil
}
