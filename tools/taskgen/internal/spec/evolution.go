package spec

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// evolution reads a field's keys that say how stored tasks follow a change
// of the field: renamed_from and backfill. On the model's own fields, which
// are columns, the next migration renames or fills the column. On a value
// type's fields, stored inside JSON, they apply whenever a stored value is
// read (validation.Shape): the old key is read under the new name, and a
// required key the value lacks gets the backfill.
func (l *loader) evolution(f *Field, k map[string]pair, what, owner string) {
	if v, ok := k["backfill"]; ok && owner != "the model" && !f.Required {
		l.errorf(v.key, "%s: backfill applies to a required field of %s (a value stored without the key reads as the backfill); without required, such a value reads as the field's default", what, owner)
		return
	}
	if v, ok := k["renamed_from"]; ok {
		if name, ok := l.name(v.val, what+" renamed_from", reLower, "[a-z][a-z0-9_]*"); ok {
			if name == f.Name {
				l.errorf(v.val, "%s: renamed_from names the field itself; give its earlier name", what)
			} else {
				f.RenamedFrom = name
			}
		}
	}
	if v, ok := k["backfill"]; ok {
		if f.Optional {
			l.errorf(v.key, "%s is optional: existing tasks get null, so it needs no backfill", what)
			return
		}
		if d := deref(v.val); d != nil && d.Tag == "!!null" {
			l.errorf(v.key, "%s: backfill must be a value of type %s, not null", what, f.Type.Name())
			return
		}
		val, ok := l.value(v.val, f.Type, what+" backfill")
		if !ok {
			return
		}
		if why := f.breaks(val); why != "" {
			l.errorf(v.val, "%s: backfill %s; the stored tasks would break the field's own limit", what, why)
			return
		}
		f.Backfill, f.HasBackfill = val, true
	}
}

// checkRenames refuses a renamed_from that names another field of the
// model, or of the value type, that declares fields.
func (l *loader) checkRenames(fields []*Field) {
	seen := map[string]*Field{}
	for _, f := range fields {
		if f.RenamedFrom == "" {
			continue
		}
		if other := fieldNamed(fields, f.RenamedFrom); other != nil {
			l.errs = append(l.errs, &Error{Pos: f.Pos, Msg: fmt.Sprintf("field %q: renamed_from %q names a field the spec still declares; a field is renamed from a name it no longer has", f.Name, f.RenamedFrom)})
		} else if first, ok := seen[f.RenamedFrom]; ok {
			l.errs = append(l.errs, &Error{Pos: f.Pos, Msg: fmt.Sprintf("field %q: renamed_from %q, as field %q does; one field takes an earlier name", f.Name, f.RenamedFrom, first.Name)})
		} else {
			seen[f.RenamedFrom] = f
		}
	}
}

// checkBounds checks the bounds that name another field (le:
// agents_total): a field of the same struct, of the same number type, that
// always has a value.
func (l *loader) checkBounds(fields []*Field, owner string) {
	for _, b := range l.boundNodes {
		if !slices.Contains(fields, b.f) {
			continue
		}
		what := fmt.Sprintf("field %q %s", b.f.Name, b.key)
		other := fieldNamed(fields, b.node.Value)
		var same []string
		for _, o := range fields {
			if o != b.f && o.Type.Kind == b.f.Type.Kind && !o.Optional {
				same = append(same, o.Name)
			}
		}
		allowed := "none"
		if len(same) > 0 {
			allowed = strings.Join(same, ", ")
		}
		switch {
		case other == b.f:
			l.errorf(b.node, "%s: names the field itself; a bound is a number or another field's name", what)
		case other == nil:
			l.errorf(b.node, "%s: %q is neither a number nor a field of %s; fields it may name (%s, not optional): %s", what, b.node.Value, owner, b.f.Type.Name(), allowed)
		case other.Type.Kind != b.f.Type.Kind:
			l.errorf(b.node, "%s: field %q is %s, and a bound names a field of the same type (%s): %s", what, other.Name, other.Type.Name(), b.f.Type.Name(), allowed)
		case other.Optional:
			l.errorf(b.node, "%s: field %q is optional; a bound names a field that always has a value: %s", what, other.Name, allowed)
		default:
			continue
		}
		delete(b.f.Bounds, b.key)
	}
}

