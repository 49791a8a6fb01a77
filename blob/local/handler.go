package local

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"strings"

	"github.com/taskmodel/taskmodel/blob"
)

// Handler serves the store's presigned URLs: PUT stores an upload, GET and
// HEAD read a download. Mount it at the path of Config.BaseURL, e.g.
// mux.Handle("/blobs/", store.Handler()); it reads the key from the request
// path below that prefix itself, so no http.StripPrefix is needed.
//
// A request whose URL was not signed by this store, was altered or has
// expired is refused with 403; an upload with another Content-Type than
// the signed one with 415, larger than its limit with 413 (nothing is
// written), with another length than a signed exact length with 400.
// Refusals are RFC 9457 problem documents (application/problem+json) whose
// type is ProblemTypeBase followed by the refusal's code with '-' for '_'
// (urn:taskmodel:problem:too-large, the same URIs as the HTTP API's), and
// whose "code" member is the code: bad_signature, expired, malformed_url,
// wrong_method, content_type, too_large, length_mismatch, key_conflict,
// incomplete_body, too_slow (the body fell below the server's minimum
// rate: 408), upload_closed (the request's blob.UploadGate refused it:
// 409), not_found, range_not_satisfiable (a download's Range: 416),
// precondition_failed (its If-Match or If-Unmodified-Since: 412), internal.
//
// Browsers that upload from another origin need CORS: wrap Handler in the
// server's CORS middleware, which answers the OPTIONS preflight.
func (s *Store) Handler() http.Handler { return http.HandlerFunc(s.serve) }

func (s *Store) serve(w http.ResponseWriter, r *http.Request) {
	key, ok := strings.CutPrefix(r.URL.Path, s.base.Path)
	if !ok {
		writeProblem(w, refuse(http.StatusNotFound, "not_found", "no blob here: the path is outside %s", s.base.Path))
		return
	}
	g, sig, uerr := parseGrant(r.Method, key, r.URL.RawQuery)
	if uerr == nil {
		uerr = g.verify(sig, s.secrets, s.clock())
	}
	if uerr != nil {
		if uerr.status == http.StatusMethodNotAllowed {
			w.Header().Set("Allow", "GET, HEAD, PUT")
		}
		writeProblem(w, uerr)
		return
	}
	if g.method == http.MethodPut {
		if err := blob.CheckUpload(r.Context(), g.key); err != nil {
			s.gateRefused(w, r, err)
			return
		}
		s.upload(w, r, g)
		return
	}
	s.download(w, r, g)
}

