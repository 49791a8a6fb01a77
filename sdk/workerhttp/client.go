// Package workerhttp is a Go client of the worker protocol of taskmodel
// serve (POST /worker/claim and /worker/tasks/{id}/heartbeat, progress,
// complete, fail and release; see docs/workers.md): a worker in another process, or
// on another machine, claims tasks with a worker token and ends them under
// the lease the claim returned. taskmodel work runs on it.
package workerhttp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"time"
)

// Client calls the worker protocol of one server with one worker token.
type Client struct {
	// URL is the server's base URL, such as http://127.0.0.1:8080.
	URL string
	// Token is a worker token (taskmodel token create --worker).
	Token string
	// HTTP is the client requests go through (default: one without a
	// timeout; a claim waits up to its WaitSeconds, and contexts bound the
	// rest).
	HTTP *http.Client
}

// New returns a client of the server at base with a worker token; base must
// be an http or https URL.
func New(base, token string) (*Client, error) {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("server URL %q: must be an http:// or https:// URL such as http://127.0.0.1:8080", base)
	}
	if token == "" {
		return nil, errors.New("a worker token is required (taskmodel token create --worker --models MODEL,...)")
	}
	return &Client{URL: strings.TrimSuffix(base, "/"), Token: token, HTTP: &http.Client{}}, nil
}

// ClaimRequest is the body of POST /worker/claim.
type ClaimRequest struct {
	// Models to claim from (default: every model of the token).
	Models []string `json:"models,omitempty"`
	// Limit is how many tasks at most (1 to 100; default 1).
	Limit int `json:"limit,omitempty"`
	// WaitSeconds is how long the server waits for a task when none is
	// queued (0 to 30).
	WaitSeconds int `json:"wait_seconds,omitempty"`
	// Worker names this worker in the tasks' history (default "worker").
	Worker string `json:"worker,omitempty"`
}

// Task is a claimed task.
type Task struct {
	TaskType         string    `json:"task_type"`
	ID               string    `json:"id"`
	Lease            string    `json:"lease"`
	LeaseExpiresAt   time.Time `json:"lease_expires_at"`
	HeartbeatSeconds int       `json:"heartbeat_seconds"`
	// Traceparent is the W3C trace context the task was created with,
	// when the server traces ("" otherwise): a worker's spans continue it.
	Traceparent string `json:"traceparent,omitempty"`
	// Task is the task as GET /tasks/{id} returns it, in the running
	// status.
	Task json.RawMessage `json:"task"`
}

// LeaseState is the answer of a heartbeat or a progress report.
type LeaseState struct {
	// Cancelled: the task was cancelled; stop working on it.
	Cancelled      bool       `json:"cancelled"`
	LeaseExpiresAt *time.Time `json:"lease_expires_at"`
	// Recorded, of a progress report: false when the task's status maps no
	// progress and no detail was given.
	Recorded *bool `json:"recorded,omitempty"`
}

// Problem is an error answer of the server (application/problem+json).
type Problem struct {
	Type          string         `json:"type"`
	Title         string         `json:"title"`
	Status        int            `json:"status"`
	Detail        string         `json:"detail"`
	CurrentStatus string         `json:"current_status,omitempty"`
	Errors        []FieldProblem `json:"errors,omitempty"`
}

// FieldProblem is one refused field of a request.
type FieldProblem struct {
	Field   string `json:"field"`
	Rule    string `json:"rule,omitempty"`
	Message string `json:"message"`
}

func (p *Problem) Error() string {
	if p.Detail != "" {
		return fmt.Sprintf("%s (%d): %s", p.Title, p.Status, p.Detail)
	}
	return fmt.Sprintf("%s (%d)", p.Title, p.Status)
}

// LeaseLostType is the problem type of a lease the worker no longer holds.
const LeaseLostType = "urn:taskmodel:problem:lease-lost"

// IsLeaseLost reports whether err is the server's answer that the lease no
// longer holds the task (expired and taken over, or ended).
func IsLeaseLost(err error) bool {
	var p *Problem
	return errors.As(err, &p) && p.Type == LeaseLostType
}

// HasField reports whether err is a 400 that refused field.
func HasField(err error, field string) bool {
	var p *Problem
	if !errors.As(err, &p) || p.Status != http.StatusBadRequest {
		return false
	}
	for _, f := range p.Errors {
		if f.Field == field || strings.HasPrefix(f.Field, field+".") {
			return true
		}
	}
	return false
}