func fieldNamed(fields []*Field, name string) *Field {
	for _, f := range fields {
		if f.Name == name {
			return f
		}
	}
	return nil
}

// retired reads the statuses and events the model no longer has:
//
//	retired:
//	  statuses:
//	    EXPIRED: {replaced_by: FAILED}
//	  events: [expire]
func (l *loader) retired(n *yaml.Node) {
	k := l.keys(n, "retired", "statuses", "events")
	if p, ok := k["statuses"]; ok {
		for _, q := range l.mapping(p.val, "retired statuses") {
			name, ok := l.name(q.key, "retired status", reStatus, "[A-Za-z][A-Za-z0-9_-]*")
			if !ok {
				continue
			}
			what := fmt.Sprintf("retired status %q", name)
			if l.m.StatusByName(name) != nil {
				l.errorf(q.key, "%s is still a status of the model; retire a status by removing it from statuses", what)
				continue
			}
			if l.retiredStatus(name) != nil {
				l.errorf(q.key, "%s is retired twice", what)
				continue
			}
			rk := l.keys(q.val, what, "replaced_by")
			v, ok := rk["replaced_by"]
			if !ok {
				l.errorf(q.key, "%s: say where its tasks go with replaced_by: STATUS; statuses are %s", what, l.statusNames())
				continue
			}
			to := l.status(v.val, what+" replaced_by")
			if to == nil {
				continue
			}
			l.m.RetiredStatuses = append(l.m.RetiredStatuses, &RetiredStatus{Pos: l.pos(q.key), Name: name, ReplacedBy: to})
		}
	}
	if p, ok := k["events"]; ok {
		for _, v := range l.names(p.val, "retired events") {
			name, ok := l.name(v, "retired event", reLower, "[a-z][a-z0-9_]*")
			if !ok {
				continue
			}
			switch {
			case l.m.EventByName(name) != nil:
				l.errorf(v, "retired event %q is still an event of the model; retire an event by removing it from events", name)
			case l.retiredEvent(name):
				l.errorf(v, "retired event %q is listed twice", name)
			default:
				l.m.RetiredEvents = append(l.m.RetiredEvents, &RetiredEvent{Pos: l.pos(v), Name: name})
			}
		}
	}
}

func (l *loader) retiredStatus(name string) *RetiredStatus {
	for _, r := range l.m.RetiredStatuses {
		if r.Name == name {
			return r
		}
	}
	return nil
}

func (l *loader) retiredEvent(name string) bool {
	for _, r := range l.m.RetiredEvents {
		if r.Name == name {
			return true
		}
	}
	return false
}

var reBreakingChange = regexp.MustCompile(`^[a-z_]+(\.[A-Za-z0-9_-]+)+$`)

// breakingChanges reads the acknowledgments of breaking changes: each
// entry is the ID of a change, as taskgen diff prints it
// (field.note.renamed), optionally followed by a reason. An entry
// acknowledges the change it arrives with: taskgen diff does not count an
// entry that the spec it compares with already has.
func (l *loader) breakingChanges(n *yaml.Node) {
	seen := map[string]bool{}
	for _, v := range l.names(n, "breaking_changes") {
		entry := strings.Join(strings.Fields(v.Value), " ")
		if !reBreakingChange.MatchString(AckID(entry)) {
			l.errorf(v, "breaking_changes: %q does not start with the ID of a change; taskgen diff prints them, such as field.note.renamed or status.PAUSED.removed, and a reason may follow the ID", v.Value)
			continue
		}
		if seen[entry] {
			l.errorf(v, "breaking_changes: %q is listed twice", entry)
			continue
		}
		seen[entry] = true
		l.m.BreakingChanges = append(l.m.BreakingChanges, entry)
	}
}

// AckID is the ID of the change an entry of breaking_changes acknowledges:
// its first word.
func AckID(entry string) string {
	id, _, _ := strings.Cut(strings.TrimSpace(entry), " ")
	return id
}
