package main

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"
)

func TestReportWrite(t *testing.T) {
	t.Parallel()
	r := &Report{
		Generated: time.Date(2026, 11, 26, 17, 44, 0, 0, time.UTC),
		Machine:   Machine{CPU: "Test CPU", Cores: 2, OS: "linux/amd64", Go: "go1.26.8", Node: "v20.20.2"},
		Mode:      "full",
		Elapsed:   108400 * time.Millisecond,
		Sections: []Section{
			{
				Title:  "1. Token verification",
				Image:  "benchmarks.png",
				Tables: []Table{{Caption: "Per token:", Header: []string{"path", "× floor"}, Rows: [][]string{{"a | b", "1.00x"}}}},
				Targets: []Target{
					{Name: "fresh", Goal: "within 1.5x", Measured: "2.95x", Met: false},
					{Name: "repeated", Goal: "20x cheaper", Measured: "28x cheaper", Met: true},
				},
				How: "go test -bench.",
			},
			{Title: "2. Lambda", Err: errors.New("the emulator\nis not built")},
		},
	}
	var b strings.Builder
	if err := r.Write(&b); err != nil {
		t.Fatal(err)
	}
	md := b.String()
	for _, want := range []string{
		"# Benchmarks\n",
		"- **Machine:** Test CPU, 2 cores, linux/amd64, Go 1.26.8, Node 20.20.2\n",
		"- **Date:** 2026-11-26 17:44 UTC\n",
		"- **Measuring took:** 1m48s (besides `make tools` and `npm ci`)\n",
		"## Targets\n\n1 of 2 met.\n",
		"| fresh | within 1.5x | 2.95x | **missed** |\n",
		"| repeated | 20x cheaper | 28x cheaper | met |\n",
		"## 1. Token verification\n\n![1. Token verification](benchmarks.png)\n",
		"Per token:\n\n| path | × floor |\n| --- | --- |\n| a \\| b | 1.00x |\n",
		"How measured: go test -bench.\n",
		"## 2. Lambda\n\n**Not measured:** the emulator is not built\n",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q:\n%s", want, md)
		}
	}
	// The targets table appears once at the top and once in its section.
	if n := strings.Count(md, "| fresh | within 1.5x"); n != 2 {
		t.Errorf("the fresh target appears %d times, want 2", n)
	}
}

