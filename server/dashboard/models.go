package dashboard

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/taskmodel/taskmodel/server"
	"github.com/taskmodel/taskmodel/tasktype"
)

// modelsView is the models page: every model with its task counts.
type modelsView struct {
	layout
	Models []modelSummary
}

type modelSummary struct {
	Name     string
	Statuses int
	Events   int
	Worker   bool
	Total    server.Count
	Counts   bool
}

// statusRow is one status of a model page's table.
type statusRow struct {
	Badge badge
	// Doc is the spec's description of the status, else its display message.
	Doc       string
	Initial   bool
	Terminal  bool
	EnteredAt string
	Timeout   string
	Count     server.Count
	Counts    bool
}

type eventRow struct {
	Name     string
	Doc      string // the spec's description
	From     []badge
	To       badge
	Required string
}

type timeoutRow struct {
	Status    badge
	After     string
	EnteredAt string
	Event     string
	To        badge
	ErrorCode string
	// Near are the tasks of the status closest to the timeout (NearKnown:
	// the backend can tell).
	Near      []nearRow
	NearKnown bool
}

// nearRow is a task close to its status's timeout.
type nearRow struct {
	ID             string
	EnteredAt, Due time.Time
	When           string // "in 4 min 10 s", or how long overdue
	Overdue        bool
}

type leaseRow struct {
	ID      string
	Owner   string
	Renewed *time.Time
	Ago     string
	Expires *time.Time
	Expired bool
	Attempt int64
}

// queueView is a model page's queue health.
type queueView struct {
	Queue, Running   badge
	Depth            server.Count // tasks waiting in the queue status
	RunningN         server.Count
	Oldest           *time.Time
	OldestAge        string
	Leases           []leaseRow
	More             bool
	Lease            string
	MaxAttempts      int
	Claim, Heartbeat string
	// Chart is the tasks finished and failed over the window (nil without
	// counts).
	Chart *chart
}

// modelView is a model page's content (the script redraws it live).
type modelView struct {
	Name      string
	Diagram   diagram
	Statuses  []statusRow
	Events    []eventRow
	Timeouts  []timeoutRow
	Counts    bool
	Total     server.Count
	Owner     string // the owner field, "" without one
	Scope     string // whose tasks the counts are
	Fields    []string
	Create    []string
	HasWorker bool
	Queue     *queueView
	Updated   time.Time
	// Window is the span the moves are counted over, with its choices.
	Window windowView
	Moves  *movesView
	Review []mdBlock
}

// movesView is what the page says of the moves in the window.
type movesView struct {
	Total   int64
	Created int64
	Limited bool
	Since   time.Time
}

// total adds counts up: a lower bound when one of them is, counted in full
// at the oldest of their full counts.
func total(counts map[string]server.Count) server.Count {
	var t server.Count
	for _, c := range counts {
		t.N += c.N
		t.AtLeast = t.AtLeast || c.AtLeast
		if !c.CountedAt.IsZero() && (t.CountedAt.IsZero() || c.CountedAt.Before(t.CountedAt)) {
			t.CountedAt = c.CountedAt
		}
	}
	return t
}

type modelPageView struct {
	layout
	M modelView
}

func (d *Dashboard) modelsPage(w http.ResponseWriter, r *http.Request) {
	s, ok := d.user(w, r, true)
	if !ok {
		return
	}
	v := modelsView{layout: s.layout("Models", r)}
	for _, name := range d.srv.TaskTypes() {
		m, err := d.srv.Model(name)
		if err != nil {
			d.fail(w, r, err)
			return
		}
		sum := modelSummary{Name: name, Statuses: len(m.Statuses), Events: len(m.Events), Worker: m.Worker != nil}
		counts, known, err := d.srv.StatusCounts(r.Context(), s.User, name)
		if err != nil {
			d.fail(w, r, err)
			return
		}
		sum.Counts, sum.Total = known, total(counts)
		v.Models = append(v.Models, sum)
	}
	d.render(w, r, http.StatusOK, "models", "layout", v)
}

