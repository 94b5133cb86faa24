package main

import (
	"context"
	"fmt"
	"math"
	"strings"
	"time"
)

// origin is the site origin every benchmark's tokens are minted for and
// every verifier accepts as the authorized party.
const origin = "https://app.example.com"

// chartMarker stands for the chart's file name until it is written.
const chartMarker = "(chart)"

// verifyRow is one way of verifying a token, per token.
type verifyRow struct {
	Label  string
	Short  string // the chart's label
	Sec    float64
	CI     string
	Bytes  float64 // NaN where not measured
	Allocs float64
}

// verifyBenchmarks are the Go benchmarks of functions/authorizer, in the
// table's order, with their labels.
var verifyBenchmarks = []struct{ name, label, short string }{
	{"RSAVerifyBaseline", "**floor**: crypto/rsa VerifyPKCS1v15, 2048-bit, SHA-256", "floor: crypto/rsa"},
	{"VerifyFresh", "this project: fresh token (clerkauth, memo off)", "this project, fresh"},
	{"VerifyCached", "this project: repeated token (memo hit)", "this project, repeated"},
	{"VerifyMachineCached", "this project: repeated opaque M2M token (machine-token cache hit, no Backend API call)", "this project, repeated M2M"},
	{"AuthorizerInvoke", "this project: whole authorizer invocation, repeated token (event JSON in, response JSON out)", "authorizer invoke, repeated"},
	{"SDKJWTVerify", "clerk-sdk-go %s: jwt.Verify, key passed in", "clerk-sdk-go jwt.Verify"},
	{"SDKMiddleware", "clerk-sdk-go %s: HTTP middleware (WithHeaderAuthorization), keys cached", "clerk-sdk-go middleware"},
}

// verifySection measures token verification per token against the peers.
func (b *bench) verifySection(ctx context.Context) (Section, []bar) {
	s := Section{
		Title: "1. Token verification, per token",
		How: "`go test -bench` in functions/authorizer (`-benchmem -count N`), summarised by benchstat: the median of the runs, " +
			"± its 95% confidence interval (∞ with fewer than 6 runs). Every Go path verifies the same kind of token: RS256 with a " +
			"2048-bit key, minted by the Clerk stand-in (shared/clerkfake) with an authorized party and an organization, checked for " +
			"issuer, azp and a 5 s leeway. The fresh path has its memo turned off, so every iteration parses and verifies. " +
			"The middleware row serves an httptest request carrying the token after a first request filled its key cache from the " +
			"stand-in's JWKS on loopback. Clerk's JavaScript SDK is bench/verify.mjs under Node (versions pinned in " +
			"bench/package-lock.json): verifyToken with jwtKey (no network), the same issuer, authorized parties and clock skew, " +
			"on 16 tokens minted by the stand-in in turn; the median per token over timed batches after a warm-up, ± half the " +
			"interquartile range of the batches. " +
			"Ratios are to the floor measured in the same run.",
		Image: chartMarker,
	}
	sdkVersion := b.moduleVersion(ctx, "github.com/clerk/clerk-sdk-go/v2")
	g := goBench{
		Pkg:       "./functions/authorizer/",
		Pattern:   "^Benchmark(RSAVerifyBaseline|VerifyFresh|VerifyCached|VerifyMachineCached|AuthorizerInvoke|SDKJWTVerify|SDKMiddleware)$",
		Count:     pick(b, 6, 2),
		BenchTime: pick(b, "", "200ms"),
		Limit:     pick(b, 5*time.Minute, 2*time.Minute),
	}
	b.progress("go test -bench in %s, -count %d", g.Pkg, g.Count)
	stats, _, err := g.run(ctx, b)
	if err != nil {
		s.Err = err
		return s, nil
	}
	var rows []verifyRow
	for _, vb := range verifyBenchmarks {
		sec, ok := stats.get(vb.name, "sec/op")
		if !ok {
			s.Err = fmt.Errorf("benchmark %s gave no result", vb.name)
			return s, nil
		}
		label := vb.label
		if strings.Contains(label, "%s") {
			label = fmt.Sprintf(label, sdkVersion)
		}
		row := verifyRow{Label: label, Short: vb.short, Sec: sec.Median, CI: sec.CI, Bytes: math.NaN(), Allocs: math.NaN()}
		if v, ok := stats.get(vb.name, "B/op"); ok {
			row.Bytes = v.Median
		}
		if v, ok := stats.get(vb.name, "allocs/op"); ok {
			row.Allocs = v.Median
		}
		rows = append(rows, row)
	}
	b.progress("Clerk's JavaScript SDK under Node")
	node, err := b.nodeVerify(ctx)
	if err != nil {
		s.Err = fmt.Errorf("@clerk/backend under Node: %w", err)
	} else {
		rows = append(rows, node.row())
	}
	s.Tables = []Table{verifyTable(rows)}
	s.Targets = verifyTargets(rows)
	return s, chartBars(rows)
}

