package deploy

import (
	"bufio"
	"errors"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/awslabs/goformation/v7/cloudformation/serverless"
)

func TestTemplateParses(t *testing.T) {
	t.Parallel()
	s := template(t)
	if tr := s.typed.Transform; tr == nil || tr.String == nil || *tr.String != "AWS::Serverless-2016-10-31" {
		t.Error("template.yaml must declare Transform: AWS::Serverless-2016-10-31")
	}
	var want []string
	for _, l := range functionsOf(t) {
		want = append(want, l.id)
	}
	sort.Strings(want)
	if got := s.functionIDs(); !slices.Equal(got, want) {
		t.Errorf("template.yaml defines the functions %v, want exactly %v", got, want)
	}
}

func TestFunctionDefaults(t *testing.T) {
	t.Parallel()
	s := template(t)
	g := s.typed.Globals["Function"]
	if g == nil {
		t.Fatal("template.yaml has no Globals.Function section")
	}
	want := map[string]any{
		"Runtime":       "provided.al2023",
		"Handler":       "bootstrap",
		"Architectures": []any{"arm64"},
		"CodeUri":       ".",
		"MemorySize":    float64(128),
	}
	for key, v := range want {
		if got := lookup(s.raw, "Globals", "Function", key); render(got) != render(v) {
			t.Errorf("Globals.Function.%s is %s, want %s", key, render(got), render(v))
		}
	}
	if got := lookup(s.raw, "Globals", "Function", "LoggingConfig", "LogFormat"); got != "JSON" {
		t.Errorf("Globals.Function.LoggingConfig.LogFormat is %v, want JSON (one JSON object per log line)", got)
	}
	timeout, _ := lookup(s.raw, "Globals", "Function", "Timeout").(float64)
	if timeout <= 0 || timeout > 30 {
		t.Errorf("Globals.Function.Timeout is %v, want a short timeout (1 to 30 s): API Gateway gives up after 30 s", timeout)
	}

	for _, id := range s.functionIDs() {
		fn := s.resource(id)
		if got := lookup(fn, "Metadata", "BuildMethod"); got != "makefile" {
			t.Errorf("%s: Metadata.BuildMethod is %v, want makefile so sam build runs make build-%s", id, got, id)
		}
		if uri := lookup(fn, "Properties", "CodeUri"); uri != nil && uri != "." {
			t.Errorf("%s: CodeUri is %v; it must stay . (the module root) so the build sees go.mod and shared/", id, uri)
		}
		for _, key := range []string{"Runtime", "Architectures", "Handler"} {
			if v := lookup(fn, "Properties", key); v != nil {
				t.Errorf("%s overrides %s (%s); every function runs as a provided.al2023 arm64 bootstrap", id, key, render(v))
			}
		}
	}
}

// Each function logs to a log group of its own with a retention, so that
// logs neither pile up forever nor land in a group Lambda creates unmanaged.
func TestLogGroups(t *testing.T) {
	t.Parallel()
	s := template(t)
	for _, id := range s.functionIDs() {
		ref, _ := lookup(s.resource(id), "Properties", "LoggingConfig", "LogGroup", "Ref").(string)
		if ref == "" {
			t.Errorf("%s: LoggingConfig.LogGroup must be a !Ref to its AWS::Logs::LogGroup", id)
			continue
		}
		group, err := s.typed.GetLogsLogGroupWithName(ref)
		if err != nil {
			t.Errorf("%s logs to %s, which is not an AWS::Logs::LogGroup in the template", id, ref)
			continue
		}
		if group.RetentionInDays == nil || *group.RetentionInDays <= 0 {
			t.Errorf("log group %s (of %s) keeps logs forever: set RetentionInDays: !Ref LogRetentionDays", ref, id)
		}
		if got := render(lookup(s.resource(ref), "Properties", "RetentionInDays")); got != "${LogRetentionDays}" {
			t.Errorf("log group %s: RetentionInDays is %s, want !Ref LogRetentionDays", ref, got)
		}
	}
}

