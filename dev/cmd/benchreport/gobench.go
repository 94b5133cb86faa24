package main

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
)

// goBench is one `go test -bench` run, summarised by benchstat.
type goBench struct {
	Pkg       string        // such as ./functions/authorizer/
	Pattern   string        // the -bench regular expression
	Count     int           // runs of each benchmark (-count)
	BenchTime string        // -benchtime; "" for go test's default
	Limit     time.Duration // how long the whole run may take
	Env       []string      // nil: this process's environment
}

// stat is one benchmark's figure in one unit: benchstat's median of the
// runs and its confidence interval (such as "3%", or "∞" for too few runs).
type stat struct {
	Median float64
	CI     string
}

// benchStats holds, per benchmark name (without "Benchmark" and the
// -GOMAXPROCS suffix), its figures per unit (sec/op, B/op, allocs/op, and
// any unit the benchmark reports itself).
type benchStats map[string]map[string]stat

// get is one figure, or false when the benchmark or unit is missing.
func (s benchStats) get(name, unit string) (stat, bool) {
	v, ok := s[name][unit]
	return v, ok
}

// run runs the benchmarks and summarises their output with benchstat. It
// returns the summary and the raw output.
func (g goBench) run(ctx context.Context, b *bench) (benchStats, string, error) {
	args := []string{"test", "-run", "^$", "-bench", g.Pattern, "-benchmem", "-count", strconv.Itoa(g.Count),
		"-timeout", g.Limit.String()}
	if g.BenchTime != "" {
		args = append(args, "-benchtime", g.BenchTime)
	}
	args = append(args, g.Pkg)
	out, err := run(ctx, g.Limit+time.Minute, b.root, g.Env, "go", args...)
	if err != nil {
		return nil, "", fmt.Errorf("go test -bench %s %s: %w\n%s", g.Pattern, g.Pkg, err, lastLines(out, 20))
	}
	raw, err := os.CreateTemp(b.tmp, "bench-*.txt")
	if err != nil {
		return nil, "", err
	}
	_, err = raw.Write(out)
	if cerr := raw.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, "", err
	}
	csvOut, err := run(ctx, time.Minute, b.root, nil, b.benchstat, "-format", "csv", raw.Name())
	if err != nil {
		return nil, "", fmt.Errorf("benchstat (make tools builds it): %w", err)
	}
	stats, err := parseBenchstatCSV(strings.NewReader(string(csvOut)))
	if err != nil {
		return nil, "", fmt.Errorf("benchstat's summary of %s: %w\n%s", g.Pkg, err, lastLines(out, 20))
	}
	return stats, string(out), nil
}

// parseBenchstatCSV reads benchstat's CSV output: for each unit, a table
// whose header row is ",<unit>,CI" followed by one row per benchmark
// (name, median, interval) and a closing geomean row.
func parseBenchstatCSV(r io.Reader) (benchStats, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.LazyQuotes = true
	stats := benchStats{}
	unit := ""
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		switch {
		case len(rec) < 2:
			// configuration lines such as "goos: linux"
		case rec[0] == "" && len(rec) >= 3 && rec[2] == "CI":
			unit = rec[1]
		case rec[0] == "":
			// the row naming the input file
		case rec[0] == "geomean" || unit == "":
		default:
			v, err := strconv.ParseFloat(rec[1], 64)
			if err != nil {
				return nil, fmt.Errorf("%s: %q is not a number", rec[0], rec[1])
			}
			name := benchName(rec[0])
			if stats[name] == nil {
				stats[name] = map[string]stat{}
			}
			s := stat{Median: v}
			if len(rec) >= 3 {
				s.CI = rec[2]
			}
			stats[name][unit] = s
		}
	}
	if len(stats) == 0 {
		return nil, errors.New("no benchmark results")
	}
	return stats, nil
}

// benchName drops the "Benchmark" prefix and the "-GOMAXPROCS" suffix.
func benchName(s string) string {
	s = strings.TrimPrefix(s, "Benchmark")
	if i := strings.LastIndexByte(s, '-'); i > 0 {
		if _, err := strconv.Atoi(s[i+1:]); err == nil {
			s = s[:i]
		}
	}
	return s
}

// lastLines is the end of a command's output, for an error message.
func lastLines(out []byte, n int) string {
	lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
