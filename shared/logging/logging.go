// Package logging sets up the structured logs every function writes: log/slog
// JSON lines on stdout, which CloudWatch stores as they are, each carrying the
// Lambda request id so one request's lines can be found together.
//
// The request id comes from the context a line is logged with
// (logger.InfoContext(ctx, ...)), through the handler New installs, so call
// sites never attach it themselves. aws-lambda-go's lambdacontext.NewLogHandler
// does the same, but writes only to os.Stdout, takes its level from
// AWS_LAMBDA_LOG_LEVEL, writes text unless AWS_LAMBDA_LOG_FORMAT is JSON and
// renames slog's keys; the functions here log JSON at LOG_LEVEL to a writer
// the tests can read, so the handler is this package's own.
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

// New returns a JSON logger writing to w (os.Stdout when nil) at level and
// above, which adds "requestId" to every line logged with the context of a
// Lambda invocation.
func New(w io.Writer, level slog.Leveler) *slog.Logger {
	if w == nil {
		w = os.Stdout
	}
	return slog.New(requestID{slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level})})
}

// requestID is a handler that adds the Lambda request id of a record's
// context before passing it on.
type requestID struct{ slog.Handler }

func (h requestID) Handle(ctx context.Context, r slog.Record) error {
	if lc, ok := lambdacontext.FromContext(ctx); ok && lc.AwsRequestID != "" {
		r.AddAttrs(slog.String("requestId", lc.AwsRequestID))
	}
	return h.Handler.Handle(ctx, r)
}

func (h requestID) WithAttrs(attrs []slog.Attr) slog.Handler {
	return requestID{h.Handler.WithAttrs(attrs)}
}

func (h requestID) WithGroup(name string) slog.Handler {
	return requestID{h.Handler.WithGroup(name)}
}
