package gen

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/taskmodel/taskmodel/tools/taskgen/internal/spec"
)

// The areas a spec change affects, in the order a report lists them.
const (
	AreaDatabase  = "Database"
	AreaWire      = "Wire (JSON, OpenAPI, TypeScript)"
	AreaGo        = "Go API"
	AreaBehaviour = "Behaviour"
)

var areas = []string{AreaDatabase, AreaWire, AreaGo, AreaBehaviour}

// Change is one effect of a spec change, for the report a pull request
// shows.
type Change struct {
	Area string
	// ID names a breaking change; the spec acknowledges it by listing the
	// ID under breaking_changes. Empty for a change that breaks nothing.
	ID   string
	Text string
}

// Report is what a spec change does to a model's databases, wire format,
// Go API and behaviour.
type Report struct {
	Model   string
	Changes []Change
	// Refused explains why the databases cannot follow the change (taskgen
	// generates no migration for it); empty when they can.
	Refused string
	// Acknowledged are the IDs of the entries the new spec adds under
	// breaking_changes: an entry acknowledges the change it arrives with, so
	// one the old spec has too acknowledges nothing here.
	Acknowledged []string
	// Earlier are the IDs of the entries the old spec has too (they
	// acknowledged earlier changes).
	Earlier []string
	// Unmatched are the new entries whose ID names none of the changes: a
	// mistyped ID, or a change that is not there.
	Unmatched []string

	// aliases maps an ID that earlier versions of taskgen gave a part of
	// one change onto the ID of that change, so that an entry written then
	// still acknowledges it (see Compare).
	aliases map[string][]string
}

// Unacknowledged lists the IDs of breaking changes the spec does not list
// under breaking_changes.
func (r *Report) Unacknowledged() []string {
	var out []string
	for _, c := range r.Changes {
		if c.ID != "" && !slices.Contains(r.Acknowledged, c.ID) && !slices.Contains(out, c.ID) {
			out = append(out, c.ID)
		}
	}
	return out
}

// Names reports whether an entry of breaking_changes names one of the
// report's changes (by its ID, or by an ID earlier versions of taskgen
// gave a part of it).
func (r *Report) Names(entry string) bool {
	id := spec.AckID(entry)
	return slices.ContainsFunc(append([]string{id}, r.aliases[id]...), func(id string) bool {
		return slices.ContainsFunc(r.Changes, func(c Change) bool { return c.ID == id })
	})
}

// IDs lists the IDs of the report's breaking changes, each once, in the
// order of the report.
func (r *Report) IDs() []string {
	var out []string
	for _, c := range r.Changes {
		if c.ID != "" && !slices.Contains(out, c.ID) {
			out = append(out, c.ID)
		}
	}
	return out
}

// Compare reports what changes from the old spec to the new one.
//
// Each change a user makes has one ID, which every line it causes carries
// (a removed field's dropped column, its JSON key and its Go field; a
// removed enum value's constant and the narrower rule of the fields of its
// enum). Earlier versions gave some of those lines IDs of their own
// (field.<name>.dropped, field.<name>.narrowed): an entry naming one of
// them acknowledges the change it was part of.
func Compare(old, new *spec.Model) *Report { return CompareAfter(nil, old, new) }

