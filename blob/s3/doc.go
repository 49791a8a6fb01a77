// Package s3 is a blob.Store in a bucket of any S3-compatible service —
// AWS S3, Backblaze B2, MinIO, Ceph, Cloudflare R2, … — built on
// aws-sdk-go-v2. Clients upload and download with SigV4 presigned URLs
// straight to the service; the server only signs.
//
//	store, err := s3.New(s3.Config{
//		Bucket:          "task-files",
//		Endpoint:        "https://s3.us-west-004.backblazeb2.com",
//		Region:          "us-west-004",
//		UsePathStyle:    true,
//		AccessKeyID:     os.Getenv("B2_KEY_ID"),
//		SecretAccessKey: os.Getenv("B2_APP_KEY"),
//	})
//
// # What a presigned URL enforces
//
// An upload URL signs the method, the object key, the Content-Type and,
// when UploadRequest.Size is set, the Content-Length: the service refuses
// any other with 403 SignatureDoesNotMatch. SigV4 cannot sign a range of
// lengths, so without Size an upload above MaxSize is accepted by the
// service and blob.Verify deletes it (use a POST policy outside this
// package if uploads must be refused at the door). Expiry is X-Amz-Expires,
// at most 7 days. Download URLs carry response-content-disposition so the
// file comes as an attachment.
//
// The SDK's default CRC32 checksums are turned off except where an
// operation requires one: they break many S3-compatible services and would
// require a checksum header in presigned URLs that browsers cannot compute.
//
// # Keys and prefixes
//
// Config.Prefix is put before every key, so stores can share a bucket; the
// longest key is then 1024 bytes less the prefix (Store.MaxKeyLen). List
// and DeletePrefix page through ListObjectsV2; DeletePrefix removes up to
// 1000 objects per DeleteObjects request, re-listing after each. S3
// listings carry no content type, so List leaves Info.ContentType empty.
//
// Tests run against a real S3-compatible server in the test process:
// package s3test starts rclone's gofakes3 with signature checking.
package s3
