package s3

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/taskmodel/taskmodel/blob"
	"github.com/taskmodel/taskmodel/tasktype"
)

// MaxPrefixLen is the longest Config.Prefix: keys may then still be 768
// bytes long.
const MaxPrefixLen = 256

// Config configures a Store.
type Config struct {
	// Bucket holds the blobs; it must exist.
	Bucket string
	// Prefix, when set, is put before every key in the bucket, so several
	// stores can share one bucket: "taskmodel/" stores the key "a/b" as
	// "taskmodel/a/b". It follows blob.ValidatePrefix.
	Prefix string
	// Endpoint is the base URL of an S3-compatible service, such as
	// "https://s3.us-west-004.backblazeb2.com" or "http://127.0.0.1:9000";
	// empty means AWS S3 itself.
	Endpoint string
	// Region signs requests (default "us-east-1").
	Region string
	// UsePathStyle puts the bucket in the URL path instead of the host
	// name, as most S3-compatible services other than AWS need.
	UsePathStyle bool
	// AccessKeyID and SecretAccessKey (and SessionToken, if any) are
	// static credentials. Leave them empty to use Credentials instead.
	AccessKeyID, SecretAccessKey, SessionToken string
	// Credentials, when set, provides the credentials; pass the
	// Credentials of aws-sdk-go-v2/config.LoadDefaultConfig for the SDK's
	// environment and instance-role chain.
	Credentials aws.CredentialsProvider
	// HTTPClient sends the store's own requests (default: the SDK's).
	HTTPClient *http.Client
	// Clock is when presigned URLs are issued (default time.Now); tests
	// move it to make URLs that have already expired. The store's own
	// API requests are signed by the SDK at the current time.
	Clock func() time.Time
	// TempDir spools a Put's body before it is sent, to enforce its size
	// limit and send its exact length (default os.TempDir()).
	TempDir string
}

// Store is a blob.Store in an S3-compatible bucket.
type Store struct {
	client  *s3.Client
	presign *s3.PresignClient
	bucket  string
	prefix  string
	clock   func() time.Time
	tempDir string
}

var _ blob.Store = (*Store)(nil)

// New returns a store for cfg. It makes no request: a wrong bucket or
// credentials show on first use.
func New(cfg Config) (*Store, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	creds := cfg.Credentials
	if creds == nil {
		static := aws.Credentials{AccessKeyID: cfg.AccessKeyID, SecretAccessKey: cfg.SecretAccessKey,
			SessionToken: cfg.SessionToken, Source: "blob/s3.Config"}
		creds = aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) { return static, nil })
	}
	region := cfg.Region
	if region == "" {
		region = "us-east-1"
	}
	opts := s3.Options{
		Region:       region,
		Credentials:  creds,
		UsePathStyle: cfg.UsePathStyle,
		// Checksums only where an operation requires one: since 2025 the SDK
		// adds CRC32 checksums to every upload by default, which many
		// S3-compatible services reject and which would put a checksum
		// header into presigned URLs that browsers cannot compute.
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
	}
	if cfg.Endpoint != "" {
		opts.BaseEndpoint = aws.String(cfg.Endpoint)
	}
	if cfg.HTTPClient != nil {
		opts.HTTPClient = cfg.HTTPClient
	}
	client := s3.New(opts)
	clock := cfg.Clock
	if clock == nil {
		clock = time.Now
	}
	presigner := clockPresigner{signer: v4.NewSigner(), now: clock}
	return &Store{
		client:  client,
		presign: s3.NewPresignClient(client, func(o *s3.PresignOptions) { o.Presigner = presigner }),
		bucket:  cfg.Bucket,
		prefix:  cfg.Prefix,
		clock:   clock,
		tempDir: cfg.TempDir,
	}, nil
}