// CompareAfter is Compare where old is the spec snapshot of a model's
// newest migration and prev that of the migration before it (nil when
// there is none): a change refused because of what that migration did
// says how to redo it.
func CompareAfter(prev, old, new *spec.Model) *Report {
	r := &Report{Model: new.Name, aliases: map[string][]string{}}
	defer r.acknowledge(old, new)
	add := func(area, id, format string, a ...any) {
		r.Changes = append(r.Changes, Change{Area: area, ID: id, Text: fmt.Sprintf(format, a...)})
	}
	alias := func(was, id string) {
		if !slices.Contains(r.aliases[was], id) {
			r.aliases[was] = append(r.aliases[was], id)
		}
	}
	// Database: what the next migration does.
	ev, err := evolve(prev, old, new)
	switch {
	case err != nil:
		r.Refused = err.Error()
		add(AreaDatabase, "", "**refused**: taskgen generates no migration for this change:\n\n  ```\n  %s\n  ```", strings.ReplaceAll(err.Error(), "\n", "\n  "))
	case ev != nil:
		for _, c := range ev.fields {
			if c.old != nil && c.new == nil {
				id := "field." + c.old.Name + ".removed"
				alias("field."+c.old.Name+".dropped", id)
				add(AreaDatabase, id, "**destructive**: column `%s` is dropped with its values", c.old.Name)
			}
		}
		for _, line := range ev.changes {
			if strings.HasPrefix(line, "drop field ") {
				continue
			}
			kind := ""
			if strings.Contains(line, "checked against the stored tasks") || strings.Contains(line, "refused if") {
				kind = "**data-dependent**: "
			}
			add(AreaDatabase, "", "%s%s", kind, line)
		}
		for _, e := range Engines {
			var checks []string
			for _, c := range ev.dataChecks(e) {
				checks = append(checks, "`"+c.subject+": "+c.rule+"`")
			}
			if len(checks) > 0 {
				add(AreaDatabase, "", "%s: checks before it changes anything: %s", e, strings.Join(checks, "; "))
			}
		}
		if ev.sqliteRebuildsTable() {
			add(AreaDatabase, "", "sqlite: **table rebuild**: `%s` is copied into a new table in one transaction (writers wait)", new.Name)
		}
		if ev.historyChanged {
			add(AreaDatabase, "", "sqlite: **table rebuild**: `%s_history` is copied into a new table in one transaction", new.Name)
		}
		switch pl := ev.mysqlPlan(); {
		case pl.copy && len(pl.narrow) > 0:
			add(AreaDatabase, "", "mysql: **table copy**: `%s` is copied twice: by an ALTER TABLE, which adds a CHECK or changes a column's type, and by a last one, which narrows the status CHECK once the retired statuses' tasks have moved (writers wait)", new.Name)
		case pl.copy:
			add(AreaDatabase, "", "mysql: **table copy**: `%s` is copied by one ALTER TABLE, which adds a CHECK or changes a column's type (writers wait)", new.Name)
		case len(pl.narrow) > 0:
			add(AreaDatabase, "", "mysql: **table copy**: `%s` is copied by one ALTER TABLE, which narrows the status CHECK once the retired statuses' tasks have moved (writers wait)", new.Name)
		}
		if ev.historyChanged {
			add(AreaDatabase, "", "mysql: **table copy**: `%s_history` is copied to replace its CHECKs (writers wait)", new.Name)
		}
		if n := ev.mysqlStatements(); n > 1 {
			add(AreaDatabase, "", "mysql: **not atomic**: %d statements, each committed as it runs; after a failed one, those before it stay applied and the next start resumes at it", n)
		}
	}

	// Wire and Go API: fields, and the fields of value types.
	compareFields(add, alias, old, new, "", pairFields(old, new))
	for _, ot := range old.Types {
		nt := typeByName(new, ot.Name)
		if nt == nil {
			add(AreaGo, "type."+ot.Name+".removed", "type `%s` removed", ot.Name)
			continue
		}
		pairs := pairFieldList(ot.Fields, nt.Fields)
		compareFields(add, alias, old, new, ot.Name, pairs)
		// No migration checks the values stored inside a value type's JSON,
		// as it checks the model's own columns: a stored value that holds a
		// removed value no longer reads.
		for _, c := range pairs {
			if c.old == nil || c.new == nil {
				continue
			}
			if removals := valueRemovals(old, new, c.old, c.new); len(removals) > 0 {
				var vals []string
				for _, r := range removals {
					parts := strings.Split(r, ".")
					vals = append(vals, "`"+parts[len(parts)-2]+"`")
				}
				add(AreaDatabase, removals[0], "**not checked**: type `%s` field `%s`: a stored value holding %s (removed) no longer reads (`backends.StoredValueError`); the migration checks the model's own columns, not the values inside a value type's JSON: rewrite such values, or keep the value declared", nt.Name, c.new.Name, strings.Join(vals, ", "))
			}
		}
	}
	for _, nt := range new.Types {
		if typeByName(old, nt.Name) == nil {
			add(AreaGo, "", "type `%s` added", nt.Name)
		}
	}
	// Statuses, events, error codes, enums, sets.
	named := func(kind, idKind string, olds, news []string, goName func(string) string) {
		for _, n := range news {
			if !slices.Contains(olds, n) {
				add(AreaWire, "", "%s `%s` added", kind, n)
				if goName != nil {
					add(AreaGo, "", "constant `%s` added", goName(n))
				}
			}
		}
		for _, o := range olds {
			if !slices.Contains(news, o) {
				add(AreaWire, idKind+"."+o+".removed", "%s `%s` removed", kind, o)
				if goName != nil {
					add(AreaGo, idKind+"."+o+".removed", "constant `%s` removed", goName(o))
				}
			}
		}
	}
	og, ng := &generator{m: old}, &generator{m: new}
	named("status", "status", og.statusNames(), ng.statusNames(), func(s string) string { return "Status" + spec.GoName(s) })
	named("event", "event", og.eventNames(), ng.eventNames(), func(s string) string { return "Event" + spec.GoName(s) })
	named("error code", "error_code", codeNames(old), codeNames(new), func(s string) string { return "ErrorCode" + spec.GoName(s) })
	for _, oe := range old.Enums {
		ne := enumByName(new, oe.Name)
		if ne == nil {
			add(AreaWire, "enum."+oe.Name+".removed", "enum `%s` removed", oe.Name)
			add(AreaGo, "enum."+oe.Name+".removed", "type `%s` removed", oe.Name)
			continue
		}
		named("enum "+oe.Name+" value", "enum."+oe.Name, enumValues(oe), enumValues(ne), func(v string) string {
			for _, e := range []*spec.Enum{ne, oe} {
				for _, ev := range e.Values {
					if ev.Value == v {
						return ev.GoName
					}
				}
			}
			return v
		})
	}
	for _, ne := range new.Enums {
		if enumByName(old, ne.Name) == nil {
			add(AreaWire, "", "enum `%s` added", ne.Name)
		}
	}
	for _, os := range old.Sets {
		if setByName(new, os.Name) == nil {
			add(AreaGo, "set."+os.Name+".removed", "set `%s` removed (`Is%s`, `%sStatuses`)", os.Name, os.GoName, os.GoName)
		}
	}
	for _, ns := range new.Sets {
		os := setByName(old, ns.Name)
		if os == nil {
			add(AreaGo, "", "set `%s` added (`Is%s`, `%sStatuses`)", ns.Name, ns.GoName, ns.GoName)
			continue
		}
		members := func(st *spec.Set) []string {
			var out []string
			for _, x := range st.Statuses {
				out = append(out, x.Name)
			}
			return out
		}
		if o, n := members(os), members(ns); !slices.Equal(o, n) {
			add(AreaBehaviour, "", "set `%s` holds %s (was %s): `Is%s` and `%sStatuses` answer accordingly", ns.Name, statusList(n), statusList(o), ns.GoName, ns.GoName)
		}
	}
	compareAPI(add, old, new)
	// Behaviour: transitions, timeouts, progress, worker.
	for _, oe := range old.Events {
		ne := new.EventByName(oe.Name)
		if ne == nil {
			continue
		}
		for _, from := range oe.From {
			if new.StatusByName(from.Name) == nil {
				continue
			}
			if !ne.Leaves(new.StatusByName(from.Name)) {
				add(AreaBehaviour, "event."+oe.Name+".from."+from.Name+".removed", "event `%s` no longer leaves `%s`", oe.Name, from.Name)
			}
		}
		for _, from := range ne.From {
			if os := old.StatusByName(from.Name); os != nil && !oe.Leaves(os) {
				add(AreaBehaviour, "", "event `%s` also leaves `%s`", ne.Name, from.Name)
			}
		}
		if oe.To.Name != ne.To.Name {
			add(AreaBehaviour, "event."+oe.Name+".to", "event `%s` leads to `%s` (was `%s`)", oe.Name, ne.To.Name, oe.To.Name)
		}
		compareRequires(add, oe, ne, pairFields(old, new))
	}
	// A timeout (its duration, target, event and error code), a display
	// and the worker's events change generated code but nothing callers
	// send or read has to follow: a timed-out task still moves to a status
	// of the model with one of its error codes (removing a status or a
	// code is reported on its own, as breaking), and a display is what a
	// user interface shows. So they are not breaking, and the database does
	// not change (no migration, as for a doc). Changing the statuses a
	// worker claims from or runs tasks in is the exception (below).
	// A status's unified code is not stored (the status column holds its
	// name): the listing, the generated code and the clients' constants
	// compute it, so a change needs no migration and breaks nothing stored.
	// Clients see it, though: under Behaviour.
	switch ol, nl := Listed(old), Listed(new); {
	case !ol && nl:
		add(AreaBehaviour, "", "the unified listing (`/tasks`) lists the model's tasks: every status has a code")
	case ol && !nl:
		add(AreaBehaviour, "", "the unified listing (`/tasks`) no longer lists the model's tasks: its statuses have no code")
	}
	for _, ns := range new.Statuses {
		os := old.StatusByName(ns.Name)
		if os == nil {
			continue
		}
		if Listed(old) && Listed(new) && os.Code != ns.Code {
			add(AreaBehaviour, "", "status `%s` code: %s (was %s): the unified listing (`/tasks`) shows its tasks as %s, `/tasks?status=%s` selects them and `?status=%s` no longer does, and `Code()`, `StatusesWithCode` and the clients' `STATUS_CODE` follow; while programs of both specs serve the same database (a rolling deploy), each shows its own code for the same task",
				ns.Name, ns.Code, os.Code, ns.Code, ns.Code, os.Code)
		}
		if o, n := timeoutText(os.Timeout), timeoutText(ns.Timeout); o != n {
			add(AreaBehaviour, "", "status `%s` timeout: %s (was %s)", ns.Name, n, o)
		}
		if o, n := displayText(os.Display), displayText(ns.Display); o != n {
			add(AreaBehaviour, "", "status `%s` display: %s (was %s)", ns.Name, n, o)
		}
		if o, n := progressText(os.Progress), progressText(ns.Progress); o != n {
			add(AreaBehaviour, "", "status `%s` progress: %s (was %s)", ns.Name, n, o)
		}
		if os.Terminal != ns.Terminal {
			add(AreaBehaviour, "status."+ns.Name+".terminal", "status `%s` terminal: %v (was %v)", ns.Name, ns.Terminal, os.Terminal)
		}
	}
	for _, rs := range new.RetiredStatuses {
		if old.StatusByName(rs.Name) != nil {
			add(AreaBehaviour, "", "tasks in `%s` move to `%s` when the migration runs", rs.Name, rs.ReplacedBy.Name)
		}
	}
	switch {
	case old.Worker == nil && new.Worker != nil:
		add(AreaGo, "", "worker section added: `var Worker`, `PrepareFailure`")
		add(AreaBehaviour, "", "worker pools may run the model's tasks (claim `%s`, lease %s)", new.Worker.Claim.Name, durationText(new.Worker.Lease))
	case old.Worker != nil && new.Worker == nil:
		add(AreaGo, "worker.removed", "worker section removed: `var Worker`, `PrepareFailure` and the drivers' worker methods are gone")
		add(AreaBehaviour, "worker.removed", "no worker pool runs the model's tasks any more; running tasks lose their leases")
	}
	if old.Worker != nil && new.Worker != nil {
		if old.Worker.Lease != new.Worker.Lease {
			add(AreaBehaviour, "", "worker lease: %s (was %s)", durationText(new.Worker.Lease), durationText(old.Worker.Lease))
		}
		if old.Worker.MaxAttempts != new.Worker.MaxAttempts {
			add(AreaBehaviour, "", "worker max_attempts: %d (was %d)", new.Worker.MaxAttempts, old.Worker.MaxAttempts)
		}
		ow, nw := old.Worker, new.Worker
		if o, n := codeText(ow.ErrorCode), codeText(nw.ErrorCode); o != n {
			add(AreaBehaviour, "", "worker error_code: %s (was %s)", n, o)
		}
		for _, role := range []struct {
			key      string
			old, new *spec.Event
		}{{"claim", ow.Claim, nw.Claim}, {"complete", ow.Complete, nw.Complete}, {"fail", ow.Fail, nw.Fail}, {"cancel", ow.Cancel, nw.Cancel}, {"requeue", ow.Requeue, nw.Requeue}} {
			o, n := eventText(role.old), eventText(role.new)
			if o == n {
				continue
			}
			id, text := "", fmt.Sprintf("worker %s: %s (was %s)", role.key, n, o)
			if role.key == "claim" && (statusName(ow.Queue) != statusName(nw.Queue) || statusName(ow.Running) != statusName(nw.Running)) {
				id = "worker.claim"
				text = claimText(old, new)
			}
			add(AreaBehaviour, id, "%s", text)
		}
	}
	return r
}

