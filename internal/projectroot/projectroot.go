// Package projectroot finds the project's root: the nearest folder, at or
// above a starting folder, that holds both go.mod and template.yaml.
//
// The developer tools and the tests read the project's files (template.yaml,
// web/, .env, the tools' binaries) relative to that folder, so they work from
// any folder inside the project, as `go run` and `go test` start them, and
// from the development module in dev/, whose own go.mod is not the root.
package projectroot

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// ErrNotFound reports that no folder at or above the start is the root.
var ErrNotFound = errors.New("no folder with go.mod and template.yaml at or above the folder")

// markers are the files that make a folder the project's root.
var markers = []string{"go.mod", "template.yaml"}

// Dir is the project root above the working directory.
func Dir() (string, error) {
	return Find(".")
}

// Find is the project root at or above dir: the first folder, walking up
// from dir (made absolute), that holds every marker. It wraps ErrNotFound,
// naming dir, when it reaches the top of the file system without one.
func Find(dir string) (string, error) {
	start, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for dir = start; ; dir = filepath.Dir(dir) {
		if isRoot(dir) {
			return dir, nil
		}
		if filepath.Dir(dir) == dir {
			return "", fmt.Errorf("%w: %s", ErrNotFound, start)
		}
	}
}

func isRoot(dir string) bool {
	for _, m := range markers {
		if _, err := os.Stat(filepath.Join(dir, m)); err != nil {
			return false
		}
	}
	return true
}
