package functions_test

import (
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"clerk-lambda/internal/functions"
	"clerk-lambda/internal/projectroot"
)

func TestParse(t *testing.T) {
	t.Parallel()
	fns, err := functions.Parse([]byte(`
Globals:
  Function: {CodeUri: ./shared-code}
Resources:
  MeFunction:
    Type: AWS::Serverless::Function
    Metadata: {BuildMethod: makefile, Package: ./functions/me}
    Properties: {CodeUri: ., Environment: {Variables: {A: !Ref B}}}
  CatchFunction:
    Type: AWS::Serverless::Function
    Properties: {CodeUri: handlers/catch/}
  PlainFunction:
    Type: AWS::Serverless::Function
  Bucket:
    Type: AWS::S3::Bucket
`))
	if err != nil {
		t.Fatal(err)
	}
	want := []functions.Function{
		{ID: "CatchFunction", Package: "./handlers/catch"},
		{ID: "MeFunction", Package: "./functions/me"},
		{ID: "PlainFunction", Package: "./shared-code"},
	}
	if !slices.Equal(fns, want) {
		t.Fatalf("Parse = %+v, want %+v", fns, want)
	}
	if me, _ := functions.Find(fns, "MeFunction"); me.Dir() != "functions/me" || me.Name() != "me" {
		t.Errorf("Dir, Name = %q, %q", me.Dir(), me.Name())
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	fn := "Resources:\n  HelloFunction:\n    Type: AWS::Serverless::Function\n"
	for name, tc := range map[string]struct{ yaml, want string }{
		"not yaml":           {"Resources: [", "not a YAML template"},
		"no function":        {"Resources:\n  B: {Type: AWS::S3::Bucket}\n", "no AWS::Serverless::Function"},
		"no package":         {fn + "    Properties: {CodeUri: .}\n", "HelloFunction: Metadata.Package must name the function's folder, such as ./functions/hello"},
		"package outside":    {fn + "    Metadata: {Package: ../elsewhere}\n", "HelloFunction: Metadata.Package"},
		"package not a path": {fn + "    Metadata: {Package: [a]}\n", "HelloFunction: Metadata.Package"},
		"absolute package":   {fn + "    Metadata: {Package: /functions/hello}\n", "HelloFunction: Metadata.Package"},
		// A Metadata.Package that is wrong is never passed over for a CodeUri.
		"bad package, good code uri": {fn + "    Metadata: {Package: ''}\n    Properties: {CodeUri: ./functions/hello}\n", "HelloFunction: Metadata.Package"},
	} {
		_, err := functions.Parse([]byte(tc.yaml))
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: err = %v, want one line containing %q", name, err, tc.want)
		}
	}
}

// TestProjectFunctions reads the project's template: every function is built
// by make from a folder under functions/.
func TestProjectFunctions(t *testing.T) {
	t.Parallel()
	fns := projectFunctions(t)
	for _, f := range fns {
		if !strings.HasPrefix(f.Package, "./functions/") {
			t.Errorf("%s is built from %s, want a folder under functions/", f.ID, f.Package)
		}
	}
}

func projectFunctions(t *testing.T) []functions.Function {
	t.Helper()
	root, err := projectroot.Dir()
	if err != nil {
		t.Fatal(err)
	}
	fns, err := functions.Load(filepath.Join(root, functions.File))
	if err != nil {
		t.Fatal(err)
	}
	return fns
}

// TestSharedIsWhatShips: shared/ holds exactly what the functions link.
// Every shared/ package but the *test helpers is linked by some function,
// and no function links a package from internal/ or the dev/ module.
func TestSharedIsWhatShips(t *testing.T) {
	t.Parallel()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("the go command is not on PATH, so the functions' dependencies cannot be listed")
	}
	root, err := projectroot.Dir()
	if err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) []string {
		cmd := exec.Command(goTool, args...)
		cmd.Dir = root
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("go %s: %v", strings.Join(args, " "), err)
		}
		return strings.Fields(string(out))
	}
	args := []string{"list", "-deps"}
	for _, f := range projectFunctions(t) {
		args = append(args, f.Package)
	}
	linked := map[string]bool{}
	for _, pkg := range run(args...) {
		linked[pkg] = true
		if strings.HasPrefix(pkg, "clerk-lambda/internal/") || strings.HasPrefix(pkg, "clerk-lambda/dev/") {
			t.Errorf("a function links %s, which is development support: it belongs in no deployed binary", pkg)
		}
	}
	for _, pkg := range run("list", "./shared/...") {
		if strings.HasSuffix(pkg, "test") {
			continue // test helpers, as net/http/httptest is for net/http
		}
		if !linked[pkg] {
			t.Errorf("%s is linked by no function: move it out of shared/ (to internal/ when the product's tests need it)", pkg)
		}
	}
}
