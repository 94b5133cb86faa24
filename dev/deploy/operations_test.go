package deploy

import (
	"encoding/json"
	"fmt"
	"maps"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"clerk-lambda/dev/apispec"
	"clerk-lambda/shared/settings"
)

// clerkRoutes are the routes whose function calls Clerk's Backend API on a
// request: GET /me and the admin routes, by the design.
var clerkRoutes = []string{"GET /admin/users", "GET /admin/users/{id}", "GET /me"}

// exportRoutes start the export, which pages through every user of the
// Backend API: they are throttled as strictly as clerkRoutes.
var exportRoutes = []string{"POST /admin/exports"}

// strictRoutes are the routes throttled apart from the stage's defaults, sorted.
func strictRoutes() []string {
	return slices.Sorted(slices.Values(append(slices.Clone(clerkRoutes), exportRoutes...)))
}

// httpEvents are a function's HttpApi events by route key, raw.
func (s *stack) httpEvents(id string) map[string]any {
	out := map[string]any{}
	events, _ := lookup(s.resource(id), "Properties", "Events").(map[string]any)
	for _, ev := range events {
		if lookup(ev, "Type") != "HttpApi" {
			continue
		}
		method, _ := lookup(ev, "Properties", "Method").(string)
		path, _ := lookup(ev, "Properties", "Path").(string)
		out[strings.ToUpper(method)+" "+path] = ev
	}
	return out
}

// paramNumber is a Number parameter's default, or its MaxValue when max.
func (s *stack) paramNumber(t *testing.T, name string, max bool) float64 {
	t.Helper()
	p, ok := s.typed.Parameters[name]
	if !ok {
		t.Fatalf("template.yaml has no parameter %s", name)
	}
	if max {
		if p.MaxValue == nil {
			t.Fatalf("parameter %s has no MaxValue", name)
		}
		return *p.MaxValue
	}
	var n float64
	if _, err := fmt.Sscan(scalarString(p.Default), &n); err != nil {
		t.Fatalf("parameter %s: default %v is not a number", name, p.Default)
	}
	return n
}

// The stage throttles every route, and the routes that call Clerk more
// strictly, from parameters.
func TestThrottling(t *testing.T) {
	t.Parallel()
	s := template(t)

	// The routes served by a function that reads the secret key are the ones
	// that call Clerk; they must be the design's three.
	var derived []string
	for _, l := range functionsOf(t) {
		if !l.secret {
			continue
		}
		for key := range s.httpEvents(l.id) {
			derived = append(derived, key)
		}
	}
	sort.Strings(derived)
	if !slices.Equal(derived, clerkRoutes) {
		t.Errorf("the routes whose functions read the Clerk secret are %v, want %v: update clerkRoutes and the RouteSettings", derived, clerkRoutes)
	}
	// The routes of the function that may invoke the export (TestS3AndOtherAccess).
	starts := slices.Sorted(maps.Keys(s.httpEvents(adminExportsID)))
	if !slices.Equal(starts, exportRoutes) {
		t.Errorf("the routes that start the export are %v, want %v: update exportRoutes and the RouteSettings", starts, exportRoutes)
	}

	def := lookup(s.resource(apiID), "Properties", "DefaultRouteSettings")
	for key, param := range map[string]string{"ThrottlingRateLimit": "ThrottlingRateLimit", "ThrottlingBurstLimit": "ThrottlingBurstLimit"} {
		if got := render(lookup(def, key)); got != "${"+param+"}" {
			t.Errorf("%s: DefaultRouteSettings.%s is %s, want !Ref %s: without it one flood takes the account's Lambda concurrency", apiID, key, got, param)
		}
	}
	if rs := lookup(s.resource(apiID), "Properties", "RouteSettings"); rs != nil {
		t.Errorf("%s sets RouteSettings; set a route's on its event instead, where the tests (and SAM) see it next to the route", apiID)
	}
	for _, id := range s.functionIDs() {
		for key, ev := range s.httpEvents(id) {
			rs := lookup(ev, "Properties", "RouteSettings")
			if !slices.Contains(strictRoutes(), key) {
				if rs != nil {
					t.Errorf("%s (%s) has RouteSettings; only the routes that call Clerk or start the export are throttled apart from the stage's defaults", key, id)
				}
				continue
			}
			for k, param := range map[string]string{"ThrottlingRateLimit": "ClerkRouteRateLimit", "ThrottlingBurstLimit": "ClerkRouteBurstLimit"} {
				if got := render(lookup(rs, k)); got != "${"+param+"}" {
					t.Errorf("%s (%s): RouteSettings.%s is %s, want !Ref %s: it calls Clerk, whose limit the whole instance shares", key, id, k, got, param)
				}
			}
		}
	}

	rate, burst := s.paramNumber(t, "ThrottlingRateLimit", false), s.paramNumber(t, "ThrottlingBurstLimit", false)
	clerkRate, clerkBurst := s.paramNumber(t, "ClerkRouteRateLimit", false), s.paramNumber(t, "ClerkRouteBurstLimit", false)
	if clerkRate > rate || clerkBurst > burst {
		t.Errorf("the Clerk routes' defaults (%v/s, burst %v) are not stricter than the stage's (%v/s, burst %v)", clerkRate, clerkBurst, rate, burst)
	}
	if burst < rate || clerkBurst < clerkRate {
		t.Errorf("a burst below its rate (stage %v < %v, Clerk routes %v < %v) refuses requests the rate allows", burst, rate, clerkBurst, clerkRate)
	}
	// A development instance allows 100 requests per 10 s: one busy Clerk
	// route and the paced export together stay within it by default.
	if exportRate := s.paramNumber(t, "ExportRateLimit", false); clerkRate+exportRate > 10 {
		t.Errorf("ClerkRouteRateLimit (%v/s) plus ExportRateLimit (%v/s) exceed a development instance's 10 requests/s", clerkRate, exportRate)
	}
}

