package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestRun(t *testing.T) {
	t.Parallel()
	in := `goos: linux
BenchmarkRSAVerifyBaseline-2   100   40000 ns/op   1376 B/op   9 allocs/op
BenchmarkRSAVerifyBaseline-2   100   50000 ns/op   1376 B/op   9 allocs/op
BenchmarkRSAVerifyBaseline-2   100   45000 ns/op   1376 B/op   9 allocs/op
BenchmarkVerifyCached-2   1000000   1500 ns/op
BenchmarkVerifyCached-2   1000000   900 ns/op
PASS
`
	var out bytes.Buffer
	if err := run(strings.NewReader(in), &out, "RSAVerifyBaseline"); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	for _, want := range [][]string{{"RSAVerifyBaseline", "3", "45.0 µs", "1.00x"}, {"VerifyCached", "2", "1.2 µs", "0.03x"}} {
		if !containsRow(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
}

func TestRunWithoutResults(t *testing.T) {
	t.Parallel()
	if err := run(strings.NewReader("FAIL\n"), &bytes.Buffer{}, "X"); err == nil {
		t.Fatal("no error for input without results")
	}
}

// containsRow reports whether some line of out has exactly these cells,
// separated by any run of spaces.
func containsRow(out string, cells []string) bool {
	for _, line := range strings.Split(out, "\n") {
		if strings.Join(strings.Fields(line), " ") == strings.Join(cells, " ") {
			return true
		}
	}
	return false
}