// defaultChange is a field's default as the report shows it, or none.
func defaultChange(f *spec.Field) string {
	if !f.HasDefault {
		return "none"
	}
	if d, ok := f.Default.(time.Duration); ok {
		return "`" + durationText(d) + "`"
	}
	return "`" + valueText(f.Default) + "`"
}

// goTypeText is the Go type of field f of model m, as the generated
// struct declares it.
func goTypeText(m *spec.Model, f *spec.Field) string {
	return fmt.Sprintf("%#v", (&generator{m: m}).fieldType(f))
}

// compareRequires reports the fields an event requires more or less
// (a renamed field is the same field). Requiring one more breaks the
// callers that fire the event without it.
func compareRequires(add func(area, id, format string, a ...any), oe, ne *spec.Event, pairs []fieldChange) {
	was := func(f *spec.Field) string { // f's name in the old spec, "" for a new field
		if c := fieldPair(pairs, f); c != nil && c.old != nil {
			return c.old.Name
		}
		return ""
	}
	var olds []string
	for _, f := range oe.Requires {
		olds = append(olds, f.Name)
	}
	var kept []string
	for _, f := range ne.Requires {
		if o := was(f); o != "" && slices.Contains(olds, o) {
			kept = append(kept, o)
			continue
		}
		add(AreaBehaviour, "event."+ne.Name+".requires."+f.Name+".added", "event `%s` requires `%s`: firing it without one is refused", ne.Name, f.Name)
	}
	for _, o := range olds {
		if !slices.Contains(kept, o) {
			add(AreaBehaviour, "", "event `%s` no longer requires `%s`", ne.Name, o)
		}
	}
}

