package local

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"iter"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/taskmodel/taskmodel/blob"
	"github.com/taskmodel/taskmodel/tasktype"
)

// MinKeyLen is the shortest signing key New accepts, in bytes.
const MinKeyLen = 32

// Config configures a Store.
type Config struct {
	// Dir is the directory the blobs live in; New creates it (0750) if
	// needed. Blobs are under Dir/objects, uploads in progress under Dir/tmp.
	Dir string
	// BaseURL is where the server mounts Handler: an absolute URL such as
	// "https://api.example.com/blobs/" or an absolute path such as
	// "/blobs/" (then presigned URLs are relative to the server's origin).
	// A missing trailing slash is added.
	BaseURL string
	// SigningKey signs the URLs, at least MinKeyLen bytes of secret random
	// data shared by every server instance over the same Dir (see
	// LoadOrCreateKeyFile).
	SigningKey []byte
	// PreviousKeys are still accepted when checking a URL, so a key can be
	// rotated without breaking URLs already handed out.
	PreviousKeys [][]byte
	// Clock is the store's time, for issuing and checking URLs (default
	// time.Now).
	Clock func() time.Time
	// Logger records internal errors the handler answers 500 to (default
	// slog.Default()).
	Logger *slog.Logger
}

// Store is a blob.Store in a local directory whose presigned URLs are
// served by Handler.
type Store struct {
	root    *os.Root
	base    *url.URL
	secrets [][]byte // SigningKey first
	clock   func() time.Time
	log     *slog.Logger
}

var _ blob.Store = (*Store)(nil)

const (
	objectsDir = "objects"
	tmpDir     = "tmp"
)

