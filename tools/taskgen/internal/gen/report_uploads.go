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
// .format; for a file asked for by its flag, whose uploads could only be of
// the type its upload URL is signed for, only that type taken out
// counts), the Content-Type the upload URL of a file asked for by its flag
// is signed for changed (.content_types), the expiry shortened
// (api.uploads.expiry), and an event of the uploads replaced by one that
// moves tasks between other statuses (api.uploads.request, .verify,
// .missing; the missing event only when more fails than the verify
// event's line says). The rest (the section or an optional file added, a
// limit widened, a fixed filename, the expiry lengthened, the missing
// message, another event of the same transition) is reported, not
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
	// refused is what POST /tasks/{id}/process does with a stored file
	// that is as what says: it deletes the file (blob.Verify or its own
	// checks), so that the client uploads it again, and moves its task on
	// as for a missing file.
	refused := func(what string) string {
		return fmt.Sprintf("`POST /tasks/{id}/process` deletes a stored file %s and moves its task to `%s`", what, eventTo(nu.Missing))
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
			compareContentTypes(add, w, id, of, nf, refused)
		}
		switch {
		case nf.MaxBytes < of.MaxBytes:
			declared := ""
			if nf.Flag == "" {
				declared = "`POST /tasks/{id}/upload-urls` declaring a larger size answers 400, and "
			}
			add(AreaWire, id+"max_size", "%s max_size: %s (was %s): a larger file, accepted before, is refused: %s%s", w, sizeText(nf.MaxBytes), sizeText(of.MaxBytes), declared, refused("that is larger"))
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
	switch {
	case nu.Expiry < ou.Expiry:
		// The URLs carry their expiry: those signed before keep theirs; a
		// client that takes as long as it could before fails.
		add(AreaBehaviour, "api.uploads.expiry", "api uploads expiry: %s (was %s): upload URLs, and the download URLs of a finished task's outputs, stay valid for %s after they are signed: a PUT to an upload URL, or a GET of a download URL, later than that, accepted before, is refused (403)", durationText(nu.Expiry), durationText(ou.Expiry), durationText(nu.Expiry))
	case nu.Expiry > ou.Expiry:
		add(AreaBehaviour, "", "api uploads expiry: %s (was %s): how long upload URLs, and the download URLs of a finished task's outputs, stay valid", durationText(nu.Expiry), durationText(ou.Expiry))
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
		text, breaking := uploadRoleText(r.key, r.old, r.new, old, new, ou, nu)
		rid := ""
		if breaking {
			rid = "api.uploads." + r.key
		}
		add(AreaBehaviour, rid, "%s", text)
	}
}

// uploadRoleText is the report's line for an event of the uploads replaced
// by one that moves tasks between other statuses: what the request firing
// it now does, and the tasks it no longer takes. (Tasks left in the status
// an old event led to are those of the status the next event no longer
// fires from: that event's line says so.) breaking says whether a request
// that worked before fails because of this event: always for request and
// verify; for missing, only when it leads elsewhere or no longer fires from
// a status verify fires from in both versions. POST /tasks/{id}/process
// answers 409 for a task verify does not fire from, whatever its files, so
// a status missing lost with verify's fails nothing more than verify's
// line says.
func uploadRoleText(key string, oe, ne *spec.Event, old, new *spec.Model, ou, nu *spec.Uploads) (text string, breaking bool) {
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
		// processed are the statuses process took tasks from before and
		// still does (those verify fires from in both versions): there, a
		// task whose files were missing moved on and now is refused.
		processed := []string{} // not nil: lost(nil) is every status lost
		if ou.Verify != nil && nu.Verify != nil {
			ovFrom, _ := eventStatuses(new, ou.Verify)
			nvFrom, _ := eventStatuses(new, nu.Verify)
			for _, st := range nvFrom {
				if slices.Contains(ovFrom, st) {
					processed = append(processed, st)
				}
			}
		}
		if l := lost(processed); len(l) > 0 {
			s += fmt.Sprintf("; processing a task in %s whose files are missing or refused answers 409 (`%s` still takes it when they pass)", statusList(l), eventName(nu.Verify))
			breaking = true
		}
		if oTo != nTo {
			breaking = true
			// A task whose upload failed asked for upload URLs again.
			if ou.Request != nil && nu.Request != nil && ou.Request.Leaves(oe.To) && !nu.Request.Leaves(ne.To) {
				s += fmt.Sprintf("; such a task can no longer ask for upload URLs again (`%s` does not fire from `%s`)", nu.Request.Name, nTo)
			} else {
				s += fmt.Sprintf("; such a task is left in `%s`, not `%s`: a client that waits for `%s` to upload its files again no longer sees it", nTo, oTo, oTo)
			}
		}
		if l := lost(nil); !breaking && len(l) > 0 {
			s += fmt.Sprintf("; for a task in %s, `POST /tasks/{id}/process` answers 409 whatever its files (`%s` does not fire from there), so nothing more fails", statusList(l), eventName(nu.Verify))
		}
		return s, breaking
	}
	return s, true
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
// when a type a file could be uploaded with before is no longer allowed (a
// list where any type was allowed, or a type taken out of it), or when the
// Content-Type the upload URL of a file asked for by its flag is signed for
// changes. A file asked for by its flag could only be uploaded with the
// type its URL was signed for (stores refuse any other Content-Type): for
// it, taking out another type refuses nothing that worked before.
func compareContentTypes(add func(area, id, format string, a ...any), w, id string, of, nf *spec.UploadFile, refused func(what string) string) {
	o, n := of.ContentTypes, nf.ContentTypes
	// uploadable are the types a file could be uploaded with before (nil:
	// any).
	uploadable := o
	if of.Flag != "" {
		uploadable = []string{signedType(of)}
	}
	var removed []string
	if len(n) > 0 {
		for _, t := range uploadable {
			if !slices.Contains(n, t) {
				removed = append(removed, t)
			}
		}
	}
	var consequences []string
	narrowed := len(n) > 0 && (len(uploadable) == 0 || len(removed) > 0)
	if narrowed {
		what, stored := "another type", "of another type"
		switch {
		case len(removed) == 1:
			what, stored = "type `"+removed[0]+"`", "of type `"+removed[0]+"`"
		case len(removed) > 1:
			what, stored = "types `"+strings.Join(removed, "`, `")+"`", "of one of them"
		}
		c := fmt.Sprintf("a file of %s, accepted before, is refused: ", what)
		if nf.Flag == "" {
			c += "`POST /tasks/{id}/upload-urls` asking for one answers 400, and "
		}
		consequences = append(consequences, c+refused(stored))
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
	takenOut := len(n) > 0 && slices.ContainsFunc(o, func(t string) bool { return !slices.Contains(n, t) })
	switch {
	case len(consequences) > 0:
		text += ": " + strings.Join(consequences, "; ")
	case takenOut && of.Flag != "" && nf.Flag != "":
		text += fmt.Sprintf(": the upload URL that `%s` asks for is signed for Content-Type `%s`, as before, so no file of a type taken out could be uploaded", nf.Flag, signedType(nf))
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