// compareAPI reports the changes of the api section: what the HTTP server
// (taskmodel serve) lets clients do. Removing the section, changing the
// owner and taking a field out of create break clients that worked
// before; adding the section or a field to create does not. The uploads'
// changes are compareUploads'.
func compareAPI(add func(area, id, format string, a ...any), old, new *spec.Model) {
	oa, na := old.API, new.API
	switch {
	case oa == nil && na == nil:
		return
	case oa == nil:
		add(AreaWire, "", "api section added: clients may create the model's tasks over HTTP (`POST /tasks`)")
		if na.Owner != nil {
			add(AreaBehaviour, "", "api owner: `%s`: a user who is not an admin sees the tasks whose `%s` names them (was: admins only)", na.Owner.Name, na.Owner.Name)
		}
		if na.Uploads != nil {
			add(AreaWire, "", "api uploads added: %s", uploadsAdded(na.Uploads))
		}
		return
	case na == nil:
		add(AreaWire, "api.removed", "api section removed: clients can no longer create the model's tasks over HTTP (`POST /tasks` refuses the model)")
		if oa.Owner != nil {
			add(AreaBehaviour, "api.removed", "api owner: none (was `%s`): only admins see the model's tasks; their owners no longer list or read them", oa.Owner.Name)
		}
		if oa.Uploads != nil {
			add(AreaWire, "api.removed", "api uploads removed with the section: %s", uploadsGone(oa.Uploads))
		}
		return
	}
	// The new field each old field is (renamed, maybe), by name.
	pairs := pairFields(old, new)
	now := func(f *spec.Field) *spec.Field {
		for _, c := range pairs {
			if c.old == f {
				return c.new
			}
		}
		return nil
	}
	switch o, n := oa.Owner, na.Owner; {
	case o == nil && n != nil:
		add(AreaBehaviour, "api.owner", "api owner: `%s` (was none): a user who is not an admin now sees the tasks whose `%s` names them (only admins saw the model's tasks)", n.Name, n.Name)
	case o != nil && n == nil:
		add(AreaBehaviour, "api.owner", "api owner: none (was `%s`): only admins see the model's tasks; their owners no longer list or read them", o.Name)
	case o != nil && now(o) != n:
		hidden := fmt.Sprintf("a task stored before whose `%s` does not name the user its `%s` named", n.Name, o.Name)
		if c := fieldPair(pairs, n); c != nil && c.old == nil {
			hidden = fmt.Sprintf("`%s` is new, so every task stored before", n.Name)
		}
		add(AreaBehaviour, "api.owner", "api owner: `%s` (was `%s`): the server shows a task to a user who is not an admin only when its `%s` names them; %s vanishes from its owner's listing, and reading it answers 404", n.Name, o.Name, n.Name, hidden)
	}
	for _, of := range oa.Create {
		nf := now(of)
		if nf == nil || slices.Contains(na.Create, nf) {
			continue // a field removed is reported as such
		}
		add(AreaWire, "api.create."+of.Name+".removed", "api create: field `%s` removed: a client that sends it when creating a task gets 400", nf.Name)
	}
	for _, nf := range na.Create {
		if c := fieldPair(pairs, nf); c != nil && c.old != nil && slices.Contains(oa.Create, c.old) {
			continue
		}
		add(AreaWire, "", "api create: field `%s` added: clients may set it when creating a task", nf.Name)
	}
	compareUploads(add, old, new)
}

