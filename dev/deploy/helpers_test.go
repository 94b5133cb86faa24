package deploy

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/awslabs/goformation/v7"
	"github.com/awslabs/goformation/v7/cloudformation"
	"github.com/awslabs/goformation/v7/intrinsics"

	"clerk-lambda/dev/apispec"
	"clerk-lambda/dev/emulator"
	"clerk-lambda/internal/projectroot"
	"clerk-lambda/shared/settings"
)

// lambdaSpec is one deployed function as the template declares it and as
// it behaves: its logical id, the folder it is built from, and the variables
// its start-up reads (from its own `bootstrap -check`, see shared/startup).
type lambdaSpec struct {
	id     string
	dir    string   // the folder under functions/
	env    []string // variables it reads, which the template must declare
	secret bool     // reads the Clerk secret key's parameter, so may read it from SSM
}

// checkOverrides make every function's start-up succeed, so that its check
// lists every variable it reads: the template's defaults leave the issuer
// unpinned, and the bucket and the state machine are resources that have no
// name until deployed.
var checkOverrides = map[string]string{
	"CLERK_ISSUER":         "https://example.clerk.accounts.dev",
	"EXPORT_BUCKET":        "exports-for-the-check",
	"EXPORT_STATE_MACHINE": "arn:aws:states:us-east-1:123456789012:stateMachine:ExportStateMachine-ForTheCheck",
}

// lambdas are the template's functions, each built for this machine and run
// once with -check under the environment the template gives it.
var lambdas = sync.OnceValues(func() ([]lambdaSpec, error) {
	root, err := findRoot()
	if err != nil {
		return nil, err
	}
	api, err := apispec.Load(filepath.Join(root, "template.yaml"))
	if err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp("", "deploy-check-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	var out []lambdaSpec
	for _, id := range slices.Sorted(maps.Keys(api.Functions)) {
		fn := api.Functions[id]
		reads, err := checkReads(root, tmp, fn)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", id, err)
		}
		spec := lambdaSpec{id: id, dir: strings.TrimPrefix(fn.Dir, "functions/")}
		for _, name := range reads {
			spec.secret = spec.secret || name == settings.SecretKeyParameterName
			if !settings.Platform(name) {
				spec.env = append(spec.env, name)
			}
		}
		out = append(out, spec)
	}
	return out, nil
})

// checkReads builds fn and runs its start-up check, returning the variables
// it read.
func checkReads(root, tmp string, fn *apispec.Function) ([]string, error) {
	bin := filepath.Join(tmp, fn.Name, "bootstrap")
	if err := emulator.Build(context.Background(), root, fn.Dir, bin); err != nil {
		return nil, err
	}
	env := map[string]string{}
	for k, v := range fn.Env {
		if o, ok := checkOverrides[k]; ok {
			v = o
		}
		env[k] = v
	}
	r, ok := emulator.Check(context.Background(), bin, env)
	if !ok {
		return nil, errors.New("-check printed no report: its main does not use shared/startup")
	}
	if r.Error != "" {
		return nil, fmt.Errorf("does not start with the template's settings: %s", r.Error)
	}
	return r.Reads, nil
}

// functionsOf returns the functions, or fails t.
func functionsOf(t *testing.T) []lambdaSpec {
	t.Helper()
	fns, err := lambdas()
	if err != nil {
		t.Fatal(err)
	}
	return fns
}

const (
	apiID          = "Api"
	authorizerID   = "AuthorizerFunction"
	exporterID     = "ExportUsersFunction"
	adminExportsID = "AdminExportsFunction"
	exportBucketID = "ExportBucket"
	stateMachineID = "ExportStateMachine"
	secretParamRef = "ClerkSecretKeyParameterName"
	// secretARN is the one resource a secret reader may read, as rendered by render.
	secretARN = "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter${" + secretParamRef + "}"
)

// repoRoot is the folder holding go.mod, found by walking up from the test's directory.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := findRoot()
	if err != nil {
		t.Fatal(err)
	}
	return root
}

func findRoot() (string, error) {
	root, err := projectroot.Dir()
	if err != nil {
		return "", fmt.Errorf("run the tests from inside the repository: %w", err)
	}
	return root, nil
}

// stack is template.yaml read twice by goformation: typed, for the resources
// goformation models well, and raw (a generic tree with every intrinsic in its
// long form, {"Ref": "X"}), for what it does not model: LoggingConfig, Rules,
// SAM policy templates, and the HttpApi's authorizers and CORS.
type stack struct {
	typed *cloudformation.Template
	raw   map[string]any
}

