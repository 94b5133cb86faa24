package metrics

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"
)

// emf is the part of an Embedded Metric Format record this test reads.
type emf struct {
	AWS struct {
		Timestamp         int64
		CloudWatchMetrics []struct {
			Namespace  string
			Dimensions [][]string
			Metrics    []struct{ Name, Unit string }
		}
	} `json:"_aws"`
}

func TestCountIsAnEMFRecord(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("denied", Count(Denied, "Reason", "token-expired")...)
	var line map[string]any
	var rec emf
	if json.Unmarshal(buf.Bytes(), &line) != nil || json.Unmarshal(buf.Bytes(), &rec) != nil {
		t.Fatalf("not JSON: %s", buf.String())
	}
	if since := time.Since(time.UnixMilli(rec.AWS.Timestamp)); since < 0 || since > time.Minute {
		t.Errorf("Timestamp %d is not now in milliseconds", rec.AWS.Timestamp)
	}
	if len(rec.AWS.CloudWatchMetrics) != 1 {
		t.Fatalf("directive = %+v", rec.AWS)
	}
	d := rec.AWS.CloudWatchMetrics[0]
	if d.Namespace != Namespace || len(d.Metrics) != 1 || d.Metrics[0].Name != Denied || d.Metrics[0].Unit != "Count" {
		t.Errorf("directive = %+v", d)
	}
	// Every dimension and metric the directive names is a member of the line.
	if len(d.Dimensions) != 1 || len(d.Dimensions[0]) != 1 || line[d.Dimensions[0][0]] != "token-expired" {
		t.Errorf("dimensions %v do not name the line's Reason: %v", d.Dimensions, line)
	}
	if line[Denied] != float64(1) {
		t.Errorf("the line's %s = %v, want 1", Denied, line[Denied])
	}
}

func TestCountWithoutDimensions(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("done", Count(ExportSucceeded)...)
	var rec emf
	if err := json.Unmarshal(buf.Bytes(), &rec); err != nil || len(rec.AWS.CloudWatchMetrics[0].Dimensions) != 1 || len(rec.AWS.CloudWatchMetrics[0].Dimensions[0]) != 0 {
		t.Fatalf("record = %s", buf.String())
	}
}

// TestCountNamesTheFunction: in Lambda every metric carries the function's
// name, so the template's alarms can name their stack's own function.
func TestCountNamesTheFunction(t *testing.T) {
	before := lambdacontext.FunctionName
	lambdacontext.FunctionName = "stack-AuthorizerFunction-abc"
	t.Cleanup(func() { lambdacontext.FunctionName = before })
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("denied", Count(Denied, "Reason", "token-expired")...)
	var line map[string]any
	var rec emf
	if json.Unmarshal(buf.Bytes(), &line) != nil || json.Unmarshal(buf.Bytes(), &rec) != nil {
		t.Fatal(buf.String())
	}
	dims := rec.AWS.CloudWatchMetrics[0].Dimensions
	if len(dims) != 1 || len(dims[0]) != 2 || dims[0][0] != FunctionDimension || dims[0][1] != "Reason" {
		t.Fatalf("dimensions = %v, want [[FunctionName Reason]]", dims)
	}
	if line[FunctionDimension] != "stack-AuthorizerFunction-abc" || line["Reason"] != "token-expired" {
		t.Errorf("line = %v", line)
	}
}
