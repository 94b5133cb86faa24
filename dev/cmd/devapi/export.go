package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"clerk-lambda/dev/statemachine"
)

// exportFolder, in the cache folder, is devapi export's own: its functions,
// stand-in files and local S3, apart from a make dev that may be running.
const exportFolder = "export"

// exportCommand runs the export once through the template's state machine,
// as the schedule does in AWS: the stand-in (or the real Clerk with
// CLERK_SECRET_KEY), the local S3 and the functions under the emulator, one
// line per slice, then the summary and where the file is.
func exportCommand(args []string, stdout, stderr io.Writer) error {
	cfg, err := parseServeFlags(args, stderr, os.LookupEnv)
	if err != nil {
		return err
	}
	cfg.Addr, cfg.SiteAddr, cfg.Poll, cfg.Quiet = "127.0.0.1:0", "127.0.0.1:0", 0, true
	cfg.CacheDir = filepath.Join(cfg.CacheDir, exportFolder)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	srv, err := start(ctx, cfg, stdout)
	if err != nil {
		return err
	}
	defer srv.Close()
	m, err := srv.exportMachine()
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "exporting through %s, as the schedule starts it (input {})\n", m.Name)
	summary, file, err := srv.runExport(ctx, m, statemachine.Options{Observe: func(a statemachine.Attempt) { fmt.Fprintln(stdout, sliceLine(a)) }})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "done: %s\nthe file: %s\n", summary, file)
	return nil
}

// exportMachine is the template's state machine, with the local S3 it
// needs.
func (s *devServer) exportMachine() (*statemachine.Machine, error) {
	if s.aws == nil {
		return nil, errors.New("no local S3 (versitygw): run make export-local, which builds it, or set VERSITYGW_BIN")
	}
	if m := s.aws.machine; m != nil && len(m.Functions()) > 0 {
		return m, nil
	}
	return nil, fmt.Errorf("%s has no state machine that invokes a function", filepath.Base(s.cfg.Template))
}

// runExport runs m once to its end with the input {}, and returns its
// output and the path of the file it wrote in the local S3's folder.
// The functions are the emulator's; o says the rest.
func (s *devServer) runExport(ctx context.Context, m *statemachine.Machine, o statemachine.Options) ([]byte, string, error) {
	o.Invoker = s.runner
	out, err := m.Run(ctx, []byte("{}"), o)
	if err != nil {
		return nil, "", fmt.Errorf("the export failed: %w", err)
	}
	var summary struct{ Key, Skipped string }
	if err := json.Unmarshal(out, &summary); err != nil || summary.Key == "" {
		return nil, "", fmt.Errorf("the export ended without a file: %s", out)
	}
	bucket := s.fns[m.Functions()[0]].env["EXPORT_BUCKET"]
	return out, filepath.Join(s.aws.s3Dir, bucket, filepath.FromSlash(summary.Key)), nil
}

// sliceLine is one line for one slice: done or the checkpoint's size, or
// its error and the wait before the retry.
func sliceLine(a statemachine.Attempt) string {
	took := a.Took.Round(time.Millisecond)
	head := fmt.Sprintf("%s %s try %d after %s:", time.Now().Format("15:04:05"), a.State, a.Try, took)
	if a.Error != "" {
		if a.Retry > 0 {
			return fmt.Sprintf("%s %s, retried in %s", head, a.Error, a.Retry.Round(time.Millisecond))
		}
		return fmt.Sprintf("%s %s, not retried", head, a.Error)
	}
	var answer struct {
		Done       bool
		Checkpoint json.RawMessage
	}
	_ = json.Unmarshal(a.Output, &answer)
	if answer.Done {
		return fmt.Sprintf("%s done: %s", head, a.Output)
	}
	return fmt.Sprintf("%s done false, checkpoint %d bytes", head, len(answer.Checkpoint))
}
