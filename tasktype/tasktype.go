package tasktype

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
)

// Code is the unified one-letter status code that lets tasks of different
// models be listed together (the unified listing): every status of a model maps to one.
type Code string

// The unified status codes.
const (
	CodeQueued    Code = "Q" // waiting to be processed
	CodeRunning   Code = "R" // being executed
	CodeDone      Code = "D" // completed successfully
	CodeFailed    Code = "F" // failed with an error
	CodeCancelled Code = "C" // cancelled
)

var codes = [...]Code{CodeQueued, CodeRunning, CodeDone, CodeFailed, CodeCancelled}

// Codes returns every unified status code in the order Q, R, D, F, C.
func Codes() []Code { return codes[:] }

// Valid reports whether c is one of the unified status codes.
func (c Code) Valid() bool {
	switch c {
	case CodeQueued, CodeRunning, CodeDone, CodeFailed, CodeCancelled:
		return true
	}
	return false
}

// String returns the code's letter.
func (c Code) String() string { return string(c) }

// Word is the code's word in lower case, as people say it: "waiting" for
// Q (it covers every status that waits, for a worker or for something
// else, such as an upload the user must retry), "running", "done",
// "failed", "cancelled"; "" for a code that is not one of them.
func (c Code) Word() string {
	switch c {
	case CodeQueued:
		return "waiting"
	case CodeRunning:
		return "running"
	case CodeDone:
		return "done"
	case CodeFailed:
		return "failed"
	case CodeCancelled:
		return "cancelled"
	}
	return ""
}

// ParseCode parses a unified status code; the error lists the allowed codes.
func ParseCode(s string) (Code, error) {
	if c := Code(s); c.Valid() {
		return c, nil
	}
	return "", &FieldError{Field: "status", Value: s, Message: "must be one of Q, R, D, F, C"}
}

// Display is what a user interface shows for a status (a frontend's
// STATUS_DISPLAY and POLL_INTERVALS tables).
type Display struct {
	Label   string `json:"label,omitempty"`
	Color   string `json:"color,omitempty"`
	Icon    string `json:"icon,omitempty"`
	Message string `json:"message,omitempty"`
	// PollInterval is how often a client should poll a task in this status;
	// zero means the spec gives none (for example a terminal status).
	PollInterval time.Duration `json:"poll_interval,omitempty"`
}

// ErrTransitionNotAllowed is matched by every generated *TransitionError:
// errors.Is(err, tasktype.ErrTransitionNotAllowed) holds for an event that may
// not fire from the task's current status, whatever the model.
var ErrTransitionNotAllowed = errors.New("transition not allowed")

// ErrValidation is matched by *ValidationError and *FieldError.
var ErrValidation = errors.New("validation failed")

// FieldError says that one field holds a value the spec does not allow.
type FieldError struct {
	// Field is the JSON path of the field: "stage_name", "history[2].attempt".
	Field string
	// Rule is the spec limit that failed ("max_len", "ge", "required",
	// "one_of", "unknown_field", …); empty when the error is not a limit.
	Rule string
	// Value is the offending value as text, when it is short enough to show.
	Value string
	// Message says what is allowed: "must be at most 150 characters".
	Message string
	// Allowed lists the values a one_of rule allows (an enumeration's, a
	// status's or an error code's), in declaration order; nil for other
	// rules.
	Allowed []string
}

func (e *FieldError) Error() string {
	if e.Field == "" {
		return e.Message
	}
	return e.Field + ": " + e.Message
}

// Is makes errors.Is(err, ErrValidation) true.
func (e *FieldError) Is(target error) bool { return target == ErrValidation }

// ValidationError lists every field of a value that failed validation.
type ValidationError struct {
	// Type names what was validated, e.g. "local.Config", for errors about
	// a Go API; empty when the fields say all there is to say (Error then
	// lists only them), as in every error of a generated model, whose
	// messages name fields by their JSON path and never a Go type.
	Type   string
	Fields []*FieldError
}

func (e *ValidationError) Error() string {
	var b strings.Builder
	if e.Type != "" {
		fmt.Fprintf(&b, "invalid %s: ", e.Type)
	}
	for i, f := range e.Fields {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(f.Error())
	}
	return b.String()
}

