package auth

import (
	"strings"
	"testing"
)

// FuzzParseSecret: the parser never panics, accepts only the exact shape
// tm_<16 base32>_<43 base64url>, returns the id part of what it accepts,
// and accepts every secret newSecret makes.
func FuzzParseSecret(f *testing.F) {
	for range 4 {
		s, _, err := newSecret()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(s)
		f.Add(s[:len(s)-1])
		f.Add(strings.ToUpper(s))
	}
	for _, s := range []string{"", "tm_", "tm__", dummySecret, "Bearer tm_x", strings.Repeat("_", secretLen), "tm_" + strings.Repeat("a", idLen) + "_" + strings.Repeat("-", keyLen)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, ok := parseSecret(s)
		if !ok {
			if id != "" {
				t.Fatalf("parseSecret(%q) refused it but returned id %q", s, id)
			}
			return
		}
		if len(s) != secretLen || !strings.HasPrefix(s, "tm_"+id+"_") || !validID(id) {
			t.Fatalf("parseSecret(%q) accepted it with id %q", s, id)
		}
		for _, c := range []byte(s[len(secretPrefix)+idLen+1:]) {
			if !keyChar(c) {
				t.Fatalf("parseSecret(%q) accepted key byte %q", s, c)
			}
		}
	})
}

func TestNewSecretParses(t *testing.T) {
	for range 1000 {
		s, id, err := newSecret()
		if err != nil {
			t.Fatal(err)
		}
		got, ok := parseSecret(s)
		if !ok || got != id || !validID(id) {
			t.Fatalf("parseSecret(%q) = %q, %v; want %q", s, got, ok, id)
		}
	}
	if _, ok := parseSecret(dummySecret); ok {
		t.Error("the dummy secret parses; it must match no token")
	}
}
