package gen

import (
	"encoding/json"
	"fmt"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/taskmodel/taskmodel/tools/taskgen/internal/spec"
)

// Markers split a generated migration into the parts a backend runs apart
// (tasktype.Migration.Parts reads them): data checks, run first in the
// migration's transaction; the body; and, on PostgreSQL, the validation of
// constraints added NOT VALID, each in a transaction of its own after the
// body committed, so that no write waits for a whole table's scan.
const (
	markerCheck    = "-- taskmodel:check "
	markerMigrate  = "-- taskmodel:migrate"
	markerValidate = "-- taskmodel:validate"
)

// evolution is the migration from the spec a model's newest migration was
// generated from (old) to the current spec (new), for every engine.
type evolution struct {
	old, new *generator
	// prev is the spec of the migration before old's, when old is a
	// migration's snapshot and one precedes it; nil otherwise.
	prev   *spec.Model
	errs   spec.ErrorList
	fields []fieldChange
	// changes describes each change in a line, for the migration's header.
	changes        []string
	slugs          []string
	statusChanged  bool
	historyChanged bool
	workerChanged  bool
	moves          []*spec.RetiredStatus
	entryFills     []entryFill
}

// entryFill is a status whose tasks already in it get their entry time
// from their history: its entered_at column is new, or another one than
// the column it recorded its entry in. Left empty, the column would hold
// null for them, and a task whose entry time is null never times out.
type entryFill struct{ status, column string }

// fieldChange pairs a field of the old spec with the same field of the new
// one (renamed, maybe); old or new is nil for a field added or removed.
type fieldChange struct {
	old, new *spec.Field
}

func (c fieldChange) name() string {
	if c.new != nil {
		return c.new.Name
	}
	return c.old.Name
}

func (c fieldChange) renamed() bool { return c.old != nil && c.new != nil && c.old.Name != c.new.Name }

// evolve compares old with new. It returns nil, nil when the database needs
// no change; an ErrorList (positions in the new spec) when a change cannot
// be migrated. prev is the snapshot of the migration before old's, or nil:
// its errors then say how to redo old's migration where that is the way
// out.
func evolve(prev, old, new *spec.Model) (*evolution, error) {
	ev := &evolution{old: &generator{m: old, storage: true}, new: &generator{m: new, storage: true}, prev: prev}
	if old.Name != new.Name {
		ev.fail(new.Pos, fmt.Sprintf("model %q was %q when its last migration was generated; a model's name is its table's name and cannot change (declare a new model instead)", new.Name, old.Name))
		return nil, ev.errs
	}
	if (old.Worker == nil) != (new.Worker == nil) {
		ev.workerChanged = true
		if new.Worker != nil {
			ev.note("add_worker", "add the worker section: the lease columns (tm_lease_owner, tm_lease_expires_at, tm_lease_attempt)")
		} else {
			ev.note("drop_worker", "remove the worker section: the lease columns go, with any lease a running task holds")
		}
	}
	ev.noteFields()
	ev.compareTypes()
	if !ev.checkRetired() {
		ev.compareStatuses()
	}
	ev.noteEntryFills()
	if len(ev.errs) > 0 {
		return nil, ev.errs
	}
	if len(ev.changes) == 0 {
		for _, e := range Engines {
			if !slices.Equal(indexSQL(ev.old.engineIndexes(e)), indexSQL(ev.new.engineIndexes(e))) {
				ev.note("indexes", "indexes follow the spec (the listing's tag or owner, terminal statuses, timeouts)")
				break
			}
		}
	}
	if len(ev.changes) == 0 {
		return nil, nil
	}
	return ev, nil
}

func (ev *evolution) fail(pos spec.Pos, msg string) {
	ev.errs = append(ev.errs, &spec.Error{Pos: pos, Msg: msg})
}

func indexSQL(ixs []index) []string {
	out := make([]string, len(ixs))
	for i, ix := range ixs {
		out[i] = ix.sql
	}
	return out
}

// noteFields pairs the fields of both specs, by name or by renamed_from,
// and notes their changes.
func (ev *evolution) noteFields() {
	if ev.checkRenamedFrom(ev.old.m.Fields, ev.new.m.Fields, "") {
		return
	}
	ev.fields = pairFields(ev.old.m, ev.new.m)
	for _, c := range ev.fields {
		switch {
		case c.old == nil:
			f := c.new
			if !f.Optional && ev.fill(f) == nil {
				ev.fail(f.Pos, fmt.Sprintf("field %q is new and not optional, so the tasks already stored need a value: give it a default, or backfill: VALUE, or make it optional", f.Name))
				continue
			}
			ev.note("add_"+f.Name, fmt.Sprintf("add field %s (%s)", f.Name, fieldSummary(f)))
		case c.new == nil:
			ev.note("drop_"+c.old.Name, fmt.Sprintf("drop field %s: its values are lost", c.old.Name))
		default:
			if c.renamed() {
				ev.note("rename_"+c.old.Name+"_to_"+c.new.Name, fmt.Sprintf("rename field %s to %s (values kept)", c.old.Name, c.new.Name))
			}
			ev.compareField(c)
		}
	}
}

// checkRenamedFrom refuses a new field (one the old spec lacks by its own
// name) whose renamed_from names no field of the old spec: a mistyped
// earlier name would turn the rename into a drop and an add, and the
// values would be lost. A renamed_from the spec keeps after its rename
// (the old spec has the field under its new name) names nothing to rename.
// olds and news are the model's fields, or those of value type typeName.
// It reports whether it refused one.
func (ev *evolution) checkRenamedFrom(olds, news []*spec.Field, typeName string) bool {
	named := func(fs []*spec.Field, name string) bool {
		return slices.ContainsFunc(fs, func(f *spec.Field) bool { return f.Name == name })
	}
	refused := false
	for _, f := range news {
		if f.RenamedFrom == "" || named(olds, f.Name) || named(olds, f.RenamedFrom) {
			continue
		}
		var all, dropped []string
		for _, o := range olds {
			all = append(all, o.Name)
			if !named(news, o.Name) {
				dropped = append(dropped, o.Name)
			}
		}
		what, of := fmt.Sprintf("field %q", f.Name), " of"
		if typeName != "" {
			what, of = fmt.Sprintf("field %q of type %q", f.Name, typeName), fmt.Sprintf(" of type %q in", typeName)
		}
		msg := fmt.Sprintf("%s: renamed_from %q names no field%s %s; its fields are: %s", what, f.RenamedFrom, of, comparedSpec(ev.old.m), strings.Join(all, ", "))
		if len(all) == 0 {
			msg = fmt.Sprintf("%s: renamed_from %q names no field%s %s, which has none", what, f.RenamedFrom, of, comparedSpec(ev.old.m))
		}
		if s := closest(f.RenamedFrom, dropped); s != "" {
			msg += fmt.Sprintf(" (did you mean %q?)", s)
		} else if len(dropped) > 0 {
			msg += "; the fields this spec no longer has: " + strings.Join(dropped, ", ")
		} else {
			msg += "; this spec has all of them: renamed_from names the field's name in that spec, or remove it if the field is new"
		}
		ev.fail(f.Pos, msg)
		refused = true
	}
	return refused
}

