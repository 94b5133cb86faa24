package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"text/template"

	"clerk-lambda/internal/functions"
)

// route is a route to add: functions/<name> serves method path.
type route struct {
	name, method, path string
}

var (
	routeName  = regexp.MustCompile(`^[a-z][a-z0-9]*(-[a-z0-9]+)*$`)
	routePath  = regexp.MustCompile(`^(/[A-Za-z0-9._~-]+|/\{[A-Za-z][A-Za-z0-9_]*\})+$`)
	routeVerbs = map[string]bool{"GET": true, "POST": true, "PUT": true, "PATCH": true, "DELETE": true}
)

// parseRoute checks a name such as hello and a route such as "GET /hello".
func parseRoute(name, key string) (route, error) {
	if !routeName.MatchString(name) {
		return route{}, fmt.Errorf("%q is not a folder name: use lower-case letters, digits and single dashes, such as hello or order-status", name)
	}
	method, path, ok := strings.Cut(strings.TrimSpace(key), " ")
	method, path = strings.ToUpper(method), strings.TrimSpace(path)
	if !ok || !routeVerbs[method] {
		return route{}, fmt.Errorf("%q is not a route: use METHOD /path, such as 'GET /hello' (GET, POST, PUT, PATCH or DELETE)", key)
	}
	if !routePath.MatchString(path) {
		return route{}, fmt.Errorf("%q is not a route path: use segments such as /hello or /orders/{id}", path)
	}
	return route{name: name, method: method, path: path}, nil
}

// id is the function's logical id: hello gives HelloFunction, order-status
// OrderStatusFunction.
func (r route) id() string {
	var b strings.Builder
	for part := range strings.SplitSeq(r.name, "-") {
		b.WriteString(strings.ToUpper(part[:1]) + part[1:])
	}
	return b.String() + "Function"
}

func (r route) key() string { return r.method + " " + r.path }

// logGroup is the logical id of the function's log group.
func (r route) logGroup() string { return strings.TrimSuffix(r.id(), "Function") + "LogGroup" }

// scaffold writes the function's folder and adds its resources to the
// template: the function, its log group, and its errors and throttles
// alarms, as every function of the template has. Nothing is written when the folder or the logical id exists.
func scaffold(root string, r route) error {
	file := filepath.Join(root, functions.File)
	tmpl, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	fns, err := functions.Parse(tmpl)
	if err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	if _, taken := functions.Find(fns, r.id()); taken {
		return fmt.Errorf("%s already declares %s", functions.File, r.id())
	}
	dir := filepath.Join(root, "functions", r.name)
	if _, err := os.Stat(dir); err == nil {
		return fmt.Errorf("functions/%s already exists", r.name)
	}
	updated, err := withResource(tmpl, render(resourceTemplate, r))
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for name, text := range map[string]string{"main.go": mainTemplate, "main_test.go": testTemplate} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(render(text, r)), 0o644); err != nil {
			return err
		}
	}
	return os.WriteFile(file, updated, 0o644)
}

// withResource inserts resource at the end of the template's Resources: just
// before the next top-level section, or at the end of the file.
func withResource(tmpl []byte, resource string) ([]byte, error) {
	lines := strings.SplitAfter(string(tmpl), "\n")
	start := -1
	for i, l := range lines {
		if strings.TrimRight(l, "\r\n") == "Resources:" {
			start = i
			break
		}
	}
	if start < 0 {
		return nil, errors.New(functions.File + " has no top-level Resources: section")
	}
	end := len(lines)
	for i := start + 1; i < len(lines); i++ {
		l := lines[i]
		if l != "" && l[0] != ' ' && l[0] != '#' && strings.TrimSpace(l) != "" {
			end = i
			break
		}
	}
	// Step back over blank lines and comments that introduce the next section.
	for end > start+1 && (strings.TrimSpace(lines[end-1]) == "" || strings.HasPrefix(lines[end-1], "#")) {
		end--
	}
	var b bytes.Buffer
	for _, l := range lines[:end] {
		b.WriteString(l)
	}
	if b.Len() > 0 && !bytes.HasSuffix(b.Bytes(), []byte("\n")) {
		b.WriteByte('\n')
	}
	b.WriteString("\n" + resource)
	for _, l := range lines[end:] {
		b.WriteString(l)
	}
	return b.Bytes(), nil
}

func render(text string, r route) string {
	var b strings.Builder
	t := template.Must(template.New("").Delims("[[", "]]").Parse(text))
	_ = t.Execute(&b, map[string]any{
		"Name": r.name, "ID": r.id(), "LogGroup": r.logGroup(), "Alarm": strings.TrimSuffix(r.id(), "Function"), "Method": r.method, "Path": r.path, "Key": r.key(),
		"Event":  strings.ToUpper(r.method[:1]) + strings.ToLower(r.method[1:]),
		"Alarms": alarms(r),
	})
	return b.String()
}

// alarm is one of the AWS/Lambda alarms every function has.
type alarm struct{ Metric, Suffix, Description string }

func alarms(r route) []alarm {
	return []alarm{
		{"Errors", "errors", r.id() + " returned errors (" + r.key() + " failed). See its log group."},
		{"Throttles", "throttles", "Lambda refused to run " + r.id() + " (its reserved concurrency or the account's is used up)."},
	}
}

