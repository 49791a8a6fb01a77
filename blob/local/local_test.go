package local_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/taskmodel/taskmodel/blob"
	"github.com/taskmodel/taskmodel/blob/blobtest"
	"github.com/taskmodel/taskmodel/blob/local"
	"github.com/taskmodel/taskmodel/tasktype"
)

func TestConformance(t *testing.T) {
	blobtest.Run(t, blobtest.Harness{
		New: func(t *testing.T, clock *blobtest.Clock) blob.Store {
			return newServed(t, clock.Now).Store
		},
		RefusesOversize:  true,
		ListsContentType: true,
	})
}

// fakeClock is a frozen clock that moves only when told.
type fakeClock struct{ ns atomic.Int64 }

func newFakeClock() *fakeClock {
	c := &fakeClock{}
	c.ns.Store(time.Date(2026, 1, 15, 10, 30, 0, 0, time.UTC).UnixNano())
	return c
}

func (c *fakeClock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

type problem struct {
	Status int    `json:"status"`
	Title  string `json:"title"`
	Detail string `json:"detail"`
	Code   string `json:"code"`
}

type answer struct {
	status int
	header http.Header
	body   []byte
}

func (a answer) problem(t *testing.T) problem {
	t.Helper()
	var p problem
	if ct := a.header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("refusal %d with Content-Type %q: %s", a.status, ct, a.body)
	}
	if err := json.Unmarshal(a.body, &p); err != nil || p.Status != a.status || p.Detail == "" || p.Code == "" {
		t.Fatalf("problem document %s (%v)", a.body, err)
	}
	return p
}

// wantProblem wants a refusal with status and code.
func (a answer) wantProblem(t *testing.T, what string, status int, code string) problem {
	t.Helper()
	if a.status != status {
		t.Fatalf("%s: status %d (%s), want %d", what, a.status, a.body, status)
	}
	p := a.problem(t)
	if p.Code != code {
		t.Fatalf("%s: code %q (%s), want %q", what, p.Code, p.Detail, code)
	}
	return p
}

func send(t *testing.T, p *blob.Presigned, body io.Reader, edit func(*http.Request)) answer {
	t.Helper()
	req, err := p.NewRequest(context.Background(), body)
	if err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		edit(req)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, resp.Header, b}
}

func upload(key string, max int64) blob.UploadRequest {
	return blob.UploadRequest{Key: key, ContentType: "text/csv", MaxSize: max, Expires: time.Minute}
}

