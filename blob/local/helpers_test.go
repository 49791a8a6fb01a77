package local_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/taskmodel/taskmodel/blob/local"
)

// testKey is a fixed signing key, so failures reproduce.
var testKey = bytes.Repeat([]byte{0x5a}, local.MinKeyLen)

// newServed returns a store in a temporary directory whose handler is
// mounted at /blobs/ on an httptest server, with BaseURL pointing there.
func newServed(t *testing.T, clock func() time.Time) *local.Store {
	t.Helper()
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	s, err := local.New(local.Config{Dir: t.TempDir(), BaseURL: srv.URL + "/blobs/", SigningKey: testKey, Clock: clock})
	if err != nil {
		t.Fatalf("local.New: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	mux.Handle("/blobs/", s.Handler())
	return s
}
