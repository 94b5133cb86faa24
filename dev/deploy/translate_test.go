package deploy

import (
	"bytes"
	"encoding/json"
	"errors"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
)

// translateScript turns template.yaml into the CloudFormation template that
// AWS's own SAM translator (the Python package samtranslator, what
// CloudFormation runs for Transform: AWS::Serverless-2016-10-31) makes of it,
// through its public API, offline. It prints the translation as JSON.
const translateScript = `
import json, sys
from samtranslator.model.exceptions import InvalidDocumentException
from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse

class NoManagedPolicies:
    # The template names no AWS managed policy by name, so none is looked up
    # (a real loader would call IAM).
    def load(self):
        return {}

with open(sys.argv[1]) as f:
    template = yaml_parse(f.read())
# What sam package does before the transform: the code is uploaded, and
# CodeUri names the object.
template.setdefault("Globals", {}).setdefault("Function", {})["CodeUri"] = "s3://bucket/key"
for r in template.get("Resources", {}).values():
    if r.get("Type") == "AWS::Serverless::Function" and "CodeUri" in r.get("Properties", {}):
        r["Properties"]["CodeUri"] = "s3://bucket/key"
try:
    out = transform(template, {}, NoManagedPolicies())
except InvalidDocumentException as e:
    for cause in e.causes:
        print(cause.message, file=sys.stderr)
    sys.exit(1)
json.dump(out, sys.stdout, indent=1, sort_keys=True)
`

var errNoTranslator = errors.New("skip")

// translation is template.yaml as SAM translates it, decoded with numbers
// kept as written (json.Number), so an integer is told from a string or a
// float.
var translation = sync.OnceValues(func() (map[string]any, error) {
	root, err := findRoot()
	if err != nil {
		return nil, err
	}
	python, err := exec.LookPath("python3")
	if err != nil {
		return nil, errNoTranslator
	}
	if exec.Command(python, "-c", "import samtranslator").Run() != nil {
		return nil, errNoTranslator
	}
	cmd := exec.Command(python, "-c", translateScript, filepath.Join(root, "template.yaml"))
	// The translator wants a region for the pseudo parameters; nothing here
	// reaches AWS (no credentials, no instance metadata).
	cmd.Env = append(os.Environ(), "AWS_DEFAULT_REGION=us-east-1", "AWS_EC2_METADATA_DISABLED=true")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, errors.New("the SAM translator refuses template.yaml: " + strings.TrimSpace(stderr.String()))
	}
	dec := json.NewDecoder(bytes.NewReader(out))
	dec.UseNumber()
	var t map[string]any
	if err := dec.Decode(&t); err != nil {
		return nil, err
	}
	return t, nil
})

// translated is the translation, or skips t with one line when python3 or
// samtranslator is not installed.
func translated(t *testing.T) map[string]any {
	t.Helper()
	tr, err := translation()
	if errors.Is(err, errNoTranslator) {
		t.Skip("python3 with samtranslator (pip install aws-sam-translator) is not installed: the SAM translation is not checked")
	}
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// resourcesOfType are the translation's resources of one type, by logical id.
func resourcesOfType(tr map[string]any, typ string) map[string]map[string]any {
	out := map[string]map[string]any{}
	resources, _ := tr["Resources"].(map[string]any)
	for id, r := range resources {
		if lookup(r, "Type") == typ {
			out[id], _ = r.(map[string]any)
		}
	}
	return out
}

// The TTL reaches API Gateway's OpenAPI body as a JSON integer for every
// value AuthorizerCacheTtl allows, after SAM has copied it there.
func TestTranslatedAuthorizerTTL(t *testing.T) {
	t.Parallel()
	tr := translated(t)
	apis := resourcesOfType(tr, "AWS::ApiGatewayV2::Api")
	if len(apis) != 1 {
		t.Fatalf("the translation has %d AWS::ApiGatewayV2::Api resources, want 1", len(apis))
	}
	found := 0
	for id, api := range apis {
		schemes, _ := lookup(api, "Properties", "Body", "components", "securitySchemes").(map[string]any)
		for name, scheme := range schemes {
			authorizer := lookup(scheme, "x-amazon-apigateway-authorizer")
			if authorizer == nil {
				continue
			}
			found++
			ttl := lookup(authorizer, "authorizerResultTtlInSeconds")
			for _, v := range ttlChoices(tr) {
				got, err := with(tr, map[string]string{"AuthorizerCacheTtl": v}).value(ttl)
				n, isNumber := got.(json.Number)
				switch {
				case err != nil:
					t.Errorf("%s: authorizer %s: authorizerResultTtlInSeconds with AuthorizerCacheTtl=%s: %v", id, name, v, err)
				case !isNumber || strings.ContainsAny(n.String(), ".eE"):
					t.Errorf("%s: authorizer %s: authorizerResultTtlInSeconds is %s with AuthorizerCacheTtl=%s in the OpenAPI body, want an integer "+
						"(CloudFormation resolves a !Ref to a parameter to a string there)", id, name, jsonText(got), v)
				case n.String() != v:
					t.Errorf("%s: authorizer %s: authorizerResultTtlInSeconds is %s with AuthorizerCacheTtl=%s", id, name, n, v)
				}
			}
		}
	}
	if found == 0 {
		t.Error("the translated API has no x-amazon-apigateway-authorizer in its OpenAPI body")
	}
	for id := range resourcesOfType(tr, "AWS::ApiGatewayV2::Authorizer") {
		t.Errorf("the translation has a separate authorizer resource %s; the TTL check above only reads the OpenAPI body", id)
	}
}

// jsonText is v as JSON, so that a string shows its quotes.
func jsonText(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return render(v)
	}
	return string(b)
}

