package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/google/uuid"

	"github.com/taskmodel/taskmodel/blob"
)

// ErrInputChanged is OpenInput's error for an upload replaced after POST
// /tasks/{id}/process verified it: a PUT to one of the task's upload URLs
// that the blob store took although the task no longer takes uploads (S3's
// signed URLs go to S3, which the server cannot ask), or that landed an
// instant before process read the files. The handler should fail the task
// rather than work on a file nobody verified.
var ErrInputChanged = errors.New("the file was replaced after it was verified")

// VerifiedInputsKey is where POST /tasks/{id}/process records the inputs
// it verified (their ETags), for OpenInput: a blob of the task's folder,
// for which no URL is ever signed.
func VerifiedInputsKey(owner string, id uuid.UUID) string {
	return TaskPrefix(owner, id) + "verified-inputs.json"
}

// verifiedInputs is the record process writes at VerifiedInputsKey: the
// files it found and verified, by upload file name. A file absent from it
// was not uploaded when the task was processed.
type verifiedInputs struct {
	Files map[string]verifiedFile `json:"files"`
}

type verifiedFile struct {
	ETag        string `json:"etag"`
	Size        int64  `json:"size"`
	ContentType string `json:"content_type"`
}

// maxVerifiedInputs bounds the record's size as OpenInput reads it: a
// model's uploads declare a handful of files.
const maxVerifiedInputs = 1 << 20

// recordInputs writes the verified files of a task (infos by file name)
// to its VerifiedInputsKey, before process queues it.
func recordInputs(ctx context.Context, blobs blob.Store, owner string, id uuid.UUID, infos map[string]blob.Info) error {
	rec := verifiedInputs{Files: make(map[string]verifiedFile, len(infos))}
	for name, info := range infos {
		rec.Files[name] = verifiedFile{ETag: info.ETag, Size: info.Size, ContentType: info.ContentType}
	}
	body, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	key := VerifiedInputsKey(owner, id)
	if _, err := blobs.Put(ctx, key, bytes.NewReader(body), blob.PutOptions{ContentType: "application/json", MaxSize: maxVerifiedInputs}); err != nil {
		return fmt.Errorf("recording the verified inputs: %w", err)
	}
	return nil
}

// OpenInput opens the upload file name of the task (owner, id) as POST
// /tasks/{id}/process verified it: the handler of an upload → process
// model reads its inputs with it. A file that was not uploaded when the
// task was processed is blob.ErrNotFound, even if one was stored since; a
// file replaced since is ErrInputChanged. A task processed by a server
// older than this record is read as its files are now. The caller closes
// the reader.
func OpenInput(ctx context.Context, blobs blob.Store, owner string, id uuid.UUID, name string) (io.ReadCloser, blob.Info, error) {
	key := InputKey(owner, id, name)
	rec, err := readVerifiedInputs(ctx, blobs, owner, id)
	if errors.Is(err, blob.ErrNotFound) {
		return blobs.Open(ctx, key)
	}
	if err != nil {
		return nil, blob.Info{}, err
	}
	want, ok := rec.Files[name]
	if !ok {
		return nil, blob.Info{}, fmt.Errorf("%w (it was not uploaded when the task was processed)", blob.NotFound(key))
	}
	r, info, err := blobs.Open(ctx, key)
	if errors.Is(err, blob.ErrNotFound) {
		return nil, blob.Info{}, fmt.Errorf("input %s of task %s was deleted after it was verified: %w", name, id, ErrInputChanged)
	}
	if err != nil {
		return nil, blob.Info{}, err
	}
	if info.ETag != want.ETag {
		r.Close()
		return nil, blob.Info{}, fmt.Errorf("input %s of task %s: %w", name, id, ErrInputChanged)
	}
	return r, info, nil
}

// readVerifiedInputs reads the record process wrote for a task.
func readVerifiedInputs(ctx context.Context, blobs blob.Store, owner string, id uuid.UUID) (*verifiedInputs, error) {
	key := VerifiedInputsKey(owner, id)
	r, _, err := blobs.Open(ctx, key)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	var rec verifiedInputs
	if err := json.NewDecoder(io.LimitReader(r, maxVerifiedInputs)).Decode(&rec); err != nil {
		return nil, fmt.Errorf("reading %s: %w", key, err)
	}
	return &rec, nil
}