// The functions that call Clerk may be given reserved concurrency, off by
// default; the others never are.
func TestReservedConcurrency(t *testing.T) {
	t.Parallel()
	s := template(t)
	for _, l := range functionsOf(t) {
		param := ""
		switch {
		case l.id == exporterID:
			param = "ExportConcurrency"
		case l.secret && l.id != authorizerID:
			param = "ClerkFunctionConcurrency"
		}
		rc := lookup(s.resource(l.id), "Properties", "ReservedConcurrentExecutions")
		if param == "" {
			if rc != nil {
				// The authorizer runs for every authenticated request: a
				// reserved limit there throttles all of them.
				t.Errorf("%s has ReservedConcurrentExecutions %s; only the functions that call Clerk's Backend API get it", l.id, render(rc))
			}
			continue
		}
		for value, want := range map[string]any{"0": noValue, "3": "3"} {
			got, err := with(s.raw, map[string]string{param: value}).value(rc)
			if err != nil || got != want {
				t.Errorf("%s: with %s=%s, ReservedConcurrentExecutions is %v (%v), want %v: "+
					"use !If [<%s is not 0>, !Ref %s, !Ref AWS::NoValue] (0, the default, leaves it unreserved)",
					l.id, param, value, render(got), err, describe(want), param, param)
			}
		}
		if d := s.paramNumber(t, param, false); d != 0 {
			t.Errorf("parameter %s defaults to %v, want 0: an account must keep 100 unreserved, so a default reservation fails small accounts", param, d)
		}
	}
}

// getAttOf is the logical id in v, a !GetAtt <id>.<attr> in either form;
// empty when v is anything else.
func getAttOf(v any, attr string) string {
	switch att := lookup(v, "Fn::GetAtt").(type) {
	case string:
		if id, ok := strings.CutSuffix(att, "."+attr); ok {
			return id
		}
	case []any:
		if len(att) == 2 && att[1] == attr {
			id, _ := att[0].(string)
			return id
		}
	}
	return ""
}

func describe(v any) string {
	if v == noValue {
		return "AWS::NoValue"
	}
	return render(v)
}

var contextVarRE = regexp.MustCompile(`\$context\.[A-Za-z.]+`)

