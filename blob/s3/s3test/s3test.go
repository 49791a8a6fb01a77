// Package s3test starts a real S3-compatible server inside a test process:
// rclone's gofakes3 (an in-memory S3 implementation that checks AWS
// Signature V4, presigned URLs and their expiry included) behind an
// httptest.Server on the loopback interface. Tests of code that uses
// blob/s3 get real HTTP, real signatures and real S3 error responses with
// nothing to install.
package s3test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http/httptest"
	"testing"

	"github.com/rclone/gofakes3"
	"github.com/rclone/gofakes3/s3mem"

	blobs3 "github.com/taskmodel/taskmodel/blob/s3"
)

// Credentials the server accepts; any other key is refused.
const (
	AccessKeyID     = "AKIATASKMODELTEST001"
	SecretAccessKey = "taskmodel/blobtest/secret/access/key/0001"
	Region          = "us-east-1"
)

// Server is a running S3-compatible server with one empty bucket.
type Server struct {
	// URL is the server's endpoint, http://127.0.0.1:port.
	URL string
	// Bucket exists and is empty when Start returns.
	Bucket string
}

// Start starts a server for the test; it is closed when the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	backend := s3mem.New()
	var rnd [4]byte
	rand.Read(rnd[:])
	bucket := "blobtest-" + hex.EncodeToString(rnd[:])
	if err := backend.CreateBucket(context.Background(), bucket); err != nil {
		t.Fatalf("s3test: creating bucket: %v", err)
	}
	faker := gofakes3.New(backend, gofakes3.WithV4Auth(map[string]string{AccessKeyID: SecretAccessKey}))
	srv := httptest.NewServer(faker.Server())
	t.Cleanup(srv.Close)
	return &Server{URL: srv.URL, Bucket: bucket}
}

// Config returns a blob/s3 configuration for the server's bucket, with
// path-style URLs and the server's credentials. Set the other fields (Prefix,
// Clock) on the result as the test needs.
func (s *Server) Config() blobs3.Config {
	return blobs3.Config{
		Bucket:          s.Bucket,
		Endpoint:        s.URL,
		Region:          Region,
		UsePathStyle:    true,
		AccessKeyID:     AccessKeyID,
		SecretAccessKey: SecretAccessKey,
	}
}
