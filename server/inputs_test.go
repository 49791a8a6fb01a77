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

// hookBlobs runs beforePut once, before the first Put of a key that ends
// in suffix.
type hookBlobs struct {
	blob.Store
	suffix    string
	beforePut func()
}

func (h *hookBlobs) Put(ctx context.Context, key string, r io.Reader, o blob.PutOptions) (blob.Info, error) {
	if f := h.beforePut; f != nil && strings.HasSuffix(key, h.suffix) {
		h.beforePut = nil
		f()
	}
	return h.Store.Put(ctx, key, r, o)
}

// TestProcessRacingTheSweeper: the sweeper expires a task, and deletes its
// folder, while POST /process is between its check of the files and its
// record of them. process answers the transition 409, and deletes the
// record it wrote: nothing else would delete that folder again.
func TestProcessRacingTheSweeper(t *testing.T) {
	c := &clock{t: time.Now().UTC().Truncate(time.Microsecond)}
	hb := &hookBlobs{suffix: "verified-inputs.json"}
	e := newEnv(t, "memory", envOptions{clock: c, wrapBlobs: func(s blob.Store) blob.Store { hb.Store = s; return hb }})
	id := e.create("alice")
	e.put(e.uploadURLs("alice", id)["primary"].(map[string]any), "text/csv", "x\n")
	c.Add(16 * time.Minute) // past the UPLOADING timeout
	hb.beforePut = func() {
		if err := e.srv.Sweep(context.Background()); err != nil {
			t.Errorf("sweep: %v", err)
		}
	}
	p := e.must(409, "POST", "/tasks/"+id+"/process", "alice", "").json(t)
	if p["current_status"] != "EXPIRED" {
		t.Errorf("process: %v", p)
	}
	var left []string
	for info, err := range e.blobs.List(context.Background(), "users/") {
		if err != nil {
			t.Fatal(err)
		}
		left = append(left, info.Key)
	}
	if len(left) != 0 {
		t.Errorf("the expired task's folder keeps %v", left)
	}
}