// The stage writes one JSON access log line per request, to a log group with
// a retention, with what an operator needs and nothing a caller sent.
func TestAccessLogs(t *testing.T) {
	t.Parallel()
	s := template(t)
	als := lookup(s.resource(apiID), "Properties", "AccessLogSettings")
	if als == nil {
		t.Fatalf("%s has no AccessLogSettings: requests to the API leave no trace", apiID)
	}
	group := getAttOf(lookup(als, "DestinationArn"), "Arn")
	if g, err := s.typed.GetLogsLogGroupWithName(group); err != nil {
		t.Errorf("AccessLogSettings.DestinationArn is %s, want !GetAtt <an AWS::Logs::LogGroup of the template>.Arn", render(lookup(als, "DestinationArn")))
	} else if g.RetentionInDays == nil || render(lookup(s.resource(group), "Properties", "RetentionInDays")) != "${LogRetentionDays}" {
		t.Errorf("access log group %s: RetentionInDays must be !Ref LogRetentionDays", group)
	}

	format, _ := lookup(als, "Format").(string)
	lower := strings.ToLower(format)
	for _, bad := range []string{"$request.", "header", "querystring", "requestoverride", "$context.path", "$input", "authorization", "$context.identity.user", "$context.identity.caller"} {
		if strings.Contains(lower, bad) {
			t.Errorf("the access log format logs %q: never a header (the bearer token), the query string (e-mail addresses), or anything else a caller wrote", bad)
		}
	}
	if strings.ContainsAny(format, "\n\r") {
		t.Error("the access log format spans lines; CloudWatch would store each line as its own event")
	}
	// Parse it as the JSON it becomes: each variable replaced by its own
	// name, messageString (which API Gateway writes quoted) with quotes.
	vars := map[string]bool{}
	sample := contextVarRE.ReplaceAllStringFunc(format, func(v string) string {
		vars[v] = true
		if strings.HasPrefix(v, "$context.authorizer.") && v != "$context.authorizer.error" {
			t.Errorf("the access log format logs %s, from the authorizer's context: the caller's claims stay out of the access log", v)
		}
		if strings.HasSuffix(v, "String") {
			return `"` + v + `"`
		}
		return v
	})
	var line map[string]any
	if err := json.Unmarshal([]byte(sample), &line); err != nil {
		t.Fatalf("the access log format is not JSON once its variables are filled in (%v):\n%s", err, sample)
	}
	for _, need := range []struct{ what, vars string }{
		{"the route", "$context.routeKey"},
		{"the status", "$context.status"},
		{"the latency", "$context.responseLatency"},
		{"the integration's error", "$context.integrationErrorMessage $context.integration.error"},
		{"the authorizer's error", "$context.authorizer.error"},
		{"the request id (to find the function's log lines)", "$context.requestId"},
	} {
		found := false
		for _, v := range strings.Fields(need.vars) {
			found = found || vars[v]
		}
		if !found {
			t.Errorf("the access log does not record %s (%s)", need.what, need.vars)
		}
	}
}

// alarm is one AWS::CloudWatch::Alarm of the template, raw.
type alarm struct {
	id    string
	props map[string]any
}

// metrics are the alarm's metrics, each as "Namespace MetricName
// Name=Value,...": its one metric, or each metric of its metric math.
func (a alarm) metrics() []string {
	key := func(m any) string {
		var dims []string
		for _, d := range list(lookup(m, "Dimensions")) {
			dims = append(dims, render(lookup(d, "Name"))+"="+render(lookup(d, "Value")))
		}
		sort.Strings(dims)
		return render(lookup(m, "Namespace")) + " " + render(lookup(m, "MetricName")) + " " + strings.Join(dims, ",")
	}
	if a.props["Metrics"] == nil {
		return []string{key(a.props)}
	}
	var out []string
	for _, m := range list(a.props["Metrics"]) {
		if stat := lookup(m, "MetricStat", "Metric"); stat != nil {
			out = append(out, key(stat))
		}
	}
	return out
}

// period is the alarm's Period, or the longest of its metric math's.
func (a alarm) period() float64 {
	p, _ := a.props["Period"].(float64)
	for _, m := range list(a.props["Metrics"]) {
		if q, _ := lookup(m, "MetricStat", "Period").(float64); q > p {
			p = q
		}
	}
	return p
}

