package s3_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/taskmodel/taskmodel/blob"
	"github.com/taskmodel/taskmodel/blob/blobtest"
	blobs3 "github.com/taskmodel/taskmodel/blob/s3"
	"github.com/taskmodel/taskmodel/blob/s3/s3test"
	"github.com/taskmodel/taskmodel/tasktype"
)

func newStore(t *testing.T, edit func(*blobs3.Config)) (*blobs3.Store, *s3test.Server) {
	t.Helper()
	srv := s3test.Start(t)
	cfg := srv.Config()
	if edit != nil {
		edit(&cfg)
	}
	s, err := blobs3.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s, srv
}

func TestConformance(t *testing.T) {
	for _, prefix := range []string{"", "tenant-a/blobs/"} {
		t.Run("prefix="+prefix, func(t *testing.T) {
			blobtest.Run(t, blobtest.Harness{
				New: func(t *testing.T, clock *blobtest.Clock) blob.Store {
					s, _ := newStore(t, func(c *blobs3.Config) { c.Clock, c.Prefix = clock.Now, prefix })
					return s
				},
				MaxKeyLen: blob.MaxKeyLen - len(prefix),
			})
		})
	}
}

// rawKeys lists the object keys in the bucket, prefix included.
func rawKeys(t *testing.T, s *blobs3.Store, bucket string) []string {
	t.Helper()
	out, err := s.Client().ListObjectsV2(context.Background(), &s3.ListObjectsV2Input{Bucket: &bucket})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, o := range out.Contents {
		keys = append(keys, aws.ToString(o.Key))
	}
	return keys
}

func TestPrefix(t *testing.T) {
	ctx := context.Background()
	s, srv := newStore(t, func(c *blobs3.Config) { c.Prefix = "tenant-a/" })
	if _, err := s.Put(ctx, "t/1/in.csv", strings.NewReader("x"), blob.PutOptions{ContentType: "text/csv", MaxSize: 1}); err != nil {
		t.Fatal(err)
	}
	if got := rawKeys(t, s, srv.Bucket); len(got) != 1 || got[0] != "tenant-a/t/1/in.csv" {
		t.Fatalf("objects = %v, want [tenant-a/t/1/in.csv]", got)
	}
	p, err := s.PresignUpload(ctx, blob.UploadRequest{Key: "t/1/up.csv", ContentType: "text/csv", MaxSize: 9, Expires: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if u, _ := url.Parse(p.URL); u.Path != "/"+srv.Bucket+"/tenant-a/t/1/up.csv" {
		t.Errorf("upload URL path = %q, want the bucket and the prefixed key", u.Path)
	}
	info, err := s.Stat(ctx, "t/1/in.csv")
	if err != nil || info.Key != "t/1/in.csv" {
		t.Errorf("Stat = %+v, %v; want the key without the prefix", info, err)
	}
	// Another store on the same bucket without the prefix does not see it
	// as its own key "t/1/in.csv".
	other, err := blobs3.New(srv.Config())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.Stat(ctx, "t/1/in.csv"); !errors.Is(err, blob.ErrNotFound) {
		t.Errorf("Stat without the prefix = %v, want ErrNotFound", err)
	}
}

func TestPresignedHeaders(t *testing.T) {
	clock := time.Now().Add(-time.Hour).Truncate(time.Second)
	s, _ := newStore(t, func(c *blobs3.Config) { c.Clock = func() time.Time { return clock } })
	p, err := s.PresignUpload(context.Background(), blob.UploadRequest{Key: "a/b.csv", ContentType: "text/csv", MaxSize: 100, Size: 42, Expires: 90 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Headers) != 2 || p.Headers["Content-Type"] != "text/csv" || p.Headers["Content-Length"] != "42" {
		t.Errorf("Headers = %v, want Content-Type and Content-Length only", p.Headers)
	}
	u, _ := url.Parse(p.URL)
	q := u.Query()
	if q.Get("X-Amz-SignedHeaders") != "content-length;content-type;host" || q.Get("X-Amz-Expires") != "90" ||
		q.Get("X-Amz-Date") != clock.UTC().Format("20060102T150405Z") {
		t.Errorf("URL query = %v, want content-length and content-type signed, 90 s from the store's clock", q)
	}
	if want := clock.Add(90 * time.Second).UTC(); !p.Expires.Equal(want) {
		t.Errorf("Expires = %v, want %v", p.Expires, want)
	}
	for name := range q {
		if strings.Contains(strings.ToLower(name), "checksum") {
			t.Errorf("the URL asks for a checksum (%s) a browser cannot send", name)
		}
	}
}

func TestConfig(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*blobs3.Config)
		want string
	}{
		{"valid", func(*blobs3.Config) {}, ""},
		{"credentials provider", func(c *blobs3.Config) {
			c.AccessKeyID, c.SecretAccessKey = "", ""
			c.Credentials = aws.AnonymousCredentials{}
		}, ""},
		{"no bucket", func(c *blobs3.Config) { c.Bucket = "" }, "Bucket"},
		{"bad prefix", func(c *blobs3.Config) { c.Prefix = "tenant" }, "Prefix"},
		{"traversal prefix", func(c *blobs3.Config) { c.Prefix = "../" }, "Prefix"},
		{"long prefix", func(c *blobs3.Config) { c.Prefix = strings.Repeat("p", blobs3.MaxPrefixLen) + "/" }, "Prefix"},
		{"bad endpoint", func(c *blobs3.Config) { c.Endpoint = "s3.example.com" }, "Endpoint"},
		{"no credentials", func(c *blobs3.Config) { c.SecretAccessKey = "" }, "AccessKeyID"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := blobs3.Config{Bucket: "b-1", Endpoint: "http://127.0.0.1:1", AccessKeyID: "a", SecretAccessKey: "s"}
			tc.edit(&cfg)
			_, err := blobs3.New(cfg)
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var ve *tasktype.ValidationError
			if !errors.As(err, &ve) || len(ve.Fields) != 1 || ve.Fields[0].Field != tc.want || ve.Fields[0].Message == "" {
				t.Errorf("New = %v, want one error for %s", err, tc.want)
			}
		})
	}
}