// checkRetired refuses an entry under retired: that names no status (no
// event) of the old spec: a typo, or a name that never was, which would
// otherwise widen the history table's CHECKs for nothing, or move no task
// while the status meant keeps them (and is refused as a removal). A name
// the old spec retired already stays valid. Like renamed_from, retired
// names are checked only against a spec to compare with. A name that the
// migration before old's has (prevs) is one old's migration removed: if no
// database applied that migration (one refused it, finding the name in its
// rows), the entry belongs to a redo of it, which the error explains. It
// reports whether it refused one.
func (ev *evolution) checkRetired() bool {
	old, new := ev.old.m, ev.new.m
	refused := false
	check := func(pos spec.Pos, kind, name string, olds, retiredOld, news, prevs []string) {
		if slices.Contains(olds, name) || slices.Contains(retiredOld, name) {
			return
		}
		var removed []string
		for _, o := range olds {
			if !slices.Contains(news, o) {
				removed = append(removed, o)
			}
		}
		msg := fmt.Sprintf("retired %s %q names no %s of %s; its %s are: %s", kind, name, kind, comparedSpec(old), kindPlural(kind), strings.Join(olds, ", "))
		if len(retiredOld) > 0 {
			msg += " (retired: " + strings.Join(retiredOld, ", ") + ")"
		}
		if s := closest(name, append(slices.Clone(removed), retiredOld...)); s != "" {
			msg += fmt.Sprintf(" (did you mean %q?)", s)
		} else if len(removed) > 0 {
			msg += fmt.Sprintf("; the %s this spec no longer has: %s", kindPlural(kind), strings.Join(removed, ", "))
		} else {
			msg += fmt.Sprintf("; this spec has all of them: retired lists the %s that spec has and this one removes, or remove the entry", kindPlural(kind))
		}
		if files := migrationFiles(old); ev.prev != nil && files != nil && slices.Contains(prevs, name) {
			mig := strings.TrimSuffix(filepath.Base(old.Pos.File), ".yaml")
			msg += fmt.Sprintf(". Migration %s removed the %s: if no database applied it (one refused it), delete its files (%s and %s) and generate again, so that the entry retires the %s of %s",
				mig, kind, strings.Join(files[:len(files)-1], ", "), files[len(files)-1], kind, comparedSpec(ev.prev))
		}
		ev.fail(pos, msg)
		refused = true
	}
	statusName := func(s *spec.Status) string { return s.Name }
	retiredStatus := func(r *spec.RetiredStatus) string { return r.Name }
	var prevStatuses, prevEvents []string
	eventName := func(e *spec.Event) string { return e.Name }
	if ev.prev != nil {
		prevStatuses, prevEvents = namesOf(ev.prev.Statuses, statusName), namesOf(ev.prev.Events, eventName)
	}
	for _, r := range new.RetiredStatuses {
		check(r.Pos, "status", r.Name, namesOf(old.Statuses, statusName), namesOf(old.RetiredStatuses, retiredStatus), namesOf(new.Statuses, statusName), prevStatuses)
	}
	retiredEvent := func(r *spec.RetiredEvent) string { return r.Name }
	for _, r := range new.RetiredEvents {
		check(r.Pos, "event", r.Name, namesOf(old.Events, eventName), namesOf(old.RetiredEvents, retiredEvent), namesOf(new.Events, eventName), prevEvents)
	}
	return refused
}

func kindPlural(kind string) string {
	if kind == "status" {
		return "statuses"
	}
	return kind + "s"
}

// comparedSpec names the spec the current one is compared with: the
// snapshot of a migration (migrations/spec/<name>.yaml), else its file.
func comparedSpec(m *spec.Model) string {
	dir, file := path.Split(filepath.ToSlash(m.Pos.File))
	if strings.HasSuffix(dir, MigrationsDir+"/spec/") {
		return "the spec of migration " + strings.TrimSuffix(file, ".yaml")
	}
	return "the spec it is compared with (" + m.Pos.File + ")"
}

// migrationFiles lists the files of the migration whose snapshot m is
// (migrations/spec/<name>.yaml, under the package's directory as m's
// position names it): each engine's SQL, then the snapshot. Nil when m is
// no migration's snapshot.
func migrationFiles(m *spec.Model) []string {
	snap := filepath.ToSlash(m.Pos.File)
	dir, file := path.Split(snap)
	if !strings.HasSuffix(dir, MigrationsDir+"/spec/") {
		return nil
	}
	mig := path.Dir(path.Dir(snap))
	name := strings.TrimSuffix(file, ".yaml")
	var files []string
	for _, e := range Engines {
		files = append(files, filepath.FromSlash(path.Join(mig, string(e), name+".sql")))
	}
	return append(files, filepath.FromSlash(snap))
}

