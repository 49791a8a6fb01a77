package local

import (
	"bytes"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/taskmodel/taskmodel/blob"
)

var secret = bytes.Repeat([]byte{7}, MinKeyLen)

func TestGrantRoundTrip(t *testing.T) {
	for _, g := range []grant{
		{method: http.MethodPut, key: "a/b.csv", expires: 1767225600, contentType: "text/csv", maxSize: 100},
		{method: http.MethodPut, key: "a/b.csv", expires: 1767225600, contentType: "application/json; charset=utf-8", maxSize: 100, size: 42},
		{method: http.MethodGet, key: "a/b.csv", expires: 1767225600},
		{method: http.MethodGet, key: "a/b.csv", expires: 1767225600, filename: "rapport d'été.csv"},
	} {
		q := g.query(secret)
		got, sig, uerr := parseGrant(g.method, g.key, q)
		if uerr != nil {
			t.Fatalf("parseGrant(%q): %v", q, uerr)
		}
		if *got != g {
			t.Errorf("parseGrant(%q) = %+v, want %+v", q, *got, g)
		}
		if uerr := got.verify(sig, [][]byte{secret}, time.Unix(g.expires-1, 0)); uerr != nil {
			t.Errorf("verify one second before expiry: %v", uerr)
		}
		if uerr := got.verify(sig, [][]byte{secret}, time.Unix(g.expires, 0)); uerr == nil || uerr.code != "expired" {
			t.Errorf("verify at expiry = %v, want expired", uerr)
		}
	}
}

// TestSignatureCoversEveryField changes each signed field in turn: no
// change may keep the signature valid.
func TestSignatureCoversEveryField(t *testing.T) {
	base := grant{method: http.MethodPut, key: "a/b", expires: 100, contentType: "text/csv", maxSize: 10, size: 5, filename: "f"}
	sig := base.mac(secret)
	for name, edit := range map[string]func(*grant){
		"method":       func(g *grant) { g.method = http.MethodGet },
		"key":          func(g *grant) { g.key = "a/c" },
		"expires":      func(g *grant) { g.expires++ },
		"content type": func(g *grant) { g.contentType = "text/plain" },
		"max size":     func(g *grant) { g.maxSize++ },
		"size":         func(g *grant) { g.size = 0 },
		"filename":     func(g *grant) { g.filename = "g" },
		// Moving bytes between fields must not give the same message.
		"boundary": func(g *grant) { g.key, g.contentType = "a/b"+"\n"+"1", "text/csv" },
	} {
		g := base
		edit(&g)
		if bytes.Equal(g.mac(secret), sig) {
			t.Errorf("changing the %s keeps the signature", name)
		}
	}
	if bytes.Equal(base.mac(bytes.Repeat([]byte{8}, MinKeyLen)), sig) {
		t.Error("another secret gives the same signature")
	}
}

func TestParseGrantRefusals(t *testing.T) {
	up := grant{method: http.MethodPut, key: "a/b", expires: 100, contentType: "text/csv", maxSize: 10}
	q := up.query(secret)
	for _, tc := range []struct {
		name, method, key, query string
		status                   int
		code                     string
	}{
		{"post", http.MethodPost, "a/b", q, http.StatusMethodNotAllowed, "method_not_allowed"},
		{"delete", http.MethodDelete, "a/b", q, http.StatusMethodNotAllowed, "method_not_allowed"},
		{"bad key", http.MethodPut, "../a", q, http.StatusNotFound, "bad_key"},
		{"empty key", http.MethodGet, "", "exp=1&sig=x", http.StatusNotFound, "bad_key"},
		{"bad query", http.MethodPut, "a/b", "exp=%zz", http.StatusForbidden, "malformed_url"},
		{"unknown parameter", http.MethodPut, "a/b", q + "&x=1", http.StatusForbidden, "malformed_url"},
		{"repeated parameter", http.MethodPut, "a/b", q + "&max=10", http.StatusForbidden, "malformed_url"},
		{"upload URL with GET", http.MethodGet, "a/b", q, http.StatusForbidden, "wrong_method"},
		{"download URL with PUT", http.MethodPut, "a/b", "exp=1&fn=x&sig=" + strings.Repeat("A", 43), http.StatusForbidden, "wrong_method"},
		{"no signature", http.MethodGet, "a/b", "exp=1", http.StatusForbidden, "bad_signature"},
		{"short signature", http.MethodGet, "a/b", "exp=1&sig=AAAA", http.StatusForbidden, "bad_signature"},
		{"non-canonical signature", http.MethodGet, "a/b", "exp=1&sig=" + strings.Repeat("A", 42) + "B", http.StatusForbidden, "bad_signature"},
		{"no expiry", http.MethodGet, "a/b", "sig=" + strings.Repeat("A", 43), http.StatusForbidden, "malformed_url"},
		{"negative expiry", http.MethodGet, "a/b", "exp=-5&sig=" + strings.Repeat("A", 43), http.StatusForbidden, "malformed_url"},
		{"bad file name", http.MethodGet, "a/b", "exp=5&fn=..&sig=" + strings.Repeat("A", 43), http.StatusForbidden, "malformed_url"},
		{"bad content type", http.MethodPut, "a/b", "exp=5&ct=text&max=1&sig=" + strings.Repeat("A", 43), http.StatusForbidden, "malformed_url"},
		{"no max", http.MethodPut, "a/b", "exp=5&ct=text/csv&sig=" + strings.Repeat("A", 43), http.StatusForbidden, "malformed_url"},
		{"zero size", http.MethodPut, "a/b", "exp=5&ct=text/csv&max=1&len=0&sig=" + strings.Repeat("A", 43), http.StatusForbidden, "malformed_url"},
	} {
		_, _, uerr := parseGrant(tc.method, tc.key, tc.query)
		if uerr == nil || uerr.status != tc.status || uerr.code != tc.code || uerr.detail == "" {
			t.Errorf("%s: parseGrant = %#v, want %d %s", tc.name, uerr, tc.status, tc.code)
		}
	}
}

