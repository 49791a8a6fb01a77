package dashboard

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/taskmodel/taskmodel/backends"
	"github.com/taskmodel/taskmodel/gen/pipelinerun"
	"github.com/taskmodel/taskmodel/sdk/pipeline"
	"github.com/taskmodel/taskmodel/server"
)

// The Pipelines page (/ui/pipelines): stages → tasks → latest run →
// subtasks as a tree of <details>, filtered by stage and status in the URL,
// kept live by /ui/pipelines/events.

// pipelinesView is the Pipelines page.
type pipelinesView struct {
	layout
	StageOptions  []option
	StatusOptions []option
	// Query is the filter's query string ("" or "?stage=…"), which the
	// live script asks the tree fragment for.
	Query   string
	Problem *server.Problem
	Stages  []stageView
	// Registered is false when no stage is registered yet.
	Registered bool
	Filtered   bool
}

type stageView struct {
	Name, Description string
	Registered        int
	Tasks             []ptaskView
}

type ptaskView struct {
	Key, Stage, Name, Type string
	Status                 string
	Badge                  badge
	Run                    *prunView
}

type prunView struct {
	ID, Short      string
	Badge          badge
	Finished       bool
	Percent        string // "62.5"
	Source         string
	Items          string // "25 of 40 items"
	Rate           string
	ETA, Range     string
	ETAAt          *time.Time
	Host, PID      string
	User, Memory   string
	CPU, Current   string
	Version        string
	Git            string
	Started, Ended *time.Time
	Elapsed        string
	Message        string
	Error, Detail  string
	Subtasks       []psubView
	More           int
	Messages       []pmsgView
}

type psubView struct {
	Number     int64
	Name       string
	Badge      badge
	Percent    string
	Items      string
	Rate       string
	ETA, Range string
	Message    string
	Error      string
}

type pmsgView struct {
	At      time.Time
	Badge   badge
	Actor   string
	Message string
}

func (d *Dashboard) pipelinesPage(w http.ResponseWriter, r *http.Request) {
	q, done := cleanURL(w, r, "/ui/pipelines", server.PipelineParams())
	if done {
		return
	}
	s, ok := d.user(w, r, true)
	if !ok {
		return
	}
	v, status := d.pipelines(r, q)
	v.layout = s.layout("Pipelines", r)
	d.render(w, r, status, "pipelines", "layout", v)
}

// pipelinesFragment is the page's tree alone, for the live script.
func (d *Dashboard) pipelinesFragment(w http.ResponseWriter, r *http.Request) {
	if _, ok := d.user(w, r, false); !ok {
		return
	}
	q, _ := cleanQuery(r.URL.Query(), server.PipelineParams())
	v, status := d.pipelines(r, q)
	d.render(w, r, status, "pipelines", "tree", v)
}

// pipelines reads the tree of the query q.
func (d *Dashboard) pipelines(r *http.Request, q url.Values) (pipelinesView, int) {
	var v pipelinesView
	if len(q) > 0 {
		v.Query = "?" + q.Encode()
	}
	f, ferr := server.PipelineFilterOf(q)
	v.Filtered = len(q) > 0
	for _, st := range server.PipelineStatuses() {
		v.StatusOptions = append(v.StatusOptions, option{Value: st.Name, Label: newBadge(st.Name, st.Code, st.Display).Label, Checked: slices.Contains(q["status"], st.Name)})
	}
	if ferr != nil {
		return v, d.pipelineProblem(r, &v, ferr)
	}
	tree, err := d.srv.PipelineTree(r.Context(), f)
	if tree != nil {
		v.Registered = len(tree.AllStages) > 0
		v.StageOptions = append(v.StageOptions, option{Value: "", Label: "All stages", Checked: f.Stage == ""})
		for _, name := range tree.AllStages {
			v.StageOptions = append(v.StageOptions, option{Value: name, Label: name, Checked: name == f.Stage})
		}
	}
	if err != nil {
		return v, d.pipelineProblem(r, &v, err)
	}
	for _, st := range tree.Stages {
		sv := stageView{Name: st.Name, Description: st.Description, Registered: st.Registered}
		for _, t := range st.Tasks {
			tv := ptaskView{Key: t.Stage + "/" + t.Name, Stage: t.Stage, Name: t.Name, Type: t.Type, Status: t.Status,
				Badge: newBadge(t.Status, t.Code, t.Display)}
			if t.Run != nil {
				tv.Run = newRunView(t.Run, tree.Now)
			}
			sv.Tasks = append(sv.Tasks, tv)
		}
		v.Stages = append(v.Stages, sv)
	}
	return v, http.StatusOK
}

// pipelineProblem puts an error on the page: a bad filter or unknown stage
// with its message, a failure as a 500 whose cause goes to the log.
func (d *Dashboard) pipelineProblem(r *http.Request, v *pipelinesView, err error) int {
	var p *server.Problem
	if !errors.As(err, &p) {
		d.log.ErrorContext(r.Context(), "dashboard: reading pipelines failed", "error", err)
		p = &server.Problem{Status: http.StatusInternalServerError, Title: "Internal server error", Detail: "reading the pipelines failed; the error is in the server's log"}
	}
	v.Problem = p
	return p.Status
}

