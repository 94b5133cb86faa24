package main

import (
	"strings"
	"testing"
)

// benchstatCSV is benchstat's CSV output for two benchmarks of six runs,
// with a sub-benchmark and a unit the benchmark reports itself.
const benchstatCSV = `goos: linux
goarch: amd64
pkg: clerk-lambda/functions/authorizer
cpu: Intel(R) Xeon(R) Processor
,/tmp/br.txt,
,sec/op,CI
RSAVerifyBaseline-2,3.1108e-05,5%
VerifyCached-2,1.336e-06,10%
"Export/users=10000-2",0.414117228,∞
geomean,6.447e-06,

,/tmp/br.txt,
,B/op,CI
RSAVerifyBaseline-2,1376,0%
VerifyCached-2,896,∞
geomean,1110.3585006654375,

,/tmp/br.txt,
,peak-RSS-MiB,CI
"Export/users=10000-2",23.01,∞
geomean,23.01,
`

func TestParseBenchstatCSV(t *testing.T) {
	t.Parallel()
	stats, err := parseBenchstatCSV(strings.NewReader(benchstatCSV))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, unit string
		want       stat
	}{
		{"RSAVerifyBaseline", "sec/op", stat{Median: 3.1108e-05, CI: "5%"}},
		{"VerifyCached", "sec/op", stat{Median: 1.336e-06, CI: "10%"}},
		{"RSAVerifyBaseline", "B/op", stat{Median: 1376, CI: "0%"}},
		{"Export/users=10000", "peak-RSS-MiB", stat{Median: 23.01, CI: "∞"}},
		{"Export/users=10000", "sec/op", stat{Median: 0.414117228, CI: "∞"}},
	} {
		got, ok := stats.get(c.name, c.unit)
		if !ok || got != c.want {
			t.Errorf("%s %s = %+v, %v; want %+v", c.name, c.unit, got, ok, c.want)
		}
	}
	if _, ok := stats.get("geomean", "sec/op"); ok {
		t.Error("the geomean row was taken for a benchmark")
	}
	if _, ok := stats.get("VerifyCached", "peak-RSS-MiB"); ok {
		t.Error("a unit the benchmark did not report has a value")
	}
}

func TestParseBenchstatCSVErrors(t *testing.T) {
	t.Parallel()
	for name, in := range map[string]string{
		"no results":  "goos: linux\n",
		"not numbers": ",f,\n,sec/op,CI\nVerifyFresh-2,fast,5%\n",
	} {
		if _, err := parseBenchstatCSV(strings.NewReader(in)); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestBenchName(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"BenchmarkVerifyFresh-2":              "VerifyFresh",
		"VerifyFresh-16":                      "VerifyFresh",
		"BenchmarkVerifyFresh":                "VerifyFresh",
		"BenchmarkExport/users=100000-2":      "Export/users=100000",
		"BenchmarkExport/mode=cold-start":     "Export/mode=cold-start",
		"BenchmarkExport/mode=cold-start-128": "Export/mode=cold-start",
	} {
		if got := benchName(in); got != want {
			t.Errorf("benchName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParseBenchLines(t *testing.T) {
	t.Parallel()
	out := `goos: linux
BenchmarkExport/users=10000-2   1   414117228 ns/op   22.51 peak-RSS-MiB   24151 users/s   28947168 B/op   1051 allocs/op
BenchmarkExport/users=10000-2   1   424117228 ns/op   24.00 peak-RSS-MiB   23151 users/s
--- SKIP: BenchmarkOther
PASS
`
	got := parseBenchLines(out)["Export/users=10000"]
	if rss := got["peak-RSS-MiB"]; len(rss) != 2 || rss[0] != 22.51 || rss[1] != 24 {
		t.Errorf("peak-RSS-MiB = %v, want [22.51 24]", rss)
	}
	if n := len(got["allocs/op"]); n != 1 {
		t.Errorf("allocs/op has %d values, want 1", n)
	}
	if maxOf(got["peak-RSS-MiB"]) != 24 {
		t.Errorf("maxOf = %v, want 24", maxOf(got["peak-RSS-MiB"]))
	}
}