// alarms are the template's alarms by each metric they watch.
func (s *stack) alarms() map[string]alarm {
	out := map[string]alarm{}
	for id, r := range s.raw["Resources"].(map[string]any) {
		if lookup(r, "Type") == "AWS::CloudWatch::Alarm" {
			props, _ := lookup(r, "Properties").(map[string]any)
			a := alarm{id: id, props: props}
			for _, m := range a.metrics() {
				out[m] = a
			}
		}
	}
	return out
}

// Every failure class the operations section names has an alarm, all to one
// SNS topic that CloudWatch can publish to, with an optional e-mail.
func TestAlarms(t *testing.T) {
	t.Parallel()
	s := template(t)
	topic := ""
	for id, r := range s.raw["Resources"].(map[string]any) {
		if lookup(r, "Type") == "AWS::SNS::Topic" {
			if topic != "" {
				t.Errorf("the template has two SNS topics (%s, %s); the alarms use one", topic, id)
			}
			topic = id
		}
	}
	if topic == "" {
		t.Fatal("the template has no AWS::SNS::Topic for the alarms")
	}
	// CloudWatch publishes as a service; the AWS managed key's policy cannot
	// let it, so a topic under alias/aws/sns silently receives no alarm.
	if key := render(lookup(s.resource(topic), "Properties", "KmsMasterKeyId")); strings.Contains(key, "alias/aws/sns") {
		t.Errorf("%s is encrypted with the AWS managed key (%s): CloudWatch cannot publish to it, so no alarm would arrive", topic, key)
	}
	subscribed := false
	for id, r := range s.raw["Resources"].(map[string]any) {
		if lookup(r, "Type") != "AWS::SNS::Subscription" || render(lookup(r, "Properties", "TopicArn")) != "${"+topic+"}" {
			continue
		}
		if lookup(r, "Properties", "Protocol") != "email" || render(lookup(r, "Properties", "Endpoint")) != "${AlarmEmail}" {
			t.Errorf("%s: want Protocol email and Endpoint !Ref AlarmEmail", id)
		}
		cond, _ := lookup(r, "Condition").(string)
		for email, want := range map[string]bool{"": false, "ops@example.com": true} {
			if got, err := with(s.raw, map[string]string{"AlarmEmail": email}).condition(cond); err != nil || got != want {
				t.Errorf("%s: with AlarmEmail=%q its Condition %q is %v (%v), want %v", id, email, cond, got, err, want)
			}
		}
		subscribed = true
	}
	if !subscribed {
		t.Errorf("no AWS::SNS::Subscription subscribes AlarmEmail to %s", topic)
	}

	alarms := s.alarms()
	want := map[string]string{}
	for _, id := range s.functionIDs() {
		want["AWS/Lambda Errors FunctionName=${"+id+"}"] = id + " fails"
		want["AWS/Lambda Throttles FunctionName=${"+id+"}"] = id + " is throttled"
	}
	want["AWS/ApiGateway 5xx ApiId=${"+apiID+"}"] = "the API answers 5xx"
	// The metrics the functions write as CloudWatch Embedded Metric Format
	// (shared/metrics): namespace ClerkLambda, each with the recording
	// function's FunctionName, so no other stack's metrics count; Denied
	// also by Reason.
	want["ClerkLambda Denied FunctionName=${"+authorizerID+"},Reason=jwks-unavailable"] = "the authorizer cannot get Clerk's keys"
	want["ClerkLambda ExportSucceeded FunctionName=${"+exporterID+"}"] = "no export succeeds"
	for metric, why := range map[string]string{"ExecutionsFailed": "fails", "ExecutionsTimedOut": "times out", "ExecutionsAborted": "is aborted"} {
		want["AWS/States "+metric+" StateMachineArn=${"+stateMachineID+"}"] = "an export run " + why
	}
	for metric, why := range want {
		if _, ok := alarms[metric]; !ok {
			t.Errorf("no alarm fires when %s (%s)", why, metric)
		}
	}
	for _, a := range alarms {
		if got := render(a.props["AlarmActions"]); got != `[{"Ref":"`+topic+`"}]` {
			t.Errorf("%s: AlarmActions is %s, want [!Ref %s]", a.id, got, topic)
		}
		if a.props["TreatMissingData"] == nil {
			t.Errorf("%s: set TreatMissingData: what an hour without data means is a decision", a.id)
		}
		// PutMetricAlarm: Period x EvaluationPeriods at most 7 days, and at
		// most 1 day for periods under an hour.
		period := a.period()
		evals := s.number(t, a.props["EvaluationPeriods"], true)
		limit := 7 * 24 * time.Hour
		if period < 3600 {
			limit = 24 * time.Hour
		}
		if window := time.Duration(period*evals) * time.Second; window > limit || window <= 0 {
			t.Errorf("%s evaluates %v (Period %v x %v), which CloudWatch refuses (at most %v for this period)", a.id, window, period, evals, limit)
		}
	}

	// No export in ExportAlarmHours: hourly sums of ExportSucceeded, missing
	// data breaching, every one of the periods.
	missed, ok := alarms["ClerkLambda ExportSucceeded FunctionName=${"+exporterID+"}"]
	if !ok {
		return
	}
	p := missed.props
	checks := map[string]string{"Statistic": "Sum", "ComparisonOperator": "LessThanThreshold", "Threshold": "1",
		"TreatMissingData": "breaching", "EvaluationPeriods": "${ExportAlarmHours}", "DatapointsToAlarm": "${ExportAlarmHours}"}
	for k, v := range checks {
		if got := render(p[k]); got != v {
			t.Errorf("%s: %s is %s, want %s (an hour without a successful export counts against it)", missed.id, k, got, v)
		}
	}
	period, _ := p["Period"].(float64)
	if window := time.Duration(period*s.paramNumber(t, "ExportAlarmHours", false)) * time.Second; window < 25*time.Hour {
		t.Errorf("%s: by default it fires after %v without an export; the daily export needs more than a day", missed.id, window)
	}
}

