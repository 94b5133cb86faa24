package export

import (
	"context"
	"errors"
	"net/http"

	"github.com/aws/smithy-go"

	"clerk-lambda/shared/clerkapi"
)

// Error is a slice's failure. Retryable says whether running the slice
// again from the same checkpoint may succeed: Clerk or S3 unavailable, the
// deadline come before any part was written. A failure Retryable false
// will not pass by itself (a refused secret key or bucket, the upload gone,
// a user that is not JSON): the run should be aborted.
type Error struct {
	Err       error
	Retryable bool
}

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// errNotJSON is wrapped by the error of a user that is not JSON.
var errNotJSON = errors.New("not JSON")

// classify makes err an *Error, keeping the verdict of one inside it.
func classify(err error) error {
	var e *Error
	if errors.As(err, &e) {
		return &Error{Err: err, Retryable: e.Retryable}
	}
	return &Error{Err: err, Retryable: retryable(err)}
}

// nonRetryableS3 are S3's error codes that a retry meets again.
var nonRetryableS3 = map[string]bool{
	"AccessDenied": true, "NoSuchBucket": true, "NoSuchUpload": true, "InvalidPart": true, "InvalidPartOrder": true,
	"EntityTooSmall": true, "InvalidArgument": true, "InvalidRequest": true, "BadDigest": true, "InvalidAccessKeyId": true,
	"SignatureDoesNotMatch": true, "KMS.DisabledException": true,
}

// retryable says whether err may pass on a retry: by default yes (a
// network error, a 5xx), no for what Clerk or S3 refuse outright.
func retryable(err error) bool {
	if errors.Is(err, ErrDeadline) || errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	if errors.Is(err, errNotJSON) {
		return false
	}
	var clerkErr *clerkapi.APIError
	if errors.As(err, &clerkErr) {
		return clerkErr.Status == http.StatusTooManyRequests || clerkErr.Status >= http.StatusInternalServerError
	}
	var s3Err smithy.APIError
	if errors.As(err, &s3Err) {
		return !nonRetryableS3[s3Err.ErrorCode()]
	}
	return true
}
