package gen

import (
	"fmt"
	"slices"
	"strings"

	"github.com/taskmodel/taskmodel/tools/taskgen/internal/spec"
)

// compareUploads reports the changes of the api section's uploads, when
// the section stays: what POST /tasks/{id}/upload-urls accepts, what POST
// /tasks/{id}/process checks, and the events they fire. A change that
// makes a request or an upload that worked before fail is breaking: the
// section removed (api.uploads.removed), a file removed or a required one
// added (api.uploads.files.<name>.removed, .added), a file made required
// (.required), its flag changed (.flag), its content types, max_size,
// min_size or format narrowed (.content_types, .max_size, .min_size,
// .format), the Content-Type the upload URL of a file asked for by its
// flag is signed for changed (.content_types), and an event of the
// uploads replaced by one that moves tasks between other statuses
// (api.uploads.request, .verify, .missing). The rest (the section or an
// optional file added, a limit widened, a fixed filename, the expiry, the
// missing message, another event of the same transition) is reported, not
// breaking.
func compareUploads(add func(area, id, format string, a ...any), old, new *spec.Model) {
	ou, nu := old.API.Uploads, new.API.Uploads
	switch {
	case ou == nil && nu == nil:
		return
	case ou == nil:
		add(AreaWire, "", "api uploads added: %s", uploadsAdded(nu))
		return
	case nu == nil:
		add(AreaWire, "api.uploads.removed", "api uploads removed: %s", uploadsGone(ou))
		return
	}
	// failed is what POST /tasks/{id}/process does to a task whose file
	// is as whose says.
	failed := func(whose string) string {
		return fmt.Sprintf("`POST /tasks/{id}/process` moves a task whose %s to `%s`", whose, eventTo(nu.Missing))
	}
	for _, of := range ou.Files {
		if uploadFile(nu, of.Name) != nil {
			continue
		}
		refused := "a request naming it under `files` answers 400 (unknown file)"
		if of.Flag != "" {
			refused = fmt.Sprintf("a request setting `%s` answers 400 (unknown field)", of.Flag)
		}
		add(AreaWire, "api.uploads.files."+of.Name+".removed", "api uploads file `%s` removed: `POST /tasks/{id}/upload-urls` no longer signs a URL for it: %s", of.Name, refused)
	}
	for _, nf := range nu.Files {
		of := uploadFile(ou, nf.Name)
		w, id := "api uploads file `"+nf.Name+"`", "api.uploads.files."+nf.Name+"."
		switch {
		case of == nil && nf.Required:
			add(AreaWire, id+"added", "%s added, required: `POST /tasks/{id}/upload-urls` without it answers 400, and %s", w, failed("file is missing, such as one whose upload URLs were signed before,"))
			continue
		case of == nil && nf.Flag != "":
			add(AreaWire, "", "%s added, optional: clients may ask for it (`%s`) with `%s: true`", w, nf.Filename, nf.Flag)
			continue
		case of == nil:
			add(AreaWire, "", "%s added, optional: clients may ask for its upload URL under `files`", w)
			continue
		}
		switch {
		case !of.Required && nf.Required:
			add(AreaWire, id+"required", "%s required (was optional): `POST /tasks/{id}/upload-urls` without it answers 400, and %s", w, failed("file is missing"))
		case of.Required && !nf.Required:
			add(AreaWire, "", "%s optional (was required): `POST /tasks/{id}/upload-urls` may leave it out, and `POST /tasks/{id}/process` verifies a task without it", w)
		}
		switch {
		case of.Flag == nf.Flag:
		case of.Flag == "":
			add(AreaWire, id+"flag", "%s flag: `%s` (was none): clients ask for it (`%s`) with `%s: true`; a request naming it under `files` answers 400 (unknown file)", w, nf.Flag, nf.Filename, nf.Flag)
		case nf.Flag == "":
			add(AreaWire, id+"flag", "%s flag: none (was `%s`): clients describe it under `files`; a request setting `%s` answers 400 (unknown field)", w, of.Flag, of.Flag)
		default:
			add(AreaWire, id+"flag", "%s flag: `%s` (was `%s`): a request setting `%s` answers 400 (unknown field)", w, nf.Flag, of.Flag, of.Flag)
		}
		if of.Filename != "" && nf.Filename != "" && of.Filename != nf.Filename {
			// The server stores a file under its name (inputs/<name>); the
			// fixed filename is what the documentation says the file is.
			add(AreaWire, "", "%s filename: `%s` (was `%s`): the documentation (OpenAPI, TypeScript, `tasktype.UploadFile.Filename`) follows; the server stores the file under its name, `%s`, whatever its filename", w, nf.Filename, of.Filename, nf.Name)
		}
		if !slices.Equal(of.ContentTypes, nf.ContentTypes) {
			compareContentTypes(add, w, id, of, nf, failed)
		}
		switch {
		case nf.MaxBytes < of.MaxBytes:
			declared := ""
			if nf.Flag == "" {
				declared = "`POST /tasks/{id}/upload-urls` declaring a larger size answers 400, and "
			}
			add(AreaWire, id+"max_size", "%s max_size: %s (was %s): a larger file, accepted before, is refused: %s%s", w, sizeText(nf.MaxBytes), sizeText(of.MaxBytes), declared, failed("stored file is larger"))
		case nf.MaxBytes > of.MaxBytes:
			add(AreaWire, "", "%s max_size: %s (was %s)", w, sizeText(nf.MaxBytes), sizeText(of.MaxBytes))
		}
		switch {
		case nf.MinBytes > of.MinBytes:
			add(AreaBehaviour, id+"min_size", "%s min_size: %s (was %s): a smaller file, accepted before, is refused: `POST /tasks/{id}/process` deletes it and moves its task to `%s`", w, sizeText(nf.MinBytes), sizeText(of.MinBytes), eventTo(nu.Missing))
		case nf.MinBytes < of.MinBytes:
			add(AreaBehaviour, "", "%s min_size: %s (was %s)", w, sizeText(nf.MinBytes), sizeText(of.MinBytes))
		}
		switch {
		case of.Format == nf.Format:
		case nf.Format != "":
			add(AreaBehaviour, id+"format", "%s format: %s (was any bytes): a file that is not one well-formed JSON value, accepted before, is refused: `POST /tasks/{id}/process` deletes it and moves its task to `%s`", w, nf.Format, eventTo(nu.Missing))
		default:
			add(AreaBehaviour, "", "%s format: any bytes (was %s): `POST /tasks/{id}/process` no longer checks that the file is JSON", w, of.Format)
		}
	}
	if ou.Expiry != nu.Expiry {
		add(AreaBehaviour, "", "api uploads expiry: %s (was %s): how long upload URLs, and the download URLs of a finished task's outputs, stay valid", nu.Expiry, ou.Expiry)
	}
	if ou.MissingMessage != nu.MissingMessage {
		add(AreaBehaviour, "", "api uploads missing_message: %q (was %q): the error message of a task whose required files are missing at `POST /tasks/{id}/process`", nu.MissingMessage, ou.MissingMessage)
	}
	for _, r := range []struct {
		key      string
		old, new *spec.Event
	}{{"request", ou.Request, nu.Request}, {"verify", ou.Verify, nu.Verify}, {"missing", ou.Missing, nu.Missing}} {
		if r.old == nil || r.new == nil || r.old.Name == r.new.Name {
			// The same event: a change of its own statuses is reported
			// with the event's (event.<name>.to, .from.<status>.removed).
			continue
		}
		oFrom, oTo := eventStatuses(new, r.old)
		nFrom, nTo := eventStatuses(new, r.new)
		if sameStatuses(oFrom, nFrom) && oTo == nTo {
			if old.EventByName(r.new.Name) == nil && new.EventByName(r.old.Name) == nil {
				continue // renamed: the events removed and added are reported
			}
			add(AreaBehaviour, "", "api uploads %s: `%s` (was `%s`): the same transition (%s → `%s`), which the tasks' history records as `%s`", r.key, r.new.Name, r.old.Name, statusList(nFrom), nTo, r.new.Name)
			continue
		}
		add(AreaBehaviour, "api.uploads."+r.key, "%s", uploadRoleText(r.key, r.old, r.new, old, new, ou, nu))
	}
}

