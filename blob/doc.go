// Package blob stores the files of tasks — a task's uploaded inputs, its
// parameters.json and the outputs its workers write — and hands clients
// presigned URLs to upload and download them without credentials of their
// own (the upload → process lifecycle: POST /tasks/{id}/upload-urls, "Required files not found in
// storage", GET /tasks/{id}/downloads, deleting an expired task's folder).
//
// # Stores
//
// Store is the contract; two implementations pass the same conformance suite
// (package blobtest) over real HTTP:
//
//   - blob/local keeps blobs in a directory and serves its URLs itself: an
//     http.Handler the server mounts (say at /blobs/), with URLs signed by
//     HMAC-SHA256 and an expiry. It is the default: nothing to run.
//   - blob/s3 keeps them in a bucket of any S3-compatible service (AWS S3,
//     Backblaze B2, MinIO, Ceph, R2, …) with SigV4 presigned URLs, so
//     uploads and downloads never pass through the server.
//
// # The upload flow
//
// The server presigns one upload per file, returns the Presigned values as
// JSON (method, url, headers, expires_at), and the client sends each file
// with exactly that method and those headers:
//
//	p, err := store.PresignUpload(ctx, blob.UploadRequest{
//		Key:         "users/u1/tasks/" + id + "/inputs/primary.csv",
//		ContentType: "text/csv",
//		MaxSize:     50 << 20,
//		Expires:     15 * time.Minute,
//	})
//
// When the client asks to process the task, the server checks each required
// file with Verify, which fails with ErrNotFound when the file was never
// uploaded (the task moves to UPLOAD_FAILED), ErrTooLarge or ErrContentType
// — and deletes a file that breaks a limit, so it is never processed. The
// worker reads inputs with Open and writes outputs with Put; the downloads
// endpoint lists the outputs with List and presigns each with
// PresignDownload; the cleanup hook of an expired task calls DeletePrefix on
// the task's folder.
//
// # What each URL enforces
//
// An upload URL is good for one key, one method (PUT), one Content-Type
// (byte for byte) and until it expires; changing any part of it makes it
// invalid. The size limit differs by protocol: the local store refuses a
// body above MaxSize with 413 and writes nothing; S3 cannot sign a range of
// lengths into a presigned PUT, so there an oversized upload is stored and
// Verify deletes it. Setting UploadRequest.Size, the exact length, signs it
// into the URL for both stores (S3 signs Content-Length). A download URL
// serves the blob as an attachment, so a browser never renders an uploaded
// file in the server's origin.
//
// # Keys
//
// A key is a relative path of segments made of ASCII letters, digits, '-',
// '_' and '.', joined by '/', at most 1024 bytes, no segment empty or
// starting with '.' (ValidateKey). That rules out "..", absolute paths,
// backslashes, NUL bytes, percent-escapes and hidden files by construction,
// so a key can never name a file outside a local store's directory, and the
// same key means the same thing in every store. Build keys from ids, not
// from user-supplied file names; offer the user's name at download time
// with DownloadRequest.Filename. Prefixes (a task's folder) end with '/'
// (ValidatePrefix), so "tasks/4/" never matches "tasks/42/…".
//
// # Errors
//
// Invalid input is a *tasktype.FieldError or *tasktype.ValidationError that
// names the field ("key", "content_type", "max_size", "size", "expires",
// "filename", "prefix") and says what is allowed; errors.Is(err,
// tasktype.ErrValidation) holds. A missing blob is ErrNotFound; limits are
// ErrTooLarge and ErrContentType; a file-system store that cannot hold both
// "a/b" and "a/b/c" returns ErrKeyConflict. Nothing is half-written: every
// write replaces a blob whole or leaves it as it was.
package blob
