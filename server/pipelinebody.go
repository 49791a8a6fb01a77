package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"slices"
	"strconv"
	"strings"

	"github.com/taskmodel/taskmodel/sdk/pipeline"
	"github.com/taskmodel/taskmodel/validation"
)

// body reads the fields of one JSON object of a pipeline request, by name,
// and remembers the first refused one: each reader returns nil (or the
// zero value) for a field that is absent or null. done refuses fields no
// reader asked for. Field paths are the JSON's ("stages[2].name").
type body struct {
	m      map[string]json.RawMessage
	prefix string
	asked  []string
	err    error
}

func newBody(m map[string]json.RawMessage, prefix string) *body { return &body{m: m, prefix: prefix} }

// raw returns a field's JSON, nil when absent or null.
func (b *body) raw(name string) json.RawMessage {
	b.asked = append(b.asked, name)
	v, ok := b.m[name]
	if !ok || string(v) == "null" {
		return nil
	}
	return v
}

func (b *body) fail(name, rule, msg string) {
	if b.err == nil {
		b.err = badRequest(b.prefix+name, rule, msg)
	}
}

// value returns an optional field's JSON, nil when absent. null is
// refused (want says what the field takes), not read as the field's
// absence: its default, or no change.
func (b *body) value(name, want string) json.RawMessage {
	v := b.raw(name)
	if v == nil && string(b.m[name]) == "null" {
		b.fail(name, "type", "must be "+want+", not null (leave the field out instead)")
	}
	return v
}

// str reads an optional string field; multiline allows line breaks and
// tabs.
func (b *body) str(name string, multiline bool) *string {
	return b.text(name, b.value(name, "a string"), multiline)
}

// requiredStr reads a string field its caller requires: absent and null
// are both nil, which the caller refuses as missing.
func (b *body) requiredStr(name string, multiline bool) *string {
	return b.text(name, b.raw(name), multiline)
}

func (b *body) text(name string, v json.RawMessage, multiline bool) *string {
	if v == nil {
		return nil
	}
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		b.fail(name, "type", "must be a string")
		return nil
	}
	if err := validation.CheckText(s, multiline); err != nil {
		b.fail(name, "text", err.Error())
		return nil
	}
	return &s
}

// name reads a required single-line string that may not be blank.
func (b *body) name(name string) string {
	s := b.requiredStr(name, false)
	if s == nil || strings.TrimSpace(*s) == "" {
		b.fail(name, "required", "is required (a non-empty string)")
		return ""
	}
	if fe := pipeline.ValidateName(name, *s); fe != nil { // no leading or trailing space
		b.fail(name, fe.Rule, fe.Message)
		return ""
	}
	return *s
}

// integer reads an integer field within [lo, hi] (integerValue).
func (b *body) integer(name string, lo, hi int64) *int64 {
	v := b.value(name, "an integer")
	if v == nil {
		return nil
	}
	n, rule, msg := integerValue(v, lo, hi)
	if msg != "" {
		b.fail(name, rule, msg)
		return nil
	}
	return &n
}

// integerValue reads a JSON integer within [lo, hi], or words why not
// (rule and msg): a number with a fraction or an exponent, 1.0 and 1e0
// included, is refused as POST /tasks refuses it for an integer field; an
// integer past int64 is said to be past the bound (it is an integer, only
// too large); a value of another type is said to need an integer.
func integerValue(v json.RawMessage, lo, hi int64) (n int64, rule, msg string) {
	n, err := strconv.ParseInt(string(v), 10, 64)
	if err == nil && n >= lo && n <= hi {
		return n, "", ""
	}
	got := validation.NumberText(string(v))
	msg = fmt.Sprintf("must be an integer of at least %d", lo)
	if hi < math.MaxInt64 {
		msg = fmt.Sprintf("must be an integer between %d and %d", lo, hi)
	}
	f, _, perr := big.ParseFloat(string(v), 10, 0, big.ToNearestEven)
	switch {
	case perr != nil || jsonType(v) != "a number" || err == nil:
		return 0, "integer", msg
	case errors.Is(err, strconv.ErrRange) && !strings.ContainsAny(string(v), ".eE"):
		// An integer in digits past int64: past the bound.
		switch {
		case f.Cmp(new(big.Float).SetInt64(hi)) > 0:
			msg = fmt.Sprintf("must be at most %d (got %s)", hi, got)
		case f.Cmp(new(big.Float).SetInt64(lo)) < 0:
			msg = fmt.Sprintf("must be at least %d (got %s)", lo, got)
		}
		return 0, "integer", msg
	}
	return 0, "type", validation.NotInDigits(string(v))
}

// number reads a number field within [lo, hi].
func (b *body) number(name string, lo, hi float64) *float64 {
	v := b.value(name, "a number")
	if v == nil {
		return nil
	}
	var f float64
	if err := json.Unmarshal(v, &f); err != nil || f < lo || f > hi {
		b.fail(name, "between", fmt.Sprintf("must be a number between %g and %g", lo, hi))
		return nil
	}
	return &f
}

// boolean reads a true/false field (absent: false).
func (b *body) boolean(name string) bool {
	v := b.value(name, "true or false")
	if v == nil {
		return false
	}
	var x bool
	if err := json.Unmarshal(v, &x); err != nil {
		b.fail(name, "type", "must be true or false")
	}
	return x
}

// object reads a JSON object field.
func (b *body) object(name string) map[string]json.RawMessage {
	v := b.value(name, "a JSON object")
	if v == nil {
		return nil
	}
	m, err := parseObject(v)
	if err != nil {
		b.fail(name, "type", "must be a JSON object")
		return nil
	}
	return m
}

// list reads a JSON array field.
func (b *body) list(name string) []json.RawMessage {
	v := b.value(name, "a JSON array")
	if v == nil {
		return nil
	}
	var out []json.RawMessage
	if err := json.Unmarshal(v, &out); err != nil {
		b.fail(name, "type", "must be a JSON array")
		return nil
	}
	return out
}

// done returns the first refused field, or a field no reader asked for.
func (b *body) done() error {
	if b.err != nil {
		return b.err
	}
	for _, k := range sortedKeys(b.m) {
		if !slices.Contains(b.asked, k) {
			allowed := slices.Clone(b.asked)
			slices.Sort(allowed)
			if len(allowed) == 0 {
				return badRequest(b.prefix+k, "unknown_field", "unknown field; this request takes no fields")
			}
			return badRequest(b.prefix+k, "unknown_field", "unknown field; allowed: "+strings.Join(allowed, ", "))
		}
	}
	return nil
}

// environment reads an object of scalar values as text (a run's
// environment: {"env": "production", "workers": 4}): a string as it is, a
// number as its JSON text ("4", "1.50"), true and false as "true" and
// "false". null, a list or an object is refused, naming the key.
func (b *body) environment(name string) map[string]string {
	m := b.object(name)
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for _, k := range sortedKeys(m) {
		v := m[k]
		switch kind := jsonType(v); kind {
		case "a string":
			var s string
			if err := json.Unmarshal(v, &s); err != nil {
				b.fail(name+"."+k, "type", "must be a string, number or true/false")
				return nil
			}
			out[k] = s
		case "a number", "a boolean":
			out[k] = string(v)
		default:
			b.fail(name+"."+k, "type", "must be a string, number or true/false, not "+kind+" (omit the key for no value)")
			return nil
		}
	}
	return out
}

func deref[V any](p *V) V {
	var zero V
	if p == nil {
		return zero
	}
	return *p
}
