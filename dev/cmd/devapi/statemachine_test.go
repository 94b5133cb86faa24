package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"clerk-lambda/dev/statemachine"
	"clerk-lambda/internal/clerkfake"
)

// TestExportThroughStateMachine runs the export as devapi export does,
// through the template's state machine and the real function binary under
// the emulator, with users bulky enough and EXPORT_SLICE_PARTS=1 so that
// the run takes several slices, each adding one part of at least 5 MiB to
// the multipart upload. (shared/export's tests take 200,000 users through
// ten slices and more, without the emulator.) The file (its parts are gzip
// members end to end) must decompress as one stream, for Go's
// compress/gzip and for gzip(1) alike, holding every user once, and
// latest.json must name it.
func TestExportThroughStateMachine(t *testing.T) {
	t.Parallel()
	versitygwBin(t)
	s, _ := startProjectEnv(t, map[string]string{"EXPORT_SLICE_PARTS": "1"})
	m, err := s.exportMachine()
	if err != nil {
		t.Skipf("no state machine to run: %v", err)
	}
	// Random bytes in base64 gzip to about 3/4 of their size: 1,800 users
	// of 6 KiB are about 11 MB gzipped, three parts, in pages well under
	// the Backend API client's 8 MiB.
	for i := range 1_800 {
		blob := make([]byte, 6<<10)
		_, _ = rand.Read(blob)
		s.standIn.fake.AddUser(clerkfake.User{
			ID: fmt.Sprintf("user_bulky%04d", i), FirstName: "Bulky",
			EmailAddresses: []clerkfake.EmailAddress{{EmailAddress: fmt.Sprintf("bulky%d@example.com", i)}},
			PublicMetadata: map[string]any{"blob": base64.StdEncoding.EncodeToString(blob)},
		})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	slices := 0
	_, file, err := s.runExport(ctx, m, statemachine.Options{WaitDivisor: 100, Observe: func(a statemachine.Attempt) {
		if a.State == "Slice" && a.Error == "" {
			slices++
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	if slices < 2 {
		t.Errorf("the run took %d slices, want at least 2 (one part each)", slices)
	}
	checkExport(t, ctx, s)
	checkSystemGzip(t, ctx, file, len(s.standIn.fake.Users()))
}

// checkSystemGzip decompresses the file with the system's gzip -d, and
// counts its lines.
func checkSystemGzip(t *testing.T, ctx context.Context, file string, users int) {
	t.Helper()
	if _, err := exec.LookPath("gzip"); err != nil {
		t.Log("no gzip on this machine: the export is not checked with gzip -d")
		return
	}
	out, err := exec.CommandContext(ctx, "gzip", "-d", "-c", file).Output()
	if err != nil {
		t.Fatalf("gzip -d: %v", err)
	}
	if n := strings.Count(string(out), "\n"); n != users {
		t.Errorf("gzip -d gives %d lines, want the %d users", n, users)
	}
}