func (cfg *Config) validate() error {
	var fields []*tasktype.FieldError
	if cfg.Bucket == "" {
		fields = append(fields, &tasktype.FieldError{Field: "Bucket", Rule: "required", Message: "must name the bucket"})
	}
	if len(cfg.Prefix) > MaxPrefixLen {
		fields = append(fields, &tasktype.FieldError{Field: "Prefix", Rule: "max_len", Value: cfg.Prefix[:32] + "…",
			Message: fmt.Sprintf("must be at most %d bytes, to leave room for keys", MaxPrefixLen)})
	} else if cfg.Prefix != "" {
		if err := blob.ValidatePrefix(cfg.Prefix); err != nil {
			fe := *err.(*tasktype.FieldError)
			fe.Field = "Prefix"
			fields = append(fields, &fe)
		}
	}
	if cfg.Endpoint != "" {
		u, err := url.Parse(cfg.Endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			fields = append(fields, &tasktype.FieldError{Field: "Endpoint", Rule: "url", Value: cfg.Endpoint,
				Message: "must be an absolute http(s) URL such as https://s3.example.com"})
		}
	}
	if cfg.Credentials == nil && (cfg.AccessKeyID == "" || cfg.SecretAccessKey == "") {
		fields = append(fields, &tasktype.FieldError{Field: "AccessKeyID", Rule: "required",
			Message: "give AccessKeyID and SecretAccessKey, or a Credentials provider"})
	}
	if len(fields) > 0 {
		return &tasktype.ValidationError{Type: "s3.Config", Fields: fields}
	}
	return nil
}

// Client returns the S3 client the store uses, for operations it does not
// offer (bucket set-up, lifecycle rules, CORS).
func (s *Store) Client() *s3.Client { return s.client }

// clockPresigner signs presigned URLs at the store's clock instead of the
// SDK's.
type clockPresigner struct {
	signer *v4.Signer
	now    func() time.Time
}

func (p clockPresigner) PresignHTTP(ctx context.Context, creds aws.Credentials, r *http.Request, payloadHash, service, region string,
	_ time.Time, optFns ...func(*v4.SignerOptions)) (string, http.Header, error) {
	return p.signer.PresignHTTP(ctx, creds, r, payloadHash, service, region, p.now(), optFns...)
}

func (s *Store) objectKey(key string) *string { return aws.String(s.prefix + key) }

// MaxKeyLen is the longest key the store takes: blob.MaxKeyLen less the
// length of its Prefix, since S3 limits the whole object key.
func (s *Store) MaxKeyLen() int { return blob.MaxKeyLen - len(s.prefix) }

// validateKey checks key with blob.ValidateKey and against MaxKeyLen.
func (s *Store) validateKey(key string) error {
	if err := blob.ValidateKey(key); err != nil {
		return err
	}
	if len(key) > s.MaxKeyLen() {
		return &tasktype.FieldError{Field: "key", Rule: "max_len", Value: key[:min(len(key), 32)] + "…",
			Message: fmt.Sprintf("is %d bytes; with the store's prefix %q a key may have at most %d", len(key), s.prefix, s.MaxKeyLen())}
	}
	return nil
}

// PresignUpload returns a presigned PUT URL. Its Content-Type is signed, so
// S3 refuses an upload with another one (403), and so is the exact length
// when r.Size is set. S3 cannot sign a range of lengths: without r.Size, an
// upload above r.MaxSize is stored, and blob.Verify deletes it.
func (s *Store) PresignUpload(ctx context.Context, r blob.UploadRequest) (*blob.Presigned, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	if err := s.validateKey(r.Key); err != nil {
		return nil, err
	}
	in := &s3.PutObjectInput{Bucket: &s.bucket, Key: s.objectKey(r.Key), ContentType: aws.String(r.ContentType)}
	if r.Size > 0 {
		in.ContentLength = aws.Int64(r.Size)
	}
	req, err := s.presign.PresignPutObject(ctx, in, s3.WithPresignExpires(r.Expires.Truncate(time.Second)))
	return s.presigned(req, r.Expires, err)
}

