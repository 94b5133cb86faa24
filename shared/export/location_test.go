package export

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"clerk-lambda/shared/export/exporttest"
)

func TestParseS3URL(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in, bucket, prefix, err string
	}{
		{in: "s3://exports/users", bucket: "exports", prefix: "users"},
		{in: "s3://exports/nightly/users/", bucket: "exports", prefix: "nightly/users"},
		{in: "s3://exports", bucket: "exports", prefix: DefaultPrefix},
		{in: "s3://exports/", bucket: "exports", prefix: DefaultPrefix},
		{in: "exports/users", err: "not an s3:// URL"},
		{in: "S3://exports/users", err: "not an s3:// URL"},
		{in: "s3://Exports/users", err: "s3://Exports/users: bucket not a valid S3 bucket name"},
		{in: "s3://exports/a/../b", err: "s3://exports/a/../b: prefix must be segments of"},
	} {
		bucket, prefix, err := ParseS3URL(tc.in)
		switch {
		case tc.err == "" && (err != nil || bucket != tc.bucket || prefix != tc.prefix):
			t.Errorf("ParseS3URL(%q) = %q, %q, %v; want %q, %q", tc.in, bucket, prefix, err, tc.bucket, tc.prefix)
		case tc.err != "" && (err == nil || !strings.HasPrefix(err.Error(), tc.err)):
			t.Errorf("ParseS3URL(%q) = %v; want an error starting %q", tc.in, err, tc.err)
		}
	}
}

// NewS3Client reaches a local S3 server named by AWS_ENDPOINT_URL_S3, with
// path-style addressing. (t.Setenv: not parallel.)
func TestNewS3ClientUsesTheConfiguredEndpoint(t *testing.T) {
	srv := exporttest.Need(t, s3srv)
	bucket := srv.Bucket(t)
	for k, v := range srv.Env() {
		t.Setenv(k, v)
	}
	t.Setenv("AWS_ENDPOINT_URL", "")
	client, err := NewS3Client(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.HeadBucket(context.Background(), &s3.HeadBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatalf("head bucket through the configured endpoint: %v", err)
	}
}
