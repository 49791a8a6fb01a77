package blob_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"time"

	"github.com/taskmodel/taskmodel/blob"
	"github.com/taskmodel/taskmodel/blob/local"
)

// The upload → process flow with the local store: presign an upload, let the client
// PUT the file, verify it before processing, write an output, presign its
// download, and delete the task's folder when the task expires.
func Example() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "blobs")
	defer os.RemoveAll(dir)

	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	defer srv.Close()
	store, err := local.New(local.Config{Dir: dir, BaseURL: srv.URL + "/blobs/", SigningKey: local.NewSigningKey()})
	if err != nil {
		panic(err)
	}
	defer store.Close()
	mux.Handle("/blobs/", store.Handler())

	task := "users/u-1/tasks/7d4f2c1e/"
	// POST /tasks/{id}/upload-urls
	up, err := store.PresignUpload(ctx, blob.UploadRequest{
		Key: task + "inputs/primary.csv", ContentType: "text/csv", MaxSize: 1 << 20, Expires: 15 * time.Minute,
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(up.Method, up.Headers)

	// POST /tasks/{id}/process before the upload: the file is missing.
	_, err = blob.Verify(ctx, store, task+"inputs/primary.csv", blob.Expect{ContentType: "text/csv", MaxSize: 1 << 20})
	fmt.Println("missing:", errors.Is(err, blob.ErrNotFound))

	// The client uploads.
	req, _ := up.NewRequest(ctx, strings.NewReader("id,value\n1,42\n"))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		panic(err)
	}
	resp.Body.Close()
	fmt.Println("upload:", resp.StatusCode)

	// POST /tasks/{id}/process: verified, the worker reads and writes.
	info, err := blob.Verify(ctx, store, task+"inputs/primary.csv", blob.Expect{ContentType: "text/csv", MaxSize: 1 << 20})
	fmt.Println("verified:", info.Size, info.ContentType, err)
	store.Put(ctx, task+"outputs/report.json", strings.NewReader(`{"rows":1}`), blob.PutOptions{ContentType: "application/json", MaxSize: 1 << 20})

	// GET /tasks/{id}/downloads
	for out, err := range store.List(ctx, task+"outputs/") {
		if err != nil {
			panic(err)
		}
		down, _ := store.PresignDownload(ctx, blob.DownloadRequest{Key: out.Key, Expires: time.Hour})
		resp, err := http.Get(down.URL)
		if err != nil {
			panic(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Println("download:", resp.Header.Get("Content-Disposition"), string(body))
	}

	// The task expired: delete its folder.
	n, err := store.DeletePrefix(ctx, task)
	fmt.Println("deleted:", n, err)
	// Output:
	// PUT map[Content-Type:text/csv]
	// missing: true
	// upload: 200
	// verified: 14 text/csv <nil>
	// download: attachment; filename=report.json {"rows":1}
	// deleted: 2 <nil>
}

// Keys are checked before anything is touched; the error names the field
// and says what is allowed.
func ExampleValidateKey() {
	for _, key := range []string{"users/u-1/tasks/42/inputs/data.csv", "../../etc/passwd", `inputs\data.csv`} {
		fmt.Println(blob.ValidateKey(key))
	}
	// Output:
	// <nil>
	// key: must not contain the segment ".."; a key is 1 to 1024 bytes of segments joined by '/'; a segment is 1 to 255 of A-Z a-z 0-9 '-' '_' '.' and does not start with '.'
	// key: has a backslash at byte 6; a key is 1 to 1024 bytes of segments joined by '/'; a segment is 1 to 255 of A-Z a-z 0-9 '-' '_' '.' and does not start with '.'
}