func presignUpload(t *testing.T, s blob.Store, r blob.UploadRequest) *blob.Presigned {
	t.Helper()
	p, err := s.PresignUpload(context.Background(), r)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestExpiryBoundary: a URL works until the second it expires and not at it.
func TestExpiryBoundary(t *testing.T) {
	clock := newFakeClock()
	s := newServed(t, clock.Now)
	p := presignUpload(t, s, upload("a/b.csv", 10))
	if want := clock.Now().Add(time.Minute).UTC(); !p.Expires.Equal(want) {
		t.Fatalf("Expires = %v, want %v", p.Expires, want)
	}
	clock.Advance(time.Minute - time.Nanosecond)
	if a := send(t, p, strings.NewReader("x"), nil); a.status != http.StatusOK {
		t.Fatalf("PUT a nanosecond before expiry: %d %s", a.status, a.body)
	}
	clock.Advance(time.Nanosecond)
	pr := send(t, p, strings.NewReader("y"), nil).wantProblem(t, "PUT at expiry", http.StatusForbidden, "expired")
	if !strings.Contains(pr.Detail, "2026-01-15T10:31:00Z") {
		t.Errorf("detail %q does not say when the URL expired", pr.Detail)
	}
}

func TestUploadRefusals(t *testing.T) {
	s := newServed(t, newFakeClock().Now)
	exact := upload("a/exact.csv", 10)
	exact.Size = 4
	for _, tc := range []struct {
		name   string
		r      blob.UploadRequest
		body   string
		edit   func(*http.Request)
		status int
		code   string
	}{
		{"content type", upload("a/b.csv", 10), "x", func(r *http.Request) { r.Header.Set("Content-Type", "text/plain") },
			http.StatusUnsupportedMediaType, "content_type"},
		{"no content type", upload("a/b.csv", 10), "x", func(r *http.Request) { r.Header.Del("Content-Type") },
			http.StatusUnsupportedMediaType, "content_type"},
		{"declared too large", upload("a/b.csv", 10), "01234567890", nil, http.StatusRequestEntityTooLarge, "too_large"},
		{"streamed too large", upload("a/b.csv", 10), "01234567890", func(r *http.Request) {
			r.Body, r.ContentLength = io.NopCloser(strings.NewReader("01234567890")), -1
		}, http.StatusRequestEntityTooLarge, "too_large"},
		{"shorter than signed", exact, "abc", func(r *http.Request) { r.ContentLength = 3 }, http.StatusBadRequest, "length_mismatch"},
		{"longer than signed", exact, "abcde", func(r *http.Request) { r.ContentLength = 5 }, http.StatusBadRequest, "length_mismatch"},
		{"streamed shorter than signed", exact, "abc", func(r *http.Request) {
			r.Body, r.ContentLength = io.NopCloser(strings.NewReader("abc")), -1
		}, http.StatusBadRequest, "length_mismatch"},
		{"wrong signature", upload("a/b.csv", 10), "x", func(r *http.Request) {
			q := r.URL.Query()
			q.Set("max", "1000000")
			r.URL.RawQuery = q.Encode()
		}, http.StatusForbidden, "bad_signature"},
		{"POST", upload("a/b.csv", 10), "x", func(r *http.Request) { r.Method = http.MethodPost }, http.StatusMethodNotAllowed, "method_not_allowed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := presignUpload(t, s, tc.r)
			a := send(t, p, strings.NewReader(tc.body), tc.edit)
			a.wantProblem(t, tc.name, tc.status, tc.code)
			if tc.status == http.StatusMethodNotAllowed && a.header.Get("Allow") != "GET, HEAD, PUT" {
				t.Errorf("Allow = %q", a.header.Get("Allow"))
			}
			if files := filesIn(t, s.dir); len(files) > 0 {
				t.Errorf("a refused upload left files: %v", files)
			}
		})
	}
}

// TestPaths sends requests straight to the handler, past any mux that
// would clean or route the path first.
func TestPaths(t *testing.T) {
	s := newServed(t, newFakeClock().Now)
	p := presignUpload(t, s, upload("a/b.csv", 10))
	for _, tc := range []struct {
		path, code string
	}{
		{"/other/a/b.csv", "not_found"},
		{"/blobs", "not_found"},
		{"/blobs/a/../b.csv", "bad_key"},
		{"/blobs/./a/b.csv", "bad_key"},
		{"/blobs//etc/passwd", "bad_key"},
		{"/blobs/a\\b.csv", "bad_key"},
		{"/blobs/", "bad_key"},
	} {
		req := httptest.NewRequest(http.MethodPut, p.URL, strings.NewReader("x"))
		req.URL.Path = tc.path
		req.Header.Set("Content-Type", "text/csv")
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, req)
		answer{rec.Code, rec.Header(), rec.Body.Bytes()}.wantProblem(t, tc.path, http.StatusNotFound, tc.code)
	}
	if files := filesIn(t, s.dir); len(files) > 0 {
		t.Errorf("refused uploads left files: %v", files)
	}
}

