package local_test

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/taskmodel/taskmodel/blob/local"
)

// testKey is a fixed signing key, so failures reproduce.
var testKey = bytes.Repeat([]byte{0x5a}, local.MinKeyLen)

// served is a store with its directory.
type served struct {
	*local.Store
	dir string
}

// newServed returns a store in a temporary directory whose handler is
// mounted at /blobs/ on an httptest server, with BaseURL pointing there.
func newServed(t *testing.T, clock func() time.Time) served {
	t.Helper()
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	s, err := local.New(local.Config{Dir: dir, BaseURL: srv.URL + "/blobs/", SigningKey: testKey, Clock: clock,
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatalf("local.New: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	mux.Handle("/blobs/", s.Handler())
	return served{s, dir}
}
