package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/taskmodel/taskmodel/blob"
	"github.com/taskmodel/taskmodel/tasktype"
)

// Blob keys: the upload → process lifecycle keeps a task's files under
// users/{user_id}/tasks/{task_id}/ (its cleanup job deletes that folder),
// inputs and outputs apart.

// TaskPrefix is the folder of a task's files in the blob store.
func TaskPrefix(owner string, id uuid.UUID) string {
	return "users/" + keySegment(owner) + "/tasks/" + id.String() + "/"
}

// InputKey is where the upload file name of a task is stored.
func InputKey(owner string, id uuid.UUID, name string) string {
	return TaskPrefix(owner, id) + "inputs/" + name
}

// OutputPrefix is the folder a task's handler writes its outputs to; GET
// /tasks/{id}/downloads signs a URL for each blob in it.
func OutputPrefix(owner string, id uuid.UUID) string { return TaskPrefix(owner, id) + "outputs/" }

// keySegment makes a user name a blob key segment: characters keys do not
// allow become '-' (task ids keep keys apart; the owner part is for people).
func keySegment(owner string) string {
	if owner == "" {
		return "_"
	}
	b := []byte(owner)
	for i, c := range b {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || (c == '.' && i > 0)
		if !ok {
			b[i] = '-'
		}
	}
	return string(b)
}

// gateUploads lets the signed-URL handler store an upload to a task's
// input only while the task takes uploads: the status its uploads' verify
// event fires from (UPLOADING). Once process has verified the files (or the
// task expired, failed its upload or was cancelled), its upload URLs are
// refused with 409, so a verified input cannot be replaced under a worker.
func (s *Server) gateUploads(next http.Handler) http.Handler {
	gate := func(ctx context.Context, key string) error {
		id, ok := inputTask(key)
		if !ok {
			return nil // not a task's input: no lifecycle to follow
		}
		v, b, err := s.find(ctx, id)
		if errors.Is(err, tasktype.ErrNotFound) {
			return fmt.Errorf("%w: task %s no longer exists", blob.ErrUploadClosed, id)
		}
		if err != nil {
			return err
		}
		up := b.api().Uploads
		if up == nil || InputKey(v.owner, id, path.Base(key)) != key {
			return fmt.Errorf("%w: task %s takes no such upload", blob.ErrUploadClosed, id)
		}
		if !b.canFire(v, up.Verify) {
			return fmt.Errorf("%w: task %s is %s; its files can be uploaded only before POST /tasks/{id}/process, while it is uploading (ask for new upload URLs after a failed upload)", blob.ErrUploadClosed, id, v.key.Status)
		}
		return nil
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut {
			r = r.WithContext(blob.WithUploadGate(r.Context(), gate))
		}
		next.ServeHTTP(w, r)
	})
}

// inputTask reads the task id of an input key (InputKey's form).
func inputTask(key string) (uuid.UUID, bool) {
	parts := strings.Split(key, "/")
	if len(parts) != 6 || parts[0] != "users" || parts[2] != "tasks" || parts[4] != "inputs" {
		return uuid.Nil, false
	}
	id, err := uuid.Parse(parts[3])
	return id, err == nil
}

// fileRequest is one entry of the upload-urls request's files object.
type fileRequest struct {
	Filename    string `json:"filename"`
	ContentType string `json:"content_type"`
	Size        int64  `json:"size"`
}

// lookupUploads finds the task the path names, as lookup does, and its
// model's uploads; a model without uploads is not found.
func (s *Server) lookupUploads(r *http.Request) (*view, binding, *tasktype.Uploads, error) {
	v, b, err := s.lookup(r)
	if err != nil {
		return nil, nil, nil, err
	}
	up := b.api().Uploads
	if up == nil {
		p := problem(http.StatusConflict, "no-uploads", "Task type takes no uploads",
			fmt.Sprintf("task %s is of type %s, which takes no uploads: upload-urls and process apply to task types with files (%s)", v.key.ID, b.name(), strings.Join(s.uploadTypes(), ", ")))
		return nil, nil, nil, p
	}
	return v, b, up, nil
}

