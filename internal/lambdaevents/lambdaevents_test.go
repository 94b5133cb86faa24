package lambdaevents

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

type inner struct {
	Method string `json:"method"`
	Port   int    `json:"port"`
}

type base struct {
	ID string `json:"id"`
}

type event struct {
	base
	Version  string            `json:"version"`
	Headers  map[string]string `json:"headers,omitempty"`
	Cookies  []string          `json:"cookies"`
	HTTP     inner             `json:"http"`
	Auth     *inner            `json:"authorizer,omitempty"`
	Time     time.Time         `json:"time"`
	Detail   json.RawMessage   `json:"detail"`
	Context  map[string]any    `json:"context"`
	Untagged string
	Skipped  string `json:"-"`
	hidden   string
}

func TestPopulated(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		json string
		want []string
	}{
		{name: "nothing", json: `{}`},
		{name: "zero values are not filled", json: `{"version":"","http":{"port":0},"cookies":null}`},
		{name: "empty maps, lists and objects are", json: `{"headers":{},"cookies":[],"detail":{},"authorizer":{}}`,
			want: []string{"authorizer", "cookies", "detail", "headers"}},
		{name: "nested fields by path", json: `{"http":{"method":"GET"},"authorizer":{"port":443}}`,
			want: []string{"authorizer.port", "http.method"}},
		{name: "embedded fields at the top, untagged by name, a time as one value",
			json: `{"id":"e-1","Untagged":"x","time":"2026-01-02T03:04:05Z","context":{"a":1}}`,
			want: []string{"Untagged", "context", "id", "time"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var e event
			if err := json.Unmarshal([]byte(tt.json), &e); err != nil {
				t.Fatal(err)
			}
			e.Skipped, e.hidden = "ignored", "ignored"
			if got := Populated(&e); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Populated(%s) = %q, want %q", tt.json, got, tt.want)
			}
		})
	}
}

func TestCompare(t *testing.T) {
	t.Parallel()
	sample := `{"version":"2.0","http":{"method":"POST"},"cookies":["a=1"]}`
	tests := []struct {
		name, fixture       string
		onlyOurs, onlyTheir []string
		err                 string
	}{
		{name: "same fields, other values", fixture: `{"version":"2.0","http":{"method":"GET"},"cookies":["theme=dark","b=2"]}`},
		{name: "a field missing", fixture: `{"version":"2.0","http":{"method":"GET"}}`, onlyTheir: []string{"cookies"}},
		{name: "a field more", fixture: `{"version":"2.0","http":{"method":"GET","port":443},"cookies":["a=1"]}`, onlyOurs: []string{"http.port"}},
		{name: "a misspelt key", fixture: `{"version":"2.0","http":{"methd":"GET"},"cookies":["a=1"]}`, err: `unknown field "methd"`},
		{name: "a key in another case", fixture: `{"version":"2.0","http":{"Method":"GET"},"cookies":["a=1"]}`, err: "key http.Method is not spelt as a field"},
		{name: "a promoted key in another case", fixture: `{"ID":"e-1","version":"2.0","http":{"method":"GET"},"cookies":["a=1"]}`, err: "key ID is not spelt"},
		{name: "two values", fixture: `{"version":"2.0"} {}`, err: "more than one JSON value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ours, theirs, err := compare[event]([]byte(tt.fixture), []byte(sample))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want one containing %q", err, tt.err)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(ours, tt.onlyOurs) || !reflect.DeepEqual(theirs, tt.onlyTheir) {
				t.Errorf("compare = %q, %q, %v; want %q, %q", ours, theirs, err, tt.onlyOurs, tt.onlyTheir)
			}
		})
	}
}

// TestSample reads a sample from the aws-lambda-go module this module uses.
func TestSample(t *testing.T) {
	t.Parallel()
	var e struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(Sample(t, "apigw-custom-auth-request.json"), &e); err != nil || e.Type != "TOKEN" {
		t.Fatalf("sample = %+v, %v; want the TOKEN authorizer event", e, err)
	}
	if !strings.Contains(dir, "aws-lambda-go") || filepath.Base(dir) != "testdata" {
		t.Errorf("samples found in %s", dir)
	}
}

// TestWithoutTheGoCommand cannot run in parallel: it empties PATH.
func TestWithoutTheGoCommand(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	folder, skip, err := locate()
	if folder != "" || err != nil || skip == "" || strings.Contains(skip, "\n") {
		t.Fatalf("locate() = %q, %q, %v; want a one-line reason to skip", folder, skip, err)
	}
}

// TestModuleWithoutAWSLambdaGo reports go list's own words when the module
// in use does not require aws-lambda-go.
func TestModuleWithoutAWSLambdaGo(t *testing.T) {
	tmp := t.TempDir()
	t.Chdir(tmp)
	t.Setenv("GOWORK", "off")
	t.Setenv("GOFLAGS", "")
	t.Setenv("GOPROXY", "off")
	if err := os.WriteFile(filepath.Join(tmp, "go.mod"), []byte("module example.com/none\n\ngo 1.22\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, skip, err := locate()
	if skip != "" {
		t.Skip(skip)
	}
	if err == nil || !strings.Contains(err.Error(), Module) {
		t.Fatalf("err = %v, want go list's error naming %s", err, Module)
	}
}
