// Package metricstest reads the CloudWatch Embedded Metric Format records
// that shared/metrics puts in log lines, as CloudWatch Logs would, for the
// tests of the functions that write them.
package metricstest

import (
	"encoding/json"
	"strings"
	"testing"

	"clerk-lambda/shared/metrics"
)

// Metric is one metric a record carries: its name and the values of its
// dimensions.
type Metric struct {
	Name       string
	Dimensions map[string]string
}

// Read checks that the log line is a valid EMF record in metrics.Namespace,
// whose every dimension is a string member of the line and every metric a
// number member, and returns its metrics. A line without "_aws" fails t.
func Read(t testing.TB, line []byte) []Metric {
	t.Helper()
	var doc map[string]any
	var rec struct {
		AWS *struct {
			Timestamp         *int64
			CloudWatchMetrics []struct {
				Namespace  string
				Dimensions [][]string
				Metrics    []struct{ Name, Unit string }
			}
		} `json:"_aws"`
	}
	if json.Unmarshal(line, &doc) != nil || json.Unmarshal(line, &rec) != nil {
		t.Fatalf("log line is not JSON: %s", line)
	}
	if rec.AWS == nil || rec.AWS.Timestamp == nil || len(rec.AWS.CloudWatchMetrics) == 0 {
		t.Fatalf("log line is not an EMF record (no _aws with Timestamp and CloudWatchMetrics): %s", line)
	}
	var out []Metric
	for _, d := range rec.AWS.CloudWatchMetrics {
		if d.Namespace != metrics.Namespace {
			t.Errorf("namespace %q, want %q", d.Namespace, metrics.Namespace)
		}
		for _, set := range d.Dimensions {
			for _, m := range d.Metrics {
				if _, ok := doc[m.Name].(float64); !ok {
					t.Errorf("metric %s is not a number member of the line: %s", m.Name, line)
				}
				metric := Metric{Name: m.Name, Dimensions: map[string]string{}}
				for _, dim := range set {
					v, ok := doc[dim].(string)
					if !ok {
						t.Errorf("dimension %s is not a string member of the line: %s", dim, line)
					}
					metric.Dimensions[dim] = v
				}
				out = append(out, metric)
			}
		}
	}
	return out
}

// Lines returns the metrics of every EMF record among logs' lines.
func Lines(t testing.TB, logs string) []Metric {
	t.Helper()
	var out []Metric
	for _, line := range strings.Split(strings.TrimSpace(logs), "\n") {
		if strings.Contains(line, `"_aws"`) {
			out = append(out, Read(t, []byte(line))...)
		}
	}
	return out
}