// uploadTypes lists the models that take uploads.
func (s *Server) uploadTypes() []string {
	var out []string
	for _, b := range s.models.order {
		if b.api().Uploads != nil {
			out = append(out, b.name())
		}
	}
	if len(out) == 0 {
		return []string{"none on this server"}
	}
	return out
}

// uploadURLs answers POST /tasks/{id}/upload-urls (the upload → process lifecycle): it signs an
// upload URL per file asked for, then fires the uploads' request event
// (CREATED or UPLOAD_FAILED → UPLOADING).
func (s *Server) uploadURLs(w http.ResponseWriter, r *http.Request) {
	fields, err := s.decodeObject(w, r)
	if err != nil {
		s.writeProblem(w, r, err)
		return
	}
	v, b, up, err := s.lookupUploads(r)
	if err != nil {
		s.writeProblem(w, r, err)
		return
	}
	wanted, err := parseUploadRequest(up, fields)
	if err != nil {
		s.writeProblem(w, r, err)
		return
	}
	if !b.canFire(v, up.Request) {
		_, err := b.fire(r.Context(), v, up.Request, false, nil, meta(r, ""))
		s.writeProblem(w, r, withActions(b, err))
		return
	}
	urls := map[string]*blob.Presigned{}
	for _, name := range sortedKeys(wanted) {
		f, _ := up.File(name)
		fr := wanted[name]
		p, err := s.cfg.Blobs.PresignUpload(r.Context(), blob.UploadRequest{
			Key: InputKey(v.owner, v.key.ID, name), ContentType: fr.ContentType,
			MaxSize: f.MaxBytes, Size: fr.Size, Expires: up.Expiry,
		})
		if err != nil {
			s.writeProblem(w, r, err)
			return
		}
		urls[name] = p
	}
	// A retry after a failed upload clears the failure's message.
	v, err = b.fire(r.Context(), v, up.Request, true, nil, meta(r, "POST /tasks/{id}/upload-urls"))
	if err != nil {
		s.writeProblem(w, r, withActions(b, err))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"task_id": v.key.ID, "status": v.key.Status, "uploads": urls})
}

