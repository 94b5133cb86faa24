// Package lambdaevents gives tests aws-lambda-go's own sample events (the
// files in its events/testdata folder, in the version the test's module
// uses) and checks the project's event fixtures against them: a fixture
// must fill the same fields of the aws-lambda-go type as AWS's sample, so
// that neither can drift from the other unnoticed.
//
// It is the one place that looks for the aws-lambda-go module on disk.
package lambdaevents

import (
	"bytes"
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
)

// Module is the module whose samples Sample reads.
const Module = "github.com/aws/aws-lambda-go"

var (
	once    sync.Once
	dir     string // the samples' folder
	skip    string // why tests needing a sample are skipped, or ""
	findErr error
)

// Sample is the content of aws-lambda-go's sample event name (such as
// "apigw-v2-request-lambda-authorizer.json"). The module's folder is found
// once per test binary, by asking the go command from the test's folder;
// without a go command on PATH the test is skipped.
func Sample(t testing.TB, name string) []byte {
	t.Helper()
	once.Do(func() { dir, skip, findErr = locate() })
	if skip != "" {
		t.Skip(skip)
	}
	if findErr != nil {
		t.Fatal(findErr)
	}
	raw, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatalf("aws-lambda-go sample: %v", err)
	}
	return raw
}

// locate finds the samples' folder of the module in use where the test
// runs, or says why it cannot be looked for.
func locate() (folder, skip string, err error) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		return "", "the go command is not on PATH, so aws-lambda-go's sample events cannot be found", nil
	}
	cmd := exec.Command(goTool, "list", "-m", "-f", "{{.Dir}}", Module)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", "", fmt.Errorf("go list -m %s: %v: %s", Module, err, strings.TrimSpace(stderr.String()))
	}
	moduleDir := strings.TrimSpace(string(out))
	if moduleDir == "" {
		return "", "", fmt.Errorf("go list -m %s: the module is not in the module cache (go mod download fetches it)", Module)
	}
	return filepath.Join(moduleDir, "events", "testdata"), "", nil
}

// SameFields checks that fixture, the project's event, and aws-lambda-go's
// sample of the same shape both decode into T and fill the same fields of
// it. The fixture is decoded strictly: a key T has no field for fails too.
func SameFields[T any](t testing.TB, fixture []byte, sample string) {
	t.Helper()
	onlyOurs, onlyAWS, err := compare[T](fixture, Sample(t, sample))
	if err != nil {
		t.Fatalf("against %s: %v", sample, err)
	}
	if len(onlyOurs) > 0 || len(onlyAWS) > 0 {
		t.Errorf("the fixture and aws-lambda-go's %s fill different fields of %T: only the fixture %v, only the sample %v",
			sample, *new(T), onlyOurs, onlyAWS)
	}
}

// compare decodes both events into T and returns the fields only one of
// them fills.
func compare[T any](fixture, sample []byte) (onlyFixture, onlySample []string, err error) {
	var ours, theirs T
	dec := json.NewDecoder(bytes.NewReader(fixture))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&ours); err != nil {
		return nil, nil, fmt.Errorf("the fixture does not decode as %T: %w", ours, err)
	}
	if dec.More() {
		return nil, nil, errors.New("the fixture holds more than one JSON value")
	}
	var generic any
	if err := json.Unmarshal(fixture, &generic); err != nil {
		return nil, nil, err
	}
	if err := exactKeys(reflect.TypeFor[T](), generic, ""); err != nil {
		return nil, nil, fmt.Errorf("the fixture does not decode as %T: %w", ours, err)
	}
	if err := json.Unmarshal(sample, &theirs); err != nil {
		return nil, nil, fmt.Errorf("the sample does not decode as %T: %w", theirs, err)
	}
	a, b := Populated(ours), Populated(theirs)
	return without(a, b), without(b, a), nil
}

