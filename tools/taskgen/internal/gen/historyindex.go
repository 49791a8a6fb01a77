package gen

import (
	"fmt"
	"strings"
)

// HistoryAtIndex names the index of a model's history table on its time
// column, which 0009_history_at creates.
func HistoryAtIndex(history string) string { return history + "_at_idx" }

// historyAtSQL renders 0009_history_at: an index on the history table's
// time column, carrying the statuses and the event, so that the moves of a
// time window (transitions per edge, tasks finished per interval) are read
// from the index alone, newest first, as far back as the window goes.
func (g *generator) historyAtSQL(e Engine) []byte {
	_, history := Table(g.m)
	var b strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	p("%s\n-- History by time of model %q for %s: the moves of a time window\n", SQLHeader, g.m.Name, e)
	p("-- (transitions per edge, tasks finished per interval) read from this index\n")
	p("-- alone, which carries the statuses, the event and the task of each row.\n\n")
	p("%s;\n", historyAtIndexSQL(history))
	return []byte(b.String())
}

// historyAtIndexSQL creates the history's time index; a migration that
// rebuilds the history table (SQLite) creates it again. Every migration
// generated after 0009_history_at follows it: taskgen appends the
// framework migrations a model lacks before the migration of a spec
// change.
func historyAtIndexSQL(history string) string {
	return fmt.Sprintf("CREATE INDEX %s ON %s (at, from_status, to_status, event, task_id)", HistoryAtIndex(history), history)
}