func TestParameters(t *testing.T) {
	t.Parallel()
	s := template(t)
	params := s.typed.Parameters
	want := map[string]struct {
		typ, def string
	}{
		"ClerkSecretKeyParameterName": {"String", "/clerk/secret-key"},
		"ClerkPublishableKey":         {"String", ""},
		"ClerkIssuer":                 {"String", ""},
		"ClerkJwtKey":                 {"String", ""},
		"AllowedOrigins":              {"CommaDelimitedList", "http://localhost:5173"},
		"AdminOrgRole":                {"String", "org:admin"},
		"AdminMachines":               {"String", ""},
		"ExportSchedule":              {"String", "rate(1 day)"},
		"AuthorizerCacheTtl":          {"Number", "30"},
		"ExportRetentionDays":         {"Number", ""},
		"LogRetentionDays":            {"Number", ""},
		"ThrottlingRateLimit":         {"Number", ""},
		"ThrottlingBurstLimit":        {"Number", ""},
		"ClerkRouteRateLimit":         {"Number", ""},
		"ClerkRouteBurstLimit":        {"Number", ""},
		"ClerkFunctionConcurrency":    {"Number", "0"},
		"ExportConcurrency":           {"Number", "0"},
		"MeCacheTtl":                  {"Number", ""},
		"ExportRateLimit":             {"Number", ""},
		"ExportAlarmHours":            {"Number", "26"},
		"AlarmEmail":                  {"String", ""},
		"AlarmTopicKmsKeyId":          {"String", ""},
	}
	for name, w := range want {
		p, ok := params[name]
		if !ok {
			t.Errorf("template.yaml has no parameter %s", name)
			continue
		}
		if p.Type != w.typ {
			t.Errorf("parameter %s has Type %s, want %s", name, p.Type, w.typ)
		}
		if w.def != "" && render(p.Default) != w.def {
			t.Errorf("parameter %s defaults to %q, want %q", name, render(p.Default), w.def)
		}
		if p.Description == nil || *p.Description == "" {
			t.Errorf("parameter %s has no Description: sam deploy --guided shows it to the user", name)
		}
	}
	if p := params["ClerkJwtKey"]; p.Default == nil {
		t.Error("parameter ClerkJwtKey must be optional (Default: \"\"): without it the JWKS is fetched")
	}
	for _, name := range []string{"ExportRetentionDays", "LogRetentionDays"} {
		if d, _ := params[name].Default.(float64); d < 1 {
			t.Errorf("parameter %s must default to a positive number of days", name)
		}
	}

	// The patterns run in CloudFormation (Java regular expressions); these
	// ones are plain enough to mean the same in Go.
	patterns := []struct {
		param      string
		good, bads []string
	}{
		{"ClerkSecretKeyParameterName", []string{"/clerk/secret-key", "/prod/clerk_secret.v2"}, []string{"clerk/secret-key", "/", "/clerk key", ""}},
		{"ClerkPublishableKey", []string{"", "pk_test_Y2xlcmsuZXhhbXBsZS5jb20k", "pk_live_Y2xlcmsuZXhhbXBsZS5jb20k"}, []string{"pk_test_REPLACE_ME", "sk_test_abc"}},
		{"ClerkIssuer", []string{"", "https://clerk.example.com", "https://example.clerk.accounts.dev/"}, []string{"http://clerk.example.com", "clerk.example.com"}},
		{"AdminOrgRole", []string{"org:admin", "org:billing_admin"}, []string{"admin", ""}},
		{"AdminMachines", []string{"", "mch_2xhFjEI5X2qWRvtV13BzSj8H6Dk", "mch_a,mch_b", "mch_a, mch_b"},
			[]string{"user_123", "mch_", "mch_a,", ",mch_a", "mch_a;mch_b", "mch_a b"}},
		{"ExportSchedule", []string{"rate(1 day)", "cron(0 3 * * ? *)"}, []string{"daily", ""}},
		{"AlarmEmail", []string{"", "ops@example.com", "a.b+alarms@mail.example.co.uk"}, []string{"ops", "ops@example", "a b@example.com", "@example.com"}},
	}
	for _, p := range patterns {
		pattern := params[p.param].AllowedPattern
		if pattern == nil {
			t.Errorf("parameter %s has no AllowedPattern: a typo would only show when a function fails", p.param)
			continue
		}
		re, err := regexp.Compile(*pattern)
		if err != nil {
			t.Errorf("parameter %s: AllowedPattern %q does not compile: %v", p.param, *pattern, err)
			continue
		}
		for _, v := range p.good {
			if !re.MatchString(v) {
				t.Errorf("parameter %s: AllowedPattern %q rejects the valid value %q", p.param, *pattern, v)
			}
		}
		for _, v := range p.bads {
			if re.MatchString(v) {
				t.Errorf("parameter %s: AllowedPattern %q accepts the invalid value %q", p.param, *pattern, v)
			}
		}
	}
}