// Is makes errors.Is(err, ErrValidation) true.
func (e *ValidationError) Is(target error) bool { return target == ErrValidation }

// Unwrap returns the field errors, so errors.As(err, &*FieldError) finds the first.
func (e *ValidationError) Unwrap() []error {
	errs := make([]error, len(e.Fields))
	for i, f := range e.Fields {
		errs[i] = f
	}
	return errs
}

// FillRange returns the percent a status with a progress range reports when
// done (a fraction from 0 to 1; out-of-range and NaN values are clamped) of
// its work is finished: from + ⌊(to − from) × done⌋, as the analysis model
// computes 15 + int(completed/total × 80).
func FillRange(from, to int, done float64) int {
	switch {
	case !(done > 0): // also NaN
		done = 0
	case done > 1:
		done = 1
	}
	return from + int(float64(to-from)*done)
}

// Errors a storage backend returns. Test them with errors.Is; a failed call
// writes nothing.
var (
	// ErrNotFound: no task has that id.
	ErrNotFound = errors.New("task not found")
	// ErrConflict: the task changed since it was read (another writer won the
	// race); read it again and decide again.
	ErrConflict = errors.New("task changed concurrently")
	// ErrDuplicate: a task with that id exists already.
	ErrDuplicate = errors.New("task already exists")
	// ErrClosed: the program closed the database (the *sql.DB or
	// *pgxpool.Pool) that the backend uses; nothing more can be read or
	// written through it.
	ErrClosed = errors.New("the database is closed")
)

// Key is what a guarded write compares: the task's id, and the status and
// version it had when it was read. Every generated model has a Key method.
type Key struct {
	ID      uuid.UUID
	Status  string
	Version int64
}

// Migration is one versioned step of a model's SQL schema for one engine.
// Backends apply each once, in order, and refuse to run when an applied
// migration's SQL has since changed.
type Migration struct {
	// Name identifies the step: "<model>/0001_schema".
	Name string
	// SQL is the script, run in one transaction.
	SQL string
}

// Checksum identifies the migration's SQL: backends record it when they
// apply a migration and compare it afterwards.
func (m Migration) Checksum() string {
	sum := sha256.Sum256([]byte(m.SQL))
	return hex.EncodeToString(sum[:])
}

// Row is one task in the unified listing: the same shape for
// every model.
type Row struct {
	ID         uuid.UUID  `json:"id"`
	TaskType   string     `json:"task_type"`
	TaskStatus Code       `json:"task_status"`
	Tag        *string    `json:"tag"`
	CreatedAt  time.Time  `json:"created_at"`
	EndDate    *time.Time `json:"end_date"`
}

// Worker is a model's worker section, as generated code exposes it: the
// events a worker pool fires (Cancel and Requeue may be empty), the statuses
// it claims from and runs in, and how a task whose worker vanished is
// rescued.
type Worker struct {
	Claim, Complete, Fail, Cancel, Requeue string // event names
	Queue, Running                         string // status names
	// MaxAttempts is how many times a task may be reserved; a task whose
	// lease expired is requeued while attempts remain, else it fails.
	MaxAttempts int
	// Lease is how long a worker holds a task between heartbeats.
	Lease time.Duration
	// ErrorCode is the code of a failure that carries none of its own (a
	// plain error, a panic, a lost lease); empty when failures need no code.
	ErrorCode string
}

// Truncate shortens s to at most n characters (runes), for messages stored
// in fields with a max_len.
func Truncate(s string, n int) string {
	if n < 0 || utf8.RuneCountInString(s) <= n {
		return s
	}
	i := 0
	for j := range s {
		if i == n {
			return s[:j]
		}
		i++
	}
	return s
}

