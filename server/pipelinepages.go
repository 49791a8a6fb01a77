package server

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/taskmodel/taskmodel/backends"
	"github.com/taskmodel/taskmodel/gen/pipelinerun"
	"github.com/taskmodel/taskmodel/gen/pipelinesubtask"
	"github.com/taskmodel/taskmodel/sdk/pipeline"
	"github.com/taskmodel/taskmodel/tasktype"
)

// This file is what the dashboard's Pipelines page reads: the registered
// stages and tasks, each task's latest run with its subtasks, estimate and
// messages, and a feed of their changes. Every signed-in user sees every
// pipeline, as over /pipelines.

// MaxPageSubtasks bounds the subtasks of one run that PipelineTree reads
// for the page; PipelineRunNode.MoreSubtasks counts the rest.
const MaxPageSubtasks = 200

// PipelineFilter is what the Pipelines page shows: one stage ("" for
// every stage) and the tasks whose latest run is in one of Statuses (none
// for any; NOT_STARTED is a task that never ran).
type PipelineFilter struct {
	Stage    string
	Statuses []string
}

// PipelineParams are the query parameters PipelineFilterOf reads.
func PipelineParams() []string { return []string{"stage", "status"} }

// PipelineFilterOf reads the page's query parameters stage and status
// (repeatable); an unknown parameter or status is a *Problem (400).
func PipelineFilterOf(q url.Values) (PipelineFilter, error) {
	var f PipelineFilter
	for k, vs := range q {
		switch k {
		case "stage":
			if len(vs) > 1 {
				return f, badRequest("stage", "repeated", "may be given once")
			}
			f.Stage = vs[0]
		case "status":
			for _, v := range vs {
				if !pipelinerun.Status(v).Valid() {
					return f, badRequest("status", "one_of", fmt.Sprintf("unknown status %q; allowed: %s", truncate(v, 40), strings.Join(runStatusNames(), ", ")))
				}
				if !slices.Contains(f.Statuses, v) {
					f.Statuses = append(f.Statuses, v)
				}
			}
		default:
			return f, badRequest(quoteName(k), "unknown_parameter", "unknown query parameter; allowed: "+strings.Join(PipelineParams(), ", "))
		}
	}
	return f, nil
}

func runStatusNames() []string {
	var out []string
	for _, s := range pipelinerun.Statuses() {
		out = append(out, string(s))
	}
	return out
}

// PipelineStatuses lists the run statuses in lifecycle order, with their
// spec display.
func PipelineStatuses() []StatusInfo {
	var out []StatusInfo
	for _, s := range pipelinerun.Statuses() {
		out = append(out, StatusInfo{Name: string(s), Code: s.Code(), Display: s.Display()})
	}
	return out
}

// PipelineTree is the Pipelines page: stages → tasks → latest run →
// subtasks.
type PipelineTree struct {
	// Stages are the shown stages in order; AllStages names every
	// registered stage (the filter's choices).
	Stages    []PipelineStageNode
	AllStages []string
	// Now is when the estimates were made.
	Now time.Time
}

// PipelineStageNode is a stage with its shown tasks.
type PipelineStageNode struct {
	Name        string
	Description string
	Tasks       []PipelineTaskNode
	// Registered is how many tasks the stage has, Shown how many passed
	// the filter.
	Registered int
}

// PipelineTaskNode is a registered task with its latest run (nil when it
// never ran: Status is then NOT_STARTED).
type PipelineTaskNode struct {
	Stage, Name, Type string
	Status            string
	Code              tasktype.Code
	Display           tasktype.Display
	Run               *PipelineRunNode
}

// PipelineRunNode is a run as the page shows it.
type PipelineRunNode struct {
	PipelineRun
	Code     tasktype.Code
	Display  tasktype.Display
	Finished bool
	Estimate pipeline.RunEstimate
	Subtasks []PipelineSubtaskNode
	// MoreSubtasks is how many subtasks were not read (past
	// MaxPageSubtasks).
	MoreSubtasks int
	// History is the run's status changes with their messages, oldest
	// first.
	History []backends.History
}

// PipelineSubtaskNode is a subtask with its display and estimate.
type PipelineSubtaskNode struct {
	PipelineSubtask
	Code     tasktype.Code
	Display  tasktype.Display
	Finished bool
	Estimate pipeline.Estimate
}

// PipelinesEnabled reports whether the server tracks pipelines.
func (s *Server) PipelinesEnabled() bool { return s.cfg.Pipelines != nil }

