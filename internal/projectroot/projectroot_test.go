package projectroot_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"clerk-lambda/internal/projectroot"
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
		for _, name := range []string{"go.mod", "template.yaml"} {
			if err := os.WriteFile(filepath.Join(dir, name), []byte("x: 1\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	// A module without a template, such as dev/, is not the root.
	devModule := filepath.Join(module, "dev")
	if err := os.MkdirAll(devModule, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(devModule, "go.mod"), []byte("module m/dev\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name, start, want string
	}{
		{"the folder itself", module, module},
		{"walking up", deep, module},
		{"the nearest root wins", nested, nested},
		{"a module of its own below the root", devModule, module},
		{"a path that is not clean", filepath.Join(deep, "..", "b"), module},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := projectroot.Find(tt.start)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("Find(%s) = %s, want %s", tt.start, got, tt.want)
			}
		})
	}
}

// TestFindNone needs a temporary folder with no project root above it, which is
// the usual case; it skips when the machine keeps one there.
func TestFindNone(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if root, err := projectroot.Find(filepath.Dir(dir)); err == nil {
		t.Skipf("%s is a project root above the temporary folder", root)
	}
	_, err := projectroot.Find(dir)
	if !errors.Is(err, projectroot.ErrNotFound) {
		t.Fatalf("Find(%s) error = %v, want ErrNotFound", dir, err)
	}
	if !strings.HasSuffix(err.Error(), ": "+dir) {
		t.Errorf("error %q does not name the folder %s", err, dir)
	}
}

// TestDir runs inside this repository, whose root is two folders up.
func TestDir(t *testing.T) {
	t.Parallel()
	got, err := projectroot.Dir()
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
