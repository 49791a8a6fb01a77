package local

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/taskmodel/taskmodel/blob"
)

// The query parameters of a presigned URL. All but sig are signed, together
// with the method and the key.
const (
	paramExpires     = "exp" // Unix seconds after which the URL is refused
	paramContentType = "ct"  // PUT: the Content-Type the upload must carry
	paramMaxSize     = "max" // PUT: the most bytes the upload may carry
	paramSize        = "len" // PUT, optional: the exact length
	paramFilename    = "fn"  // GET, optional: the download's file name
	paramSignature   = "sig" // base64url HMAC-SHA256 of the grant
)

// signatureVersion starts every signed message, so a future format can
// never verify against an old signature or the other way round.
const signatureVersion = "taskmodel-blob-v1"

// grant is what a presigned URL allows: one method on one key until a
// time, with an upload's limits or a download's file name.
type grant struct {
	method      string // http.MethodPut or http.MethodGet
	key         string
	expires     int64 // Unix seconds
	contentType string
	maxSize     int64
	size        int64
	filename    string
}

// mac returns the grant's signature under secret: HMAC-SHA256 over the
// version, method, key, expiry, content type, limits and file name, each
// written with its length first so that no two grants share a message.
func (g *grant) mac(secret []byte) []byte {
	h := hmac.New(sha256.New, secret)
	for _, f := range [...]string{
		signatureVersion, g.method, g.key, strconv.FormatInt(g.expires, 10),
		g.contentType, strconv.FormatInt(g.maxSize, 10), strconv.FormatInt(g.size, 10), g.filename,
	} {
		fmt.Fprintf(h, "%d:%s\n", len(f), f)
	}
	return h.Sum(nil)
}

// query returns the grant's query string, signed with secret.
func (g *grant) query(secret []byte) string {
	q := url.Values{paramExpires: {strconv.FormatInt(g.expires, 10)}}
	if g.method == http.MethodPut {
		q.Set(paramContentType, g.contentType)
		q.Set(paramMaxSize, strconv.FormatInt(g.maxSize, 10))
		if g.size > 0 {
			q.Set(paramSize, strconv.FormatInt(g.size, 10))
		}
	} else if g.filename != "" {
		q.Set(paramFilename, g.filename)
	}
	q.Set(paramSignature, base64.RawURLEncoding.EncodeToString(g.mac(secret)))
	return q.Encode()
}

// urlError is why the handler refuses a request, as an HTTP problem.
type urlError struct {
	status int
	code   string // machine-readable: "bad_signature", "expired", …
	detail string
}

func (e *urlError) Error() string { return e.detail }

func refuse(status int, code, format string, args ...any) *urlError {
	return &urlError{status: status, code: code, detail: fmt.Sprintf(format, args...)}
}

// parseGrant reads the grant a request claims from its method, its key
// (the URL path below the handler's prefix) and its raw query, and returns
// it with the signature it carries. It checks the form of every parameter
// but not the signature or the expiry (see verify).
func parseGrant(method, key, rawQuery string) (*grant, []byte, *urlError) {
	g := &grant{key: key}
	switch method {
	case http.MethodPut:
		g.method = http.MethodPut
	case http.MethodGet, http.MethodHead:
		g.method = http.MethodGet
	default:
		return nil, nil, refuse(http.StatusMethodNotAllowed, "method_not_allowed",
			"method %s is not allowed: blob URLs take PUT (upload) or GET and HEAD (download)", method)
	}
	if err := blob.ValidateKey(key); err != nil {
		return nil, nil, refuse(http.StatusNotFound, "bad_key", "no blob here: %v", err)
	}
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return nil, nil, refuse(http.StatusForbidden, "malformed_url", "the URL's query does not parse: %v", err)
	}
	allowed := map[string]bool{paramExpires: true, paramSignature: true, paramFilename: true}
	if g.method == http.MethodPut {
		allowed = map[string]bool{paramExpires: true, paramSignature: true, paramContentType: true, paramMaxSize: true, paramSize: true}
	}
	for name, vs := range q {
		switch {
		case !allowed[name] && g.method == http.MethodGet && (name == paramContentType || name == paramMaxSize || name == paramSize):
			return nil, nil, refuse(http.StatusForbidden, "wrong_method", "this URL is for uploading: use PUT, not %s", method)
		case !allowed[name] && g.method == http.MethodPut && name == paramFilename:
			return nil, nil, refuse(http.StatusForbidden, "wrong_method", "this URL is for downloading: use GET, not PUT")
		case !allowed[name]:
			return nil, nil, refuse(http.StatusForbidden, "malformed_url", "the URL has the unknown parameter %q", name)
		case len(vs) != 1:
			return nil, nil, refuse(http.StatusForbidden, "malformed_url", "the URL repeats the parameter %q", name)
		}
	}
	sig, err := base64.RawURLEncoding.Strict().DecodeString(q.Get(paramSignature))
	if err != nil || len(sig) != sha256.Size {
		return nil, nil, refuse(http.StatusForbidden, "bad_signature", "the URL's signature is missing or malformed")
	}
	if g.expires, err = parseInt(q, paramExpires, 1); err != nil {
		return nil, nil, refuse(http.StatusForbidden, "malformed_url", "%v", err)
	}
	if g.method == http.MethodGet {
		if g.filename = q.Get(paramFilename); q.Has(paramFilename) {
			if err := blob.ValidateFilename(g.filename); err != nil {
				return nil, nil, refuse(http.StatusForbidden, "malformed_url", "%v", err)
			}
		}
		return g, sig, nil
	}
	g.contentType = q.Get(paramContentType)
	if err := blob.ValidateContentType(g.contentType); err != nil {
		return nil, nil, refuse(http.StatusForbidden, "malformed_url", "%v", err)
	}
	if g.maxSize, err = parseInt(q, paramMaxSize, 1); err != nil {
		return nil, nil, refuse(http.StatusForbidden, "malformed_url", "%v", err)
	}
	if q.Has(paramSize) {
		if g.size, err = parseInt(q, paramSize, 1); err != nil {
			return nil, nil, refuse(http.StatusForbidden, "malformed_url", "%v", err)
		}
	}
	return g, sig, nil
}

// parseInt reads a required decimal parameter of at least min.
func parseInt(q url.Values, name string, min int64) (int64, error) {
	if !q.Has(name) {
		return 0, fmt.Errorf("the URL lacks the parameter %q", name)
	}
	n, err := strconv.ParseInt(q.Get(name), 10, 64)
	if err != nil || n < min {
		return 0, fmt.Errorf("the URL's parameter %q is not a whole number of at least %d", name, min)
	}
	return n, nil
}

// verify checks the grant's signature against every key in secrets, in
// constant time, then its expiry against now.
func (g *grant) verify(sig []byte, secrets [][]byte, now time.Time) *urlError {
	ok := false
	for _, secret := range secrets {
		// hmac.Equal compares in constant time; every key is tried so
		// the time taken does not tell which one matched.
		if hmac.Equal(sig, g.mac(secret)) {
			ok = true
		}
	}
	if !ok {
		return refuse(http.StatusForbidden, "bad_signature",
			"the URL's signature does not match: it was altered, or signed for another method, key or server")
	}
	if exp := time.Unix(g.expires, 0); !now.Before(exp) {
		return refuse(http.StatusForbidden, "expired", "the URL expired at %s; ask for a new one", exp.UTC().Format(time.RFC3339))
	}
	return nil
}