// parseUploadRequest checks {files: {name: {filename, content_type,
// size?}}, <flag>: bool} against the spec's files and returns what to sign.
func parseUploadRequest(up *tasktype.Uploads, fields map[string]json.RawMessage) (map[string]fileRequest, error) {
	var described, flags []string
	for _, f := range up.Files {
		if f.Flag != "" {
			flags = append(flags, f.Flag)
		} else {
			described = append(described, f.Name)
		}
	}
	allowed := append([]string{"files"}, flags...)
	for _, k := range sortedKeys(fields) {
		if !slices.Contains(allowed, k) {
			return nil, badRequest(k, "unknown_field", "unknown field; allowed: "+strings.Join(allowed, ", "))
		}
	}
	files := map[string]json.RawMessage{}
	if raw, ok := fields["files"]; ok {
		obj, err := parseObject(raw)
		if err != nil {
			p := nestedProblem("files", err, "must be an object of files by name: "+strings.Join(described, ", "))
			if p.Errors[0].Rule == "object" {
				p.Errors[0].Rule = "type"
			}
			return nil, p
		}
		files = obj
	}
	out := map[string]fileRequest{}
	for _, name := range sortedKeys(files) {
		f, ok := up.File(name)
		if ok && f.Flag != "" {
			// A file of a fixed name is asked for with its flag, not
			// described: its name and content type are the spec's.
			return nil, badRequest("files."+name, "unknown_file", fmt.Sprintf("%s is not described under files; ask for it with %q: true beside files (files allowed: %s)", f.Filename, f.Flag, strings.Join(described, ", ")))
		}
		if !ok {
			return nil, badRequest("files."+name, "unknown_file", "unknown file; allowed: "+strings.Join(described, ", "))
		}
		obj, err := parseObject(files[name])
		if err != nil {
			return nil, badRequest("files."+name, "type", "must be an object {filename, content_type, size?}")
		}
		var fr fileRequest
		for _, k := range sortedKeys(obj) {
			var err error
			switch k {
			case "filename":
				err = json.Unmarshal(obj[k], &fr.Filename)
			case "content_type":
				err = json.Unmarshal(obj[k], &fr.ContentType)
			case "size":
				err = json.Unmarshal(obj[k], &fr.Size)
			default:
				return nil, badRequest("files."+name+"."+k, "unknown_field", "unknown field; allowed: filename, content_type, size")
			}
			if err != nil {
				return nil, badRequest("files."+name+"."+k, "type", "has the wrong type: filename and content_type are strings, size an integer")
			}
		}
		if err := blob.ValidateFilename(fr.Filename); err != nil {
			return nil, fieldAt("files."+name+".filename", err)
		}
		if err := blob.ValidateContentType(fr.ContentType); err != nil {
			return nil, fieldAt("files."+name+".content_type", err)
		}
		if len(f.ContentTypes) > 0 && !slices.Contains(f.ContentTypes, blob.MediaType(fr.ContentType)) {
			return nil, badRequest("files."+name+".content_type", "one_of", fmt.Sprintf("%q is not allowed; allowed: %s", fr.ContentType, strings.Join(f.ContentTypes, ", ")))
		}
		if fr.Size < 0 || fr.Size > f.MaxBytes {
			return nil, badRequest("files."+name+".size", "range", fmt.Sprintf("must be from 1 to %d bytes (0 or absent: not declared)", f.MaxBytes))
		}
		out[name] = fr
	}
	for _, f := range up.Files {
		if f.Required {
			if _, ok := out[f.Name]; !ok {
				return nil, badRequest("files."+f.Name, "required", "is required: {filename, content_type}")
			}
		}
		if f.Flag == "" {
			continue
		}
		raw, ok := fields[f.Flag]
		if !ok {
			continue
		}
		var on bool
		if err := json.Unmarshal(raw, &on); err != nil {
			return nil, badRequest(f.Flag, "type", "must be true or false")
		}
		if on {
			ct := "application/octet-stream"
			if len(f.ContentTypes) > 0 {
				ct = f.ContentTypes[0]
			}
			out[f.Name] = fileRequest{Filename: f.Filename, ContentType: ct}
		}
	}
	return out, nil
}

// fieldAt renames the field of a blob validation error.
func fieldAt(field string, err error) error {
	var fe *tasktype.FieldError
	if errors.As(err, &fe) {
		return badRequest(field, fe.Rule, fe.Message)
	}
	return badRequest(field, "invalid", err.Error())
}

// process answers POST /tasks/{id}/process (the upload → process lifecycle): when every required
// file is in storage (and every file keeps its limits) it fires the
// uploads' verify event (→ QUEUED) and wakes the workers; otherwise the
// missing event (→ UPLOAD_FAILED) with the spec's message. Both answer 200
// with the task: the request was carried out.
func (s *Server) process(w http.ResponseWriter, r *http.Request) {
	if err := s.emptyBody(w, r); err != nil {
		s.writeProblem(w, r, err)
		return
	}
	v, b, up, err := s.lookupUploads(r)
	if err != nil {
		s.writeProblem(w, r, err)
		return
	}
	if !b.canFire(v, up.Verify) {
		_, err := b.fire(r.Context(), v, up.Verify, false, nil, meta(r, ""))
		s.writeProblem(w, r, withActions(b, err))
		return
	}
	missing, bad, verified, err := s.checkUploads(r.Context(), up, v)
	if err != nil {
		s.writeProblem(w, r, err)
		return
	}
	if len(missing) > 0 || len(bad) > 0 {
		var parts []string
		if len(missing) > 0 {
			parts = append(parts, up.MissingMessage+" ("+strings.Join(missing, ", ")+")")
		}
		parts = append(parts, bad...)
		msg := truncate(strings.Join(parts, "; "), 500)
		v, err = b.fire(r.Context(), v, up.Missing, true, &msg, meta(r, "POST /tasks/{id}/process: "+msg))
		if err != nil {
			s.writeProblem(w, r, withActions(b, err))
			return
		}
		s.writeTask(w, r, http.StatusOK, v)
		return
	}
	// What the handler may read: OpenInput refuses a file replaced since.
	if err := recordInputs(r.Context(), s.cfg.Blobs, v.owner, v.key.ID, verified); err != nil {
		s.writeProblem(w, r, err)
		return
	}
	v0 := v
	v, err = b.fire(r.Context(), v, up.Verify, false, nil, meta(r, "POST /tasks/{id}/process"))
	if err != nil {
		s.forgetInputs(r.Context(), b, v0)
		s.writeProblem(w, r, withActions(b, err))
		return
	}
	if s.cfg.Wake != nil {
		s.cfg.Wake(b.name())
	}
	s.writeTask(w, r, http.StatusOK, v)
}

