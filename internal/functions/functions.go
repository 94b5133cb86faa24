// Package functions lists the Lambda functions template.yaml declares and the
// Go package each one is built from.
//
// template.yaml is the one list of functions: every AWS::Serverless::Function
// names its package in its Metadata (Package: ./functions/me), beside the
// BuildMethod that makes `sam build` run `make build-<LogicalId>`. The
// Makefile's build targets, the deploy tests, the local API and the benchmark
// report all read that list through this package, so adding a function is a
// folder under functions/ and a resource in the template, nothing else.
package functions

import (
	"errors"
	"fmt"
	"os"
	"path"
	"regexp"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// File is the template's name, at the project's root.
const File = "template.yaml"

// Function is one function of the template.
type Function struct {
	// ID is the resource's logical id, such as MeFunction.
	ID string
	// Package is the Go package that builds it, relative to the template's
	// folder and starting with "./", such as ./functions/me.
	Package string
}

// Dir is the function's folder without the leading "./", such as functions/me.
func (f Function) Dir() string { return strings.TrimPrefix(f.Package, "./") }

// Name is the folder's last element, such as me: what `make build` names the
// function's bin/ folder after.
func (f Function) Name() string { return path.Base(f.Package) }

// template is the part of a SAM template this package reads. Intrinsic
// functions (!Ref, !Sub, ...) elsewhere decode as the values they wrap.
type template struct {
	Globals struct {
		Function struct {
			CodeURI any `yaml:"CodeUri"`
		} `yaml:"Function"`
	} `yaml:"Globals"`
	Resources map[string]struct {
		Type     string         `yaml:"Type"`
		Metadata map[string]any `yaml:"Metadata"`
		Props    struct {
			CodeURI any `yaml:"CodeUri"`
		} `yaml:"Properties"`
	} `yaml:"Resources"`
}

// packagePath is the form of a package's folder: a relative path of letters,
// digits, dots, dashes and underscores, such as functions/me.
var packagePath = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]*(/[A-Za-z0-9_][A-Za-z0-9_.-]*)*$`)

// Load reads the functions of the template at file.
func Load(file string) ([]Function, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	fns, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return fns, nil
}

// Parse reads the functions of a template given as YAML, sorted by logical
// id. A function's package is its Metadata.Package; without one, a CodeUri
// that names a folder other than the template's own (the function's, or
// Globals.Function's) is the package, as it is for `sam build`'s own Go
// builder. Every function must have a package; several may share one (the
// same code with other settings).
func Parse(data []byte) ([]Function, error) {
	var t template
	if err := yaml.Unmarshal(data, &t); err != nil {
		return nil, fmt.Errorf("not a YAML template: %w", err)
	}
	var fns []Function
	for id, r := range t.Resources {
		if r.Type != "AWS::Serverless::Function" {
			continue
		}
		pkg, ok := packageOf(r.Metadata["Package"], r.Props.CodeURI, t.Globals.Function.CodeURI)
		if !ok {
			return nil, fmt.Errorf("%s: Metadata.Package must name the function's folder, such as ./functions/%s", id, exampleName(id))
		}
		fns = append(fns, Function{ID: id, Package: pkg})
	}
	if len(fns) == 0 {
		return nil, errors.New("no AWS::Serverless::Function in Resources")
	}
	sort.Slice(fns, func(i, j int) bool { return fns[i].ID < fns[j].ID })
	return fns, nil
}

// packageOf is the first of a Metadata.Package and the CodeUris that names
// a package folder, as "./" and the clean path. A Metadata.Package that is
// not a folder is never passed over for a CodeUri.
func packageOf(metadata, codeURI, globalCodeURI any) (string, bool) {
	if metadata != nil {
		return folder(metadata)
	}
	for _, c := range []any{codeURI, globalCodeURI} {
		if pkg, ok := folder(c); ok {
			return pkg, true
		}
	}
	return "", false
}

// folder turns "./functions/me" or "functions/me/" into "./functions/me";
// anything else, the template's own folder or a path leaving it included,
// is not a package folder.
func folder(v any) (string, bool) {
	s, ok := v.(string)
	if !ok {
		return "", false
	}
	p := path.Clean(strings.TrimPrefix(s, "./"))
	if !packagePath.MatchString(p) || p == "." || p == ".." || strings.HasPrefix(p, "../") {
		return "", false
	}
	return "./" + p, true
}

// Find returns the function with logical id id.
func Find(fns []Function, id string) (Function, bool) {
	for _, f := range fns {
		if f.ID == id {
			return f, true
		}
	}
	return Function{}, false
}

// exampleName suggests a folder for a logical id in an error message:
// HelloFunction gives hello.
func exampleName(id string) string {
	name := strings.ToLower(strings.TrimSuffix(id, "Function"))
	if name == "" {
		return "hello"
	}
	return name
}
