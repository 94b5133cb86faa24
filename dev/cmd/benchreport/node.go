package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"clerk-lambda/internal/clerkfake"
)

// nodeInput is what bench/verify.mjs reads.
type nodeInput struct {
	JWTKey            string   `json:"jwtKey"`
	Tokens            []string `json:"tokens"`
	Issuer            string   `json:"issuer"`
	AuthorizedParties []string `json:"authorizedParties"`
	Subject           string   `json:"subject"`
	Warmup            int      `json:"warmup"`
	Batches           int      `json:"batches"`
	BatchSize         int      `json:"batchSize"`
}

// nodeResult is what bench/verify.mjs prints.
type nodeResult struct {
	SDK        string  `json:"sdk"`
	Version    string  `json:"version"`
	Node       string  `json:"node"`
	NsPerToken float64 `json:"nsPerToken"`
	Q1Ns       float64 `json:"q1NsPerToken"`
	Q3Ns       float64 `json:"q3NsPerToken"`
	Batches    int     `json:"batches"`
	BatchSize  int     `json:"batchSize"`
}

// parseNodeResult reads and checks the script's output.
func parseNodeResult(out []byte) (nodeResult, error) {
	var r nodeResult
	if err := json.Unmarshal(out, &r); err != nil {
		return r, fmt.Errorf("bench/verify.mjs printed %.200q, not its JSON result", out)
	}
	if r.SDK == "" || r.Version == "" || !(r.NsPerToken > 0) || math.IsInf(r.NsPerToken, 0) {
		return r, fmt.Errorf("bench/verify.mjs printed an incomplete result: %.200s", out)
	}
	return r, nil
}

// row is the result as a line of the verification table.
func (r nodeResult) row() verifyRow {
	sec := r.NsPerToken / 1e9
	// Half the interquartile range of the batches, as a share of the median:
	// the closest a few timed batches come to benchstat's interval.
	spread := fmt.Sprintf("%.0f%%", 100*(r.Q3Ns-r.Q1Ns)/2/r.NsPerToken)
	return verifyRow{
		Label:  fmt.Sprintf("Clerk's JavaScript SDK: %s %s verifyToken with jwtKey, Node %s", r.SDK, r.Version, r.Node),
		Short:  "Clerk JS verifyToken (Node)",
		Sec:    sec,
		CI:     spread,
		Bytes:  math.NaN(),
		Allocs: math.NaN(),
	}
}

// nodeVerify mints a key and tokens with the Clerk stand-in and times
// Clerk's JavaScript verifier on them under Node.
func (b *bench) nodeVerify(ctx context.Context) (nodeResult, error) {
	if _, err := exec.LookPath("node"); err != nil {
		return nodeResult{}, errors.New("node is not installed")
	}
	script := filepath.Join(b.root, "bench", "verify.mjs")
	if _, err := os.Stat(filepath.Join(b.root, "bench", "node_modules", "@clerk", "backend")); err != nil {
		return nodeResult{}, errors.New("bench/node_modules lacks @clerk/backend: run npm ci --prefix bench (make bench does)")
	}
	fake, err := clerkfake.New(clerkfake.Config{})
	if err != nil {
		return nodeResult{}, err
	}
	in := nodeInput{
		JWTKey:            fake.PublicKeyPEM(),
		Issuer:            fake.Issuer(),
		AuthorizedParties: []string{origin},
		Subject:           "user_1",
		Warmup:            pick(b, 500, 100),
		Batches:           pick(b, 21, 5),
		BatchSize:         pick(b, 200, 50),
	}
	for range 16 {
		tok, err := fake.MintToken(clerkfake.TokenParams{UserID: in.Subject, AuthorizedParty: origin, OrgID: "org_1", OrgRole: "admin", TTL: 10 * time.Minute})
		if err != nil {
			return nodeResult{}, err
		}
		in.Tokens = append(in.Tokens, tok)
	}
	data, err := json.Marshal(in)
	if err != nil {
		return nodeResult{}, err
	}
	file := filepath.Join(b.tmp, "node-input.json")
	if err := os.WriteFile(file, data, 0o600); err != nil {
		return nodeResult{}, err
	}
	out, err := run(ctx, 2*time.Minute, b.root, nil, "node", script, file)
	if err != nil {
		return nodeResult{}, err
	}
	return parseNodeResult(out)
}
