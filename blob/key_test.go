package blob_test

import (
	"errors"
	"path"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/taskmodel/taskmodel/blob"
	"github.com/taskmodel/taskmodel/tasktype"
)

// wantRule wants err to be a *tasktype.FieldError for field with rule.
func wantRule(t *testing.T, what string, err error, field, rule string) {
	t.Helper()
	var fe *tasktype.FieldError
	if !errors.As(err, &fe) || !errors.Is(err, tasktype.ErrValidation) {
		t.Errorf("%s: err = %v, want a *tasktype.FieldError", what, err)
		return
	}
	if fe.Field != field || fe.Rule != rule || fe.Message == "" {
		t.Errorf("%s: err = %#v, want field %q rule %q with a message", what, fe, field, rule)
	}
}

func TestValidateKey(t *testing.T) {
	seg := strings.Repeat("s", blob.MaxSegmentLen)
	longest := seg + "/" + seg + "/" + seg + "/" + seg[:254] + "/x"
	for _, key := range []string{
		"a", "A", "0", "a.b", "a-b_c", "a/b", "users/u-1/tasks/42/inputs/primary.csv",
		"x..y", "x.", "a/b./c", seg, longest,
	} {
		if err := blob.ValidateKey(key); err != nil {
			t.Errorf("ValidateKey(%q) = %v, want nil", key, err)
		}
	}
	for _, tc := range []struct{ key, rule string }{
		{"", "required"},
		{"/a", "relative"},
		{"/", "relative"},
		{"a/", "trailing_slash"},
		{"a//b", "empty_segment"},
		{".", "dot_segment"},
		{"..", "dot_segment"},
		{"../a", "dot_segment"},
		{"a/../b", "dot_segment"},
		{"a/..", "dot_segment"},
		{"a/./b", "dot_segment"},
		{".env", "dot_segment"},
		{"a/.git/config", "dot_segment"},
		{`a\b`, "charset"},
		{`..\a`, "charset"},
		{"a\x00", "charset"},
		{"a\tb", "charset"},
		{"a b", "charset"},
		{"a:b", "charset"},
		{"a%2fb", "charset"},
		{"a+b", "charset"},
		{"a~", "charset"},
		{"é", "charset"},
		{"a\x7f", "charset"},
		{longest + "x", "max_len"},
		{seg + "s", "max_len"},
		{"a/" + seg + "s", "max_len"},
	} {
		wantRule(t, "ValidateKey("+tc.key+")", blob.ValidateKey(tc.key), "key", tc.rule)
	}
}

func TestValidateKeyMessages(t *testing.T) {
	for _, tc := range []struct{ key, want string }{
		{"a\x00b", "a NUL byte at byte 1"},
		{`a\b`, "a backslash at byte 1"},
		{"a\x01", "the control byte 0x01 at byte 1"},
		{"aé", "a non-ASCII character at byte 1"},
		{"a b", "' ' at byte 1"},
		{"a/../b", `the segment ".."`},
	} {
		err := blob.ValidateKey(tc.key)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "a key is 1 to 1024 bytes") {
			t.Errorf("ValidateKey(%q) = %v, want it to say %q and what is allowed", tc.key, err, tc.want)
		}
	}
	// The offending value is shown printable and short.
	var fe *tasktype.FieldError
	errors.As(blob.ValidateKey(strings.Repeat("\x00", 2000)), &fe)
	if fe == nil || len(fe.Value) > 400 || strings.ContainsRune(fe.Value, 0) {
		t.Errorf("FieldError.Value = %q, want a short printable value", fe.Value)
	}
}

func TestValidatePrefix(t *testing.T) {
	for _, p := range []string{"a/", "users/u-1/tasks/42/"} {
		if err := blob.ValidatePrefix(p); err != nil {
			t.Errorf("ValidatePrefix(%q) = %v", p, err)
		}
	}
	for _, tc := range []struct{ prefix, rule string }{
		{"", "required"},
		{"/", "relative"},
		{"a", "trailing_slash"},
		{"a//", "empty_segment"},
		{"../", "dot_segment"},
		{"a/./", "dot_segment"},
		{"a b/", "charset"},
	} {
		wantRule(t, "ValidatePrefix("+tc.prefix+")", blob.ValidatePrefix(tc.prefix), "prefix", tc.rule)
	}
}

