package export

import (
	"bufio"
	"cmp"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"

	"clerk-lambda/shared/settings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/clerk/clerk-sdk-go/v2"
)

// maxLine bounds one user's JSON line when reading an export back.
const maxLine = 16 << 20

// Read decodes an export, gzip-compressed JSON lines as Write produces them,
// and calls fn with each user in order. It stops at the first error,
// from the stream or from fn.
func Read(r io.Reader, fn func(*clerk.User) error) error {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return fmt.Errorf("read export: %w", err)
	}
	defer zr.Close()
	lines := bufio.NewScanner(zr)
	lines.Buffer(make([]byte, 0, 64<<10), maxLine)
	for line := 1; lines.Scan(); line++ {
		u := &clerk.User{}
		if err := json.Unmarshal(lines.Bytes(), u); err != nil {
			return fmt.Errorf("read export: line %d: %w", line, err)
		}
		if err := fn(u); err != nil {
			return err
		}
	}
	if err := lines.Err(); err != nil {
		return fmt.Errorf("read export: %w", err)
	}
	return nil
}

// Latest reads the manifest of the newest complete export under prefix
// ("" = DefaultPrefix).
func Latest(ctx context.Context, client *s3.Client, bucket, prefix string) (Manifest, error) {
	p, err := settings.CleanPrefix(cmp.Or(prefix, DefaultPrefix))
	if err != nil {
		return Manifest{}, fmt.Errorf("prefix: %w", err)
	}
	out, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(p + "/" + LatestName)})
	if err != nil {
		return Manifest{}, fmt.Errorf("get %s: %w", LatestName, err)
	}
	defer out.Body.Close()
	var m Manifest
	if err := json.NewDecoder(out.Body).Decode(&m); err != nil {
		return Manifest{}, fmt.Errorf("decode %s: %w", LatestName, err)
	}
	return m, nil
}
