// Package spec loads and checks taskmodel spec files (schema/*.yaml): the
// statuses, events, timeouts and typed fields of one model. Load returns a
// fully resolved *Model or an ErrorList whose every entry carries
// file:line:col and says what is wrong and what is allowed.
//
// The language is described in docs/spec-language.md.
package spec

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// Pos is a position in a spec file.
type Pos struct {
	File string
	Line int
	Col  int
}

func (p Pos) String() string { return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col) }

// Error is one problem found in a spec, at a position.
type Error struct {
	Pos Pos
	Msg string
}

func (e *Error) Error() string { return e.Pos.String() + ": " + e.Msg }

// ErrorList is every problem found while loading, sorted by position.
type ErrorList []*Error

func (l ErrorList) Error() string {
	msgs := make([]string, len(l))
	for i, e := range l {
		msgs[i] = e.Error()
	}
	return strings.Join(msgs, "\n")
}

func (l ErrorList) sort() {
	sort.SliceStable(l, func(i, j int) bool {
		a, b := l[i].Pos, l[j].Pos
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Col < b.Col
	})
}

// Model is one loaded and checked spec: one Go package.
type Model struct {
	Pos       Pos
	Name      string // model name: SQL table base, task_type
	Package   string // Go package name
	Struct    string // Go name of the model struct
	Doc       string
	Lifecycle string // the lifecycle file it takes statuses and events from, if any

	Statuses   []*Status
	Sets       []*Set
	Events     []*Event
	ErrorCodes []*ErrorCode
	Enums      []*Enum
	Types      []*Type
	// Fields are the model's own fields in declaration order, followed by the
	// entry-timestamp fields statuses declare implicitly. The built-in fields
	// (id, status, version, created_at, updated_at) are not listed.
	Fields []*Field

	Initial  *Status
	HasCodes bool // every status has a unified short code

	// Worker says how workers run the model's tasks; nil when the spec
	// declares no worker section.
	Worker *Worker
	// API says what the HTTP server lets clients do; nil when the spec
	// declares no api section.
	API *API
	// ProgressField is the model's `progress` field when it is an int
	// bounded 0–100 and some status maps a progress: Fire sets it.
	ProgressField *Field

	// RetiredStatuses are statuses the model no longer has: a migration
	// moves their tasks to ReplacedBy, and history rows keep their names.
	RetiredStatuses []*RetiredStatus
	// RetiredEvents are events the model no longer has, which history rows
	// written before may still record.
	RetiredEvents []*RetiredEvent
	// BreakingChanges are the breaking changes the spec's authors
	// acknowledge: each entry an ID that taskgen diff reports, optionally
	// followed by a reason (spaces collapsed).
	BreakingChanges []string
}

// RetiredStatus is a status removed from the spec and where its tasks go.
type RetiredStatus struct {
	Pos        Pos
	Name       string
	ReplacedBy *Status
}

// RetiredEvent is an event removed from the spec.
type RetiredEvent struct {
	Pos  Pos
	Name string
}

// HistoryStatuses lists the status names history rows may hold: the
// statuses, then the retired ones.
func (m *Model) HistoryStatuses() []string {
	var out []string
	for _, s := range m.Statuses {
		out = append(out, s.Name)
	}
	for _, r := range m.RetiredStatuses {
		out = append(out, r.Name)
	}
	return out
}

// HistoryEvents lists the event names history rows may hold: the events,
// then the retired ones.
func (m *Model) HistoryEvents() []string {
	var out []string
	for _, e := range m.Events {
		out = append(out, e.Name)
	}
	for _, r := range m.RetiredEvents {
		out = append(out, r.Name)
	}
	return out
}

