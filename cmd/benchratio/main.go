// Command benchratio summarises `go test -bench` output: the median ns/op of
// each benchmark over its runs (-count), and its ratio to a baseline
// benchmark, so a report leads with numbers that hold across machines.
//
//	go test -bench . -count 5 ./functions/authorizer | go run ./cmd/benchratio -baseline RSAVerifyBaseline
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
)

func main() {
	baseline := flag.String("baseline", "RSAVerifyBaseline", "name of the benchmark the others are compared with (without the Benchmark prefix)")
	flag.Parse()
	if err := run(os.Stdin, os.Stdout, *baseline); err != nil {
		fmt.Fprintln(os.Stderr, "benchratio:", err)
		os.Exit(1)
	}
}

// run echoes the benchmark output it reads, then prints the summary table.
func run(in io.Reader, out io.Writer, baseline string) error {
	runs := map[string][]float64{}
	var order []string
	sc := bufio.NewScanner(in)
	for sc.Scan() {
		line := sc.Text()
		fmt.Fprintln(out, line)
		name, ns, ok := parseLine(line)
		if !ok {
			continue
		}
		if _, seen := runs[name]; !seen {
			order = append(order, name)
		}
		runs[name] = append(runs[name], ns)
	}
	if err := sc.Err(); err != nil {
		return err
	}
	if len(order) == 0 {
		return fmt.Errorf("no benchmark results in the input")
	}
	base := median(runs[baseline])
	fmt.Fprintf(out, "\n%-28s %6s %14s %10s\n", "benchmark", "runs", "median", "vs "+baseline)
	for _, name := range order {
		m := median(runs[name])
		ratio := "-"
		if base > 0 {
			ratio = fmt.Sprintf("%.2fx", m/base)
		}
		fmt.Fprintf(out, "%-28s %6d %14s %10s\n", name, len(runs[name]), formatNs(m), ratio)
	}
	return nil
}

// parseLine reads "BenchmarkName-8   1000   1234 ns/op ...".
func parseLine(line string) (name string, ns float64, ok bool) {
	fields := strings.Fields(line)
	if len(fields) < 4 || !strings.HasPrefix(fields[0], "Benchmark") {
		return "", 0, false
	}
	for i := 2; i+1 < len(fields); i++ {
		if fields[i+1] == "ns/op" {
			v, err := strconv.ParseFloat(fields[i], 64)
			if err != nil {
				return "", 0, false
			}
			name = strings.TrimPrefix(fields[0], "Benchmark")
			if dash := strings.LastIndexByte(name, '-'); dash > 0 {
				name = name[:dash]
			}
			return name, v, true
		}
	}
	return "", 0, false
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func formatNs(ns float64) string {
	if ns >= 1000 {
		return fmt.Sprintf("%.1f µs", ns/1000)
	}
	return fmt.Sprintf("%.0f ns", ns)
}
