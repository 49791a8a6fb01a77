// Package blobtest is the conformance suite every blob.Store must pass: one
// entry point, Run, that a store's tests call with a factory of fresh,
// empty stores. It drives the whole life of a blob over real HTTP — presign,
// PUT, Stat, Open, download, Delete, DeletePrefix — and the ways a client
// can get it wrong: expired and altered URLs, oversized bodies, wrong
// content types and keys that try to leave the store.
//
// Nothing sleeps. A store issues URLs at a Clock the suite shifts: to make
// an expired URL it issues one in the past. The clock stays close to real
// time, because S3-compatible servers check presigned URLs against their
// own.
package blobtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/taskmodel/taskmodel/blob"
	"github.com/taskmodel/taskmodel/tasktype"
)

// Clock is the real time shifted by an offset that only the suite moves.
type Clock struct{ offset atomic.Int64 }

// Now returns the real time plus the offset.
func (c *Clock) Now() time.Time { return time.Now().Add(time.Duration(c.offset.Load())) }

// Shift moves the clock by d (back when d is negative).
func (c *Clock) Shift(d time.Duration) { c.offset.Add(int64(d)) }

// Harness describes the store under test.
type Harness struct {
	// New returns a fresh, empty store that issues its URLs at clock (and,
	// if it checks them itself, checks them at clock). It is called once
	// per subtest; cleanup is its business (t.Cleanup).
	New func(t *testing.T, clock *Clock) blob.Store
	// Client sends the presigned requests (default: a client of the suite's
	// own, not http.DefaultClient: an httptest.Server's Close closes the
	// default transport's idle connections, breaking a parallel test's
	// request that was about to reuse one).
	Client *http.Client
	// RefusesOversize says the store refuses, at PUT time, an upload above
	// MaxSize that declared no exact size (the local store answers 413).
	// When false the upload is stored and blob.Verify must find and delete
	// it (S3 cannot sign a range of lengths).
	RefusesOversize bool
	// ListsContentType says List fills Info.ContentType.
	ListsContentType bool
	// MaxKeyLen is the longest key the store takes (default
	// blob.MaxKeyLen); a store that puts a prefix before keys takes less.
	MaxKeyLen int
}

// Run runs the suite. Subtests run in parallel, each on its own store.
func Run(t *testing.T, h Harness) {
	if h.Client == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		t.Cleanup(tr.CloseIdleConnections)
		h.Client = &http.Client{Transport: tr}
	}
	if h.MaxKeyLen == 0 {
		h.MaxKeyLen = blob.MaxKeyLen
	}
	tests := []struct {
		name string
		fn   func(t *testing.T, e *env)
	}{
		{"RoundTrip", testRoundTrip},
		{"Overwrite", testOverwrite},
		{"ETag", testETag},
		{"ValidKeys", testValidKeys},
		{"TraversalKeys", testTraversalKeys},
		{"RequestValidation", testRequestValidation},
		{"Expiry", testExpiry},
		{"Tamper", testTamper},
		{"WrongMethod", testWrongMethod},
		{"ContentType", testContentType},
		{"DeclaredSize", testDeclaredSize},
		{"Oversize", testOversize},
		{"DownloadMissing", testDownloadMissing},
		{"Verify", testVerify},
		{"Put", testPut},
		{"List", testList},
		{"DeletePrefix", testDeletePrefix},
		{"ConcurrentUploads", testConcurrentUploads},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			clock := &Clock{}
			e := &env{h: h, clock: clock, ctx: t.Context()}
			e.store = h.New(t, clock)
			tc.fn(t, e)
		})
	}
}

type env struct {
	h     Harness
	clock *Clock
	ctx   context.Context
	store blob.Store
}

const (
	taskPrefix = "users/u-1/tasks/7d4f2c1e-0b9a-4c55-9a61-3f0e2d1c4b5a/"
	inputKey   = taskPrefix + "inputs/primary.csv"
	csv        = "text/csv"
)

func upload(key string, max int64) blob.UploadRequest {
	return blob.UploadRequest{Key: key, ContentType: csv, MaxSize: max, Expires: 15 * time.Minute}
}

// presignUpload presigns r or fails the test.
func (e *env) presignUpload(t *testing.T, r blob.UploadRequest) *blob.Presigned {
	t.Helper()
	p, err := e.store.PresignUpload(e.ctx, r)
	if err != nil {
		t.Fatalf("PresignUpload(%+v): %v", r, err)
	}
	if p.Method != http.MethodPut || p.Headers["Content-Type"] != r.ContentType {
		t.Fatalf("PresignUpload: method %q headers %v, want PUT with Content-Type %q", p.Method, p.Headers, r.ContentType)
	}
	return p
}

func (e *env) presignDownload(t *testing.T, r blob.DownloadRequest) *blob.Presigned {
	t.Helper()
	p, err := e.store.PresignDownload(e.ctx, r)
	if err != nil {
		t.Fatalf("PresignDownload(%+v): %v", r, err)
	}
	if p.Method != http.MethodGet {
		t.Fatalf("PresignDownload: method %q, want GET", p.Method)
	}
	return p
}