// forgetInputs deletes the record of verified inputs that a process whose
// fire failed wrote, when the task can no longer run: it is gone or
// finished (the sweeper expired it, and deleted its folder, while the
// files were checked). A task that another process request moved on keeps
// the record, which its handler reads.
func (s *Server) forgetInputs(ctx context.Context, b binding, v *view) {
	ctx = context.WithoutCancel(ctx)
	now, err := b.get(ctx, v.key.ID)
	if err == nil {
		if st, ok := b.lifecycle().Status(now.key.Status); !ok || !st.Terminal {
			return
		}
	} else if !errors.Is(err, tasktype.ErrNotFound) {
		return
	}
	if err := s.cfg.Blobs.Delete(ctx, VerifiedInputsKey(v.owner, v.key.ID)); err != nil && !errors.Is(err, blob.ErrNotFound) {
		s.log.Warn("deleting the record of a finished task's verified inputs", "task", v.key.ID, "error", err)
	}
}

// checkUploads verifies a task's files: required ones must exist; every
// present one must keep its size bounds and content type, and a file of
// format json must be one well-formed JSON value (a file that does not is
// deleted, so the client uploads it again). Content types are compared as
// upload-urls compares them, by media type (blob.MediaType): a file
// uploaded as "text/csv; charset=utf-8" is a text/csv file. verified holds
// the files that passed, by name, as they were checked.
func (s *Server) checkUploads(ctx context.Context, up *tasktype.Uploads, v *view) (missing, bad []string, verified map[string]blob.Info, err error) {
	verified = make(map[string]blob.Info, len(up.Files))
	for _, f := range up.Files {
		key := InputKey(v.owner, v.key.ID, f.Name)
		want := blob.Expect{MaxSize: f.MaxBytes}
		if len(f.ContentTypes) == 1 {
			want.ContentType = f.ContentTypes[0]
		}
		info, err := blob.Verify(ctx, s.cfg.Blobs, key, want)
		problem := ""
		switch {
		case errors.Is(err, blob.ErrNotFound):
			if f.Required {
				missing = append(missing, f.Name)
			}
			continue
		case errors.Is(err, blob.ErrTooLarge):
			bad = append(bad, fmt.Sprintf("%s is larger than %d bytes", f.Name, f.MaxBytes))
			continue
		case errors.Is(err, blob.ErrContentType):
			bad = append(bad, fmt.Sprintf("%s must be %s", f.Name, want.ContentType))
			continue
		case err != nil:
			return nil, nil, nil, err
		case len(f.ContentTypes) > 1 && !slices.Contains(f.ContentTypes, blob.MediaType(info.ContentType)):
			problem = fmt.Sprintf("%s must be one of %s", f.Name, strings.Join(f.ContentTypes, ", "))
		case info.Size < f.MinBytes && info.Size == 0:
			problem = fmt.Sprintf("%s is empty; it must hold at least %s", f.Name, bytesOf(f.MinBytes))
		case info.Size < f.MinBytes:
			problem = fmt.Sprintf("%s is %s; it must hold at least %s", f.Name, bytesOf(info.Size), bytesOf(f.MinBytes))
		case f.Format == "json":
			msg, etag, err := s.checkJSON(ctx, key)
			switch {
			case err != nil:
				return nil, nil, nil, err
			case msg != "":
				problem = fmt.Sprintf("%s is not valid JSON (%s)", f.Name, msg)
			case etag != info.ETag:
				problem = fmt.Sprintf("%s was replaced while it was checked; upload it again", f.Name)
			}
		}
		if problem == "" {
			verified[f.Name] = info
			continue
		}
		if err := s.cfg.Blobs.Delete(ctx, key); err != nil && !errors.Is(err, blob.ErrNotFound) {
			return nil, nil, nil, err
		}
		bad = append(bad, problem)
	}
	return missing, bad, verified, nil
}

