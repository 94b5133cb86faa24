package clerkauth

import (
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"unicode/utf8"
)

// The token's header and claims are read with this small reader instead of
// encoding/json, whose decoder matches names case-insensitively (with
// Unicode folding: "ſub" fills a field tagged "sub") and lets the last of two
// members with the same name win. It checks and reads a document in one pass,
// in order, and refuses what could be read two ways: invalid UTF-8 (which
// encoding/json would replace), and an object with two members of one name,
// at any depth. FuzzReadObject holds it to encoding/json's grammar.

var (
	errNotJSON      = errors.New("not valid UTF-8 JSON")
	errNotObject    = errors.New("not a JSON object")
	errDuplicate    = errors.New("a JSON object has two members with the same name")
	errNotString    = errors.New("not a string")
	errNotInteger   = errors.New("not an integer")
	errNotNumber    = errors.New("not a number")
	errNotArray     = errors.New("not an array")
	errNotStringArr = errors.New("not an array of strings")
)

// maxDepth is encoding/json's nesting limit (a token's 8 KiB stay far below).
const maxDepth = 10000

// jsonReader reads JSON text (RFC 8259) from s, starting at i.
type jsonReader struct {
	s     string
	i     int
	depth int
}

// readObject calls fn with each member of the JSON object doc: its name,
// unescaped, and its value as written, a substring of one copy of doc. It
// refuses a document that is not one valid UTF-8 JSON object, and duplicate
// names in any object within it.
func readObject(doc []byte, fn func(name, value string) error) error {
	if !utf8.Valid(doc) {
		return errNotJSON
	}
	r := jsonReader{s: string(doc)}
	r.space()
	if r.peek() != '{' {
		return errNotObject
	}
	if err := r.object(fn); err != nil {
		return err
	}
	if r.space(); r.i != len(r.s) {
		return errNotJSON
	}
	return nil
}

// members calls fn with each member of the object value, a value that
// readObject has passed on.
func members(value string, fn func(name, value string) error) error {
	if value[0] != '{' {
		return errNotObject
	}
	r := jsonReader{s: value}
	return r.object(fn)
}

// elements calls fn with each element of the array value, a value that
// readObject has passed on; null is an empty array.
func elements(value string, fn func(elem string) error) error {
	switch value[0] {
	case 'n':
		return nil
	case '[':
		r := jsonReader{s: value}
		return r.array(fn)
	}
	return errNotArray
}

func (r *jsonReader) peek() byte {
	if r.i < len(r.s) {
		return r.s[r.i]
	}
	return 0
}

func (r *jsonReader) space() {
	for r.i < len(r.s) {
		switch r.s[r.i] {
		case ' ', '\t', '\n', '\r':
			r.i++
		default:
			return
		}
	}
}

// value reads one value and returns it as written.
func (r *jsonReader) value() (string, error) {
	start := r.i
	var err error
	switch r.peek() {
	case '{':
		err = r.object(nil)
	case '[':
		err = r.array(nil)
	case '"':
		_, err = r.str()
	case 't':
		err = r.literal("true")
	case 'f':
		err = r.literal("false")
	case 'n':
		err = r.literal("null")
	default:
		err = r.number()
	}
	if err != nil {
		return "", err
	}
	return r.s[start:r.i], nil
}

func (r *jsonReader) literal(lit string) error {
	if !strings.HasPrefix(r.s[r.i:], lit) {
		return errNotJSON
	}
	r.i += len(lit)
	return nil
}

// number reads -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
func (r *jsonReader) number() error {
	if r.peek() == '-' {
		r.i++
	}
	switch c := r.peek(); {
	case c == '0':
		r.i++
	case '1' <= c && c <= '9':
		r.digits()
	default:
		return errNotJSON
	}
	if r.peek() == '.' {
		r.i++
		if r.digits() == 0 {
			return errNotJSON
		}
	}
	if c := r.peek(); c == 'e' || c == 'E' {
		r.i++
		if c := r.peek(); c == '+' || c == '-' {
			r.i++
		}
		if r.digits() == 0 {
			return errNotJSON
		}
	}
	return nil
}

func (r *jsonReader) digits() int {
	start := r.i
	for c := r.peek(); '0' <= c && c <= '9'; c = r.peek() {
		r.i++
	}
	return r.i - start
}

// str reads a string and returns it with its quotes.
func (r *jsonReader) str() (string, error) {
	start := r.i
	for r.i++; r.i < len(r.s); {
		switch c := r.s[r.i]; {
		case c == '"':
			r.i++
			return r.s[start:r.i], nil
		case c < 0x20:
			return "", errNotJSON
		case c != '\\':
			r.i++
			continue
		}
		if r.i+1 == len(r.s) {
			return "", errNotJSON
		}
		switch r.s[r.i+1] {
		case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			r.i += 2
		case 'u':
			if r.i+6 > len(r.s) {
				return "", errNotJSON
			}
			for _, h := range []byte(r.s[r.i+2 : r.i+6]) {
				if !('0' <= h && h <= '9' || 'a' <= h && h <= 'f' || 'A' <= h && h <= 'F') {
					return "", errNotJSON
				}
			}
			r.i += 6
		default:
			return "", errNotJSON
		}
	}
	return "", errNotJSON
}

// array reads an array, calling fn (if not nil) with each element.
func (r *jsonReader) array(fn func(elem string) error) error {
	done, err := r.open(']')
	for !done && err == nil {
		var elem string
		if elem, err = r.value(); err != nil {
			return err
		}
		if fn != nil {
			if err := fn(elem); err != nil {
				return err
			}
		}
		done, err = r.next(']')
	}
	return err
}