// A deploy with neither the publishable key nor the issuer would start
// functions that cannot verify any token; the Rules section refuses it.
func TestRuleRequiresIssuerSource(t *testing.T) {
	t.Parallel()
	s := template(t)
	rules, _ := s.raw["Rules"].(map[string]any)
	for _, rule := range rules {
		text := render(rule)
		if strings.Contains(text, `"ClerkPublishableKey"`) && strings.Contains(text, `"ClerkIssuer"`) {
			return
		}
	}
	t.Error("template.yaml needs a Rules assertion that fails the deploy when both ClerkPublishableKey and ClerkIssuer are empty")
}

func TestEnvironment(t *testing.T) {
	t.Parallel()
	s := template(t)
	if _, ok := lookup(s.raw, "Globals", "Function", "Environment", "Variables", "CLERK_SECRET_KEY").(string); ok {
		t.Error("Globals declares CLERK_SECRET_KEY: declare it only on the functions that read the secret")
	}
	for _, l := range functionsOf(t) {
		env := s.env(l.id)
		for _, name := range l.env {
			if _, ok := env[name]; !ok {
				t.Errorf("%s reads %s, but neither it nor Globals declares it (sam local can only override declared variables)", l.id, name)
			}
		}
		v, declared := env["CLERK_SECRET_KEY"]
		switch {
		case l.secret && !declared:
			t.Errorf("%s reads the secret: declare CLERK_SECRET_KEY: \"\" so sam local --env-vars can set it", l.id)
		case l.secret && v != "":
			t.Errorf("%s sets CLERK_SECRET_KEY to %s in the template; it must stay empty so the deployed function reads SSM", l.id, render(v))
		case !l.secret && declared:
			t.Errorf("%s does not need the secret but declares CLERK_SECRET_KEY", l.id)
		}
	}

	checks := map[string]string{
		"CLERK_SECRET_KEY_PARAMETER": "${ClerkSecretKeyParameterName}",
		"CLERK_PUBLISHABLE_KEY":      "${ClerkPublishableKey}",
		"CLERK_ISSUER":               "${ClerkIssuer}",
		// CLERK_AUTHORIZED_PARTIES: AllowedOrigins and the site's domain, see TestSiteAuthorizedParties.
	}
	for name, want := range checks {
		for _, l := range functionsOf(t) {
			if got, ok := s.env(l.id)[name]; ok && render(got) != want {
				t.Errorf("%s: %s is %s, want %s", l.id, name, render(got), want)
			}
		}
	}
	if got := render(s.env(authorizerID)["CLERK_JWT_KEY"]); got != "${ClerkJwtKey}" {
		t.Errorf("AuthorizerFunction: CLERK_JWT_KEY is %s, want !Ref ClerkJwtKey", got)
	}
	if got := render(s.env("AdminUsersFunction")["ADMIN_ORG_ROLE"]); got != "${AdminOrgRole}" {
		t.Errorf("AdminUsersFunction: ADMIN_ORG_ROLE is %s, want !Ref AdminOrgRole", got)
	}
	if got := render(s.env(exporterID)["EXPORT_BUCKET"]); got != "${"+exportBucketID+"}" {
		t.Errorf("ExportUsersFunction: EXPORT_BUCKET is %s, want !Ref %s", got, exportBucketID)
	}
	for name, want := range map[string]string{
		"EXPORT_BUCKET":        "${" + exportBucketID + "}",
		"EXPORT_STATE_MACHINE": "${" + stateMachineID + "}",
		"ADMIN_ORG_ROLE":       "${AdminOrgRole}",
		"ADMIN_ORG_ID":         "${AdminOrgId}",
		"ADMIN_MACHINES":       "${AdminMachines}",
	} {
		if got := render(s.env(adminExportsID)[name]); got != want {
			t.Errorf("%s: %s is %s, want %s", adminExportsID, name, got, want)
		}
	}
}