func newRunView(n *server.PipelineRunNode, now time.Time) *prunView {
	r := n.PipelineRun
	v := &prunView{ID: r.ID.String(), Badge: newBadge(r.Status, n.Code, n.Display), Finished: n.Finished,
		Percent: percent(r.Percent), Source: r.PercentSource, Started: r.StartedAt, Ended: r.FinishedAt,
		Message: deref(r.Message), Error: deref(r.ErrorMessage), Detail: deref(r.ErrorDetail),
		Host: deref(r.Host), User: deref(r.User), Version: deref(r.CodeVersion), Git: deref(r.GitCommit), More: n.MoreSubtasks}
	v.Short = v.ID[len(v.ID)-8:]
	if r.PID != nil {
		v.PID = strconv.FormatInt(*r.PID, 10)
	}
	if r.MemoryMB != nil {
		v.Memory = fmt.Sprintf("%.0f MB", *r.MemoryMB)
	}
	if r.CPUPercent != nil {
		v.CPU = fmt.Sprintf("%.0f%%", *r.CPUPercent)
	}
	if r.CurrentSubtask != nil {
		v.Current = strconv.FormatInt(*r.CurrentSubtask, 10)
		if r.TotalSubtasks != nil {
			v.Current += " of " + strconv.FormatInt(*r.TotalSubtasks, 10)
		}
	}
	if r.StartedAt != nil {
		end := now
		if r.FinishedAt != nil {
			end = *r.FinishedAt
		}
		v.Elapsed = duration(end.Sub(*r.StartedAt))
	}
	e := n.Estimate.Estimate
	v.Items = items(e.ItemsComplete, e.ItemsTotal, e.ItemsTotal > 0)
	v.Rate = rate(e.Rate)
	v.ETA, v.Range, v.ETAAt = eta(e, n.Finished)
	for _, s := range n.Subtasks {
		sv := psubView{Number: s.Number, Name: s.Name, Badge: newBadge(s.Status, s.Code, s.Display), Percent: percent(s.Percent),
			Items: items(s.ItemsComplete, deref(s.ItemsTotal), s.ItemsTotal != nil), Rate: rate(s.Estimate.Rate),
			Message: deref(s.Message), Error: deref(s.ErrorMessage)}
		sv.ETA, sv.Range, _ = eta(s.Estimate, s.Finished)
		v.Subtasks = append(v.Subtasks, sv)
	}
	for _, h := range n.History {
		v.Messages = append(v.Messages, historyView(h))
	}
	return v
}

func historyView(h backends.History) pmsgView {
	st := pipelinerun.Status(h.To)
	return pmsgView{At: h.At, Badge: newBadge(h.To, st.Code(), st.Display()), Actor: h.Actor, Message: h.Message}
}

func deref[V any](p *V) V {
	var zero V
	if p == nil {
		return zero
	}
	return *p
}

// percent is a percent without needless decimals: 62.5, 100, 33.3.
func percent(p float64) string { return strconv.FormatFloat(float64(int64(p*10+0.5))/10, 'f', -1, 64) }

// items is "25 of 40 items", or "25 items" without a total, or "" for none.
func items(done, total int64, hasTotal bool) string {
	switch {
	case hasTotal:
		return fmt.Sprintf("%d of %d items", done, total)
	case done > 0:
		return fmt.Sprintf("%d items", done)
	}
	return ""
}

// rate is items per second (or per minute when slow), "" for none.
func rate(perSecond float64) string {
	switch {
	case perSecond <= 0:
		return ""
	case perSecond < 0.1:
		return fmt.Sprintf("%.2g items/min", perSecond*60)
	}
	return fmt.Sprintf("%.3g items/s", perSecond)
}

// eta is the remaining time ("in 1 min 05 s"), its 95% range ("40.0 s to
// 2 min 10 s", "?" for an unbounded end) and when; nothing once finished,
// "unknown" when there is nothing to estimate from.
func eta(e pipeline.Estimate, finished bool) (string, string, *time.Time) {
	if finished {
		return "", "", nil
	}
	if !e.Known {
		return "unknown", "", nil
	}
	low, high, bounded := e.Range()
	hi := "?"
	if bounded {
		hi = duration(high)
	}
	return "in " + duration(e.Remaining()), duration(low) + " to " + hi, e.ETA
}

// pipelineEvents streams a "pipelines" event after pipeline runs or
// subtasks change, for the page to fetch its tree again.
func (d *Dashboard) pipelineEvents(w http.ResponseWriter, r *http.Request) {
	if _, ok := d.user(w, r, false); !ok {
		return
	}
	stream(d, w, r, d.srv.WatchPipelines(r.Context()), func(struct{}) (string, bool) {
		return "event: pipelines\ndata: {}\n\n", true
	})
}