// send sends p with body (nil for none), changing the request with edit
// when given, and returns the status, headers and body of the answer.
func (e *env) send(t *testing.T, p *blob.Presigned, body []byte, edit func(*http.Request)) (int, http.Header, []byte) {
	t.Helper()
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := p.NewRequest(e.ctx, r)
	if err != nil {
		t.Fatalf("NewRequest: %v", err)
	}
	if edit != nil {
		edit(req)
	}
	resp, err := e.h.Client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading the answer: %v", err)
	}
	return resp.StatusCode, resp.Header, got
}

// put uploads body through a fresh URL for key and wants success.
func (e *env) put(t *testing.T, key string, body []byte) {
	t.Helper()
	p := e.presignUpload(t, upload(key, 1<<20))
	if status, _, answer := e.send(t, p, body, nil); status/100 != 2 {
		t.Fatalf("PUT %s: %d %s", key, status, answer)
	}
}

// wantStored wants the blob at key to hold body with content type ct.
func (e *env) wantStored(t *testing.T, key string, body []byte, ct string) {
	t.Helper()
	info, err := e.store.Stat(e.ctx, key)
	if err != nil {
		t.Fatalf("Stat(%s): %v", key, err)
	}
	if info.Key != key || info.Size != int64(len(body)) || info.ContentType != ct || info.ModTime.IsZero() {
		t.Errorf("Stat(%s) = %+v, want key, size %d, content type %q and a time", key, info, len(body), ct)
	}
	rc, oinfo, err := e.store.Open(e.ctx, key)
	if err != nil {
		t.Fatalf("Open(%s): %v", key, err)
	}
	defer rc.Close()
	got, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("reading %s: %v", key, err)
	}
	if !bytes.Equal(got, body) || oinfo.Size != int64(len(body)) || oinfo.ContentType != ct {
		t.Errorf("Open(%s) = %q (%+v), want %q", key, shorten(got), oinfo, shorten(body))
	}
}

// wantAbsent wants no blob at key.
func (e *env) wantAbsent(t *testing.T, key string) {
	t.Helper()
	if _, err := e.store.Stat(e.ctx, key); !errors.Is(err, blob.ErrNotFound) {
		t.Errorf("Stat(%s) = %v, want ErrNotFound", key, err)
	}
	if ok, err := blob.Exists(e.ctx, e.store, key); ok || err != nil {
		t.Errorf("Exists(%s) = %v, %v; want false", key, ok, err)
	}
}

// wantRefused wants a 4xx answer that is not a success in disguise.
func wantRefused(t *testing.T, what string, status int, answer []byte, allowed ...int) {
	t.Helper()
	if status/100 != 4 {
		t.Errorf("%s: status %d (%s), want a refusal (4xx)", what, status, shorten(answer))
		return
	}
	if len(allowed) > 0 && !contains(allowed, status) {
		t.Errorf("%s: status %d (%s), want one of %v", what, status, shorten(answer), allowed)
	}
}

func contains(xs []int, x int) bool {
	for _, y := range xs {
		if x == y {
			return true
		}
	}
	return false
}

func shorten(b []byte) string {
	if len(b) > 200 {
		return string(b[:200]) + "…"
	}
	return string(b)
}

// wantField wants err to be a validation error naming field.
func wantField(t *testing.T, what string, err error, field string) {
	t.Helper()
	if !errors.Is(err, tasktype.ErrValidation) {
		t.Errorf("%s: err = %v, want a validation error for %q", what, err, field)
		return
	}
	var ve *tasktype.ValidationError
	if errors.As(err, &ve) {
		for _, f := range ve.Fields {
			if f.Field == field {
				return
			}
		}
		t.Errorf("%s: err = %v, want field %q among the errors", what, err, field)
		return
	}
	var fe *tasktype.FieldError
	if !errors.As(err, &fe) || fe.Field != field || fe.Message == "" {
		t.Errorf("%s: err = %v, want a *tasktype.FieldError for %q", what, err, field)
	}
}