// route is one HTTP route of the API as the template declares it.
type route struct {
	fn, authorizer string
	apiID          string
}

func (s *stack) routes(t *testing.T) map[string]route {
	t.Helper()
	out := map[string]route{}
	for id, fn := range s.typed.GetAllServerlessFunctionResources() {
		for name, ev := range fn.Events {
			if ev.Type != "HttpApi" {
				continue
			}
			var p *serverless.Function_HttpApiEvent
			if ev.Properties != nil {
				p = ev.Properties.HttpApiEvent
			}
			if p == nil || p.Path == nil || p.Method == nil {
				t.Errorf("%s: HttpApi event %s needs Path and Method (and nothing SAM does not know)", id, name)
				continue
			}
			key := strings.ToUpper(*p.Method) + " " + *p.Path
			if prev, ok := out[key]; ok {
				t.Errorf("%s is served by both %s and %s", key, prev.fn, id)
			}
			r := route{fn: id}
			if p.ApiId != nil {
				r.apiID = render(*p.ApiId)
			}
			if p.Auth != nil && p.Auth.Authorizer != nil {
				r.authorizer = *p.Auth.Authorizer
			}
			out[key] = r
		}
	}
	return out
}

func TestRoutes(t *testing.T) {
	t.Parallel()
	s := template(t)
	routes := s.routes(t)
	want := map[string]string{
		"GET /public":           "PublicFunction",
		"GET /private":          "PrivateFunction",
		"GET /me":               "MeFunction",
		"GET /admin/users":      "AdminUsersFunction",
		"GET /admin/users/{id}": "AdminUsersFunction",
		"POST /admin/exports":   "AdminExportsFunction",
	}
	for key, fn := range want {
		if got, ok := routes[key]; !ok {
			t.Errorf("template.yaml has no route %s (served by %s)", key, fn)
		} else if got.fn != fn {
			t.Errorf("%s is served by %s, want %s", key, got.fn, fn)
		}
	}
	// Routes a fork adds (make route) are welcome; every route is checked
	// below.
	for key, r := range routes {
		if r.apiID != "${"+apiID+"}" {
			t.Errorf("%s: ApiId is %q, want !Ref %s; without it SAM puts the route on an implicit API with no authorizer", key, r.apiID, apiID)
		}
		switch {
		case key == "GET /public" && r.authorizer != "NONE":
			t.Errorf("GET /public must opt out of the authorizer (Auth: Authorizer: NONE)")
		case key != "GET /public" && r.authorizer != "":
			t.Errorf("%s overrides its authorizer (%s); only GET /public may, every other route uses the default", key, r.authorizer)
		}
	}
	for _, id := range []string{authorizerID, exporterID} {
		fn := s.typed.GetAllServerlessFunctionResources()[id]
		for name, ev := range fn.Events {
			if ev.Type == "HttpApi" || ev.Type == "Api" {
				t.Errorf("%s has an API event %s; it must not be reachable over HTTP", id, name)
			}
		}
	}
}