var loadStack = sync.OnceValues(func() (*stack, error) {
	dir, err := findRoot()
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(filepath.Join(dir, "template.yaml"))
	if err != nil {
		return nil, err
	}
	longForm, err := intrinsics.ProcessYAML(data, &intrinsics.ProcessorOptions{NoProcess: true})
	if err != nil {
		return nil, fmt.Errorf("template.yaml is not valid YAML: %w", err)
	}
	var raw map[string]any
	if err := json.Unmarshal(longForm, &raw); err != nil {
		return nil, err
	}
	encoded, err := intrinsics.ProcessYAML(data, &intrinsics.ProcessorOptions{IntrinsicHandlerOverrides: keepIntrinsics()})
	if err != nil {
		return nil, err
	}
	pruned, err := withoutUnmodeled(encoded)
	if err != nil {
		return nil, err
	}
	typed, err := goformation.ParseJSONWithOptions(pruned, &intrinsics.ProcessorOptions{NoProcess: true})
	if err != nil {
		return nil, fmt.Errorf("template.yaml does not parse as a SAM template: %w "+
			"(if SAM accepts that field and goformation does not model it yet, add it to unmodeled)", err)
	}
	return &stack{typed: typed, raw: raw}, nil
})

// unmodeled are the resource properties SAM accepts that goformation v7 does
// not model yet (it rejects a resource that has any), or models with a type
// that cannot hold what the template gives them (an integer field given an
// !If); they are removed from the typed view and checked in the raw one.
var unmodeled = map[string][]string{
	"AWS::Serverless::Function": {"LoggingConfig", "ReservedConcurrentExecutions"},
	// goformation knows AccessLogSetting, an older name; SAM's is AccessLogSettings.
	"AWS::Serverless::HttpApi": {"AccessLogSettings"},
	// Aliases and ViewerCertificate are !If (a custom domain or none), which
	// goformation's list and struct fields cannot hold; site_test.go reads the
	// distribution in the raw view.
	"AWS::CloudFront::Distribution": {"DistributionConfig"},
}

func withoutUnmodeled(templateJSON []byte) ([]byte, error) {
	var tmpl map[string]any
	if err := json.Unmarshal(templateJSON, &tmpl); err != nil {
		return nil, err
	}
	resources, _ := tmpl["Resources"].(map[string]any)
	for _, r := range resources {
		props, _ := lookup(r, "Properties").(map[string]any)
		typ, _ := lookup(r, "Type").(string)
		for _, name := range unmodeled[typ] {
			delete(props, name)
		}
		stringifyEnv(props)
	}
	g, _ := lookup(tmpl, "Globals", "Function").(map[string]any)
	stringifyEnv(g)
	return json.Marshal(tmpl)
}

// stringifyEnv writes a function's environment values as the strings Lambda
// receives: a !Ref to a Number parameter became its default (a number) in
// keepIntrinsics, which goformation's string-typed variables cannot hold.
func stringifyEnv(props map[string]any) {
	vars, _ := lookup(props, "Environment", "Variables").(map[string]any)
	for k, v := range vars {
		switch v.(type) {
		case float64, bool:
			vars[k] = render(v)
		}
	}
}