// FuzzParseGrant feeds arbitrary methods, keys and queries to the parser:
// it must never panic, must only accept valid keys and well-formed limits,
// and no input it did not sign may verify.
func FuzzParseGrant(f *testing.F) {
	up := grant{method: http.MethodPut, key: "a/b", expires: 100, contentType: "text/csv", maxSize: 10, size: 3}
	down := grant{method: http.MethodGet, key: "a/b", expires: 100, filename: "x y.csv"}
	f.Add("PUT", "a/b", up.query(secret))
	f.Add("GET", "a/b", down.query(secret))
	f.Add("HEAD", "a/b", down.query(secret))
	f.Add("GET", "a/b", "exp=1&exp=2&sig=")
	f.Add("PUT", "../x", "ct=text/csv&max=1")
	f.Fuzz(func(t *testing.T, method, key, query string) {
		g, sig, uerr := parseGrant(method, key, query)
		if uerr != nil {
			if uerr.status < 400 || uerr.status > 499 || uerr.code == "" || uerr.detail == "" {
				t.Fatalf("refusal %#v is not a 4xx problem", uerr)
			}
			return
		}
		if blob.ValidateKey(g.key) != nil || g.expires < 1 {
			t.Fatalf("accepted grant %+v", g)
		}
		if g.method == http.MethodPut && (blob.ValidateContentType(g.contentType) != nil || g.maxSize < 1 || g.size < 0) {
			t.Fatalf("accepted upload grant %+v", g)
		}
		// A signature verifies only if it is the one we would make.
		want := g.mac(secret)
		verr := g.verify(sig, [][]byte{secret}, time.Unix(0, 0))
		if (verr == nil) != bytes.Equal(sig, want) {
			t.Fatalf("verify = %v for signature %x, want %x", verr, sig, want)
		}
		// Re-encoding the grant and parsing it again gives the same grant.
		again, _, uerr := parseGrant(method, g.key, g.query(secret))
		if uerr != nil || *again != *g {
			t.Fatalf("round trip of %+v = %+v, %v", g, again, uerr)
		}
	})
}

// FuzzHandler sends arbitrary paths and queries to a store's handler: every
// answer must be a refusal, and nothing may be written.
func FuzzHandler(f *testing.F) {
	dir := f.TempDir()
	s, err := New(Config{Dir: dir, BaseURL: "/blobs/", SigningKey: secret, Clock: func() time.Time { return time.Unix(50, 0) }})
	if err != nil {
		f.Fatal(err)
	}
	h := s.Handler()
	up := grant{method: http.MethodPut, key: "a/b", expires: 100, contentType: "text/csv", maxSize: 10}
	f.Add("PUT", "/blobs/a/b", up.query(bytes.Repeat([]byte{9}, MinKeyLen)), "text/csv")
	f.Add("PUT", "/blobs/../x", "exp=1", "text/csv")
	f.Add("GET", "/blobs/a%2F..%2Fb", "", "")
	f.Add("PUT", "/blobs//etc/passwd", "exp=100&ct=text/csv&max=10&sig=", "text/csv")
	f.Fuzz(func(t *testing.T, method, p, query, ct string) {
		if method != http.MethodPut && method != http.MethodGet && method != http.MethodHead {
			method = http.MethodPut
		}
		u := &url.URL{Path: p, RawQuery: query}
		req := httptest.NewRequest(method, "/", strings.NewReader("data"))
		req.URL = u
		req.Header.Set("Content-Type", ct)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code < 400 || rec.Code > 499 {
			t.Fatalf("%s %s?%s: status %d, want a refusal", method, p, query, rec.Code)
		}
		if got := rec.Header().Get("Content-Type"); got != "application/problem+json" {
			t.Fatalf("refusal with Content-Type %q", got)
		}
		if files := filesUnder(t, dir); len(files) > 0 {
			t.Fatalf("%s %s?%s wrote %v", method, p, query, files)
		}
	})
}

// filesUnder lists the regular files below dir.
func filesUnder(t *testing.T, dir string) []string {
	t.Helper()
	var files []string
	err := fs.WalkDir(os.DirFS(dir), ".", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files = append(files, p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}
