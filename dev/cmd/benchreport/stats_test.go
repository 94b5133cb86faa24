package main

import (
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	t.Parallel()
	xs := []float64{5, 1, 4, 2, 3}
	for _, c := range []struct {
		p, want float64
	}{{0, 1}, {50, 3}, {100, 5}, {25, 2}, {99, 4.96}} {
		if got := percentile(xs, c.p); got < c.want-1e-9 || got > c.want+1e-9 {
			t.Errorf("percentile(%v) = %v, want %v", c.p, got, c.want)
		}
	}
	if got := median([]float64{4, 1, 3, 2}); got != 2.5 {
		t.Errorf("median of an even count = %v, want 2.5", got)
	}
	if got := median(nil); got != 0 {
		t.Errorf("median of nothing = %v, want 0", got)
	}
	if xs[0] != 5 {
		t.Error("percentile sorted its input in place")
	}
	if got := durations([]time.Duration{1500 * time.Millisecond}); got[0] != 1.5 {
		t.Errorf("durations = %v, want [1.5]", got)
	}
}

func TestFormats(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ got, want string }{
		{ratio(95.7, 32.4), "2.95x"},
		{ratio(32.4, 32.4), "1.00x"},
		{ratio(1.15, 32.4), "0.0355x (28.2x cheaper)"},
		{ratio(1, 0), "-"},
		{sig(0.000123456), "0.000123"},
		{sig(1234.5), "1234"},
		{sig(12.345), "12.3"},
		{sig(0), "0"},
		{micros(3.2e-5), "32.0 µs"},
		{millis(0.0157), "15.7 ms"},
		{bytesIEC(3_890_233), "3.71 MiB"},
		{bytesIEC(2048), "2.00 KiB"},
		{bytesIEC(12), "12 B"},
		{thousands(1234567), "1,234,567"},
		{thousands(-1234), "-1,234"},
		{thousands(999), "999"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}