// verifyTable puts the ratio to the floor (the first row) before the time.
func verifyTable(rows []verifyRow) Table {
	t := Table{Header: []string{"path", "× floor", "µs/token", "±", "B/op", "allocs/op"}}
	floor := rows[0].Sec
	for _, r := range rows {
		t.Rows = append(t.Rows, []string{r.Label, ratio(r.Sec, floor), sig(r.Sec * 1e6), r.CI, count(r.Bytes), count(r.Allocs)})
	}
	return t
}

// verifyTargets judges the fresh and repeated paths against the floor.
func verifyTargets(rows []verifyRow) []Target {
	find := func(prefix string) verifyRow {
		for _, r := range rows {
			if strings.HasPrefix(r.Short, prefix) {
				return r
			}
		}
		return verifyRow{}
	}
	floor, fresh, cached, sdk := find("floor"), find("this project, fresh"), find("this project, repeated"), find("clerk-sdk-go jwt.Verify")
	freshRatio := fresh.Sec / floor.Sec
	measured := fmt.Sprintf("%.2fx (%s vs %s)", freshRatio, micros(fresh.Sec), micros(floor.Sec))
	belowSDK := sdk.Sec > 0 && fresh.Sec < sdk.Sec
	if sdk.Sec > 0 {
		measured += fmt.Sprintf("; clerk-sdk-go's jwt.Verify with the key passed in measures %.2fx (%s)", sdk.Sec/floor.Sec, micros(sdk.Sec))
	}
	cheaper := floor.Sec / cached.Sec
	return []Target{
		{Name: "fresh token", Goal: "within 1.5x of the floor, and cheaper than clerk-sdk-go's jwt.Verify", Measured: measured,
			Met: freshRatio <= 1.5 && belowSDK},
		{Name: "repeated token", Goal: "at least 20x cheaper than the floor",
			Measured: fmt.Sprintf("%sx cheaper (%s vs %s)", sig(cheaper), micros(cached.Sec), micros(floor.Sec)), Met: cheaper >= 20},
	}
}

func chartBars(rows []verifyRow) []bar {
	floor := rows[0].Sec
	bars := make([]bar, len(rows))
	for i, r := range rows {
		bars[i] = bar{Label: r.Short, Sec: r.Sec, Ratio: r.Sec / floor}
	}
	return bars
}

// count formats a per-operation count, "-" when not measured.
func count(v float64) string {
	if math.IsNaN(v) {
		return "-"
	}
	return thousands(int64(math.Round(v)))
}

// moduleVersion is a dependency's version in go.mod, "v2" when unknown.
func (b *bench) moduleVersion(ctx context.Context, module string) string {
	out, err := run(ctx, time.Minute, b.root, nil, "go", "list", "-m", "-f", "{{.Version}}", module)
	if err != nil || len(strings.TrimSpace(string(out))) == 0 {
		return "v2"
	}
	return strings.TrimSpace(string(out))
}