func (d *Dashboard) loadModel(r *http.Request, s session) (modelView, error) {
	name := r.PathValue("name")
	m, err := d.srv.Model(name)
	if err != nil {
		return modelView{}, err
	}
	now := d.opt.Now()
	win, err := parseWindow(r, m.Model, now)
	if err != nil {
		return modelView{}, err
	}
	counts, known, err := d.srv.StatusCounts(r.Context(), s.User, name)
	if err != nil {
		return modelView{}, err
	}
	mv, movesKnown, err := d.srv.ModelMoves(r.Context(), s.User, name, win.From, win.To)
	if err != nil {
		return modelView{}, err
	}
	v := modelView{Name: m.Model, Counts: known, Owner: m.API.Owner, Create: m.API.Create, HasWorker: m.Worker != nil, Updated: now,
		Window: win, Review: markdown(m.Review)}
	switch {
	case s.User.Admin:
		v.Scope = "every user's tasks (you are an admin)"
	case m.API.Owner == "":
		v.Scope = "your tasks (none: this model's tasks have no owner, and only admins see them)"
	default:
		v.Scope = "your tasks"
	}
	if !known {
		counts = nil
	}
	var edges map[tasktype.Edge]int64
	if movesKnown {
		edges = mv.Edges
		mvv := &movesView{Limited: mv.Limited, Since: mv.Since}
		for e, n := range mv.Edges {
			mvv.Total += n
			if e.From == "" {
				mvv.Created += n
			}
		}
		v.Moves = mvv
	}
	v.Total = total(counts)
	v.Diagram = newDiagram(m, counts, edges)
	badges := map[string]badge{}
	for _, st := range m.Statuses {
		badges[st.Name] = newBadge(st.Name, st.Code, st.Display)
	}
	for _, st := range m.Statuses {
		row := statusRow{Badge: badges[st.Name], Doc: st.Doc, Initial: st.Initial, Terminal: st.Terminal, EnteredAt: st.EnteredAt, Count: counts[st.Name], Counts: known}
		if st.Timeout != nil {
			row.Timeout = st.Timeout.After.String()
		}
		if row.Doc == "" {
			row.Doc = st.Display.Message
		}
		v.Statuses = append(v.Statuses, row)
	}
	for _, ev := range m.Events {
		er := eventRow{Name: ev.Name, Doc: ev.Doc, To: badges[ev.To], Required: strings.Join(ev.Requires, ", ")}
		for _, f := range ev.From {
			er.From = append(er.From, badges[f])
		}
		v.Events = append(v.Events, er)
	}
	near, nearKnown, err := d.srv.ModelTimeouts(r.Context(), s.User, name)
	if err != nil {
		return modelView{}, err
	}
	for _, st := range m.Timeouts() {
		t := st.Timeout
		row := timeoutRow{Status: badges[st.Name], After: t.After.String(), EnteredAt: st.EnteredAt, Event: t.Event, To: badges[t.To], ErrorCode: t.ErrorCode, NearKnown: nearKnown}
		for _, n := range near[st.Name] {
			nr := nearRow{ID: n.ID, EnteredAt: n.EnteredAt, Due: n.Due}
			if left := n.Due.Sub(now); left >= 0 {
				nr.When = "in " + duration(left)
			} else {
				nr.When, nr.Overdue = duration(-left)+" overdue (the sweeper moves it at its next pass)", true
			}
			row.Near = append(row.Near, nr)
		}
		v.Timeouts = append(v.Timeouts, row)
	}
	if wk := m.Worker; wk != nil {
		qv := &queueView{Queue: badges[wk.Queue], Running: badges[wk.Running], Depth: counts[wk.Queue], RunningN: counts[wk.Running],
			Lease: wk.Lease.String(), MaxAttempts: wk.MaxAttempts, Claim: wk.Claim}
		if movesKnown {
			c := newChart(mv)
			qv.Chart = &c
		}
		q, ok, err := d.srv.ModelQueue(r.Context(), s.User, name)
		if err != nil {
			return modelView{}, err
		}
		if ok {
			qv.Oldest, qv.More = q.Oldest, q.More
			if q.Oldest != nil {
				qv.OldestAge = duration(now.Sub(*q.Oldest))
			}
			for _, l := range q.Running {
				lr := leaseRow{ID: l.ID, Owner: l.Owner, Renewed: l.Renewed, Expires: l.Expires, Attempt: l.Attempt}
				if l.Renewed != nil {
					lr.Ago = duration(now.Sub(*l.Renewed)) + " ago"
				}
				if l.Expires != nil && l.Expires.Before(now) {
					lr.Expired = true
				}
				qv.Leases = append(qv.Leases, lr)
			}
			v.Queue = qv
		} else if known {
			v.Queue = qv
		}
	}
	return v, nil
}

func (d *Dashboard) modelPage(w http.ResponseWriter, r *http.Request) {
	s, ok := d.user(w, r, true)
	if !ok {
		return
	}
	v, err := d.loadModel(r, s)
	if err != nil {
		d.fail(w, r, err)
		return
	}
	d.render(w, r, http.StatusOK, "model", "layout", modelPageView{layout: s.layout("Model "+v.Name, r), M: v})
}

// modelFragment is the model page's content alone, for the live script.
func (d *Dashboard) modelFragment(w http.ResponseWriter, r *http.Request) {
	s, ok := d.user(w, r, false)
	if !ok {
		return
	}
	v, err := d.loadModel(r, s)
	if err != nil {
		d.fragmentError(w, r, err)
		return
	}
	d.render(w, r, http.StatusOK, "model", "modelview", v)
}

// fragmentError answers a fragment request (content the live script
// fetches) that failed as the full page would, with its status and
// message, but as the alert alone, which the script puts in place of the
// content; a failure's cause goes to the log.
func (d *Dashboard) fragmentError(w http.ResponseWriter, r *http.Request, err error) {
	var p *server.Problem
	if !errors.As(err, &p) {
		d.log.ErrorContext(r.Context(), "dashboard: reading a page failed", "path", r.URL.Path, "error", err)
		p = &server.Problem{Status: http.StatusInternalServerError, Title: "Internal server error", Detail: "the server failed; the error is in its log"}
	}
	d.render(w, r, p.Status, "error", "problem", p)
}
