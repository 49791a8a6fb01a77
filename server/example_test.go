package server_test

import (
	"fmt"
	"io"
	"net/http/httptest"
	"os"
	"strings"

	"github.com/taskmodel/taskmodel/blob/local"
	"github.com/taskmodel/taskmodel/gen/catalog"
	"github.com/taskmodel/taskmodel/server"
)

// A server over the memory backend, with anonymous access for local use:
// create an upload → process task and read it back.
func Example() {
	models, err := catalog.Serve(server.Memory())
	if err != nil {
		panic(err)
	}
	dir, _ := os.MkdirTemp("", "blobs")
	defer os.RemoveAll(dir)
	blobs, err := local.New(local.Config{Dir: dir, BaseURL: "/blobs/", SigningKey: local.NewSigningKey()})
	if err != nil {
		panic(err)
	}
	defer blobs.Close()
	srv, err := server.New(server.Config{Models: models, Blobs: blobs, BlobHandler: blobs.Handler(), Anonymous: "anonymous"})
	if err != nil {
		panic(err)
	}
	ts := httptest.NewServer(srv.Handler()) // listens on 127.0.0.1
	defer ts.Close()

	res, err := ts.Client().Post(ts.URL+"/tasks", "application/json",
		strings.NewReader(`{"tool_id": "profile-my-data", "agents": ["unified-profiler", "score-risk"]}`))
	if err != nil {
		panic(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	fmt.Println(res.StatusCode, strings.Contains(string(body), `"status":"CREATED"`))

	res, _ = ts.Client().Get(ts.URL + "/tasks?limit=0")
	fmt.Println(res.StatusCode, res.Header.Get("Content-Type"))
	res.Body.Close()
	// Output:
	// 201 true
	// 400 application/problem+json
}
