package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"clerk-lambda/shared/export"
)

// defaultCheckpoint is where an export to S3 saves its progress.
const defaultCheckpoint = "clerk-users-export.checkpoint.json"

// checkpointFiles are where an export saves its checkpoint, and the one it
// resumes from ("" starts a new run).
type checkpointFiles struct {
	save, resume string
}

// load reads the checkpoint to resume from, if any.
func (f checkpointFiles) load() (*export.Checkpoint, error) {
	if f.resume == "" {
		return nil, nil
	}
	b, err := os.ReadFile(f.resume)
	if err != nil {
		return nil, fmt.Errorf("export: --resume: %w", err)
	}
	var cp export.Checkpoint
	if err := json.Unmarshal(b, &cp); err != nil || cp.UploadID == "" {
		return nil, fmt.Errorf("export: --resume: %s is not an export's checkpoint", f.resume)
	}
	return &cp, nil
}

// store writes cp to the checkpoint file, whole or not at all.
func (f checkpointFiles) store(cp *export.Checkpoint) error {
	b, err := json.MarshalIndent(cp, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(f.save), "."+filepath.Base(f.save)+".*.tmp")
	if err != nil {
		return fmt.Errorf("save the checkpoint: %w", err)
	}
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return fmt.Errorf("save the checkpoint: %w", err)
	}
	if _, err := finish(tmp, f.save); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("save the checkpoint: %w", err)
	}
	return nil
}

// runSlices exports in slices of one part, from the checkpoint from (nil:
// a new run), saving the checkpoint after each, so that a run this process
// does not finish (interrupted, or stopped by a failure that may pass) can
// be continued with --resume. A failure that will not pass aborts the run
// and removes the file; so does the end of the run.
func runSlices(ctx context.Context, api export.Users, cfg export.Config, from *export.Checkpoint, files checkpointFiles) (export.Manifest, error) {
	cp := from
	for {
		out, err := export.Slice(ctx, api, cfg, cp, export.Budget{Parts: 1})
		var failure *export.Error
		switch {
		case err == nil && out.Done:
			os.Remove(files.save)
			return out.Manifest, nil
		case err == nil:
			cp = out.Checkpoint
			if err := files.store(cp); err != nil {
				return export.Manifest{}, errors.Join(err, export.Abort(ctx, cfg, cp))
			}
		case errors.As(err, &failure) && failure.Retryable && cp != nil:
			return export.Manifest{}, fmt.Errorf("%w (continue it with --resume %s)", err, files.save)
		default:
			if started := out.Checkpoint; started != nil {
				err = errors.Join(err, export.Abort(ctx, cfg, started))
			}
			os.Remove(files.save)
			return export.Manifest{}, err
		}
	}
}
