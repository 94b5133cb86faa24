package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"
)

// exportSizes are the user counts of the export benchmark, the first being
// the one the others are compared with.
var exportSizes = []int{10_000, 100_000}

// exportSection runs the export's own benchmark (BenchmarkExport in
// shared/export): users from the Clerk stand-in to the S3 server, each
// export in a process of its own.
func (b *bench) exportSection(ctx context.Context) Section {
	s := Section{Title: "4. The user export"}
	count := pick(b, 3, 1)
	s.How = fmt.Sprintf("BenchmarkExport in shared/export (`go test -bench '^BenchmarkExport$' -benchtime 1x -count %d`, "+
		"with the S3 server .tools/bin/versitygw): each export runs in a process of its own that pages every user from the "+
		"Clerk stand-in (in the benchmark's process) and uploads them as gzipped JSON lines to the S3 server on loopback. "+
		"Users/s is the exporting process's wall time, start to exit; peak RSS is its own VmHWM. A sliced run is one process "+
		"per slice of one part (5 MiB), each continuing from the checkpoint the one before left, as Step Functions runs them; "+
		"its time is the processes' together, its peak the largest of any slice. Medians of the runs by "+
		"benchstat; the 64 MiB bound is judged on the largest peak of any run, the growth from 10k to 100k users on the medians.", count)
	gw := absIn(b.root, envOr("VERSITYGW_BIN", ".tools/bin/versitygw"))
	if _, err := os.Stat(gw); err != nil {
		s.Err = fmt.Errorf("the S3 server is not built at %s: run make tools", gw)
		return s
	}
	sizes := make([]string, len(exportSizes))
	for i, n := range exportSizes {
		sizes[i] = fmt.Sprint(n)
	}
	g := goBench{
		Pkg:       "./shared/export/",
		Pattern:   "^BenchmarkExport$",
		Count:     count,
		BenchTime: "1x",
		Limit:     pick(b, 4*time.Minute, 2*time.Minute),
		Env:       append(standInEnviron(), "VERSITYGW_BIN="+gw, "EXPORT_BENCH_USERS="+strings.Join(sizes, ",")),
	}
	b.progress("go test -bench BenchmarkExport, -count %d", count)
	stats, raw, err := g.run(ctx, b)
	if err != nil {
		s.Err = err
		return s
	}
	runs := parseBenchLines(raw)
	var rows []exportRow
	for _, n := range exportSizes {
		for _, suffix := range []string{"", "/sliced"} {
			name := fmt.Sprintf("Export/users=%d%s", n, suffix)
			rate, ok1 := stats.get(name, "users/s")
			rss, ok2 := stats.get(name, "peak-RSS-MiB")
			sec, ok3 := stats.get(name, "sec/op")
			slices, ok4 := stats.get(name, "slices")
			if !ok1 || !ok2 || !ok3 || !ok4 {
				s.Err = fmt.Errorf("BenchmarkExport gave no users/s, peak-RSS-MiB, slices and time for %s (skipped?)", name)
				return s
			}
			rows = append(rows, exportRow{Users: n, Sliced: suffix != "", Slices: slices.Median, PerSec: rate.Median, RSS: rss.Median,
				MaxRSS: maxOf(runs[name]["peak-RSS-MiB"]), Sec: sec.Median, Runs: len(runs[name]["users/s"])})
		}
	}
	s.Tables, s.Targets = exportTables(rows)
	return s
}

// exportRow is one export size's figures, in one process or in slices of
// one part, each a process of its own; RSS in MiB.
type exportRow struct {
	Users               int
	Sliced              bool
	Slices              float64
	PerSec, RSS, MaxRSS float64
	Sec                 float64
	Runs                int
}

// label names the row: its users, and how it ran.
func (r exportRow) label() string {
	if !r.Sliced {
		return thousands(int64(r.Users))
	}
	return fmt.Sprintf("%s, %.0f slices of one part", thousands(int64(r.Users)), r.Slices)
}

// exportTables compares each size with the smallest, ratios first, and
// judges the memory targets.
func exportTables(rows []exportRow) ([]Table, []Target) {
	t := Table{
		Caption: "Every user from the Clerk stand-in to S3, gzipped JSON lines:",
		Header:  []string{"users", "peak RSS × 10k run", "users/s × 10k run", "peak RSS (median)", "peak RSS (largest)", "users/s", "time per export", "runs"},
	}
	base := rows[0]
	for _, r := range rows {
		t.Rows = append(t.Rows, []string{r.label(), fmt.Sprintf("%.2fx", r.RSS/base.RSS), fmt.Sprintf("%.2fx", r.PerSec/base.PerSec),
			sig(r.RSS) + " MiB", sig(r.MaxRSS) + " MiB", thousands(int64(r.PerSec)), fmt.Sprintf("%.2f s", r.Sec), fmt.Sprint(r.Runs)})
	}
	largest, at := 0.0, ""
	var single []exportRow
	for _, r := range rows {
		if r.MaxRSS > largest {
			largest, at = r.MaxRSS, r.label()
		}
		if !r.Sliced {
			single = append(single, r)
		}
	}
	base, last := single[0], single[len(single)-1]
	growth := last.RSS / base.RSS
	return []Table{t}, []Target{
		{Name: "export peak RSS, one process or any slice", Goal: "under 64 MiB", Measured: fmt.Sprintf("%s MiB at most (%s users)", sig(largest), at), Met: largest < 64},
		{Name: "export memory growth", Goal: fmt.Sprintf("%s users' peak RSS within 1.25x of %s users'", thousands(int64(last.Users)), thousands(int64(base.Users))),
			Measured: fmt.Sprintf("%.2fx (%s MiB vs %s MiB)", growth, sig(last.RSS), sig(base.RSS)), Met: growth <= 1.25},
	}
}

// parseBenchLines reads every value of every benchmark line of go test's
// output, per benchmark (as benchName names it) and unit, in run order.
func parseBenchLines(out string) map[string]map[string][]float64 {
	all := map[string]map[string][]float64{}
	for line := range strings.Lines(out) {
		f := strings.Fields(line)
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
			continue
		}
		name := benchName(f[0])
		if all[name] == nil {
			all[name] = map[string][]float64{}
		}
		// After the name and the iteration count come value-unit pairs.
		for i := 2; i+1 < len(f); i += 2 {
			var v float64
			if _, err := fmt.Sscan(f[i], &v); err != nil {
				break
			}
			all[name][f[i+1]] = append(all[name][f[i+1]], v)
		}
	}
	return all
}

func maxOf(xs []float64) float64 {
	m := 0.0
	for _, x := range xs {
		m = max(m, x)
	}
	return m
}
