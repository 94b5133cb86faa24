// Package settings owns the project's configuration: the name, the default
// and the check of every environment variable a function or the CLI reads.
//
// Each setting is read by one function here (ClockSkew, APIURL, ReadVerifier,
// ReadSecretKey, ReadAdmins, ReadExport, LogLevel), so a name is spelled and
// a value is judged in one place; the packages that use a setting take it as
// a typed value. Every function takes the lookup to use (os.LookupEnv in a
// function's main, a map in tests), so configuration is explicit and
// testable. Errors name the variable and say what is wrong in one line; they
// never repeat the value, because some settings are secrets.
package settings

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// Lookup returns the value of an environment variable and whether it is set.
type Lookup func(name string) (string, bool)

// OS is the process environment.
var OS Lookup = os.LookupEnv

// Map is a Lookup over a fixed set of values, for tests and merged environments.
func Map(values map[string]string) Lookup {
	return func(name string) (string, bool) {
		v, ok := values[name]
		return v, ok
	}
}

// String returns the trimmed value of name, or def when it is unset or blank.
func String(get Lookup, name, def string) string {
	if v, ok := get(name); ok && strings.TrimSpace(v) != "" {
		return strings.TrimSpace(v)
	}
	return def
}

// Duration parses name as a Go duration ("5s", "1h"); def when unset.
// Negative durations are rejected.
func Duration(get Lookup, name string, def time.Duration) (time.Duration, error) {
	v := String(get, name, "")
	if v == "" {
		return def, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, fmt.Errorf("%s: not a duration (use a form such as 5s, 2m or 1h)", name)
	}
	if d < 0 {
		return 0, fmt.Errorf("%s: must not be negative", name)
	}
	return d, nil
}

// Bool parses name as a boolean (true/false, 1/0, on/off, yes/no); def when unset.
func Bool(get Lookup, name string, def bool) (bool, error) {
	v := strings.ToLower(String(get, name, ""))
	switch v {
	case "":
		return def, nil
	case "1", "true", "on", "yes":
		return true, nil
	case "0", "false", "off", "no":
		return false, nil
	}
	return false, fmt.Errorf("%s: not a boolean (use true or false)", name)
}

// Int parses name as an integer in [min, max]; def when unset.
func Int(get Lookup, name string, def, min, max int) (int, error) {
	v := String(get, name, "")
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, fmt.Errorf("%s: not a whole number", name)
	}
	if n < min || n > max {
		return 0, fmt.Errorf("%s: must be between %d and %d", name, min, max)
	}
	return n, nil
}

// DurationUpTo is Duration, refused above max.
func DurationUpTo(get Lookup, name string, def, max time.Duration) (time.Duration, error) {
	d, err := Duration(get, name, def)
	if err != nil {
		return 0, err
	}
	if d > max {
		return 0, fmt.Errorf("%s: must be at most %s", name, max)
	}
	return d, nil
}

// List splits name on commas, trimming spaces and dropping empty items.
func List(get Lookup, name string) []string {
	var out []string
	for _, item := range strings.Split(String(get, name, ""), ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}