// open moves past an array's or object's opening delimiter; done reports an
// empty one, whose closer it moved past too.
func (r *jsonReader) open(closer byte) (done bool, err error) {
	if r.depth++; r.depth > maxDepth {
		return false, errNotJSON
	}
	r.i++
	r.space()
	if r.peek() == closer {
		r.i++
		r.depth--
		return true, nil
	}
	return false, nil
}

// next moves past the ',' after an element or member, or past the closer;
// done reports the closer.
func (r *jsonReader) next(closer byte) (done bool, err error) {
	r.space()
	switch r.peek() {
	case ',':
		r.i++
		r.space()
		return false, nil
	case closer:
		r.i++
		r.depth--
		return true, nil
	}
	return false, errNotJSON
}

// object reads an object, calling fn (if not nil) for each member and
// refusing a name seen before in the same object. Names are compared after
// unescaping: "s\u0075b" is "sub".
func (r *jsonReader) object(fn func(name, value string) error) error {
	var small [16]string
	seen := small[:0]
	var many map[string]bool
	done, err := r.open('}')
	for !done && err == nil {
		var quoted, name, value string
		if r.peek() != '"' {
			return errNotJSON
		}
		if quoted, err = r.str(); err != nil {
			return err
		}
		if name, err = unquote(quoted); err != nil {
			return err
		}
		if many == nil && len(seen) == len(small) {
			many = make(map[string]bool, 2*len(small))
			for _, n := range seen {
				many[n] = true
			}
		}
		if many != nil {
			if many[name] {
				return errDuplicate
			}
			many[name] = true
		} else {
			for _, n := range seen {
				if n == name {
					return errDuplicate
				}
			}
			seen = append(seen, name)
		}
		if r.space(); r.peek() != ':' {
			return errNotJSON
		}
		r.i++
		r.space()
		if value, err = r.value(); err != nil {
			return err
		}
		if fn != nil {
			if err := fn(name, value); err != nil {
				return err
			}
		}
		done, err = r.next('}')
	}
	return err
}

// unquote returns the text of a JSON string written with its quotes.
func unquote(quoted string) (string, error) {
	if !strings.ContainsRune(quoted, '\\') {
		return quoted[1 : len(quoted)-1], nil
	}
	var s string
	if err := json.Unmarshal([]byte(quoted), &s); err != nil {
		return "", err
	}
	return s, nil
}

// jsonString reads a string value; null reads as "", as encoding/json has it.
func jsonString(value string) (string, error) {
	switch {
	case value == "null":
		return "", nil
	case value[0] != '"':
		return "", errNotString
	}
	return unquote(value)
}

// jsonInt reads an integer value.
func jsonInt(value string) (int64, error) {
	n, err := strconv.ParseInt(value, 10, 64)
	if err != nil {
		return 0, errNotInteger
	}
	return n, nil
}

// numericDate reads a JWT NumericDate: seconds since the epoch, which RFC
// 7519 allows to have a fraction; like go-jose, the fraction is dropped. A
// date beyond ±2^62 s (far past any real one) is refused, so time.Unix never
// overflows into the past.
func numericDate(value string) (int64, error) {
	const limit = 1 << 62
	if n, err := strconv.ParseInt(value, 10, 64); err == nil {
		if n < -limit || n > limit {
			return 0, errNotNumber
		}
		return n, nil
	}
	if value[0] != '-' && (value[0] < '0' || value[0] > '9') {
		return 0, errNotNumber
	}
	f, err := strconv.ParseFloat(value, 64)
	if err != nil || f < -limit || f > limit {
		return 0, errNotNumber
	}
	return int64(f), nil
}

// jsonStrings reads an array of strings (null elements read as "").
func jsonStrings(value string) ([]string, error) {
	var out []string
	err := elements(value, func(elem string) error {
		s, err := jsonString(elem)
		out = append(out, s)
		return err
	})
	if err != nil {
		return nil, errNotStringArr
	}
	return out, nil
}

// nameSet is a set of member names, matched exactly, that also knows which
// other names differ from one of its own only in letter case.
type nameSet struct {
	exact map[string]bool
	lower map[string]bool // the names, ASCII-lowercased
	names []string
}

func newNameSet(names ...string) nameSet {
	s := nameSet{exact: map[string]bool{}, lower: map[string]bool{}, names: names}
	for _, n := range names {
		s.exact[n] = true
		s.lower[strings.ToLower(n)] = true
	}
	return s
}

func (s nameSet) has(name string) bool { return s.exact[name] }

// folds reports a name that strings.EqualFold's one of the set's without
// being it: "SUB", "ſub" (U+017F) and "\u212aid" (Kelvin sign) for "sub" and
// "kid". A token naming a member so is refused: some JSON decoder, here or
// downstream, would take it for the real one.
func (s nameSet) folds(name string) bool {
	if s.exact[name] {
		return false
	}
	var buf [32]byte
	if len(name) <= len(buf) {
		ascii := true
		for i := 0; i < len(name) && ascii; i++ {
			c := name[i]
			ascii = c < utf8.RuneSelf
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			buf[i] = c
		}
		if ascii { // for ASCII, EqualFold is ASCII case-insensitivity
			return s.lower[string(buf[:len(name)])]
		}
	}
	for _, n := range s.names {
		if strings.EqualFold(name, n) {
			return true
		}
	}
	return false
}
