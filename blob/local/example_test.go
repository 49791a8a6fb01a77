package local_test

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"

	"github.com/taskmodel/taskmodel/blob/local"
)

// A server's set-up: a signing key kept in a file beside the blobs, the
// store, and its handler mounted where BaseURL points.
func Example() {
	dir, _ := os.MkdirTemp("", "taskmodel")
	defer os.RemoveAll(dir)

	key, err := local.LoadOrCreateKeyFile(filepath.Join(dir, "blob.key"))
	if err != nil {
		fmt.Println(err)
		return
	}
	store, err := local.New(local.Config{
		Dir:        filepath.Join(dir, "blobs"),
		BaseURL:    "/blobs/", // URLs relative to the server's origin
		SigningKey: key,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer store.Close()

	mux := http.NewServeMux()
	mux.Handle("/blobs/", store.Handler())
	fmt.Println(len(key), "byte key")
	// Output: 32 byte key
}

// Config errors name each field and say what is allowed.
func ExampleNew_errors() {
	_, err := local.New(local.Config{Dir: os.TempDir(), BaseURL: "blobs", SigningKey: []byte("short")})
	fmt.Println(err)
	// Output:
	// invalid local.Config: BaseURL: must be an absolute http(s) URL or an absolute path where Handler is mounted, such as "/blobs/"; SigningKey: must be at least 32 random bytes (see LoadOrCreateKeyFile)
}