func TestValidateContentType(t *testing.T) {
	for _, ct := range []string{"text/csv", "application/json", "application/json; charset=utf-8", "application/vnd.ms-excel",
		"image/svg+xml", `text/plain; charset="utf-8"`} {
		if err := blob.ValidateContentType(ct); err != nil {
			t.Errorf("ValidateContentType(%q) = %v", ct, err)
		}
	}
	for _, tc := range []struct{ ct, rule string }{
		{"", "required"},
		{"text", "media_type"},
		{"text/", "media_type"},
		{"/csv", "media_type"},
		{"text/csv/x", "media_type"},
		{"text/csv\r\nX-Injected: 1", "charset"},
		{"text/csv\x00", "charset"},
		{"text/csvé", "charset"},
		{"text/" + strings.Repeat("x", blob.MaxContentTypeLen), "max_len"},
	} {
		wantRule(t, "ValidateContentType("+tc.ct+")", blob.ValidateContentType(tc.ct), "content_type", tc.rule)
	}
}

func TestValidateFilename(t *testing.T) {
	for _, name := range []string{"report.csv", "report 2026.csv", "rapport d'été.csv", "..x", "データ.csv"} {
		if err := blob.ValidateFilename(name); err != nil {
			t.Errorf("ValidateFilename(%q) = %v", name, err)
		}
	}
	for _, tc := range []struct{ name, rule string }{
		{"", "required"},
		{".", "dot_segment"},
		{"..", "dot_segment"},
		{"a/b", "charset"},
		{`a\b`, "charset"},
		{`a"b`, "charset"},
		{"a\r\nb", "charset"},
		{"a\u0085b", "charset"},
		{"\xff", "charset"},
		{strings.Repeat("x", blob.MaxFilenameLen+1), "max_len"},
	} {
		wantRule(t, "ValidateFilename("+tc.name+")", blob.ValidateFilename(tc.name), "filename", tc.rule)
	}
}

// FuzzValidateKey checks that every key ValidateKey accepts is a clean,
// local, relative path that stays inside any directory it is joined to,
// and that every refusal is a FieldError that says what is allowed.
func FuzzValidateKey(f *testing.F) {
	for _, s := range []string{"a", "a/b", "../a", "a/../b", "/a", "a//b", `a\b`, "a\x00", ".a", "a/", "é", "a.b/c..d"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, key string) {
		err := blob.ValidateKey(key)
		if err != nil {
			var fe *tasktype.FieldError
			if !errors.As(err, &fe) || fe.Field != "key" || fe.Rule == "" || !strings.Contains(fe.Message, "a key is") {
				t.Fatalf("ValidateKey(%q) = %#v, want a FieldError for key", key, err)
			}
			if !utf8.ValidString(fe.Value) || strings.ContainsAny(fe.Value, "\x00\n\r") {
				t.Fatalf("ValidateKey(%q): unprintable Value %q", key, fe.Value)
			}
			return
		}
		if len(key) == 0 || len(key) > blob.MaxKeyLen || path.Clean(key) != key || !filepath.IsLocal(key) ||
			strings.Contains("/"+key+"/", "/../") {
			t.Fatalf("ValidateKey accepted %q", key)
		}
		if joined := filepath.Join("/srv/store/objects", key); !strings.HasPrefix(joined, "/srv/store/objects/") {
			t.Fatalf("ValidateKey accepted %q, which joins to %q", key, joined)
		}
		for i := 0; i < len(key); i++ {
			if c := key[i]; c >= 0x80 || c < 0x20 || c == '\\' || c == '%' || c == ' ' {
				t.Fatalf("ValidateKey accepted %q with byte %#x", key, c)
			}
		}
		if len(key) < blob.MaxKeyLen && blob.ValidatePrefix(key+"/") != nil {
			t.Fatalf("ValidateKey accepted %q but ValidatePrefix refuses %q", key, key+"/")
		}
	})
}