func testRoundTrip(t *testing.T, e *env) {
	body := []byte("id,value\n1,42\n2,43\n")
	e.wantAbsent(t, inputKey)
	p := e.presignUpload(t, upload(inputKey, 1<<20))
	if until := time.Until(p.Expires); until < 14*time.Minute || until > 15*time.Minute+time.Second {
		t.Errorf("Expires = %v, %v from now; want 15 minutes", p.Expires, until)
	}
	if status, _, answer := e.send(t, p, body, nil); status/100 != 2 {
		t.Fatalf("PUT: %d %s", status, answer)
	}
	e.wantStored(t, inputKey, body, csv)
	if ok, err := blob.Exists(e.ctx, e.store, inputKey); !ok || err != nil {
		t.Errorf("Exists = %v, %v; want true", ok, err)
	}
	if info, err := blob.Verify(e.ctx, e.store, inputKey, blob.Expect{ContentType: csv, MaxSize: int64(len(body))}); err != nil || info.Size != int64(len(body)) {
		t.Errorf("Verify = %+v, %v; want the blob", info, err)
	}

	for _, tc := range []struct{ filename, want string }{
		{"", `attachment; filename=primary.csv`},
		{"report 2026.csv", `attachment; filename="report 2026.csv"`},
	} {
		d := e.presignDownload(t, blob.DownloadRequest{Key: inputKey, Filename: tc.filename, Expires: time.Hour})
		status, hdr, got := e.send(t, d, nil, nil)
		if status != http.StatusOK || !bytes.Equal(got, body) {
			t.Fatalf("GET download: %d %q, want 200 %q", status, shorten(got), body)
		}
		if ct := hdr.Get("Content-Type"); ct != csv {
			t.Errorf("download Content-Type = %q, want %q", ct, csv)
		}
		if cd := hdr.Get("Content-Disposition"); cd != tc.want {
			t.Errorf("download Content-Disposition = %q, want %q", cd, tc.want)
		}
		// A download URL may be used again until it expires.
		if status, _, got := e.send(t, d, nil, nil); status != http.StatusOK || !bytes.Equal(got, body) {
			t.Errorf("second GET: %d %q", status, shorten(got))
		}
	}

	if err := e.store.Delete(e.ctx, inputKey); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	e.wantAbsent(t, inputKey)
	if err := e.store.Delete(e.ctx, inputKey); err != nil {
		t.Errorf("Delete of a missing blob = %v, want nil", err)
	}
	if _, _, err := e.store.Open(e.ctx, inputKey); !errors.Is(err, blob.ErrNotFound) {
		t.Errorf("Open after Delete = %v, want ErrNotFound", err)
	}
}

func testOverwrite(t *testing.T, e *env) {
	e.put(t, inputKey, []byte("first version, longer than the second"))
	e.put(t, inputKey, []byte("second"))
	e.wantStored(t, inputKey, []byte("second"), csv)
	e.put(t, inputKey, []byte{})
	e.wantStored(t, inputKey, []byte{}, csv)
}

// testETag: every way of reading a blob gives the same ETag until it is
// written again, and writing other bytes changes it.
func testETag(t *testing.T, e *env) {
	e.put(t, inputKey, []byte("a,b\n1,2\n"))
	first, err := e.store.Stat(e.ctx, inputKey)
	if err != nil {
		t.Fatal(err)
	}
	if first.ETag == "" {
		t.Fatalf("Stat(%s).ETag is empty", inputKey)
	}
	rc, opened, err := e.store.Open(e.ctx, inputKey)
	if err != nil {
		t.Fatal(err)
	}
	rc.Close()
	if opened.ETag != first.ETag {
		t.Errorf("Open's ETag %q, Stat's %q", opened.ETag, first.ETag)
	}
	for info, err := range e.store.List(e.ctx, taskPrefix) {
		if err != nil {
			t.Fatal(err)
		}
		if info.Key == inputKey && info.ETag != first.ETag {
			t.Errorf("List's ETag %q, Stat's %q", info.ETag, first.ETag)
		}
	}
	if again, err := e.store.Stat(e.ctx, inputKey); err != nil || again.ETag != first.ETag {
		t.Errorf("Stat again: ETag %q (%v), want %q", again.ETag, err, first.ETag)
	}

	e.put(t, inputKey, []byte("a,b\n3,4\n"))
	second, err := e.store.Stat(e.ctx, inputKey)
	if err != nil {
		t.Fatal(err)
	}
	if second.ETag == "" || second.ETag == first.ETag {
		t.Errorf("after an upload of other bytes the ETag is %q, before %q: want a new one", second.ETag, first.ETag)
	}

	put, err := e.store.Put(e.ctx, inputKey, strings.NewReader("a,b\n5,6\n"), blob.PutOptions{ContentType: csv, MaxSize: 1 << 10})
	if err != nil {
		t.Fatal(err)
	}
	third, err := e.store.Stat(e.ctx, inputKey)
	if err != nil {
		t.Fatal(err)
	}
	if put.ETag != third.ETag || third.ETag == second.ETag {
		t.Errorf("Put gave ETag %q, Stat then %q, before %q: want Put's, and a new one", put.ETag, third.ETag, second.ETag)
	}
}

