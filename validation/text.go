package validation

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"sync"
	"unicode/utf8"
)

// Valid text, the one rule every string a generated model holds follows
// (top-level fields, fields of value types, list elements, and every key
// and string of a json field):
//
//   - it is valid UTF-8;
//   - it holds no NUL character (U+0000), which PostgreSQL cannot store in
//     text or jsonb and which C-based tools read as the end of the string;
//   - a single-line string (every string field the spec does not declare
//     multiline: true — names, ids, enum-like values) also holds no control
//     character (C0 U+0000–U+001F, DEL U+007F, C1 U+0080–U+009F; tab and
//     newline included) and no bidirectional override or isolate
//     (U+202A–U+202E, U+2066–U+2069), which make a name display as
//     something other than what it is.
//
// Multi-line strings (free text: messages, descriptions) may hold tabs,
// newlines and any other printable or formatting character.

// CheckText returns nil when s is valid text for a string field, single-line
// unless multiline, or an error saying what is wrong, e.g. "contains a control
// character (U+0007); only printable text is allowed". The message names no
// field: the caller prefixes the field's path.
func CheckText(s string, multiline bool) error {
	if msg := textProblem(s, multiline); msg != "" {
		return textError(msg)
	}
	return nil
}

type textError string

func (e textError) Error() string { return string(e) }

// textProblem is CheckText's message, or "".
func textProblem(s string, multiline bool) string {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf { // ASCII: the common case
			switch {
			case c == 0:
				return "contains a NUL character (U+0000); text may not contain it"
			case !multiline && (c < 0x20 || c == 0x7f):
				return fmt.Sprintf("contains a control character (U+%04X); only printable text is allowed", c)
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			return fmt.Sprintf("is not valid UTF-8 (byte 0x%02X at offset %d); text must be UTF-8", c, i)
		}
		if !multiline {
			switch {
			case r >= 0x80 && r <= 0x9f:
				return fmt.Sprintf("contains a control character (U+%04X); only printable text is allowed", r)
			case r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069:
				return fmt.Sprintf("contains a bidirectional control character (U+%04X); only printable text is allowed", r)
			}
		}
		i += n
	}
	return ""
}

// StorableText returns s made valid text (CheckText) for a string field,
// single-line unless multiline, changing only what the rule refuses: each
// byte that is not UTF-8 and each NUL becomes U+FFFD; in a single-line
// string, each line break (\n, \r\n or \r) becomes "; ", a tab a space,
// and any other control character or bidirectional override or isolate
// U+FFFD. It is for text a program did not choose, such as an error's
// message stored as a failed task's error_message: errors.Join's messages
// are lines.
func StorableText(s string, multiline bool) string {
	if textProblem(s, multiline) == "" {
		return s
	}
	var b []byte
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == 0:
				b = utf8.AppendRune(b, utf8.RuneError)
			case !multiline && (c == '\n' || c == '\r'):
				if c == '\r' && i+1 < len(s) && s[i+1] == '\n' {
					i++
				}
				b = append(b, "; "...)
			case !multiline && c == '\t':
				b = append(b, ' ')
			case !multiline && (c < 0x20 || c == 0x7f):
				b = utf8.AppendRune(b, utf8.RuneError)
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			b = utf8.AppendRune(b, utf8.RuneError)
		case !multiline && (r >= 0x80 && r <= 0x9f || r >= 0x202a && r <= 0x202e || r >= 0x2066 && r <= 0x2069):
			b = utf8.AppendRune(b, utf8.RuneError)
		default:
			b = append(b, s[i:i+n]...)
		}
		i += n
	}
	return string(b)
}