// closest is the name of names nearest to name by edit distance, if near
// enough to be a typo of it (at most a third of its length, at least 2);
// "" when none is.
func closest(name string, names []string) string {
	best, bestD := "", max(2, len([]rune(name))/3)+1
	for _, n := range names {
		if d := editDistance(name, n); d < bestD {
			best, bestD = n, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}

// compareField checks that a field's SQL type can follow its change and
// notes what changes.
func (ev *evolution) compareField(c fieldChange) {
	for _, e := range Engines {
		oc, nc := ev.old.column(e, c.old), ev.new.column(e, c.new)
		if oc.Type != nc.Type && !intToFloat(c.old, c.new) && !(e == MySQL && mysqlText(oc.Type) && mysqlText(nc.Type)) {
			ev.fail(c.new.Pos, fmt.Sprintf("field %q changes type from %s to %s, which stored values cannot be converted to safely; add a field under a new name instead", c.new.Name, c.old.Type.Name(), c.new.Type.Name()))
			return
		}
	}
	if !sameStoredMeaning(c.old.Type, c.new.Type) {
		ev.fail(c.new.Pos, fmt.Sprintf("field %q changes type from %s to %s: the column stays, but its stored values cannot be read as the new type; add a field under a new name instead", c.new.Name, c.old.Type.Name(), c.new.Type.Name()))
		return
	}
	var what []string
	if c.old.Type.Name() != c.new.Type.Name() {
		what = append(what, fmt.Sprintf("type %s (was %s)", c.new.Type.Name(), c.old.Type.Name()))
	}
	if c.old.Optional && !c.new.Optional {
		w := "no longer optional"
		if v := ev.fill(c.new); v != nil {
			w += fmt.Sprintf(" (tasks without a value get %s)", valueText(v))
		} else {
			w += " (refused if a task has no value)"
		}
		what = append(what, w)
	} else if !c.old.Optional && c.new.Optional {
		what = append(what, "now optional")
	}
	changed := false
	for _, e := range Engines {
		if ev.old.renamedColumn(e, c).check() != ev.new.column(e, c.new).check() {
			changed = true
		}
	}
	or, nr := ruleText(ev.old.m, c.old), ruleText(ev.new.m, c.new)
	switch {
	case changed:
		w := "limits: " + orNoLimit(nr) + " (was " + orNoLimit(or) + ")"
		if narrows(ev.old.m, ev.new.m, c.old, c.new) {
			w += ", checked against the stored tasks"
		}
		what = append(what, w)
	case or != nr && narrows(ev.old.m, ev.new.m, c.old, c.new):
		// Narrower rules only the generated validators enforce (item
		// counts, item limits, a pattern, single-line text): the database
		// does not change, but the migration checks the stored tasks where
		// SQL can (item counts and lengths) and records the spec in its
		// snapshot, so that the next comparison starts from the narrower
		// rule. A widened rule, like a doc, needs no migration.
		w := "validation: " + orNoLimit(nr) + " (was " + orNoLimit(or) + "); the database does not change"
		if itemsCheck(PostgreSQL, c.new.Name, c.new) != "" && itemsNarrow(ev.old.m, ev.new.m, c.old, c.new) {
			w += ", checked against the stored tasks"
		} else {
			w += "; stored tasks are not checked (SQL cannot test this rule)"
		}
		what = append(what, w)
	}
	if len(what) > 0 {
		ev.note("change_"+c.new.Name, fmt.Sprintf("field %s: %s", c.new.Name, strings.Join(what, "; ")))
	}
}

func orNoLimit(s string) string {
	if s == "" {
		return "no limit"
	}
	return s
}

// compareStatuses notes statuses and events added or removed.
func (ev *evolution) compareStatuses() {
	old, new := ev.old.m, ev.new.m
	oldS, newS := ev.old.statusNames(), ev.new.statusNames()
	for _, s := range newS {
		if !slices.Contains(oldS, s) {
			ev.statusChanged = true
			ev.note("add_"+strings.ToLower(s), "add status "+s)
		}
	}
	for _, s := range oldS {
		if slices.Contains(newS, s) {
			continue
		}
		ev.statusChanged = true
		if r := retired(new, s); r != nil {
			ev.moves = append(ev.moves, r)
			ev.note("retire_"+strings.ToLower(s), fmt.Sprintf("remove status %s: its tasks move to %s, each with a history row", s, r.ReplacedBy.Name))
		} else {
			ev.note("remove_"+strings.ToLower(s), fmt.Sprintf("remove status %s: refused if a task is in it (retire it with replaced_by to move its tasks)", s))
		}
	}
	if !slices.Equal(old.HistoryStatuses(), new.HistoryStatuses()) || !slices.Equal(old.HistoryEvents(), new.HistoryEvents()) {
		ev.historyChanged = true
		var added, removed []string
		oe, ne := old.HistoryEvents(), new.HistoryEvents()
		for _, e := range ne {
			if !slices.Contains(oe, e) {
				added = append(added, e)
			}
		}
		for _, e := range oe {
			if !slices.Contains(ne, e) {
				removed = append(removed, e)
			}
		}
		if len(added) > 0 {
			ev.note("events", "add events "+strings.Join(added, ", "))
		}
		if len(removed) > 0 {
			ev.note("events", "remove events "+strings.Join(removed, ", ")+": refused if a history row records one (list them under retired: events: to keep those rows)")
		}
		// A status the old spec had retired, no longer listed: the
		// history rows that record it no longer fit.
		for _, r := range old.RetiredStatuses {
			if !slices.Contains(new.HistoryStatuses(), r.Name) {
				ev.note("unretire_"+strings.ToLower(r.Name), fmt.Sprintf("remove retired status %s: refused if a history row records it (keep it under retired: statuses: to keep those rows)", r.Name))
			}
		}
	}
}

// noteEntryFills notes the statuses whose entered_at column the tasks
// already in them have no value in (a new column) or a value that is not
// their entry time (a column the status did not record its entry in).
func (ev *evolution) noteEntryFills() {
	for _, ns := range ev.new.m.Statuses {
		os := ev.old.m.StatusByName(ns.Name)
		col := ns.EnteredAt
		if os == nil || col == "" || col == "created_at" {
			continue
		}
		c, ok := ev.fieldChange(col)
		if !ok || (c.old != nil && c.old.Name == os.EnteredAt) {
			continue // the same column, maybe renamed: its values stay
		}
		ev.entryFills = append(ev.entryFills, entryFill{status: ns.Name, column: col})
		slug := "entered_at_" + strings.ToLower(ns.Name)
		if c.old == nil {
			slug = "add_" + col // named after the new column already
		}
		ev.note(slug, fmt.Sprintf("tasks already in %s get their entry time (%s) from their history: the time of their latest move into %s, else their updated_at", ns.Name, col, ns.Name))
	}
}

// renderEntryFills sets the entry time of the tasks already in a status
// whose entered_at column is new or another one (entryFills): the time of
// the task's latest history row into the status, else its updated_at. It
// runs after the moves of retired statuses' tasks, and running it twice
// writes the same values.
func (ev *evolution) renderEntryFills(p func(string, ...any), e Engine) {
	table, history := Table(ev.new.m)
	for _, f := range ev.entryFills {
		st := quoteSQL(f.status)
		p("-- Tasks already in %s get their entry time from their history.\n", f.status)
		p("UPDATE %s SET %s = coalesce((SELECT h.at FROM %s AS h WHERE h.task_id = %s.id AND h.to_status = %s ORDER BY h.seq DESC LIMIT 1), updated_at)\nWHERE status = %s;\n",
			table, sqlIdent(e, f.column), history, table, st, st)
	}
}

func retired(m *spec.Model, status string) *spec.RetiredStatus {
	for _, r := range m.RetiredStatuses {
		if r.Name == status {
			return r
		}
	}
	return nil
}

func (ev *evolution) note(slug, line string) {
	if !slices.Contains(ev.slugs, slug) {
		ev.slugs = append(ev.slugs, slug)
	}
	ev.changes = append(ev.changes, line)
}

// slug names the migration after its changes.
func (ev *evolution) slug() string {
	var s string
	switch {
	case len(ev.slugs) == 1:
		s = ev.slugs[0]
	case len(ev.slugs) == 2:
		s = ev.slugs[0] + "_and_" + ev.slugs[1]
	default:
		s = ev.slugs[0] + "_and_more"
	}
	// Status names may hold capitals and dashes; a migration's name is
	// [a-z0-9_].
	s = strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			return r
		case r >= 'A' && r <= 'Z':
			return r + 'a' - 'A'
		}
		return '_'
	}, s)
	if len(s) > 60 {
		s = strings.TrimRight(s[:60], "_")
	}
	if isFrameworkName(s) {
		s += "_spec"
	}
	return s
}

// fill is the value written into stored tasks that have none when the
// field becomes NOT NULL: its backfill, else its default; nil if neither.
func (ev *evolution) fill(f *spec.Field) any {
	if f.HasBackfill {
		return f.Backfill
	}
	if f.HasDefault {
		return f.Default
	}
	return nil
}

// sameStoredMeaning reports whether a column's values stored as type o
// read as type n once the column has followed (or kept its SQL type): the
// same type, an int read as a float, and text (a string, an enum, a status,
// an error code: the CHECK and the data checks decide which values stay).
// A duration and an int share a column but not a meaning; a JSON column's
// values must be readable as they are (jsonReadable).
func sameStoredMeaning(o, n *spec.TypeRef) bool {
	switch {
	case o.Name() == n.Name():
		return true
	case o.Kind == spec.KindInt && n.Kind == spec.KindFloat:
		return true
	case isText(o) && isText(n):
		return true
	case n.Kind == spec.KindJSON:
		// json takes any JSON value: a list's or a value type's, stored
		// as JSON already (a column of another type cannot follow).
		return o.Kind == spec.KindList || o.Kind == spec.KindType
	}
	return jsonReadable(o, n)
}

// jsonReadable reports whether a value stored in JSON as type o decodes as
// type n, with no database check in between: the same type, an int as a
// float, any text as a string, anything as json, and lists of those.
func jsonReadable(o, n *spec.TypeRef) bool {
	switch {
	case o.Name() == n.Name():
		return true
	case o.Kind == spec.KindInt && n.Kind == spec.KindFloat:
		return true
	case isText(o) && n.Kind == spec.KindString:
		return true
	case n.Kind == spec.KindJSON:
		return true // any JSON value
	case o.Kind == spec.KindList && n.Kind == spec.KindList && o.Elem != nil && n.Elem != nil:
		return jsonReadable(o.Elem, n.Elem)
	}
	return false
}