func testValidKeys(t *testing.T, e *env) {
	// The longest key, in segments of at most 255 bytes.
	long := strings.Repeat("k", min(e.h.MaxKeyLen, 254))
	for len(long) < e.h.MaxKeyLen {
		if e.h.MaxKeyLen-len(long) == 1 {
			long = "k" + long
			break
		}
		long += "/" + strings.Repeat("v", min(254, e.h.MaxKeyLen-len(long)-1))
	}
	if len(long) != e.h.MaxKeyLen {
		t.Fatalf("the longest key is %d bytes, want %d", len(long), e.h.MaxKeyLen)
	}
	for _, key := range []string{
		"a",
		"A_Z-0.9",
		"b/c/d.csv",
		"users/u-1/tasks/7d4f2c1e/outputs/report.v2.final.json",
		"x..y/z.", // dots inside a segment are fine
		strings.Repeat("s", blob.MaxSegmentLen),
		long,
	} {
		e.put(t, key, []byte(key[:1]))
		e.wantStored(t, key, []byte(key[:1]), csv)
	}
	_, err := e.store.PresignUpload(e.ctx, upload(long+"x", 10))
	wantField(t, "PresignUpload of a key one byte too long", err, "key")
	_, err = e.store.Put(e.ctx, long+"x", strings.NewReader("x"), blob.PutOptions{ContentType: csv, MaxSize: 1})
	wantField(t, "Put of a key one byte too long", err, "key")
}

// BadKeys are keys every store must refuse, each with what it tries.
var BadKeys = []struct{ Key, Why string }{
	{"", "empty"},
	{"/etc/passwd", "absolute"},
	{"../secret", "parent"},
	{"a/../../secret", "parent inside"},
	{"a/..", "parent at the end"},
	{"./a", "dot segment"},
	{"a/./b", "dot segment inside"},
	{".hidden", "hidden file"},
	{"a/.git/config", "hidden folder"},
	{"a//b", "empty segment"},
	{"a/", "trailing slash"},
	{`a\..\b`, "backslash"},
	{`..\secret`, "backslash parent"},
	{"C:/windows", "drive letter"},
	{"a\x00b", "NUL byte"},
	{"a\nb", "newline"},
	{"%2e%2e/secret", "percent-escaped parent"},
	{"a b", "space"},
	{"a?b=c", "query"},
	{"a#b", "fragment"},
	{"tâche", "non-ASCII"},
	{"a/\u2215b", "unicode slash"},
	{strings.Repeat("k", blob.MaxKeyLen+1), "too long"},
	{strings.Repeat("k", blob.MaxSegmentLen+1), "segment too long"},
}

func testTraversalKeys(t *testing.T, e *env) {
	for _, bk := range BadKeys {
		what := fmt.Sprintf("%s key %q", bk.Why, bk.Key)
		_, err := e.store.PresignUpload(e.ctx, upload(bk.Key, 10))
		wantField(t, "PresignUpload: "+what, err, "key")
		_, err = e.store.PresignDownload(e.ctx, blob.DownloadRequest{Key: bk.Key, Expires: time.Minute})
		wantField(t, "PresignDownload: "+what, err, "key")
		_, err = e.store.Stat(e.ctx, bk.Key)
		wantField(t, "Stat: "+what, err, "key")
		_, _, err = e.store.Open(e.ctx, bk.Key)
		wantField(t, "Open: "+what, err, "key")
		_, err = e.store.Put(e.ctx, bk.Key, strings.NewReader("x"), blob.PutOptions{ContentType: csv, MaxSize: 10})
		wantField(t, "Put: "+what, err, "key")
		wantField(t, "Delete: "+what, e.store.Delete(e.ctx, bk.Key), "key")
		_, err = blob.Exists(e.ctx, e.store, bk.Key)
		wantField(t, "Exists: "+what, err, "key")
	}
	for _, prefix := range []string{"", "/", "users/u-1", "../", "a//", "/abs/", "a/../", ".git/", `a\b/`} {
		_, err := e.store.DeletePrefix(e.ctx, prefix)
		wantField(t, fmt.Sprintf("DeletePrefix(%q)", prefix), err, "prefix")
		for _, err := range e.store.List(e.ctx, prefix) {
			wantField(t, fmt.Sprintf("List(%q)", prefix), err, "prefix")
		}
	}
}

