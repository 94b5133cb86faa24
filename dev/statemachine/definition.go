package statemachine

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
)

// Machine is a parsed state machine.
type Machine struct {
	// Name is the state machine's logical id in the template.
	Name    string
	startAt string
	states  map[string]*state
	timeout time.Duration // 0: none
}

// lambdaInvoke is the one Task resource the runner supports: Lambda's
// optimised integration, which answers {"Payload": <the function's answer>, ...}.
const lambdaInvoke = "arn:aws:states:::lambda:invoke"

// state is one state of the definition, checked.
type state struct {
	name, typ string
	next      string // "" when End, or for Choice, Succeed, Fail
	// Task: the function, the Parameters' Payload template, the timeout
	// of one attempt, and what is done on an error.
	function string
	payload  any
	timeout  time.Duration
	retry    []retrier
	catch    []catcher
	// Task and Pass: how the result joins the input, and what goes on.
	resultPath, outputPath path
	// Pass: Parameters (a template of the input) or Result.
	params    any
	result    any
	hasParams bool
	hasResult bool
	// Choice.
	choices []choice
	deflt   string
	// Fail: the error and cause, or the paths to them.
	errName, cause             string
	errorPath, causePath       path
	hasErrorPath, hasCausePath bool
}

type retrier struct {
	errors      []string
	interval    time.Duration
	maxAttempts int
	backoff     float64
	maxDelay    time.Duration // 0: none
	jitter      bool
}

type catcher struct {
	errors     []string
	resultPath path
	next       string
}

// choice is one rule of a Choice state: a Variable and one test of it.
type choice struct {
	variable path
	isBool   bool // BooleanEquals, else IsPresent
	want     bool
	next     string
}

// fields lists, per state type, the fields the runner understands; any
// other is refused, so that a definition never runs with part of it
// silently ignored.
var fields = map[string][]string{
	"Task":    {"Resource", "Parameters", "OutputPath", "ResultPath", "TimeoutSeconds", "Retry", "Catch", "Next", "End"},
	"Choice":  {"Choices", "Default"},
	"Pass":    {"Parameters", "Result", "ResultPath", "OutputPath", "Next", "End"},
	"Succeed": {},
	"Fail":    {"Error", "Cause", "ErrorPath", "CausePath"},
}

// Parse reads an Amazon States Language definition given as JSON, and
// refuses, naming it, anything outside the subset the runner interprets.
func Parse(def []byte) (*Machine, error) {
	v, err := decode(def)
	if err != nil {
		return nil, fmt.Errorf("the definition is not JSON: %w", err)
	}
	top, ok := v.(map[string]any)
	if !ok {
		return nil, errors.New("the definition is not a JSON object")
	}
	if err := known(top, "the definition", "Comment", "Version", "StartAt", "States", "TimeoutSeconds", "QueryLanguage"); err != nil {
		return nil, err
	}
	if q, ok := top["QueryLanguage"]; ok && q != "JSONPath" {
		return nil, fmt.Errorf("the QueryLanguage %v is not supported locally (JSONPath is)", q)
	}
	m := &Machine{states: map[string]*state{}}
	if m.startAt, ok = top["StartAt"].(string); !ok {
		return nil, errors.New("the definition has no StartAt")
	}
	if m.timeout, err = seconds(top, "TimeoutSeconds"); err != nil {
		return nil, err
	}
	states, ok := top["States"].(map[string]any)
	if !ok || len(states) == 0 {
		return nil, errors.New("the definition has no States")
	}
	for name, raw := range states {
		s, err := parseState(name, raw)
		if err != nil {
			return nil, fmt.Errorf("state %s: %w", name, err)
		}
		m.states[name] = s
	}
	return m, m.checkTargets()
}

// checkTargets refuses a transition to a state that does not exist.
func (m *Machine) checkTargets() error {
	if m.states[m.startAt] == nil {
		return fmt.Errorf("the StartAt %s is not a state", m.startAt)
	}
	for _, s := range m.states {
		targets := []string{s.next, s.deflt}
		for _, c := range s.catch {
			targets = append(targets, c.next)
		}
		for _, c := range s.choices {
			targets = append(targets, c.next)
		}
		for _, t := range targets {
			if t != "" && m.states[t] == nil {
				return fmt.Errorf("state %s: goes to %s, which is not a state", s.name, t)
			}
		}
	}
	return nil
}

// Functions lists the functions the Task states invoke, once each.
func (m *Machine) Functions() []string {
	var names []string
	for _, s := range m.states {
		if s.function != "" && !slices.Contains(names, s.function) {
			names = append(names, s.function)
		}
	}
	sort.Strings(names)
	return names
}

