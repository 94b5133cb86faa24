package statemachine

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"
)

// ErrNone is Load's error for a template without a state machine.
var ErrNone = errors.New("the template has no AWS::Serverless::StateMachine")

// pseudoParameters are the values of the pseudo parameters a substitution
// may name, as a local account in us-east-1 sees them.
var pseudoParameters = map[string]string{
	"AWS::Partition": "aws",
	"AWS::Region":    "us-east-1",
	"AWS::AccountId": "000000000000",
}

// Load reads the template at file and returns its state machine: the one
// resource of type AWS::Serverless::StateMachine, with an inline Definition.
// It returns ErrNone when there is none.
func Load(file string) (*Machine, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	m, err := ParseTemplate(data)
	if err != nil && !errors.Is(err, ErrNone) {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return m, err
}

// ParseTemplate is Load for a template given as YAML. Each
// DefinitionSubstitutions value resolves as a deployment without parameter
// overrides would see it, with local names: a Ref to a resource, or a
// Fn::GetAtt of its Arn, gives its logical id (the function's name in the
// local Lambda API), a Ref to a parameter its default, and a pseudo
// parameter a local account's value.
func ParseTemplate(data []byte) (*Machine, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, fmt.Errorf("not a valid template: %w", err)
	}
	if len(root.Content) == 0 {
		return nil, ErrNone
	}
	doc := root.Content[0]
	resources := child(doc, "Resources")
	var name string
	var props *yaml.Node
	for i := 0; resources != nil && i+1 < len(resources.Content); i += 2 {
		res := resources.Content[i+1]
		if t := child(res, "Type"); t != nil && t.Value == "AWS::Serverless::StateMachine" {
			if props != nil {
				return nil, fmt.Errorf("the template has more than one AWS::Serverless::StateMachine (%s, %s); the local runner runs one", name, resources.Content[i].Value)
			}
			name, props = resources.Content[i].Value, child(res, "Properties")
		}
	}
	if name == "" {
		return nil, ErrNone
	}
	def, err := definition(doc, props)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	m, err := Parse(def)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	m.Name = name
	return m, nil
}

// definition is the state machine's Definition as JSON, its substitutions
// made.
func definition(doc, props *yaml.Node) ([]byte, error) {
	if props == nil || child(props, "Definition") == nil {
		return nil, errors.New("no inline Definition (DefinitionUri is not supported locally)")
	}
	if t := child(props, "Type"); t != nil && t.Value != "STANDARD" {
		return nil, fmt.Errorf("the Type %s is not supported locally (STANDARD is)", t.Value)
	}
	var def any
	if err := plain(child(props, "Definition")); err != nil {
		return nil, fmt.Errorf("the Definition: %w", err)
	}
	if err := child(props, "Definition").Decode(&def); err != nil {
		return nil, fmt.Errorf("the Definition: %w", err)
	}
	subs := map[string]string{}
	if s := child(props, "DefinitionSubstitutions"); s != nil {
		for i := 0; i+1 < len(s.Content); i += 2 {
			v, err := substitution(doc, s.Content[i+1])
			if err != nil {
				return nil, fmt.Errorf("the DefinitionSubstitutions %s: %w", s.Content[i].Value, err)
			}
			subs[s.Content[i].Value] = v
		}
	}
	data, err := json.Marshal(def)
	if err != nil {
		return nil, fmt.Errorf("the Definition: %w", err)
	}
	return substitute(data, subs)
}

// variable is a ${Name} of DefinitionSubstitutions.
var variable = regexp.MustCompile(`\$\{([^}]*)\}`)

// substitute replaces each ${Name} in the definition's strings, and
// refuses one without a value.
func substitute(def []byte, subs map[string]string) ([]byte, error) {
	var missing string
	out := variable.ReplaceAllFunc(def, func(m []byte) []byte {
		name := string(m[2 : len(m)-1])
		v, ok := subs[name]
		if !ok {
			missing = name
			return m
		}
		quoted, _ := json.Marshal(v)
		return quoted[1 : len(quoted)-1]
	})
	if missing != "" {
		return nil, fmt.Errorf("the Definition names ${%s}, which DefinitionSubstitutions does not give", missing)
	}
	return out, nil
}

// substitution resolves one DefinitionSubstitutions value.
func substitution(doc, v *yaml.Node) (string, error) {
	switch {
	case v.Tag == "!Ref":
		return ref(doc, v.Value)
	case v.Tag == "!GetAtt":
		return getAtt(strings.Split(v.Value, "."))
	case v.Kind == yaml.ScalarNode && !strings.HasPrefix(v.Tag, "!") || strings.HasPrefix(v.Tag, "!!"):
		return v.Value, nil
	case v.Kind == yaml.MappingNode && len(v.Content) == 2 && v.Content[0].Value == "Ref":
		return ref(doc, v.Content[1].Value)
	case v.Kind == yaml.MappingNode && len(v.Content) == 2 && v.Content[0].Value == "Fn::GetAtt":
		var parts []string
		if err := v.Content[1].Decode(&parts); err != nil {
			return getAtt(strings.Split(v.Content[1].Value, "."))
		}
		return getAtt(parts)
	}
	return "", errors.New("only a string, Ref or Fn::GetAtt is supported locally")
}

// ref resolves a Ref: a pseudo parameter, a parameter's default, or a
// resource's logical id.
func ref(doc *yaml.Node, name string) (string, error) {
	if v, ok := pseudoParameters[name]; ok {
		return v, nil
	}
	if p := child(child(doc, "Parameters"), name); p != nil {
		if def := child(p, "Default"); def != nil {
			return def.Value, nil
		}
		return "", fmt.Errorf("the Ref %s: the parameter has no default", name)
	}
	if child(child(doc, "Resources"), name) != nil {
		return name, nil
	}
	return "", fmt.Errorf("the Ref %s: no such parameter or resource", name)
}

// getAtt resolves a Fn::GetAtt of a resource's Arn to its logical id.
func getAtt(parts []string) (string, error) {
	if len(parts) != 2 || parts[1] != "Arn" {
		return "", fmt.Errorf("the Fn::GetAtt %s: only a resource's Arn is supported locally", strings.Join(parts, "."))
	}
	return parts[0], nil
}

// plain refuses a node that holds an intrinsic function's tag (!Sub and
// the like): the Definition takes its values from DefinitionSubstitutions.
func plain(n *yaml.Node) error {
	if strings.HasPrefix(n.Tag, "!") && !strings.HasPrefix(n.Tag, "!!") {
		return fmt.Errorf("%s is not supported locally (use DefinitionSubstitutions)", n.Tag)
	}
	for _, c := range n.Content {
		if err := plain(c); err != nil {
			return err
		}
	}
	return nil
}

// child is the value of key in the mapping n, or nil.
func child(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// decode reads JSON keeping numbers exact, as Step Functions passes them on.
func decode(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, errors.New("more than one JSON value")
	}
	return v, nil
}