func template(t *testing.T) *stack {
	t.Helper()
	s, err := loadStack()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// keepIntrinsics makes goformation keep every intrinsic function instead of
// resolving it against parameter defaults (its default, which drops !GetAtt
// and any ${AWS::Partition} in a !Sub). Each one is stored the way goformation
// itself encodes intrinsics in typed string fields (base64 of the long-form
// JSON), so decode turns it back. The one exception: a !Ref to a Number
// parameter becomes the parameter's default, because goformation types fields
// such as RetentionInDays as integers, which cannot hold an encoded string.
func keepIntrinsics() map[string]intrinsics.IntrinsicHandler {
	keep := func(name string, input any, tmpl any) any {
		if name == "Ref" {
			if def, ok := numberDefault(tmpl, input); ok {
				return def
			}
		}
		b, _ := json.Marshal(map[string]any{name: input})
		return base64.StdEncoding.EncodeToString(b)
	}
	handlers := map[string]intrinsics.IntrinsicHandler{}
	for _, name := range []string{"Ref", "Fn::Base64", "Fn::And", "Fn::Equals", "Fn::If", "Fn::Not", "Fn::Or",
		"Fn::FindInMap", "Fn::GetAtt", "Fn::GetAZs", "Fn::ImportValue", "Fn::Join", "Fn::Select", "Fn::Split",
		"Fn::Sub", "Fn::Cidr", "Fn::Transform"} {
		handlers[name] = keep
	}
	return handlers
}

func numberDefault(tmpl, ref any) (any, bool) {
	name, _ := ref.(string)
	params, _ := lookup(tmpl, "Parameters").(map[string]any)
	p, _ := params[name].(map[string]any)
	if p["Type"] != "Number" || p["Default"] == nil {
		return nil, false
	}
	return p["Default"], true
}

// decode turns goformation's encoded intrinsics (see keepIntrinsics) anywhere
// in v back into their long form; everything else is returned as it is.
func decode(v any) any {
	switch v := v.(type) {
	case string:
		b, err := base64.StdEncoding.DecodeString(v)
		if err != nil || len(v) < 8 {
			return v
		}
		var fn map[string]any
		if json.Unmarshal(b, &fn) != nil || len(fn) != 1 {
			return v
		}
		for k, arg := range fn {
			if k == "Ref" || strings.HasPrefix(k, "Fn::") {
				return map[string]any{k: decode(arg)}
			}
		}
		return v
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = decode(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[k] = decode(e)
		}
		return out
	}
	return v
}

// render writes a value as one comparable string: a literal as itself, !Ref X
// as ${X}, !GetAtt X.Y as ${X.Y}, and !Sub with its variables map filled in,
// so that equivalent spellings of one ARN compare equal.
func render(v any) string {
	v = decode(v)
	switch v := v.(type) {
	case string:
		return v
	case float64, bool:
		return fmt.Sprint(v)
	case map[string]any:
		if len(v) != 1 {
			break
		}
		if ref, ok := v["Ref"].(string); ok {
			return "${" + ref + "}"
		}
		if att, ok := v["Fn::GetAtt"]; ok {
			switch att := att.(type) {
			case string:
				return "${" + att + "}"
			case []any:
				parts := make([]string, len(att))
				for i, p := range att {
					parts[i] = render(p)
				}
				return "${" + strings.Join(parts, ".") + "}"
			}
		}
		if sub, ok := v["Fn::Sub"]; ok {
			switch sub := sub.(type) {
			case string:
				return sub
			case []any:
				if len(sub) == 2 {
					s, _ := sub[0].(string)
					vars, _ := sub[1].(map[string]any)
					for name, val := range vars {
						s = strings.ReplaceAll(s, "${"+name+"}", render(val))
					}
					return s
				}
			}
		}
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// lookup walks a raw tree by map keys; nil when any step is missing.
func lookup(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

// list is a value that may be one item or a list of items, as a list.
func list(v any) []any {
	switch v := v.(type) {
	case nil:
		return nil
	case []any:
		return v
	}
	return []any{v}
}

func (s *stack) resource(id string) map[string]any {
	r, _ := lookup(s.raw, "Resources", id).(map[string]any)
	return r
}

// functionIDs are the logical ids of the template's functions, sorted.
func (s *stack) functionIDs() []string {
	var ids []string
	for id := range s.typed.GetAllServerlessFunctionResources() {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// env is a function's environment as deployed: Globals merged with its own.
func (s *stack) env(id string) map[string]any {
	out := map[string]any{}
	for _, vars := range []any{
		lookup(s.raw, "Globals", "Function", "Environment", "Variables"),
		lookup(s.resource(id), "Properties", "Environment", "Variables"),
	} {
		m, _ := vars.(map[string]any)
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

// runMake runs make at the repository root with the given arguments and extra
// environment, isolated from any make that runs the tests.
func runMake(t *testing.T, env []string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command("make", append([]string{"--no-print-directory", "-C", repoRoot(t)}, args...)...)
	cmd.Env = append(cleanEnv(), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// cleanEnv is the test's environment without the variables an outer make
// passes down, which would change how the inner one runs.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		switch name {
		case "MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEFILES", "GNUMAKEFLAGS", "CLERK_SECRET_KEY", "ARTIFACTS_DIR":
			continue
		}
		env = append(env, kv)
	}
	return env
}

var functionDirRE = regexp.MustCompile(`\./functions/([A-Za-z0-9_-]+)`)

// functionDir is the directory `make build-<id>` builds, read from its dry run.
func functionDir(t *testing.T, id string) (string, error) {
	t.Helper()
	out, err := runMake(t, nil, "-n", "build-"+id, "ARTIFACTS_DIR="+t.TempDir())
	if err != nil {
		return "", fmt.Errorf("the Makefile has no working build-%s target, which sam build runs for this function:\n%s", id, out)
	}
	m := functionDirRE.FindStringSubmatch(out)
	if m == nil {
		return "", fmt.Errorf("make build-%s does not build a package under ./functions/:\n%s", id, out)
	}
	return m[1], nil
}
