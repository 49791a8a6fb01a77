package blob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"mime"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/taskmodel/taskmodel/tasktype"
)

// Store keeps blobs under validated keys and hands out presigned URLs that
// let a client upload or download one blob without credentials of its own.
//
// Every method validates its key or prefix first (ValidateKey,
// ValidatePrefix) and its request (UploadRequest.Validate, …): invalid input
// is a *tasktype.FieldError or *tasktype.ValidationError and touches nothing.
// A missing blob is ErrNotFound. Implementations are safe for concurrent use.
type Store interface {
	// PresignUpload returns the request a client sends to store one blob:
	// a PUT of at most r.MaxSize bytes (exactly r.Size when set) with the
	// Content-Type r.ContentType, valid until r.Expires from now. A later
	// upload to the same key replaces the blob whole.
	PresignUpload(ctx context.Context, r UploadRequest) (*Presigned, error)
	// PresignDownload returns a GET request that reads one blob, offered
	// to browsers as an attachment named r.Filename (default: the key's
	// last segment). The blob need not exist yet.
	PresignDownload(ctx context.Context, r DownloadRequest) (*Presigned, error)
	// Stat describes the blob at key, or fails with ErrNotFound.
	Stat(ctx context.Context, key string) (Info, error)
	// Open reads the blob at key; the caller closes the reader.
	Open(ctx context.Context, key string) (io.ReadCloser, Info, error)
	// Put stores r under key from the server side, replacing any blob
	// there only once all of r has been read: a failed or oversized Put
	// (ErrTooLarge) leaves the key as it was.
	Put(ctx context.Context, key string, r io.Reader, o PutOptions) (Info, error)
	// Delete removes the blob at key; deleting a missing blob is not an error.
	Delete(ctx context.Context, key string) error
	// List yields the blobs whose keys start with prefix, in key order.
	List(ctx context.Context, prefix string) iter.Seq2[Info, error]
	// DeletePrefix removes every blob whose key starts with prefix (a
	// task's folder) and returns how many it removed.
	DeletePrefix(ctx context.Context, prefix string) (int, error)
}

// Errors a Store returns; test them with errors.Is. Each is wrapped with
// the key it concerns.
var (
	// ErrNotFound: no blob has that key.
	ErrNotFound = errors.New("blob not found")
	// ErrTooLarge: the blob is larger than the limit it was given.
	ErrTooLarge = errors.New("blob too large")
	// ErrContentType: the blob's content type is not the one expected.
	ErrContentType = errors.New("blob has the wrong content type")
	// ErrKeyConflict: the key cannot be stored because a blob's key is a
	// folder of it or the other way round ("a/b" and "a/b/c"). Only stores
	// backed by a file system return it.
	ErrKeyConflict = errors.New("blob key conflicts with an existing key")
)

// Info describes a stored blob.
type Info struct {
	// Key is the blob's key.
	Key string `json:"key"`
	// Size is its length in bytes.
	Size int64 `json:"size"`
	// ContentType is the media type it was stored with.
	ContentType string `json:"content_type"`
	// ModTime is when it was last written.
	ModTime time.Time `json:"mod_time"`
	// ETag identifies this version of the blob: Stat, Open, Put and List
	// give the same value until the blob is written again, and a write of
	// other bytes gives another (S3's ETag; a local store's is new with
	// every write). Compare it to tell whether a blob was replaced since
	// it was last seen, as server.OpenInput does.
	ETag string `json:"etag"`
}

// UploadRequest asks for a presigned upload URL.
type UploadRequest struct {
	// Key names the blob (see ValidateKey).
	Key string
	// ContentType is the media type the client must send as its
	// Content-Type header, byte for byte.
	ContentType string
	// MaxSize is the most bytes the upload may carry, 1 to MaxObjectSize.
	// The local store refuses a larger upload with 413; S3 cannot limit a
	// presigned PUT to a range, so there Verify finds and deletes it.
	MaxSize int64
	// Size, when not zero, is the exact length the client must send
	// (at most MaxSize): the URL is signed for it, which lets every store,
	// S3 included, refuse any other length at upload time.
	Size int64
	// Expires is how long the URL stays valid, MinExpiry to MaxExpiry,
	// counted in whole seconds (a fraction is dropped).
	Expires time.Duration
}