// Every route is served by a function whose Makefile target builds an
// existing main package, and every functions/<dir> is deployed.
func TestRoutesHaveCode(t *testing.T) {
	t.Parallel()
	s := template(t)
	root := repoRoot(t)
	dirs := map[string]string{}
	for _, id := range s.functionIDs() {
		dir, err := functionDir(t, id)
		if err != nil {
			t.Error(err)
			continue
		}
		dirs[dir] = id
		if err := isMainPackage(filepath.Join(root, "functions", dir)); err != nil {
			t.Errorf("%s is built from functions/%s, but %v", id, dir, err)
		}
	}
	for _, l := range functionsOf(t) {
		if got, ok := dirs[l.dir]; ok && got != l.id {
			t.Errorf("functions/%s is built for %s, want %s", l.dir, got, l.id)
		}
	}
	entries, _ := os.ReadDir(filepath.Join(root, "functions"))
	for _, e := range entries {
		if _, ok := dirs[e.Name()]; e.IsDir() && !ok {
			t.Errorf("functions/%s is deployed by no function in template.yaml (or the Makefile's LAMBDAS does not list it)", e.Name())
		}
	}
}

// isMainPackage reports why dir is not a Go main package, or nil.
func isMainPackage(dir string) error {
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil || len(files) == 0 {
		return errNoGoFiles
	}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.PackageClauseOnly)
		if err != nil {
			return err
		}
		if file.Name.Name == "main" {
			return nil
		}
	}
	return errNotMain
}

var (
	errNoGoFiles = errors.New("that directory has no Go files")
	errNotMain   = errors.New("that directory is not a main package")
)

var designRouteRE = regexp.MustCompile(`^\|\s*(GET|POST|PUT|PATCH|DELETE)\s+(/\S*)\s*\|\s*([a-z0-9-]+)`)

// Every route in the design's table (../shared/DESIGN.md from the repository
// root) is in the template, served from the directory the design names.
func TestRoutesMatchDesign(t *testing.T) {
	t.Parallel()
	s := template(t)
	path := filepath.Join(repoRoot(t), "..", "shared", "DESIGN.md")
	f, err := os.Open(path)
	if err != nil {
		t.Skipf("the design document is not beside the repository (%v); its route table is not compared", err)
	}
	defer f.Close()
	routes := s.routes(t)
	found := 0
	for sc := bufio.NewScanner(f); sc.Scan(); {
		m := designRouteRE.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		found++
		key := m[1] + " " + m[2]
		r, ok := routes[key]
		if !ok {
			t.Errorf("DESIGN.md lists %s, but template.yaml has no such route", key)
			continue
		}
		if dir, err := functionDir(t, r.fn); err == nil && dir != m[3] {
			t.Errorf("DESIGN.md serves %s from functions/%s, but template.yaml's %s is built from functions/%s", key, m[3], r.fn, dir)
		}
	}
	if found == 0 {
		t.Error("DESIGN.md has no route table rows (| GET /path | function | ...): the format changed, update this test")
	}
}

// checkAuthorizerPermission: API Gateway may invoke the authorizer, for this
// API's authorizers only. Without the permission every protected request
// fails with 500; SAM's own (EnableFunctionDefaultPermissions) would name
// the function by the ARN string and could be created before the function.
func checkAuthorizerPermission(t *testing.T, s *stack) {
	t.Helper()
	var found int
	resources, _ := s.raw["Resources"].(map[string]any)
	for id, r := range resources {
		if lookup(r, "Type") != "AWS::Lambda::Permission" || render(lookup(r, "Properties", "FunctionName")) != "${"+authorizerID+"}" {
			continue
		}
		found++
		want := map[string]string{
			"Action":    "lambda:InvokeFunction",
			"Principal": "apigateway.amazonaws.com",
			"SourceArn": "arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${" + apiID + "}/authorizers/*",
		}
		for k, v := range want {
			if got := render(lookup(r, "Properties", k)); got != v {
				t.Errorf("%s: %s is %s, want %s", id, k, got, v)
			}
		}
	}
	if found != 1 {
		t.Errorf("%d AWS::Lambda::Permission resources let API Gateway invoke %s, want 1", found, authorizerID)
	}
}

