package archive

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path"
	"strings"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// S3Config configures an [S3] backend.
type S3Config struct {
	// Endpoint is host[:port] of the S3-compatible service.
	Endpoint string
	// Bucket holds the archive; Prefix (optional, no leading or trailing
	// slash) puts it under a folder of the bucket.
	Bucket string
	Prefix string
	// AccessKey and SecretKey are the static credentials.
	AccessKey string
	SecretKey string
	// Region; empty lets the client discover it.
	Region string
	// Insecure talks plain HTTP (test servers on loopback only).
	Insecure bool
	// CreateBucket creates the bucket when it does not exist.
	CreateBucket bool
	// Transport overrides the HTTP transport (custom CAs).
	Transport http.RoundTripper
}

// Validate reports every problem in c.
func (c S3Config) Validate() error {
	var errs []error
	if c.Endpoint == "" {
		errs = append(errs, errors.New("s3 archive: endpoint is empty"))
	}
	if c.Bucket == "" {
		errs = append(errs, errors.New("s3 archive: bucket is empty"))
	}
	if c.AccessKey == "" || c.SecretKey == "" {
		errs = append(errs, errors.New("s3 archive: access key and secret key are required"))
	}
	if c.Prefix != "" && ValidName(c.Prefix) != nil {
		errs = append(errs, fmt.Errorf("s3 archive: prefix %q is not a valid relative path", c.Prefix))
	}
	return errors.Join(errs...)
}

// S3 is a [Backend] on S3-compatible object storage (through minio-go).
// Object stores replace objects atomically, so a Put is whole or absent.
type S3 struct {
	cl     *minio.Client
	bucket string
	prefix string // "" or "folder/"
	desc   string
}

// NewS3 connects to the service, checks the bucket (creating it when
// cfg.CreateBucket is set) and returns the backend.
func NewS3(ctx context.Context, cfg S3Config) (*S3, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cl, err := minio.New(cfg.Endpoint, &minio.Options{
		Creds:     credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""),
		Secure:    !cfg.Insecure,
		Region:    cfg.Region,
		Transport: cfg.Transport,
	})
	if err != nil {
		return nil, fmt.Errorf("s3 archive %s: %w", cfg.Endpoint, err)
	}
	s := &S3{cl: cl, bucket: cfg.Bucket, desc: "s3:" + path.Join(cfg.Endpoint, cfg.Bucket, cfg.Prefix)}
	if cfg.Prefix != "" {
		s.prefix = cfg.Prefix + "/"
	}
	ok, err := cl.BucketExists(ctx, cfg.Bucket)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.desc, err)
	}
	if !ok {
		if !cfg.CreateBucket {
			return nil, fmt.Errorf("%s: bucket %s does not exist", s.desc, cfg.Bucket)
		}
		if err := cl.MakeBucket(ctx, cfg.Bucket, minio.MakeBucketOptions{Region: cfg.Region}); err != nil {
			return nil, fmt.Errorf("%s: create bucket: %w", s.desc, err)
		}
	}
	return s, nil
}

// String implements [Backend].
func (s *S3) String() string { return s.desc }

func notFound(err error) bool {
	code := minio.ToErrorResponse(err).Code
	return code == "NoSuchKey" || code == "NotFound"
}

// Put implements [Backend].
func (s *S3) Put(ctx context.Context, name string, r io.Reader, size int64) error {
	if err := ValidName(name); err != nil {
		return err
	}
	_, err := s.cl.PutObject(ctx, s.bucket, s.prefix+name, r, size, minio.PutObjectOptions{ContentType: "application/octet-stream"})
	if err != nil {
		return fmt.Errorf("%s: put %s: %w", s.desc, name, err)
	}
	return nil
}

// Get implements [Backend]. It asks for the object at once so that a
// missing object is reported here, not at the first Read.
func (s *S3) Get(ctx context.Context, name string) (io.ReadCloser, error) {
	if err := ValidName(name); err != nil {
		return nil, err
	}
	obj, err := s.cl.GetObject(ctx, s.bucket, s.prefix+name, minio.GetObjectOptions{})
	if err == nil {
		_, err = obj.Stat()
	}
	if err != nil {
		if obj != nil {
			obj.Close()
		}
		if notFound(err) {
			return nil, fmt.Errorf("%w: %s", ErrNotFound, name)
		}
		return nil, fmt.Errorf("%s: get %s: %w", s.desc, name, err)
	}
	return obj, nil
}

// Stat implements [Backend].
func (s *S3) Stat(ctx context.Context, name string) (ObjectInfo, error) {
	if err := ValidName(name); err != nil {
		return ObjectInfo{}, err
	}
	oi, err := s.cl.StatObject(ctx, s.bucket, s.prefix+name, minio.StatObjectOptions{})
	if err != nil {
		if notFound(err) {
			return ObjectInfo{}, fmt.Errorf("%w: %s", ErrNotFound, name)
		}
		return ObjectInfo{}, fmt.Errorf("%s: stat %s: %w", s.desc, name, err)
	}
	return ObjectInfo{Name: name, Size: oi.Size, ModTime: oi.LastModified}, nil
}

// List implements [Backend].
func (s *S3) List(ctx context.Context, prefix string, fn func(ObjectInfo) error) error {
	if err := validPrefix(prefix); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // stops the listing goroutine when fn fails
	for oi := range s.cl.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: s.prefix + prefix, Recursive: true}) {
		if oi.Err != nil {
			return fmt.Errorf("%s: list %s: %w", s.desc, prefix, oi.Err)
		}
		name := strings.TrimPrefix(oi.Key, s.prefix)
		if strings.HasSuffix(name, "/") {
			continue
		}
		if err := fn(ObjectInfo{Name: name, Size: oi.Size, ModTime: oi.LastModified}); err != nil {
			return err
		}
	}
	return ctx.Err()
}

// Delete implements [Backend].
func (s *S3) Delete(ctx context.Context, name string) error {
	if err := ValidName(name); err != nil {
		return err
	}
	if err := s.cl.RemoveObject(ctx, s.bucket, s.prefix+name, minio.RemoveObjectOptions{}); err != nil && !notFound(err) {
		return fmt.Errorf("%s: delete %s: %w", s.desc, name, err)
	}
	return nil
}