func (s *Store) upload(w http.ResponseWriter, r *http.Request, g *grant) {
	if ct := r.Header.Get("Content-Type"); ct != g.contentType {
		writeProblem(w, refuse(http.StatusUnsupportedMediaType, "content_type",
			"this URL accepts Content-Type %q only, not %q", g.contentType, ct))
		return
	}
	switch n := r.ContentLength; {
	case n > g.maxSize:
		writeProblem(w, refuse(http.StatusRequestEntityTooLarge, "too_large",
			"the upload is %d bytes; this URL accepts at most %d", n, g.maxSize))
		return
	case g.size > 0 && n >= 0 && n != g.size:
		writeProblem(w, refuse(http.StatusBadRequest, "length_mismatch",
			"the upload is %d bytes; this URL was signed for exactly %d", n, g.size))
		return
	}
	info, err := s.write(g.key, g.contentType, r.Body, g.maxSize, g.size, func() error { return blob.CheckUpload(r.Context(), g.key) })
	switch {
	case err == nil:
	case errors.Is(err, blob.ErrUploadClosed):
		s.gateRefused(w, r, err)
		return
	case errors.Is(err, os.ErrDeadlineExceeded):
		w.Header().Set("Connection", "close")
		writeProblem(w, refuse(http.StatusRequestTimeout, "too_slow", "the upload's body arrived too slowly; send it at a steady pace"))
		return
	case errors.Is(err, blob.ErrTooLarge):
		writeProblem(w, refuse(http.StatusRequestEntityTooLarge, "too_large", "the upload is more than %d bytes, the most this URL accepts", g.maxSize))
		return
	case errors.Is(err, errLength):
		writeProblem(w, refuse(http.StatusBadRequest, "length_mismatch", "the upload's length differs from the %d bytes this URL was signed for", g.size))
		return
	case errors.Is(err, blob.ErrKeyConflict):
		writeProblem(w, refuse(http.StatusConflict, "key_conflict", "%v", err))
		return
	case errors.Is(err, errBody):
		writeProblem(w, refuse(http.StatusBadRequest, "incomplete_body", "the upload's body could not be read whole: %v", err))
		return
	default:
		s.internal(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(info)
}

func (s *Store) download(w http.ResponseWriter, r *http.Request, g *grant) {
	f, info, err := s.open(g.key)
	if errors.Is(err, blob.ErrNotFound) {
		writeProblem(w, refuse(http.StatusNotFound, "not_found", "no blob is stored under this key"))
		return
	}
	if err != nil {
		s.internal(w, r, err)
		return
	}
	defer f.Close()
	h := w.Header()
	h.Set("Content-Type", info.ContentType)
	h.Set("Content-Disposition", blob.DownloadRequest{Key: g.key, Filename: g.filename}.ContentDisposition())
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	h.Set("Cache-Control", "private, no-cache")
	h.Set("ETag", `"`+info.ETag+`"`)
	http.ServeContent(&refusalWriter{ResponseWriter: w, r: r, size: info.Size}, r, "", info.ModTime, f)
}

// refusalWriter answers the refusals http.ServeContent writes itself — a
// 416 (text/plain) for a Range outside the blob or malformed, a 412 (an
// empty body) for an If-Match or If-Unmodified-Since that does not hold —
// as problems like the handler's own. The 416 keeps the Content-Range
// ServeContent sets for a range outside the blob.
type refusalWriter struct {
	http.ResponseWriter
	r       *http.Request
	size    int64
	refused bool // the problem is written: ServeContent's body is dropped
}

func (w *refusalWriter) WriteHeader(code int) {
	if w.refused {
		return
	}
	var e *urlError
	switch code {
	case http.StatusRequestedRangeNotSatisfiable:
		if w.Header().Get("Content-Range") != "" {
			e = refuse(code, "range_not_satisfiable", "the Range %q asks for no byte of the blob, which is %d bytes long: ask for ranges starting below %d",
				w.r.Header.Get("Range"), w.size, w.size)
		} else {
			e = refuse(code, "range_not_satisfiable", "the Range %q is malformed: send bytes=FIRST-LAST, bytes=FIRST- or bytes=-SUFFIX (byte offsets, several joined by commas)",
				w.r.Header.Get("Range"))
		}
	case http.StatusPreconditionFailed:
		if w.r.Header.Get("If-Match") != "" {
			e = refuse(code, "precondition_failed", "If-Match names no ETag of this blob, whose ETag is %s", w.Header().Get("ETag"))
		} else {
			e = refuse(code, "precondition_failed", "the blob was modified after the If-Unmodified-Since time, at %s", w.Header().Get("Last-Modified"))
		}
	default:
		w.ResponseWriter.WriteHeader(code)
		return
	}
	w.refused = true
	h := w.Header()
	for _, k := range []string{"Content-Length", "Content-Disposition", "Content-Security-Policy"} {
		h.Del(k)
	}
	writeProblem(w.ResponseWriter, e)
}

func (w *refusalWriter) Write(b []byte) (int, error) {
	if w.refused {
		return len(b), nil
	}
	return w.ResponseWriter.Write(b)
}

// ReadFrom keeps the underlying writer's copy (sendfile) for the body.
func (w *refusalWriter) ReadFrom(src io.Reader) (int64, error) {
	if w.refused {
		return io.Copy(io.Discard, src)
	}
	return io.Copy(w.ResponseWriter, src)
}

func (w *refusalWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// gateRefused answers an upload its gate refused (409) or failed on (500).
func (s *Store) gateRefused(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, blob.ErrUploadClosed) {
		writeProblem(w, refuse(http.StatusConflict, "upload_closed", "%s", err.Error()))
		return
	}
	s.internal(w, r, err)
}

func (s *Store) internal(w http.ResponseWriter, r *http.Request, err error) {
	s.log.ErrorContext(r.Context(), "local blob store", "method", r.Method, "path", r.URL.Path, "err", err)
	writeProblem(w, refuse(http.StatusInternalServerError, "internal", "the blob store failed; try again later"))
}

// ProblemTypeBase prefixes the type URI of every refusal, as it does the
// HTTP API's problems (server.ProblemTypeBase).
const ProblemTypeBase = "urn:taskmodel:problem:"

// problem is an RFC 9457 problem document with the refusal's code.
type problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
	Code   string `json:"code"`
}

func writeProblem(w http.ResponseWriter, e *urlError) {
	h := w.Header()
	h.Set("Content-Type", "application/problem+json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(e.status)
	json.NewEncoder(w).Encode(problem{Type: ProblemTypeBase + strings.ReplaceAll(e.code, "_", "-"), Title: http.StatusText(e.status), Status: e.status, Detail: e.detail, Code: e.code})
}