const resourceTemplate = `  # [[.Key]]: functions/[[.Name]], for signed-in callers.
  [[.ID]]:
    Type: AWS::Serverless::Function
    Metadata:
      BuildMethod: makefile
      Package: ./functions/[[.Name]]
    Properties:
      Description: [[.Key]], for signed-in callers.
      LoggingConfig:
        LogGroup: !Ref [[.LogGroup]]
      Events:
        [[.Event]]:
          Type: HttpApi
          Properties:
            ApiId: !Ref Api
            Path: [[.Path]]
            Method: [[.Method]]
  [[.LogGroup]]:
    Type: AWS::Logs::LogGroup
    Properties:
      LogGroupName: !Sub /aws/lambda/${AWS::StackName}/[[.ID]]
      RetentionInDays: !Ref LogRetentionDays
[[- range .Alarms]]
  [[$.Alarm]][[.Metric]]Alarm:
    Type: AWS::CloudWatch::Alarm
    Properties:
      AlarmName: !Sub ${AWS::StackName}-[[$.ID]]-[[.Suffix]]
      AlarmDescription: [[.Description]]
      Namespace: AWS/Lambda
      MetricName: [[.Metric]]
      Dimensions:
        - Name: FunctionName
          Value: !Ref [[$.ID]]
      Statistic: Sum
      Period: 300
      EvaluationPeriods: 1
      Threshold: 1
      ComparisonOperator: GreaterThanOrEqualToThreshold
      TreatMissingData: notBreaching
      AlarmActions: [!Ref AlarmTopic]
      OKActions: [!Ref AlarmTopic]
[[- end]]
`

const mainTemplate = `// Command [[.Name]] answers [[.Key]] for signed-in callers: the
// authorizer has verified their Clerk session token, and the route reads
// who they are from the claims it passed on.
package main

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"

	"clerk-lambda/shared/identity"
	"clerk-lambda/shared/respond"
	"clerk-lambda/shared/settings"
	"clerk-lambda/shared/startup"
)

func main() {
	h := startup.Init("[[.Name]]", newHandler)
	lambda.Start(h.handle)
}

type handler struct {
	ids identity.Reader
	log *slog.Logger
}

// newHandler reads the route's settings: CLERK_CLOCK_SKEW, the leeway on the
// token's expiry.
func newHandler(get settings.Lookup, logger *slog.Logger) (*handler, error) {
	skew, err := settings.ClockSkew(get)
	if err != nil {
		return nil, err
	}
	return &handler{ids: identity.Reader{Leeway: skew}, log: logger}, nil
}

// reply is the body of [[.Key]].
type reply struct {
	Message string ` + "`json:\"message\"`" + `
	UserID  string ` + "`json:\"userId\"`" + `
}

func (h *handler) handle(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	id, err := h.ids.HTTP(req)
	if err != nil {
		res := respond.IdentityRefused(err)
		h.log.InfoContext(ctx, "refused", "status", res.StatusCode, "error", err.Error())
		return res, nil
	}
	h.log.InfoContext(ctx, "[[.Key]]", "status", http.StatusOK, "userId", id.UserID)
	return respond.JSON(http.StatusOK, reply{Message: "Hello from [[.Key]].", UserID: id.UserID}), nil
}
`

const testTemplate = `package main

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"clerk-lambda/shared/logging"
	"clerk-lambda/shared/settings"
)

// request is [[.Key]] as API Gateway delivers it after the authorizer
// allowed a token for user_123 that expires at exp.
func request(exp time.Time) events.APIGatewayV2HTTPRequest {
	return events.APIGatewayV2HTTPRequest{
		RouteKey: "[[.Key]]",
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			Authorizer: &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{
				Lambda: map[string]any{"userId": "user_123", "sessionId": "sess_1", "exp": strconv.FormatInt(exp.Unix(), 10)},
			},
		},
	}
}

func TestSignedInCaller(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	h, err := newHandler(settings.Map(nil), logging.New(&logs, slog.LevelInfo))
	if err != nil {
		t.Fatal(err)
	}
	res, err := h.handle(context.Background(), request(time.Now().Add(time.Minute)))
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("got %d %s, %v; want 200", res.StatusCode, res.Body, err)
	}
	var body reply
	if err := json.Unmarshal([]byte(res.Body), &body); err != nil || body.UserID != "user_123" {
		t.Fatalf("body = %s, want the caller's user id", res.Body)
	}
}

func TestExpiredAuthorization(t *testing.T) {
	t.Parallel()
	h, err := newHandler(settings.Map(nil), logging.New(&bytes.Buffer{}, slog.LevelInfo))
	if err != nil {
		t.Fatal(err)
	}
	res, _ := h.handle(context.Background(), request(time.Now().Add(-time.Hour)))
	if res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("got %d %s, want 401 for an authorization that outlived its token", res.StatusCode, res.Body)
	}
}

func TestBadClockSkewStopsTheFunction(t *testing.T) {
	t.Parallel()
	if _, err := newHandler(settings.Map(map[string]string{"CLERK_CLOCK_SKEW": "abc"}), nil); err == nil {
		t.Fatal("CLERK_CLOCK_SKEW=abc was accepted")
	}
}
`