// New opens (creating if needed) a store in cfg.Dir. Every file operation
// goes through an os.Root on that directory, so even a symbolic link placed
// inside it cannot lead outside.
func New(cfg Config) (*Store, error) {
	var fields []*tasktype.FieldError
	if cfg.Dir == "" {
		fields = append(fields, &tasktype.FieldError{Field: "Dir", Rule: "required", Message: "must name the store's directory"})
	}
	base, ferr := parseBaseURL(cfg.BaseURL)
	if ferr != nil {
		fields = append(fields, ferr)
	}
	if len(cfg.SigningKey) < MinKeyLen {
		fields = append(fields, &tasktype.FieldError{Field: "SigningKey", Rule: "min_len",
			Message: fmt.Sprintf("must be at least %d random bytes (see LoadOrCreateKeyFile)", MinKeyLen)})
	}
	for i, k := range cfg.PreviousKeys {
		if len(k) < MinKeyLen {
			fields = append(fields, &tasktype.FieldError{Field: fmt.Sprintf("PreviousKeys[%d]", i), Rule: "min_len",
				Message: fmt.Sprintf("must be at least %d bytes", MinKeyLen)})
		}
	}
	if len(fields) > 0 {
		return nil, &tasktype.ValidationError{Type: "local.Config", Fields: fields}
	}
	if err := os.MkdirAll(cfg.Dir, 0o750); err != nil {
		return nil, fmt.Errorf("local blob store: %w", err)
	}
	root, err := os.OpenRoot(cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("local blob store: %w", err)
	}
	for _, d := range []string{objectsDir, tmpDir} {
		if err := root.Mkdir(d, 0o750); err != nil && !errors.Is(err, fs.ErrExist) {
			root.Close()
			return nil, fmt.Errorf("local blob store: %w", err)
		}
	}
	s := &Store{root: root, base: base, clock: cfg.Clock, log: cfg.Logger}
	s.secrets = append([][]byte{slices.Clone(cfg.SigningKey)}, cloneAll(cfg.PreviousKeys)...)
	if s.clock == nil {
		s.clock = time.Now
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	return s, nil
}

func cloneAll(keys [][]byte) [][]byte {
	out := make([][]byte, len(keys))
	for i, k := range keys {
		out[i] = slices.Clone(k)
	}
	return out
}

func parseBaseURL(raw string) (*url.URL, *tasktype.FieldError) {
	fail := &tasktype.FieldError{Field: "BaseURL", Rule: "url", Value: raw,
		Message: `must be an absolute http(s) URL or an absolute path where Handler is mounted, such as "/blobs/"`}
	u, err := url.Parse(raw)
	if err != nil || u.RawQuery != "" || u.Fragment != "" || u.User != nil || !strings.HasPrefix(u.Path, "/") {
		return nil, fail
	}
	if u.IsAbs() != (u.Host != "") || (u.IsAbs() && u.Scheme != "http" && u.Scheme != "https") {
		return nil, fail
	}
	if !strings.HasSuffix(u.Path, "/") {
		u.Path += "/"
	}
	u.RawPath = ""
	return u, nil
}

// Close releases the store's directory handle.
func (s *Store) Close() error { return s.root.Close() }

func objectPath(key string) string { return objectsDir + "/" + key }

// PresignUpload returns a PUT URL served by Handler.
func (s *Store) PresignUpload(_ context.Context, r blob.UploadRequest) (*blob.Presigned, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	g := &grant{method: http.MethodPut, key: r.Key, contentType: r.ContentType, maxSize: r.MaxSize, size: r.Size}
	p := s.presign(g, r.Expires)
	p.Headers = map[string]string{"Content-Type": r.ContentType}
	if r.Size > 0 {
		p.Headers["Content-Length"] = fmt.Sprint(r.Size)
	}
	return p, nil
}

// PresignDownload returns a GET URL served by Handler.
func (s *Store) PresignDownload(_ context.Context, r blob.DownloadRequest) (*blob.Presigned, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	return s.presign(&grant{method: http.MethodGet, key: r.Key, filename: r.Filename}, r.Expires), nil
}

func (s *Store) presign(g *grant, d time.Duration) *blob.Presigned {
	exp := s.clock().Unix() + blob.ExpiresSeconds(d)
	g.expires = exp
	u := *s.base
	u.Path += g.key
	u.RawQuery = g.query(s.secrets[0])
	return &blob.Presigned{Method: g.method, URL: u.String(), Expires: time.Unix(exp, 0).UTC()}
}

// Stat describes the blob at key.
func (s *Store) Stat(_ context.Context, key string) (blob.Info, error) {
	f, info, err := s.open(key)
	if err != nil {
		return blob.Info{}, err
	}
	f.Close()
	return info, nil
}

// Open reads the blob at key. The reader also implements io.Seeker and
// io.ReaderAt.
func (s *Store) Open(_ context.Context, key string) (io.ReadCloser, blob.Info, error) {
	f, info, err := s.open(key)
	if err != nil {
		return nil, blob.Info{}, err
	}
	return f, info, nil
}

// Put stores r under key once all of it has been read.
func (s *Store) Put(_ context.Context, key string, r io.Reader, o blob.PutOptions) (blob.Info, error) {
	if err := blob.ValidateKey(key); err != nil {
		return blob.Info{}, err
	}
	if err := o.Validate(); err != nil {
		return blob.Info{}, err
	}
	return s.write(key, o.ContentType, r, o.MaxSize, 0, nil)
}

// Delete removes the blob at key and the folders it leaves empty.
func (s *Store) Delete(_ context.Context, key string) error {
	if err := blob.ValidateKey(key); err != nil {
		return err
	}
	if _, err := s.remove(key); err != nil {
		return err
	}
	s.prune(path.Dir(objectPath(key)))
	return nil
}

// remove deletes one blob file and reports whether there was one.
func (s *Store) remove(key string) (bool, error) {
	fi, err := s.root.Lstat(objectPath(key))
	switch {
	case isNotExist(err):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("blob %s: %w", key, err)
	case !fi.Mode().IsRegular():
		return false, nil // a folder of other keys: no blob has this key
	}
	if err := s.root.Remove(objectPath(key)); err != nil && !isNotExist(err) {
		return false, fmt.Errorf("blob %s: %w", key, err)
	}
	return true, nil
}

// prune removes dir and its parents up to objects/ while they are empty.
func (s *Store) prune(dir string) {
	for dir != objectsDir && strings.HasPrefix(dir, objectsDir+"/") {
		if s.root.Remove(dir) != nil { // not empty (or gone): stop
			return
		}
		dir = path.Dir(dir)
	}
}

// List yields the blobs under prefix in key order.
func (s *Store) List(ctx context.Context, prefix string) iter.Seq2[blob.Info, error] {
	return func(yield func(blob.Info, error) bool) {
		if err := blob.ValidatePrefix(prefix); err != nil {
			yield(blob.Info{}, err)
			return
		}
		keys, err := s.keys(prefix)
		if err != nil {
			yield(blob.Info{}, err)
			return
		}
		for _, key := range keys {
			info, err := s.Stat(ctx, key)
			if errors.Is(err, blob.ErrNotFound) {
				continue // deleted since the walk
			}
			if !yield(info, err) || err != nil {
				return
			}
		}
	}
}

// keys returns the keys of the blob files under prefix, sorted.
func (s *Store) keys(prefix string) ([]string, error) {
	dir := objectPath(strings.TrimSuffix(prefix, "/"))
	var keys []string
	err := fs.WalkDir(s.root.FS(), dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if isNotExist(err) {
				return nil
			}
			return err
		}
		// The walk's root itself is a file when a blob's key is the prefix
		// without its slash: it is not under the prefix.
		if key := strings.TrimPrefix(p, objectsDir+"/"); d.Type().IsRegular() && strings.HasPrefix(key, prefix) && blob.ValidateKey(key) == nil {
			keys = append(keys, key)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("listing %s: %w", prefix, err)
	}
	slices.Sort(keys)
	return keys, nil
}

// DeletePrefix removes every blob under prefix and the folders left empty.
func (s *Store) DeletePrefix(_ context.Context, prefix string) (int, error) {
	if err := blob.ValidatePrefix(prefix); err != nil {
		return 0, err
	}
	keys, err := s.keys(prefix)
	if err != nil {
		return 0, err
	}
	n := 0
	var errs []error
	for _, key := range slices.Backward(keys) {
		removed, err := s.remove(key)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if removed {
			n++
		}
		s.prune(path.Dir(objectPath(key)))
	}
	return n, errors.Join(errs...)
}

// The file format: a header, then the blob's bytes. The header is the
// magic, a 4-byte big-endian length and that many bytes of JSON metadata.
// Keeping the metadata in the same file makes one rename publish both.
const magic = "TMBLOB1\n"

const maxMetaLen = 4096

type meta struct {
	ContentType string `json:"content_type"`
	// Version is new with every write: the blob's ETag. Files written
	// before it existed have none; theirs is made of size and time.
	Version string `json:"version,omitempty"`
}

// etag is the ETag of a blob file of m, size and mod.
func (m meta) etag(size int64, mod time.Time) string {
	if m.Version != "" {
		return m.Version
	}
	return fmt.Sprintf("%x-%x", size, mod.UnixNano())
}

func encodeHeader(m meta) []byte {
	js, _ := json.Marshal(m) // a struct of strings always marshals
	h := make([]byte, 0, len(magic)+4+len(js))
	h = append(h, magic...)
	h = binary.BigEndian.AppendUint32(h, uint32(len(js)))
	return append(h, js...)
}

// file is an open blob: its bytes after the header.
type file struct {
	*io.SectionReader
	f *os.File
}

func (f *file) Close() error { return f.f.Close() }

// open opens the blob at key and reads its header.
func (s *Store) open(key string) (*file, blob.Info, error) {
	if err := blob.ValidateKey(key); err != nil {
		return nil, blob.Info{}, err
	}
	f, err := s.root.Open(objectPath(key))
	if isNotExist(err) {
		return nil, blob.Info{}, blob.NotFound(key)
	}
	if err != nil {
		return nil, blob.Info{}, fmt.Errorf("blob %s: %w", key, err)
	}
	fi, err := f.Stat()
	if err == nil && !fi.Mode().IsRegular() {
		f.Close()
		return nil, blob.Info{}, blob.NotFound(key) // a folder of other keys
	}
	var hdr [len(magic) + 4]byte
	if err == nil {
		_, err = io.ReadFull(f, hdr[:])
	}
	var m meta
	var n uint32
	if err == nil {
		n = binary.BigEndian.Uint32(hdr[len(magic):])
		if string(hdr[:len(magic)]) != magic || n > maxMetaLen {
			err = errors.New("not a blob file (bad header)")
		}
	}
	if err == nil {
		js := make([]byte, n)
		if _, err = io.ReadFull(f, js); err == nil {
			err = json.Unmarshal(js, &m)
		}
	}
	if err != nil {
		f.Close()
		return nil, blob.Info{}, fmt.Errorf("blob %s: %w", key, err)
	}
	off := int64(len(hdr)) + int64(n)
	size := fi.Size() - off
	info := blob.Info{Key: key, Size: size, ContentType: m.ContentType, ModTime: fi.ModTime().UTC(), ETag: m.etag(size, fi.ModTime())}
	return &file{SectionReader: io.NewSectionReader(f, off, size), f: f}, info, nil
}

var (
	// errLength: the body's length is not the one the URL was signed for.
	errLength = errors.New("length differs from the signed length")
	// errBody: the body could not be read (the client went away or sent
	// less than it announced), as opposed to a failure of storage.
	errBody = errors.New("reading the body")
)

// bodyReader remembers a read error, which io.Copy does not tell apart
// from a write error.
type bodyReader struct {
	r   io.Reader
	err error
}

func (b *bodyReader) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err != nil && err != io.EOF {
		b.err = err
	}
	return n, err
}

