// Package local is a blob.Store in a local directory, the default store:
// the server itself accepts the uploads and serves the downloads, through
// the http.Handler the store provides.
//
// # Mounting
//
//	key, err := local.LoadOrCreateKeyFile("/var/lib/taskmodel/blob.key")
//	store, err := local.New(local.Config{
//		Dir:        "/var/lib/taskmodel/blobs",
//		BaseURL:    "https://api.example.com/blobs/",
//		SigningKey: key,
//	})
//	mux.Handle("/blobs/", store.Handler())
//
// BaseURL is where clients reach the handler; it may also be a path such as
// "/blobs/", which makes the URLs relative to the server's origin. Every
// server instance over the same directory needs the same signing key.
//
// # URLs
//
// A presigned URL is BaseURL + key + a query: exp (Unix seconds), for an
// upload ct (content type), max (size limit) and optionally len (exact
// length), for a download optionally fn (file name), and sig, the
// base64url HMAC-SHA256 under the signing key of all of these with the
// method and the key, each field length-prefixed so no two grants share a
// message. The handler recomputes the signature and compares it in constant
// time, then checks the expiry at Config.Clock; unknown or repeated
// parameters are refused. PreviousKeys lets a key be rotated without
// breaking URLs already handed out.
//
// Refusals are RFC 9457 problem documents with a "code": 403 for a URL that
// is malformed (malformed_url), altered or signed elsewhere
// (bad_signature), expired (expired) or used with the other method
// (wrong_method); 415 for another Content-Type than the signed one
// (content_type); 413 for a body above the limit (too_large), refused from
// Content-Length before reading or while streaming; 400 for a body of
// another length than the signed exact one (length_mismatch); 404 for a bad
// key or a missing blob; 409 for a key conflict; 405 for other methods.
// A download's Range outside the blob or malformed is a 416
// (range_not_satisfiable; with Content-Range: bytes */SIZE for one outside
// it), an If-Match or If-Unmodified-Since that does not hold a 412
// (precondition_failed).
//
// # On disk
//
// Blobs live in Dir/objects/<key>, one file each: a small header (magic,
// length, JSON with the content type) followed by the bytes, so one rename
// publishes data and metadata together. An upload is written to Dir/tmp,
// fsynced and renamed into place, so readers see the old blob or the whole
// new one; a refused or broken upload leaves nothing. Every operation goes
// through an os.Root on Dir, so not even a symbolic link planted inside it
// leads outside. Empty folders are removed when their last blob is deleted.
// A file system cannot hold both "a/b" and "a/b/c": the second is
// blob.ErrKeyConflict (409). Temporary files of a process that crashed
// mid-upload stay in Dir/tmp until removed by hand.
//
// Downloads are served with http.ServeContent (Range, HEAD, conditional
// requests), as attachments, with nosniff and a sandboxing
// Content-Security-Policy. Browsers uploading from another origin need
// CORS: wrap the handler in the server's CORS middleware.
package local
