package mysql

import (
	"fmt"
	"regexp"
	"strings"
)

// filterSet holds the optional filters of a listing request that a branch
// applies besides its status and the time window.
type filterSet uint8

// The filters a branch may apply.
const (
	tagFilter filterSet = 1 << iota
	ownerFilter
)

// String returns the filters as a branches file writes them: "", "tag",
// "owner" or "owner tag".
func (f filterSet) String() string {
	switch f {
	case tagFilter:
		return "tag"
	case ownerFilter:
		return "owner"
	case tagFilter | ownerFilter:
		return "owner tag"
	}
	return ""
}

// branch is one branch of the listing: one model's tasks in one status,
// newest first, cut to the first tm_top rows.
type branch struct {
	Model, Status string
	filters       filterSet
	// SQL is the branch's SELECT, its parameters written ?; Args names
	// them in order (tm_top, tm_since, tm_tag, tm_owner).
	SQL  string
	Args []string
}

// branchSet holds the branches of a listing, from parseBranches.
type branchSet struct {
	list     []branch
	models   []string            // in the file's order
	statuses map[string][]string // each model's, in the file's order
	index    map[branchKey]int
	// tag and endDate hold each model's columns read for a page's rows,
	// written with the table's name (a model without a tag has none).
	tag, endDate map[string]string
}

type branchKey struct {
	model, status string
	filters       filterSet
}

var (
	branchLine = regexp.MustCompile(`^-- branch: (\w+) (\w+)((?: \w+)*)\s*$`)
	columnLine = regexp.MustCompile(`^-- (tag|end_date): (\w+)\s*$`)
	branchArg  = regexp.MustCompile(`sqlc\.n?arg\((\w+)\)`)
)

// branchArgs are the parameters a branch may use, each set from the request.
var branchArgs = map[string]bool{"tm_top": true, "tm_since": true, "tm_tag": true, "tm_owner": true}

// parseBranches reads a branches file that taskgen wrote for the listing:
// a line "-- branch: <model> <status> [<filters>]" starts a branch, which
// runs to the next such line; other comment lines and blank lines are
// dropped. A branch selects id, task_type, task_status and created_at. The
// filters are none, "tag", "owner" or "owner tag"; each status of a model
// has a branch without filters, before its others. A parameter is written
// sqlc.arg(name) or sqlc.narg(name): tm_top (offset + limit), tm_since,
// tm_tag or tm_owner (a branch uses tm_tag only with the tag filter,
// tm_owner only with the owner filter). Lines "-- tag: <model>" and
// "-- end_date: <model>" start the model's columns read for the rows of a
// page, written with its table's name: end_date is required, a model
// without tag has no tag.
func parseBranches(text string) (*branchSet, error) {
	b := &branchSet{statuses: map[string][]string{}, index: map[branchKey]int{}, tag: map[string]string{}, endDate: map[string]string{}}
	var cur *branch
	var column, columnModel string // the section when it is a model's column
	var body []string
	flush := func() error {
		if column != "" {
			sql := strings.TrimSpace(strings.Join(body, "\n"))
			cols := map[string]map[string]string{"tag": b.tag, "end_date": b.endDate}[column]
			switch _, dup := cols[columnModel]; {
			case sql == "":
				return fmt.Errorf("%s of %s is empty", column, columnModel)
			case dup:
				return fmt.Errorf("%s of %s is written twice", column, columnModel)
			case strings.Contains(sql, "?") || branchArg.MatchString(sql):
				return fmt.Errorf("%s of %s: a column takes no parameter", column, columnModel)
			}
			cols[columnModel] = sql
			column = ""
			return nil
		}
		if cur == nil {
			return nil
		}
		where := fmt.Sprintf("branch %s %s", cur.Model, cur.Status)
		if cur.filters != 0 {
			where += " " + cur.filters.String()
		}
		sql := strings.TrimSpace(strings.Join(body, "\n"))
		if sql == "" {
			return fmt.Errorf("%s is empty", where)
		}
		for _, m := range branchArg.FindAllStringSubmatch(sql, -1) {
			name := m[1]
			switch {
			case !branchArgs[name]:
				return fmt.Errorf("%s: unknown parameter %s; allowed: tm_top, tm_since, tm_tag, tm_owner", where, name)
			case name == "tm_tag" && cur.filters&tagFilter == 0, name == "tm_owner" && cur.filters&ownerFilter == 0:
				return fmt.Errorf("%s: parameter %s without its filter", where, name)
			}
			cur.Args = append(cur.Args, name)
		}
		cur.SQL = branchArg.ReplaceAllString(sql, "?")
		if strings.Count(cur.SQL, "?") != len(cur.Args) {
			return fmt.Errorf("%s: a ? outside sqlc.arg", where)
		}
		k := branchKey{cur.Model, cur.Status, cur.filters}
		if _, dup := b.index[k]; dup {
			return fmt.Errorf("%s is written twice", where)
		}
		if _, ok := b.statuses[cur.Model]; !ok {
			b.models = append(b.models, cur.Model)
		}
		if cur.filters == 0 {
			b.statuses[cur.Model] = append(b.statuses[cur.Model], cur.Status)
		} else if _, ok := b.index[branchKey{cur.Model, cur.Status, 0}]; !ok {
			return fmt.Errorf("%s comes before the status's branch without filters", where)
		}
		b.index[k] = len(b.list)
		b.list = append(b.list, *cur)
		return nil
	}
	for i, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(line, "-- branch:") {
			m := branchLine.FindStringSubmatch(line)
			if m == nil {
				return nil, fmt.Errorf("line %d: want \"-- branch: <model> <status> [tag|owner|owner tag]\", got %q", i+1, line)
			}
			if err := flush(); err != nil {
				return nil, err
			}
			var f filterSet
			switch strings.TrimSpace(m[3]) {
			case "":
			case "tag":
				f = tagFilter
			case "owner":
				f = ownerFilter
			case "owner tag":
				f = ownerFilter | tagFilter
			default:
				return nil, fmt.Errorf("line %d: unknown filters %q; allowed: tag, owner, owner tag", i+1, strings.TrimSpace(m[3]))
			}
			cur, column, body = &branch{Model: m[1], Status: m[2], filters: f}, "", nil
			continue
		}
		if m := columnLine.FindStringSubmatch(line); m != nil {
			if err := flush(); err != nil {
				return nil, err
			}
			cur, column, columnModel, body = nil, m[1], m[2], nil
			continue
		}
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || strings.HasPrefix(trimmed, "--") {
			continue
		}
		if cur == nil && column == "" {
			return nil, fmt.Errorf("line %d: SQL before the first \"-- branch:\", \"-- tag:\" or \"-- end_date:\" line", i+1)
		}
		body = append(body, line)
	}
	if err := flush(); err != nil {
		return nil, err
	}
	if len(b.list) == 0 {
		return nil, fmt.Errorf("no branch")
	}
	for _, cols := range []struct {
		name string
		of   map[string]string
	}{{"tag", b.tag}, {"end_date", b.endDate}} {
		for model := range cols.of {
			if _, ok := b.statuses[model]; !ok {
				return nil, fmt.Errorf("%s of %s, which has no branch", cols.name, model)
			}
		}
	}
	for _, model := range b.models {
		if _, ok := b.endDate[model]; !ok {
			return nil, fmt.Errorf("model %s has no end_date", model)
		}
	}
	return b, nil
}
