package deploy

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/pelletier/go-toml/v2"
)

func readSAMConfig(t *testing.T) map[string]any {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot(t), "samconfig.toml"))
	if err != nil {
		t.Fatal(err)
	}
	var cfg map[string]any
	if err := toml.Unmarshal(data, &cfg); err != nil {
		t.Fatalf("samconfig.toml is not valid TOML: %v", err)
	}
	return cfg
}

func TestSAMConfig(t *testing.T) {
	t.Parallel()
	cfg := readSAMConfig(t)
	if v, _ := cfg["version"].(float64); v != 0.1 {
		t.Errorf("samconfig.toml: version is %v, want 0.1 (the only version the SAM CLI reads)", cfg["version"])
	}
	want := []struct {
		path []string
		want any
		why  string
	}{
		{[]string{"default", "build", "parameters", "cached"}, true, "unchanged functions are not rebuilt"},
		{[]string{"default", "build", "parameters", "parallel"}, true, "the functions build side by side"},
		{[]string{"default", "deploy", "parameters", "capabilities"}, "CAPABILITY_IAM", "the stack creates roles and a policy"},
		{[]string{"default", "deploy", "parameters", "resolve_s3"}, true, "SAM manages the artifact bucket"},
		{[]string{"default", "deploy", "parameters", "confirm_changeset"}, true, "a deploy shows its changes before making them"},
		{[]string{"default", "local_start_api", "parameters", "warm_containers"}, "EAGER", "sam local starts every function once"},
		{[]string{"default", "local_start_api", "parameters", "env_vars"}, "env.json", "sam local reads the secret and settings from env.json"},
	}
	// Every command needs the stack; a fork names its own.
	if name, _ := lookup(cfg, "default", "global", "parameters", "stack_name").(string); !stackName.MatchString(name) {
		t.Errorf("samconfig.toml: default.global.parameters.stack_name is %q, want a CloudFormation stack name (a letter, then letters, digits and dashes)", name)
	}
	for _, w := range want {
		if got := lookup(cfg, w.path...); got != w.want {
			t.Errorf("samconfig.toml: %s is %v, want %v: %s", strings.Join(w.path, "."), got, w.want, w.why)
		}
	}
}

// stackName is the form CloudFormation accepts for a stack's name.
var stackName = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9-]{0,127}$`)

// parameterOverrides are the names and values in samconfig.toml's
// parameter_overrides, written either as one string (Name="value" ...) or
// as a list of Name=value strings.
func parameterOverrides(t *testing.T, cfg map[string]any) map[string]string {
	t.Helper()
	out := map[string]string{}
	var items []string
	switch v := lookup(cfg, "default", "deploy", "parameters", "parameter_overrides").(type) {
	case nil:
		return out
	case string:
		items = splitOverrides(v)
	case []any:
		for _, item := range v {
			s, _ := item.(string)
			items = append(items, s)
		}
	default:
		t.Fatalf("samconfig.toml: parameter_overrides is neither a string nor a list")
	}
	for _, item := range items {
		name, value, ok := strings.Cut(item, "=")
		if !ok || name == "" {
			t.Errorf("samconfig.toml: parameter_overrides entry %q is not Name=value", item)
			continue
		}
		out[name] = strings.Trim(value, `"`)
	}
	return out
}

// splitOverrides splits Name="a value" Other=x at the spaces outside quotes.
func splitOverrides(s string) []string {
	var items []string
	var cur strings.Builder
	quoted := false
	for _, r := range s {
		switch {
		case r == '"':
			quoted = !quoted
			cur.WriteRune(r)
		case r == ' ' && !quoted:
			if cur.Len() > 0 {
				items = append(items, cur.String())
				cur.Reset()
			}
		default:
			cur.WriteRune(r)
		}
	}
	if cur.Len() > 0 {
		items = append(items, cur.String())
	}
	return items
}

func TestSAMConfigOverridesExist(t *testing.T) {
	t.Parallel()
	s := template(t)
	overrides := parameterOverrides(t, readSAMConfig(t))
	if len(overrides) == 0 {
		t.Error("samconfig.toml has no parameter_overrides: a first deploy would not show which settings to fill in")
	}
	for name := range overrides {
		if _, ok := s.typed.Parameters[name]; !ok {
			t.Errorf("samconfig.toml overrides the parameter %s, which template.yaml does not have", name)
		}
	}
}

var realKeyRE = regexp.MustCompile(`\b(sk|pk)_(test|live)_[A-Za-z0-9+/]{20,}`)

// env.example.json is what `sam local start-api --env-vars env.json` reads
// once copied: keyed by logical id (or "Parameters" for every function), and
// naming only variables the template declares, since SAM local ignores others.
func TestEnvExample(t *testing.T) {
	t.Parallel()
	s := template(t)
	data, err := os.ReadFile(filepath.Join(repoRoot(t), "env.example.json"))
	if err != nil {
		t.Fatal(err)
	}
	if m := realKeyRE.Find(data); m != nil {
		t.Fatalf("env.example.json holds what looks like a real Clerk key (%.12s...): ship placeholders only", m)
	}
	var env map[string]map[string]string
	if err := json.Unmarshal(data, &env); err != nil {
		t.Fatalf("env.example.json must be an object of objects of strings: %v", err)
	}
	ids := s.functionIDs()
	declared := func(ids []string, name string) bool {
		for _, id := range ids {
			if _, ok := s.env(id)[name]; ok {
				return true
			}
		}
		return false
	}
	for key, vars := range env {
		targets := []string{key}
		if key == "Parameters" {
			targets = ids
		} else if _, ok := s.typed.GetAllServerlessFunctionResources()[key]; !ok {
			t.Errorf("env.example.json has a section %q, which is neither a function's logical id nor Parameters", key)
			continue
		}
		names := make([]string, 0, len(vars))
		for name := range vars {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			if !declared(targets, name) {
				t.Errorf("env.example.json sets %s for %s, but template.yaml declares no such variable there, so sam local ignores it", name, key)
			}
		}
	}
	secretSet := env["Parameters"]["CLERK_SECRET_KEY"] != ""
	for _, l := range functionsOf(t) {
		secretSet = secretSet || env[l.id]["CLERK_SECRET_KEY"] != ""
	}
	if !secretSet {
		t.Error("env.example.json does not show where CLERK_SECRET_KEY goes for sam local")
	}
}