// PresignDownload returns a presigned GET URL whose response carries the
// attachment Content-Disposition of r.
func (s *Store) PresignDownload(ctx context.Context, r blob.DownloadRequest) (*blob.Presigned, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	if err := s.validateKey(r.Key); err != nil {
		return nil, err
	}
	in := &s3.GetObjectInput{Bucket: &s.bucket, Key: s.objectKey(r.Key), ResponseContentDisposition: aws.String(r.ContentDisposition())}
	req, err := s.presign.PresignGetObject(ctx, in, s3.WithPresignExpires(r.Expires.Truncate(time.Second)))
	return s.presigned(req, r.Expires, err)
}

func (s *Store) presigned(req *v4.PresignedHTTPRequest, d time.Duration, err error) (*blob.Presigned, error) {
	if err != nil {
		return nil, fmt.Errorf("presigning: %w", err)
	}
	p := &blob.Presigned{Method: req.Method, URL: req.URL, Expires: s.clock().Truncate(time.Second).Add(d.Truncate(time.Second)).UTC()}
	for k, vs := range req.SignedHeader {
		if http.CanonicalHeaderKey(k) == "Host" || len(vs) == 0 {
			continue
		}
		if p.Headers == nil {
			p.Headers = map[string]string{}
		}
		p.Headers[http.CanonicalHeaderKey(k)] = vs[0]
	}
	return p, nil
}

// Stat describes the blob at key with a HEAD request.
func (s *Store) Stat(ctx context.Context, key string) (blob.Info, error) {
	if err := s.validateKey(key); err != nil {
		return blob.Info{}, err
	}
	out, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &s.bucket, Key: s.objectKey(key)})
	if err != nil {
		return blob.Info{}, s.fail(key, err)
	}
	return info(key, out.ContentLength, out.ContentType, out.LastModified, out.ETag), nil
}

// Open reads the blob at key with a GET request.
func (s *Store) Open(ctx context.Context, key string) (io.ReadCloser, blob.Info, error) {
	if err := s.validateKey(key); err != nil {
		return nil, blob.Info{}, err
	}
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: &s.bucket, Key: s.objectKey(key)})
	if err != nil {
		return nil, blob.Info{}, s.fail(key, err)
	}
	return out.Body, info(key, out.ContentLength, out.ContentType, out.LastModified, out.ETag), nil
}

func info(key string, size *int64, ct *string, mod *time.Time, etag *string) blob.Info {
	return blob.Info{Key: key, Size: aws.ToInt64(size), ContentType: aws.ToString(ct), ModTime: aws.ToTime(mod).UTC(), ETag: aws.ToString(etag)}
}

// fail turns an SDK error into blob.ErrNotFound for a missing object, and
// names the key otherwise. A missing bucket is not a missing blob where
// the answer says so (a HEAD's 404 has no body to tell them apart).
func (s *Store) fail(key string, err error) error {
	if api, ok := errors.AsType[smithy.APIError](err); ok && api.ErrorCode() == "NoSuchBucket" {
		return fmt.Errorf("blob %s: bucket %s: %w", key, s.bucket, err)
	}
	var re *awshttp.ResponseError
	var nsk *types.NoSuchKey
	var nf *types.NotFound
	if errors.As(err, &nsk) || errors.As(err, &nf) || (errors.As(err, &re) && re.HTTPStatusCode() == http.StatusNotFound) {
		return blob.NotFound(key)
	}
	return fmt.Errorf("blob %s: %w", key, err)
}

// Put spools r to a temporary file (at most o.MaxSize bytes, else
// blob.ErrTooLarge and nothing is sent), then uploads it with one PUT, which
// S3 applies whole or not at all.
func (s *Store) Put(ctx context.Context, key string, r io.Reader, o blob.PutOptions) (blob.Info, error) {
	if err := s.validateKey(key); err != nil {
		return blob.Info{}, err
	}
	if err := o.Validate(); err != nil {
		return blob.Info{}, err
	}
	f, err := os.CreateTemp(s.tempDir, "blob-put-*")
	if err != nil {
		return blob.Info{}, fmt.Errorf("blob %s: spooling: %w", key, err)
	}
	defer os.Remove(f.Name())
	defer f.Close()
	n, err := io.Copy(f, io.LimitReader(r, o.MaxSize+1))
	if err != nil {
		return blob.Info{}, fmt.Errorf("blob %s: spooling: %w", key, err)
	}
	if n > o.MaxSize {
		return blob.Info{}, blob.TooLarge(key, o.MaxSize)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return blob.Info{}, fmt.Errorf("blob %s: spooling: %w", key, err)
	}
	_, err = s.client.PutObject(ctx, &s3.PutObjectInput{Bucket: &s.bucket, Key: s.objectKey(key), Body: f,
		ContentLength: aws.Int64(n), ContentType: aws.String(o.ContentType)})
	if err != nil {
		return blob.Info{}, s.fail(key, err)
	}
	return s.Stat(ctx, key)
}

