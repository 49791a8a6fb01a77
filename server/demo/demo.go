// Package demo is the built-in handler `taskmodel serve` runs for the
// analysis model's tasks, so that a task created against `make run` visibly
// moves through PROCESSING with agent progress and completes with an
// output file. It reads the task's uploaded primary file, "runs" each
// agent in turn (a pause), reports progress after each, and writes
// outputs/report.json: the tool, the agents and a profile of every input
// file (size, SHA-256, lines). An agent whose name starts with "fail"
// fails the task with AGENT_ERROR, to show the failure path.
package demo

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/taskmodel/taskmodel/blob"
	"github.com/taskmodel/taskmodel/gen/analysis"
	"github.com/taskmodel/taskmodel/sdk/worker"
	"github.com/taskmodel/taskmodel/server"
)

// Report is the content of outputs/report.json.
type Report struct {
	TaskID   string      `json:"task_id"`
	ToolID   string      `json:"tool_id"`
	Agents   []AgentRun  `json:"agents"`
	Inputs   []InputFile `json:"inputs"`
	Finished time.Time   `json:"finished_at"`
}

// AgentRun is one agent's part of the report.
type AgentRun struct {
	Name    string  `json:"name"`
	Seconds float64 `json:"seconds"`
}

// InputFile profiles one uploaded file.
type InputFile struct {
	Name   string `json:"name"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
	Lines  int    `json:"lines"`
}

// Handler returns the analysis handler: agentTime is how long each agent
// pauses (the agent's "work").
func Handler(blobs blob.Store, agentTime time.Duration) worker.Handler[analysis.Task] {
	return func(ctx context.Context, t *analysis.Task, p *worker.Progress[analysis.Task]) error {
		rep := Report{TaskID: t.ID.String(), ToolID: t.ToolID}
		for _, f := range analysis.API.Uploads.Files {
			in, err := profile(ctx, blobs, t, f.Name)
			switch {
			case errors.Is(err, blob.ErrNotFound) && !f.Required:
				continue
			case err != nil:
				return worker.Fail(string(analysis.ErrorCodeFileReadError), "%s: %v", f.Name, err)
			}
			rep.Inputs = append(rep.Inputs, in)
		}
		total := int64(len(t.Agents))
		for i, agent := range t.Agents {
			// Progress first: the current agent is the one running.
			if err := p.Report(ctx, float64(i)/float64(total), detail(agent, total, int64(i))); err != nil {
				return err
			}
			start := time.Now()
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(agentTime):
			}
			if strings.HasPrefix(agent, "fail") {
				return worker.Fail(string(analysis.ErrorCodeAgentError), "agent %s failed (demo: agents named fail… always fail)", agent)
			}
			rep.Agents = append(rep.Agents, AgentRun{Name: agent, Seconds: time.Since(start).Seconds()})
		}
		if err := p.Report(ctx, 1, detail("", total, total)); err != nil {
			return err
		}
		rep.Finished = time.Now().UTC()
		body, err := json.MarshalIndent(rep, "", "  ")
		if err != nil {
			return err
		}
		key := server.OutputPrefix(t.Owner(), t.ID) + "report.json"
		if _, err := blobs.Put(ctx, key, bytes.NewReader(body), blob.PutOptions{ContentType: "application/json", MaxSize: 1 << 20}); err != nil {
			return fmt.Errorf("writing %s: %w", key, err)
		}
		return nil
	}
}

func detail(agent string, total, done int64) func(*analysis.Task) {
	return func(t *analysis.Task) {
		d := &analysis.ProgressDetail{CurrentStage: "agent_execution", AgentsTotal: total, AgentsCompleted: done}
		if agent != "" {
			d.CurrentAgent = &agent
		} else {
			d.CurrentStage = "finalizing"
		}
		t.ProgressDetail = d
	}
}

// profile reads the input name of t as POST /tasks/{id}/process verified
// it (server.OpenInput: a file replaced since is an error, not read).
func profile(ctx context.Context, blobs blob.Store, t *analysis.Task, name string) (InputFile, error) {
	r, info, err := server.OpenInput(ctx, blobs, t.Owner(), t.ID, name)
	if err != nil {
		return InputFile{}, err
	}
	defer r.Close()
	h := sha256.New()
	lines, last := 0, byte('\n')
	buf := make([]byte, 64<<10)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			h.Write(buf[:n])
			lines += bytes.Count(buf[:n], []byte{'\n'})
			last = buf[n-1]
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return InputFile{}, err
		}
	}
	if last != '\n' {
		lines++ // a last line without a newline
	}
	return InputFile{Name: name, Size: info.Size, SHA256: hex.EncodeToString(h.Sum(nil)), Lines: lines}, nil
}
