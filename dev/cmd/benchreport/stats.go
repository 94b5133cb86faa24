package main

import (
	"fmt"
	"math"
	"slices"
	"time"
)

// median is the middle of xs (the mean of the two middle values for an even
// count); 0 for none.
func median(xs []float64) float64 {
	return percentile(xs, 50)
}

// percentile is the p-th percentile of xs by linear interpolation between
// the closest ranks; 0 for none.
func percentile(xs []float64, p float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	rank := p / 100 * float64(len(s)-1)
	lo := int(math.Floor(rank))
	hi := int(math.Ceil(rank))
	return s[lo] + (s[hi]-s[lo])*(rank-float64(lo))
}

// durations turns durations into seconds, for median and percentile.
func durations(ds []time.Duration) []float64 {
	out := make([]float64, len(ds))
	for i, d := range ds {
		out[i] = d.Seconds()
	}
	return out
}

// ratio formats a/b as "2.95x"; below 1 it also says how many times
// cheaper, as in "0.036x (28x cheaper)".
func ratio(a, b float64) string {
	if b <= 0 || a <= 0 {
		return "-"
	}
	r := a / b
	if r >= 1 {
		return fmt.Sprintf("%.2fx", r)
	}
	return fmt.Sprintf("%s (%s cheaper)", sig(r)+"x", sig(1/r)+"x")
}

// sig formats x with three significant digits, without an exponent.
func sig(x float64) string {
	switch ax := math.Abs(x); {
	case ax == 0:
		return "0"
	case ax >= 100:
		return fmt.Sprintf("%.0f", x)
	case ax >= 10:
		return fmt.Sprintf("%.1f", x)
	case ax >= 1:
		return fmt.Sprintf("%.2f", x)
	default:
		digits := 2 - int(math.Floor(math.Log10(ax)))
		return fmt.Sprintf("%.*f", digits, x)
	}
}

// micros formats seconds as microseconds, three significant digits.
func micros(sec float64) string { return sig(sec*1e6) + " µs" }

// millis formats seconds as milliseconds, three significant digits.
func millis(sec float64) string { return sig(sec*1e3) + " ms" }

// bytesIEC formats a size in bytes with a binary prefix: "4.21 MiB".
func bytesIEC(n int64) string {
	switch {
	case n >= 1<<20:
		return sig(float64(n)/(1<<20)) + " MiB"
	case n >= 1<<10:
		return sig(float64(n)/(1<<10)) + " KiB"
	}
	return fmt.Sprintf("%d B", n)
}

// thousands writes an integer with thin separators: 1,234,567.
func thousands(n int64) string {
	s := fmt.Sprintf("%d", n)
	neg := n < 0
	if neg {
		s = s[1:]
	}
	var out []byte
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	if neg {
		return "-" + string(out)
	}
	return string(out)
}
