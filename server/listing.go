package server

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/taskmodel/taskmodel/backends"
	"github.com/taskmodel/taskmodel/tasktype"
)

// Listing defaults (the unified listing): the last hour ("default: last hour"); the
// page size is a decision, the requirement gives none.
const (
	DefaultLimit       = 20
	DefaultWithinHours = 1
)

var listParams = []string{"limit", "offset", "within_hours", "task_type", "status", "tag"}

// parseListFilter reads GET /tasks's query: limit, offset, within_hours,
// task_type (repeatable), status (repeatable codes) and tag. Unknown or
// repeated single parameters are errors; values are checked by the catalog.
func parseListFilter(q map[string][]string) (backends.ListFilter, error) {
	f := backends.ListFilter{Limit: DefaultLimit, WithinHours: DefaultWithinHours}
	for _, k := range sortedKeys(q) {
		known := false
		for _, p := range listParams {
			known = known || p == k
		}
		if !known {
			return f, badRequest(k, "unknown_parameter", "unknown query parameter; allowed: "+strings.Join(listParams, ", "))
		}
	}
	single := func(name string) (string, bool, error) {
		vs := q[name]
		switch len(vs) {
		case 0:
			return "", false, nil
		case 1:
			return vs[0], true, nil
		}
		return "", false, badRequest(name, "single", "may be given once")
	}
	ints := []struct {
		name string
		dst  *int
		rule string
	}{
		{"limit", &f.Limit, "an integer from 1 to 100"},
		{"offset", &f.Offset, fmt.Sprintf("an integer from 0 to %d", backends.MaxOffset)},
		{"within_hours", &f.WithinHours, fmt.Sprintf("an integer from 1 to %d", backends.MaxWithinHours)},
	}
	for _, p := range ints {
		v, ok, err := single(p.name)
		if err != nil {
			return f, err
		}
		if !ok {
			continue
		}
		n, err := strconv.Atoi(v)
		if err != nil {
			return f, badRequest(p.name, "integer", fmt.Sprintf("must be %s, not %q", p.rule, truncate(v, 40)))
		}
		*p.dst = n
	}
	f.TaskTypes = q["task_type"]
	for _, c := range q["status"] {
		f.Statuses = append(f.Statuses, tasktype.Code(c))
	}
	if v, ok, err := single("tag"); err != nil {
		return f, err
	} else if ok {
		// checkQuery holds every request to this rule; ListFilter's callers
		// may pass a query it did not see.
		if msg := badText(v); msg != "" {
			return f, badRequest("tag", "text", "the value "+msg)
		}
		f.Tag = &v
	}
	return f, nil
}

func (s *Server) listTasks(w http.ResponseWriter, r *http.Request) {
	f, err := parseListFilter(r.URL.Query())
	if err != nil {
		s.writeProblem(w, r, err)
		return
	}
	if u := userOf(r); !u.Admin {
		f.Owner = &u.Name
	}
	rows, err := s.catalog.List(r.Context(), f)
	if err != nil {
		s.writeProblem(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, rows)
}
