package server_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/taskmodel/taskmodel/blob"
	"github.com/taskmodel/taskmodel/gen/analysis"
	"github.com/taskmodel/taskmodel/sdk/worker"
	"github.com/taskmodel/taskmodel/server"
	"github.com/taskmodel/taskmodel/server/demo"
)

// TestOpenInputAfterProcess: a handler reads a task's inputs as process
// verified them. A file replaced since — through S3's signed URL, which
// the server cannot refuse, or an instant before process read it — is
// ErrInputChanged, and the demo handler fails the task with
// FILE_READ_ERROR instead of working on it; a file stored after process,
// which process did not see, is not found.
func TestOpenInputAfterProcess(t *testing.T) {
	for _, store := range []string{"local", "s3"} {
		t.Run(store, func(t *testing.T) {
			e := newEnv(t, "sqlite", envOptions{s3: store == "s3"})
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			id := e.create("alice")
			tid := uuid.MustParse(id)
			up := e.uploadURLs("alice", id)
			e.put(up["primary"].(map[string]any), "text/csv", "a\n1\n")
			e.put(up["parameters"].(map[string]any), "application/json", `{"k": 1}`)
			if s := e.must(200, "POST", "/tasks/"+id+"/process", "alice", "").json(t)["status"]; s != "QUEUED" {
				t.Fatalf("after process: %v, want QUEUED", s)
			}

			read := func(name string) (string, error) {
				r, _, err := server.OpenInput(ctx, e.blobs, "alice", tid, name)
				if err != nil {
					return "", err
				}
				defer r.Close()
				b, err := io.ReadAll(r)
				return string(b), err
			}
			if got, err := read("primary"); err != nil || got != "a\n1\n" {
				t.Fatalf("primary as verified: %q, %v", got, err)
			}
			// baseline was not uploaded: stored now, it is still not one of
			// the task's inputs.
			if _, err := e.blobs.Put(ctx, server.InputKey("alice", tid, "baseline"), strings.NewReader("late\n"), blob.PutOptions{ContentType: "text/csv", MaxSize: 100}); err != nil {
				t.Fatal(err)
			}
			if _, err := read("baseline"); !errors.Is(err, blob.ErrNotFound) {
				t.Errorf("a file stored after process: %v, want ErrNotFound", err)
			}

			// Replace primary: S3 takes the PUT to its signed URL; the local
			// store refuses it (409), so the test stores it as a PUT that
			// passed the gate an instant before process would.
			if store == "s3" {
				e.put(up["primary"].(map[string]any), "text/csv", "b\n2\n")
			} else {
				e.must(409, "PUT", up["primary"].(map[string]any)["url"].(string), "", "b\n2\n", "Content-Type", "text/csv")
				if _, err := e.blobs.Put(ctx, server.InputKey("alice", tid, "primary"), strings.NewReader("b\n2\n"), blob.PutOptions{ContentType: "text/csv", MaxSize: 100}); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := read("primary"); !errors.Is(err, server.ErrInputChanged) {
				t.Fatalf("primary replaced after process: %v, want ErrInputChanged", err)
			}
			if got, err := read("parameters"); err != nil || got != `{"k": 1}` {
				t.Errorf("parameters, not replaced: %q, %v", got, err)
			}

			eng, err := server.Engine[analysis.Task, analysis.Event](e.models, analysis.ModelName)
			if err != nil {
				t.Fatal(err)
			}
			pool, err := worker.New(eng, demo.Handler(e.blobs, time.Millisecond), worker.Config{Concurrency: 1, PollInterval: 20 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- pool.Run(ctx) }()
			var v map[string]any
			waitUntil(ctx, t, "the task failed", func() bool {
				v = e.must(200, "GET", "/tasks/"+id, "alice", "").json(t)
				return v["status"] == "FAILED"
			})
			cancel()
			<-done
			if v["error_code"] != "FILE_READ_ERROR" || !strings.Contains(fmt.Sprint(v["error_message"]), "primary: input primary of task "+id+": the file was replaced after it was verified") {
				t.Errorf("failed task: code %v, message %q", v["error_code"], v["error_message"])
			}
		})
	}
}

// TestOpenInputBeforeTheRecord: a task processed by a server that kept no
// record of its verified inputs is read as its files are now.
func TestOpenInputBeforeTheRecord(t *testing.T) {
	e := newEnv(t, "sqlite", envOptions{})
	ctx := t.Context()
	id := e.create("alice")
	tid := uuid.MustParse(id)
	up := e.uploadURLs("alice", id)
	e.put(up["primary"].(map[string]any), "text/csv", "a\n1\n")
	e.must(200, "POST", "/tasks/"+id+"/process", "alice", "")
	if err := e.blobs.Delete(ctx, server.VerifiedInputsKey("alice", tid)); err != nil {
		t.Fatal(err)
	}
	r, info, err := server.OpenInput(ctx, e.blobs, "alice", tid, "primary")
	if err != nil {
		t.Fatal(err)
	}
	r.Close()
	if info.Size != 4 {
		t.Errorf("size %d, want 4", info.Size)
	}
	if _, _, err := server.OpenInput(ctx, e.blobs, "alice", tid, "baseline"); !errors.Is(err, blob.ErrNotFound) {
		t.Errorf("a file never uploaded: %v, want ErrNotFound", err)
	}
}