// TestFailedUploadKeepsOldBlob: an upload that fails halfway leaves the
// blob as it was and no temporary file.
func TestFailedUploadKeepsOldBlob(t *testing.T) {
	s := newServed(t, newFakeClock().Now)
	ctx := context.Background()
	if _, err := s.Put(ctx, "a/b.csv", strings.NewReader("old"), blob.PutOptions{ContentType: "text/csv", MaxSize: 10}); err != nil {
		t.Fatal(err)
	}
	p := presignUpload(t, s, upload("a/b.csv", 10))
	send(t, p, strings.NewReader("new body too long"), nil).wantProblem(t, "oversized", http.StatusRequestEntityTooLarge, "too_large")
	rc, _, err := s.Open(ctx, "a/b.csv")
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(rc)
	rc.Close()
	if string(got) != "old" {
		t.Errorf("blob = %q after a refused upload, want %q", got, "old")
	}
	if files := filesIn(t, filepath.Join(s.dir, "tmp")); len(files) > 0 {
		t.Errorf("temporary files left: %v", files)
	}
}

func TestDownloadHeaders(t *testing.T) {
	s := newServed(t, newFakeClock().Now)
	ctx := context.Background()
	if _, err := s.Put(ctx, "t/out/page.html", strings.NewReader("<script>alert(1)</script>"), blob.PutOptions{ContentType: "text/html", MaxSize: 100}); err != nil {
		t.Fatal(err)
	}
	p, err := s.PresignDownload(ctx, blob.DownloadRequest{Key: "t/out/page.html", Expires: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	a := send(t, p, nil, nil)
	for h, want := range map[string]string{
		"Content-Type":            "text/html",
		"Content-Disposition":     "attachment; filename=page.html",
		"X-Content-Type-Options":  "nosniff",
		"Content-Security-Policy": "default-src 'none'; sandbox",
		"Content-Length":          "25",
	} {
		if got := a.header.Get(h); got != want {
			t.Errorf("%s = %q, want %q", h, got, want)
		}
	}
	head := send(t, p, nil, func(r *http.Request) { r.Method = http.MethodHead })
	if head.status != http.StatusOK || len(head.body) != 0 || head.header.Get("Content-Length") != "25" {
		t.Errorf("HEAD = %d %q %v", head.status, head.body, head.header)
	}
	part := send(t, p, nil, func(r *http.Request) { r.Header.Set("Range", "bytes=1-6") })
	if part.status != http.StatusPartialContent || string(part.body) != "script" {
		t.Errorf("Range GET = %d %q", part.status, part.body)
	}
}

// TestDownloadRefusals: the refusals of a download that http.ServeContent
// decides — a Range outside the blob or malformed (416), an If-Match or
// If-Unmodified-Since that does not hold (412) — are problems like the
// handler's own, the 416 of a range outside the blob with its
// Content-Range; the conditions and ranges that hold are served.
func TestDownloadRefusals(t *testing.T) {
	s := newServed(t, newFakeClock().Now)
	ctx := context.Background()
	if _, err := s.Put(ctx, "t/out/r.json", strings.NewReader(`{"ok":true}`), blob.PutOptions{ContentType: "application/json", MaxSize: 100}); err != nil {
		t.Fatal(err)
	}
	p, err := s.PresignDownload(ctx, blob.DownloadRequest{Key: "t/out/r.json", Expires: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	etag := send(t, p, nil, nil).header.Get("ETag")
	for _, tc := range []struct {
		name, header, value string
		status              int
		code, detail        string
		contentRange        string
	}{
		{"range past the end", "Range", "bytes=999999-", 416, "range_not_satisfiable", "11 bytes long", "bytes */11"},
		{"malformed range", "Range", "bytes=abc", 416, "range_not_satisfiable", "malformed", ""},
		{"If-Match another ETag", "If-Match", `"nope"`, 412, "precondition_failed", etag, ""},
		{"If-Unmodified-Since in the past", "If-Unmodified-Since", "Mon, 01 Jan 2001 00:00:00 GMT", 412, "precondition_failed", "If-Unmodified-Since", ""},
		{"range inside", "Range", "bytes=1-4", 206, "", "", "bytes 1-4/11"},
		{"If-Match its ETag", "If-Match", etag, 200, "", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, method := range []string{http.MethodGet, http.MethodHead} {
				a := send(t, p, nil, func(r *http.Request) { r.Method = method; r.Header.Set(tc.header, tc.value) })
				if got := a.header.Get("Content-Range"); got != tc.contentRange {
					t.Errorf("%s: Content-Range %q, want %q", method, got, tc.contentRange)
				}
				if tc.code == "" {
					if a.status != tc.status {
						t.Errorf("%s: status %d (%s), want %d", method, a.status, a.body, tc.status)
					}
					continue
				}
				if a.status != tc.status || a.header.Get("Content-Type") != "application/problem+json" || a.header.Get("Content-Disposition") != "" {
					t.Fatalf("%s: %d %v", method, a.status, a.header)
				}
				if method == http.MethodHead {
					continue // no body to read
				}
				if pr := a.wantProblem(t, tc.name, tc.status, tc.code); !strings.Contains(pr.Detail, tc.detail) {
					t.Errorf("detail %q does not say %q", pr.Detail, tc.detail)
				}
			}
		})
	}
}

func TestKeyRotation(t *testing.T) {
	dir := t.TempDir()
	clock := newFakeClock()
	oldKey, newKey := bytes.Repeat([]byte{1}, local.MinKeyLen), bytes.Repeat([]byte{2}, local.MinKeyLen)
	open := func(cfg local.Config) *local.Store {
		cfg.Dir, cfg.BaseURL, cfg.Clock = dir, "http://127.0.0.1/blobs/", clock.Now
		s, err := local.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	before := open(local.Config{SigningKey: oldKey})
	p := presignUpload(t, before, upload("a/b.csv", 10))
	serve := func(s *local.Store) int {
		req := httptest.NewRequest(http.MethodPut, p.URL, strings.NewReader("x"))
		req.Header.Set("Content-Type", "text/csv")
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, req)
		return rec.Code
	}
	if code := serve(open(local.Config{SigningKey: newKey, PreviousKeys: [][]byte{oldKey}})); code != http.StatusOK {
		t.Errorf("URL signed with the previous key: %d, want 200", code)
	}
	if code := serve(open(local.Config{SigningKey: newKey})); code != http.StatusForbidden {
		t.Errorf("URL signed with a retired key: %d, want 403", code)
	}
}

func TestNewConfig(t *testing.T) {
	key := bytes.Repeat([]byte{3}, local.MinKeyLen)
	for _, tc := range []struct {
		name string
		cfg  local.Config
		want string // field, "" for valid
	}{
		{"absolute URL", local.Config{BaseURL: "https://api.example.com/blobs/", SigningKey: key}, ""},
		{"path", local.Config{BaseURL: "/blobs", SigningKey: key}, ""},
		{"no dir", local.Config{BaseURL: "/blobs/", SigningKey: key}, "Dir"},
		{"no URL", local.Config{SigningKey: key}, "BaseURL"},
		{"relative path", local.Config{BaseURL: "blobs/", SigningKey: key}, "BaseURL"},
		{"query", local.Config{BaseURL: "/blobs/?x=1", SigningKey: key}, "BaseURL"},
		{"ftp", local.Config{BaseURL: "ftp://h/blobs/", SigningKey: key}, "BaseURL"},
		{"no host", local.Config{BaseURL: "http:///blobs/", SigningKey: key}, "BaseURL"},
		{"user info", local.Config{BaseURL: "https://u:p@h/blobs/", SigningKey: key}, "BaseURL"},
		{"short key", local.Config{BaseURL: "/blobs/", SigningKey: key[:31]}, "SigningKey"},
		{"short previous key", local.Config{BaseURL: "/blobs/", SigningKey: key, PreviousKeys: [][]byte{{1}}}, "PreviousKeys[0]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name != "no dir" {
				tc.cfg.Dir = t.TempDir()
			}
			s, err := local.New(tc.cfg)
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				s.Close()
				return
			}
			var ve *tasktype.ValidationError
			if !errors.As(err, &ve) || !errors.Is(err, tasktype.ErrValidation) {
				t.Fatalf("New = %v, want a ValidationError", err)
			}
			for _, f := range ve.Fields {
				if f.Field == tc.want && f.Message != "" {
					return
				}
			}
			t.Errorf("New = %v, want an error for %s", err, tc.want)
		})
	}
}

