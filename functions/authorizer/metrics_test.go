package main

import (
	"strings"
	"testing"

	"clerk-lambda/internal/clerkfake"
	"clerk-lambda/shared/metrics"
	"clerk-lambda/shared/metrics/metricstest"
)

// TestDecisionsAreMetrics: every decision line is also an EMF record, the
// Allowed count or the Denied count by reason, so CloudWatch graphs and
// alarms on them with no SDK; the token is in no line.
func TestDecisionsAreMetrics(t *testing.T) {
	t.Parallel()
	clerk, a, logs := setup(t)
	good := mint(t, clerk, clerkfake.TokenParams{UserID: "user_1", AuthorizedParty: origin})
	for _, header := range []string{"Bearer " + good, "Bearer not-a-token", ""} {
		headers := map[string]any{}
		if header != "" {
			headers["authorization"] = header
		}
		if _, err := invoke(t, a, fixture(t, httpAPIEvent, withHeaders(headers))); err != nil {
			t.Fatal(err)
		}
	}
	got := metricstest.Lines(t, logs.String())
	want := []metricstest.Metric{
		{Name: metrics.Allowed, Dimensions: map[string]string{}},
		{Name: metrics.Denied, Dimensions: map[string]string{"Reason": "token-malformed"}},
		{Name: metrics.Denied, Dimensions: map[string]string{"Reason": "token-missing"}},
	}
	if len(got) != len(want) {
		t.Fatalf("metrics = %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i].Name != want[i].Name || len(got[i].Dimensions) != len(want[i].Dimensions) || got[i].Dimensions["Reason"] != want[i].Dimensions["Reason"] {
			t.Errorf("metric %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	if strings.Contains(logs.String(), good) {
		t.Error("a token is in the logs")
	}
}