// TestErrors: a refusal by the server is not mistaken for a missing blob.
func TestErrors(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t, func(c *blobs3.Config) { c.SecretAccessKey = "wrong" })
	if _, err := s.Stat(ctx, "a/b"); err == nil || errors.Is(err, blob.ErrNotFound) || !strings.Contains(err.Error(), "a/b") {
		t.Errorf("Stat with wrong credentials = %v, want an error naming the key, not ErrNotFound", err)
	}
	if ok, err := blob.Exists(ctx, s, "a/b"); ok || err == nil {
		t.Errorf("Exists with wrong credentials = %v, %v; want an error", ok, err)
	}
	if err := s.Delete(ctx, "a/b"); err == nil {
		t.Error("Delete with wrong credentials succeeded")
	}
	if _, err := s.DeletePrefix(ctx, "a/"); err == nil {
		t.Error("DeletePrefix with wrong credentials succeeded")
	}
	for _, err := range s.List(ctx, "a/") {
		if err == nil {
			t.Error("List with wrong credentials succeeded")
		}
	}
	s, _ = newStore(t, func(c *blobs3.Config) { c.Bucket = "no-such-bucket" })
	if _, err := s.Put(ctx, "a/b", strings.NewReader("x"), blob.PutOptions{ContentType: "text/csv", MaxSize: 1}); err == nil ||
		errors.Is(err, blob.ErrNotFound) || !strings.Contains(err.Error(), "no-such-bucket") {
		t.Errorf("Put into a missing bucket = %v, want an error naming the bucket, not ErrNotFound", err)
	}
	if _, _, err := s.Open(ctx, "a/b"); err == nil || errors.Is(err, blob.ErrNotFound) {
		t.Errorf("Open in a missing bucket = %v, want an error, not ErrNotFound", err)
	}
}

// TestForeignObjects: objects not written through a store (keys a store
// would refuse) are skipped by List but removed by DeletePrefix.
func TestForeignObjects(t *testing.T) {
	ctx := context.Background()
	s, srv := newStore(t, nil)
	for _, k := range []string{"t/1/ok.csv", "t/1/with space.csv", "t/1/../odd"} {
		if _, err := s.Client().PutObject(ctx, &s3.PutObjectInput{Bucket: &srv.Bucket, Key: aws.String(k), Body: strings.NewReader("x")}); err != nil {
			t.Fatal(err)
		}
	}
	var listed []string
	for info, err := range s.List(ctx, "t/1/") {
		if err != nil {
			t.Fatal(err)
		}
		listed = append(listed, info.Key)
	}
	if len(listed) != 1 || listed[0] != "t/1/ok.csv" {
		t.Errorf("List = %v, want [t/1/ok.csv]", listed)
	}
	if n, err := s.DeletePrefix(ctx, "t/1/"); n != 3 || err != nil {
		t.Errorf("DeletePrefix = %d, %v; want 3", n, err)
	}
	if keys := rawKeys(t, s, srv.Bucket); len(keys) != 0 {
		t.Errorf("objects left: %v", keys)
	}
}

// TestDeletePrefixBatches: more objects than one DeleteObjects request takes.
func TestDeletePrefixBatches(t *testing.T) {
	if testing.Short() {
		t.Skip("puts 1001 objects")
	}
	ctx := context.Background()
	s, srv := newStore(t, nil)
	const n = 1001
	for i := range n {
		key := fmt.Sprintf("t/1/part-%04d", i)
		if _, err := s.Client().PutObject(ctx, &s3.PutObjectInput{Bucket: &srv.Bucket, Key: &key, Body: strings.NewReader("x")}); err != nil {
			t.Fatal(err)
		}
	}
	if got, err := s.DeletePrefix(ctx, "t/1/"); got != n || err != nil {
		t.Fatalf("DeletePrefix = %d, %v; want %d", got, err, n)
	}
	if keys := rawKeys(t, s, srv.Bucket); len(keys) != 0 {
		t.Errorf("%d objects left", len(keys))
	}
}