func testRequestValidation(t *testing.T, e *env) {
	ok := upload(inputKey, 100)
	for _, tc := range []struct {
		field string
		edit  func(*blob.UploadRequest)
	}{
		{"content_type", func(r *blob.UploadRequest) { r.ContentType = "" }},
		{"content_type", func(r *blob.UploadRequest) { r.ContentType = "csv" }},
		{"content_type", func(r *blob.UploadRequest) { r.ContentType = "text/csv\r\nX-Evil: 1" }},
		{"max_size", func(r *blob.UploadRequest) { r.MaxSize = 0 }},
		{"max_size", func(r *blob.UploadRequest) { r.MaxSize = -1 }},
		{"max_size", func(r *blob.UploadRequest) { r.MaxSize = blob.MaxObjectSize + 1 }},
		{"size", func(r *blob.UploadRequest) { r.Size = 101 }},
		{"size", func(r *blob.UploadRequest) { r.Size = -1 }},
		{"expires", func(r *blob.UploadRequest) { r.Expires = 0 }},
		{"expires", func(r *blob.UploadRequest) { r.Expires = 999 * time.Millisecond }},
		{"expires", func(r *blob.UploadRequest) { r.Expires = blob.MaxExpiry + time.Second }},
	} {
		r := ok
		tc.edit(&r)
		_, err := e.store.PresignUpload(e.ctx, r)
		wantField(t, fmt.Sprintf("PresignUpload(%+v)", r), err, tc.field)
	}
	for _, tc := range []struct {
		field string
		r     blob.DownloadRequest
	}{
		{"expires", blob.DownloadRequest{Key: inputKey}},
		{"filename", blob.DownloadRequest{Key: inputKey, Filename: "../x", Expires: time.Minute}},
		{"filename", blob.DownloadRequest{Key: inputKey, Filename: "a\r\nb", Expires: time.Minute}},
	} {
		_, err := e.store.PresignDownload(e.ctx, tc.r)
		wantField(t, fmt.Sprintf("PresignDownload(%+v)", tc.r), err, tc.field)
	}
	for _, tc := range []struct {
		field string
		o     blob.PutOptions
	}{
		{"content_type", blob.PutOptions{MaxSize: 10}},
		{"max_size", blob.PutOptions{ContentType: csv}},
	} {
		_, err := e.store.Put(e.ctx, inputKey, strings.NewReader("x"), tc.o)
		wantField(t, fmt.Sprintf("Put(%+v)", tc.o), err, tc.field)
	}
	e.wantAbsent(t, inputKey)
}

// testExpiry issues URLs in the past: one issued 10 minutes ago for 15
// still works, one issued 15 minutes and 2 seconds ago for 15 does not.
func testExpiry(t *testing.T, e *env) {
	body := []byte("late")
	r := upload(inputKey, 100)
	issue := func(ago time.Duration, presign func() *blob.Presigned) *blob.Presigned {
		e.clock.Shift(-ago)
		defer e.clock.Shift(ago)
		return presign()
	}
	stale := issue(r.Expires+2*time.Second, func() *blob.Presigned { return e.presignUpload(t, r) })
	if !stale.Expires.Before(time.Now()) {
		t.Fatalf("a URL issued %v ago for %v expires at %v, not in the past", r.Expires+2*time.Second, r.Expires, stale.Expires)
	}
	status, _, answer := e.send(t, stale, body, nil)
	wantRefused(t, "PUT with an expired URL", status, answer, http.StatusForbidden)
	e.wantAbsent(t, inputKey)

	fresh := issue(r.Expires-5*time.Minute, func() *blob.Presigned { return e.presignUpload(t, r) })
	if status, _, answer := e.send(t, fresh, body, nil); status/100 != 2 {
		t.Fatalf("PUT with a URL 5 minutes from expiry: %d %s", status, answer)
	}
	e.wantStored(t, inputKey, body, csv)

	d := blob.DownloadRequest{Key: inputKey, Expires: time.Minute}
	staleGet := issue(time.Minute+2*time.Second, func() *blob.Presigned { return e.presignDownload(t, d) })
	status, _, answer = e.send(t, staleGet, nil, nil)
	wantRefused(t, "GET with an expired URL", status, answer, http.StatusForbidden)
	if bytes.Contains(answer, body) {
		t.Errorf("an expired download URL returned the blob")
	}
}

// alter changes the last character of s to another one of the same kind.
func alter(s string) string {
	if s == "" {
		return "a"
	}
	last := s[len(s)-1]
	switch {
	case '0' <= last && last <= '8', 'a' <= last && last < 'z', 'A' <= last && last < 'Z':
		last++
	case last == '9':
		last = '0'
	case last == 'z':
		last = 'a'
	case last == 'Z':
		last = 'A'
	default:
		return s + "a"
	}
	return s[:len(s)-1] + string(last)
}

// testTamper alters each part of presigned URLs in turn: every altered URL
// must be refused, and an upload through one must store nothing.
func testTamper(t *testing.T, e *env) {
	body := []byte("tampered")
	up := e.presignUpload(t, upload(inputKey, 100))
	e.put(t, inputKey, []byte("original"))
	down := e.presignDownload(t, blob.DownloadRequest{Key: inputKey, Expires: time.Hour})
	otherKey := taskPrefix + "inputs/primary.csw" // alter(inputKey)

	for _, tc := range []struct {
		name string
		p    *blob.Presigned
	}{{"upload", up}, {"download", down}} {
		u, err := url.Parse(tc.p.URL)
		if err != nil {
			t.Fatalf("%s URL %q: %v", tc.name, tc.p.URL, err)
		}
		variants := map[string]string{}
		v := *u
		v.Path = alter(u.Path)
		variants["path"] = v.String()
		q := u.Query()
		for name := range q {
			changed := u.Query()
			changed.Set(name, alter(q.Get(name)))
			v := *u
			v.RawQuery = changed.Encode()
			variants["parameter "+name] = v.String()
			removed := u.Query()
			removed.Del(name)
			v.RawQuery = removed.Encode()
			variants["without "+name] = v.String()
		}
		extra := u.Query()
		extra.Set("response-content-type", "text/html")
		added := *u
		added.RawQuery = extra.Encode()
		variants["added parameter"] = added.String()

		for what, tampered := range variants {
			p := *tc.p
			p.URL = tampered
			var send []byte
			if tc.name == "upload" {
				send = body
			}
			status, _, answer := e.send(t, &p, send, nil)
			wantRefused(t, fmt.Sprintf("%s URL with altered %s", tc.name, what), status, answer)
			if bytes.Contains(answer, []byte("original")) {
				t.Errorf("%s URL with altered %s returned the blob", tc.name, what)
			}
		}
	}
	e.wantStored(t, inputKey, []byte("original"), csv)
	e.wantAbsent(t, otherKey)
}

