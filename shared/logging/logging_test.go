package logging

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/lambdacontext"
)

func decode(t *testing.T, buf *bytes.Buffer) []map[string]any {
	t.Helper()
	var lines []map[string]any
	for _, raw := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var line map[string]any
		if err := json.Unmarshal([]byte(raw), &line); err != nil {
			t.Fatalf("log line is not JSON: %q", raw)
		}
		lines = append(lines, line)
	}
	return lines
}

func TestContextCarriesRequestID(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	ctx := lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: "req-123"})
	logger := New(&buf, slog.LevelInfo)
	logger.InfoContext(ctx, "decision", "allowed", true)
	// Attributes and groups added to the logger keep the request id.
	logger.With("function", "me").WithGroup("g").InfoContext(ctx, "grouped", "k", "v")

	lines := decode(t, &buf)
	if l := lines[0]; l["requestId"] != "req-123" || l["msg"] != "decision" || l["allowed"] != true {
		t.Fatalf("log line = %v", l)
	}
	if l := lines[1]; l["function"] != "me" || l["msg"] != "grouped" {
		t.Fatalf("log line = %v", l)
	} else if g, _ := l["g"].(map[string]any); g["requestId"] != "req-123" || g["k"] != "v" {
		t.Fatalf("grouped line lacks the request id: %v", l)
	}
}

func TestNoLambdaContextNoRequestID(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	New(&buf, slog.LevelInfo).InfoContext(context.Background(), "hello")
	if line := decode(t, &buf)[0]; line["requestId"] != nil {
		t.Fatalf("unexpected requestId in %v", line)
	}
}

func TestLevel(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	logger := New(&buf, slog.LevelWarn)
	logger.Info("dropped")
	logger.Warn("kept")
	lines := decode(t, &buf)
	if len(lines) != 1 || lines[0]["msg"] != "kept" {
		t.Fatalf("at warn, got %v", lines)
	}
}