func parseState(name string, raw any) (*state, error) {
	obj, ok := raw.(map[string]any)
	if !ok {
		return nil, errors.New("not a JSON object")
	}
	typ, _ := obj["Type"].(string)
	allowed, ok := fields[typ]
	if !ok {
		return nil, fmt.Errorf("the Type %q is not supported locally (Task, Choice, Pass, Succeed and Fail are)", typ)
	}
	if err := known(obj, typ, append([]string{"Type", "Comment"}, allowed...)...); err != nil {
		return nil, err
	}
	s := &state{name: name, typ: typ}
	if err := s.readTransition(obj); err != nil {
		return nil, err
	}
	var err error
	switch typ {
	case "Task":
		err = s.readTask(obj)
	case "Pass":
		err = s.readPass(obj)
	case "Choice":
		err = s.readChoice(obj)
	case "Fail":
		err = s.readFail(obj)
	}
	return s, err
}

// readTransition reads Next or End, which Task and Pass need one of.
func (s *state) readTransition(obj map[string]any) error {
	s.next, _ = obj["Next"].(string)
	end, _ := obj["End"].(bool)
	if (s.typ == "Task" || s.typ == "Pass") && (s.next == "") == !end {
		return errors.New("needs either Next or End: true")
	}
	return nil
}

func (s *state) readTask(obj map[string]any) error {
	if r := obj["Resource"]; r != lambdaInvoke {
		return fmt.Errorf("the Resource %v is not supported locally (%s is)", r, lambdaInvoke)
	}
	params, ok := obj["Parameters"].(map[string]any)
	if !ok {
		return errors.New("has no Parameters (FunctionName and Payload)")
	}
	if err := known(params, "Parameters", "FunctionName", "Payload", "Payload.$"); err != nil {
		return err
	}
	if s.function, ok = params["FunctionName"].(string); !ok || s.function == "" {
		return errors.New("the Parameters has no FunctionName")
	}
	delete(params, "FunctionName")
	if err := checkTemplate(params); err != nil {
		return err
	}
	s.payload = params
	var err error
	if s.timeout, err = seconds(obj, "TimeoutSeconds"); err != nil {
		return err
	}
	if s.retry, err = readRetry(obj["Retry"]); err != nil {
		return err
	}
	if s.catch, err = readCatch(obj["Catch"]); err != nil {
		return err
	}
	return s.readPaths(obj)
}

func (s *state) readPass(obj map[string]any) error {
	s.params, s.hasParams = obj["Parameters"]
	s.result, s.hasResult = obj["Result"]
	if s.hasParams {
		if err := checkTemplate(s.params); err != nil {
			return err
		}
	}
	return s.readPaths(obj)
}

func (s *state) readPaths(obj map[string]any) error {
	var err error
	if s.resultPath, err = optionalPath(obj, "ResultPath"); err != nil {
		return err
	}
	s.outputPath, err = optionalPath(obj, "OutputPath")
	return err
}

func (s *state) readChoice(obj map[string]any) error {
	rules, ok := obj["Choices"].([]any)
	if !ok || len(rules) == 0 {
		return errors.New("has no Choices")
	}
	for i, raw := range rules {
		c, err := readChoiceRule(raw)
		if err != nil {
			return fmt.Errorf("the Choices[%d]: %w", i, err)
		}
		s.choices = append(s.choices, c)
	}
	s.deflt, _ = obj["Default"].(string)
	return nil
}

func readChoiceRule(raw any) (choice, error) {
	obj, ok := raw.(map[string]any)
	if !ok {
		return choice{}, errors.New("not a JSON object")
	}
	if err := known(obj, "a choice rule", "Variable", "BooleanEquals", "IsPresent", "Next"); err != nil {
		return choice{}, err
	}
	var c choice
	var err error
	v, _ := obj["Variable"].(string)
	if c.variable, err = parsePath(v); err != nil {
		return choice{}, fmt.Errorf("the Variable: %w", err)
	}
	if c.next, _ = obj["Next"].(string); c.next == "" {
		return choice{}, errors.New("has no Next")
	}
	b, isBool := obj["BooleanEquals"].(bool)
	p, isPresent := obj["IsPresent"].(bool)
	if isBool == isPresent {
		return choice{}, errors.New("needs one test, BooleanEquals or IsPresent (with a boolean)")
	}
	c.isBool, c.want = isBool, p
	if isBool {
		c.want = b
	}
	return c, nil
}

func (s *state) readFail(obj map[string]any) error {
	s.errName, _ = obj["Error"].(string)
	s.cause, _ = obj["Cause"].(string)
	var err error
	if ep, ok := obj["ErrorPath"].(string); ok {
		s.hasErrorPath = true
		if s.errorPath, err = parsePath(ep); err != nil {
			return fmt.Errorf("the ErrorPath: %w", err)
		}
	}
	if cp, ok := obj["CausePath"].(string); ok {
		s.hasCausePath = true
		if s.causePath, err = parsePath(cp); err != nil {
			return fmt.Errorf("the CausePath: %w", err)
		}
	}
	return nil
}