func bytesOf(n int64) string {
	if n == 1 {
		return "1 byte"
	}
	return fmt.Sprintf("%d bytes", n)
}

// checkJSON reads the blob at key as one JSON value and says what is
// wrong with it, or "" if nothing is, with the ETag of the blob it read.
// It streams: the file is at most its max_size, but need not be held whole.
func (s *Server) checkJSON(ctx context.Context, key string) (msg, etag string, err error) {
	rd, info, err := s.cfg.Blobs.Open(ctx, key)
	if errors.Is(err, blob.ErrNotFound) {
		return "", "", nil // deleted since it was found: not the blob found
	}
	if err != nil {
		return "", "", err
	}
	defer rd.Close()
	msg, err = jsonProblem(ctx, rd)
	return msg, info.ETag, err
}

// jsonProblem reads r as one JSON value and says what is wrong with it, or
// "" if nothing is.
func jsonProblem(ctx context.Context, r io.Reader) (string, error) {
	dec := json.NewDecoder(r)
	depth := 0
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			if depth == 0 && dec.InputOffset() > 0 {
				return "", nil
			}
			return "it ends before its value does", nil
		}
		if err != nil {
			var se *json.SyntaxError
			if errors.As(err, &se) {
				return fmt.Sprintf("at byte %d: %s", se.Offset, se.Error()), nil
			}
			if ctx.Err() != nil {
				return "", ctx.Err()
			}
			return "it cannot be parsed: " + err.Error(), nil
		}
		if d, ok := tok.(json.Delim); ok {
			if d == '{' || d == '[' {
				depth++
			} else {
				depth--
			}
		}
		if depth == 0 && dec.More() {
			return "it holds more than one JSON value", nil
		}
	}
}

// downloads answers GET /tasks/{id}/downloads: a signed download URL for
// each output of a finished task.
func (s *Server) downloads(w http.ResponseWriter, r *http.Request) {
	v, b, err := s.lookup(r)
	if err != nil {
		s.writeProblem(w, r, err)
		return
	}
	if s.cfg.Blobs == nil {
		s.writeProblem(w, r, notFound("this server stores no files"))
		return
	}
	if !v.finished {
		s.writeProblem(w, r, problem(http.StatusConflict, "not-finished", "Task not finished", fmt.Sprintf("downloads are available once the task has finished; it is %s", v.key.Status)))
		return
	}
	expiry := 15 * time.Minute
	if up := b.api().Uploads; up != nil {
		expiry = up.Expiry
	}
	type download struct {
		Name        string `json:"name"`
		Size        int64  `json:"size"`
		ContentType string `json:"content_type"`
		*blob.Presigned
	}
	out := []download{}
	for info, err := range s.cfg.Blobs.List(r.Context(), OutputPrefix(v.owner, v.key.ID)) {
		if err != nil {
			s.writeProblem(w, r, err)
			return
		}
		name := path.Base(info.Key)
		p, err := s.cfg.Blobs.PresignDownload(r.Context(), blob.DownloadRequest{Key: info.Key, Filename: name, Expires: expiry})
		if err != nil {
			s.writeProblem(w, r, err)
			return
		}
		out = append(out, download{Name: strings.TrimPrefix(info.Key, OutputPrefix(v.owner, v.key.ID)), Size: info.Size, ContentType: info.ContentType, Presigned: p})
	}
	writeJSON(w, http.StatusOK, map[string]any{"task_id": v.key.ID, "downloads": out})
}