// fieldPair is the pair of pairs whose new field is f, or nil.
func fieldPair(pairs []fieldChange, f *spec.Field) *fieldChange {
	for i := range pairs {
		if pairs[i].new == f {
			return &pairs[i]
		}
	}
	return nil
}

// claimText is the report's line for a worker claim event that changes
// the statuses workers claim from or run tasks in. Breaking: the tasks
// queued in the old queue are not claimed any more, and a task running
// under a lease stays in the old running status, where the new program's
// pools renew no lease and sweep none that expired: it is never requeued
// or failed, as a task whose worker vanished would be.
func claimText(old, new *spec.Model) string {
	ow, nw := old.Worker, new.Worker
	oq, or, nq, nr := statusName(ow.Queue), statusName(ow.Running), statusName(nw.Queue), statusName(nw.Running)
	s := fmt.Sprintf("worker claim: `%s` (was `%s`): ", nw.Claim.Name, ow.Claim.Name)
	switch {
	case oq == nq:
		s += fmt.Sprintf("workers run the tasks they claim from `%s` in `%s` (they ran them in `%s`)", nq, nr, or)
	case or == nr:
		s += fmt.Sprintf("workers claim tasks from `%s` (they claimed from `%s`) and still run them in `%s`", nq, oq, nr)
	default:
		s += fmt.Sprintf("workers claim tasks from `%s` and run them in `%s` (they claimed from `%s` and ran them in `%s`)", nq, nr, oq, or)
	}
	if oq != nq && new.StatusByName(oq) != nil {
		s += fmt.Sprintf("; tasks queued in `%s` are no longer claimed", oq)
	}
	if or != nr && new.StatusByName(or) != nil {
		s += fmt.Sprintf("; a task leased in `%s` is never rescued by the new program, which renews and sweeps leases in `%s` only: if its worker stops, it is neither requeued nor failed but stays in `%s` unless something else moves it; let such tasks finish, or move them, before deploying", or, nr, or)
	}
	return s
}