// The stage SAM creates carries the throttling and the access log.
func TestTranslatedStage(t *testing.T) {
	t.Parallel()
	tr := translated(t)
	stages := resourcesOfType(tr, "AWS::ApiGatewayV2::Stage")
	if len(stages) != 1 {
		t.Fatalf("the translation has %d AWS::ApiGatewayV2::Stage resources, want 1", len(stages))
	}
	for id, st := range stages {
		p := lookup(st, "Properties")
		if got := render(lookup(p, "DefaultRouteSettings", "ThrottlingRateLimit")); got != "${ThrottlingRateLimit}" {
			t.Errorf("%s: DefaultRouteSettings.ThrottlingRateLimit is %s", id, got)
		}
		routes, _ := lookup(p, "RouteSettings").(map[string]any)
		var keys []string
		for key, rs := range routes {
			keys = append(keys, key)
			if got := render(lookup(rs, "ThrottlingRateLimit")); got != "${ClerkRouteRateLimit}" {
				t.Errorf("%s: RouteSettings[%s].ThrottlingRateLimit is %s, want !Ref ClerkRouteRateLimit", id, key, got)
			}
		}
		sort.Strings(keys)
		if !slices.Equal(keys, strictRoutes()) {
			t.Errorf("%s: RouteSettings are for %v, want %v", id, keys, strictRoutes())
		}
		if getAttOf(lookup(p, "AccessLogSettings", "DestinationArn"), "Arn") == "" {
			t.Errorf("%s has no access log destination", id)
		}
	}
}