func TestRelativeBaseURL(t *testing.T) {
	s, err := local.New(local.Config{Dir: t.TempDir(), BaseURL: "/api/blobs", SigningKey: bytes.Repeat([]byte{4}, 32)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	p := presignUpload(t, s, upload("a/b.csv", 10))
	if !strings.HasPrefix(p.URL, "/api/blobs/a/b.csv?") {
		t.Fatalf("URL = %q, want it under /api/blobs/", p.URL)
	}
	mux := http.NewServeMux()
	mux.Handle("/api/blobs/", s.Handler())
	req := httptest.NewRequest(http.MethodPut, p.URL, strings.NewReader("x"))
	req.Header.Set("Content-Type", "text/csv")
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("PUT through the mux: %d %s", rec.Code, rec.Body)
	}
}

func TestKeyConflicts(t *testing.T) {
	s := newServed(t, newFakeClock().Now)
	ctx := context.Background()
	put := func(key string) error {
		_, err := s.Put(ctx, key, strings.NewReader("x"), blob.PutOptions{ContentType: "text/csv", MaxSize: 10})
		return err
	}
	if err := put("a/b"); err != nil {
		t.Fatal(err)
	}
	if err := put("a/b/c"); !errors.Is(err, blob.ErrKeyConflict) {
		t.Errorf("Put under a blob = %v, want ErrKeyConflict", err)
	}
	if err := put("d/e/f"); err != nil {
		t.Fatal(err)
	}
	if err := put("d/e"); !errors.Is(err, blob.ErrKeyConflict) {
		t.Errorf("Put onto a folder = %v, want ErrKeyConflict", err)
	}
	if _, err := s.Stat(ctx, "d/e"); !errors.Is(err, blob.ErrNotFound) {
		t.Errorf("Stat of a folder = %v, want ErrNotFound", err)
	}
	if err := s.Delete(ctx, "d/e"); err != nil {
		t.Errorf("Delete of a folder = %v, want nil (no blob there)", err)
	}
	if _, err := s.Stat(ctx, "d/e/f"); err != nil {
		t.Errorf("Delete of a folder removed what is in it: %v", err)
	}
	if _, err := s.Stat(ctx, "a/b/c"); !errors.Is(err, blob.ErrNotFound) {
		t.Errorf("Stat below a blob = %v, want ErrNotFound", err)
	}
	p := presignUpload(t, s, upload("a/b/c", 10))
	send(t, p, strings.NewReader("x"), nil).wantProblem(t, "PUT under a blob", http.StatusConflict, "key_conflict")
}

// TestSymlinkEscape: a symbolic link planted in the store's directory does
// not let any operation reach outside it.
func TestSymlinkEscape(t *testing.T) {
	s := newServed(t, newFakeClock().Now)
	ctx := context.Background()
	outside := t.TempDir()
	secret := filepath.Join(outside, "secret")
	if err := os.WriteFile(secret, []byte("TMBLOB1\n\x00\x00\x00\x02{}top secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(s.dir, "objects", "evil")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Stat(ctx, "evil/secret"); err == nil {
		t.Error("Stat followed a symlink out of the store")
	}
	if rc, _, err := s.Open(ctx, "evil/secret"); err == nil {
		rc.Close()
		t.Error("Open followed a symlink out of the store")
	}
	if _, err := s.Put(ctx, "evil/planted", strings.NewReader("x"), blob.PutOptions{ContentType: "text/csv", MaxSize: 10}); err == nil {
		t.Error("Put wrote through a symlink out of the store")
	}
	if err := s.Delete(ctx, "evil/secret"); err == nil {
		if _, serr := os.Stat(secret); serr != nil {
			t.Error("Delete removed a file outside the store")
		}
	}
	if _, err := s.DeletePrefix(ctx, "evil/"); err != nil {
		t.Logf("DeletePrefix through a symlink: %v", err)
	}
	if _, err := os.Stat(secret); err != nil {
		t.Errorf("a file outside the store is gone: %v", err)
	}
	if files := filesIn(t, outside); len(files) != 1 {
		t.Errorf("files outside the store: %v, want only the secret", files)
	}
	d, err := s.PresignDownload(ctx, blob.DownloadRequest{Key: "evil/secret", Expires: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if a := send(t, d, nil, nil); a.status == http.StatusOK || bytes.Contains(a.body, []byte("secret")) {
		t.Errorf("download through a symlink: %d %q", a.status, a.body)
	}
}

func TestCorruptFile(t *testing.T) {
	s := newServed(t, newFakeClock().Now)
	if err := os.MkdirAll(filepath.Join(s.dir, "objects", "a"), 0o750); err != nil {
		t.Fatal(err)
	}
	for name, content := range map[string]string{"empty": "", "plain": "hello, world", "huge header": "TMBLOB1\n\xff\xff\xff\xff", "bad json": "TMBLOB1\n\x00\x00\x00\x02{x"} {
		if err := os.WriteFile(filepath.Join(s.dir, "objects", "a", strings.ReplaceAll(name, " ", "-")), []byte(content), 0o640); err != nil {
			t.Fatal(err)
		}
		_, err := s.Stat(context.Background(), "a/"+strings.ReplaceAll(name, " ", "-"))
		if err == nil || errors.Is(err, blob.ErrNotFound) {
			t.Errorf("Stat of a %s file = %v, want an error saying it is not a blob", name, err)
		}
	}
}

// TestInternalError: a storage failure is a 500 problem that hides the
// cause from the client and logs it.
func TestInternalError(t *testing.T) {
	var logs bytes.Buffer
	dir := t.TempDir()
	s, err := local.New(local.Config{Dir: dir, BaseURL: "/blobs/", SigningKey: bytes.Repeat([]byte{5}, 32),
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := os.RemoveAll(filepath.Join(dir, "tmp")); err != nil {
		t.Fatal(err)
	}
	p := presignUpload(t, s, upload("a/b.csv", 10))
	req := httptest.NewRequest(http.MethodPut, p.URL, strings.NewReader("x"))
	req.Header.Set("Content-Type", "text/csv")
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, req)
	a := answer{rec.Code, rec.Header(), rec.Body.Bytes()}
	pr := a.wantProblem(t, "PUT without a tmp folder", http.StatusInternalServerError, "internal")
	if strings.Contains(pr.Detail, dir) {
		t.Errorf("the problem shows the server's path: %q", pr.Detail)
	}
	if !strings.Contains(logs.String(), "a/b.csv") {
		t.Errorf("log = %q, want the failure logged", logs.String())
	}
}

func TestPrunesEmptyFolders(t *testing.T) {
	s := newServed(t, newFakeClock().Now)
	ctx := context.Background()
	for _, k := range []string{"users/u/tasks/1/in/a", "users/u/tasks/1/out/deep/b", "users/u/tasks/2/in/a"} {
		if _, err := s.Put(ctx, k, strings.NewReader("x"), blob.PutOptions{ContentType: "text/csv", MaxSize: 1}); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := s.DeletePrefix(ctx, "users/u/tasks/1/"); n != 2 || err != nil {
		t.Fatalf("DeletePrefix = %d, %v", n, err)
	}
	if _, err := os.Stat(filepath.Join(s.dir, "objects", "users", "u", "tasks", "1")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the task's folder is still there: %v", err)
	}
	if err := s.Delete(ctx, "users/u/tasks/2/in/a"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(s.dir, "objects", "users")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("empty folders are left: %v", err)
	}
	if _, err := os.Stat(filepath.Join(s.dir, "objects")); err != nil {
		t.Errorf("objects/ itself was removed: %v", err)
	}
}

// filesIn lists the regular files below dir.
func filesIn(t *testing.T, dir string) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			files = append(files, p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}
