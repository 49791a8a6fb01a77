/*
Package server is taskmodel's HTTP API: the routes a frontend or another
service uses to create tasks, upload their files, follow them and list
them, for every model generated from the specs. `taskmodel serve` runs it;
a service can also mount Server.Handler itself.

# Models

The handlers are written once, over a type-erased binding of each model's
engine (sdk/engine). taskgen's catalog package emits catalog.Serve, which
binds every model of the specs to a Backend (SQLite, PostgreSQL or memory):

	db, _ := sqlite.Open(ctx, "tasks.db", catalog.Migrations(sqlite.Engine))
	models, _ := catalog.Serve(server.SQLite(db))
	srv, _ := server.New(server.Config{Models: models, Blobs: blobs, ...})

A new spec in schema/ gets its routes by regeneration. What clients may do
with a model comes from its spec's api section (tasktype.API): the owner
field, the fields a client sets on creation, and the files it uploads.
Engine returns a model's typed engine, to run worker pools next to the
server.

# Routes

	POST /tasks                        create (the upload → process lifecycle); task_type selects the model
	GET  /tasks                        the unified listing (the unified listing)
	GET  /tasks/{id}                   a task: its fields, status, progress, progress_detail, errors, timestamps
	GET  /tasks/{id}/history           its status changes
	GET  /tasks/{id}/events            Server-Sent Events: every change, until a terminal status
	POST /tasks/{id}/cancel            the worker section's cancel event
	POST /tasks/{id}/upload-urls       signed upload URLs, then the uploads' request event
	POST /tasks/{id}/process           verify the uploads, then queue the task (or UPLOAD_FAILED)
	GET  /tasks/{id}/downloads         signed download URLs of a finished task's outputs
	GET  /healthz, /readyz, /metrics, /openapi.json
	/pipelines/...                     pipeline tracking over Config.Pipelines (pipelines.go; docs/pipeline.md)

and, for workers in any language with a worker token (models with a worker
section; the same leases and rules as sdk/worker's pools, worker.Leases):

	POST /worker/claim                 claim queued tasks (long poll up to 30 s)
	POST /worker/tasks/{id}/heartbeat  renew the lease; cancelled tells the worker to stop
	POST /worker/tasks/{id}/progress   percent through the status's progress mapping, progress_detail
	POST /worker/tasks/{id}/complete   the complete event, with result fields
	POST /worker/tasks/{id}/fail       the fail event, with an error code of the spec
	POST /worker/tasks/{id}/release    give back a task not started: the requeue event, the attempt not counted

A task is returned as its model's JSON with a task_id and the
task_type in front. Listing rows are the unified listing's {id, task_type,
task_status, tag, created_at, end_date}; the defaults are limit 20 and
within_hours 1 ("default: last hour"), and values out of range are errors,
never clamped.

# Users

Every request but health, metrics, the OpenAPI document and signed blob
URLs carries a bearer token (package auth; `taskmodel token create`).
A task belongs to the user who created it (the spec's api owner field):
other users get 404 for it and never see it listed; admins see every task.
Models without an owner field are visible to admins only. Anonymous access
is an explicit opt-in (Config.Anonymous) and only ever applies to requests
from a loopback address. Browsers cannot set headers on an EventSource, so
the events route also takes the token as ?access_token=; request logs never
include query strings.

# Errors

Every error is an RFC 9457 problem (application/problem+json) whose type is
ProblemTypeBase plus its kind; a refused field is named in errors[] with
the rule it broke and what is allowed, and a refused transition (409)
carries the current status and the actions a client may still take
(allowed_actions: upload-urls, process, cancel). Bad input is never a
500 and never changes anything: query strings are parsed strictly (valid
UTF-8, no control characters), so is a JSON body's text (valid UTF-8, no
lone surrogate escapes), a body over MaxBodyBytes is a 413, a body
slower than BodyMinRate after BodyGrace a 408, and Serve rewrites the
plain-text answers net/http writes before any handler as problems too
(and its empty 417 to an unsupported Expect header).

Event streams authenticate their token again every TokenRecheck and end
when it is revoked. A task's signed upload URLs are refused (409) once it
has left the status its uploads are verified from (blob.UploadGate).

# Background work

Run applies the spec's timeouts and retention (one process at a time, with
a lease per model), deletes the files of tasks that expired before their
uploads were processed (the upload → process lifecycle: "Expired task files: Delete
immediately"), and counts the transitions this process makes for
/metrics.

A worker claim that waits (POST /worker/claim with wait_seconds) is woken
by a task queued in this process, and, over PostgreSQL and SQLite, by one
queued by another process, through the model's driver (backends.Waker):
one listener per model, shared by every waiting claim, started when the
first one waits and stopped a minute after the last, or by Close (which
Serve calls when it returns). Config.ClaimPoll is the safety net.
*/
package server