// Claim claims tasks; an empty list when the wait ended with none.
func (c *Client) Claim(ctx context.Context, req ClaimRequest) ([]Task, error) {
	var out struct {
		Tasks []Task `json:"tasks"`
	}
	err := c.post(ctx, "/worker/claim", req, &out)
	return out.Tasks, err
}

// Heartbeat renews a task's lease.
func (c *Client) Heartbeat(ctx context.Context, id, lease string) (LeaseState, error) {
	var out LeaseState
	err := c.post(ctx, "/worker/tasks/"+url.PathEscape(id)+"/heartbeat", map[string]any{"lease": lease}, &out)
	return out, err
}

// Progress reports percent (0 to 100) of a task's work done and, if not
// nil, its progress detail (a JSON object); it renews the lease too.
func (c *Client) Progress(ctx context.Context, id, lease string, percent float64, detail json.RawMessage) (LeaseState, error) {
	body := map[string]any{"lease": lease, "percent": percent}
	if detail != nil {
		body["detail"] = detail
	}
	var out LeaseState
	err := c.post(ctx, "/worker/tasks/"+url.PathEscape(id)+"/progress", body, &out)
	return out, err
}

// Complete ends a task with the complete event, setting result fields (a
// JSON object, or nil); it returns the task.
func (c *Client) Complete(ctx context.Context, id, lease string, result json.RawMessage) (json.RawMessage, error) {
	body := map[string]any{"lease": lease}
	if result != nil {
		body["result"] = result
	}
	var out json.RawMessage
	err := c.post(ctx, "/worker/tasks/"+url.PathEscape(id)+"/complete", body, &out)
	return out, err
}

// Fail ends a task with the fail event: code is an error code of the
// model's spec, or "" for the worker section's; it returns the task.
func (c *Client) Fail(ctx context.Context, id, lease, code, message string) (json.RawMessage, error) {
	body := map[string]any{"lease": lease, "message": message}
	if code != "" {
		body["error_code"] = code
	}
	var out json.RawMessage
	err := c.post(ctx, "/worker/tasks/"+url.PathEscape(id)+"/fail", body, &out)
	return out, err
}

// Release gives back a task the worker claimed but has not started (it
// cannot run it, or it is stopping): the server moves it back to the
// queue at once, for any worker to claim, and the claim does not count as
// an attempt. reason ("" for none; at most 1000 bytes) goes into the
// task's history. It returns the task, queued. A model without a requeue
// event refuses it (409): complete or fail the task instead.
func (c *Client) Release(ctx context.Context, id, lease, reason string) (json.RawMessage, error) {
	body := map[string]any{"lease": lease}
	if reason != "" {
		body["message"] = reason
	}
	var out json.RawMessage
	err := c.post(ctx, "/worker/tasks/"+url.PathEscape(id)+"/release", body, &out)
	return out, err
}

// maxAnswer bounds an answer's body.
const maxAnswer = 64 << 20

func (c *Client) post(ctx context.Context, path string, body, out any) error {
	data, err := json.Marshal(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.URL+path, bytes.NewReader(data))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.Token)
	req.Header.Set("Content-Type", "application/json")
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return &UnreachableError{URL: c.URL, Err: err}
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return fmt.Errorf("POST %s: reading the answer: %w", path, err)
	}
	if resp.StatusCode != http.StatusOK {
		p := &Problem{Status: resp.StatusCode, Title: resp.Status}
		if json.Unmarshal(raw, p) != nil || p.Status == 0 {
			p.Status, p.Detail = resp.StatusCode, strings.TrimSpace(string(raw))
		}
		return p
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("POST %s: the answer is not the JSON expected: %w", path, err)
	}
	return nil
}

// UnreachableError is a request the server did not answer: it is not
// running there, restarting, or the network or the request's time ran
// out. It unwraps to the HTTP client's error.
type UnreachableError struct {
	URL string
	Err error
}

func (e *UnreachableError) Error() string {
	return fmt.Sprintf("cannot reach the server at %s (%s)", e.URL, reason(e.Err))
}

func (e *UnreachableError) Unwrap() error { return e.Err }

// reason is a transport error in a few words: the system's ("connection
// refused"), or what is left without the request's method and URL.
func reason(err error) string {
	var errno syscall.Errno
	switch {
	case errors.As(err, &errno):
		return errno.Error()
	case errors.Is(err, context.DeadlineExceeded):
		return "no answer in time"
	case errors.Is(err, context.Canceled):
		return "the request was cancelled"
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err.Error()
	}
	return err.Error()
}