// write stores r under key: it copies at most limit bytes (exactly size
// when size > 0) to a new file in tmp/, syncs it and renames it into place,
// so a reader sees the old blob or the whole new one, never a part. commit,
// when set, is asked just before the rename whether the blob may still be
// stored (an upload gate); its error stores nothing.
func (s *Store) write(key, contentType string, r io.Reader, limit, size int64, commit func() error) (info blob.Info, err error) {
	var rnd [16]byte
	rand.Read(rnd[:])
	tmp := tmpDir + "/" + hex.EncodeToString(rnd[:])
	f, err := s.root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o640)
	if err != nil {
		return blob.Info{}, fmt.Errorf("blob %s: %w", key, err)
	}
	defer func() {
		if f != nil {
			f.Close()
		}
		if err != nil {
			s.root.Remove(tmp)
		}
	}()
	m := meta{ContentType: contentType, Version: hex.EncodeToString(rnd[:])}
	if _, err = f.Write(encodeHeader(m)); err != nil {
		return blob.Info{}, fmt.Errorf("blob %s: %w", key, err)
	}
	body := &bodyReader{r: io.LimitReader(r, limit+1)}
	n, err := io.Copy(f, body)
	switch {
	case body.err != nil:
		return blob.Info{}, fmt.Errorf("blob %s: %w: %w", key, errBody, body.err)
	case err != nil:
		return blob.Info{}, fmt.Errorf("blob %s: %w", key, err)
	case n > limit:
		return blob.Info{}, blob.TooLarge(key, limit)
	case size > 0 && n != size:
		return blob.Info{}, fmt.Errorf("blob %s: %d bytes, signed for %d: %w", key, n, size, errLength)
	}
	if err = f.Sync(); err != nil {
		return blob.Info{}, fmt.Errorf("blob %s: %w", key, err)
	}
	fi, err := f.Stat()
	if err != nil {
		return blob.Info{}, fmt.Errorf("blob %s: %w", key, err)
	}
	err, f = f.Close(), nil
	if err != nil {
		return blob.Info{}, fmt.Errorf("blob %s: %w", key, err)
	}
	if commit != nil {
		if err = commit(); err != nil {
			return blob.Info{}, err
		}
	}
	if err = s.publish(tmp, key); err != nil {
		return blob.Info{}, err
	}
	return blob.Info{Key: key, Size: n, ContentType: contentType, ModTime: fi.ModTime().UTC(), ETag: m.etag(n, fi.ModTime())}, nil
}

// publish renames tmp to the key's path, making its folders. A concurrent
// Delete may prune a folder between the two steps; then it tries again.
func (s *Store) publish(tmp, key string) error {
	dst := objectPath(key)
	dir := path.Dir(dst)
	var err error
	for range 5 {
		if err = s.root.MkdirAll(dir, 0o750); err != nil {
			break
		}
		if err = s.root.Rename(tmp, dst); !errors.Is(err, fs.ErrNotExist) {
			break
		}
	}
	switch {
	case err == nil:
		s.syncDir(dir)
		return nil
	case errors.Is(err, syscall.ENOTDIR), errors.Is(err, syscall.EEXIST), errors.Is(err, syscall.EISDIR):
		return fmt.Errorf("blob %s: a blob's key is a folder of this key, or this key is a folder of others: %w", key, blob.ErrKeyConflict)
	default:
		return fmt.Errorf("blob %s: %w", key, err)
	}
}

// syncDir makes a rename in dir durable; failing to is not an error of the
// write (the data itself is synced).
func (s *Store) syncDir(dir string) {
	if d, err := s.root.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

func isNotExist(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)
}
