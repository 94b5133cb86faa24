package startup

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"clerk-lambda/shared/settings"
)

// setup reads one setting of its own, as a function's setup would.
func setup(get settings.Lookup, logger *slog.Logger) (string, error) {
	skew, err := settings.ClockSkew(get)
	if err != nil {
		return "", err
	}
	logger.Debug("ready")
	return skew.String(), nil
}

func TestCheckReportsWhatTheFunctionReads(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	code := Check("private", settings.Map(map[string]string{"CLERK_CLOCK_SKEW": "2s"}), setup, &out)
	var r Report
	if err := json.Unmarshal(out.Bytes(), &r); err != nil || code != 0 {
		t.Fatalf("exit %d, %q: want 0 and a JSON report", code, out.String())
	}
	if r.Function != "private" || r.Error != "" || strings.Join(r.Reads, ",") != "CLERK_CLOCK_SKEW,LOG_LEVEL" {
		t.Errorf("report = %+v, want the two variables read and no error", r)
	}
}

func TestCheckReportsABadSetting(t *testing.T) {
	t.Parallel()
	for env, want := range map[string]string{
		"CLERK_CLOCK_SKEW": "CLERK_CLOCK_SKEW: not a duration",
		"LOG_LEVEL":        "LOG_LEVEL: must be debug, info, warn or error",
	} {
		var out bytes.Buffer
		code := Check("private", settings.Map(map[string]string{env: "abc"}), setup, &out)
		var r Report
		if json.Unmarshal(out.Bytes(), &r) != nil || code != 1 || !strings.HasPrefix(r.Error, want) {
			t.Errorf("%s=abc: exit %d, %q; want 1 and an error starting %q", env, code, out.String(), want)
		}
	}
}

func TestPrepareLogsAtLogLevel(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	if _, err := Prepare(settings.Map(map[string]string{"LOG_LEVEL": "DEBUG"}), setup, &logs); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), `"msg":"ready"`) {
		t.Errorf("LOG_LEVEL=DEBUG dropped a debug line: %q", logs.String())
	}
	logs.Reset()
	if _, err := Prepare(settings.Map(nil), setup, &logs); err != nil || logs.Len() != 0 {
		t.Errorf("at the default level: %v, %q; want no debug line", err, logs.String())
	}
	failing := func(settings.Lookup, *slog.Logger) (int, error) { return 0, errors.New("EXPORT_BUCKET must be set") }
	if _, err := Prepare(settings.Map(nil), failing, &logs); err == nil || err.Error() != "EXPORT_BUCKET must be set" {
		t.Errorf("a failing setup: %v", err)
	}
}
