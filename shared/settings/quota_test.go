package settings

import (
	"strings"
	"testing"
	"time"
)

func TestAPIRateLimit(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]float64{"": 7, "0": 0, "5": 5, "0.5": 0.5, " 100 ": 100} {
		got, err := APIRateLimit(Map(map[string]string{APIRateLimitName: in}), 7)
		if err != nil || got != want {
			t.Errorf("%q: got %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"-1", "101", "fast", "NaN", "5/s"} {
		if _, err := APIRateLimit(Map(map[string]string{APIRateLimitName: in}), 7); err == nil || !strings.HasPrefix(err.Error(), APIRateLimitName+": ") {
			t.Errorf("%q: err = %v, want one naming %s", in, err, APIRateLimitName)
		}
	}
}

func TestMeCacheTTL(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]time.Duration{"": DefaultMeCacheTTL, "0s": 0, "1m": time.Minute} {
		got, err := MeCacheTTL(Map(map[string]string{MeCacheTTLName: in}))
		if err != nil || got != want {
			t.Errorf("%q: got %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"1h", "soon", "-1s"} {
		if _, err := MeCacheTTL(Map(map[string]string{MeCacheTTLName: in})); err == nil || !strings.HasPrefix(err.Error(), MeCacheTTLName+": ") {
			t.Errorf("%q: err = %v", in, err)
		}
	}
}
