package validation

import (
	"encoding/json"
	"errors"
	"io"
	"strings"
)

// DescribeJSONError says in plain words what is wrong with JSON that
// encoding/json refused (err from a Decoder or Unmarshal), without its Go
// wording, and at which byte when the decoder says (at is -1 when not):
// "it ends before the value is complete"; 3, "a value was expected …,
// found 'I'". what is "" for an error that is not about syntax.
func DescribeJSONError(err error) (at int64, what string) {
	var se *json.SyntaxError
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return -1, "it ends before the value is complete"
	case !errors.As(err, &se):
		return -1, ""
	}
	msg := se.Error()
	if strings.Contains(msg, "exceeded max depth") {
		return se.Offset, "it nests arrays and objects too deep (at most 10000 levels)"
	}
	if strings.Contains(msg, "unexpected end of JSON input") {
		return -1, "it ends before the value is complete"
	}
	found := ""
	if rest, ok := strings.CutPrefix(msg, "invalid character "); ok {
		found, msg = rest, ""
		if i := strings.LastIndex(rest, "' "); i > 0 {
			found, msg = rest[:i+1], rest[i+2:]
		}
	}
	what = "a character is out of place"
	for _, c := range []struct{ context, what string }{
		{"looking for beginning of value", "a value was expected (a string in double quotes, a number, true, false, null, an object or an array)"},
		{"looking for beginning of object key string", "a field name in double quotes was expected"},
		{"after object key:value pair", "',' or '}' was expected after a field's value"},
		{"after object key", "':' was expected after a field name"},
		{"after array element", "',' or ']' was expected after an element of an array"},
		{"after top-level value", "nothing may follow the value"},
		{"in string escape code", "a string holds an invalid escape (after '\\' come one of \" \\ / b f n r t, or u and four hex digits)"},
		{"in string literal", "a string holds a control character, which must be escaped (\\n, \\t, \\u0000…)"},
		{"in numeric literal", "a number is malformed"},
		{"in literal", "true, false or null is misspelt"},
	} {
		if strings.Contains(msg, c.context) {
			what = c.what
			break
		}
	}
	if found != "" {
		what += ", found " + found
	}
	return se.Offset, what
}
