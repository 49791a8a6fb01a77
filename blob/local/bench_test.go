package local

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/taskmodel/taskmodel/blob"
)

func benchStore(b *testing.B) *Store {
	s, err := New(Config{Dir: b.TempDir(), BaseURL: "/blobs/", SigningKey: secret})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}

// BenchmarkPresignUpload measures issuing one upload URL.
func BenchmarkPresignUpload(b *testing.B) {
	s := benchStore(b)
	r := blob.UploadRequest{Key: "users/u-1/tasks/7d4f2c1e/inputs/primary.csv", ContentType: "text/csv", MaxSize: 50 << 20, Expires: 15 * time.Minute}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.PresignUpload(context.Background(), r); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCheckURL measures what the handler does before touching the
// disk: parse the URL and verify its signature and expiry.
func BenchmarkCheckURL(b *testing.B) {
	s := benchStore(b)
	p, _ := s.PresignUpload(context.Background(), blob.UploadRequest{Key: "users/u-1/tasks/7d4f2c1e/inputs/primary.csv",
		ContentType: "text/csv", MaxSize: 50 << 20, Expires: 15 * time.Minute})
	u, _ := url.Parse(p.URL)
	key := u.Path[len("/blobs/"):]
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		g, sig, uerr := parseGrant(http.MethodPut, key, u.RawQuery)
		if uerr == nil {
			uerr = g.verify(sig, s.secrets, now)
		}
		if uerr != nil {
			b.Fatal(uerr)
		}
	}
}

// BenchmarkUpload measures a 1 MiB upload through the handler, fsync and
// rename included.
func BenchmarkUpload(b *testing.B) {
	s := benchStore(b)
	h := s.Handler()
	p, _ := s.PresignUpload(context.Background(), blob.UploadRequest{Key: "a/b.bin", ContentType: "application/octet-stream",
		MaxSize: 1 << 20, Expires: time.Hour})
	body := bytes.Repeat([]byte{1}, 1<<20)
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		req := httptest.NewRequest(http.MethodPut, p.URL, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/octet-stream")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatal(rec.Code, rec.Body)
		}
	}
}