func TestAuthorizer(t *testing.T) {
	t.Parallel()
	s := template(t)
	api, err := s.typed.GetServerlessHttpApiWithName(apiID)
	if err != nil {
		t.Fatalf("template.yaml has no AWS::Serverless::HttpApi named %s", apiID)
	}
	if api.Auth == nil || api.Auth.DefaultAuthorizer == nil {
		t.Fatalf("%s has no Auth.DefaultAuthorizer: every route would be open", apiID)
	}
	name := *api.Auth.DefaultAuthorizer
	auth, _ := lookup(s.resource(apiID), "Properties", "Auth", "Authorizers", name).(map[string]any)
	if auth == nil {
		t.Fatalf("the default authorizer %s is not defined under Auth.Authorizers", name)
	}
	checks := []struct {
		key, want, why string
	}{
		{"FunctionArn", "arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:" + render(lookup(s.resource(authorizerID), "Properties", "FunctionName")),
			"the authorizer is the AuthorizerFunction, named by its fixed FunctionName (a !GetAtt closes a circle through the site's distribution)"},
		{"AuthorizerPayloadFormatVersion", "2.0", "the authorizer reads the 2.0 event (quote it: 2.0 unquoted is a number)"},
		{"EnableSimpleResponses", "true", "the authorizer answers {isAuthorized, context}"},
	}
	for _, c := range checks {
		if got := render(auth[c.key]); got != c.want {
			t.Errorf("authorizer %s: %s is %s, want %s: %s", name, c.key, got, c.want, c.why)
		}
	}
	if fn := render(lookup(s.resource(authorizerID), "Properties", "FunctionName")); !strings.HasPrefix(fn, "${AWS::StackName}-") {
		t.Errorf("%s's FunctionName is %s, want !Sub ${AWS::StackName}-...: one name per stack", authorizerID, fn)
	}
	checkAuthorizerPermission(t, s)
	if got := render(lookup(auth, "Identity", "Headers")); got != `["Authorization"]` {
		t.Errorf("authorizer %s: Identity.Headers is %s, want [Authorization]: the cache key is the bearer token", name, got)
	}
	// The TTL comes from AuthorizerCacheTtl and is at most 60 s, and it must
	// reach the OpenAPI body as a number: SAM copies ReauthorizeEvery there as
	// it is, and CloudFormation resolves a !Ref to a parameter to a string.
	// So for each value the parameter allows, it must evaluate to that number
	// as a literal (TestTranslatedAuthorizerTTL checks SAM's output).
	ttl := lookup(auth, "Identity", "ReauthorizeEvery")
	if ttl == nil {
		t.Errorf("authorizer %s: Identity.ReauthorizeEvery is unset, so API Gateway caches answers for 300 s, past a token's 60 s life", name)
	} else {
		for _, v := range ttlChoices(s.raw) {
			got, err := with(s.raw, map[string]string{"AuthorizerCacheTtl": v}).value(ttl)
			n, isNumber := got.(float64)
			switch {
			case err != nil:
				t.Errorf("authorizer %s: Identity.ReauthorizeEvery with AuthorizerCacheTtl=%s: %v", name, v, err)
			case !isNumber || n != float64(int(n)):
				t.Errorf("authorizer %s: Identity.ReauthorizeEvery is %s with AuthorizerCacheTtl=%s, want a literal whole number: "+
					"a !Ref to the parameter reaches API Gateway as the string %q", name, jsonText(got), v, v)
			case n > 60 || render(n) != v:
				t.Errorf("authorizer %s: Identity.ReauthorizeEvery is %v with AuthorizerCacheTtl=%s, want %s (at most 60 s)", name, n, v, v)
			}
		}
	}
	p := s.typed.Parameters["AuthorizerCacheTtl"]
	if d, err := strconv.ParseFloat(scalarString(p.Default), 64); err != nil || d < 0 || d > 60 {
		t.Errorf("AuthorizerCacheTtl defaults to %v, want 0 to 60: a Clerk session token lives 60 s", p.Default)
	}
	if p.MaxValue == nil || *p.MaxValue != 60 {
		t.Error("AuthorizerCacheTtl needs MaxValue: 60: a cached answer must not outlive the token by more than its life")
	}
	if p.MinValue == nil || *p.MinValue != 0 {
		t.Error("AuthorizerCacheTtl needs MinValue: 0 (0 turns the cache off)")
	}
}