func testWrongMethod(t *testing.T, e *env) {
	e.put(t, inputKey, []byte("original"))
	up := e.presignUpload(t, upload(inputKey, 100))
	get := *up
	get.Method = http.MethodGet
	status, _, answer := e.send(t, &get, nil, nil)
	wantRefused(t, "GET with an upload URL", status, answer, http.StatusForbidden)
	if bytes.Contains(answer, []byte("original")) {
		t.Errorf("GET with an upload URL returned the blob")
	}
	down := e.presignDownload(t, blob.DownloadRequest{Key: inputKey, Expires: time.Hour})
	put := *down
	put.Method = http.MethodPut
	put.Headers = map[string]string{"Content-Type": csv}
	status, _, answer = e.send(t, &put, []byte("overwritten"), nil)
	wantRefused(t, "PUT with a download URL", status, answer, http.StatusForbidden)
	e.wantStored(t, inputKey, []byte("original"), csv)
}

func testContentType(t *testing.T, e *env) {
	p := e.presignUpload(t, upload(inputKey, 100))
	for _, ct := range []string{"text/plain", "text/csv; charset=utf-8", "TEXT/CSV", "application/octet-stream", ""} {
		status, _, answer := e.send(t, p, []byte("a,b"), func(r *http.Request) {
			if ct == "" {
				r.Header.Del("Content-Type")
			} else {
				r.Header.Set("Content-Type", ct)
			}
		})
		wantRefused(t, fmt.Sprintf("PUT with Content-Type %q to a URL signed for %q", ct, csv), status, answer,
			http.StatusUnsupportedMediaType, http.StatusForbidden, http.StatusBadRequest)
		e.wantAbsent(t, inputKey)
	}
}

func testDeclaredSize(t *testing.T, e *env) {
	r := upload(inputKey, 100)
	r.Size = 5
	p := e.presignUpload(t, r)
	if p.Headers["Content-Length"] != "5" {
		t.Errorf("Headers = %v, want Content-Length 5", p.Headers)
	}
	for _, body := range []string{"four", "sixsix", strings.Repeat("x", 101)} {
		status, _, answer := e.send(t, p, []byte(body), func(r *http.Request) { r.ContentLength = int64(len(body)) })
		wantRefused(t, fmt.Sprintf("PUT of %d bytes to a URL signed for 5", len(body)), status, answer)
		e.wantAbsent(t, inputKey)
	}
	if status, _, answer := e.send(t, p, []byte("five!"), nil); status/100 != 2 {
		t.Fatalf("PUT of the signed 5 bytes: %d %s", status, answer)
	}
	e.wantStored(t, inputKey, []byte("five!"), csv)
}

func testOversize(t *testing.T, e *env) {
	const max = 1000
	p := e.presignUpload(t, upload(inputKey, max))
	exact := bytes.Repeat([]byte("x"), max)
	if status, _, answer := e.send(t, p, exact, nil); status/100 != 2 {
		t.Fatalf("PUT of exactly MaxSize: %d %s", status, answer)
	}
	e.wantStored(t, inputKey, exact, csv)
	if err := e.store.Delete(e.ctx, inputKey); err != nil {
		t.Fatal(err)
	}

	over := bytes.Repeat([]byte("y"), max+1)
	for _, chunked := range []bool{false, true} {
		status, _, answer := e.send(t, p, over, func(r *http.Request) {
			if chunked { // no Content-Length: the store finds out while reading
				r.Body = io.NopCloser(bytes.NewReader(over))
				r.ContentLength = -1
			}
		})
		if e.h.RefusesOversize {
			wantRefused(t, fmt.Sprintf("PUT of MaxSize+1 bytes (chunked %v)", chunked), status, answer, http.StatusRequestEntityTooLarge)
			e.wantAbsent(t, inputKey)
			continue
		}
		if status/100 != 2 {
			continue // refused at upload: fine too
		}
		_, err := blob.Verify(e.ctx, e.store, inputKey, blob.Expect{ContentType: csv, MaxSize: max})
		if !errors.Is(err, blob.ErrTooLarge) {
			t.Errorf("Verify of an oversized upload = %v, want ErrTooLarge", err)
		}
		e.wantAbsent(t, inputKey)
	}
}