// PipelineTree reads the page's tree for f: the registered stages and
// tasks, the latest run of each task (one query for all), and for each shown
// run its subtasks (at most MaxPageSubtasks) and history. An unknown stage
// is a *Problem (404) listing the registered ones.
func (s *Server) PipelineTree(ctx context.Context, f PipelineFilter) (*PipelineTree, error) {
	tr := s.cfg.Pipelines
	if tr == nil {
		return nil, errNoPipelines
	}
	stages, err := tr.Stages(ctx)
	if err != nil {
		return nil, err
	}
	out := &PipelineTree{Now: tr.Now()}
	for _, st := range stages {
		out.AllStages = append(out.AllStages, st.Name)
	}
	if f.Stage != "" {
		if err := tr.CheckStage(ctx, f.Stage); err != nil {
			return nil, pageError(pipelineProblem(ctx, tr, err, pipelineRef{}))
		}
	}
	tasks, err := tr.Tasks(ctx, f.Stage)
	if err != nil {
		return nil, err
	}
	latest, err := tr.Storage().LatestRuns(ctx)
	if err != nil {
		return nil, err
	}
	type key struct{ stage, task string }
	runs := make(map[key]*pipeline.Run, len(latest))
	for _, r := range latest {
		runs[key{r.Stage, r.Task}] = r
	}
	for _, st := range stages {
		if f.Stage != "" && st.Name != f.Stage {
			continue
		}
		node := PipelineStageNode{Name: st.Name, Description: deref(st.Description)}
		for _, t := range tasks {
			if t.Stage != st.Name {
				continue
			}
			node.Registered++
			tn := PipelineTaskNode{Stage: t.Stage, Name: t.Name}
			if t.Type != nil {
				tn.Type = string(*t.Type)
			}
			status := pipelinerun.Initial()
			r := runs[key{t.Stage, t.Name}]
			if r != nil {
				status = r.Status
			}
			if len(f.Statuses) > 0 && !slices.Contains(f.Statuses, string(status)) {
				continue
			}
			tn.Status, tn.Code, tn.Display = string(status), status.Code(), status.Display()
			if r != nil {
				if tn.Run, err = s.runNode(ctx, tr, r, out.Now); err != nil {
					return nil, err
				}
			}
			node.Tasks = append(node.Tasks, tn)
		}
		out.Stages = append(out.Stages, node)
	}
	return out, nil
}

func (s *Server) runNode(ctx context.Context, tr *pipeline.Tracker, r *pipeline.Run, now time.Time) (*PipelineRunNode, error) {
	subs, err := tr.Storage().SubtasksOf(ctx, r.ID)
	if err != nil {
		return nil, err
	}
	n := &PipelineRunNode{PipelineRun: runOut(r, pipeline.RunPercent(r, subs)), Code: r.Status.Code(), Display: r.Status.Display(),
		Finished: r.Status.IsTerminal(), Estimate: pipeline.EstimateRun(r, subs, now)}
	if len(subs) > MaxPageSubtasks {
		n.MoreSubtasks = len(subs) - MaxPageSubtasks
		subs = subs[:MaxPageSubtasks]
	}
	for i, st := range subs {
		n.Subtasks = append(n.Subtasks, PipelineSubtaskNode{PipelineSubtask: subtaskOut(st), Code: st.Status.Code(),
			Display: st.Status.Display(), Finished: st.Status.IsTerminal(), Estimate: n.Estimate.Subtasks[i].Estimate})
	}
	if n.History, err = tr.Storage().Runs().History(ctx, r.ID); err != nil {
		return nil, err
	}
	return n, nil
}

// WatchPipelines sends a value after pipeline runs or subtasks change, by
// any process on the server's database (the run and subtask models' change
// feeds, when the server serves them) or through this server's /pipelines
// routes, until ctx ends. Changes that come while the last value is unread
// are merged into it.
func (s *Server) WatchPipelines(ctx context.Context) <-chan struct{} {
	out := make(chan struct{}, 1)
	poke := func() {
		select {
		case out <- struct{}{}:
		default:
		}
	}
	for _, name := range []string{pipelinerun.ModelName, pipelinesubtask.ModelName} {
		b, ok := s.models.byName[name]
		if !ok {
			continue
		}
		p, ok := b.(pager)
		if !ok {
			continue
		}
		ch := p.subscribeAll(ctx)
		go func() {
			for range ch {
				poke()
			}
		}()
	}
	// The first pulse to wait for is taken now: a write made as soon as
	// this returns fires it, even before the goroutine runs.
	pulse := s.pipelinePulse.wait()
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-pulse:
				pulse = s.pipelinePulse.wait()
				poke()
			}
		}
	}()
	return out
}