func isText(t *spec.TypeRef) bool {
	switch t.Kind {
	case spec.KindString, spec.KindEnum, spec.KindStatus, spec.KindErrorCode:
		return true
	}
	return false
}

func intToFloat(a, b *spec.Field) bool {
	return a.Type.Kind == spec.KindInt && b.Type.Kind == spec.KindFloat
}

// renamedColumn is the column of c's old field under its new name: what the
// old spec's CHECK reads once the column is renamed.
func (g *generator) renamedColumn(e Engine, c fieldChange) column {
	f := *c.old
	f.Name = c.new.Name
	return g.column(e, &f)
}

// dataCheck is a check of the stored rows a migration runs before it
// changes anything: query counts the rows that break rule.
type dataCheck struct{ subject, rule, rows, query string }

// dataChecks are the migration's checks for an engine, against the columns
// as they are before the migration.
func (ev *evolution) dataChecks(e Engine) []dataCheck {
	pg := e == PostgreSQL
	table, history := Table(ev.new.m)
	idExpr := pick(pg, "min(id::text)", "min(id)")

	var out []dataCheck
	add := func(subject, rule, rows, format string, a ...any) {
		out = append(out, dataCheck{subject, rule, rows, fmt.Sprintf(format, a...)})
	}
	for _, c := range ev.fields {
		if c.old == nil || c.new == nil {
			continue
		}
		col := c.old.Name
		ident := sqlIdent(e, col)
		if c.old.Optional && !c.new.Optional && ev.fill(c.new) == nil {
			add(table+"."+c.new.Name, "has a value (the field is no longer optional; a backfill: value would fill the tasks that have none)", "tasks",
				"SELECT count(*), %s FROM %s WHERE %s IS NULL;", idExpr, table, ident)
		}
		if !narrows(ev.old.m, ev.new.m, c.old, c.new) {
			continue
		}
		f := *c.new
		f.Name = col
		nc, oc := ev.new.column(e, &f), ev.old.renamedColumn(e, fieldChange{old: c.old, new: &f})
		ck := nc.check()
		if e == MySQL {
			ck = mysqlNarrowCheck(oc, nc)
		}
		if ck != "" && ck != oc.check() {
			rule := ruleText(ev.new.m, c.new)
			if rule == "" {
				rule = "a value of type " + c.new.Type.Name() // a rule is never empty
			}
			add(table+"."+c.new.Name, rule, "tasks", "SELECT count(*), %s FROM %s WHERE (%s) IS FALSE;", idExpr, table, ck)
		}
		// A list's item lengths are no CHECK (the validators enforce
		// them), but SQL can test the stored tasks.
		if lc := itemsCheck(e, col, c.new); lc != "" && itemsNarrow(ev.old.m, ev.new.m, c.old, c.new) {
			add(table+"."+c.new.Name, itemsRule(ev.new.m, c.new), "tasks", "SELECT count(*), %s FROM %s WHERE (%s) IS FALSE;", idExpr, table, lc)
		}
	}
	if removed := ev.removedStatuses(); len(removed) > 0 {
		// The old CHECK holds the tasks to the old statuses: those that
		// break the new one are in a status removed without retiring it.
		add(table+".status", removedRule("status", removed, "retire %[1]s with replaced_by under retired: statuses: to move %[2]s tasks"), "tasks",
			"SELECT count(*), %s FROM %s WHERE %s;", idExpr, table, inList("status", removed))
	}
	if ev.historyChanged {
		hid := pick(pg, "min(task_id::text)", "min(task_id)")
		for _, col := range []string{"from_status", "to_status", "event"} {
			removed := listRemoved(ev.old.historyValues(col), ev.new.historyValues(col))
			if len(removed) == 0 {
				continue
			}
			rule := removedRule("status", removed, "retire %[1]s with replaced_by under retired: statuses: to keep the history rows that record %[1]s")
			if col == "event" {
				rule = removedRule("event", removed, "list %[1]s under retired: events: to keep the history rows that record %[1]s")
			}
			add(history+"."+col, rule, "history rows",
				"SELECT count(*), %s FROM %s WHERE %s;", hid, history, inList(col, removed))
		}
	}
	return out
}

// render writes the migration for an engine.
func (ev *evolution) render(e Engine, name, from string) []byte {
	pg := e == PostgreSQL
	var b strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	p("%s\n-- Migration %s of model %q for %s,\n", SQLHeader, name, ev.new.m.Name, e)
	p("-- from the spec of %s to migrations/spec/%s.yaml:\n", from, name)
	for _, c := range ev.changes {
		p("--   - %s\n", c)
	}
	var body strings.Builder
	if e == MySQL {
		ev.renderMySQL(func(format string, a ...any) { fmt.Fprintf(&body, format, a...) })
		p("-- The checks run first; when a stored task breaks one, the migration is\n")
		p("-- refused and nothing changes. MySQL and MariaDB commit each schema change\n")
		p("-- as it runs: the statements run one by one, and a start after a failed one\n")
		p("-- resumes at it.\n")
	} else {
		p("-- One transaction: the checks run first; when a stored task breaks one,\n")
		p("-- the migration is refused and nothing changes.")
	}
	if pg {
		p(" A changed CHECK is added\n-- NOT VALID and validated after the commit, without blocking writes.\n")
	} else if e != MySQL {
		p("\n")
	}

	for _, c := range ev.dataChecks(e) {
		p("\n%s%s | %s | %s\n%s\n", markerCheck, c.subject, c.rule, c.rows, c.query)
	}

	p("\n%s\n", markerMigrate)
	if e == MySQL {
		b.WriteString(body.String())
		return []byte(b.String())
	}
	var validate []string
	oldIdx, newIdx := ev.old.tableIndexes(e), ev.new.tableIndexes(e)
	rebuild := !pg && ev.sqliteRebuildsTable()
	if rebuild {
		// The history table first: the moves' history rows are written
		// from the old task table, once the history's new CHECKs take the
		// statuses they move to (and keep the retired ones). A retired
		// status changes the status CHECK, so the task table is rebuilt,
		// and its copy moves the tasks: the old table takes only the old
		// statuses, the new one only the new.
		validate = ev.renderHistory(p, e)
		for _, r := range ev.moves {
			ev.renderMove(p, e, r)
		}
		ev.renderRebuild(p)
	} else {
		for _, ix := range oldIdx {
			if !slices.Contains(newIdx, ix) {
				p("DROP INDEX %s;\n", ix.name)
			}
		}
		validate = ev.renderColumns(p, e)
		if ev.workerChanged {
			ev.renderWorker(p, e)
		}
		validate = append(validate, ev.renderHistory(p, e)...)
		// Only PostgreSQL moves tasks here (SQLite rebuilds the table when
		// a status goes): once the status CHECKs are replaced. The new ones
		// are added NOT VALID, so the tasks still in a retired status stay
		// until they move, and each moved row meets them; they are
		// validated after the commit.
		for _, r := range ev.moves {
			ev.renderMove(p, e, r)
		}
	}
	ev.renderEntryFills(p, e)
	for _, ix := range newIdx {
		if rebuild || !slices.Contains(oldIdx, ix) {
			p("%s;\n", ix.sql)
		}
	}
	if len(validate) > 0 {
		p("\n%s\n", markerValidate)
		for _, v := range validate {
			p("%s\n", v)
		}
	}
	return []byte(b.String())
}

