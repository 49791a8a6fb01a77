package blob

import (
	"fmt"
	"mime"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/taskmodel/taskmodel/tasktype"
)

// Limits on what a store accepts. They are the strictest of the stores'
// own limits, so a key, size or expiry valid for one store is valid for all.
const (
	// MaxKeyLen is the longest key, in bytes (S3's limit).
	MaxKeyLen = 1024
	// MaxSegmentLen is the longest segment of a key between slashes, in
	// bytes (a file name on common file systems).
	MaxSegmentLen = 255
	// MaxObjectSize is the largest blob, in bytes: 5 GiB, the most one S3 PUT
	// may carry.
	MaxObjectSize int64 = 5 << 30
	// MaxExpiry is the longest a presigned URL may stay valid (S3's limit).
	MaxExpiry = 7 * 24 * time.Hour
	// MinExpiry is the shortest: URL expiries are whole seconds.
	MinExpiry = time.Second
	// MaxContentTypeLen is the longest content type, in bytes.
	MaxContentTypeLen = 255
	// MaxFilenameLen is the longest download file name, in bytes.
	MaxFilenameLen = 255
)

// keyRule is the message every key error ends with, so a user sees at once
// what is allowed.
const keyRule = "a key is 1 to 1024 bytes of segments joined by '/'; " +
	"a segment is 1 to 255 of A-Z a-z 0-9 '-' '_' '.' and does not start with '.'"

// ValidateKey reports whether key may name a blob. A key is a relative,
// slash-separated path of segments made of ASCII letters, digits, '-', '_'
// and '.'; no segment is empty or starts with '.', so "..", ".", hidden
// names, absolute paths, backslashes, NUL bytes, percent-escapes and
// trailing slashes are all refused. The error is a *tasktype.FieldError for
// the field "key" (errors.Is(err, tasktype.ErrValidation) holds).
//
// Every Store method validates its key with ValidateKey before touching
// storage, so no key can name a file outside a local store's directory.
func ValidateKey(key string) error {
	return validatePath("key", key, false)
}

// ValidatePrefix reports whether prefix may select a group of blobs, such as
// a task's folder "users/u1/tasks/42/": the segments of a key followed by a
// '/', which keeps "tasks/4/" from matching "tasks/42/x". The error is a
// *tasktype.FieldError for the field "prefix".
func ValidatePrefix(prefix string) error {
	return validatePath("prefix", prefix, true)
}

func validatePath(field, p string, prefix bool) error {
	fail := func(rule, what string) error {
		return &tasktype.FieldError{Field: field, Rule: rule, Value: shorten(p), Message: what + "; " + keyRule}
	}
	switch {
	case p == "":
		return fail("required", "must not be empty")
	case len(p) > MaxKeyLen:
		return fail("max_len", "is "+strconv.Itoa(len(p))+" bytes, more than "+strconv.Itoa(MaxKeyLen))
	case p[0] == '/':
		return fail("relative", "must be relative, not start with '/'")
	}
	body := p
	if prefix {
		if !strings.HasSuffix(p, "/") {
			return fail("trailing_slash", "must end with '/'")
		}
		body = p[:len(p)-1]
	} else if strings.HasSuffix(p, "/") {
		return fail("trailing_slash", "must not end with '/' (it names a blob, not a folder)")
	}
	for i := 0; i < len(body); i++ {
		if c := body[i]; !safeByte(c) && c != '/' {
			return fail("charset", fmt.Sprintf("has %s at byte %d", describeByte(body, i), i))
		}
	}
	for seg := range strings.SplitSeq(body, "/") {
		switch {
		case seg == "":
			return fail("empty_segment", "must not contain an empty segment ('//')")
		case seg == "." || seg == "..":
			return fail("dot_segment", fmt.Sprintf("must not contain the segment %q", seg))
		case seg[0] == '.':
			return fail("dot_segment", fmt.Sprintf("segment %q must not start with '.'", seg))
		case len(seg) > MaxSegmentLen:
			return fail("max_len", fmt.Sprintf("has a segment of %d bytes, more than %d", len(seg), MaxSegmentLen))
		}
	}
	return nil
}

func safeByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.'
}

// describeByte names the byte at s[i] for an error message without echoing
// control characters.
func describeByte(s string, i int) string {
	switch c := s[i]; {
	case c == 0:
		return "a NUL byte"
	case c == '\\':
		return "a backslash"
	case c < 0x20 || c == 0x7f:
		return fmt.Sprintf("the control byte 0x%02x", c)
	case c >= 0x80:
		return "a non-ASCII character"
	default:
		return fmt.Sprintf("%q", rune(c))
	}
}

// shorten keeps error values printable and short.
func shorten(s string) string {
	const limit = 64
	s = strings.ToValidUTF8(s, "\uFFFD")
	if utf8.RuneCountInString(s) > limit {
		s = string([]rune(s)[:limit]) + "…"
	}
	q := strconv.Quote(s)
	return q[1 : len(q)-1]
}

// ValidateContentType reports whether ct may be the content type of a blob:
// a media type "type/subtype" with optional parameters, as
// mime.ParseMediaType reads it, in at most 255 bytes of printable ASCII. The
// error is a *tasktype.FieldError for the field "content_type".
func ValidateContentType(ct string) error {
	fail := func(rule, what string) error {
		return &tasktype.FieldError{Field: "content_type", Rule: rule, Value: shorten(ct), Message: what}
	}
	if ct == "" {
		return fail("required", "must not be empty; give a media type such as text/csv")
	}
	if len(ct) > MaxContentTypeLen {
		return fail("max_len", fmt.Sprintf("must be at most %d bytes", MaxContentTypeLen))
	}
	for i := 0; i < len(ct); i++ {
		if c := ct[i]; c < 0x20 || c >= 0x7f {
			return fail("charset", "must be printable ASCII; has "+describeByte(ct, i))
		}
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil || strings.Count(mt, "/") != 1 || strings.HasPrefix(mt, "/") || strings.HasSuffix(mt, "/") {
		return fail("media_type", "must be a media type such as text/csv or application/json; charset=utf-8")
	}
	return nil
}

// ValidateFilename reports whether name may be offered as a download's file
// name (Content-Disposition): 1 to 255 bytes of UTF-8 without control
// characters, slashes or backslashes, and not "." or "..". The error is a
// *tasktype.FieldError for the field "filename".
func ValidateFilename(name string) error {
	fail := func(rule, what string) error {
		return &tasktype.FieldError{Field: "filename", Rule: rule, Value: shorten(name), Message: what}
	}
	switch {
	case name == "":
		return fail("required", "must not be empty")
	case len(name) > MaxFilenameLen:
		return fail("max_len", fmt.Sprintf("must be at most %d bytes", MaxFilenameLen))
	case !utf8.ValidString(name):
		return fail("charset", "must be valid UTF-8")
	case name == "." || name == "..":
		return fail("dot_segment", "must not be . or ..")
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f || (0x80 <= r && r < 0xa0) || r == '/' || r == '\\' || r == '"' {
			return fail("charset", "must not contain control characters, '/', '\\' or '\"'")
		}
	}
	return nil
}
