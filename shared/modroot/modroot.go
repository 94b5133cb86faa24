// Package modroot finds the root of the Go module a program or test runs in:
// the nearest folder, at or above a starting folder, that holds go.mod.
//
// The developer tools and the tests read the project's files (template.yaml,
// web/, .env, the tools' binaries) relative to that folder, so they work from
// any folder inside the project, as `go run` and `go test` start them.
package modroot

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// ErrNotFound reports that no folder at or above the start holds go.mod.
var ErrNotFound = errors.New("no go.mod at or above the folder")

// Dir is the module root above the working directory.
func Dir() (string, error) {
	return Find(".")
}

// Find is the module root at or above dir: the first folder, walking up from
// dir (made absolute), that holds go.mod. It wraps ErrNotFound, naming dir,
// when it reaches the top of the file system without one.
func Find(dir string) (string, error) {
	start, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for dir = start; ; dir = filepath.Dir(dir) {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		if filepath.Dir(dir) == dir {
			return "", fmt.Errorf("%w: %s", ErrNotFound, start)
		}
	}
}