// The roles SAM generates grant only what the template's tests allow, plus
// the one statement SAM adds itself: the schedule's role may start the
// export's state machine. Only the state machine's role may invoke a
// function, and only the export; only POST /admin/exports's role and the
// schedule's may start an execution, and only of that state machine. No
// role may send to a queue: the export has no failure queue.
func TestTranslatedRoles(t *testing.T) {
	t.Parallel()
	tr := translated(t)
	roles := resourcesOfType(tr, "AWS::IAM::Role")
	if len(roles) == 0 {
		t.Fatal("the translation has no roles")
	}
	starters := map[string]bool{}
	for id, role := range roles {
		for _, arn := range list(lookup(role, "Properties", "ManagedPolicyArns")) {
			for _, p := range conditionalPolicies(arn) {
				switch got := render(p); {
				case strings.HasSuffix(got, ":policy/service-role/AWSLambdaBasicExecutionRole"), got == "${ClerkSecretReadPolicy}":
				default:
					t.Errorf("%s is attached the managed policy %s, which the template's checks do not cover", id, got)
				}
			}
		}
		for _, policy := range list(lookup(role, "Properties", "Policies")) {
			for _, st := range documentStatements(lookup(policy, "PolicyDocument")) {
				if st["Effect"] != "Allow" {
					continue
				}
				for _, a := range list(st["Action"]) {
					for _, r := range list(st["Resource"]) {
						action, resource := render(a), render(r)
						if action == "*" || strings.HasSuffix(action, ":*") || resource == "*" || strings.HasSuffix(resource, ":*") {
							t.Errorf("%s grants %s on %s: a wildcard", id, action, resource)
						}
						switch service, _, _ := strings.Cut(action, ":"); service {
						case "lambda":
							if id != stateMachineID+"Role" || action != "lambda:InvokeFunction" || resource != "${"+exporterID+".Arn}" {
								t.Errorf("%s is granted %s on %s; only %sRole may, and only lambda:InvokeFunction on %s", id, action, resource, stateMachineID, exporterID)
							}
						case "states":
							if action != "states:StartExecution" || resource != "${"+stateMachineID+"}" {
								t.Errorf("%s is granted %s on %s; only states:StartExecution on %s", id, action, resource, stateMachineID)
							}
							starters[id] = true
						case "sqs":
							t.Errorf("%s is granted %s on %s: the export has no failure queue", id, action, resource)
						}
					}
				}
			}
		}
	}
	schedule := ""
	for id, rule := range resourcesOfType(tr, "AWS::Events::Rule") {
		for _, target := range list(lookup(rule, "Properties", "Targets")) {
			if got := render(lookup(target, "Arn")); got != "${"+stateMachineID+"}" {
				t.Errorf("%s targets %s; the schedule starts %s alone", id, got, stateMachineID)
			}
			schedule = getAttOf(lookup(target, "RoleArn"), "Arn")
		}
	}
	if schedule == "" {
		t.Fatalf("the translation has no AWS::Events::Rule that starts %s with a role", stateMachineID)
	}
	want := []string{adminExportsID + "Role", schedule}
	if got := slices.Sorted(maps.Keys(starters)); !slices.Equal(got, slices.Sorted(slices.Values(want))) {
		t.Errorf("the roles that may start %s are %v, want %v", stateMachineID, got, want)
	}
}

// Nothing invokes the export asynchronously: no EventInvokeConfig, and no
// permission for another service to invoke it (the state machine invokes
// it with its role).
func TestTranslatedExportIsInvokedByTheStateMachineOnly(t *testing.T) {
	t.Parallel()
	tr := translated(t)
	for id, c := range resourcesOfType(tr, "AWS::Lambda::EventInvokeConfig") {
		t.Errorf("%s configures asynchronous invocations of %s", id, render(lookup(c, "Properties", "FunctionName")))
	}
	for id, p := range resourcesOfType(tr, "AWS::Lambda::Permission") {
		if render(lookup(p, "Properties", "FunctionName")) == "${"+exporterID+"}" {
			t.Errorf("%s lets %s invoke %s", id, render(lookup(p, "Properties", "Principal")), exporterID)
		}
	}
	if n := len(resourcesOfType(tr, "AWS::StepFunctions::StateMachine")); n != 1 {
		t.Errorf("the translation has %d AWS::StepFunctions::StateMachine resources, want 1", n)
	}
}

// cfn-lint, AWS's CloudFormation linter, finds nothing in the template (it
// translates it with SAM itself) nor in the translation above.
func TestCfnLint(t *testing.T) {
	t.Parallel()
	lint, err := exec.LookPath("cfn-lint")
	if err != nil {
		t.Skip("cfn-lint (pip install cfn-lint) is not installed: the template is not linted")
	}
	files := []string{filepath.Join(repoRoot(t), "template.yaml")}
	switch tr, err := translation(); {
	case errors.Is(err, errNoTranslator):
		t.Log("samtranslator is not installed: only template.yaml is linted, not its translation")
	case err != nil:
		t.Fatal(err)
	default:
		out, err := json.MarshalIndent(tr, "", " ")
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, filepath.Join(t.TempDir(), "translated.json"))
		if err := os.WriteFile(files[1], out, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// One run for both: cfn-lint takes seconds to start.
	cmd := exec.Command(lint, append([]string{"--format", "parseable", "--"}, files...)...)
	cmd.Env = append(os.Environ(), "AWS_DEFAULT_REGION=us-east-1")
	if out, err := cmd.CombinedOutput(); err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("cfn-lint finds problems in template.yaml or in its SAM translation (translated.json) (%v):\n%s", err, out)
	}
}
