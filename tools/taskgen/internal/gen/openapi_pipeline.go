package gen

import "github.com/taskmodel/taskmodel/tools/taskgen/internal/spec"

// The pipeline tracker's routes (taskmodel serve's /pipelines, package
// server's pipelines.go) exist when the catalog holds the run and subtask
// models they keep.
const (
	pipelineRunModel     = "pipeline_run"
	pipelineSubtaskModel = "pipeline_subtask"
)

// hasPipelines reports whether models hold the pipeline run and subtask
// models.
func hasPipelines(models []*spec.Model) bool {
	run, sub := false, false
	for _, m := range models {
		run = run || m.Name == pipelineRunModel
		sub = sub || m.Name == pipelineSubtaskModel
	}
	return run && sub
}

// pipelinePaths adds the /pipelines routes and their schemas.
func (o *openapi) pipelinePaths(paths obj) {
	s := o.schemas
	// A pipeline route's 409 lists the routes on the run or subtask still
	// possible, by their last segment, as a task's lists its actions.
	actions := s["Problem"].(obj)["properties"].(obj)["allowed_actions"].(obj)
	actions["items"] = obj{"type": "string", "enum": []string{"upload-urls", "process", "cancel", "update", "increment", "complete", "fail", "skip"}}
	actions["description"] = "What the client may still do to the task, or to the pipeline run or subtask, through the API in its status, by the route's last segment (409)."
	str := obj{"type": "string"}
	nstr := obj{"type": []string{"string", "null"}}
	nint := obj{"type": []string{"integer", "null"}, "format": "int64"}
	nnum := obj{"type": []string{"number", "null"}}
	ntime := obj{"type": []string{"string", "null"}, "format": "date-time"}
	tm := obj{"type": "string", "format": "date-time"}
	status := obj{"type": "string", "enum": []string{"NOT_STARTED", "STARTED", "RUNNING", "COMPLETED", "FAILED", "SKIPPED", "CANCELLED"}}
	pct := obj{"type": "number", "minimum": 0, "maximum": 100}
	s["PipelineRun"] = object("A pipeline run: one execution of a registered task.", obj{
		"id": obj{"type": "string", "format": "uuid"}, "stage": str, "task": str, "status": status,
		"percent":         obj{"type": "number", "description": "The percent shown: overall_percent, or from the subtasks (percent_source)."},
		"percent_source":  obj{"type": "string", "enum": []string{"run", "subtasks"}},
		"overall_percent": pct, "message": nstr, "total_subtasks": nint, "current_subtask": nint,
		"host": nstr, "pid": nint, "ppid": nint, "user": nstr, "code_version": nstr, "git_commit": nstr,
		"environment": obj{"type": []string{"object", "null"}, "additionalProperties": obj{"type": "string"}},
		"script_path": nstr, "script_filename": nstr, "log_path": nstr, "log_filename": nstr,
		"error_message": nstr, "error_detail": nstr, "memory_mb": nnum, "cpu_percent": nnum,
		"version": obj{"type": "integer", "format": "int64"}, "created_at": tm, "started_at": ntime, "finished_at": ntime, "updated_at": tm,
	}, []string{"id", "stage", "task", "status", "percent", "message", "total_subtasks", "current_subtask", "host", "pid", "user", "started_at", "finished_at", "updated_at"}, false)
	s["PipelineSubtask"] = object("A subtask of a run.", obj{
		"run_id": obj{"type": "string", "format": "uuid"}, "number": obj{"type": "integer", "minimum": 1},
		"name": str, "status": status, "percent": pct, "items_total": nint,
		"items_complete": obj{"type": "integer", "format": "int64", "minimum": 0}, "message": nstr, "error_message": nstr,
		"version": obj{"type": "integer", "format": "int64"}, "started_at": ntime, "finished_at": ntime, "updated_at": tm,
	}, []string{"run_id", "number", "name", "status", "percent", "items_total", "items_complete", "message"}, false)
	estimate := obj{
		"known": obj{"type": "boolean"}, "items_complete": obj{"type": "integer"}, "items_total": obj{"type": "integer"},
		"items_per_second": obj{"type": "number"}, "remaining_seconds": obj{"type": "number"},
		"remaining_low_seconds":  obj{"type": "number"},
		"remaining_high_seconds": obj{"type": []string{"number", "null"}, "description": "null when unbounded (few items so far)."},
		"eta":                    ntime,
	}
	sub := obj{"subtask_number": obj{"type": "integer"}, "name": str, "status": status}
	for k, v := range estimate {
		sub[k] = v
	}
	runEst := obj{"run_id": obj{"type": "string", "format": "uuid"}, "subtasks": obj{"type": "array", "items": object("A subtask's estimate.", sub, nil, false)}}
	for k, v := range estimate {
		runEst[k] = v
	}
	s["PipelineEstimate"] = object("When the run should be done, from items per second, with a 95% range.", runEst, nil, false)
	s["PipelineRunDetail"] = obj{"allOf": []any{ref("PipelineRun"), object("", obj{
		"subtasks": obj{"type": "array", "items": ref("PipelineSubtask")}, "estimate": ref("PipelineEstimate"),
	}, []string{"subtasks", "estimate"}, false)}, "description": "A run with its subtasks and estimate."}
	s["PipelineTask"] = object("A registered task.", obj{
		"stage": str, "name": str, "order": obj{"type": "integer", "minimum": 0},
		"type":        obj{"type": []string{"string", "null"}, "enum": []any{"R", "sh", "python", nil}},
		"script_path": nstr, "script_filename": nstr, "log_path": nstr, "log_filename": nstr,
	}, []string{"stage", "name"}, false)
	s["PipelineStage"] = object("A registered stage with its tasks in order.", obj{
		"name": str, "order": obj{"type": "integer", "minimum": 0}, "description": nstr,
		"tasks": obj{"type": "array", "items": ref("PipelineTask")},
	}, []string{"name", "order"}, false)
	s["PipelineTaskStatus"] = object("A registered task with its latest run.", obj{
		"stage": str, "task": str, "type": nstr, "status": status, "percent": obj{"type": "number"},
		"percent_source": obj{"type": "string"}, "run": obj{"oneOf": []any{ref("PipelineRun"), obj{"type": "null"}}},
	}, []string{"stage", "task", "status", "percent", "run"}, false)

	problem := func(code, name string) obj { return obj{code: obj{"$ref": "#/components/responses/" + name}} }
	errs := func(codes ...string) obj {
		out := obj{}
		names := map[string]string{"400": "BadRequest", "401": "Unauthorized", "404": "NotFound", "409": "Conflict", "503": "Unavailable"}
		for _, c := range codes {
			for k, v := range problem(c, names[c]) {
				out[k] = v
			}
		}
		return out
	}
	answer := func(code, desc string, schema any, r obj) obj {
		r[code] = obj{"description": desc, "content": obj{"application/json": obj{"schema": schema}}}
		return r
	}
	array := func(name string) obj { return obj{"type": "array", "items": ref(name)} }
	op := func(id, summary string, responses obj, params []any, body obj) obj {
		o := obj{"operationId": id, "summary": summary, "responses": responses, "tags": []string{"pipelines"}}
		if len(params) > 0 {
			o["parameters"] = params
		}
		if body != nil {
			o["requestBody"] = obj{"required": false, "content": obj{"application/json": obj{"schema": body}}}
		}
		return o
	}
	reqObj := func(props obj, required ...string) obj {
		var req []string
		req = append(req, required...)
		return object("", props, req, true)
	}
	runParam := obj{"name": "id", "in": "path", "required": true, "description": "The run's id.", "schema": obj{"type": "string", "format": "uuid"}}
	nParam := obj{"name": "n", "in": "path", "required": true, "description": "The subtask's number.", "schema": obj{"type": "integer", "minimum": 1}}
	run := []any{runParam}
	subtask := []any{runParam, nParam}
	text := obj{"type": "string"}
	count := obj{"type": "integer", "minimum": 0}

	stageIn := object("", obj{"name": text, "order": count, "description": text}, []string{"name"}, true)
	taskIn := object("", obj{"stage": text, "name": text, "order": count, "type": obj{"type": "string", "enum": []string{"R", "sh", "python"}},
		"script_path": text, "script_filename": text, "log_path": text, "log_filename": text}, []string{"stage", "name"}, true)
	paths["/pipelines/stages"] = obj{
		"get": op("listPipelineStages", "The registered stages in order, each with its tasks.",
			answer("200", "The stages.", array("PipelineStage"), errs("401", "503")), nil, nil),
		"post": op("registerPipeline", "Register stages and tasks (idempotent; a task's stage is registered with it).",
			answer("200", "Every stage with its tasks.", array("PipelineStage"), errs("400", "401", "503")), nil,
			reqObj(obj{"stages": obj{"type": "array", "items": stageIn}, "tasks": obj{"type": "array", "items": taskIn}})),
	}
	paths["/pipelines/runs"] = obj{"post": op("startPipelineRun", "Start a run of a registered task.",
		answer("201", "The run, STARTED.", ref("PipelineRun"), errs("400", "401", "404", "503")), nil,
		reqObj(obj{"stage": text, "task": text, "total_subtasks": obj{"type": "integer", "minimum": 1}, "message": text, "host": text,
			"pid": obj{"type": "integer", "minimum": 1}, "ppid": count, "user": obj{"type": "string", "description": "Default: the signed-in user."},
			"code_version": text, "git_commit": text,
			"environment": obj{"type": "object", "additionalProperties": obj{"type": []string{"string", "number", "boolean"}}},
			"script_path": text, "script_filename": text, "log_path": text, "log_filename": text}, "stage", "task"))}
	paths["/pipelines/runs/{id}"] = obj{"get": op("getPipelineRun", "A run with its subtasks and completion estimate.",
		answer("200", "The run.", ref("PipelineRunDetail"), errs("400", "401", "404", "503")), run, nil)}
	runOp := func(id, summary string, body obj) obj {
		return obj{"post": op(id, summary, answer("200", "The run.", ref("PipelineRun"), errs("400", "401", "404", "409", "503")), run, body)}
	}
	paths["/pipelines/runs/{id}/update"] = runOp("updatePipelineRun", "Report progress on a run (the first report makes it RUNNING).",
		reqObj(obj{"percent": pct, "message": text}))
	paths["/pipelines/runs/{id}/complete"] = runOp("completePipelineRun", "Complete a run; refused while subtasks are unfinished unless force.",
		reqObj(obj{"message": text, "force": obj{"type": "boolean", "default": false}}))
	paths["/pipelines/runs/{id}/fail"] = runOp("failPipelineRun", "Fail a run and its unfinished subtasks.",
		reqObj(obj{"message": text, "detail": text}, "message"))
	paths["/pipelines/runs/{id}/skip"] = runOp("skipPipelineRun", "Skip a STARTED run (it found nothing to do), and its unfinished subtasks.",
		reqObj(obj{"message": text}))
	paths["/pipelines/runs/{id}/cancel"] = runOp("cancelPipelineRun", "Cancel a run that has not finished, and its unfinished subtasks.",
		reqObj(obj{"message": text}))
	paths["/pipelines/runs/{id}/subtasks"] = obj{"get": op("listPipelineSubtasks", "The subtasks of a run by number.",
		answer("200", "The subtasks.", array("PipelineSubtask"), errs("400", "401", "404", "503")), run, nil)}
	subOp := func(id, summary, code string, body obj) obj {
		return obj{"post": op(id, summary, answer(code, "The subtask.", ref("PipelineSubtask"), errs("400", "401", "404", "409", "503")), subtask, body)}
	}
	paths["/pipelines/runs/{id}/subtasks/{n}/start"] = subOp("startPipelineSubtask", "Start subtask n of a run (it becomes the run's current subtask).", "201",
		reqObj(obj{"name": text, "items_total": count, "message": text}, "name"))
	paths["/pipelines/runs/{id}/subtasks/{n}/update"] = subOp("updatePipelineSubtask", "Report progress on a subtask.", "200",
		reqObj(obj{"percent": pct, "items_complete": count, "items_total": count, "message": text}))
	paths["/pipelines/runs/{id}/subtasks/{n}/increment"] = subOp("incrementPipelineSubtask", "Add to a subtask's items_complete, atomically.", "200",
		reqObj(obj{"by": obj{"type": "integer", "minimum": 1, "default": 1}}))
	paths["/pipelines/runs/{id}/subtasks/{n}/complete"] = subOp("completePipelineSubtask", "Complete a subtask.", "200",
		reqObj(obj{"message": text}))
	paths["/pipelines/runs/{id}/subtasks/{n}/fail"] = subOp("failPipelineSubtask", "Fail a subtask (the run goes on).", "200",
		reqObj(obj{"message": text}, "message"))
	stageQ := query("stage", "Keep this stage.", obj{"type": "string"}, false)
	paths["/pipelines/status"] = obj{"get": op("getPipelineStatus", "Each registered task with its latest run, in order.",
		answer("200", "The tasks.", array("PipelineTaskStatus"), errs("400", "401", "404", "503")), []any{stageQ}, nil)}
	paths["/pipelines/active"] = obj{"get": op("listActivePipelineRuns", "The runs STARTED or RUNNING, oldest first.",
		answer("200", "The runs.", array("PipelineRun"), errs("401", "503")), nil, nil)}
	paths["/pipelines/history"] = obj{"get": op("getPipelineHistory", "Runs, newest first.",
		answer("200", "The runs.", array("PipelineRun"), errs("400", "401", "404", "503")), []any{stageQ,
			query("task", "Keep this task.", obj{"type": "string"}, false),
			query("limit", "At most this many runs.", obj{"type": "integer", "minimum": 1, "maximum": 10000, "default": 50}, false)}, nil)}
}