// Validate checks every field and returns a *tasktype.ValidationError that
// names each one that breaks its limit.
func (r UploadRequest) Validate() error {
	var fields []*tasktype.FieldError
	fields = appendField(fields, ValidateKey(r.Key))
	fields = appendField(fields, ValidateContentType(r.ContentType))
	switch {
	case r.MaxSize <= 0:
		fields = append(fields, &tasktype.FieldError{Field: "max_size", Rule: "gt", Value: strconv.FormatInt(r.MaxSize, 10),
			Message: "must be more than 0 bytes"})
	case r.MaxSize > MaxObjectSize:
		fields = append(fields, &tasktype.FieldError{Field: "max_size", Rule: "le", Value: strconv.FormatInt(r.MaxSize, 10),
			Message: fmt.Sprintf("must be at most %d bytes (5 GiB)", MaxObjectSize)})
	}
	if r.Size < 0 || (r.Size > r.MaxSize && r.MaxSize > 0) {
		fields = append(fields, &tasktype.FieldError{Field: "size", Rule: "range", Value: strconv.FormatInt(r.Size, 10),
			Message: "must be 0 (not declared) or from 1 to max_size bytes"})
	}
	fields = appendField(fields, validateExpires(r.Expires))
	return fieldsError("UploadRequest", fields)
}

// DownloadRequest asks for a presigned download URL.
type DownloadRequest struct {
	// Key names the blob (see ValidateKey).
	Key string
	// Filename is the name a browser saves the download under (see
	// ValidateFilename); empty means the key's last segment.
	Filename string
	// Expires is how long the URL stays valid, MinExpiry to MaxExpiry,
	// counted in whole seconds.
	Expires time.Duration
}

// Validate checks every field and returns a *tasktype.ValidationError that
// names each one that breaks its limit.
func (r DownloadRequest) Validate() error {
	var fields []*tasktype.FieldError
	fields = appendField(fields, ValidateKey(r.Key))
	if r.Filename != "" {
		fields = appendField(fields, ValidateFilename(r.Filename))
	}
	fields = appendField(fields, validateExpires(r.Expires))
	return fieldsError("DownloadRequest", fields)
}

// ContentDisposition is the Content-Disposition a download of r is served
// with: always an attachment, so a browser never renders an uploaded file
// in the server's origin, named r.Filename or else the key's last segment.
// Call it on a validated request.
func (r DownloadRequest) ContentDisposition() string {
	name := r.Filename
	if name == "" {
		name = path.Base(r.Key)
	}
	return mime.FormatMediaType("attachment", map[string]string{"filename": name})
}

// ExpiresSeconds returns d in whole seconds, as URLs carry it.
func ExpiresSeconds(d time.Duration) int64 { return int64(d / time.Second) }

func validateExpires(d time.Duration) error {
	if d < MinExpiry || d > MaxExpiry {
		return &tasktype.FieldError{Field: "expires", Rule: "range", Value: d.String(),
			Message: "must be from 1s to 168h (7 days)"}
	}
	return nil
}

// PutOptions tunes a server-side Put.
type PutOptions struct {
	// ContentType is the blob's media type (see ValidateContentType).
	ContentType string
	// MaxSize is the most bytes Put stores, 1 to MaxObjectSize; a longer
	// reader fails with ErrTooLarge and stores nothing.
	MaxSize int64
}

// Validate checks every field and returns a *tasktype.ValidationError that
// names each one that breaks its limit.
func (o PutOptions) Validate() error {
	var fields []*tasktype.FieldError
	fields = appendField(fields, ValidateContentType(o.ContentType))
	if o.MaxSize <= 0 || o.MaxSize > MaxObjectSize {
		fields = append(fields, &tasktype.FieldError{Field: "max_size", Rule: "range", Value: strconv.FormatInt(o.MaxSize, 10),
			Message: fmt.Sprintf("must be from 1 to %d bytes (5 GiB)", MaxObjectSize)})
	}
	return fieldsError("PutOptions", fields)
}

func appendField(fields []*tasktype.FieldError, err error) []*tasktype.FieldError {
	var fe *tasktype.FieldError
	if errors.As(err, &fe) {
		fields = append(fields, fe)
	}
	return fields
}

