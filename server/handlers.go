package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"

	"github.com/google/uuid"

	"github.com/taskmodel/taskmodel/sdk/engine"
	"github.com/taskmodel/taskmodel/tasktype"
	"github.com/taskmodel/taskmodel/validation"
)

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		http.Error(w, `{"title":"Internal server error","status":500}`, http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}

// taskJSON is a task as the API returns it: the model's JSON with a
// task_id (unless the model has a task_id field of its own, as the stage model's
// stage does; its id is then only "id") and the task_type in front.
func taskJSON(v *view) ([]byte, error) {
	body, err := json.Marshal(v.task)
	if err != nil {
		return nil, err
	}
	if len(body) < 2 || body[0] != '{' {
		return nil, errors.New("server: a task does not marshal to a JSON object")
	}
	var b bytes.Buffer
	b.Grow(len(body) + 80)
	if v.ownTaskID {
		fmt.Fprintf(&b, `{"task_type":%q`, v.model)
	} else {
		fmt.Fprintf(&b, `{"task_id":%q,"task_type":%q`, v.key.ID.String(), v.model)
	}
	if len(body) > 2 {
		b.WriteByte(',')
	}
	b.Write(body[1:])
	return b.Bytes(), nil
}

func (s *Server) writeTask(w http.ResponseWriter, r *http.Request, status int, v *view) {
	body, err := taskJSON(v)
	if err != nil {
		s.writeProblem(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}

// maxDrain bounds how much of an oversized body the server reads (and
// drops) before it answers 413: a client still sending when the server
// closes the connection gets a TCP reset, which can destroy the answer
// before the client reads it. Past maxDrain beyond the limit the server
// closes anyway; the 413 then reaches clients that read the answer while
// they send (as net/http's client and curl do).
const maxDrain = 8 << 20

// decodeObject reads a JSON object body (at most MaxBodyBytes). An empty
// body is an empty object: the upload → process lifecycle's frontend POSTs /process without one.
func (s *Server) decodeObject(w http.ResponseWriter, r *http.Request) (map[string]json.RawMessage, error) {
	return s.decodeBody(w, r, false)
}

// decodeBody is decodeObject; with required, an empty body is a 400 (a
// route whose fields must be sent, such as POST /tasks).
func (s *Server) decodeBody(w http.ResponseWriter, r *http.Request, required bool) (map[string]json.RawMessage, error) {
	if ce := r.Header.Get("Content-Encoding"); ce != "" && !strings.EqualFold(strings.TrimSpace(ce), "identity") {
		// Decoding it is not supported: reading it as plain JSON would
		// refuse it with a misleading error, or misread it (RFC 9110
		// 15.5.16: a 415, naming the codings accepted).
		w.Header().Set("Accept-Encoding", "identity")
		return nil, problem(http.StatusUnsupportedMediaType, "unsupported", "Unsupported Media Type",
			fmt.Sprintf("Content-Encoding %q is not supported: send the JSON body uncompressed", truncate(ce, 40)))
	}
	max := s.cfg.MaxBodyBytes
	tooBig := problem(http.StatusRequestEntityTooLarge, "too-large", "Request body too large", fmt.Sprintf("the body must be at most %d bytes", max))
	if r.ContentLength > max+maxDrain {
		w.Header().Set("Connection", "close")
		return nil, tooBig
	}
	data, err := io.ReadAll(io.LimitReader(r.Body, max+1))
	if err == nil && int64(len(data)) > max {
		// Read the rest (up to maxDrain), so that the client finishes
		// sending and reads the 413, then close the connection.
		_, err = io.CopyN(io.Discard, r.Body, maxDrain)
		w.Header().Set("Connection", "close")
		if err != nil && !errors.Is(err, io.EOF) && IsSlowBody(err) {
			return nil, slowBody(err)
		}
		return nil, tooBig
	}
	if err != nil {
		if IsSlowBody(err) {
			w.Header().Set("Connection", "close")
			return nil, slowBody(err)
		}
		msg := "could not be read whole: the connection failed or the body is shorter than its Content-Length"
		if r.ContentLength < 0 { // chunked
			msg = "could not be read whole: the connection failed or its chunked encoding is malformed"
		}
		return nil, badRequest("body", "read", msg)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		if required {
			return nil, badRequest("body", "json", "must be a JSON object (the body is empty)")
		}
		return map[string]json.RawMessage{}, nil
	}
	return parseObject(data)
}

// slowBody is the 408 of a body cut off for its pace.
func slowBody(err error) *Problem {
	return problem(http.StatusRequestTimeout, "timeout", "Request body too slow", err.Error()+" (after a grace period); send it faster or in one go")
}

// nestedProblem is the 400 of parseObject's error err on the object in
// field outer: a member's refusal (a name twice, text that is not valid)
// names the member under outer ("result.records_processed: appears twice
// in the object"); any other is outer's, with message.
func nestedProblem(outer string, err error, message string) *Problem {
	var p *Problem
	if errors.As(err, &p) && len(p.Errors) == 1 && p.Errors[0].Field != "body" && p.Errors[0].Rule != "json" {
		return badRequest(outer+"."+p.Errors[0].Field, p.Errors[0].Rule, p.Errors[0].Message)
	}
	return badRequest(outer, "object", message)
}

// parseObject parses one JSON object; duplicate keys, trailing data and any
// other JSON value are errors, and so is text that is not valid UTF-8 or
// escapes a lone UTF-16 surrogate (which encoding/json would silently
// decode as U+FFFD): in a value, a 400 naming its field; in a name, one
// naming body.
func parseObject(data []byte) (map[string]json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	tok, err := dec.Token()
	if d, ok := tok.(json.Delim); err != nil || !ok || d != '{' {
		return nil, badRequest("body", "json", "must be a JSON object")
	}
	out := map[string]json.RawMessage{}
	for dec.More() {
		from := dec.InputOffset()
		tok, err := dec.Token()
		if err != nil {
			return nil, notJSON(err)
		}
		if err := validation.CheckJSONEncoding(data[from:dec.InputOffset()]); err != nil {
			return nil, badRequest("body", "text", "a field name "+err.Error())
		}
		key, _ := tok.(string)
		if _, dup := out[key]; dup {
			return nil, badRequest(key, "duplicate", "appears twice in the object")
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, notJSON(err)
		}
		if err := validation.CheckJSONEncoding(v); err != nil {
			return nil, badRequest(key, "text", err.Error())
		}
		out[key] = v
	}
	if _, err := dec.Token(); err != nil {
		return nil, notJSON(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, badRequest("body", "json", "must hold one JSON object and nothing after it")
	}
	return out, nil
}

// notJSON is the 400 of a body the decoder refused, in plain words.
func notJSON(err error) *Problem {
	at, what := validation.DescribeJSONError(err)
	switch {
	case what == "":
		return badRequest("body", "json", "is not valid JSON")
	case at < 0:
		return badRequest("body", "json", "is not valid JSON: "+what)
	}
	return badRequest("body", "json", fmt.Sprintf("is not valid JSON at byte %d: %s", at, what))
}

func meta(r *http.Request, message string) engine.Meta {
	return engine.Meta{Actor: "user:" + userOf(r).Name, Message: message}
}

// creatable lists the models clients may create.
func (s *Server) creatable() []string {
	var out []string
	for _, b := range s.models.order {
		if len(b.api().Create) > 0 {
			out = append(out, b.name())
		}
	}
	return out
}

func (s *Server) createTask(w http.ResponseWriter, r *http.Request) {
	fields, err := s.decodeBody(w, r, true)
	if err != nil {
		s.writeProblem(w, r, err)
		return
	}
	tt := s.cfg.DefaultTaskType
	if raw, ok := fields["task_type"]; ok {
		if string(raw) == "null" {
			s.writeProblem(w, r, badRequest("task_type", "type", fmt.Sprintf("must be a string naming a task type, not null; omit it for the default (%s); allowed: %s", tt, strings.Join(s.creatable(), ", "))))
			return
		}
		if err := json.Unmarshal(raw, &tt); err != nil {
			s.writeProblem(w, r, badRequest("task_type", "type", "must be a string naming a task type; allowed: "+strings.Join(s.creatable(), ", ")))
			return
		}
		delete(fields, "task_type")
	}
	b, ok := s.models.byName[tt]
	if !ok || len(b.api().Create) == 0 {
		msg := fmt.Sprintf("unknown task type %q", tt)
		if ok {
			msg = fmt.Sprintf("task type %q cannot be created over HTTP", tt)
		}
		s.writeProblem(w, r, badRequest("task_type", "one_of", msg+"; allowed: "+strings.Join(s.creatable(), ", ")))
		return
	}
	u := userOf(r)
	v, err := b.create(r.Context(), u.Name, fields, meta(r, "POST /tasks"))
	if err != nil {
		s.writeProblem(w, r, err)
		return
	}
	w.Header().Set("Location", "/tasks/"+v.key.ID.String())
	s.writeTask(w, r, http.StatusCreated, v)
}

// visible reports whether u may see a task: its owner, or an admin.
func visible(u User, v *view) bool { return u.Admin || (v.owner != "" && v.owner == u.Name) }

// taskID parses a path's task id (pathID).
func taskID(raw string) (uuid.UUID, error) { return pathID("task", raw) }

// pathID parses the id of a task or a pipeline run (what) from a path: a
// UUID in its canonical form only, 36 characters with hyphens after the
// 8th, 12th, 16th and 20th hex digit (either case: 123E4567-… is the task
// 123e4567-…), so that a task has one URL — not the braced, urn:uuid: or
// undashed forms uuid.Parse also reads — and not the nil UUID, which no
// task has.
func pathID(what, raw string) (uuid.UUID, error) {
	id, err := uuid.Parse(raw)
	if err != nil || len(raw) != 36 {
		return uuid.Nil, badRequest("id", "uuid", fmt.Sprintf("must be a %s id (a UUID such as 123e4567-e89b-12d3-a456-426614174000), not %q", what, truncate(raw, 80)))
	}
	if id == uuid.Nil {
		return uuid.Nil, badRequest("id", "uuid", fmt.Sprintf("must be a %s id: the nil UUID (all zeros) is never one", what))
	}
	return id, nil
}

// lookup finds the task named by the path's id in any model, as the
// request's user may see it; a task of another user is not found.
func (s *Server) lookup(r *http.Request) (*view, binding, error) {
	id, err := taskID(r.PathValue("id"))
	if err != nil {
		return nil, nil, err
	}
	// The routes of one task take no query parameters but the event
	// stream's token (once), as GET /tasks and /pipelines refuse theirs.
	var params []string
	if strings.HasSuffix(r.URL.Path, "/events") {
		params = []string{"access_token"}
	}
	if _, err := queryOf(r, params...); err != nil {
		return nil, nil, err
	}
	v, b, err := s.find(r.Context(), id)
	if err != nil {
		return nil, nil, err
	}
	if !visible(userOf(r), v) {
		return nil, nil, notFound("no such task")
	}
	return v, b, nil
}

// find reads a task by id from whichever model holds it, the default
// model first.
func (s *Server) find(ctx context.Context, id uuid.UUID) (*view, binding, error) {
	if d, ok := s.models.byName[s.cfg.DefaultTaskType]; ok {
		v, err := d.get(ctx, id)
		if err == nil || !errors.Is(err, tasktype.ErrNotFound) {
			return v, d, err
		}
	}
	for _, b := range s.models.order {
		if b.name() == s.cfg.DefaultTaskType {
			continue
		}
		v, err := b.get(ctx, id)
		if err == nil || !errors.Is(err, tasktype.ErrNotFound) {
			return v, b, err
		}
	}
	return nil, nil, notFound("no such task")
}

func (s *Server) getTask(w http.ResponseWriter, r *http.Request) {
	v, _, err := s.lookup(r)
	if err != nil {
		s.writeProblem(w, r, err)
		return
	}
	s.writeTask(w, r, http.StatusOK, v)
}

func (s *Server) taskHistory(w http.ResponseWriter, r *http.Request) {
	v, b, err := s.lookup(r)
	if err != nil {
		s.writeProblem(w, r, err)
		return
	}
	h, err := b.history(r.Context(), v.key.ID)
	if err != nil {
		s.writeProblem(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, h)
}

func (s *Server) cancelTask(w http.ResponseWriter, r *http.Request) {
	if err := s.emptyBody(w, r); err != nil {
		s.writeProblem(w, r, err)
		return
	}
	v, b, err := s.lookup(r)
	if err != nil {
		s.writeProblem(w, r, err)
		return
	}
	if s.cancelsRuns(b) {
		v, err = s.cancelRun(r.Context(), b, v, meta(r, "").Actor)
		if err != nil {
			s.writeProblem(w, r, err)
			return
		}
		s.writeTask(w, r, http.StatusOK, v)
		return
	}
	if b.worker().Cancel == "" {
		s.writeProblem(w, r, s.noCancel(b, v))
		return
	}
	// A worker's progress updates bump the version: the engine's Cancel
	// retries a lost race on a fresh read.
	v, err = b.cancel(r.Context(), v.key.ID, meta(r, "POST /tasks/{id}/cancel"))
	if err != nil {
		s.writeProblem(w, r, withActions(b, err))
		return
	}
	s.writeTask(w, r, http.StatusOK, v)
}

// emptyBody accepts no body, an empty one or {}.
func (s *Server) emptyBody(w http.ResponseWriter, r *http.Request) error {
	fields, err := s.decodeObject(w, r)
	if err != nil {
		return err
	}
	for k := range fields {
		return badRequest(k, "unknown_field", "unknown field; this request takes no body")
	}
	return nil
}

func truncate(s string, n int) string { return tasktype.Truncate(s, n) }

// sortedKeys returns a map's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