// uploadRoleText is the report's line for an event of the uploads replaced
// by one that moves tasks between other statuses: what the request firing
// it now does, and the tasks it no longer takes. (Tasks left in the status
// an old event led to are those of the status the next event no longer
// fires from: that event's line says so.)
func uploadRoleText(key string, oe, ne *spec.Event, old, new *spec.Model, ou, nu *spec.Uploads) string {
	oFrom, oTo := eventStatuses(new, oe)
	nFrom, nTo := eventStatuses(new, ne)
	from := statusList(nFrom)
	if !sameStatuses(oFrom, nFrom) {
		from += " (was " + statusList(oFrom) + ")"
	}
	to := "`" + nTo + "`"
	if oTo != nTo {
		to += " (was `" + oTo + "`)"
	}
	// lost are the old statuses the new event no longer fires from, of
	// those the new spec has (a removed status is reported on its own).
	lost := func(among []string) []string {
		var out []string
		for _, s := range oFrom {
			if !slices.Contains(nFrom, s) && new.StatusByName(s) != nil && (among == nil || slices.Contains(among, s)) {
				out = append(out, s)
			}
		}
		return out
	}
	s := fmt.Sprintf("api uploads %s: `%s` (was `%s`): ", key, ne.Name, oe.Name)
	switch key {
	case "request":
		s += fmt.Sprintf("`POST /tasks/{id}/upload-urls` takes tasks in %s and moves them to %s", from, to)
		if l := lost(nil); len(l) > 0 {
			s += fmt.Sprintf("; a task in %s can no longer ask for upload URLs (409)", statusList(l))
		}
	case "verify":
		s += fmt.Sprintf("`POST /tasks/{id}/process` takes tasks in %s and moves those whose files pass its checks to %s", from, to)
		if l := lost(nil); len(l) > 0 {
			s += fmt.Sprintf("; a task waiting for its files in %s can no longer be processed (409)", statusList(l))
		}
		// Workers claim from one status: verified tasks that no longer
		// arrive there are not run.
		if ow, nw := old.Worker, new.Worker; ow != nil && nw != nil && oTo != nTo && statusName(ow.Queue) == oTo && statusName(nw.Queue) != nTo {
			s += fmt.Sprintf("; workers, which claim tasks from `%s`, no longer receive them", statusName(nw.Queue))
		}
	case "missing":
		s += fmt.Sprintf("`POST /tasks/{id}/process` moves a task in %s whose files are missing or refused to %s", from, to)
		var verifyFrom []string
		if nu.Verify != nil {
			verifyFrom, _ = eventStatuses(new, nu.Verify)
		}
		if l := lost(verifyFrom); len(l) > 0 {
			s += fmt.Sprintf("; processing a task in %s whose files are missing or refused answers 409", statusList(l))
		}
		// A task whose upload failed asked for upload URLs again.
		if ou.Request != nil && nu.Request != nil && ou.Request.Leaves(oe.To) && !nu.Request.Leaves(ne.To) {
			s += fmt.Sprintf("; such a task can no longer ask for upload URLs again (`%s` does not fire from `%s`)", nu.Request.Name, nTo)
		}
	}
	return s
}