// renderHistory replaces the CHECKs of the history table whose statuses or
// events changed: on PostgreSQL added NOT VALID (it returns their
// validation), on SQLite by rebuilding the table.
func (ev *evolution) renderHistory(p func(string, ...any), e Engine) (validate []string) {
	pg := e == PostgreSQL
	_, history := Table(ev.new.m)
	if ev.historyChanged {
		if pg {
			for _, col := range []string{"from_status", "to_status", "event"} {
				if slices.Equal(ev.old.historyValues(col), ev.new.historyValues(col)) {
					continue
				}
				cn := pgCheckName(history, col)
				p("ALTER TABLE %s DROP CONSTRAINT %s;\n", history, cn)
				p("ALTER TABLE %s ADD CONSTRAINT %s CHECK (%s) NOT VALID;\n", history, cn, ev.new.historyCheck(e, col))
				validate = append(validate, fmt.Sprintf("ALTER TABLE %s VALIDATE CONSTRAINT %s;", history, cn))
			}
		} else {
			p("-- The history table is rebuilt with its new CHECKs; its rows are copied.\n")
			ev.new.renderHistoryRebuild(p)
		}
	}
	return validate
}

// renderHistoryRebuild rebuilds SQLite's history table as g's spec defines
// it: a new table, every row copied, the old one dropped and the new one
// renamed, and its index by time created again.
func (g *generator) renderHistoryRebuild(p func(string, ...any)) {
	_, history := Table(g.m)
	cols := strings.Join([]string{"task_id", "seq", "from_status", "to_status", "event", "at", "attempt", "actor", "message"}, ", ")
	p("CREATE TABLE tm_new_%s (\n", history)
	for _, c := range g.historyColumns(SQLite) {
		p("    %s,\n", c)
	}
	p("    PRIMARY KEY (task_id, seq)\n);\n")
	p("INSERT INTO tm_new_%s (%s) SELECT %s FROM %s;\n", history, cols, cols, history)
	p("DROP TABLE %s;\n", history)
	p("ALTER TABLE tm_new_%s RENAME TO %s;\n", history, history)
	p("%s;\n", historyAtIndexSQL(history))
}

func (g *generator) historyValues(col string) []string {
	if col == "event" {
		return g.m.HistoryEvents()
	}
	return g.m.HistoryStatuses()
}

func listNarrows(old, new []string) bool { return len(listRemoved(old, new)) > 0 }

// listRemoved are the values of old that new does not have.
func listRemoved(old, new []string) []string {
	var out []string
	for _, v := range old {
		if !slices.Contains(new, v) {
			out = append(out, v)
		}
	}
	return out
}

// removedStatuses are the statuses of the old spec that the new one
// neither has nor retires: a task in one refuses the migration.
func (ev *evolution) removedStatuses() []string {
	var out []string
	for _, s := range listRemoved(ev.old.statusNames(), ev.new.statusNames()) {
		if retired(ev.new.m, s) == nil {
			out = append(out, s)
		}
	}
	return out
}

// removedRule is the rule of a data check that refuses rows holding a
// status or an event removed from the spec: it names them and the fix, so
// that the person deploying the migration reads what to change in the
// spec. fix takes %[1]s, "it" or "them", and %[2]s, "its" or "their".
func removedRule(what string, names []string, fix string) string {
	if len(names) == 1 {
		return fmt.Sprintf("%s %s was removed from the spec; ", what, names[0]) + fmt.Sprintf(fix, "it", "its")
	}
	plural := what + "s"
	if what == "status" {
		plural = "statuses"
	}
	return fmt.Sprintf("%s %s were removed from the spec; ", plural, strings.Join(names, ", ")) + fmt.Sprintf(fix, "them", "their")
}

// sqliteNow is the time a migration runs at, on SQLite, as the text the
// SQLite driver (modernc.org/sqlite) writes a UTC time.Time in, Go's
// time.Time.String ("2006-01-02 15:04:05.999999999 -0700 MST": no trailing
// zeros in the fraction, none at all for a whole second), so that a column
// holds one format and its text sorts as its times do. SQLite's clock
// counts milliseconds.
const sqliteNow = "rtrim(rtrim(strftime('%Y-%m-%d %H:%M:%f', 'now'), '0'), '.') || ' +0000 UTC'"

// nowSQL is the time a migration runs at, in an engine's SQL.
func nowSQL(e Engine) string {
	switch e {
	case PostgreSQL:
		return "now()"
	case MySQL:
		return "UTC_TIMESTAMP(6)"
	}
	return sqliteNow
}

// movedEnteredAt is the column of the replacement's entry time that moving
// a retired status's task sets to the migration's time, as a transition
// into the replacement would; "" when the move keeps the column as it is:
// the replacement records its entry in created_at (which a move leaves
// alone), or the retired status recorded its own entry in the same column,
// whose time is then truer than the migration's (ABORTED and its
// replacement CANCELLED both record the finish in finished_at).
func (ev *evolution) movedEnteredAt(r *spec.RetiredStatus) string {
	ea := r.ReplacedBy.EnteredAt
	if ea == "created_at" || ea == "" {
		return ""
	}
	for _, s := range ev.old.m.Statuses {
		if s.Name == r.Name && s.EnteredAt == ea {
			return ""
		}
	}
	return ea
}

// renderMove moves the tasks of a retired status to its replacement, each
// with a history row, as a transition would: version + 1, updated_at set,
// and the replacement's entry time set unless the retired status recorded
// its entry there too (movedEnteredAt). On SQLite it writes the history rows only: the copy of
// the rebuilt task table moves the tasks (renderRebuild).
func (ev *evolution) renderMove(p func(string, ...any), e Engine, r *spec.RetiredStatus) {
	table, history := Table(ev.new.m)
	pg := e == PostgreSQL
	now := nowSQL(e)
	set := fmt.Sprintf("status = %s, version = version + 1, updated_at = %s", quoteSQL(r.ReplacedBy.Name), now)
	if ea := ev.movedEnteredAt(r); ea != "" {
		set += fmt.Sprintf(", %s = %s", sqlIdent(e, ea), now)
	}
	msg := quoteSQL(fmt.Sprintf("status %s was removed from the spec; its tasks move to %s", r.Name, r.ReplacedBy.Name))
	p("-- Status %s is retired: its tasks move to %s, each with a history row.\n", r.Name, r.ReplacedBy.Name)
	if e == MySQL {
		ev.renderMySQLMove(p, r, msg, set)
		return
	}
	if pg {
		p("WITH moved AS (\n    UPDATE %s SET %s, %s = %s + 1\n    WHERE status = %s\n    RETURNING id, %s\n)\n", table, set, HistorySeqColumn, HistorySeqColumn, quoteSQL(r.Name), HistorySeqColumn)
		p("INSERT INTO %s (task_id, seq, from_status, to_status, at, actor, message)\n", history)
		p("SELECT id, %s, %s, %s, %s, 'taskmodel migrate', %s FROM moved;\n", HistorySeqColumn, quoteSQL(r.Name), quoteSQL(r.ReplacedBy.Name), now, msg)
		return
	}
	p("INSERT INTO %s (task_id, seq, from_status, to_status, at, actor, message)\n", history)
	p("SELECT id, (SELECT max(h.seq) FROM %s AS h WHERE h.task_id = %s.id) + 1, %s, %s, %s, 'taskmodel migrate', %s\n", history, table, quoteSQL(r.Name), quoteSQL(r.ReplacedBy.Name), now, msg)
	p("FROM %s WHERE status = %s;\n", table, quoteSQL(r.Name))
}

