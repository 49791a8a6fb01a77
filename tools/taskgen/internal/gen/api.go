package gen

import (
	"fmt"
	"strings"

	"github.com/dave/jennifer/jen"

	"github.com/taskmodel/taskmodel/tools/taskgen/internal/spec"
)

// apiDecl emits the API variable (the spec's api section) and the Owner and
// SetOwner methods every model has, so that the HTTP server can handle any
// model the same way.
func (g *generator) apiDecl(f *jen.File) {
	m, a := g.m, g.m.API
	d := jen.Dict{}
	if a != nil {
		if a.Owner != nil {
			d[jen.Id("Owner")] = jen.Lit(a.Owner.Name)
		}
		if len(a.Create) > 0 {
			names := make([]jen.Code, len(a.Create))
			for i, fd := range a.Create {
				names[i] = jen.Lit(fd.Name)
			}
			d[jen.Id("Create")] = jen.Index().String().Values(names...)
		}
		if u := a.Uploads; u != nil {
			files := make([]jen.Code, len(u.Files))
			for i, uf := range u.Files {
				fd := jen.Dict{jen.Id("Name"): jen.Lit(uf.Name), jen.Id("MaxBytes"): jen.Lit(uf.MaxBytes)}
				if uf.Required {
					fd[jen.Id("Required")] = jen.True()
				}
				if uf.MinBytes > 0 {
					fd[jen.Id("MinBytes")] = jen.Lit(uf.MinBytes)
				}
				if uf.Format != "" {
					fd[jen.Id("Format")] = jen.Lit(uf.Format)
				}
				if uf.Filename != "" {
					fd[jen.Id("Filename")] = jen.Lit(uf.Filename)
					fd[jen.Id("Flag")] = jen.Lit(uf.Flag)
				}
				if len(uf.ContentTypes) > 0 {
					cts := make([]jen.Code, len(uf.ContentTypes))
					for j, c := range uf.ContentTypes {
						cts[j] = jen.Lit(c)
					}
					fd[jen.Id("ContentTypes")] = jen.Index().String().Values(cts...)
				}
				files[i] = jen.Values(fd)
			}
			d[jen.Id("Uploads")] = jen.Op("&").Qual(pkgTasktype, "Uploads").Values(jen.Dict{
				jen.Id("Request"):        jen.String().Call(jen.Id(u.Request.GoName)),
				jen.Id("Verify"):         jen.String().Call(jen.Id(u.Verify.GoName)),
				jen.Id("Missing"):        jen.String().Call(jen.Id(u.Missing.GoName)),
				jen.Id("MissingMessage"): jen.Lit(u.MissingMessage),
				jen.Id("Expiry"):         durationLit(u.Expiry),
				jen.Id("Files"):          jen.Index().Qual(pkgTasktype, "UploadFile").Values(files...),
			})
		}
	}
	switch {
	case a == nil:
		f.Comment("API is the spec's api section; the spec declares none, so clients cannot")
		f.Comment("create tasks over HTTP and only admins see them.")
	default:
		var what []string
		if a.Owner != nil {
			what = append(what, fmt.Sprintf("tasks belong to the user in %q", a.Owner.Name))
		} else {
			what = append(what, "tasks have no owner (only admins see them)")
		}
		if len(a.Create) > 0 {
			what = append(what, fmt.Sprintf("clients set %s when they create one", quoteFields(a.Create)))
		}
		if a.Uploads != nil {
			what = append(what, fmt.Sprintf("files are uploaded before event %q", a.Uploads.Verify.Name))
		}
		f.Comment("API is the spec's api section: " + strings.Join(what, "; ") + ".")
	}
	f.Var().Id("API").Op("=").Qual(pkgTasktype, "API").Values(d)

	recv := jen.Id("x").Op("*").Id(m.Struct)
	var get, set []jen.Code
	switch o := apiOwner(g); {
	case o == nil:
		get = []jen.Code{jen.Return(jen.Lit(""))}
		f.Comment("Owner returns \"\": the model has no owner field (no api owner in the spec).")
		f.Func().Params(recv).Id("Owner").Params().String().Block(get...)
		f.Comment("SetOwner does nothing: the model has no owner field.")
		f.Func().Params(jen.Id("x").Op("*").Id(m.Struct)).Id("SetOwner").Params(jen.Id("_").String()).Block()
		return
	case o.Optional:
		get = []jen.Code{
			jen.If(jen.Id("x").Dot(o.GoName).Op("==").Nil()).Block(jen.Return(jen.Lit(""))),
			jen.Return(jen.Op("*").Id("x").Dot(o.GoName)),
		}
		set = []jen.Code{jen.Id("x").Dot(o.GoName).Op("=").Op("&").Id("user")}
	default:
		get = []jen.Code{jen.Return(jen.Id("x").Dot(o.GoName))}
		set = []jen.Code{jen.Id("x").Dot(o.GoName).Op("=").Id("user")}
	}
	o := apiOwner(g)
	f.Comment(fmt.Sprintf("Owner returns the user who owns the task (field %q), or \"\".", o.Name))
	f.Func().Params(recv).Id("Owner").Params().String().Block(get...)
	f.Comment(fmt.Sprintf("SetOwner sets the user who owns the task (field %q).", o.Name))
	f.Func().Params(jen.Id("x").Op("*").Id(m.Struct)).Id("SetOwner").Params(jen.Id("user").String()).Block(set...)
}

func apiOwner(g *generator) *spec.Field {
	if g.m.API == nil {
		return nil
	}
	return g.m.API.Owner
}

func quoteFields(fs []*spec.Field) string {
	names := make([]string, len(fs))
	for i, f := range fs {
		names[i] = f.Name
	}
	return strings.Join(names, ", ")
}