// number evaluates a literal or a !Ref to a Number parameter (its default,
// or its MaxValue when max).
func (s *stack) number(t *testing.T, v any, max bool) float64 {
	t.Helper()
	if n, ok := v.(float64); ok {
		return n
	}
	if ref, ok := lookup(v, "Ref").(string); ok {
		return s.paramNumber(t, ref, max)
	}
	t.Errorf("%s is neither a number nor a !Ref to a Number parameter", render(v))
	return 0
}

// maxRun is the longest run the export's lease allows for (exportrun.MaxRun;
// this module does not link the S3 client it uses).
const maxRun = 15 * time.Minute

// A run's lease outlives the run: the export's timeout is at most the
// longest run the lease allows for, so a live run's lease never expires and
// a second run cannot start beside it.
func TestRunLeaseOutlivesARun(t *testing.T) {
	t.Parallel()
	s := template(t)
	timeout := time.Duration(s.number(t, lookup(s.resource(exporterID), "Properties", "Timeout"), true)) * time.Second
	if timeout <= 0 || timeout > maxRun {
		t.Errorf("%s's Timeout is %v; the run lease allows for runs of at most %v (exportrun.MaxRun)", exporterID, timeout, maxRun)
	}
}

// The lifecycle rule expires old exports but never latest.json, the
// manifest that names the newest one and that each run replaces.
func TestExportLifecycleKeepsLatest(t *testing.T) {
	t.Parallel()
	s := template(t)
	prefix, err := settings.CleanPrefix(render(s.env(exporterID)["EXPORT_PREFIX"]))
	if err != nil {
		t.Fatalf("%s: EXPORT_PREFIX: %v", exporterID, err)
	}
	latest := prefix + "/latest.json" // export.LatestName
	// The keys shared/export writes: PREFIX/YYYY/MM/DD/users-<run id>.jsonl.gz.
	var dated []string
	for _, day := range []time.Time{time.Date(2026, 12, 1, 3, 4, 5, 0, time.UTC), time.Date(2099, 1, 2, 0, 0, 0, 0, time.UTC)} {
		dated = append(dated, fmt.Sprintf("%s/%s/users-%s.jsonl.gz", prefix, day.Format("2006/01/02"), day.Format("20060102T150405.000Z")))
	}
	expired := map[string]bool{}
	for _, r := range list(lookup(s.resource(exportBucketID), "Properties", "LifecycleConfiguration", "Rules")) {
		if lookup(r, "Status") != "Enabled" || (lookup(r, "ExpirationInDays") == nil && lookup(r, "ExpirationDate") == nil) {
			continue
		}
		for _, k := range []string{"TagFilters", "ObjectSizeGreaterThan", "ObjectSizeLessThan"} {
			if lookup(r, k) != nil {
				t.Errorf("lifecycle rule %s filters on %s; the export writes no tags and its sizes vary: filter on the dated keys' prefix", render(lookup(r, "Id")), k)
			}
		}
		p, _ := lookup(r, "Prefix").(string)
		for _, key := range append(dated, latest) {
			if strings.HasPrefix(key, p) {
				expired[key] = true
			}
		}
	}
	if expired[latest] {
		t.Errorf("a lifecycle rule expires %s: once it goes, the export has no manifest until the next run; "+
			"give the expiring rule the Prefix of the dated keys (%s/2)", latest, prefix)
	}
	for _, key := range dated {
		if !expired[key] {
			t.Errorf("no enabled lifecycle rule expires %s: exports (user data) would be kept forever", key)
		}
	}
}

