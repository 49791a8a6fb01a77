package gen

import (
	"slices"

	"github.com/taskmodel/taskmodel/tools/taskgen/internal/spec"
)

// workerResultFields are the fields of a model a worker may set when it
// completes a task over the worker protocol, as taskmodel serve decides
// them: every field but the built-in ones, the owner, the create fields,
// the error and progress fields and time fields (the lifecycle's entry
// timestamps).
func workerResultFields(m *spec.Model) []*spec.Field {
	skip := []string{"id", "status", "version", "created_at", "updated_at", "task_id", "error_code", "error_message", "progress", "progress_detail"}
	var out []*spec.Field
	for _, f := range m.Fields {
		if slices.Contains(skip, f.Name) || f.Type.Kind == spec.KindTime {
			continue
		}
		if m.API != nil && (m.API.Owner == f || slices.Contains(m.API.Create, f)) {
			continue
		}
		out = append(out, f)
	}
	slices.SortFunc(out, func(a, b *spec.Field) int {
		switch {
		case a.Name < b.Name:
			return -1
		case a.Name > b.Name:
			return 1
		}
		return 0
	})
	return out
}

// workerPaths adds the worker protocol's routes and schemas for the models
// with a worker section (nothing when none has one).
func (o *openapi) workerPaths(models []*spec.Model, paths obj) {
	var names, resultRefs, detailRefs, codeRefs []any
	for _, m := range models {
		if m.Worker == nil {
			continue
		}
		names = append(names, m.Name)
		props := obj{}
		for _, f := range workerResultFields(m) {
			props[f.Name] = o.field(m, f)
		}
		o.schemas[sname(m, "worker_result")] = object("The result fields a worker may set when it completes a task of model "+m.Name+".", props, nil, true)
		resultRefs = append(resultRefs, ref(sname(m, "worker_result")))
		codeRefs = append(codeRefs, ref(sname(m, "ErrorCode")))
		if f := m.FieldByName("progress_detail"); f != nil {
			detailRefs = append(detailRefs, o.typeSchema(m, f.Type))
		}
	}
	if len(names) == 0 {
		return
	}
	s := o.schemas
	str := func(desc string) obj { return obj{"type": "string", "description": desc} }
	lease := str("The lease string POST /worker/claim returned with the task.")
	expires := obj{"type": []string{"string", "null"}, "format": "date-time", "description": "When the lease expires unless renewed; null when cancelled."}
	s["WorkerModel"] = obj{"type": "string", "enum": names, "description": "A model with a worker section: its tasks are claimed over the worker protocol."}
	s["WorkerClaimRequest"] = object("What to claim.", obj{
		"models":       obj{"type": "array", "items": ref("WorkerModel"), "minItems": 1, "maxItems": 100, "description": "Models to claim from (default: the worker token's models)."},
		"limit":        obj{"type": "integer", "minimum": 1, "maximum": 100, "default": 1, "description": "How many tasks at most."},
		"wait_seconds": obj{"type": "integer", "minimum": 0, "maximum": 30, "default": 0, "description": "How long to wait for a task when none is queued (long poll)."},
		"worker":       obj{"type": "string", "minLength": 1, "maxLength": 100, "pattern": "^[A-Za-z0-9._@:/-]+$", "default": "worker", "description": "This worker's name, for the tasks' history."},
	}, nil, true)
	s["WorkerClaimedTask"] = object("A claimed task, in its model's running status under the lease.", obj{
		"task_type":         ref("WorkerModel"),
		"id":                obj{"type": "string", "format": "uuid"},
		"lease":             str("Opaque: send it with every heartbeat, progress, complete, fail and release of the task."),
		"lease_expires_at":  obj{"type": "string", "format": "date-time"},
		"heartbeat_seconds": obj{"type": "integer", "minimum": 1, "description": "How often to heartbeat (a third of the lease)."},
		"traceparent": obj{"type": "string", "pattern": "^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$",
			"description": "The W3C trace context (a traceparent header) the task was created with, when the server traces: the worker's spans continue that trace, and a traceparent header sent with the task's heartbeat, progress, complete and fail puts the server's spans under the worker's. Omitted when there is none."},
		"task": ref("Task"),
	}, []string{"task_type", "id", "lease", "lease_expires_at", "heartbeat_seconds", "task"}, false)
	s["WorkerClaimResponse"] = object("The claimed tasks; empty when the wait ended with none.", obj{
		"tasks": obj{"type": "array", "items": ref("WorkerClaimedTask")},
	}, []string{"tasks"}, false)
	s["WorkerLeaseRequest"] = object("A lease.", obj{"lease": lease}, []string{"lease"}, true)
	s["WorkerLeaseState"] = object("The lease after a heartbeat or a progress report.", obj{
		"cancelled":        obj{"type": "boolean", "description": "The task was cancelled: stop working on it."},
		"lease_expires_at": expires,
		"recorded":         obj{"type": "boolean", "description": "Of a progress report: false when the task's status maps no progress and no detail was given (only the lease was renewed)."},
	}, []string{"cancelled", "lease_expires_at"}, false)
	detail := obj{"type": "object", "description": "The task's progress_detail (models that have one)."}
	if len(detailRefs) > 0 {
		detail = obj{"anyOf": detailRefs, "description": "The task's progress_detail (models that have one)."}
	}
	s["WorkerProgressRequest"] = object("Progress of a task's work.", obj{
		"lease":   lease,
		"percent": obj{"type": "number", "minimum": 0, "maximum": 100, "description": "How much of the work is done; the status's progress mapping turns it into the task's progress."},
		"detail":  detail,
	}, []string{"lease", "percent"}, true)
	s["WorkerCompleteRequest"] = object("Complete a task.", obj{
		"lease":  lease,
		"result": obj{"anyOf": resultRefs, "description": "Result fields of the task's model."},
	}, []string{"lease"}, true)
	s["WorkerFailRequest"] = object("Fail a task.", obj{
		"lease":      lease,
		"error_code": obj{"anyOf": codeRefs, "description": "An error code of the task's model; omitted, the worker section's."},
		"message":    str("What went wrong."),
	}, []string{"lease"}, true)
	s["WorkerReleaseRequest"] = object("Give back a claimed task that was not started.", obj{
		"lease":   lease,
		"message": obj{"type": "string", "maxLength": 1000, "description": "Why the worker gives the task back, for the task's history."},
	}, []string{"lease"}, true)

	problem := func(desc string) obj {
		return obj{"description": desc, "content": obj{"application/problem+json": obj{"schema": ref("Problem")}}}
	}
	body := func(name string) obj {
		return obj{"required": true, "content": obj{"application/json": obj{"schema": ref(name)}}}
	}
	answer := func(desc, name string) obj {
		return obj{"description": desc, "content": obj{"application/json": obj{"schema": ref(name)}}}
	}
	errs := func(ok obj, lease bool) obj {
		r := obj{
			"200": ok,
			"400": obj{"$ref": "#/components/responses/BadRequest"},
			"401": obj{"$ref": "#/components/responses/Unauthorized"},
			"403": problem("Not a worker token, or not one of this model."),
			"503": obj{"$ref": "#/components/responses/Unavailable"},
		}
		if lease {
			r["409"] = problem("The lease no longer holds the task (type urn:taskmodel:problem:lease-lost: expired and taken over, or another token's), or the task was cancelled (current_status).")
		}
		return r
	}
	op := func(id, summary string, req string, ok obj, lease bool) obj {
		o := obj{"operationId": id, "summary": summary, "responses": errs(ok, lease), "requestBody": body(req)}
		if lease {
			o["parameters"] = []any{obj{"$ref": "#/components/parameters/TaskID"}}
		}
		return obj{"post": o}
	}
	leaseState := answer("The lease's state.", "WorkerLeaseState")
	task := answer("The task, ended.", "Task")
	paths["/worker/claim"] = op("workerClaim", "Claim queued tasks (worker token).", "WorkerClaimRequest", answer("The claimed tasks.", "WorkerClaimResponse"), false)
	paths["/worker/tasks/{id}/heartbeat"] = op("workerHeartbeat", "Renew a claimed task's lease.", "WorkerLeaseRequest", leaseState, true)
	paths["/worker/tasks/{id}/progress"] = op("workerProgress", "Report a claimed task's progress (renews the lease).", "WorkerProgressRequest", leaseState, true)
	paths["/worker/tasks/{id}/complete"] = op("workerComplete", "Complete a claimed task.", "WorkerCompleteRequest", task, true)
	paths["/worker/tasks/{id}/fail"] = op("workerFail", "Fail a claimed task.", "WorkerFailRequest", task, true)
	release := op("workerRelease", "Give back a claimed task that was not started.", "WorkerReleaseRequest", answer("The task, back in the queue.", "Task"), true)
	release["post"].(obj)["description"] = "For a worker that cannot run a task it claimed (its program cannot start, it is shutting down, it claimed more than it can take): the worker section's requeue event moves the task back to the queue at once, its lease ends so that any worker can claim it right away, and the claim is not counted as an attempt. The history row names the worker, with the message."
	release["post"].(obj)["responses"].(obj)["409"] = problem("The lease no longer holds the task (type urn:taskmodel:problem:lease-lost: released already, expired and taken over, the task ended, or another token's), the task was cancelled (current_status), or the model has no requeue event (type urn:taskmodel:problem:transition).")
	paths["/worker/tasks/{id}/release"] = release
}
