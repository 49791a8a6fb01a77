package s3_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/taskmodel/taskmodel/blob"
	"github.com/taskmodel/taskmodel/blob/s3"
)

// A store on Backblaze B2's S3-compatible API, presigning the upload of a
// task's primary file: the JSON is what POST /tasks/{id}/upload-urls
// returns for it.
func Example() {
	store, err := s3.New(s3.Config{
		Bucket:          "task-files",
		Endpoint:        "https://s3.us-west-004.backblazeb2.com",
		Region:          "us-west-004",
		UsePathStyle:    true,
		AccessKeyID:     os.Getenv("B2_KEY_ID"),
		SecretAccessKey: os.Getenv("B2_APP_KEY"),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	p, err := store.PresignUpload(context.Background(), blob.UploadRequest{
		Key:         "users/u-1/tasks/7d4f2c1e/inputs/primary.csv",
		ContentType: "text/csv",
		MaxSize:     50 << 20,
		Expires:     15 * time.Minute,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	js, _ := json.MarshalIndent(p, "", "  ")
	fmt.Println(string(js))
}