// The local API (make dev) reads the authorizer's TTL from the same
// template, through its own resolver: it must agree with the deployment.
func TestLocalAPIReadsTemplateSettings(t *testing.T) {
	t.Parallel()
	s := template(t)
	api, err := apispec.Load(filepath.Join(repoRoot(t), "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	want := time.Duration(s.paramNumber(t, "AuthorizerCacheTtl", false)) * time.Second
	for _, r := range api.Routes {
		if r.Authorizer != nil && r.Authorizer.TTL != want {
			t.Errorf("the local API caches %s's authorizer answers for %v, the deployed one for %v (AuthorizerCacheTtl's default)", r.Key(), r.Authorizer.TTL, want)
		}
	}
	if got := api.Functions["MeFunction"].Env[settings.MeCacheTTLName]; got != fmt.Sprintf("%gs", s.paramNumber(t, "MeCacheTtl", false)) {
		t.Errorf("the local API gives MeFunction %s=%q, want MeCacheTtl's default in seconds", settings.MeCacheTTLName, got)
	}
}

// The quota settings the functions read come from parameters whose
// defaults are the functions' own.
func TestQuotaSettings(t *testing.T) {
	t.Parallel()
	s := template(t)
	if got := render(s.env("MeFunction")[settings.MeCacheTTLName]); got != "${MeCacheTtl}s" {
		t.Errorf("MeFunction: %s is %s, want !Sub ${MeCacheTtl}s", settings.MeCacheTTLName, got)
	}
	if d := time.Duration(s.paramNumber(t, "MeCacheTtl", false) * float64(time.Second)); d != settings.DefaultMeCacheTTL {
		t.Errorf("MeCacheTtl defaults to %v, the function to %v", d, settings.DefaultMeCacheTTL)
	}
	if max := time.Duration(s.paramNumber(t, "MeCacheTtl", true)) * time.Second; max > 10*time.Minute {
		t.Errorf("MeCacheTtl allows %v; the function refuses more than 10m at start", max)
	}
	if got := render(s.env(exporterID)[settings.APIRateLimitName]); got != "${ExportRateLimit}" {
		t.Errorf("%s: %s is %s, want !Ref ExportRateLimit", exporterID, settings.APIRateLimitName, got)
	}
	if d := s.paramNumber(t, "ExportRateLimit", false); d != settings.DefaultBatchRateLimit {
		t.Errorf("ExportRateLimit defaults to %v, the export to %v", d, settings.DefaultBatchRateLimit)
	}
	if max := s.paramNumber(t, "ExportRateLimit", true); max > 100 {
		t.Errorf("ExportRateLimit allows %v requests/s; the functions refuse more than 100 at start", max)
	}
}
