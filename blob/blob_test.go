package blob_test

import (
	"context"
	"encoding/json"
	"errors"
	"mime"
	"strings"
	"testing"
	"time"

	"github.com/taskmodel/taskmodel/blob"
	"github.com/taskmodel/taskmodel/tasktype"
)

// fields returns the field names of a validation error, in order.
func fields(err error) []string {
	var ve *tasktype.ValidationError
	if !errors.As(err, &ve) {
		return nil
	}
	var out []string
	for _, f := range ve.Fields {
		out = append(out, f.Field)
	}
	return out
}

func TestUploadRequestValidate(t *testing.T) {
	ok := blob.UploadRequest{Key: "a/b.csv", ContentType: "text/csv", MaxSize: 100, Expires: time.Minute}
	for _, tc := range []struct {
		name string
		edit func(*blob.UploadRequest)
		want string // comma-separated fields, "" for valid
	}{
		{"valid", func(*blob.UploadRequest) {}, ""},
		{"exact size", func(r *blob.UploadRequest) { r.Size = 100 }, ""},
		{"max object", func(r *blob.UploadRequest) { r.MaxSize = blob.MaxObjectSize }, ""},
		{"longest expiry", func(r *blob.UploadRequest) { r.Expires = blob.MaxExpiry }, ""},
		{"shortest expiry", func(r *blob.UploadRequest) { r.Expires = blob.MinExpiry }, ""},
		{"bad key", func(r *blob.UploadRequest) { r.Key = "../x" }, "key"},
		{"no content type", func(r *blob.UploadRequest) { r.ContentType = "" }, "content_type"},
		{"zero max", func(r *blob.UploadRequest) { r.MaxSize = 0 }, "max_size"},
		{"huge max", func(r *blob.UploadRequest) { r.MaxSize = blob.MaxObjectSize + 1 }, "max_size"},
		{"size over max", func(r *blob.UploadRequest) { r.Size = 101 }, "size"},
		{"negative size", func(r *blob.UploadRequest) { r.Size = -1 }, "size"},
		{"no expiry", func(r *blob.UploadRequest) { r.Expires = 0 }, "expires"},
		{"negative expiry", func(r *blob.UploadRequest) { r.Expires = -time.Minute }, "expires"},
		{"week and a second", func(r *blob.UploadRequest) { r.Expires = blob.MaxExpiry + time.Second }, "expires"},
		{"everything", func(r *blob.UploadRequest) { *r = blob.UploadRequest{Key: "/", Size: -1} },
			"key,content_type,max_size,size,expires"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := ok
			tc.edit(&r)
			err := r.Validate()
			if got := strings.Join(fields(err), ","); got != tc.want {
				t.Fatalf("Validate() = %v, fields %q; want %q", err, got, tc.want)
			}
			if tc.want != "" && (!errors.Is(err, tasktype.ErrValidation) || !strings.Contains(err.Error(), "invalid UploadRequest")) {
				t.Errorf("Validate() = %v, want a ValidationError of UploadRequest", err)
			}
		})
	}
}

func TestDownloadRequestAndPutOptions(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{blob.DownloadRequest{Key: "a", Expires: time.Hour}.Validate(), ""},
		{blob.DownloadRequest{Key: "a", Filename: "r.csv", Expires: time.Hour}.Validate(), ""},
		{blob.DownloadRequest{Key: "a/", Filename: "a/b"}.Validate(), "key,filename,expires"},
		{blob.PutOptions{ContentType: "application/json", MaxSize: 1}.Validate(), ""},
		{blob.PutOptions{}.Validate(), "content_type,max_size"},
		{blob.PutOptions{ContentType: "text/csv", MaxSize: blob.MaxObjectSize + 1}.Validate(), "max_size"},
	} {
		if got := strings.Join(fields(tc.err), ","); got != tc.want {
			t.Errorf("Validate() = %v, fields %q; want %q", tc.err, got, tc.want)
		}
	}
}

func TestContentDisposition(t *testing.T) {
	for _, tc := range []struct {
		r    blob.DownloadRequest
		want string
	}{
		{blob.DownloadRequest{Key: "t/outputs/report.json"}, "attachment; filename=report.json"},
		{blob.DownloadRequest{Key: "t/x", Filename: "my report.pdf"}, `attachment; filename="my report.pdf"`},
		{blob.DownloadRequest{Key: "t/x", Filename: "été.csv"}, "attachment; filename*=utf-8''%C3%A9t%C3%A9.csv"},
	} {
		if got := tc.r.ContentDisposition(); got != tc.want {
			t.Errorf("ContentDisposition(%+v) = %q, want %q", tc.r, got, tc.want)
		}
	}
}