func TestCORS(t *testing.T) {
	t.Parallel()
	s := template(t)
	cors := lookup(s.resource(apiID), "Properties", "CorsConfiguration")
	if cond, ok := lookup(cors, "Fn::If").([]any); ok && len(cond) == 3 {
		cors = cond[1]
	} else if origins := lookup(cors, "AllowOrigins"); origins != nil {
		if _, literal := origins.([]any); !literal {
			t.Fatal("CorsConfiguration.AllowOrigins is an intrinsic inside a plain map: an empty AllowedOrigins would " +
				"then leave CORS on with no origin; wrap the whole CorsConfiguration in !If HasAllowedOrigins")
		}
	}
	if cors == nil {
		t.Fatal("the HttpApi has no CorsConfiguration: browsers on another origin could not call it")
	}
	if got := render(lookup(cors, "AllowOrigins")); got != "${AllowedOrigins}" {
		t.Errorf("CORS AllowOrigins is %s, want !Ref AllowedOrigins (the same list as CLERK_AUTHORIZED_PARTIES)", got)
	}
	headers := strings.ToLower(render(lookup(cors, "AllowHeaders")))
	for _, h := range []string{"authorization", "content-type"} {
		if !strings.Contains(headers, `"`+h+`"`) {
			t.Errorf("CORS AllowHeaders %s lacks %s", headers, h)
		}
	}
	methods := map[string]bool{"OPTIONS": true}
	for key := range s.routes(t) {
		methods[strings.Fields(key)[0]] = true
	}
	var want []string
	for m := range methods {
		want = append(want, m)
	}
	sort.Strings(want)
	var got []string
	for _, m := range list(lookup(cors, "AllowMethods")) {
		got = append(got, strings.ToUpper(render(m)))
	}
	sort.Strings(got)
	if !slices.Equal(got, want) {
		t.Errorf("CORS AllowMethods is %v, want the methods the routes use: %v", got, want)
	}
	if age, _ := lookup(cors, "MaxAge").(float64); age <= 0 {
		t.Error("CORS MaxAge is unset: every request would be preceded by a preflight")
	}
}