func TestMachineWithoutNode(t *testing.T) {
	t.Parallel()
	got := Machine{CPU: "X", Cores: 4, OS: "linux/arm64", Go: "go1.26.0"}.String()
	if want := "X, 4 cores, linux/arm64, Go 1.26.0, Node not installed"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestClip(t *testing.T) {
	t.Parallel()
	if got := clip("abcdef", 10); got != "abcdef" {
		t.Errorf("clip of a short text = %q", got)
	}
	if got := clip("aµb", 2); got != "a…" {
		t.Errorf("clip inside a rune = %q, want %q", got, "a…")
	}
}

func TestCPUModel(t *testing.T) {
	t.Parallel()
	for name, c := range map[string]struct{ in, want string }{
		"x86":     {"processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Intel(R) Xeon(R)   Processor\nprocessor\t: 1\nmodel name\t: Intel(R) Xeon(R) Processor\n", "Intel(R) Xeon(R) Processor"},
		"arm":     {"processor\t: 0\nBogoMIPS\t: 243.75\nCPU part\t: 0xd0c\n\nModel\t\t: Raspberry Pi 4\n", "Raspberry Pi 4"},
		"nothing": {"processor\t: 0\n", "unknown CPU"},
	} {
		if got := cpuModel(strings.NewReader(c.in)); got != c.want {
			t.Errorf("%s: got %q, want %q", name, got, c.want)
		}
	}
}

func TestParseSections(t *testing.T) {
	t.Parallel()
	got, err := parseSections("export, verify,verify")
	if err != nil || strings.Join(got, ",") != "verify,export" {
		t.Errorf("got %v, %v; want [verify export] in report order", got, err)
	}
	for _, bad := range []string{"", " , ", "verify,speed"} {
		if _, err := parseSections(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestVerifyTableAndTargets(t *testing.T) {
	t.Parallel()
	rows := []verifyRow{
		{Label: "floor", Short: "floor: crypto/rsa", Sec: 32.4e-6, CI: "2%", Bytes: 1376, Allocs: 9},
		{Label: "fresh", Short: "this project, fresh", Sec: 95.7e-6, CI: "3%", Bytes: 16736, Allocs: 263},
		{Label: "cached", Short: "this project, repeated", Sec: 1.15e-6, CI: "1%", Bytes: 896, Allocs: 1},
		{Label: "sdk", Short: "clerk-sdk-go jwt.Verify", Sec: 64.8e-6, CI: "2%", Bytes: 13408, Allocs: 198},
		{Label: "node", Short: "Clerk JS verifyToken (Node)", Sec: 150e-6, CI: "8%", Bytes: math.NaN(), Allocs: math.NaN()},
	}
	table := verifyTable(rows)
	if got := strings.Join(table.Rows[1], " | "); got != "fresh | 2.95x | 95.7 | 3% | 16,736 | 263" {
		t.Errorf("fresh row = %q", got)
	}
	if got := strings.Join(table.Rows[4], " | "); got != "node | 4.63x | 150 | 8% | - | -" {
		t.Errorf("node row = %q", got)
	}
	targets := verifyTargets(rows)
	fresh, repeated := targets[0], targets[1]
	if fresh.Met || fresh.Measured != "2.95x (95.7 µs vs 32.4 µs); clerk-sdk-go's jwt.Verify with the key passed in measures 2.00x (64.8 µs)" {
		t.Errorf("fresh target = %+v", fresh)
	}
	if !repeated.Met || repeated.Measured != "28.2x cheaper (1.15 µs vs 32.4 µs)" {
		t.Errorf("repeated target = %+v", repeated)
	}

	rows[1].Sec = 40e-6
	rows[2].Sec = 2e-6
	targets = verifyTargets(rows)
	if !targets[0].Met {
		t.Errorf("fresh target within 1.5x and below the SDK = %+v", targets[0])
	}
	// Within 1.5x of the floor is not enough when the SDK is faster still.
	sdk := rows[3].Sec
	rows[3].Sec = 35e-6
	if targets := verifyTargets(rows); targets[0].Met {
		t.Errorf("fresh target slower than the SDK = %+v", targets[0])
	}
	rows[3].Sec = sdk
	if targets[1].Met {
		t.Errorf("repeated target 16x cheaper = %+v", targets[1])
	}
	bars := chartBars(rows)
	if len(bars) != len(rows) || bars[0].Ratio != 1 || bars[2].Label != "this project, repeated" {
		t.Errorf("chart bars = %+v", bars)
	}
}

func TestLambdaTables(t *testing.T) {
	t.Parallel()
	coldMin := coldStats{N: 10, Median: 0.0112, Min: 0.0107, Max: 0.0115}
	coldAuth := coldStats{N: 10, Median: 0.0257, Min: 0.0155, Max: 0.0289}
	tables, targets := lambdaTables(coldMin, coldAuth,
		warm{N: 2400, PerSec: 2400, P50: 0.000371, P99: 0.0013}, warm{N: 1200, PerSec: 1200, P50: 0.0007, P99: 0.0025},
		pkgSize{Binary: 5_830_000, Zipped: 2_444_334}, pkgSize{Binary: 10_600_000, Zipped: 5_100_000})
	if len(tables) != 3 {
		t.Fatalf("%d tables, want cold start, warm and size", len(tables))
	}
	if got := strings.Join(tables[0].Rows[1], " | "); got != "authorizer (SSM, JWKS, fresh token) | 2.29x | 25.7 ms | 15.5 ms – 28.9 ms" {
		t.Errorf("cold start row = %q", got)
	}
	if got := tables[1].Rows[1][1]; got != "2.00x" {
		t.Errorf("warm ratio = %q, want 2.00x (time per call)", got)
	}
	if got := tables[2].Rows[1][2]; got != "4.86 MiB (5,100,000 B)" {
		t.Errorf("zipped size = %q", got)
	}
	if targets[0].Met || targets[0].Measured != "2.29x (25.7 ms vs 11.2 ms)" {
		t.Errorf("cold start target = %+v", targets[0])
	}
	if targets[1].Met || targets[1].Measured != "5,100,000 B (4.86 MiB)" {
		t.Errorf("size target = %+v", targets[1])
	}
}

func TestExportTables(t *testing.T) {
	t.Parallel()
	tables, targets := exportTables([]exportRow{
		{Users: 10_000, PerSec: 24_000, RSS: 22.5, MaxRSS: 23, Sec: 0.42, Runs: 3},
		{Users: 100_000, PerSec: 26_000, RSS: 27, MaxRSS: 65, Sec: 3.8, Runs: 3},
	})
	if got := strings.Join(tables[0].Rows[1], " | "); got != "100,000 | 1.20x | 1.08x | 27.0 MiB | 65.0 MiB | 26,000 | 3.80 s | 3" {
		t.Errorf("100k row = %q", got)
	}
	if targets[0].Met || targets[0].Measured != "65.0 MiB at most (100,000 users)" {
		t.Errorf("peak target = %+v", targets[0])
	}
	if !targets[1].Met || targets[1].Measured != "1.20x (27.0 MiB vs 22.5 MiB)" {
		t.Errorf("growth target = %+v", targets[1])
	}
}

func TestLoadTable(t *testing.T) {
	t.Parallel()
	table := loadTable([]loadRun{
		{Clients: 1, Result: loadResult{Requests: 1000, PerSec: 1000, P50: 0.0008, P99: 0.004}},
		{Clients: 1, Miss: true, Result: loadResult{Requests: 500, PerSec: 500, P50: 0.0016, P99: 0.007}},
	})
	if got := strings.Join(table.Rows[1], " | "); got != "1 | miss (a new token each request) | 0.50x | 500 | 1.60 ms | 7.00 ms | 500" {
		t.Errorf("miss row = %q", got)
	}
}

func TestParseNodeResult(t *testing.T) {
	t.Parallel()
	r, err := parseNodeResult([]byte(`{"sdk":"@clerk/backend","version":"3.25.0","node":"v20.20.2","nsPerToken":150000,"q1NsPerToken":140000,"q3NsPerToken":170000,"batches":21,"batchSize":200}` + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	row := r.row()
	if row.Sec != 150e-6 || row.CI != "10%" || !strings.Contains(row.Label, "@clerk/backend 3.25.0 verifyToken with jwtKey, Node v20.20.2") {
		t.Errorf("row = %+v", row)
	}
	for _, bad := range []string{"", "Error: Cannot find package", `{"sdk":"@clerk/backend","version":"3.25.0","nsPerToken":0}`} {
		if _, err := parseNodeResult([]byte(bad)); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}
