package gen

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/dave/jennifer/jen"

	"github.com/taskmodel/taskmodel/tools/taskgen/internal/spec"
)

// OpenAPIMarker is the extension at the top of the OpenAPI document that
// marks it as taskgen's output (JSON has no comments).
const OpenAPIMarker = "x-generated-by"

// obj is a JSON object; encoding/json writes its keys sorted, so the
// document is deterministic.
type obj = map[string]any

func ref(name string) obj { return obj{"$ref": "#/components/schemas/" + name} }

// OpenAPI renders the OpenAPI 3.1 document of the HTTP API (taskmodel
// serve) over the listed models: the routes the server implements and a
// schema per model, value type, enum and request.
func OpenAPI(models []*spec.Model) ([]byte, error) {
	o := &openapi{schemas: obj{}}
	doc := o.document(models)
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

type openapi struct {
	schemas obj
}

// schema names: "<model>.<Name>" for a model's types (Go names, so
// upper-case) and "<model>.<role>" (lower-case, so never a type's) for its
// requests; shared schemas have no dot.
func sname(m *spec.Model, name string) string { return m.Name + "." + name }

func (o *openapi) document(models []*spec.Model) obj {
	var typeNames, creatable []string
	var taskRefs []any
	mapping := obj{}
	var createRefs, uploadReqs, uploadResps []any
	for _, m := range models {
		o.model(m)
		typeNames = append(typeNames, m.Name)
		taskRefs = append(taskRefs, ref(sname(m, m.Struct)))
		mapping[m.Name] = "#/components/schemas/" + sname(m, m.Struct)
		if m.API != nil {
			creatable = append(creatable, m.Name)
			createRefs = append(createRefs, ref(sname(m, "create_request")))
			if m.API.Uploads != nil {
				uploadReqs = append(uploadReqs, ref(sname(m, "upload_urls_request")))
				uploadResps = append(uploadResps, ref(sname(m, "upload_urls_response")))
			}
		}
	}
	s := o.schemas
	s["TaskType"] = obj{"type": "string", "enum": typeNames, "description": "A model: the task_type of its tasks."}
	s["StatusCode"] = obj{"type": "string", "enum": []string{"Q", "R", "D", "F", "C"},
		"description": "Unified short status code: Q queued, R running, D done, F failed, C cancelled."}
	s["Task"] = obj{"oneOf": taskRefs, "discriminator": obj{"propertyName": "task_type", "mapping": mapping},
		"description": "A task of any model, told apart by task_type."}
	s["ListRow"] = object("A task in the unified /tasks listing.", obj{
		"id":          obj{"type": "string", "format": "uuid"},
		"task_type":   ref("TaskType"),
		"task_status": ref("StatusCode"),
		"tag":         obj{"type": []string{"string", "null"}},
		"created_at":  obj{"type": "string", "format": "date-time"},
		"end_date":    obj{"type": []string{"string", "null"}, "format": "date-time", "description": "When the task finished; null while it runs."},
	}, []string{"id", "task_type", "task_status", "tag", "created_at", "end_date"}, false)
	s["HistoryEntry"] = object("One change of status, in order.", obj{
		"seq":         obj{"type": "integer", "format": "int64"},
		"from_status": obj{"type": "string", "description": "Absent on the entry that created the task."},
		"to_status":   obj{"type": "string"},
		"event":       obj{"type": "string", "description": "Absent on the entry that created the task."},
		"at":          obj{"type": "string", "format": "date-time"},
		"attempt":     obj{"type": "integer"},
		"actor":       obj{"type": "string"},
		"message":     obj{"type": "string"},
	}, []string{"seq", "to_status", "at", "attempt", "actor", "message"}, false)
	s["FieldError"] = object("What is wrong with one field.", obj{
		"field":   obj{"type": "string", "description": "The JSON field or query parameter."},
		"rule":    obj{"type": "string", "description": "The rule it breaks, e.g. max_len, one_of, unknown_field."},
		"message": obj{"type": "string", "description": "What is wrong and what is allowed."},
	}, []string{"field", "rule", "message"}, false)
	s["Problem"] = object("An error (RFC 9457 problem details).", obj{
		"type":            obj{"type": "string", "format": "uri-reference"},
		"title":           obj{"type": "string"},
		"status":          obj{"type": "integer"},
		"detail":          obj{"type": "string"},
		"instance":        obj{"type": "string", "format": "uri-reference"},
		"errors":          obj{"type": "array", "items": ref("FieldError"), "description": "The fields at fault (400)."},
		"current_status":  obj{"type": "string", "description": "The task's status (409)."},
		"allowed_actions": obj{"type": "array", "items": obj{"type": "string", "enum": []string{"upload-urls", "process", "cancel"}}, "description": "What the client may still do to the task through the API in its status, by the route's last segment (409)."},
	}, nil, false)
	s["UploadTarget"] = object("A signed request that uploads one file: send the file with this method, URL and headers before expires_at.", obj{
		"method":     obj{"type": "string"},
		"url":        obj{"type": "string", "format": "uri-reference"},
		"headers":    obj{"type": "object", "additionalProperties": obj{"type": "string"}},
		"expires_at": obj{"type": "string", "format": "date-time"},
	}, []string{"method", "url", "headers", "expires_at"}, false)
	s["Download"] = object("A signed request that downloads one output file.", obj{
		"name":         obj{"type": "string"},
		"size":         obj{"type": "integer", "format": "int64", "minimum": 0},
		"content_type": obj{"type": "string"},
		"method":       obj{"type": "string"},
		"url":          obj{"type": "string", "format": "uri-reference"},
		"expires_at":   obj{"type": "string", "format": "date-time"},
	}, []string{"name", "size", "content_type", "method", "url", "expires_at"}, false)
	s["Downloads"] = object("The task's output files.", obj{
		"task_id":   obj{"type": "string", "format": "uuid"},
		"downloads": obj{"type": "array", "items": ref("Download")},
	}, []string{"task_id", "downloads"}, false)

	problem := func(desc string) obj {
		return obj{"description": desc, "content": obj{"application/problem+json": obj{"schema": ref("Problem")}}}
	}
	responses := obj{
		"BadRequest":   problem("Bad input: the errors name each field and what is allowed."),
		"Unauthorized": problem("No valid bearer token."),
		"NotFound":     problem("No such task (or it belongs to another user)."),
		"Conflict":     problem("The task's status does not allow this; allowed_actions lists what it allows."),
		"Unavailable": problem("Try again later: a task this request reads is in a status, or holds a value, that this server's spec does not declare " +
			"(undeclared-value: a newer version wrote it during a deploy), or the database asked to retry (busy)."),
	}
	rref := func(name string) obj { return obj{"$ref": "#/components/responses/" + name} }
	errs := func(codes ...string) obj {
		out := obj{}
		for _, c := range codes {
			out[c] = rref(map[string]string{"400": "BadRequest", "401": "Unauthorized", "404": "NotFound", "409": "Conflict", "503": "Unavailable"}[c])
		}
		return out
	}
	with := func(r obj, code string, v obj) obj { r[code] = v; return r }
	jsonBody := func(desc string, schema any) obj {
		return obj{"description": desc, "content": obj{"application/json": obj{"schema": schema}}}
	}
	task := jsonBody("The task.", ref("Task"))
	idParam := obj{"$ref": "#/components/parameters/TaskID"}
	op := func(id, summary string, r obj, extra ...obj) obj {
		o := obj{"operationId": id, "summary": summary, "responses": r}
		for _, e := range extra {
			for k, v := range e {
				o[k] = v
			}
		}
		return o
	}
	public := obj{"security": []any{}}
	byID := func() obj { return obj{"parameters": []any{idParam}} }
	oneOrAny := func(refs []any) any {
		if len(refs) == 1 {
			return refs[0]
		}
		return obj{"anyOf": refs}
	}

	listParams := []any{
		query("limit", "Page size.", obj{"type": "integer", "minimum": 1, "maximum": 100, "default": 20}, false),
		query("offset", "Rows to skip.", obj{"type": "integer", "minimum": 0, "default": 0}, false),
		query("within_hours", "Keep tasks created in the last hours (unfinished tasks are always kept).", obj{"type": "integer", "minimum": 1, "default": 1}, false),
		query("task_type", "Keep these models (repeatable).", obj{"type": "array", "items": ref("TaskType")}, true),
		query("status", "Keep these status codes (repeatable).", obj{"type": "array", "items": ref("StatusCode")}, true),
		query("tag", "Keep tasks with this tag.", obj{"type": "string"}, false),
	}
	tasks := obj{
		"get": op("listTasks", "List tasks across models, newest first.",
			with(errs("400", "401", "503"), "200", jsonBody("The page of tasks.", obj{"type": "array", "items": ref("ListRow")})),
			obj{"parameters": listParams}),
	}
	if len(createRefs) > 0 {
		desc := "The model's create fields and task_type"
		if contains(creatable, DefaultTaskType) {
			desc += " (default " + DefaultTaskType + ")"
		}
		tasks["post"] = op("createTask", "Create a task.",
			with(errs("400", "401", "404", "503"), "201", jsonBody("The new task, in its initial status.", ref("Task"))),
			obj{"requestBody": obj{"required": true, "description": desc + "; any other field is refused.",
				"content": obj{"application/json": obj{"schema": obj{"oneOf": createRefs}}}}})
	}
	paths := obj{
		"/tasks": tasks,
		"/tasks/{id}": obj{"get": op("getTask", "Get a task.",
			with(errs("400", "401", "404", "503"), "200", task), byID())},
		"/tasks/{id}/history": obj{"get": op("getTaskHistory", "The task's changes of status, oldest first.",
			with(errs("400", "401", "404", "503"), "200", jsonBody("The history.", obj{"type": "array", "items": ref("HistoryEntry")})), byID())},
		"/tasks/{id}/cancel": obj{"post": op("cancelTask", "Cancel a task.",
			with(errs("400", "401", "404", "409", "503"), "200", task), byID())},
		"/tasks/{id}/events": obj{"get": op("streamTaskEvents", "Server-Sent Events: the task after every change.",
			with(with(errs("400", "401", "404", "503"), "200", obj{"description": "An event stream; each event's data is the task's JSON (a Task).",
				"content": obj{"text/event-stream": obj{"schema": obj{"type": "string"}, "x-event-data": ref("Task")}}}),
				"204", obj{"description": "A reconnection (Last-Event-ID) after the task's last event: the task has ended, and the stream has nothing more."}), byID())},
		"/healthz": obj{"get": op("healthz", "Liveness: the process is up.",
			obj{"200": obj{"description": "Alive."}}, public)},
		"/readyz": obj{"get": op("readyz", "Readiness: the database answers.",
			obj{"200": obj{"description": "Ready."}, "503": obj{"description": "Not ready."}}, public)},
		"/metrics": obj{"get": op("metrics", "Prometheus metrics.",
			with(errs("401"), "200", obj{"description": "Prometheus text exposition format.", "content": obj{"text/plain": obj{"schema": obj{"type": "string"}}}}))},
		"/openapi.json": obj{"get": op("openapi", "This document.",
			obj{"200": obj{"description": "The OpenAPI 3.1 document.", "content": obj{"application/json": obj{"schema": obj{"type": "object"}}}}}, public)},
	}
	o.workerPaths(models, paths)
	if len(uploadReqs) > 0 {
		paths["/tasks/{id}/upload-urls"] = obj{"post": op("requestUploadURLs", "Signed upload URLs for the task's files.",
			with(errs("400", "401", "404", "409", "503"), "200", jsonBody("Where to upload each file.", oneOrAny(uploadResps))),
			byID(), obj{"requestBody": obj{"required": true, "content": obj{"application/json": obj{"schema": oneOrAny(uploadReqs)}}}})}
		paths["/tasks/{id}/process"] = obj{"post": op("processTask", "Verify the uploaded files and queue the task.",
			with(errs("400", "401", "404", "409", "503"), "200", jsonBody("The task: QUEUED, or UPLOAD_FAILED with its error_message when a required file is missing.", ref("Task"))), byID())}
		paths["/tasks/{id}/downloads"] = obj{"get": op("getTaskDownloads", "Signed download URLs of the task's outputs.",
			with(errs("400", "401", "404", "409", "503"), "200", jsonBody("The outputs.", ref("Downloads"))), byID())}
	}
	if hasPipelines(models) {
		o.pipelinePaths(paths)
	}
	return obj{
		"openapi": "3.1.0",
		"info": obj{
			"title":   "taskmodel",
			"version": "1",
			"description": "The HTTP API of taskmodel serve over the models " + strings.Join(typeNames, ", ") +
				". Generated by taskgen from the specs.",
		},
		OpenAPIMarker: Header,
		"security":    []any{obj{"bearer": []any{}}},
		"paths":       paths,
		"components": obj{
			"schemas":   o.schemas,
			"responses": responses,
			"parameters": obj{"TaskID": obj{"name": "id", "in": "path", "required": true, "description": "The task's id.",
				"schema": obj{"type": "string", "format": "uuid"}}},
			"securitySchemes": obj{"bearer": obj{"type": "http", "scheme": "bearer",
				"description": "Authorization: Bearer tm_… (taskmodel token create)."}},
		},
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func query(name, desc string, schema obj, repeat bool) obj {
	p := obj{"name": name, "in": "query", "description": desc, "schema": schema}
	if repeat {
		p["style"] = "form"
		p["explode"] = true
	}
	return p
}

// object is an object schema; closed refuses other properties.
func object(desc string, props obj, required []string, closed bool) obj {
	o := obj{"type": "object", "properties": props}
	if desc != "" {
		o["description"] = oneLine(desc)
	}
	if len(required) > 0 {
		o["required"] = required
	}
	if closed {
		o["additionalProperties"] = false
	}
	return o
}

// model adds the model's schemas: the task, its status, error codes, enums,
// value types and requests.
func (o *openapi) model(m *spec.Model) {
	g := &generator{m: m}
	statusDesc := []string{}
	for _, st := range m.Statuses {
		d := st.Name
		if st.Code != "" {
			d += " (" + st.Code + ")"
		}
		if st.Terminal {
			d += ", terminal"
		}
		if st.Doc != "" {
			d += ": " + oneLine(st.Doc)
		}
		statusDesc = append(statusDesc, d)
	}
	o.schemas[sname(m, "Status")] = obj{"type": "string", "enum": g.statusNames(),
		"description": "A status of " + m.Name + ". " + strings.Join(statusDesc, "; ") + "."}
	codes := make([]string, len(m.ErrorCodes))
	var codeDesc []string
	for i, c := range m.ErrorCodes {
		codes[i] = c.Name
		codeDesc = append(codeDesc, c.Name+": "+c.Message)
	}
	ec := obj{"type": "string", "enum": codes, "description": "An error code of " + m.Name + ". " + strings.Join(codeDesc, "; ")}
	if len(codes) == 0 {
		ec = obj{"not": obj{}, "description": "The model " + m.Name + " declares no error codes."}
	}
	o.schemas[sname(m, "ErrorCode")] = ec
	for _, e := range m.Enums {
		vals := make([]string, len(e.Values))
		for i, v := range e.Values {
			vals[i] = v.Value
		}
		s := obj{"type": "string", "enum": vals}
		if e.Doc != "" {
			s["description"] = oneLine(e.Doc)
		}
		o.schemas[sname(m, e.Name)] = s
	}
	for _, t := range m.Types {
		props := obj{}
		var req []string
		for _, f := range t.Fields {
			props[f.Name] = o.field(m, f)
			if f.Required {
				req = append(req, f.Name)
			}
		}
		o.schemas[sname(m, t.Name)] = object(t.Doc, props, req, true)
	}

	props := obj{
		"task_id":   obj{"type": "string", "format": "uuid", "description": "The task's id (the same as id)."},
		"task_type": obj{"const": m.Name},
	}
	req := []string{"task_id", "task_type"}
	for _, f := range append(g.builtinFields(), m.Fields...) {
		// A model's own task_id or task_type field keeps its schema.
		if _, added := props[f.Name]; !added {
			req = append(req, f.Name)
		}
		props[f.Name] = o.field(m, f)
	}
	o.schemas[sname(m, m.Struct)] = object(firstNonEmpty(m.Doc, "A task of the "+m.Name+" model."), props, req, false)

	a := m.API
	if a == nil {
		return
	}
	tt := obj{"const": m.Name}
	creq := []string{}
	if m.Name == DefaultTaskType {
		tt["default"] = m.Name
	} else {
		creq = append(creq, "task_type")
	}
	cprops := obj{"task_type": tt}
	for _, f := range a.Create {
		cprops[f.Name] = o.field(m, f)
		if f.Required {
			creq = append(creq, f.Name)
		}
	}
	o.schemas[sname(m, "create_request")] = object("POST /tasks creating a task of "+m.Name+".", cprops, creq, true)

	u := a.Uploads
	if u == nil {
		return
	}
	files := obj{}
	var freq, names []string
	uprops := obj{}
	for _, f := range u.Files {
		names = append(names, f.Name)
		uprops[f.Name] = ref("UploadTarget")
		if f.Flag != "" {
			continue
		}
		ct := obj{"type": "string", "minLength": 1}
		if len(f.ContentTypes) > 0 {
			ct = obj{"type": "string", "enum": f.ContentTypes}
		}
		files[f.Name] = object(uploadDoc(f), obj{
			"filename":     obj{"type": "string", "minLength": 1},
			"content_type": ct,
			"size":         obj{"type": "integer", "format": "int64", "minimum": 0, "maximum": f.MaxBytes},
		}, []string{"filename", "content_type"}, true)
		if f.Required {
			freq = append(freq, f.Name)
		}
	}
	rprops := obj{"files": object("The files to upload.", files, freq, true)}
	for _, f := range u.Files {
		if f.Flag != "" {
			rprops[f.Flag] = obj{"type": "boolean", "default": false, "description": "Also upload " + f.Filename + " (" + uploadDoc(f) + ")."}
		}
	}
	o.schemas[sname(m, "upload_urls_request")] = object("POST /tasks/{id}/upload-urls for a task of "+m.Name+": moves it to "+u.Request.To.Name+".", rprops, []string{"files"}, true)
	o.schemas[sname(m, "upload_urls_response")] = object(fmt.Sprintf("Signed upload URLs, valid for %s.", durationText(u.Expiry)), obj{
		"task_id": obj{"type": "string", "format": "uuid"},
		"status":  ref(sname(m, "Status")),
		"uploads": object("One signed upload per file asked for: "+strings.Join(names, ", ")+".", uprops, nil, true),
	}, []string{"task_id", "status", "uploads"}, false)
}

// field is the schema of a model or value-type field.
func (o *openapi) field(m *spec.Model, f *spec.Field) obj {
	s := o.typeSchema(m, f.Type)
	k := f.Type.Kind
	if f.MinLen != nil {
		s["minLength"] = *f.MinLen
	}
	if f.MaxLen != nil {
		s["maxLength"] = *f.MaxLen
	}
	bound := func(v float64) any {
		if k == spec.KindInt || k == spec.KindDuration {
			return int64(v)
		}
		return v
	}
	for _, b := range []struct {
		key string
		v   *float64
	}{{"minimum", f.Ge}, {"maximum", f.Le}, {"exclusiveMinimum", f.Gt}, {"exclusiveMaximum", f.Lt}} {
		if b.v != nil {
			s[b.key] = bound(*b.v)
		}
	}
	if f.MinItems != nil {
		s["minItems"] = *f.MinItems
	}
	if f.MaxItems != nil {
		s["maxItems"] = *f.MaxItems
	}
	if f.Pattern != "" {
		s["pattern"] = spec.AnchoredPattern(f.Pattern)
	}
	if it := f.Items; it != nil {
		if items, ok := s["items"].(obj); ok {
			if it.MinLen != nil {
				items["minLength"] = *it.MinLen
			}
			if it.MaxLen != nil {
				items["maxLength"] = *it.MaxLen
			}
			if it.Pattern != "" {
				items["pattern"] = spec.AnchoredPattern(it.Pattern)
			}
			for _, b := range []struct {
				key string
				v   *float64
			}{{"minimum", it.Ge}, {"maximum", it.Le}, {"exclusiveMinimum", it.Gt}, {"exclusiveMaximum", it.Lt}} {
				if b.v != nil {
					if it.Type.Kind == spec.KindInt || it.Type.Kind == spec.KindDuration {
						items[b.key] = int64(*b.v)
					} else {
						items[b.key] = *b.v
					}
				}
			}
		}
	}
	if nullable(f) && k != spec.KindJSON {
		if _, isRef := s["$ref"]; isRef {
			s = obj{"anyOf": []any{s, obj{"type": "null"}}}
		} else {
			s["type"] = []string{s["type"].(string), "null"}
		}
	}
	if f.HasDefault {
		s["default"] = jsonValue(f.Type, f.Default)
	}
	doc := oneLine(f.Doc)
	if k == spec.KindDuration {
		doc = strings.TrimSpace(doc + " (nanoseconds)")
	}
	if doc != "" {
		s["description"] = doc
	}
	return s
}

func (o *openapi) typeSchema(m *spec.Model, t *spec.TypeRef) obj {
	switch t.Kind {
	case spec.KindString:
		return obj{"type": "string"}
	case spec.KindInt, spec.KindDuration:
		return obj{"type": "integer", "format": "int64"}
	case spec.KindFloat:
		return obj{"type": "number", "format": "double"}
	case spec.KindBool:
		return obj{"type": "boolean"}
	case spec.KindTime:
		return obj{"type": "string", "format": "date-time"}
	case spec.KindUUID:
		return obj{"type": "string", "format": "uuid"}
	case spec.KindJSON:
		return obj{}
	case spec.KindList:
		return obj{"type": "array", "items": o.typeSchema(m, t.Elem)}
	case spec.KindStatus:
		return ref(sname(m, "Status"))
	case spec.KindErrorCode:
		return ref(sname(m, "ErrorCode"))
	case spec.KindEnum:
		return ref(sname(m, t.Enum.Name))
	case spec.KindType:
		return ref(sname(m, t.Type.Name))
	}
	panic("unknown kind " + string(t.Kind))
}

// jsonValue is a default as the model's JSON holds it.
func jsonValue(t *spec.TypeRef, v any) any {
	switch x := v.(type) {
	case time.Duration:
		return int64(x)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = jsonValue(t.Elem, e)
		}
		return out
	}
	return v
}

// openAPIFile renders the catalog's openapi.go, which embeds openapi.json.
func openAPIFile() ([]byte, error) {
	f := jen.NewFile(CatalogPackage)
	f.HeaderComment(Header)
	f.Anon("embed")
	f.Comment("//go:embed openapi.json")
	f.Var().Id("openAPI").Index().Byte()
	f.Comment("OpenAPI returns the OpenAPI 3.1 document (JSON) of the HTTP API over the")
	f.Comment("catalog's models: every route of taskmodel serve, a schema per model, its")
	f.Comment("create and upload requests, the listing row and problem+json. The server")
	f.Comment("serves it at /openapi.json. Each call returns a new copy.")
	f.Func().Id("OpenAPI").Params().Index().Byte().Block(
		jen.Return(jen.Qual("bytes", "Clone").Call(jen.Id("openAPI"))))
	var buf strings.Builder
	if err := f.Render(&buf); err != nil {
		return nil, err
	}
	return []byte(buf.String()), nil
}
