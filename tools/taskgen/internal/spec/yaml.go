package spec

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// This file holds the node-level helpers of the loader: every value is read
// from a yaml.Node so that errors can point at the line and column.

type pair struct{ key, val *yaml.Node }

func (l *loader) pos(n *yaml.Node) Pos {
	if n == nil {
		return Pos{File: l.file, Line: 1, Col: 1}
	}
	return Pos{File: l.file, Line: n.Line, Col: n.Column}
}

func (l *loader) errorf(n *yaml.Node, format string, args ...any) {
	l.errs = append(l.errs, &Error{Pos: l.pos(n), Msg: fmt.Sprintf(format, args...)})
}

func deref(n *yaml.Node) *yaml.Node {
	for depth := 0; n != nil && n.Kind == yaml.AliasNode && depth < 16; depth++ {
		n = n.Alias
	}
	return n
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "null"
		}
		return fmt.Sprintf("%q", n.Value)
	}
	return "an alias"
}

// mapping returns the key/value pairs of a mapping node; a duplicate key is
// an error and only its first occurrence is kept.
func (l *loader) mapping(n *yaml.Node, what string) []pair {
	n = deref(n)
	if n == nil {
		return nil
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		l.errorf(n, "%s must be a mapping, not %s", what, kindName(n))
		return nil
	}
	out := make([]pair, 0, len(n.Content)/2)
	seen := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := deref(n.Content[i]), n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			l.errorf(k, "keys in %s must be plain names, not %s", what, kindName(k))
			continue
		}
		if k.Value == "<<" {
			l.errorf(k, "merge keys (<<) are not supported in %s; write the keys out or use an alias for the whole value", what)
			continue
		}
		if first, dup := seen[k.Value]; dup {
			l.errorf(k, "duplicate key %q in %s (first at line %d:%d)", k.Value, what, first.Line, first.Column)
			continue
		}
		seen[k.Value] = k
		out = append(out, pair{k, v})
	}
	return out
}

// keys reads a mapping whose keys are a fixed vocabulary; an unknown key is
// an error that lists the allowed ones.
func (l *loader) keys(n *yaml.Node, what string, allowed ...string) map[string]pair {
	out := map[string]pair{}
	for _, p := range l.mapping(n, what) {
		if !contains(allowed, p.key.Value) {
			sorted := append([]string(nil), allowed...)
			sort.Strings(sorted)
			hint := ""
			if (p.key.Value == "min" || p.key.Value == "max") && contains(allowed, "ge") {
				hint = " (numbers take ge/le, inclusive, or gt/lt, exclusive; strings min_len/max_len; lists min_items/max_items, and items: for their elements)"
			}
			l.errorf(p.key, "unknown key %q in %s; allowed: %s%s", p.key.Value, what, strings.Join(sorted, ", "), hint)
			continue
		}
		out[p.key.Value] = p
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func (l *loader) scalar(n *yaml.Node, what, want string) (*yaml.Node, bool) {
	n = deref(n)
	if n == nil || n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		got := "nothing"
		if n != nil {
			got = kindName(n)
		}
		l.errorf(n, "%s must be %s, not %s", what, want, got)
		return nil, false
	}
	return n, true
}

func (l *loader) str(n *yaml.Node, what string) (string, bool) {
	s, ok := l.scalar(n, what, "a string")
	if !ok {
		return "", false
	}
	return s.Value, true
}

func (l *loader) name(n *yaml.Node, what string, re *regexp.Regexp, rule string) (string, bool) {
	s, ok := l.str(n, what)
	if !ok {
		return "", false
	}
	if !re.MatchString(s) {
		l.errorf(n, "%s %q is not a valid name; it must match %s", what, s, rule)
		return "", false
	}
	return s, true
}

func (l *loader) boolean(n *yaml.Node, what string) (bool, bool) {
	s, ok := l.scalar(n, what, "true or false")
	if !ok {
		return false, false
	}
	if s.Tag != "!!bool" {
		if (s.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle)) != 0 && (strings.EqualFold(s.Value, "true") || strings.EqualFold(s.Value, "false")) {
			l.errorf(s, "%s must be true or false, not the string %q: write it without quotes", what, s.Value)
			return false, false
		}
		l.errorf(s, "%s must be true or false, not %q", what, s.Value)
		return false, false
	}
	return s.Value == "true" || s.Value == "True" || s.Value == "TRUE", true
}

func (l *loader) integer(n *yaml.Node, what string) (int64, bool) {
	return l.intBetween(n, what, math.MinInt64, math.MaxInt64)
}

// intBetween reads an integer from lo to hi; one outside that range, even
// outside int64's, is refused with the range.
func (l *loader) intBetween(n *yaml.Node, what string, lo, hi int64) (int64, bool) {
	s, ok := l.scalar(n, what, "an integer")
	if !ok {
		return 0, false
	}
	v, err := strconv.ParseInt(s.Value, 0, 64)
	// YAML reads an integer too large for int64 as a float.
	tooLarge := errors.Is(err, strconv.ErrRange) && (s.Tag == "!!int" || s.Tag == "!!float")
	switch {
	case (s.Tag != "!!int" || err != nil) && !tooLarge:
		l.errorf(s, "%s must be an integer, not %q", what, s.Value)
		return 0, false
	case tooLarge || v < lo || v > hi:
		l.errorf(s, "%s must be between %d and %d, not %s", what, lo, hi, s.Value)
		return 0, false
	}
	return v, true
}

func (l *loader) nonNegInt(n *yaml.Node, what string) (*int, bool) {
	v, ok := l.intBetween(n, what, 0, math.MaxInt32)
	if !ok {
		return nil, false
	}
	i := int(v)
	return &i, true
}

func (l *loader) number(n *yaml.Node, what string) (float64, bool) {
	s, ok := l.scalar(n, what, "a number")
	if !ok {
		return 0, false
	}
	if s.Tag != "!!int" && s.Tag != "!!float" {
		l.errorf(s, "%s must be a number, not %q", what, s.Value)
		return 0, false
	}
	v, err := strconv.ParseFloat(strings.ReplaceAll(s.Value, "_", ""), 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		l.errorf(s, "%s must be a finite number, not %q", what, s.Value)
		return 0, false
	}
	return v, true
}

func (l *loader) duration(n *yaml.Node, what string) (time.Duration, bool) {
	s, ok := l.str(n, what)
	if !ok {
		return 0, false
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		l.errorf(n, "%s must be a duration such as 90s, 15m or 1h30m, not %q", what, s)
		return 0, false
	}
	return d, true
}

// names reads a list of names, or a single name standing for a list of one.
func (l *loader) names(n *yaml.Node, what string) []*yaml.Node {
	n = deref(n)
	if n == nil {
		return nil
	}
	if n.Kind == yaml.ScalarNode && n.Tag != "!!null" {
		return []*yaml.Node{n}
	}
	if n.Kind != yaml.SequenceNode {
		l.errorf(n, "%s must be a list of names, not %s", what, kindName(n))
		return nil
	}
	out := make([]*yaml.Node, 0, len(n.Content))
	for _, c := range n.Content {
		if c = deref(c); c.Kind != yaml.ScalarNode || c.Tag == "!!null" {
			hint := ""
			if c.Kind == yaml.MappingNode {
				// "- field.title.narrowed: the cards show 80": YAML reads
				// the ": " as a key and its value.
				hint = `, because of the ": " in it; quote the whole entry, as in - "field.title.narrowed again: why"`
			}
			l.errorf(c, "%s must be a list of names; this entry is %s%s", what, kindName(c), hint)
			continue
		}
		out = append(out, c)
	}
	return out
}
