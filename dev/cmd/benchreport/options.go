package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// allSections are the sections in report order.
var allSections = []string{"verify", "lambda", "devapi", "export"}

// options are the command line's settings; paths are relative to the
// module root unless absolute.
type options struct {
	quick     bool
	sections  []string // in report order
	out       string
	limit     time.Duration
	benchstat string
	rie       string
}

// parseOptions reads the command line. When the run is not to go on it
// returns ok false and the exit status: 0 after -help, 2 for a command line
// it has explained on stderr.
func parseOptions(args []string, stderr io.Writer) (opts options, status int, ok bool) {
	fs := flag.NewFlagSet("benchreport", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.BoolVar(&opts.quick, "quick", false, "a short run for a developer's loop: go test -count 2, shorter loops, fewer cold starts")
	sections := fs.String("sections", strings.Join(allSections, ","), "comma-separated sections to run: "+strings.Join(allSections, ", "))
	fs.StringVar(&opts.out, "out", "docs/benchmarks.md", "where to write the report, relative to the module root; the chart goes beside it as <name>.png")
	fs.DurationVar(&opts.limit, "timeout", 9*time.Minute, "how long the whole run may take")
	fs.StringVar(&opts.benchstat, "benchstat", envOr("BENCHSTAT_BIN", ".tools/bin/benchstat"), "benchstat binary (make tools builds it; also BENCHSTAT_BIN)")
	fs.StringVar(&opts.rie, "rie", envOr("RIE_BIN", ".tools/bin/aws-lambda-rie"), "aws-lambda-rie binary (make tools builds it; also RIE_BIN)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return opts, 0, false
		}
		return opts, 2, false
	}
	var err error
	if opts.sections, err = parseSections(*sections); err != nil {
		fmt.Fprintln(stderr, "benchreport: -sections:", err)
		return opts, 2, false
	}
	return opts, 0, true
}

// parseSections checks a -sections list and puts it in report order.
func parseSections(list string) ([]string, error) {
	var chosen []string
	for _, name := range strings.Split(list, ",") {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		if !slices.Contains(allSections, name) {
			return nil, fmt.Errorf("unknown section %q (the sections: %s)", name, strings.Join(allSections, ", "))
		}
		if !slices.Contains(chosen, name) {
			chosen = append(chosen, name)
		}
	}
	if len(chosen) == 0 {
		return nil, errors.New("no section named")
	}
	slices.SortFunc(chosen, func(a, b string) int { return slices.Index(allSections, a) - slices.Index(allSections, b) })
	return chosen, nil
}
