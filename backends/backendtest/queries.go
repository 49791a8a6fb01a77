package backendtest

import (
	"fmt"
	"regexp"
	"strings"
)

// Query is one named query of a sqlc query file, with its sqlc macros
// replaced so that the engine itself can prepare or explain it.
type Query struct {
	Name, SQL string
	// Params is how many parameters SQL takes.
	Params int
}

var (
	sqlcArg   = regexp.MustCompile(`sqlc\.n?arg\((\w+)\)`)
	sqlcEmbed = regexp.MustCompile(`sqlc\.embed\((\w+)\)`)
)

// Queries splits a sqlc query file ("-- name: X :kind" blocks) into its
// queries; sqlc.embed(t) becomes t.*. With numbered (PostgreSQL) the
// sqlc.arg and sqlc.narg parameters become $1, $2, ... as sqlc numbers
// them, in order of first use; without it (SQLite) each use becomes a ?.
// The plan tests of the SQL backends explain every generated query with it.
func Queries(src string, numbered bool) []Query {
	var out []Query
	for _, part := range strings.Split(src, "-- name: ")[1:] {
		name, body, _ := strings.Cut(part, "\n")
		name, _, _ = strings.Cut(name, " ")
		body = sqlcEmbed.ReplaceAllString(body, "$1.*")
		params := 0
		num := map[string]int{}
		body = sqlcArg.ReplaceAllStringFunc(body, func(s string) string {
			if !numbered {
				params++
				return "?"
			}
			arg := sqlcArg.FindStringSubmatch(s)[1]
			if _, ok := num[arg]; !ok {
				num[arg] = len(num) + 1
			}
			return fmt.Sprintf("$%d", num[arg])
		})
		if numbered {
			params = len(num)
		}
		out = append(out, Query{Name: name, SQL: strings.TrimSpace(body), Params: params})
	}
	return out
}

// Unused returns those of the indexes that no line of plans names, in
// order: the plan tests' check that a query reads the indexes meant for it
// (a partial index the planner cannot prove usable is passed over without
// a full scan to notice).
func Unused(plans string, indexes []string) []string {
	var out []string
	for _, idx := range indexes {
		if !regexp.MustCompile(`\b` + regexp.QuoteMeta(idx) + `\b`).MatchString(plans) {
			out = append(out, idx)
		}
	}
	return out
}