func testDownloadMissing(t *testing.T, e *env) {
	d := e.presignDownload(t, blob.DownloadRequest{Key: inputKey, Expires: time.Minute})
	status, _, answer := e.send(t, d, nil, nil)
	wantRefused(t, "GET of a missing blob", status, answer, http.StatusNotFound)
}

func testVerify(t *testing.T, e *env) {
	if _, err := blob.Verify(e.ctx, e.store, inputKey, blob.Expect{}); !errors.Is(err, blob.ErrNotFound) {
		t.Errorf("Verify of a missing blob = %v, want ErrNotFound", err)
	}
	e.put(t, inputKey, []byte("a,b\n"))
	if _, err := blob.Verify(e.ctx, e.store, inputKey, blob.Expect{ContentType: "application/json"}); !errors.Is(err, blob.ErrContentType) {
		t.Errorf("Verify with another content type = %v, want ErrContentType", err)
	}
	e.wantAbsent(t, inputKey)
	e.put(t, inputKey, []byte("a,b\n"))
	if _, err := blob.Verify(e.ctx, e.store, inputKey, blob.Expect{MaxSize: 3}); !errors.Is(err, blob.ErrTooLarge) {
		t.Errorf("Verify with a smaller limit = %v, want ErrTooLarge", err)
	}
	e.wantAbsent(t, inputKey)
	// A blob uploaded with the Content-Type its URL was signed for is of
	// that media type, whatever its parameters and case.
	for _, ct := range []string{"text/csv; charset=utf-8", "Text/CSV"} {
		r := upload(inputKey, 100)
		r.ContentType = ct
		if status, _, answer := e.send(t, e.presignUpload(t, r), []byte("a,b\n"), nil); status/100 != 2 {
			t.Fatalf("PUT signed for %q: %d %s", ct, status, answer)
		}
		if info, err := blob.Verify(e.ctx, e.store, inputKey, blob.Expect{ContentType: csv, MaxSize: 100}); err != nil || info.Size != 4 {
			t.Errorf("Verify of a blob uploaded as %q, expecting %q = %+v, %v; want the blob", ct, csv, info, err)
		}
		e.wantStored(t, inputKey, []byte("a,b\n"), ct)
		if err := e.store.Delete(e.ctx, inputKey); err != nil {
			t.Fatal(err)
		}
	}
}

// failingReader returns data, then an error.
type failingReader struct {
	data []byte
	err  error
}

func (f *failingReader) Read(p []byte) (int, error) {
	if len(f.data) == 0 {
		return 0, f.err
	}
	n := copy(p, f.data)
	f.data = f.data[n:]
	return n, nil
}

func testPut(t *testing.T, e *env) {
	key := taskPrefix + "outputs/result.json"
	const js = "application/json"
	info, err := e.store.Put(e.ctx, key, strings.NewReader(`{"ok":true}`), blob.PutOptions{ContentType: js, MaxSize: 11})
	if err != nil || info.Key != key || info.Size != 11 || info.ContentType != js {
		t.Fatalf("Put = %+v, %v", info, err)
	}
	e.wantStored(t, key, []byte(`{"ok":true}`), js)

	_, err = e.store.Put(e.ctx, key, strings.NewReader(`{"ok":false}`), blob.PutOptions{ContentType: js, MaxSize: 11})
	if !errors.Is(err, blob.ErrTooLarge) {
		t.Errorf("Put over MaxSize = %v, want ErrTooLarge", err)
	}
	broken := errors.New("disk on fire")
	_, err = e.store.Put(e.ctx, key, &failingReader{data: []byte(`{"partial`), err: broken}, blob.PutOptions{ContentType: js, MaxSize: 100})
	if !errors.Is(err, broken) {
		t.Errorf("Put from a failing reader = %v, want its error", err)
	}
	e.wantStored(t, key, []byte(`{"ok":true}`), js) // nothing half-written

	d := e.presignDownload(t, blob.DownloadRequest{Key: key, Expires: time.Minute})
	if status, hdr, got := e.send(t, d, nil, nil); status != http.StatusOK || string(got) != `{"ok":true}` || hdr.Get("Content-Type") != js {
		t.Errorf("download of a Put blob: %d %s %q", status, hdr.Get("Content-Type"), got)
	}
}

