package tasktype

import "time"

// Lifecycle describes a model's lifecycle as its spec declares it: its
// statuses with their display, its events with the statuses they move
// between, its named sets of statuses, its worker section and its review
// document. taskgen emits one per model (the generated Lifecycle function),
// so that tools such as the dashboard's model page read a model's lifecycle
// as data.
type Lifecycle struct {
	// Model is the model's name: its table and task type.
	Model string
	// Doc is the spec's description of the model.
	Doc string
	// Initial names the status a new task starts in.
	Initial string
	// Statuses are in spec order.
	Statuses []StatusInfo
	// Events are in spec order.
	Events []EventInfo
	// Sets are the spec's named sets of statuses, in spec order.
	Sets []SetInfo
	// Worker is the spec's worker section; nil without one.
	Worker *Worker
	// Review is the model's review document (the generated README.md), in
	// Markdown.
	Review string
}

// StatusInfo is one status of a Lifecycle.
type StatusInfo struct {
	Name string
	Doc  string
	// Code is the status's unified code ("" when the spec gives none).
	Code    Code
	Display Display
	// Initial: new tasks start in it. Terminal: a task in it is finished.
	Initial, Terminal bool
	// EnteredAt names the time field set when a task enters the status
	// ("" for none).
	EnteredAt string
	// Timeout is the status's timeout; nil without one.
	Timeout *StatusTimeout
}

// StatusTimeout moves a task that stayed too long in a status: After the
// time in the status's EnteredAt field, Event fires and the task moves to To.
type StatusTimeout struct {
	After time.Duration
	Event string
	To    string
	// ErrorCode is recorded with the move ("" for none).
	ErrorCode string
}

// EventInfo is one event of a Lifecycle.
type EventInfo struct {
	Name string
	Doc  string
	// From lists the statuses the event fires from, in spec order; To is
	// the status it leads to.
	From []string
	To   string
	// Requires lists the fields a caller must supply with the event.
	Requires []string
}

// SetInfo is a named set of statuses.
type SetInfo struct {
	Name     string
	Doc      string
	Statuses []string
}

// Edge is one move of a transition table: Event fires from From and leads
// to To.
type Edge struct{ From, Event, To string }

// Status returns the status named name.
func (l Lifecycle) Status(name string) (StatusInfo, bool) {
	for _, s := range l.Statuses {
		if s.Name == name {
			return s, true
		}
	}
	return StatusInfo{}, false
}

// Edges returns the transition table: for each status in spec order, each
// event that fires from it, in spec order.
func (l Lifecycle) Edges() []Edge {
	var out []Edge
	for _, s := range l.Statuses {
		for _, e := range l.Events {
			for _, f := range e.From {
				if f == s.Name {
					out = append(out, Edge{From: s.Name, Event: e.Name, To: e.To})
					break
				}
			}
		}
	}
	return out
}

// Terminal returns the names of the terminal statuses, in spec order.
func (l Lifecycle) Terminal() []string {
	var out []string
	for _, s := range l.Statuses {
		if s.Terminal {
			out = append(out, s.Name)
		}
	}
	return out
}

// Timeouts returns the statuses' timeouts, in spec order, with the status
// each applies to.
func (l Lifecycle) Timeouts() []StatusInfo {
	var out []StatusInfo
	for _, s := range l.Statuses {
		if s.Timeout != nil {
			out = append(out, s)
		}
	}
	return out
}