// sqliteMoves are the expressions SQLite's table copy takes for the
// columns the moves of retired statuses' tasks change, as functions of the
// value the copy takes otherwise: the status, the version, updated_at and
// the replacements' entered_at columns, each changed for the tasks in a
// retired status only.
func (ev *evolution) sqliteMoves() map[string]func(string) string {
	if len(ev.moves) == 0 {
		return nil
	}
	var retiredNames []string
	status := "CASE status"
	entered := map[string][]string{} // entered_at column: the retired statuses moving into it
	var cols []string
	for _, r := range ev.moves {
		retiredNames = append(retiredNames, r.Name)
		status += fmt.Sprintf(" WHEN %s THEN %s", quoteSQL(r.Name), quoteSQL(r.ReplacedBy.Name))
		if ea := ev.movedEnteredAt(r); ea != "" {
			if _, ok := entered[ea]; !ok {
				cols = append(cols, ea)
			}
			entered[ea] = append(entered[ea], r.Name)
		}
	}
	moved := inList("status", retiredNames)
	out := map[string]func(string) string{
		"status":     func(x string) string { return status + " ELSE " + x + " END" },
		"version":    func(x string) string { return fmt.Sprintf("CASE WHEN %s THEN %s + 1 ELSE %s END", moved, x, x) },
		"updated_at": func(x string) string { return fmt.Sprintf("CASE WHEN %s THEN %s ELSE %s END", moved, sqliteNow, x) },
	}
	for _, col := range cols {
		when := inList("status", entered[col])
		out[col] = func(x string) string {
			return fmt.Sprintf("CASE WHEN %s THEN %s ELSE %s END", when, sqliteNow, x)
		}
	}
	return out
}

// renderWorker adds or drops the lease columns of a model that gains or
// loses its worker section; on PostgreSQL the change trigger fires, as for a
// new model (0003_changes, 0004_listen_gate, 0008_lease_in_row), on writes
// of the status or version only with a worker section, on every write
// without, and the wake trigger (0011_worker_wake) comes or goes.
func (ev *evolution) renderWorker(p func(string, ...any), e Engine) {
	table, _ := Table(ev.new.m)
	cols := []string{LeaseOwnerColumn, LeaseExpiresColumn, LeaseAttemptColumn}
	if ev.new.m.Worker != nil {
		for _, d := range leaseColumnDefs(e) {
			p("ALTER TABLE %s ADD COLUMN %s;\n", table, d)
		}
	} else {
		for _, c := range cols {
			p("ALTER TABLE %s DROP COLUMN %s;\n", table, c)
		}
	}
	if e != PostgreSQL {
		return
	}
	of := ""
	if ev.new.m.Worker != nil {
		of = " OF status, version"
	}
	p("DROP TRIGGER %s_notify ON %s;\n", table, table)
	p("CREATE TRIGGER %s_notify AFTER INSERT OR UPDATE%s ON %s\n    FOR EACH ROW WHEN (pg_sequence_last_value(%s::regclass) > 0)\n    EXECUTE FUNCTION %s_notify();\n",
		table, of, table, quoteSQL(ListeningSequence(table)), table)
	if ev.new.m.Worker != nil {
		ev.new.wakeObjects(p)
	} else {
		// A model that had its worker section before 0011_worker_wake has none.
		p("DROP TRIGGER IF EXISTS %s_wake ON %s;\n", table, table)
		p("DROP FUNCTION IF EXISTS %s_wake();\n", table)
		p("DROP SEQUENCE IF EXISTS %s;\n", WakingSequence(table))
	}
}

// sqliteRebuildsTable tells whether SQLite must rebuild the task table:
// it cannot change a column's type, NOT NULL or CHECK in place, nor add a
// NOT NULL column without a default in its definition.
func (ev *evolution) sqliteRebuildsTable() bool {
	if ev.statusChanged {
		return true
	}
	for _, c := range ev.fields {
		switch {
		case c.old == nil:
			if !c.new.Optional {
				return true
			}
		case c.new == nil:
		default:
			oc, nc := ev.old.renamedColumn(SQLite, c), ev.new.column(SQLite, c.new)
			if oc.Type != nc.Type || oc.NotNull != nc.NotNull || oc.check() != nc.check() {
				return true
			}
		}
	}
	return false
}

// renderRebuild rebuilds SQLite's task table: a new table with the new
// definition, every row copied (converted, backfilled), the old table
// dropped and the new one renamed. Backends run migrations with foreign keys
// off, so dropping the old table leaves the history rows that refer to the
// task ids in place, and check the foreign keys before they commit.
func (ev *evolution) renderRebuild(p func(string, ...any)) {
	p("-- SQLite cannot change a column's type, NOT NULL or CHECK in place: the\n")
	p("-- table is rebuilt, every row copied, and its indexes re-created.\n")
	// Every column of the new table that the old one has is copied (the
	// spec's fields converted and backfilled, the internal ones as they
	// are, the moved tasks changed); a column the old table lacks takes
	// its default.
	had := ev.old.tableColumnNames(SQLite)
	moves := ev.sqliteMoves()
	var cols, exprs []string
	for _, col := range ev.new.tableColumnNames(SQLite) {
		x := col
		if c, ok := ev.fieldChange(col); ok {
			x = ev.copyExpr(SQLite, c)
		} else if !slices.Contains(had, col) {
			continue
		}
		if m := moves[col]; m != nil {
			x = m(x)
		}
		cols, exprs = append(cols, col), append(exprs, x)
	}
	ev.new.renderTableRebuild(p, cols, exprs)
}

// renderTableRebuild rebuilds SQLite's task table as g's spec defines it:
// a new table, the old one's rows copied (exprs into cols), the old table
// dropped and the new one renamed. Its indexes are the caller's to create.
func (g *generator) renderTableRebuild(p func(string, ...any), cols, exprs []string) {
	table, _ := Table(g.m)
	tmp := "tm_new_" + table
	p("CREATE TABLE %s (\n    %s\n);\n", tmp, strings.Join(g.tableColumnDefs(SQLite), ",\n    "))
	p("INSERT INTO %s (%s)\nSELECT %s FROM %s;\n", tmp, strings.Join(cols, ", "), strings.Join(exprs, ", "), table)
	p("DROP TABLE %s;\n", table)
	p("ALTER TABLE %s RENAME TO %s;\n", tmp, table)
}

// copyExpr is the value a rebuilt row takes for a field: the old column's,
// converted and backfilled as needed, or the backfill of a new field.
func (ev *evolution) copyExpr(e Engine, c fieldChange) string {
	if c.old == nil {
		if v := ev.fill(c.new); v != nil {
			return sqlLiteral(e, c.new, v)
		}
		return "NULL"
	}
	x := c.old.Name
	if intToFloat(c.old, c.new) {
		x = fmt.Sprintf("CAST(%s AS %s)", x, pick(e == PostgreSQL, "double precision", "REAL"))
	}
	if c.old.Optional && !c.new.Optional {
		if v := ev.fill(c.new); v != nil {
			x = fmt.Sprintf("coalesce(%s, %s)", x, sqlLiteral(e, c.new, v))
		}
	}
	return x
}

