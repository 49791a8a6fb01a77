package gen

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/dave/jennifer/jen"

	"github.com/taskmodel/taskmodel/tools/taskgen/internal/spec"
)

// ShapeVar is the name of the variable that holds a value type's
// validation.Shape: how a value stored under an earlier spec is read.
func ShapeVar(t *spec.Type) string { return t.Name + "Shape" }

// shapeVar emits a value type's Shape: its keys, its renamed fields, the
// values a stored object lacking a required key gets, and the shapes of
// the value types its fields hold.
func (g *generator) shapeVar(f *jen.File, t *spec.Type) {
	var keys []jen.Code
	renamed, fill, fields := jen.Dict{}, jen.Dict{}, jen.Dict{}
	for _, fd := range t.Fields {
		keys = append(keys, jen.Lit(fd.Name))
		if fd.RenamedFrom != "" {
			renamed[jen.Lit(fd.RenamedFrom)] = jen.Lit(fd.Name)
		}
		if fd.Required {
			if v, ok := fillJSON(fd); ok {
				fill[jen.Lit(fd.Name)] = jen.Qual("encoding/json", "RawMessage").Parens(jen.Lit(v))
			}
		}
		if vt := valueType(fd.Type); vt != nil {
			fields[jen.Lit(fd.Name)] = jen.Id(ShapeVar(vt))
		}
	}
	members := jen.Dict{jen.Id("Keys"): jen.Index().String().Values(keys...)}
	if len(renamed) > 0 {
		members[jen.Id("Renamed")] = jen.Map(jen.String()).String().Values(renamed)
	}
	if len(fill) > 0 {
		members[jen.Id("Fill")] = jen.Map(jen.String()).Qual("encoding/json", "RawMessage").Values(fill)
	}
	name := ShapeVar(t)
	f.Commentf("%s reads a %s stored under an earlier version of the spec;", name, t.Name)
	f.Comment("the drivers pass it to backends.DecodeStoredJSON.")
	f.Var().Id(name).Op("=").Op("&").Qual(pkgValidation, "Shape").Values(members)
	if len(fields) > 0 {
		// The shapes of nested types are set in init: a type may hold
		// itself, which an initializer cannot refer to.
		var set []jen.Code
		set = append(set, jen.Id(name).Dot("Fields").Op("=").Map(jen.String()).Op("*").Qual(pkgValidation, "Shape").Values(fields))
		f.Func().Id("init").Params().Block(set...)
	}
}

// valueType is the value type a field holds, itself or as a list's
// elements; nil for any other field.
func valueType(t *spec.TypeRef) *spec.Type {
	switch {
	case t.Kind == spec.KindType:
		return t.Type
	case t.Kind == spec.KindList && t.Elem != nil && t.Elem.Kind == spec.KindType:
		return t.Elem.Type
	}
	return nil
}

// fillJSON is the JSON a stored value that lacks a required field gets:
// its backfill, else the zero value of its type when that zero decodes
// (an enum, a status or an error code has none, so nothing is filled and
// reading such a value still fails with the field's name).
func fillJSON(fd *spec.Field) (string, bool) {
	if fd.HasBackfill {
		b, err := json.Marshal(jsonValue(fd.Type, fd.Backfill))
		return string(b), err == nil
	}
	switch fd.Type.Kind {
	case spec.KindString:
		return `""`, true
	case spec.KindInt, spec.KindFloat, spec.KindDuration:
		return "0", true
	case spec.KindBool:
		return "false", true
	case spec.KindTime:
		return `"0001-01-01T00:00:00Z"`, true
	case spec.KindUUID:
		return `"00000000-0000-0000-0000-000000000000"`, true
	case spec.KindJSON:
		return "null", true
	case spec.KindList:
		return "[]", true
	case spec.KindType:
		return "{}", true
	}
	return "", false
}

// compareTypes checks that every value stored under the old spec's value
// types can still be read under the new one (validation.Shape reads it),
// refusing the changes it could not read, and notes each breaking change:
// the database does not change, but the migration records the spec in its
// snapshot, so that the next comparison starts from it.
func (ev *evolution) compareTypes() {
	for _, ot := range ev.old.m.Types {
		nt := typeByName(ev.new.m, ot.Name)
		if nt == nil {
			continue // no field holds it any more: the fields' changes say so
		}
		if ev.checkRenamedFrom(ot.Fields, nt.Fields, nt.Name) {
			continue
		}
		pairs := pairFieldList(ot.Fields, nt.Fields)
		refused := false
		for _, c := range pairs {
			if msg := typeFieldRefusal(nt, c); msg != "" {
				ev.fail(c.new.Pos, msg)
				refused = true
			}
		}
		if refused {
			continue
		}
		// What a stored value lacking a field made required reads as, by
		// the ID compareFields gives that change.
		fills := map[string]string{}
		for _, c := range pairs {
			if c.old != nil && c.new != nil && !c.old.Required && c.new.Required {
				fill, ok := fillJSON(c.new)
				if !ok {
					fill = "nothing: reading it fails"
				}
				fills["type."+nt.Name+".field."+c.new.Name+".required"] = fill
			}
		}
		seen := map[string]bool{}
		compareFields(func(area, id, format string, a ...any) {
			if id == "" || seen[id] {
				return
			}
			seen[id] = true
			line := fmt.Sprintf(format, a...)
			switch {
			case strings.HasSuffix(id, ".removed"):
				line += " (stored values keep its key until the task is next written; reading drops it)"
			case strings.HasSuffix(id, ".renamed"):
				line += " (stored values are read under the new name)"
			case strings.HasSuffix(id, ".required"):
				line += " (stored values without it read as " + fills[id] + ")"
			case strings.HasSuffix(id, ".narrowed"):
				line += "; stored values are not checked (they are JSON)"
			}
			ev.note("change_"+strings.ToLower(upperSnake(nt.Name)), strings.ReplaceAll(line, "`", "")+"; the database does not change")
		}, nil, ev.old.m, ev.new.m, nt.Name, pairs)
	}
}

// typeFieldRefusal says why a change of a value type's field would leave
// stored values unreadable; "" when they stay readable.
func typeFieldRefusal(t *spec.Type, c fieldChange) string {
	switch {
	case c.new == nil:
		return ""
	case c.old == nil:
		if c.new.Required && !c.new.HasBackfill {
			return fmt.Sprintf("field %q of type %q is new and required, so the values already stored lack it: give it backfill: VALUE (what they read as), or drop required", c.new.Name, t.Name)
		}
	case !jsonReadable(c.old.Type, c.new.Type):
		return fmt.Sprintf("field %q of type %q changes type from %s to %s, which the values already stored (JSON) cannot be read as; add a field under a new name instead", c.new.Name, t.Name, c.old.Type.Name(), c.new.Type.Name())
	case !c.old.Required && c.new.Required && !c.new.HasBackfill:
		if _, ok := fillJSON(c.new); !ok || (c.old.HasDefault && !isZero(c.old.Default)) {
			return fmt.Sprintf("field %q of type %q becomes required, and the values already stored without it read as its default; give it backfill: VALUE to say what they read as", c.new.Name, t.Name)
		}
	}
	return ""
}
