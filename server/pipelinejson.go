package server

import (
	"encoding/json"
	"time"

	"github.com/google/uuid"

	"github.com/taskmodel/taskmodel/sdk/pipeline"
)

// PipelineRun is a pipeline run as the HTTP API returns it: the tracker's
// run with the percent status shows (Percent, from the subtasks when the
// run set none of its own; OverallPercent is its own) and the process as
// host, pid and user.
type PipelineRun struct {
	ID             uuid.UUID       `json:"id"`
	Stage          string          `json:"stage"`
	Task           string          `json:"task"`
	Status         string          `json:"status"`
	Percent        float64         `json:"percent"`
	PercentSource  string          `json:"percent_source"`
	OverallPercent float64         `json:"overall_percent"`
	Message        *string         `json:"message"`
	TotalSubtasks  *int64          `json:"total_subtasks"`
	CurrentSubtask *int64          `json:"current_subtask"`
	Host           *string         `json:"host"`
	PID            *int64          `json:"pid"`
	PPID           *int64          `json:"ppid"`
	User           *string         `json:"user"`
	CodeVersion    *string         `json:"code_version"`
	GitCommit      *string         `json:"git_commit"`
	Environment    json.RawMessage `json:"environment"`
	ScriptPath     *string         `json:"script_path"`
	ScriptFilename *string         `json:"script_filename"`
	LogPath        *string         `json:"log_path"`
	LogFilename    *string         `json:"log_filename"`
	ErrorMessage   *string         `json:"error_message"`
	ErrorDetail    *string         `json:"error_detail"`
	MemoryMB       *float64        `json:"memory_mb"`
	CPUPercent     *float64        `json:"cpu_percent"`
	Version        int64           `json:"version"`
	CreatedAt      time.Time       `json:"created_at"`
	StartedAt      *time.Time      `json:"started_at"`
	FinishedAt     *time.Time      `json:"finished_at"`
	UpdatedAt      time.Time       `json:"updated_at"`
}

// PipelineSubtask is a subtask of a run as the HTTP API returns it.
type PipelineSubtask struct {
	RunID         uuid.UUID  `json:"run_id"`
	Number        int64      `json:"number"`
	Name          string     `json:"name"`
	Status        string     `json:"status"`
	Percent       float64    `json:"percent"`
	ItemsTotal    *int64     `json:"items_total"`
	ItemsComplete int64      `json:"items_complete"`
	Message       *string    `json:"message"`
	ErrorMessage  *string    `json:"error_message"`
	Version       int64      `json:"version"`
	StartedAt     *time.Time `json:"started_at"`
	FinishedAt    *time.Time `json:"finished_at"`
	UpdatedAt     time.Time  `json:"updated_at"`
}

// PipelineRunDetail is GET /pipelines/runs/{id}: the run, its subtasks by
// number and its completion estimate.
type PipelineRunDetail struct {
	PipelineRun
	Subtasks []PipelineSubtask    `json:"subtasks"`
	Estimate pipeline.RunEstimate `json:"estimate"`
}

// PipelineTaskStatus is one registered task with its latest run (GET
// /pipelines/status).
type PipelineTaskStatus struct {
	Stage         string       `json:"stage"`
	Task          string       `json:"task"`
	Type          *string      `json:"type"`
	Status        string       `json:"status"`
	Percent       float64      `json:"percent"`
	PercentSource string       `json:"percent_source,omitempty"`
	Run           *PipelineRun `json:"run"`
}

// PipelineStage is a registered stage with its tasks (GET
// /pipelines/stages).
type PipelineStage struct {
	Name        string          `json:"name"`
	Order       int64           `json:"order"`
	Description *string         `json:"description"`
	Tasks       []pipeline.Task `json:"tasks"`
}

func runOut(r *pipeline.Run, p pipeline.Progress) PipelineRun {
	env := r.Environment
	if len(env) == 0 {
		env = json.RawMessage("null")
	}
	return PipelineRun{
		ID: r.ID, Stage: r.Stage, Task: r.Task, Status: string(r.Status),
		Percent: p.Percent, PercentSource: p.Source, OverallPercent: r.OverallPercent,
		Message: r.Message, TotalSubtasks: r.TotalSubtasks, CurrentSubtask: r.CurrentSubtask,
		Host: r.Hostname, PID: r.PID, PPID: r.PPID, User: r.UserName,
		CodeVersion: r.CodeVersion, GitCommit: r.GitCommit, Environment: env,
		ScriptPath: r.ScriptPath, ScriptFilename: r.ScriptFilename, LogPath: r.LogPath, LogFilename: r.LogFilename,
		ErrorMessage: r.ErrorMessage, ErrorDetail: r.ErrorDetail, MemoryMB: r.MemoryMB, CPUPercent: r.CPUPercent,
		Version: r.Version, CreatedAt: r.CreatedAt, StartedAt: r.StartedAt, FinishedAt: r.EndedAt, UpdatedAt: r.UpdatedAt,
	}
}

func subtaskOut(s *pipeline.Subtask) PipelineSubtask {
	return PipelineSubtask{
		RunID: s.RunID, Number: s.SubtaskNumber, Name: s.Name, Status: string(s.Status), Percent: s.Percent,
		ItemsTotal: s.ItemsTotal, ItemsComplete: s.ItemsComplete, Message: s.Message, ErrorMessage: s.ErrorMessage,
		Version: s.Version, StartedAt: s.StartedAt, FinishedAt: s.EndedAt, UpdatedAt: s.UpdatedAt,
	}
}

func subtasksOut(subs []*pipeline.Subtask) []PipelineSubtask {
	out := make([]PipelineSubtask, len(subs))
	for i, s := range subs {
		out[i] = subtaskOut(s)
	}
	return out
}
