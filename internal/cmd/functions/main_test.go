package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"clerk-lambda/internal/functions"
	"clerk-lambda/internal/projectroot"
)

// project copies what the scaffold reads and writes, the template and
// functions/, into a temporary folder.
func project(t *testing.T) (root, tmp string) {
	t.Helper()
	root, err := projectroot.Dir()
	if err != nil {
		t.Fatal(err)
	}
	tmp = t.TempDir()
	data, err := os.ReadFile(filepath.Join(root, functions.File))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(tmp, functions.File), data, 0o644); err != nil {
		t.Fatal(err)
	}
	return root, tmp
}

func runIn(t *testing.T, dir string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(args, dir, &out, &errOut)
	return code, out.String(), errOut.String()
}

// TestNewRoute adds GET /hello as a user would, then builds and tests the
// new function against the real shared packages.
func TestNewRoute(t *testing.T) {
	root, tmp := project(t)
	code, out, errOut := runIn(t, tmp, "new", "hello", "GET /hello")
	if code != 0 || !strings.Contains(out, "GET /hello") {
		t.Fatalf("new: exit %d, %q %q", code, out, errOut)
	}
	fns, err := functions.Load(filepath.Join(tmp, functions.File))
	if err != nil {
		t.Fatal(err)
	}
	if f, ok := functions.Find(fns, "HelloFunction"); !ok || f.Package != "./functions/hello" {
		t.Fatalf("the template lacks HelloFunction built from ./functions/hello: %+v", fns)
	}
	tmpl, _ := os.ReadFile(filepath.Join(tmp, functions.File))
	for _, want := range []string{"Path: /hello\n", "Method: GET\n", "LogGroup: !Ref HelloLogGroup\n", "HelloErrorsAlarm:\n",
		"HelloThrottlesAlarm:\n", "Value: !Ref HelloFunction\n", "\nOutputs:\n"} {
		if !bytes.Contains(tmpl, []byte(want)) {
			t.Errorf("the template lacks %q", want)
		}
	}
	if i, j := bytes.Index(tmpl, []byte("HelloFunction:")), bytes.Index(tmpl, []byte("\nOutputs:")); i < 0 || i > j {
		t.Error("the new resource is not inside Resources")
	}
	if code, _, errOut := runIn(t, tmp, "new", "hello", "GET /hello"); code != 1 || !strings.Contains(errOut, "already") {
		t.Errorf("a second new hello: exit %d, %q; want 1 saying it exists", code, errOut)
	}
	if testing.Short() {
		return
	}
	// The generated function and its test, built inside a module that
	// uses the project's own.
	mod := filepath.Join(tmp, "mod")
	if err := os.CopyFS(filepath.Join(mod, "functions", "hello"), os.DirFS(filepath.Join(tmp, "functions", "hello"))); err != nil {
		t.Fatal(err)
	}
	sum, _ := os.ReadFile(filepath.Join(root, "go.sum"))
	module := modulePath(t, root) // clerk-lambda, or a fork's own path
	goMod := "module scaffolded\n\ngo 1.26.0\n\nrequire " + module + " v0.0.0\n\nreplace " + module + " => " + root + "\n"
	for name, data := range map[string][]byte{"go.mod": []byte(goMod), "go.sum": sum} {
		if err := os.WriteFile(filepath.Join(mod, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command("go", "mod", "tidy")
	cmd.Dir = mod
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go mod tidy: %v\n%s", err, out)
	}
	cmd = exec.Command("go", "test", "./...")
	cmd.Dir = mod
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("the scaffolded function's tests fail: %v\n%s", err, out)
	}
}

// modulePath is the module path in root's go.mod.
func modulePath(t *testing.T, root string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		if path, ok := strings.CutPrefix(line, "module "); ok {
			return strings.TrimSpace(path)
		}
	}
	t.Fatal("go.mod has no module line")
	return ""
}

func TestNewRouteRefusesBadInput(t *testing.T) {
	t.Parallel()
	_, tmp := project(t)
	before, _ := os.ReadFile(filepath.Join(tmp, functions.File))
	for _, args := range [][]string{
		{"new", "Hello", "GET /hello"},
		{"new", "hello", "GET hello"},
		{"new", "hello", "FETCH /hello"},
		{"new", "hello", "GET /a b"},
		{"new", "me", "GET /me2"},
	} {
		code, _, errOut := runIn(t, tmp, args...)
		if code != 1 || strings.Count(errOut, "\n") != 1 {
			t.Errorf("%q: exit %d, %q; want 1 and one line", args, code, errOut)
		}
	}
	after, _ := os.ReadFile(filepath.Join(tmp, functions.File))
	if !bytes.Equal(before, after) {
		t.Error("a refused route changed the template")
	}
	if _, err := os.Stat(filepath.Join(tmp, "functions")); err == nil {
		entries, _ := os.ReadDir(filepath.Join(tmp, "functions"))
		if len(entries) != 0 {
			t.Errorf("a refused route wrote %v", entries)
		}
	}
}

func TestListAndPackage(t *testing.T) {
	t.Parallel()
	_, tmp := project(t)
	code, out, _ := runIn(t, tmp, "list")
	if code != 0 || !strings.Contains(out, "MeFunction ./functions/me\n") {
		t.Fatalf("list: exit %d, %q", code, out)
	}
	if code, out, _ := runIn(t, tmp, "package", "AdminUsersFunction"); code != 0 || out != "./functions/admin-users\n" {
		t.Errorf("package: exit %d, %q", code, out)
	}
	if code, _, errOut := runIn(t, tmp, "package", "NopeFunction"); code != 1 || !strings.Contains(errOut, "NopeFunction: no such function") {
		t.Errorf("package of an unknown id: exit %d, %q", code, errOut)
	}
	if code, _, _ := runIn(t, tmp); code != 2 {
		t.Errorf("no command: exit %d, want 2", code)
	}
}