// acknowledge sorts the entries of new's breaking_changes into those
// arriving now (Acknowledged), those old has too (Earlier) and those
// naming no change (Unmatched), once r.Changes is complete. An entry
// naming an alias counts as naming the change's ID.
func (r *Report) acknowledge(old, new *spec.Model) {
	for _, e := range new.BreakingChanges {
		id := spec.AckID(e)
		ids := append([]string{id}, r.aliases[id]...)
		if slices.Contains(old.BreakingChanges, e) {
			r.Earlier = append(r.Earlier, ids...)
			continue
		}
		r.Acknowledged = append(r.Acknowledged, ids...)
		if !r.Names(e) {
			r.Unmatched = append(r.Unmatched, e)
		}
	}
}

// compareFields reports the changes of paired fields: the model's when
// typeName is "", else those of the value type typeName. A value type's
// IDs start type.<Type>.field.<name>.
//
// With alias (the report), a field whose rule narrows only because its
// enum (its statuses, its error codes) lost values is no change of its
// own: its line carries the ID of the first value's removal, and alias
// records the field's own ID (…narrowed) as naming those removals. Without
// (a migration's notes), the line keeps the field's ID.
func compareFields(add func(area, id, format string, a ...any), alias func(was, id string), old, new *spec.Model, typeName string, pairs []fieldChange) {
	id, where := "field.", ""
	if typeName != "" {
		id, where = "type."+typeName+".field.", "type `"+typeName+"` "
	}
	for _, c := range pairs {
		switch {
		case c.old == nil:
			added := ""
			if c.new.Required {
				added = id + c.new.Name + ".added_required"
			}
			add(AreaWire, added, where+"field `%s` added (%s)", c.new.Name, fieldSummary(c.new))
			add(AreaGo, "", where+"field `%s` added", c.new.GoName)
		case c.new == nil:
			add(AreaWire, id+c.old.Name+".removed", where+"field `%s` removed", c.old.Name)
			add(AreaGo, id+c.old.Name+".removed", where+"field `%s` removed", c.old.GoName)
		default:
			if c.renamed() {
				add(AreaWire, id+c.old.Name+".renamed", where+"field `%s` renamed to `%s`", c.old.Name, c.new.Name)
				if c.old.GoName != c.new.GoName {
					add(AreaGo, id+c.old.Name+".renamed", where+"field `%s` renamed to `%s`", c.old.GoName, c.new.GoName)
				}
			}
			if c.old.Type.Name() != c.new.Type.Name() {
				add(AreaWire, id+c.new.Name+".type", where+"field `%s`: type %s (was %s)", c.new.Name, c.new.Type.Name(), c.old.Type.Name())
				add(AreaGo, id+c.new.Name+".type", where+"field `%s`: its Go type is `%s` (was `%s`)", c.new.GoName, goTypeText(new, c.new), goTypeText(old, c.old))
			}
			if c.old.Optional && !c.new.Optional {
				add(AreaWire, id+c.new.Name+".not_null", where+"field `%s` may no longer be null", c.new.Name)
				add(AreaGo, id+c.new.Name+".not_null", where+"field `%s` is no longer a pointer", c.new.GoName)
			} else if !c.old.Optional && c.new.Optional {
				// A reader gets null where it always had a value: breaking,
				// as it is for Go callers.
				add(AreaWire, id+c.new.Name+".nullable", where+"field `%s` may be null", c.new.Name)
				add(AreaGo, id+c.new.Name+".nullable", where+"field `%s` becomes a pointer", c.new.GoName)
			}
			if !c.old.Required && c.new.Required {
				add(AreaWire, id+c.new.Name+".required", where+"field `%s` must be present in JSON", c.new.Name)
			}
			// A default is not stored in the database (no migration): it is
			// what a task created without the field gets, and the OpenAPI
			// default; in a value type, what JSON without the key reads as,
			// stored values written before the field existed included.
			switch o, n := defaultChange(c.old), defaultChange(c.new); {
			case o == n:
			case !c.new.HasDefault:
				add(AreaBehaviour, "", where+"field `%s` has no default (was %s)", c.new.Name, o)
			case typeName == "":
				add(AreaBehaviour, "", "field `%s` default: %s (was %s): a task created without it gets %s, as OpenAPI shows; stored tasks keep their values", c.new.Name, n, o, n)
			default:
				add(AreaBehaviour, "", where+"field `%s` default: %s (was %s): a value whose JSON lacks it reads as %s, as OpenAPI shows, stored values written before the field existed included", c.new.Name, n, o, n)
			}
			if o, n := ruleText(old, c.old), ruleText(new, c.new); o != n && c.old.Type.Name() == c.new.Type.Name() {
				if narrows(old, new, c.old, c.new) {
					nid := id + c.new.Name + ".narrowed"
					if removals := valueRemovals(old, new, c.old, c.new); alias != nil && len(removals) > 0 && !narrowsBeyondValues(old, c.old, c.new) {
						for _, r := range removals {
							alias(nid, r)
						}
						nid = removals[0]
					}
					add(AreaWire, nid, where+"field `%s`: %s (was %s): values allowed before are refused", c.new.Name, orNoLimit(n), orNoLimit(o))
				} else {
					add(AreaWire, "", where+"field `%s`: %s (was %s)", c.new.Name, orNoLimit(n), orNoLimit(o))
				}
			}
		}
	}
}

