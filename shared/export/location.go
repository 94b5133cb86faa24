package export

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"clerk-lambda/shared/settings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// DefaultPrefix is where exports go in the bucket when no prefix is given.
const DefaultPrefix = settings.DefaultExportPrefix

// ParseS3URL splits "s3://BUCKET/PREFIX" into a checked bucket and prefix.
// Without a prefix ("s3://BUCKET" or "s3://BUCKET/") the prefix is
// DefaultPrefix.
func ParseS3URL(raw string) (bucket, prefix string, err error) {
	rest, ok := strings.CutPrefix(raw, "s3://")
	if !ok {
		return "", "", errors.New("not an s3:// URL (use s3://BUCKET/PREFIX)")
	}
	bucket, prefix, _ = strings.Cut(rest, "/")
	if err := settings.CheckBucket(bucket); err != nil {
		return "", "", fmt.Errorf("%s: bucket %w", raw, err)
	}
	if strings.Trim(prefix, "/") == "" {
		return bucket, DefaultPrefix, nil
	}
	if prefix, err = settings.CleanPrefix(prefix); err != nil {
		return "", "", fmt.Errorf("%s: prefix %w", raw, err)
	}
	return bucket, prefix, nil
}

// NewS3Client returns an S3 client built from the default AWS configuration
// (environment, shared files, the Lambda role). When an endpoint is
// configured through AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL, such as a local
// S3 server, requests use path-style addressing, which such servers expect.
func NewS3Client(ctx context.Context) (*s3.Client, error) {
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("load AWS configuration: %w", err)
	}
	return S3FromConfig(cfg), nil
}

// S3FromConfig is an S3 client for cfg that addresses a custom endpoint
// (AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL) path-style, as NewS3Client does.
func S3FromConfig(cfg aws.Config) *s3.Client {
	custom := os.Getenv("AWS_ENDPOINT_URL_S3") != "" || os.Getenv("AWS_ENDPOINT_URL") != ""
	return s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = custom })
}