// Worker is the worker section: the events a worker pool fires, the lease
// it holds while a task runs and how a task whose worker vanished is rescued.
type Worker struct {
	Pos      Pos
	Claim    *Event // Queue → Running: a worker takes the task
	Complete *Event // Running → another status (terminal, or a review): the handler succeeded
	Fail     *Event // Running → a terminal status: the handler failed
	Cancel   *Event // Running → a terminal status, or nil: a user stops the task
	Requeue  *Event // Running → Queue, or nil: a lost task is tried again
	Queue    *Status
	Running  *Status
	// MaxAttempts is how many claims a task may have; a task whose lease
	// expired is requeued while it has attempts left, else it fails.
	MaxAttempts int
	Lease       time.Duration
	// ErrorCode is the code a failure carries when the handler gave none
	// (a plain error, a panic, a lost lease); nil when Fail needs no code.
	ErrorCode *ErrorCode
}

// Status is one status of the lifecycle.
type Status struct {
	Pos       Pos
	Name      string
	GoName    string // StatusUploadFailed
	Index     int
	Doc       string
	Initial   bool
	Terminal  bool
	Code      string // "" or one of Q R D F C
	Progress  *Progress
	EnteredAt string // field name, or ""
	Display   *Display
	Timeout   *Timeout
	Sets      []*Set
}

// Progress maps a status to a reported percent: a fixed one, or a range
// filled by the fraction of work done.
type Progress struct {
	Pos      Pos
	Fixed    bool
	Percent  int // when Fixed
	From, To int // when not Fixed
}

// Display is what a user interface shows for a status.
type Display struct {
	Label, Color, Icon, Message string
	Poll                        time.Duration
}

// Timeout moves a task that stayed too long in a status.
type Timeout struct {
	Pos       Pos
	After     time.Duration
	To        *Status
	Event     *Event
	ErrorCode *ErrorCode
	// badErrorCode: the spec gave an error_code that is not a declared code
	// (reported where it is written, not again as a missing one).
	badErrorCode bool
}

// Set is a named set of statuses.
type Set struct {
	Pos      Pos
	Name     string
	GoName   string // CamelCase: Active → IsActive, ActiveStatuses
	Doc      string
	Statuses []*Status
}

// Has reports whether s is in the set.
func (set *Set) Has(s *Status) bool {
	for _, m := range set.Statuses {
		if m == s {
			return true
		}
	}
	return false
}

// Event moves a task from any status of From to To.
type Event struct {
	Pos      Pos
	Name     string
	GoName   string // EventRequestUploadURLs
	Index    int
	Doc      string
	From     []*Status
	To       *Status
	Requires []*Field
}

// Leaves reports whether the event may fire from s.
func (e *Event) Leaves(s *Status) bool {
	for _, f := range e.From {
		if f == s {
			return true
		}
	}
	return false
}

// ErrorCode is one error code with its message.
type ErrorCode struct {
	Pos     Pos
	Name    string
	GoName  string // ErrorCodeAgentError
	Message string
}

// Enum is a named enumeration of string values.
type Enum struct {
	Pos    Pos
	Name   string
	Doc    string
	Values []*EnumValue
}

// EnumValue is one value of an enum.
type EnumValue struct {
	Pos    Pos
	Name   string
	GoName string // RetryPolicyNone
	Value  string
	Doc    string
}

// Type is a value type: a struct held by fields.
type Type struct {
	Pos    Pos
	Name   string
	Doc    string
	Fields []*Field
}

// Kind is the kind of a field's type.
type Kind string

// The field kinds.
const (
	KindString    Kind = "string"
	KindInt       Kind = "int"
	KindFloat     Kind = "float"
	KindBool      Kind = "bool"
	KindTime      Kind = "time"
	KindDuration  Kind = "duration"
	KindUUID      Kind = "uuid"
	KindJSON      Kind = "json"
	KindList      Kind = "list"
	KindStatus    Kind = "Status"
	KindErrorCode Kind = "ErrorCode"
	KindEnum      Kind = "enum"
	KindType      Kind = "type"
)

// TypeRef is the resolved type of a field or list element.
type TypeRef struct {
	Kind Kind
	Elem *TypeRef // KindList
	Enum *Enum    // KindEnum
	Type *Type    // KindType
}

