package modroot_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"clerk-lambda/shared/modroot"
)

func TestFind(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	module := filepath.Join(root, "module")
	deep := filepath.Join(module, "a", "b")
	nested := filepath.Join(module, "a", "nested")
	outside := filepath.Join(root, "outside")
	for _, dir := range []string{deep, nested, outside} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, dir := range []string{module, nested} {
		if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module m\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	tests := []struct {
		name, start, want string
	}{
		{"the folder itself", module, module},
		{"walking up", deep, module},
		{"the nearest go.mod wins", nested, nested},
		{"a path that is not clean", filepath.Join(deep, "..", "b"), module},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := modroot.Find(tt.start)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("Find(%s) = %s, want %s", tt.start, got, tt.want)
			}
		})
	}
}

// TestFindNone needs a temporary folder with no go.mod above it, which is
// the usual case; it skips when the machine keeps one there.
func TestFindNone(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if root, err := modroot.Find(filepath.Dir(dir)); err == nil {
		t.Skipf("%s holds a go.mod above the temporary folder", root)
	}
	_, err := modroot.Find(dir)
	if !errors.Is(err, modroot.ErrNotFound) {
		t.Fatalf("Find(%s) error = %v, want ErrNotFound", dir, err)
	}
	if !strings.HasSuffix(err.Error(), ": "+dir) {
		t.Errorf("error %q does not name the folder %s", err, dir)
	}
}

// TestDir runs inside this repository, whose go.mod is two folders up.
func TestDir(t *testing.T) {
	t.Parallel()
	got, err := modroot.Dir()
	if err != nil {
		t.Fatal(err)
	}
	want, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Errorf("Dir() = %s, want %s", got, want)
	}
}
