package statemachine

import (
	"fmt"
	"regexp"
	"strings"
)

// path is a JSONPath of the simple forms the runner reads: $ (the whole
// value) or $.a.b (fields of objects, one level each). A ResultPath or
// OutputPath of null is a path that is null.
type path struct {
	keys []string
	null bool
}

// field is one step of a path.
var field = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

func parsePath(s string) (path, error) {
	if s == "$" {
		return path{}, nil
	}
	rest, ok := strings.CutPrefix(s, "$.")
	keys := strings.Split(rest, ".")
	for _, k := range keys {
		ok = ok && field.MatchString(k)
	}
	if !ok {
		return path{}, fmt.Errorf("path %q is not supported locally ($ or $.a.b is)", s)
	}
	return path{keys: keys}, nil
}

// optionalPath reads the path at key: $ when absent, null when null.
func optionalPath(obj map[string]any, key string) (path, error) {
	v, ok := obj[key]
	switch {
	case !ok:
		return path{}, nil
	case v == nil:
		return path{null: true}, nil
	}
	s, ok := v.(string)
	if !ok {
		return path{}, fmt.Errorf("%s is not a path", key)
	}
	p, err := parsePath(s)
	if err != nil {
		return path{}, fmt.Errorf("%s: %w", key, err)
	}
	return p, nil
}

func (p path) String() string {
	return strings.Join(append([]string{"$"}, p.keys...), ".")
}

// get is the value at p in v, and whether it is there.
func (p path) get(v any) (any, bool) {
	for _, k := range p.keys {
		obj, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		if v, ok = obj[k]; !ok {
			return nil, false
		}
	}
	return v, true
}

// put is input with value placed at p, as ResultPath places a result:
// $ replaces the input, null keeps it, and $.a.b sets that field in a copy
// of the input, making the objects on the way.
func (p path) put(input, value any) (any, error) {
	if p.null {
		return input, nil
	}
	if len(p.keys) == 0 {
		return value, nil
	}
	obj, ok := input.(map[string]any)
	if !ok {
		if input != nil {
			return nil, fmt.Errorf("the ResultPath %s: the input is not an object", p)
		}
		obj = map[string]any{}
	}
	copied := make(map[string]any, len(obj)+1)
	for k, v := range obj {
		copied[k] = v
	}
	inner, err := path{keys: p.keys[1:]}.put(copied[p.keys[0]], value)
	if err != nil {
		return nil, err
	}
	copied[p.keys[0]] = inner
	return copied, nil
}

// output selects what a state passes on with OutputPath: null is {}.
func (p path) output(v any) (any, error) {
	if p.null {
		return map[string]any{}, nil
	}
	out, ok := p.get(v)
	if !ok {
		return nil, fmt.Errorf("the OutputPath %s: no such field", p)
	}
	return out, nil
}

// fill evaluates a Parameters template against input: each field named
// "key.$" becomes "key", with the value at its path.
func fill(tmpl, input any) (any, error) {
	obj, ok := tmpl.(map[string]any)
	if !ok {
		return tmpl, nil
	}
	out := make(map[string]any, len(obj))
	for k, v := range obj {
		name, isPath := strings.CutSuffix(k, ".$")
		if !isPath {
			filled, err := fill(v, input)
			if err != nil {
				return nil, err
			}
			out[k] = filled
			continue
		}
		p, _ := parsePath(v.(string)) // checked by Parse
		val, ok := p.get(input)
		if !ok {
			return nil, fmt.Errorf("the Parameters %s: %s is not in the input", k, p)
		}
		out[name] = val
	}
	return out, nil
}