// Name is the type as a spec writes it.
func (t *TypeRef) Name() string {
	switch t.Kind {
	case KindList:
		return "list of " + t.Elem.Name()
	case KindEnum:
		return t.Enum.Name
	case KindType:
		return t.Type.Name
	}
	return string(t.Kind)
}

// Field is one typed field of the model or of a value type.
type Field struct {
	Pos      Pos
	Name     string // JSON and SQL name
	GoName   string // TaskID
	Doc      string
	Type     *TypeRef
	Required bool
	Optional bool
	// Default is the default value: string, int64, float64, bool,
	// time.Duration, or []any of those; nil when there is none.
	Default    any
	HasDefault bool
	MaxLen     *int
	MinLen     *int
	Ge, Le     *float64
	Gt, Lt     *float64
	// Bounds names the other fields of the same struct a number is
	// compared with, keyed by ge, le, gt or lt: `le: agents_total` keeps
	// agents_completed at most agents_total. The generated validators check
	// them; no database CHECK does.
	Bounds   map[string]string
	MinItems *int
	MaxItems *int
	// Pattern is a regular expression (Go syntax) a string must match as a
	// whole; "" when there is none.
	Pattern string
	// Multiline marks free text (messages, descriptions): a string that may
	// hold newlines, tabs and other control characters but NUL. Every other
	// string is single-line: no control or bidirectional control characters.
	Multiline bool
	// Items holds the limits of a list's elements (items: in the spec):
	// min_len, max_len, pattern and multiline for strings, ge/le/gt/lt for
	// numbers. Its Type is the element type; nil when the spec sets none.
	Items      *Field
	References string // the model a uuid field points to
	// EnteredAt is set on the implicit time fields statuses declare.
	EnteredAt bool
	// RenamedFrom is the field's earlier name: the migration that follows
	// the rename renames the column and keeps its values.
	RenamedFrom string
	// Backfill is the value a migration writes into existing tasks when
	// the field becomes NOT NULL in the database (added, or no longer
	// optional); nil when there is none (then the default is used, if any).
	Backfill    any
	HasBackfill bool
}

// StatusByName returns the named status or nil.
func (m *Model) StatusByName(name string) *Status {
	for _, s := range m.Statuses {
		if s.Name == name {
			return s
		}
	}
	return nil
}

// EventByName returns the named event or nil.
func (m *Model) EventByName(name string) *Event {
	for _, e := range m.Events {
		if e.Name == name {
			return e
		}
	}
	return nil
}

// FieldByName returns the named model field or nil.
func (m *Model) FieldByName(name string) *Field {
	for _, f := range m.Fields {
		if f.Name == name {
			return f
		}
	}
	return nil
}

// Targets returns the statuses reachable in one event from s, in status order.
func (m *Model) Targets(s *Status) []*Status {
	var out []*Status
	for _, t := range m.Statuses {
		if m.CanTransition(s, t) {
			out = append(out, t)
		}
	}
	return out
}

// CanTransition reports whether some event moves a task from s to t.
func (m *Model) CanTransition(s, t *Status) bool {
	for _, e := range m.Events {
		if e.To == t && e.Leaves(s) {
			return true
		}
	}
	return false
}

// TerminalStatuses lists the names of the terminal statuses in status order.
func (m *Model) TerminalStatuses() []string {
	var out []string
	for _, s := range m.Statuses {
		if s.Terminal {
			out = append(out, s.Name)
		}
	}
	return out
}

// EnteredAtFields lists the distinct entry-timestamp field names in status order.
func (m *Model) EnteredAtFields() []string {
	var out []string
	seen := map[string]bool{}
	for _, s := range m.Statuses {
		if s.EnteredAt != "" && !seen[s.EnteredAt] {
			seen[s.EnteredAt] = true
			out = append(out, s.EnteredAt)
		}
	}
	return out
}
