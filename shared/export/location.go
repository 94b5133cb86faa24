package export

import (
	"context"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// DefaultPrefix is where exports go in the bucket when no prefix is given.
const DefaultPrefix = "exports/users"

// maxPrefix leaves room under S3's 1,024-byte key limit for the dated part
// of the key and the file name.
const maxPrefix = 512

var (
	bucketName    = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)
	ipAddress     = regexp.MustCompile(`^\d+\.\d+\.\d+\.\d+$`)
	prefixSegment = regexp.MustCompile(`^[A-Za-z0-9!_.*'()-]+$`)
)

// CheckBucket rejects a name S3 would refuse as a general purpose bucket:
// 3 to 63 lower-case letters, digits, dots and hyphens, starting and ending
// with a letter or digit, no "..", not shaped like an IP address.
func CheckBucket(name string) error {
	if !bucketName.MatchString(name) || strings.Contains(name, "..") || ipAddress.MatchString(name) {
		return errors.New("not a valid S3 bucket name (3-63 lower-case letters, digits, dots and hyphens)")
	}
	return nil
}

// CleanPrefix checks a key prefix and returns it without trailing slashes:
// "users/" and "users" are the same prefix. It must not be empty or start
// with "/", and each of its "/"-separated segments must be made of S3's safe
// characters (letters, digits and ! - _ . * ' ( )) and be neither "." nor "..".
func CleanPrefix(prefix string) (string, error) {
	p := strings.TrimRight(prefix, "/")
	switch {
	case p == "":
		return "", errors.New("must not be empty")
	case strings.HasPrefix(p, "/"):
		return "", errors.New("must not start with a slash (use a form such as exports/users)")
	case len(p) > maxPrefix:
		return "", fmt.Errorf("must be at most %d characters", maxPrefix)
	}
	for seg := range strings.SplitSeq(p, "/") {
		if seg == "." || seg == ".." || !prefixSegment.MatchString(seg) {
			return "", errors.New("must be segments of letters, digits and ! - _ . * ' ( ) separated by single slashes")
		}
	}
	return p, nil
}

// ParseS3URL splits "s3://BUCKET/PREFIX" into a checked bucket and prefix.
// Without a prefix ("s3://BUCKET" or "s3://BUCKET/") the prefix is
// DefaultPrefix.
func ParseS3URL(raw string) (bucket, prefix string, err error) {
	rest, ok := strings.CutPrefix(raw, "s3://")
	if !ok {
		return "", "", errors.New("not an s3:// URL (use s3://BUCKET/PREFIX)")
	}
	bucket, prefix, _ = strings.Cut(rest, "/")
	if err := CheckBucket(bucket); err != nil {
		return "", "", fmt.Errorf("%s: bucket %w", raw, err)
	}
	if strings.Trim(prefix, "/") == "" {
		return bucket, DefaultPrefix, nil
	}
	if prefix, err = CleanPrefix(prefix); err != nil {
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
	custom := os.Getenv("AWS_ENDPOINT_URL_S3") != "" || os.Getenv("AWS_ENDPOINT_URL") != ""
	return s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = custom }), nil
}