// CheckJSONText returns nil when every key and string of the JSON value
// data is valid text for a multi-line field (valid UTF-8, no NUL, which
// PostgreSQL's jsonb refuses as \u0000), or an error saying what is wrong.
// Malformed JSON is left to the decoder: CheckJSONText does not report it.
func CheckJSONText(data []byte) error {
	if !utf8.Valid(data) {
		for i := 0; i < len(data); {
			r, n := utf8.DecodeRune(data[i:])
			if r == utf8.RuneError && n == 1 {
				return textError(fmt.Sprintf("is not valid UTF-8 (byte 0x%02X at offset %d); text must be UTF-8", data[i], i))
			}
			i += n
		}
	}
	if bytes.IndexByte(data, 0) < 0 && !bytes.Contains(data, []byte(`\u0000`)) {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	for {
		tok, err := dec.Token()
		if err == io.EOF || err != nil {
			return nil
		}
		if s, ok := tok.(string); ok {
			if msg := textProblem(s, true); msg != "" {
				return textError(msg)
			}
		}
	}
}

// CheckJSONEncoding returns nil when the JSON text data is valid UTF-8 and
// escapes no lone UTF-16 surrogate (a \uD800–\uDFFF not in a high-low
// pair), or an error saying what is wrong: encoding/json decodes either
// silently as U+FFFD, so a decoder's caller checks the raw text first. The
// message names no field and gives no offset (the caller's field is where
// to look). Malformed JSON is left to the decoder.
func CheckJSONEncoding(data []byte) error {
	if !utf8.Valid(data) {
		for i := 0; i < len(data); {
			r, n := utf8.DecodeRune(data[i:])
			if r == utf8.RuneError && n == 1 {
				return textError(fmt.Sprintf("is not valid UTF-8 (it holds the byte 0x%02X); text must be UTF-8", data[i]))
			}
			i += n
		}
	}
	if !bytes.Contains(data, []byte(`\u`)) {
		return nil
	}
	inString := false
	for i := 0; i < len(data); i++ {
		switch c := data[i]; {
		case c == '"':
			inString = !inString
		case c == '\\' && inString && i+1 < len(data):
			if data[i+1] != 'u' {
				i++ // an escaped character: \" does not end the string
				continue
			}
			r, ok := hex4(data[i+2:])
			switch {
			case !ok:
				return nil // malformed: the decoder says so
			case r >= 0xd800 && r < 0xdc00:
				if i+12 <= len(data) && data[i+6] == '\\' && data[i+7] == 'u' {
					if lo, ok := hex4(data[i+8:]); ok && lo >= 0xdc00 && lo <= 0xdfff {
						i += 11 // a pair: one character
						continue
					}
				}
				return surrogateError(data[i : i+6])
			case r >= 0xdc00 && r <= 0xdfff:
				return surrogateError(data[i : i+6])
			}
			i += 5
		}
	}
	return nil
}

func surrogateError(esc []byte) error {
	return textError(fmt.Sprintf("holds the escape %s, half of a UTF-16 surrogate pair without its other half; text must be valid Unicode", esc))
}

// hex4 reads the four hex digits of a \u escape.
func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	n, err := strconv.ParseUint(string(b[:4]), 16, 16)
	return rune(n), err == nil
}

var (
	patternsMu sync.RWMutex
	patterns   = map[string]*regexp.Regexp{}
)

// RegisterPattern makes the validate tag pattern=name check that a string
// matches expr (Go regexp syntax; the spec anchors it). Generated packages
// register the patterns their specs declare, named <model>.<path>, when
// they are initialized; it panics when expr does not compile, which the
// spec loader has ruled out. It returns name.
func RegisterPattern(name, expr string) string {
	re := regexp.MustCompile(expr)
	patternsMu.Lock()
	patterns[name] = re
	patternsMu.Unlock()
	return name
}

func pattern(name string) *regexp.Regexp {
	patternsMu.RLock()
	defer patternsMu.RUnlock()
	return patterns[name]
}

// quoteShort quotes s (ASCII-only, so control characters show as escapes)
// when it is short enough to show in a message, else returns "".
func quoteShort(s string) string {
	if utf8.RuneCountInString(s) > 64 {
		return ""
	}
	return strconv.QuoteToASCII(s)
}