func TestExportBucket(t *testing.T) {
	t.Parallel()
	s := template(t)
	b, err := s.typed.GetS3BucketWithName(exportBucketID)
	if err != nil {
		t.Fatalf("template.yaml has no AWS::S3::Bucket named %s", exportBucketID)
	}
	if enc := b.BucketEncryption; enc == nil || len(enc.ServerSideEncryptionConfiguration) == 0 ||
		enc.ServerSideEncryptionConfiguration[0].ServerSideEncryptionByDefault == nil {
		t.Error("the export bucket has no default encryption (BucketEncryption)")
	} else if alg := enc.ServerSideEncryptionConfiguration[0].ServerSideEncryptionByDefault.SSEAlgorithm; alg != "AES256" && alg != "aws:kms" {
		t.Errorf("the export bucket encrypts with %q, want AES256 or aws:kms", alg)
	}
	if lookup(s.resource(exportBucketID), "DeletionPolicy") != "Retain" {
		t.Error("the export bucket holds user data: keep it when the stack is deleted (DeletionPolicy: Retain)")
	}
	pab := b.PublicAccessBlockConfiguration
	if pab == nil || !isTrue(pab.BlockPublicAcls) || !isTrue(pab.BlockPublicPolicy) || !isTrue(pab.IgnorePublicAcls) || !isTrue(pab.RestrictPublicBuckets) {
		t.Error("the export bucket must block all public access (all four PublicAccessBlockConfiguration settings true)")
	}

	var expires, aborts bool
	if b.LifecycleConfiguration != nil {
		for _, r := range b.LifecycleConfiguration.Rules {
			if r.Status != "Enabled" {
				continue
			}
			if r.ExpirationInDays != nil && *r.ExpirationInDays > 0 {
				expires = true
			}
			if r.AbortIncompleteMultipartUpload != nil && r.AbortIncompleteMultipartUpload.DaysAfterInitiation == 1 {
				aborts = true
			}
		}
	}
	if !expires {
		t.Error("the export bucket needs an enabled lifecycle rule that expires old exports (ExpirationInDays: !Ref ExportRetentionDays)")
	}
	if !strings.Contains(render(lookup(s.resource(exportBucketID), "Properties", "LifecycleConfiguration")), `"Ref":"ExportRetentionDays"`) {
		t.Error("the export bucket's expiry must come from the ExportRetentionDays parameter")
	}
	if !aborts {
		t.Error("the export bucket needs an enabled lifecycle rule that aborts incomplete multipart uploads after 1 day")
	}

	tlsOnly := false
	for id, r := range s.raw["Resources"].(map[string]any) {
		if lookup(r, "Type") != "AWS::S3::BucketPolicy" || render(lookup(r, "Properties", "Bucket")) != "${"+exportBucketID+"}" {
			continue
		}
		if lookup(r, "DeletionPolicy") != "Retain" {
			t.Errorf("%s must be kept with the bucket (DeletionPolicy: Retain), or the exports left behind lose their TLS-only rule", id)
		}
		for _, st := range list(lookup(r, "Properties", "PolicyDocument", "Statement")) {
			if lookup(st, "Effect") != "Deny" || render(lookup(st, "Condition", "Bool", "aws:SecureTransport")) != "false" {
				continue
			}
			var res []string
			for _, r := range list(lookup(st, "Resource")) {
				res = append(res, render(r))
			}
			if slices.Contains(res, "${"+exportBucketID+".Arn}") && slices.Contains(res, "${"+exportBucketID+".Arn}/*") {
				tlsOnly = true
			} else {
				t.Errorf("%s denies plain HTTP but not on both the bucket and its objects (Resource: %v)", id, res)
			}
		}
	}
	if !tlsOnly {
		t.Error("the export bucket needs a bucket policy denying every request without TLS (Deny when aws:SecureTransport is false)")
	}
}

func isTrue(b *bool) bool { return b != nil && *b }

func TestOutputs(t *testing.T) {
	t.Parallel()
	s := template(t)
	want := map[string]string{
		"ApiUrl":           "https://${" + apiID + "}.execute-api.${AWS::Region}.${AWS::URLSuffix}",
		"ExportBucketName": "${" + exportBucketID + "}",
	}
	for name, w := range want {
		out, ok := s.typed.Outputs[name]
		if !ok {
			t.Errorf("template.yaml has no output %s", name)
			continue
		}
		if got := render(out.Value); got != w {
			t.Errorf("output %s is %s, want %s", name, got, w)
		}
	}
}

// ttlChoices are the values AuthorizerCacheTtl may take: its AllowedValues,
// or its default when it has none.
func ttlChoices(tmpl map[string]any) []string {
	p := lookup(tmpl, "Parameters", "AuthorizerCacheTtl")
	var out []string
	for _, v := range list(lookup(p, "AllowedValues")) {
		out = append(out, scalarString(v))
	}
	if len(out) == 0 {
		out = append(out, scalarString(lookup(p, "Default")))
	}
	return out
}