// CutMiddle shortens s to at most n characters (runes) by cutting its
// middle, for failure messages stored in fields with a max_len: it keeps
// the first quarter and the end, joined by " … ", as an error's summary is
// at its start and its last lines (a stack trace's, a command's standard
// error's) usually say the most. n under 16 leaves no room for both ends:
// the start is kept, as Truncate does.
func CutMiddle(s string, n int) string {
	const mark = " … "
	runes := utf8.RuneCountInString(s)
	if n < 0 || runes <= n {
		return s
	}
	if n < 16 {
		return Truncate(s, n)
	}
	keep := n - utf8.RuneCountInString(mark)
	head := keep / 4
	tail := keep - head
	// The byte offsets of the head's end and the tail's start.
	i, h, t := 0, len(s), len(s)
	for j := range s {
		if i == head {
			h = j
		}
		if i == runes-tail {
			t = j
			break
		}
		i++
	}
	return s[:h] + mark + s[t:]
}

// CutMiddleBytes is CutMiddle counted in bytes: s shortened to at most n
// bytes, its first quarter and its end joined by " … ", cut between
// characters, for text stored in a column of a byte size.
func CutMiddleBytes(s string, n int) string {
	const mark = " … "
	if n < 0 || len(s) <= n {
		return s
	}
	if n < 16 {
		i := 0
		for j := range s {
			if j > n {
				break
			}
			i = j
		}
		return s[:i]
	}
	keep := n - len(mark)
	h := keep / 4
	for h > 0 && !utf8.RuneStart(s[h]) {
		h--
	}
	t := len(s) - (keep - keep/4)
	for t < len(s) && !utf8.RuneStart(s[t]) {
		t++
	}
	return s[:h] + mark + s[t:]
}

// API is what a model's spec says about its HTTP API (the spec's api
// section; taskgen generates a model's API variable from it). A model with
// no api section has the zero API: its tasks have no owner (only admins see
// them) and clients cannot create them over HTTP.
type API struct {
	// Owner is the JSON name of the string field that holds the user who
	// owns a task; the server sets it from the authenticated user, and
	// other users neither see nor touch the task. Empty: no owner field.
	Owner string
	// Create lists the JSON names of the fields a client may set when it
	// creates a task; any other field in the request is an error.
	Create []string
	// Uploads, when not nil, lets clients upload a task's input files
	// through signed URLs before it is processed (the upload → process lifecycle).
	Uploads *Uploads
}

// Uploads is an api section's uploads: the events that request upload URLs
// and verify the uploads, and the files a task takes.
type Uploads struct {
	// Request is fired when a client asks for upload URLs (analysis:
	// request_upload_urls, CREATED or UPLOAD_FAILED → UPLOADING).
	Request string
	// Verify is fired when a client asks to process the task and every
	// required file is in storage (analysis: verify_uploads → QUEUED).
	Verify string
	// Missing is fired, with MissingMessage as the error message, when a
	// required file is not in storage (analysis: upload_failed).
	Missing        string
	MissingMessage string
	// Files are the files a task takes, in the spec's order.
	Files []UploadFile
	// Expiry is how long an upload or download URL stays valid.
	Expiry time.Duration
}

// UploadFile is one file of Uploads.
type UploadFile struct {
	// Name keys the file in requests and responses ("primary").
	Name string
	// Required files must be uploaded before the task may be processed.
	Required bool
	// Filename, when set, is the file's fixed name (parameters.json); the
	// client then asks for it with the boolean request field Flag
	// (has_parameters) instead of describing it.
	Filename string
	Flag     string
	// ContentTypes lists the media types allowed; empty allows any.
	ContentTypes []string
	// MaxBytes bounds the file's size.
	MaxBytes int64
	// MinBytes is the least an uploaded file may hold (the spec's
	// min_size; taskgen writes 1 unless the spec says otherwise, so an
	// empty upload is refused). Zero: no minimum.
	MinBytes int64
	// Format, when "json", requires the file to be one well-formed JSON
	// value (the spec's format: json).
	Format string
}

// File returns the upload file named name.
func (u *Uploads) File(name string) (UploadFile, bool) {
	for _, f := range u.Files {
		if f.Name == name {
			return f, true
		}
	}
	return UploadFile{}, false
}

// TransitionInfo is a refused move in model-independent terms: every
// generated *TransitionError returns one from its Transition method.
type TransitionInfo struct {
	From, Event, To string
	// Allowed lists the events that may fire from From.
	Allowed []string
}

// TransitionInfoer is implemented by every generated *TransitionError.
type TransitionInfoer interface {
	error
	Transition() TransitionInfo
}