func TestPresigned(t *testing.T) {
	p := &blob.Presigned{Method: "PUT", URL: "https://store.example/blobs/a?sig=x",
		Headers: map[string]string{"Content-Type": "text/csv", "Content-Length": "3"}, Expires: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	req, err := p.NewRequest(context.Background(), strings.NewReader("abc"))
	if err != nil {
		t.Fatal(err)
	}
	if req.Method != "PUT" || req.URL.String() != p.URL || req.Header.Get("Content-Type") != "text/csv" || req.ContentLength != 3 || req.Header.Get("Content-Length") != "" {
		t.Errorf("NewRequest = %s %s %v (length %d)", req.Method, req.URL, req.Header, req.ContentLength)
	}
	js, _ := json.Marshal(p)
	want := `{"method":"PUT","url":"https://store.example/blobs/a?sig=x","headers":{"Content-Length":"3","Content-Type":"text/csv"},"expires_at":"2026-01-02T03:04:05Z"}`
	if string(js) != want {
		t.Errorf("JSON = %s\nwant   %s", js, want)
	}
	p.Headers["Content-Length"] = "three"
	if _, err := p.NewRequest(context.Background(), nil); err == nil {
		t.Error("NewRequest with a bad Content-Length succeeded")
	}
}

// stubStore answers Stat and Delete from fields; other methods are unused.
type stubStore struct {
	blob.Store
	info      blob.Info
	statErr   error
	deleteErr error
	deleted   []string
}

func (s *stubStore) Stat(context.Context, string) (blob.Info, error) { return s.info, s.statErr }
func (s *stubStore) Delete(_ context.Context, key string) error {
	s.deleted = append(s.deleted, key)
	return s.deleteErr
}

func TestVerify(t *testing.T) {
	ctx := context.Background()
	csv := blob.Info{Key: "k", Size: 10, ContentType: "text/csv"}
	broken := errors.New("network down")
	for _, tc := range []struct {
		name    string
		store   *stubStore
		want    blob.Expect
		wantErr []error
		deletes bool
	}{
		{"ok", &stubStore{info: csv}, blob.Expect{ContentType: "text/csv", MaxSize: 10}, nil, false},
		{"no limits", &stubStore{info: csv}, blob.Expect{}, nil, false},
		{"missing", &stubStore{statErr: blob.NotFound("k")}, blob.Expect{}, []error{blob.ErrNotFound}, false},
		{"stat fails", &stubStore{statErr: broken}, blob.Expect{}, []error{broken}, false},
		{"too large", &stubStore{info: csv}, blob.Expect{MaxSize: 9}, []error{blob.ErrTooLarge}, true},
		{"content type", &stubStore{info: csv}, blob.Expect{ContentType: "text/plain"}, []error{blob.ErrContentType}, true},
		// A blob is of its media type: an upload URL signed for
		// "text/csv; charset=utf-8" or "Text/CSV" stores a text/csv file.
		{"content type with parameters", &stubStore{info: withType(csv, "text/csv; charset=utf-8")}, blob.Expect{ContentType: "text/csv"}, nil, false},
		{"content type in another case", &stubStore{info: withType(csv, "Text/CSV")}, blob.Expect{ContentType: "text/csv"}, nil, false},
		{"expected with parameters", &stubStore{info: csv}, blob.Expect{ContentType: "text/csv; charset=utf-8"}, nil, false},
		{"another type with parameters", &stubStore{info: withType(csv, "text/plain; charset=utf-8")}, blob.Expect{ContentType: "text/csv"}, []error{blob.ErrContentType}, true},
		{"delete fails", &stubStore{info: csv, deleteErr: broken}, blob.Expect{MaxSize: 1}, []error{blob.ErrTooLarge, broken}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			info, err := blob.Verify(ctx, tc.store, "k", tc.want)
			if tc.wantErr == nil {
				if err != nil || info != tc.store.info {
					t.Fatalf("Verify = %+v, %v; want the info", info, err)
				}
			}
			for _, w := range tc.wantErr {
				if !errors.Is(err, w) {
					t.Errorf("Verify = %v, want errors.Is %v", err, w)
				}
			}
			if deleted := len(tc.store.deleted) == 1; deleted != tc.deletes {
				t.Errorf("deleted %v, want a delete: %v", tc.store.deleted, tc.deletes)
			}
		})
	}
	if ok, err := blob.Exists(ctx, &stubStore{statErr: broken}, "k"); ok || !errors.Is(err, broken) {
		t.Errorf("Exists with a failing store = %v, %v", ok, err)
	}
}

func withType(info blob.Info, ct string) blob.Info {
	info.ContentType = ct
	return info
}

// TestMediaType: the media type of a Content-Type is the one
// mime.ParseMediaType reads, also from a value it refuses.
func TestMediaType(t *testing.T) {
	for _, tc := range []struct{ ct, want string }{
		{"text/csv", "text/csv"},
		{"text/csv; charset=utf-8", "text/csv"},
		{"Text/CSV", "text/csv"},
		{" application/JSON ;charset=UTF-8", "application/json"},
		{"text/csv;", "text/csv"},
		{"text/csv; charset", "text/csv"}, // a malformed parameter
		{"textcsv", "textcsv"},            // no media type: kept as it reads
		{"", ""},
	} {
		if got := blob.MediaType(tc.ct); got != tc.want {
			t.Errorf("MediaType(%q) = %q, want %q", tc.ct, got, tc.want)
		}
		if mt, _, err := mime.ParseMediaType(tc.ct); (err == nil || errors.Is(err, mime.ErrInvalidMediaParameter)) && mt != tc.want {
			t.Errorf("mime.ParseMediaType(%q) = %q, want %q as MediaType", tc.ct, mt, tc.want)
		}
	}
}
