package apispec

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSecurityHeaders(t *testing.T) {
	t.Parallel()
	got, err := SecurityHeaders("../../template.yaml", map[string]string{
		"ClerkFrontendApiHost": "clerk.example.com", "Api": "abc123", "AWS::Region": "eu-west-1", "AWS::URLSuffix": "amazonaws.com"})
	if errorsIsNotExist(err) {
		t.Skip("no template.yaml")
	}
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{
		"Strict-Transport-Security": "max-age=31536000; includeSubDomains",
		"X-Content-Type-Options":    "nosniff",
		"X-Frame-Options":           "DENY",
		"Referrer-Policy":           "strict-origin-when-cross-origin",
	} {
		if got[name] != want {
			t.Errorf("%s: %q, want %q", name, got[name], want)
		}
	}
	csp := got["Content-Security-Policy"]
	for _, want := range []string{"default-src 'self';", "script-src 'self' https://clerk.example.com;",
		"connect-src 'self' https://clerk.example.com https://abc123.execute-api.eu-west-1.amazonaws.com;", "img-src 'self' https://img.clerk.com;"} {
		if !strings.Contains(csp, want) {
			t.Errorf("Content-Security-Policy %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "\n") || strings.Contains(csp, "${") {
		t.Errorf("Content-Security-Policy %q is not one resolved line", csp)
	}
}

func TestSecurityHeadersNone(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := filepath.Join(dir, "template.yaml")
	if err := os.WriteFile(file, []byte("Resources:\n  B:\n    Type: AWS::S3::Bucket\n    Properties:\n      BucketName: !Sub ${AWS::StackName}-b\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := SecurityHeaders(file, nil)
	if err != nil || len(got) != 0 {
		t.Errorf("a template without a policy: %v, %v; want no headers", got, err)
	}
	policy := "Parameters:\n  Host:\n    Type: String\n    Default: d.example\nResources:\n  P:\n    Type: AWS::CloudFront::ResponseHeadersPolicy\n    Properties:\n      ResponseHeadersPolicyConfig:\n        Name: p\n        SecurityHeadersConfig:\n          ContentSecurityPolicy:\n            Override: true\n            ContentSecurityPolicy: !Sub \"default-src https://${Host} ${Other}\"\n"
	if err := os.WriteFile(file, []byte(policy), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := SecurityHeaders(file, nil); err == nil || !strings.Contains(err.Error(), "Other") {
		t.Errorf("an unknown variable: %v, want an error naming it", err)
	}
	got, err = SecurityHeaders(file, map[string]string{"Other": "x"})
	if want := "default-src https://d.example x"; err != nil || got["Content-Security-Policy"] != want {
		t.Errorf("got %v, %v; want the parameter's default and the given value: %q", got, err, want)
	}
}

func errorsIsNotExist(err error) bool { return err != nil && os.IsNotExist(err) }