func testList(t *testing.T, e *env) {
	keys := []string{taskPrefix + "inputs/primary.csv", taskPrefix + "outputs/b.json", taskPrefix + "outputs/a-z.json", taskPrefix + "parameters.json"}
	for i, k := range keys {
		e.put(t, k, bytes.Repeat([]byte("z"), i+1))
	}
	e.put(t, "users/u-1/tasks/7d4f2c1e-0b9a-4c55-9a61-3f0e2d1c4b5aX/other", []byte("o"))
	e.put(t, "users/u-1/tasks/outside", []byte("o"))

	var got []blob.Info
	for info, err := range e.store.List(e.ctx, taskPrefix) {
		if err != nil {
			t.Fatalf("List: %v", err)
		}
		got = append(got, info)
	}
	want := []string{keys[0], keys[2], keys[1], keys[3]} // key order
	if len(got) != len(want) {
		t.Fatalf("List = %+v, want the keys %v", got, want)
	}
	sizes := map[string]int64{keys[0]: 1, keys[1]: 2, keys[2]: 3, keys[3]: 4}
	for i, info := range got {
		if info.Key != want[i] || info.Size != sizes[want[i]] || info.ModTime.IsZero() {
			t.Errorf("List[%d] = %+v, want key %s size %d", i, info, want[i], sizes[want[i]])
		}
		if e.h.ListsContentType && info.ContentType != csv {
			t.Errorf("List[%d].ContentType = %q, want %q", i, info.ContentType, csv)
		}
	}
	for range e.store.List(e.ctx, taskPrefix) {
		break // stopping early must be safe
	}
	for info, err := range e.store.List(e.ctx, "users/u-2/") {
		t.Errorf("List of an empty prefix yielded %+v, %v", info, err)
	}
}

func testDeletePrefix(t *testing.T, e *env) {
	inside := []string{taskPrefix + "inputs/primary.csv", taskPrefix + "inputs/baseline.csv", taskPrefix + "parameters.json", taskPrefix + "outputs/deep/er/report.json"}
	outside := []string{
		"users/u-1/tasks/7d4f2c1e-0b9a-4c55-9a61-3f0e2d1c4b5aX/inputs/primary.csv", // same start, other task
		"users/u-1/tasks/other/inputs/primary.csv",
		"users/u-1/tasks/7d4f2c1e-0b9a-4c55-9a61-3f0e2d1c4b5a.csv",
	}
	for _, k := range append(append([]string{}, inside...), outside...) {
		e.put(t, k, []byte(k))
	}
	n, err := e.store.DeletePrefix(e.ctx, taskPrefix)
	if err != nil || n != len(inside) {
		t.Fatalf("DeletePrefix = %d, %v; want %d", n, err, len(inside))
	}
	for _, k := range inside {
		e.wantAbsent(t, k)
	}
	for _, k := range outside {
		e.wantStored(t, k, []byte(k), csv)
	}
	if n, err := e.store.DeletePrefix(e.ctx, taskPrefix); n != 0 || err != nil {
		t.Errorf("DeletePrefix again = %d, %v; want 0, nil", n, err)
	}
	// A prefix is a folder: "x/" does not select the blob "x".
	solo := "users/u-1/tasks/solo"
	e.put(t, solo, []byte("solo"))
	if n, err := e.store.DeletePrefix(e.ctx, solo+"/"); n != 0 || err != nil {
		t.Errorf("DeletePrefix(%q) = %d, %v; want 0, nil", solo+"/", n, err)
	}
	for info, err := range e.store.List(e.ctx, solo+"/") {
		t.Errorf("List(%q) yielded %+v, %v", solo+"/", info, err)
	}
	e.wantStored(t, solo, []byte("solo"), csv)
	// The folder can be used again after cleanup.
	e.put(t, inside[0], []byte("again"))
	e.wantStored(t, inside[0], []byte("again"), csv)
}

// testConcurrentUploads sends uploads of different bodies to one key and
// to several keys at once; every blob ends up whole, one of the bodies.
func testConcurrentUploads(t *testing.T, e *env) {
	const n = 8
	p := e.presignUpload(t, upload(inputKey, 1<<20))
	bodies := make([][]byte, n)
	for i := range bodies {
		bodies[i] = bytes.Repeat([]byte{byte('a' + i)}, 4096*(i+1))
	}
	var wg sync.WaitGroup
	statuses := make([]int, 2*n)
	for i := range n {
		wg.Go(func() {
			req, err := p.NewRequest(e.ctx, bytes.NewReader(bodies[i]))
			if err != nil {
				return
			}
			if resp, err := e.h.Client.Do(req); err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				statuses[i] = resp.StatusCode
			}
		})
		wg.Go(func() {
			key := fmt.Sprintf("%soutputs/part-%d.bin", taskPrefix, i)
			if _, err := e.store.Put(e.ctx, key, bytes.NewReader(bodies[i]), blob.PutOptions{ContentType: csv, MaxSize: 1 << 20}); err == nil {
				statuses[n+i] = http.StatusOK
			}
		})
	}
	wg.Wait()
	for i, s := range statuses {
		if s/100 != 2 {
			t.Errorf("concurrent upload %d: status %d", i, s)
		}
	}
	rc, _, err := e.store.Open(e.ctx, inputKey)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(rc)
	rc.Close()
	whole := false
	for _, b := range bodies {
		whole = whole || bytes.Equal(got, b)
	}
	if !whole {
		t.Errorf("after concurrent uploads the blob holds %d bytes that are none of the bodies", len(got))
	}
	for i := range n {
		e.wantStored(t, fmt.Sprintf("%soutputs/part-%d.bin", taskPrefix, i), bodies[i], csv)
	}
}