// valueRemovals are the IDs of the removals, from the old spec to the new
// one, of the values a field of an enum, a status or an error code type
// (or a list of one) takes: enum.<Enum>.<value>.removed,
// status.<name>.removed, error_code.<code>.removed, as the report gives
// them.
func valueRemovals(om, nm *spec.Model, o, n *spec.Field) []string {
	og, ng := &generator{m: om}, &generator{m: nm}
	var out []string
	for _, t := range [][2]*spec.TypeRef{{o.Type, n.Type}, {o.Type.Elem, n.Type.Elem}} {
		if t[0] == nil || t[1] == nil || t[0].Kind != t[1].Kind {
			continue
		}
		prefix := ""
		switch t[1].Kind {
		case spec.KindEnum:
			prefix = "enum." + t[1].Enum.Name + "."
		case spec.KindStatus:
			prefix = "status."
		case spec.KindErrorCode:
			prefix = "error_code."
		default:
			continue
		}
		for _, v := range listRemoved(og.enumValues(t[0]), ng.enumValues(t[1])) {
			out = append(out, prefix+v+".removed")
		}
	}
	return out
}

// narrowsBeyondValues reports whether the new field narrows the old one
// in a way other than its enum (statuses, error codes) losing values: the
// new field, taking the old field's values, still narrows.
func narrowsBeyondValues(om *spec.Model, o, n *spec.Field) bool {
	same := *n
	same.Type = o.Type
	if n.Items != nil && o.Type.Elem != nil {
		items := *n.Items
		items.Type = o.Type.Elem
		same.Items = &items
	}
	return narrows(om, om, o, &same)
}

func typeByName(m *spec.Model, name string) *spec.Type {
	for _, t := range m.Types {
		if t.Name == name {
			return t
		}
	}
	return nil
}

// pairFields matches the fields of both specs by name, or by renamed_from;
// a field added or removed is paired with nil.
func pairFields(old, new *spec.Model) []fieldChange {
	return pairFieldList(old.Fields, new.Fields)
}

// pairFieldList is pairFields of two lists of fields (a value type's).
func pairFieldList(olds, news []*spec.Field) []fieldChange {
	byName := func(name string) *spec.Field {
		for _, f := range olds {
			if f.Name == name {
				return f
			}
		}
		return nil
	}
	var out []fieldChange
	used := map[string]bool{}
	for _, nf := range news {
		of := byName(nf.Name)
		if of == nil && nf.RenamedFrom != "" {
			of = byName(nf.RenamedFrom)
		}
		if of != nil {
			used[of.Name] = true
		}
		out = append(out, fieldChange{old: of, new: nf})
	}
	for _, of := range olds {
		if !used[of.Name] {
			out = append(out, fieldChange{old: of})
		}
	}
	return out
}