// Delete removes the blob at key.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := s.validateKey(key); err != nil {
		return err
	}
	if _, err := s.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &s.bucket, Key: s.objectKey(key)}); err != nil {
		if err := s.fail(key, err); !errors.Is(err, blob.ErrNotFound) {
			return err
		}
	}
	return nil
}

// List yields the blobs under prefix in key order, a page of up to 1000
// at a time. S3 listings carry no content type: Info.ContentType is empty;
// Stat a blob for it.
func (s *Store) List(ctx context.Context, prefix string) iter.Seq2[blob.Info, error] {
	return func(yield func(blob.Info, error) bool) {
		if err := blob.ValidatePrefix(prefix); err != nil {
			yield(blob.Info{}, err)
			return
		}
		for o, err := range s.objects(ctx, prefix) {
			if err != nil {
				yield(blob.Info{}, err)
				return
			}
			key := strings.TrimPrefix(aws.ToString(o.Key), s.prefix)
			if blob.ValidateKey(key) != nil {
				continue // not written through a blob.Store
			}
			if !yield(info(key, o.Size, nil, o.LastModified, o.ETag), nil) {
				return
			}
		}
	}
}

// objects yields every object under the store's prefix and prefix.
func (s *Store) objects(ctx context.Context, prefix string) iter.Seq2[types.Object, error] {
	return func(yield func(types.Object, error) bool) {
		pages := s3.NewListObjectsV2Paginator(s.client, &s3.ListObjectsV2Input{Bucket: &s.bucket, Prefix: aws.String(s.prefix + prefix)})
		for pages.HasMorePages() {
			page, err := pages.NextPage(ctx)
			if err != nil {
				yield(types.Object{}, fmt.Errorf("listing %s: %w", prefix, err))
				return
			}
			for _, o := range page.Contents {
				if !yield(o, nil) {
					return
				}
			}
		}
	}
}

// DeletePrefix removes every object under prefix, whatever its name, and
// counts those S3 reports deleted. It lists the first 1000 objects left,
// deletes them with one request and starts again until none is left, so
// it relies on no continuation token staying valid across deletions.
func (s *Store) DeletePrefix(ctx context.Context, prefix string) (int, error) {
	if err := blob.ValidatePrefix(prefix); err != nil {
		return 0, err
	}
	n := 0
	for {
		page, err := s.client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: &s.bucket, Prefix: aws.String(s.prefix + prefix),
			MaxKeys: aws.Int32(1000)})
		if err != nil {
			return n, fmt.Errorf("deleting %s: listing: %w", prefix, err)
		}
		if len(page.Contents) == 0 {
			return n, nil
		}
		batch := make([]types.ObjectIdentifier, len(page.Contents))
		for i, o := range page.Contents {
			batch[i] = types.ObjectIdentifier{Key: o.Key}
		}
		out, err := s.client.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: &s.bucket,
			Delete: &types.Delete{Objects: batch, Quiet: aws.Bool(true)}})
		if err != nil {
			return n, fmt.Errorf("deleting %s: %w", prefix, err)
		}
		n += len(batch) - len(out.Errors)
		if len(out.Errors) > 0 { // listing again would find them again
			errs := make([]error, len(out.Errors))
			for i, e := range out.Errors {
				errs[i] = fmt.Errorf("deleting %s: %s: %s", aws.ToString(e.Key), aws.ToString(e.Code), aws.ToString(e.Message))
			}
			return n, errors.Join(errs...)
		}
	}
}
