package spec

import (
	"fmt"
	"mime"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// API is the api section: what the HTTP server (taskmodel serve) lets
// clients do with the model's tasks.
type API struct {
	Pos Pos
	Doc string
	// Owner is the string field that holds the user owning a task, or nil.
	Owner *Field
	// Create lists the fields a client may set when it creates a task.
	Create  []*Field
	Uploads *Uploads
}

// Uploads is the api section's uploads.
type Uploads struct {
	Pos            Pos
	Request        *Event // fired when a client asks for upload URLs
	Verify         *Event // fired when every required file is in storage
	Missing        *Event // fired when a required file is missing
	MissingMessage string
	Expiry         time.Duration
	Files          []*UploadFile
}

// UploadFile is one file a task takes.
type UploadFile struct {
	Pos          Pos
	Name         string
	Required     bool
	Filename     string
	Flag         string
	ContentTypes []string
	MaxBytes     int64
	// MinBytes is the least a present file may hold (min_size, default
	// DefaultMinBytes: an empty file is refused at process).
	MinBytes int64
	// Format, when "json", makes process check that the file is one
	// well-formed JSON value.
	Format string
}

// DefaultMinBytes is the least an uploaded file holds when its spec gives
// no min_size: an empty upload is refused.
const DefaultMinBytes = 1

// DefaultUploadExpiry is how long upload and download URLs stay valid when
// the uploads section gives no expiry.
const DefaultUploadExpiry = 15 * time.Minute

// DefaultMaxBytes bounds an upload whose file gives no max_size.
const DefaultMaxBytes = 100 << 20

var (
	reFileName = regexp.MustCompile(`^[a-z][a-z0-9_]{0,39}$`)
	reFixed    = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$`)
	reSize     = regexp.MustCompile(`^([0-9]+)\s*(B|KiB|MiB|GiB)?$`)
)

// api reads the api section. Fields and events must be resolved (it runs
// after statusDetails).
func (l *loader) api(n *yaml.Node) {
	k := l.keys(n, "api", "doc", "owner", "create", "uploads")
	a := &API{Pos: l.pos(n)}
	if p, ok := k["doc"]; ok {
		a.Doc, _ = l.str(p.val, "api doc")
	}
	if p, ok := k["owner"]; ok {
		if name, ok := l.str(p.val, "api owner"); ok {
			f := l.m.FieldByName(name)
			switch {
			case f == nil:
				l.errorf(p.val, "api owner: unknown field %q; the owner is one of the model's string fields (%s)", name, l.fieldNames(KindString))
			case f.Type.Kind != KindString:
				l.errorf(p.val, "api owner: field %q is %s; the owner must be a string field", name, describe(f))
			case f.EnteredAt:
				l.errorf(p.val, "api owner: field %q is an entry timestamp; the owner must be a string field", name)
			default:
				a.Owner = f
			}
		}
	}
	if p, ok := k["create"]; ok {
		seen := map[string]bool{}
		for _, c := range l.names(p.val, "api create") {
			f := l.m.FieldByName(c.Value)
			switch {
			case f == nil:
				l.errorf(c, "api create: unknown field %q; fields are %s", c.Value, l.fieldNames(""))
			case seen[c.Value]:
				l.errorf(c, "api create: field %q is listed twice", c.Value)
			case f.EnteredAt:
				l.errorf(c, "api create: field %q is an entry timestamp, which the lifecycle sets", c.Value)
			case a.Owner == f:
				l.errorf(c, "api create: field %q is the owner, which the server sets from the authenticated user", c.Value)
			case f == l.m.ProgressField:
				l.errorf(c, "api create: field %q receives the progress the statuses map, which the engine sets", c.Value)
			default:
				a.Create = append(a.Create, f)
			}
			seen[c.Value] = true
		}
	}
	// A required field the client may not set could never be filled.
	for _, f := range l.m.Fields {
		if f.Required && f != a.Owner && !slices.Contains(a.Create, f) {
			l.errorf(n, "api: required field %q is neither the owner nor in create; a client could not create a task", f.Name)
		}
	}
	if p, ok := k["uploads"]; ok {
		a.Uploads = l.uploads(p.val)
	}
	l.m.API = a
}

// fieldNames lists the model's fields of a kind ("" for every kind).
func (l *loader) fieldNames(kind Kind) string {
	var names []string
	for _, f := range l.m.Fields {
		if (kind == "" || f.Type.Kind == kind) && !f.EnteredAt {
			names = append(names, f.Name)
		}
	}
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}

func (l *loader) uploads(n *yaml.Node) *Uploads {
	k := l.keys(n, "api uploads", "request", "verify", "missing", "missing_message", "expiry", "files")
	u := &Uploads{Pos: l.pos(n), Expiry: DefaultUploadExpiry}
	event := func(key string) *Event {
		p, ok := k[key]
		if !ok {
			l.errorf(n, "api uploads needs %s: %s", key, uploadRole[key])
			return nil
		}
		name, ok := l.str(p.val, "api uploads "+key)
		if !ok {
			return nil
		}
		e := l.m.EventByName(name)
		if e == nil {
			l.errorf(p.val, "api uploads %s: unknown event %q; events are %s", key, name, l.eventNames())
		}
		if l.brokenEvents[e] {
			return nil // its own error says what is wrong
		}
		return e
	}
	u.Request, u.Verify, u.Missing = event("request"), event("verify"), event("missing")
	if u.Request != nil && u.Verify != nil {
		if u.Request.To == nil || !u.Verify.Leaves(u.Request.To) {
			l.errorf(k["verify"].val, "api uploads verify: event %q does not fire from %s, the status request %q leads to", u.Verify.Name, statusName(u.Request.To), u.Request.Name)
		}
	}
	if u.Request != nil && u.Missing != nil {
		if u.Request.To == nil || !u.Missing.Leaves(u.Request.To) {
			l.errorf(k["missing"].val, "api uploads missing: event %q does not fire from %s, the status request %q leads to", u.Missing.Name, statusName(u.Request.To), u.Request.Name)
		}
	}
	if u.Missing != nil {
		for _, r := range u.Missing.Requires {
			if r.Name != "error_message" {
				l.errorf(k["missing"].val, "api uploads missing: event %q requires field %q, which the server cannot fill (it fills error_message with missing_message)", u.Missing.Name, r.Name)
			}
		}
	}
	if p, ok := k["missing_message"]; ok {
		u.MissingMessage, _ = l.str(p.val, "api uploads missing_message")
	} else {
		u.MissingMessage = "Required files not found in storage"
	}
	if p, ok := k["expiry"]; ok {
		if d, ok := l.duration(p.val, "api uploads expiry"); ok {
			if d < time.Minute || d > 7*24*time.Hour {
				l.errorf(p.val, "api uploads expiry must be between 1m and 168h, not %s", d)
			} else {
				u.Expiry = d
			}
		}
	}
	p, ok := k["files"]
	if !ok {
		l.errorf(n, "api uploads needs files: the files a task takes, by name")
		return u
	}
	flags := map[string]bool{}
	for _, q := range l.mapping(p.val, "api uploads files") {
		name, ok := l.name(q.key, "upload file name", reFileName, "[a-z][a-z0-9_]*, at most 40 characters")
		if !ok {
			continue
		}
		f := &UploadFile{Pos: l.pos(q.key), Name: name, MaxBytes: DefaultMaxBytes, MinBytes: DefaultMinBytes}
		what := fmt.Sprintf("upload file %q", name)
		fk := l.keys(q.val, what, "required", "filename", "flag", "content_types", "max_size", "min_size", "format")
		if v, ok := fk["required"]; ok {
			f.Required, _ = l.boolean(v.val, what+" required")
		}
		if v, ok := fk["filename"]; ok {
			f.Filename, _ = l.name(v.val, what+" filename", reFixed, "letters, digits, '.', '_' and '-', at most 100 characters")
		}
		if v, ok := fk["flag"]; ok {
			f.Flag, _ = l.name(v.val, what+" flag", reFileName, "[a-z][a-z0-9_]*, at most 40 characters")
			switch {
			case f.Flag == "files":
				l.errorf(v.val, "%s flag: %q is the request's files object; choose another name", what, f.Flag)
			case flags[f.Flag]:
				l.errorf(v.val, "%s flag: %q is already the flag of another file", what, f.Flag)
			}
			flags[f.Flag] = true
		}
		switch {
		case f.Filename != "" && f.Flag == "":
			l.errorf(q.key, "%s has a fixed filename; it needs flag: the boolean request field that asks for it (has_%s)", what, name)
		case f.Flag != "" && f.Filename == "":
			l.errorf(q.key, "%s has a flag; it needs filename: the fixed name of the file it asks for", what)
		case f.Flag != "" && f.Required:
			l.errorf(q.key, "%s is asked for by flag %q, so it cannot be required", what, f.Flag)
		}
		if v, ok := fk["content_types"]; ok {
			for _, c := range l.names(v.val, what+" content_types") {
				mt, params, err := mime.ParseMediaType(c.Value)
				if err != nil || len(params) > 0 || mt != c.Value {
					l.errorf(c, "%s content_types: %q is not a media type such as text/csv (lower case, no parameters)", what, c.Value)
					continue
				}
				f.ContentTypes = append(f.ContentTypes, mt)
			}
		}
		if v, ok := fk["max_size"]; ok {
			if s, ok := l.str(v.val, what+" max_size"); ok {
				if size, ok := parseSize(s); !ok || size < 1 || size > 5<<30 {
					l.errorf(v.val, "%s max_size must be a size from 1B to 5GiB such as 512KiB or 100MiB, not %q", what, s)
				} else {
					f.MaxBytes = size
				}
			}
		}
		if v, ok := fk["min_size"]; ok {
			if s, ok := l.str(v.val, what+" min_size"); ok {
				switch size, ok := parseSize(s); {
				case !ok || size > 5<<30:
					l.errorf(v.val, "%s min_size must be a size from 0B to its max_size such as 0B or 1KiB, not %q", what, s)
				case size > f.MaxBytes:
					l.errorf(v.val, "%s min_size %s is more than its max_size (%d bytes)", what, s, f.MaxBytes)
				default:
					f.MinBytes = size
				}
			}
		}
		if v, ok := fk["format"]; ok {
			if s, ok := l.str(v.val, what+" format"); ok {
				if s != "json" {
					l.errorf(v.val, "%s format must be json (process checks the file is one well-formed JSON value), not %q; leave it out for any bytes", what, s)
				} else {
					f.Format = s
				}
			}
		}
		u.Files = append(u.Files, f)
	}
	required := false
	for _, f := range u.Files {
		required = required || f.Required
	}
	if len(u.Files) > 0 && !required {
		l.errorf(p.val, "api uploads files: no file is required, so verify could never fail; mark the files a task needs required: true")
	}
	return u
}

// parseSize reads a size such as 512KiB; false when it is not one or does
// not fit 64 bits.
func parseSize(s string) (int64, bool) {
	m := reSize.FindStringSubmatch(s)
	if m == nil {
		return 0, false
	}
	n, err := strconv.ParseInt(m[1], 10, 64)
	shift := map[string]uint{"": 0, "B": 0, "KiB": 10, "MiB": 20, "GiB": 30}[m[2]]
	if err != nil || n > (1<<62)>>shift {
		return 0, false
	}
	return n << shift, true
}

var uploadRole = map[string]string{
	"request": "the event fired when a client asks for upload URLs",
	"verify":  "the event fired when the client asks to process the task and every required file is in storage",
	"missing": "the event fired when a required file is missing from storage",
}

func statusName(s *Status) string {
	if s == nil {
		return "?"
	}
	return s.Name
}