func readRetry(raw any) ([]retrier, error) {
	if raw == nil {
		return nil, nil
	}
	list, ok := raw.([]any)
	if !ok {
		return nil, errors.New("the Retry is not a list")
	}
	var out []retrier
	for i, item := range list {
		obj, ok := item.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("the Retry[%d] is not a JSON object", i)
		}
		if err := known(obj, "a retrier", "ErrorEquals", "IntervalSeconds", "MaxAttempts", "BackoffRate", "MaxDelaySeconds", "JitterStrategy"); err != nil {
			return nil, err
		}
		r := retrier{interval: time.Second, maxAttempts: 3, backoff: 2}
		var err error
		if r.errors, err = errorNames(obj); err != nil {
			return nil, fmt.Errorf("the Retry[%d]: %w", i, err)
		}
		if _, ok := obj["IntervalSeconds"]; ok {
			if r.interval, err = seconds(obj, "IntervalSeconds"); err != nil {
				return nil, err
			}
		}
		if n, ok := number(obj["MaxAttempts"]); ok {
			r.maxAttempts = int(n)
		}
		if n, ok := number(obj["BackoffRate"]); ok {
			r.backoff = n
		}
		if r.maxDelay, err = seconds(obj, "MaxDelaySeconds"); err != nil {
			return nil, err
		}
		switch j := obj["JitterStrategy"]; j {
		case nil, "NONE":
		case "FULL":
			r.jitter = true
		default:
			return nil, fmt.Errorf("the Retry[%d]: JitterStrategy %v is not FULL or NONE", i, j)
		}
		out = append(out, r)
	}
	return out, nil
}

func readCatch(raw any) ([]catcher, error) {
	if raw == nil {
		return nil, nil
	}
	list, ok := raw.([]any)
	if !ok {
		return nil, errors.New("the Catch is not a list")
	}
	var out []catcher
	for i, item := range list {
		obj, ok := item.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("the Catch[%d] is not a JSON object", i)
		}
		if err := known(obj, "a catcher", "ErrorEquals", "ResultPath", "Next"); err != nil {
			return nil, err
		}
		var c catcher
		var err error
		if c.errors, err = errorNames(obj); err != nil {
			return nil, fmt.Errorf("the Catch[%d]: %w", i, err)
		}
		if c.resultPath, err = optionalPath(obj, "ResultPath"); err != nil {
			return nil, err
		}
		if c.next, _ = obj["Next"].(string); c.next == "" {
			return nil, fmt.Errorf("the Catch[%d] has no Next", i)
		}
		out = append(out, c)
	}
	return out, nil
}

func errorNames(obj map[string]any) ([]string, error) {
	list, _ := obj["ErrorEquals"].([]any)
	var names []string
	for _, v := range list {
		if s, ok := v.(string); ok {
			names = append(names, s)
		}
	}
	if len(names) == 0 || len(names) != len(list) {
		return nil, errors.New("the ErrorEquals is not a list of error names")
	}
	return names, nil
}

// known refuses a field of obj that is not among names.
func known(obj map[string]any, what string, names ...string) error {
	for k := range obj {
		if !slices.Contains(names, k) {
			return fmt.Errorf("%s: field %s is not supported locally", what, k)
		}
	}
	return nil
}

// seconds reads a whole number of seconds; absent is 0.
func seconds(obj map[string]any, key string) (time.Duration, error) {
	v, ok := obj[key]
	if !ok {
		return 0, nil
	}
	n, ok := number(v)
	if !ok || n < 0 || n != float64(int64(n)) {
		return 0, fmt.Errorf("%s is not a whole number of seconds", key)
	}
	return time.Duration(n) * time.Second, nil
}

func number(v any) (float64, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, false
	}
	f, err := n.Float64()
	return f, err == nil
}

// checkTemplate refuses a ".$" field of a Parameters template whose value
// is not a path the runner reads ($ or $.a.b): the context object ($$) and
// intrinsic functions (States.Format and the like) among them.
func checkTemplate(v any) error {
	obj, ok := v.(map[string]any)
	if !ok {
		return nil
	}
	for k, val := range obj {
		if strings.HasSuffix(k, ".$") {
			s, _ := val.(string)
			if _, err := parsePath(s); err != nil {
				return fmt.Errorf("the Parameters %s: %w", k, err)
			}
			continue
		}
		if err := checkTemplate(val); err != nil {
			return err
		}
	}
	return nil
}