// fieldChange is the change of the new spec's field named name; false when
// name is no field of the spec (a built-in or internal column).
func (ev *evolution) fieldChange(name string) (fieldChange, bool) {
	for _, c := range ev.fields {
		if c.new != nil && c.new.Name == name {
			return c, true
		}
	}
	return fieldChange{}, false
}

// tableColumnNames are the names of the columns tableColumnDefs defines, in
// order, on SQLite or PostgreSQL (each definition starts with the name).
func (g *generator) tableColumnNames(e Engine) []string {
	defs := g.tableColumnDefs(e)
	out := make([]string, len(defs))
	for i, d := range defs {
		out[i], _, _ = strings.Cut(d, " ")
	}
	return out
}

// tableColumnDefs are the definitions of every column of the model's table
// once the framework migrations have run: the spec's, then PostgreSQL's
// history counter (0005_history_seq), then a worker model's lease
// (0008_lease_in_row).
func (g *generator) tableColumnDefs(e Engine) []string {
	var out []string
	for _, c := range g.columns(e) {
		out = append(out, c.def())
	}
	if e == PostgreSQL {
		out = append(out, HistorySeqColumn+" bigint NOT NULL DEFAULT 1 CHECK ("+HistorySeqColumn+" >= 1)")
	}
	if g.m.Worker != nil {
		out = append(out, leaseColumnDefs(e)...)
	}
	return out
}

// renderColumns changes the columns in place: renames, drops, adds, type
// and NOT NULL changes, CHECKs (added NOT VALID on PostgreSQL; it returns
// their validation).
func (ev *evolution) renderColumns(p func(string, ...any), e Engine) (validate []string) {
	table, _ := Table(ev.new.m)
	pg := e == PostgreSQL
	for _, c := range ev.fields {
		if !c.renamed() {
			continue
		}
		p("ALTER TABLE %s RENAME COLUMN %s TO %s;\n", table, c.old.Name, c.new.Name)
		if pg && ev.old.column(e, c.old).check() != "" {
			p("ALTER TABLE %s RENAME CONSTRAINT %s TO %s;\n", table, pgCheckName(table, c.old.Name), pgCheckName(table, c.new.Name))
		}
	}
	for _, c := range ev.fields {
		if c.new == nil {
			p("ALTER TABLE %s DROP COLUMN %s;\n", table, c.old.Name)
		}
	}
	for _, c := range ev.fields {
		if c.old != nil {
			continue
		}
		col := ev.new.column(e, c.new)
		if col.NotNull {
			// Only PostgreSQL comes here: SQLite rebuilds the table.
			def := col.Name + " " + col.Type + " NOT NULL DEFAULT " + sqlLiteral(e, c.new, ev.fill(c.new))
			if ck := col.check(); ck != "" {
				def += " CHECK (" + ck + ")"
			}
			p("ALTER TABLE %s ADD COLUMN %s;\n", table, def)
			p("ALTER TABLE %s ALTER COLUMN %s DROP DEFAULT;\n", table, col.Name)
			continue
		}
		p("ALTER TABLE %s ADD COLUMN %s;\n", table, col.def())
	}
	if !pg {
		return nil
	}
	type checkChange struct{ col, old, new string }
	var checks []checkChange
	for _, c := range ev.fields {
		if c.old == nil || c.new == nil {
			continue
		}
		oc, nc := ev.old.renamedColumn(e, c), ev.new.column(e, c.new)
		if oc.Type != nc.Type {
			p("ALTER TABLE %s ALTER COLUMN %s TYPE %s USING %s::%s;\n", table, nc.Name, nc.Type, nc.Name, nc.Type)
		}
		if !oc.NotNull && nc.NotNull {
			if v := ev.fill(c.new); v != nil {
				p("UPDATE %s SET %s = %s WHERE %s IS NULL;\n", table, nc.Name, sqlLiteral(e, c.new, v), nc.Name)
			}
			p("ALTER TABLE %s ALTER COLUMN %s SET NOT NULL;\n", table, nc.Name)
		} else if oc.NotNull && !nc.NotNull {
			p("ALTER TABLE %s ALTER COLUMN %s DROP NOT NULL;\n", table, nc.Name)
		}
		if oc.check() != nc.check() {
			checks = append(checks, checkChange{nc.Name, oc.check(), nc.check()})
		}
	}
	if ev.statusChanged {
		checks = append(checks, checkChange{"status", inList("status", ev.old.statusNames()), inList("status", ev.new.statusNames())})
	}
	for _, ck := range checks {
		cn := pgCheckName(table, ck.col)
		if ck.old != "" {
			p("ALTER TABLE %s DROP CONSTRAINT %s;\n", table, cn)
		}
		if ck.new != "" {
			p("ALTER TABLE %s ADD CONSTRAINT %s CHECK (%s) NOT VALID;\n", table, cn, ck.new)
			validate = append(validate, fmt.Sprintf("ALTER TABLE %s VALIDATE CONSTRAINT %s;", table, cn))
		}
	}
	return validate
}

// pgCheckName is the name PostgreSQL gives a column's CHECK constraint
// (ChooseConstraintName: <table>_<column>_check, the longer of the two
// names shortened until it fits in 63 bytes).
func pgCheckName(table, col string) string { return checkName(63, table, col) }

// checkName is <table>_<col>_check, the longer of the two names shortened
// until it fits in limit bytes. The programs find the constraints by this
// name too (backends.CheckName): the two must agree, and
// TestCheckNameAgrees checks them against the same cases.
func checkName(limit int, table, col string) string {
	avail := limit - len("_check") - 1
	t, c := len(table), len(col)
	for t+c > avail {
		if t > c {
			t--
		} else {
			c--
		}
	}
	return table[:t] + "_" + col[:c] + "_check"
}