// eventStatuses names the statuses e fires from and leads to, as the new
// spec m names them: a status m retired is the one its tasks moved to.
func eventStatuses(m *spec.Model, e *spec.Event) (from []string, to string) {
	now := func(s *spec.Status) string {
		if s == nil {
			return ""
		}
		if m.StatusByName(s.Name) == nil {
			for _, r := range m.RetiredStatuses {
				if r.Name == s.Name && r.ReplacedBy != nil {
					return r.ReplacedBy.Name
				}
			}
		}
		return s.Name
	}
	for _, s := range e.From {
		if n := now(s); !slices.Contains(from, n) {
			from = append(from, n)
		}
	}
	return from, now(e.To)
}

// sameStatuses reports whether a and b hold the same names, in any order.
func sameStatuses(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// compareContentTypes reports a file whose content_types changed: breaking
// when a type allowed before is not any more (a list where any type was
// allowed, or a type taken out of it), or when the Content-Type the upload
// URL of a file asked for by its flag is signed for changes.
func compareContentTypes(add func(area, id, format string, a ...any), w, id string, of, nf *spec.UploadFile, failed func(whose string) string) {
	o, n := of.ContentTypes, nf.ContentTypes
	var removed []string
	if len(n) > 0 {
		for _, t := range o {
			if !slices.Contains(n, t) {
				removed = append(removed, t)
			}
		}
	}
	var consequences []string
	narrowed := len(n) > 0 && (len(o) == 0 || len(removed) > 0)
	if narrowed {
		what, whose := "another type", "stored file is of another type"
		switch {
		case len(removed) == 1:
			what, whose = "type `"+removed[0]+"`", "stored file is `"+removed[0]+"`"
		case len(removed) > 1:
			what, whose = "types `"+strings.Join(removed, "`, `")+"`", "stored file is of one of them"
		}
		c := fmt.Sprintf("a file of %s, accepted before, is refused: ", what)
		if nf.Flag == "" {
			c += "`POST /tasks/{id}/upload-urls` asking for one answers 400, and "
		}
		consequences = append(consequences, c+failed(whose))
	}
	// The upload URL of a file asked for by its flag is signed for one
	// Content-Type, which the PUT must send: a client that sends the one
	// it sent before, instead of the headers of the upload-urls response,
	// is refused.
	resigned := of.Flag != "" && nf.Flag != "" && signedType(of) != signedType(nf)
	if resigned {
		consequences = append(consequences, fmt.Sprintf("the upload URL that `%s` asks for is signed for Content-Type `%s` (was `%s`): a PUT that sends `%s` is refused; clients that send the headers of the upload-urls response follow", nf.Flag, signedType(nf), signedType(of), signedType(of)))
	}
	text := fmt.Sprintf("%s content_types: %s (was %s)", w, typesText(n), typesText(o))
	if len(consequences) > 0 {
		text += ": " + strings.Join(consequences, "; ")
	}
	aid := ""
	if narrowed || resigned {
		aid = id + "content_types"
	}
	add(AreaWire, aid, "%s", text)
}

// signedType is the Content-Type the upload URL of a file asked for by its
// flag is signed for (the server's choice: its first content type).
func signedType(f *spec.UploadFile) string {
	if len(f.ContentTypes) > 0 {
		return f.ContentTypes[0]
	}
	return "application/octet-stream"
}

func typesText(types []string) string {
	if len(types) == 0 {
		return "any"
	}
	return "`" + strings.Join(types, "`, `") + "`"
}

// uploadsAdded says what an uploads section added lets clients do.
func uploadsAdded(u *spec.Uploads) string {
	var files []string
	for _, f := range u.Files {
		s := "`" + f.Name + "`"
		switch {
		case f.Required:
			s += " (required)"
		case f.Flag != "":
			s += fmt.Sprintf(" (optional, asked for by `%s`)", f.Flag)
		default:
			s += " (optional)"
		}
		files = append(files, s)
	}
	return fmt.Sprintf("clients upload a task's files %s through signed URLs (`POST /tasks/{id}/upload-urls` fires `%s`), then `POST /tasks/{id}/process` verifies them (fires `%s`, or `%s` when a required file is missing or a file is refused); `server.New` requires `Config.Blobs` for the model",
		strings.Join(files, ", "), eventName(u.Request), eventName(u.Verify), eventName(u.Missing))
}

// uploadsGone says what clients lose with an uploads section.
func uploadsGone(u *spec.Uploads) string {
	return fmt.Sprintf("`POST /tasks/{id}/upload-urls` and `POST /tasks/{id}/process` answer 409 for the model's tasks: clients can no longer ask for upload URLs, and a task waiting for its files in `%s` can no longer be processed", eventTo(u.Request))
}

func uploadFile(u *spec.Uploads, name string) *spec.UploadFile {
	for _, f := range u.Files {
		if f.Name == name {
			return f
		}
	}
	return nil
}

func eventName(e *spec.Event) string {
	if e == nil {
		return "?"
	}
	return e.Name
}

// eventTo names the status e leads to.
func eventTo(e *spec.Event) string {
	if e == nil || e.To == nil {
		return "?"
	}
	return e.To.Name
}

// sizeText writes a size as a spec does: 512KiB, 100MiB, 1B.
func sizeText(n int64) string {
	for _, u := range []struct {
		shift uint
		name  string
	}{{30, "GiB"}, {20, "MiB"}, {10, "KiB"}} {
		if n > 0 && n%(1<<u.shift) == 0 {
			return fmt.Sprintf("%d%s", n>>u.shift, u.name)
		}
	}
	return fmt.Sprintf("%dB", n)
}