// exactKeys checks that every key of v, decoded from JSON, is spelt as the
// field of t it decodes into: encoding/json matches keys regardless of case,
// and API Gateway does not send "sourceIP" for "sourceIp".
func exactKeys(t reflect.Type, v any, path string) error {
	t = deref(t)
	switch t.Kind() {
	case reflect.Struct:
		obj, ok := v.(map[string]any)
		if !ok || !isStruct(t) {
			return nil
		}
		fields := jsonFields(t)
		for key, value := range obj {
			f, ok := fields[key]
			if !ok {
				return fmt.Errorf("key %s%s is not spelt as a field of %s", path, key, t)
			}
			if err := exactKeys(f.Type, value, path+key+"."); err != nil {
				return err
			}
		}
	case reflect.Map, reflect.Slice, reflect.Array:
		elem := t.Elem()
		switch vv := v.(type) {
		case map[string]any:
			for key, value := range vv {
				if err := exactKeys(elem, value, path+key+"."); err != nil {
					return err
				}
			}
		case []any:
			for i, value := range vv {
				if err := exactKeys(elem, value, fmt.Sprintf("%s%d.", path, i)); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// jsonFields maps the JSON names of t's fields, promoted ones included, to
// the fields.
func jsonFields(t reflect.Type) map[string]reflect.StructField {
	out := map[string]reflect.StructField{}
	for i := range t.NumField() {
		f := t.Field(i)
		name, promoted := jsonName(f)
		if promoted {
			for k, v := range jsonFields(deref(f.Type)) {
				if _, shadowed := out[k]; !shadowed {
					out[k] = v
				}
			}
		}
		if name != "" {
			out[name] = f
		}
	}
	return out
}

func deref(t reflect.Type) reflect.Type {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t
}

// without is the members of a not in b.
func without(a, b []string) []string {
	var out []string
	for _, s := range a {
		if !slices.Contains(b, s) {
			out = append(out, s)
		}
	}
	return out
}

// Populated lists, sorted, the JSON paths ("requestContext.http.method") of
// the fields of v, a struct or a pointer to one, that hold a value: a
// non-zero scalar, or a map, slice or raw message that was present at all,
// even empty. Nested structs are listed by their fields; one with none
// filled, by its own path.
func Populated(v any) []string {
	var out []string
	walk("", reflect.ValueOf(v), &out)
	slices.Sort(out)
	return out
}

var textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()
var jsonUnmarshaler = reflect.TypeFor[json.Unmarshaler]()

func walk(prefix string, v reflect.Value, out *[]string) {
	for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
		if v.IsNil() {
			return
		}
		v = v.Elem()
	}
	for i := range v.NumField() {
		f, fv := v.Type().Field(i), v.Field(i)
		name, promoted := jsonName(f)
		if promoted {
			walk(prefix, fv, out)
		}
		if name == "" || fv.IsZero() {
			continue
		}
		path := prefix + name
		if !isStruct(f.Type) {
			*out = append(*out, path)
			continue
		}
		n := len(*out)
		walk(path+".", fv, out)
		if len(*out) == n {
			*out = append(*out, path)
		}
	}
}

// jsonName is the key encoding/json reads field f from, or "" for none;
// promoted reports an embedded struct whose fields it reads as the outer
// struct's.
func jsonName(f reflect.StructField) (name string, promoted bool) {
	name, _, _ = strings.Cut(f.Tag.Get("json"), ",")
	switch {
	case f.Anonymous && name == "" && isStruct(f.Type):
		return "", true
	case !f.IsExported() || name == "-":
		return "", false
	case name == "":
		return f.Name, false
	}
	return name, false
}

// isStruct reports whether fields of type t are walked into: structs, and
// pointers to them, that decode field by field rather than by a method of
// their own (as time.Time does).
func isStruct(t reflect.Type) bool {
	t = deref(t)
	if t.Kind() != reflect.Struct {
		return false
	}
	p := reflect.PointerTo(t)
	return !p.Implements(jsonUnmarshaler) && !p.Implements(textUnmarshaler)
}
