package local_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/taskmodel/taskmodel/blob"
	"github.com/taskmodel/taskmodel/blob/local"
)

// TestUploadGate: a PUT to a valid signed URL asks the request's
// blob.UploadGate; a refusal is a 409 upload_closed problem and stores
// nothing, a failing gate a 500, no gate or a nil answer stores the file.
// Every refusal's type is urn:taskmodel:problem:<code with '-'>.
func TestUploadGate(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name   string
		gate   blob.UploadGate
		status int
		code   string
	}{
		{"no gate", nil, 200, ""},
		{"open", func(context.Context, string) error { return nil }, 200, ""},
		{"closed", func(_ context.Context, key string) error {
			return fmt.Errorf("%w: the task of %s is QUEUED", blob.ErrUploadClosed, key)
		}, 409, "upload_closed"},
		{"failing", func(context.Context, string) error { return errors.New("database down") }, 500, "internal"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, err := local.New(local.Config{Dir: t.TempDir(), BaseURL: "http://x/blobs/", SigningKey: testKey, Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			p, err := s.PresignUpload(ctx, blob.UploadRequest{Key: "a/b.csv", ContentType: "text/csv", MaxSize: 100, Expires: time.Minute})
			if err != nil {
				t.Fatal(err)
			}
			req := httptest.NewRequest("PUT", p.URL, strings.NewReader("x,y\n"))
			req.Header.Set("Content-Type", "text/csv")
			if c.gate != nil {
				req = req.WithContext(blob.WithUploadGate(req.Context(), c.gate))
			}
			rec := httptest.NewRecorder()
			s.Handler().ServeHTTP(rec, req)
			if rec.Code != c.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, c.status, rec.Body)
			}
			_, statErr := s.Stat(ctx, "a/b.csv")
			if stored := statErr == nil; stored != (c.status == http.StatusOK) {
				t.Errorf("stored %v after %d", stored, c.status)
			}
			if c.code == "" {
				return
			}
			var pr map[string]any
			if err := json.Unmarshal(rec.Body.Bytes(), &pr); err != nil {
				t.Fatal(err)
			}
			if pr["code"] != c.code || pr["type"] != local.ProblemTypeBase+strings.ReplaceAll(c.code, "_", "-") || rec.Header().Get("Content-Type") != "application/problem+json" {
				t.Errorf("problem %v", pr)
			}
		})
	}
}
