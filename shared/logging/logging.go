// Package logging sets up the structured logs every function writes: log/slog
// JSON lines on stdout, which CloudWatch stores as they are, each carrying the
// Lambda request id so one request's lines can be found together.
//
// Callers log decisions and outcomes, never a token or a secret.
package logging

import (
	"context"
	"io"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambdacontext"
)

// New returns a JSON logger writing to w (os.Stdout when nil). LOG_LEVEL
// ("debug", "info", "warn", "error") sets the level; the default is info.
func New(w io.Writer) *slog.Logger {
	if w == nil {
		w = os.Stdout
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(os.Getenv("LOG_LEVEL"))); err != nil {
		level = slog.LevelInfo
	}
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level}))
}

// ForRequest returns logger with the Lambda request id of ctx attached, when
// ctx comes from a Lambda invocation.
func ForRequest(ctx context.Context, logger *slog.Logger) *slog.Logger {
	if lc, ok := lambdacontext.FromContext(ctx); ok && lc.AwsRequestID != "" {
		return logger.With("requestId", lc.AwsRequestID)
	}
	return logger
}