func fieldsError(typ string, fields []*tasktype.FieldError) error {
	if len(fields) == 0 {
		return nil
	}
	return &tasktype.ValidationError{Type: typ, Fields: fields}
}

// Presigned is a request a client may send without credentials: Method to
// URL with Headers, until Expires. It marshals to the JSON an API returns.
type Presigned struct {
	// Method is "PUT" for an upload, "GET" for a download.
	Method string `json:"method"`
	// URL carries the signature; it must be used as is.
	URL string `json:"url"`
	// Headers must be sent with exactly these values. Content-Length, when
	// present, is the length the URL was signed for: HTTP clients set it
	// from the body.
	Headers map[string]string `json:"headers,omitempty"`
	// Expires is when the URL stops working.
	Expires time.Time `json:"expires_at"`
}

// NewRequest builds the HTTP request p describes, with body (nil for a
// download). A Content-Length in Headers sets the request's ContentLength.
func (p *Presigned) NewRequest(ctx context.Context, body io.Reader) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, p.Method, p.URL, body)
	if err != nil {
		return nil, err
	}
	for k, v := range p.Headers {
		if http.CanonicalHeaderKey(k) == "Content-Length" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("presigned Content-Length %q: %w", v, err)
			}
			req.ContentLength = n
			continue
		}
		req.Header.Set(k, v)
	}
	return req, nil
}

// Exists reports whether a blob is stored at key.
func Exists(ctx context.Context, s Store, key string) (bool, error) {
	_, err := s.Stat(ctx, key)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, ErrNotFound):
		return false, nil
	default:
		return false, err
	}
}

// Expect is what Verify checks an uploaded blob against.
type Expect struct {
	// ContentType, when set, is the media type the blob must have. Media
	// types are compared as MediaType gives them, without case or
	// parameters: a blob stored as "text/csv; charset=utf-8" (the
	// Content-Type its upload URL was signed for) is of type "text/csv".
	ContentType string
	// MaxSize, when set, is the most bytes the blob may hold.
	MaxSize int64
}

// Verify is the "files uploaded?" step before processing: it checks that
// the blob at key exists (else ErrNotFound), holds at most want.MaxSize
// bytes (else ErrTooLarge) and is of the media type of want.ContentType
// (else ErrContentType).
// A blob that breaks a limit is deleted, so it can never be processed and
// the client may upload again; the error says what was wrong.
func Verify(ctx context.Context, s Store, key string, want Expect) (Info, error) {
	info, err := s.Stat(ctx, key)
	if err != nil {
		return Info{}, err
	}
	var bad error
	switch {
	case want.MaxSize > 0 && info.Size > want.MaxSize:
		bad = fmt.Errorf("blob %s: %d bytes, limit %d: %w", key, info.Size, want.MaxSize, ErrTooLarge)
	case want.ContentType != "" && MediaType(info.ContentType) != MediaType(want.ContentType):
		bad = fmt.Errorf("blob %s: content type %q, want %q: %w", key, info.ContentType, want.ContentType, ErrContentType)
	default:
		return info, nil
	}
	if err := s.Delete(ctx, key); err != nil {
		return Info{}, errors.Join(bad, fmt.Errorf("deleting the rejected blob: %w", err))
	}
	return Info{}, bad
}

// MediaType returns the media type of a Content-Type as
// mime.ParseMediaType reads it, lower case and without parameters:
// "text/csv" for "Text/CSV; charset=utf-8". Unlike ParseMediaType it does
// not check the value: one it refuses still gives what comes before its
// first ';', so two malformed values differ as they read.
func MediaType(ct string) string {
	mt, _, _ := strings.Cut(ct, ";")
	return strings.ToLower(strings.TrimSpace(mt))
}

// NotFound returns ErrNotFound wrapped with key, for Store implementations.
func NotFound(key string) error { return fmt.Errorf("blob %s: %w", key, ErrNotFound) }

// TooLarge returns ErrTooLarge wrapped with key and the limit, for Store
// implementations.
func TooLarge(key string, limit int64) error {
	return fmt.Errorf("blob %s: more than %d bytes: %w", key, limit, ErrTooLarge)
}
