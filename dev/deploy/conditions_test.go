package deploy

import (
	"fmt"
	"maps"
	"strconv"
	"testing"
)

// noValue is what a !Ref AWS::NoValue evaluates to: the property is absent.
type noValueType struct{}

var noValue = noValueType{}

// deployment is one set of parameter values for a template (raw tree, with
// intrinsics in their long form), against which conditions and the
// intrinsics that depend on them are evaluated as CloudFormation would:
// every parameter is a string, and Fn::Equals compares strings.
type deployment struct {
	params     map[string]string
	conditions map[string]any
}

// with is the template's parameter defaults with overrides applied.
func with(tmpl map[string]any, overrides map[string]string) deployment {
	d := deployment{params: map[string]string{}}
	params, _ := tmpl["Parameters"].(map[string]any)
	for name, p := range params {
		if def := lookup(p, "Default"); def != nil {
			d.params[name] = scalarString(def)
		}
	}
	maps.Copy(d.params, overrides)
	d.conditions, _ = tmpl["Conditions"].(map[string]any)
	return d
}

func scalarString(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(v)
	}
	return fmt.Sprint(v)
}

// condition evaluates the named condition.
func (d deployment) condition(name string) (bool, error) {
	c, ok := d.conditions[name]
	if !ok {
		return false, fmt.Errorf("no condition %s", name)
	}
	return d.truth(c)
}

func (d deployment) truth(c any) (bool, error) {
	m, ok := c.(map[string]any)
	if !ok || len(m) != 1 {
		return false, fmt.Errorf("not a condition: %s", render(c))
	}
	for fn, arg := range m {
		args, _ := arg.([]any)
		switch fn {
		case "Condition":
			name, _ := arg.(string)
			return d.condition(name)
		case "Fn::Equals":
			if len(args) != 2 {
				return false, fmt.Errorf("Fn::Equals takes 2 values: %s", render(c))
			}
			a, err := d.value(args[0])
			if err != nil {
				return false, err
			}
			b, err := d.value(args[1])
			if err != nil {
				return false, err
			}
			return scalarString(a) == scalarString(b), nil
		case "Fn::Not":
			if len(args) != 1 {
				return false, fmt.Errorf("Fn::Not takes 1 condition: %s", render(c))
			}
			t, err := d.truth(args[0])
			return !t, err
		case "Fn::And", "Fn::Or":
			all := fn == "Fn::And"
			for _, a := range args {
				t, err := d.truth(a)
				if err != nil {
					return false, err
				}
				if t != all {
					return t, nil
				}
			}
			return all, nil
		}
		return false, fmt.Errorf("condition function %s is not evaluated here", fn)
	}
	return false, nil
}

// value evaluates Ref (to parameters and AWS::NoValue), Fn::Join of
// strings and Fn::If in v; anything else is returned as it is.
func (d deployment) value(v any) (any, error) {
	m, ok := v.(map[string]any)
	if !ok || len(m) != 1 {
		return v, nil
	}
	if ref, ok := m["Ref"].(string); ok {
		if ref == "AWS::NoValue" {
			return noValue, nil
		}
		if p, ok := d.params[ref]; ok {
			return p, nil
		}
		return v, nil
	}
	if args, ok := m["Fn::If"].([]any); ok {
		if len(args) != 3 {
			return nil, fmt.Errorf("Fn::If takes 3 arguments: %s", render(v))
		}
		name, _ := args[0].(string)
		t, err := d.condition(name)
		if err != nil {
			return nil, err
		}
		if t {
			return d.value(args[1])
		}
		return d.value(args[2])
	}
	if args, ok := m["Fn::Join"].([]any); ok && len(args) == 2 {
		sep, _ := args[0].(string)
		parts, err := d.value(args[1])
		if err != nil {
			return nil, err
		}
		if s, ok := parts.(string); ok { // a CommaDelimitedList parameter
			return s, nil
		}
		out := ""
		for i, p := range list(parts) {
			p, err := d.value(p)
			if err != nil {
				return nil, err
			}
			if i > 0 {
				out += sep
			}
			out += scalarString(p)
		}
		return out, nil
	}
	return v, nil
}

func TestDeploymentEvaluator(t *testing.T) {
	t.Parallel()
	tmpl := map[string]any{
		"Parameters": map[string]any{"N": map[string]any{"Type": "Number", "Default": float64(0)}},
		"Conditions": map[string]any{
			"IsZero":  map[string]any{"Fn::Equals": []any{map[string]any{"Ref": "N"}, "0"}},
			"NotZero": map[string]any{"Fn::Not": []any{map[string]any{"Condition": "IsZero"}}},
		},
	}
	v := map[string]any{"Fn::If": []any{"NotZero", map[string]any{"Ref": "N"}, map[string]any{"Ref": "AWS::NoValue"}}}
	for n, want := range map[string]any{"0": noValue, "3": "3"} {
		got, err := with(tmpl, map[string]string{"N": n}).value(v)
		if err != nil || got != want {
			t.Errorf("N=%s: %v (%v), want %v", n, got, err, want)
		}
	}
}