// sqlLiteral renders a constant of the field's type (a default or a
// backfill) as SQL.
func sqlLiteral(e Engine, f *spec.Field, v any) string {
	pg := e == PostgreSQL
	switch x := v.(type) {
	case string:
		return quoteSQL(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case bool:
		if pg {
			return strconv.FormatBool(x)
		}
		if x {
			return "1"
		}
		return "0"
	case time.Duration:
		return strconv.FormatInt(int64(x), 10)
	case []any:
		data, _ := json.Marshal(x)
		if pg {
			return quoteSQL(string(data)) + "::jsonb"
		}
		return quoteSQL(string(data))
	}
	return "NULL"
}

func valueText(v any) string {
	switch x := v.(type) {
	case string:
		return strconv.Quote(x)
	case []any:
		data, _ := json.Marshal(x)
		return string(data)
	}
	return fmt.Sprint(v)
}

// fieldSummary describes a field in a few words: its type, optional or
// not, and its limits.
func fieldSummary(f *spec.Field) string {
	s := f.Type.Name()
	if f.Optional {
		s += ", optional"
	} else if f.HasBackfill {
		s += ", stored tasks get " + valueText(f.Backfill)
	} else if f.HasDefault {
		s += ", stored tasks get " + valueText(f.Default)
	}
	return s
}

// ruleText says in words what a field's CHECK allows.
func ruleText(m *spec.Model, f *spec.Field) string {
	var r []string
	plural := func(n int, unit string) string {
		if n == 1 {
			return fmt.Sprintf("%d %s", n, unit)
		}
		return fmt.Sprintf("%d %ss", n, unit)
	}
	if f.MinLen != nil && *f.MinLen > 0 {
		r = append(r, "at least "+plural(*f.MinLen, "character"))
	}
	if f.MaxLen != nil {
		r = append(r, "at most "+plural(*f.MaxLen, "character"))
	}
	num := func(v float64) string { return sqlNum(v, f.Type.Kind) }
	for _, b := range []struct {
		words string
		v     *float64
	}{{"at least", f.Ge}, {"greater than", f.Gt}, {"at most", f.Le}, {"less than", f.Lt}} {
		if b.v != nil {
			r = append(r, b.words+" "+num(*b.v))
		}
	}
	r = append(r, fieldBounds(f, "at least", "greater than", "at most", "less than")...)
	if f.MinItems != nil && *f.MinItems > 0 {
		r = append(r, "at least "+plural(*f.MinItems, "item"))
	}
	if f.MaxItems != nil {
		r = append(r, "at most "+plural(*f.MaxItems, "item"))
	}
	if f.Pattern != "" {
		r = append(r, "matching "+spec.AnchoredPattern(f.Pattern))
	}
	if f.Multiline {
		r = append(r, "multi-line text")
	}
	if t := itemsRule(m, f); t != "" {
		r = append(r, t)
	}
	g := &generator{m: m}
	if vals := g.enumValues(f.Type); vals != nil {
		r = append(r, "one of "+strings.Join(vals, ", "))
	}
	if f.Type.Kind == spec.KindList && f.Type.Elem != nil {
		if vals := g.enumValues(f.Type.Elem); vals != nil {
			r = append(r, "items one of "+strings.Join(vals, ", "))
		}
	}
	return strings.Join(r, ", ")
}

// fieldBounds says in words the bounds of f that name another field, in
// the order ge, gt, le, lt, each with its word.
func fieldBounds(f *spec.Field, ge, gt, le, lt string) []string {
	var out []string
	for _, b := range []struct{ key, words string }{{"ge", ge}, {"gt", gt}, {"le", le}, {"lt", lt}} {
		if other := f.Bounds[b.key]; other != "" {
			out = append(out, b.words+" "+other)
		}
	}
	return out
}

// narrows reports whether the new field may refuse a value the old one
// allowed; when unsure, it says so.
func narrows(om, nm *spec.Model, o, n *spec.Field) bool {
	if o.Type.Name() != n.Type.Name() && !intToFloat(o, n) {
		// A change of kind that keeps the SQL type (an enum to a string, a
		// string to an enum, a list to json, …): only a string and json
		// are sure to take any value.
		if n.Type.Kind == spec.KindJSON {
			return false
		}
		return n.Type.Kind != spec.KindString || n.MaxLen != nil || n.MinLen != nil
	}
	lower := func(min *int) int {
		if min == nil {
			return 0
		}
		return *min
	}
	upper := func(v *int) bool { return v != nil }
	if upper(n.MaxLen) && (!upper(o.MaxLen) || *n.MaxLen < *o.MaxLen) || lower(n.MinLen) > lower(o.MinLen) {
		return true
	}
	if upper(n.MaxItems) && (!upper(o.MaxItems) || *n.MaxItems < *o.MaxItems) || lower(n.MinItems) > lower(o.MinItems) {
		return true
	}
	// A new or changed pattern may refuse anything; single-line text
	// refuses the newlines multi-line text allowed.
	if n.Pattern != "" && n.Pattern != o.Pattern || o.Multiline && !n.Multiline {
		return true
	}
	if itemsNarrow(om, nm, o, n) {
		return true
	}
	for key, other := range n.Bounds {
		if o.Bounds[key] != other { // a bound on another field, new or changed
			return true
		}
	}
	lo := func(f *spec.Field) (float64, bool, bool) { // value, strict, present
		if f.Gt != nil {
			return *f.Gt, true, true
		}
		if f.Ge != nil {
			return *f.Ge, false, true
		}
		return 0, false, false
	}
	hi := func(f *spec.Field) (float64, bool, bool) {
		if f.Lt != nil {
			return *f.Lt, true, true
		}
		if f.Le != nil {
			return *f.Le, false, true
		}
		return 0, false, false
	}
	if nv, ns, ok := lo(n); ok {
		ov, os, had := lo(o)
		if !had || nv > ov || (nv == ov && ns && !os) {
			return true
		}
	}
	if nv, ns, ok := hi(n); ok {
		ov, os, had := hi(o)
		if !had || nv < ov || (nv == ov && ns && !os) {
			return true
		}
	}
	og, ng := &generator{m: om}, &generator{m: nm}
	if listNarrows(og.enumValues(o.Type), ng.enumValues(n.Type)) {
		return true
	}
	if o.Type.Elem != nil && n.Type.Elem != nil && listNarrows(og.enumValues(o.Type.Elem), ng.enumValues(n.Type.Elem)) {
		return true
	}
	return false
}

// itemsRule says in words what a list field's items: allows, each limit
// prefixed "items"; "" when it sets none.
func itemsRule(m *spec.Model, f *spec.Field) string {
	if f.Items == nil {
		return ""
	}
	t := ruleText(m, f.Items)
	if t == "" {
		return ""
	}
	return "items " + strings.ReplaceAll(t, ", ", ", items ")
}

// itemsNarrow reports whether the new list field's items: may refuse an
// element the old one allowed.
func itemsNarrow(om, nm *spec.Model, o, n *spec.Field) bool {
	if n.Items == nil {
		return o.Items != nil && o.Items.Multiline
	}
	if o.Type.Elem == nil {
		return false
	}
	oi := o.Items
	if oi == nil {
		oi = &spec.Field{Name: o.Name + "[]", Type: o.Type.Elem}
	}
	return narrows(om, nm, oi, n.Items)
}

// itemsCheck is the SQL condition a stored list must meet for the lengths
// its items: set, which the generated validators enforce and no CHECK does;
// "" when it sets none. A value that is not a JSON array (an optional
// list's null) passes.
func itemsCheck(e Engine, col string, f *spec.Field) string {
	it := f.Items
	if f.Type.Kind != spec.KindList || it == nil || it.Type.Kind != spec.KindString {
		return ""
	}
	pg := e == PostgreSQL
	length := pick(pg || e == MySQL, "char_length(v)", "length(value)")
	var bad []string
	if it.MinLen != nil && *it.MinLen > 0 {
		bad = append(bad, fmt.Sprintf("%s < %d", length, *it.MinLen))
	}
	if it.MaxLen != nil {
		bad = append(bad, fmt.Sprintf("%s > %d", length, *it.MaxLen))
	}
	if len(bad) == 0 {
		return ""
	}
	from := pick(pg, "jsonb_array_elements_text("+col+") AS e(v)", "json_each("+col+")")
	isArray := pick(pg, "jsonb_typeof("+col+") <> 'array'", "json_type("+col+") <> 'array'")
	if e == MySQL {
		n := mysqlIdent(col)
		from = "JSON_TABLE(" + n + ", '$[*]' COLUMNS (v LONGTEXT PATH '$')) AS e"
		isArray = "json_type(" + n + ") <> 'ARRAY'"
	}
	return fmt.Sprintf("%s OR NOT EXISTS (SELECT 1 FROM %s WHERE %s)", isArray, from, strings.Join(bad, " OR "))
}