func codeNames(m *spec.Model) []string {
	return namesOf(m.ErrorCodes, func(c *spec.ErrorCode) string { return c.Name })
}

func enumByName(m *spec.Model, name string) *spec.Enum {
	for _, e := range m.Enums {
		if e.Name == name {
			return e
		}
	}
	return nil
}

func enumValues(e *spec.Enum) []string {
	out := make([]string, len(e.Values))
	for i, v := range e.Values {
		out[i] = v.Value
	}
	return out
}

func setByName(m *spec.Model, name string) *spec.Set {
	for _, s := range m.Sets {
		if s.Name == name {
			return s
		}
	}
	return nil
}

func timeoutText(t *spec.Timeout) string {
	if t == nil {
		return "none"
	}
	s := fmt.Sprintf("after %s to %s", durationText(t.After), t.To.Name)
	if t.Event != nil {
		s += " by event " + t.Event.Name
	}
	if t.ErrorCode != nil {
		s += " with error code " + t.ErrorCode.Name
	}
	return s
}

// displayText lists what a status's display sets.
func displayText(d *spec.Display) string {
	if d == nil {
		return "none"
	}
	var parts []string
	for _, kv := range [][2]string{{"label", d.Label}, {"color", d.Color}, {"icon", d.Icon}, {"message", d.Message}} {
		if kv[1] != "" {
			parts = append(parts, fmt.Sprintf("%s %q", kv[0], kv[1]))
		}
	}
	if d.Poll > 0 {
		parts = append(parts, "poll "+durationText(d.Poll))
	}
	if len(parts) == 0 {
		return "empty"
	}
	return strings.Join(parts, ", ")
}

func eventText(e *spec.Event) string {
	if e == nil {
		return "none"
	}
	return "`" + e.Name + "`"
}

func codeText(c *spec.ErrorCode) string {
	if c == nil {
		return "none"
	}
	return "`" + c.Name + "`"
}

func statusName(s *spec.Status) string {
	if s == nil {
		return ""
	}
	return s.Name
}

func progressText(p *spec.Progress) string {
	switch {
	case p == nil:
		return "none"
	case p.Fixed:
		return fmt.Sprintf("%d%%", p.Percent)
	}
	return fmt.Sprintf("%d–%d%%", p.From, p.To)
}

// Markdown renders the report for a pull request: from names what the spec
// is compared with.
func (r *Report) Markdown(from string) string {
	var b strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	p("## Model `%s`: changes since %s\n\n", r.Model, from)
	if len(r.Changes) == 0 {
		p("No change.\n\n")
	}
	for _, area := range areas {
		var lines []string
		for _, c := range r.Changes {
			if c.Area != area {
				continue
			}
			line := "- " + c.Text
			if c.ID != "" {
				mark := "**breaking**"
				if slices.Contains(r.Acknowledged, c.ID) {
					mark = "breaking, acknowledged"
				}
				line += fmt.Sprintf(" (%s: `%s`)", mark, c.ID)
			}
			lines = append(lines, line)
		}
		if len(lines) == 0 {
			continue
		}
		p("### %s\n\n%s\n\n", area, strings.Join(lines, "\n"))
	}
	if un := r.Unacknowledged(); len(un) > 0 && r.Refused == "" { // a refused change is not acknowledged away
		sort.Strings(un)
		what, them := fmt.Sprintf("%d breaking changes are", len(un)), "they are meant, list them"
		if len(un) == 1 {
			what, them = "1 breaking change is", "it is meant, list it"
		}
		p("**%s not acknowledged.** If %s in the spec:\n\n```yaml\nbreaking_changes:\n", what, them)
		for _, id := range un {
			if slices.Contains(r.Earlier, id) {
				p("  - %s <why>\n", id) // the bare ID is listed already
			} else {
				p("  - %s\n", id)
			}
		}
		p("```\n\n")
		for _, id := range un {
			if slices.Contains(r.Earlier, id) {
				p("`%s` is under breaking_changes at %s already, where it acknowledged an earlier change: an entry acknowledges the change it arrives with. List the ID again with a reason after it, or reword the old entry.\n\n", id, from)
			}
		}
	}
	for _, e := range r.Unmatched {
		p("**breaking_changes lists `%s`, which names none of the changes since %s.** Correct the ID (this report prints the ID of each breaking change), or remove the entry: a change that an earlier migration already holds needs none.\n\n", e, from)
	}
	return b.String()
}

// statusList writes names as Markdown code, comma-separated: `A`, `B`.
func statusList(names []string) string {
	if len(names) == 0 {
		return "no status"
	}
	return "`" + strings.Join(names, "`, `") + "`"
}
