package clerkfake

import (
	"cmp"
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// paramError is a query parameter the stand-in answers with 422, as Clerk
// does: code "form_param_format_invalid" for a value of the wrong type,
// "form_param_value_invalid" for a well-formed value out of range.
type paramError struct {
	param, code, long string
}

func formatError(param, want string) *paramError {
	return &paramError{param, "form_param_format_invalid", fmt.Sprintf("%s must be %s", param, want)}
}

func valueError(param, format string, args ...any) *paramError {
	return &paramError{param, "form_param_value_invalid", param + " " + fmt.Sprintf(format, args...)}
}

// filter is what GET /v1/users and GET /v1/users/count share: created_at
// bounds, which narrow the creation-ordered slice by binary search, and
// predicates, which are scanned.
type filter struct {
	createdAfter, createdBefore *int64 // milliseconds, exclusive
	preds                       []func(*record) bool
}

func (f filter) match(r *record) bool {
	for _, p := range f.preds {
		if !p(r) {
			return false
		}
	}
	return true
}

// maxListValues is how many values Clerk accepts in a repeated filter.
const maxListValues = 100

// parseFilter reads the filter parameters of the users endpoints. Parameters
// this stand-in does not know are ignored, as Clerk ignores them.
func parseFilter(q url.Values) (filter, *paramError) {
	var f filter
	for _, name := range []string{"email_address", "phone_number", "external_id", "username", "web3_wallet", "user_id"} {
		if len(q[name]) > maxListValues {
			return f, valueError(name, "accepts up to %d values", maxListValues)
		}
	}
	if vs := q["email_address"]; len(vs) > 0 {
		f.preds = append(f.preds, func(r *record) bool {
			return slices.ContainsFunc(r.user.EmailAddresses, func(e EmailAddress) bool { return containsFold(vs, e.EmailAddress) })
		})
	}
	if vs := q["username"]; len(vs) > 0 {
		f.preds = append(f.preds, func(r *record) bool { return r.user.Username != "" && containsFold(vs, r.user.Username) })
	}
	if len(q["phone_number"]) > 0 || len(q["web3_wallet"]) > 0 {
		// Stored users have neither phone numbers nor wallets.
		f.preds = append(f.preds, func(*record) bool { return false })
	}
	if p := includeExclude(q["user_id"], func(u *User) string { return u.ID }); p != nil {
		f.preds = append(f.preds, p)
	}
	if p := includeExclude(q["external_id"], func(u *User) string { return u.ExternalID }); p != nil {
		f.preds = append(f.preds, p)
	}
	f.preds = append(f.preds, textQueries(q)...)
	if v := q.Get("banned"); v != "" {
		banned, err := strconv.ParseBool(v)
		if err != nil {
			return f, formatError("banned", "true or false")
		}
		f.preds = append(f.preds, func(r *record) bool { return r.user.Banned == banned })
	}
	var perr *paramError
	if f.createdAfter, perr = millisParam(q, "created_at_after"); perr != nil {
		return f, perr
	}
	if f.createdBefore, perr = millisParam(q, "created_at_before"); perr != nil {
		return f, perr
	}
	times := []struct {
		name  string
		after bool
		get   func(*User) time.Time
	}{
		{"last_active_at_after", true, func(u *User) time.Time { return u.LastActiveAt }},
		{"last_active_at_since", true, func(u *User) time.Time { return u.LastActiveAt }},
		{"last_active_at_before", false, func(u *User) time.Time { return u.LastActiveAt }},
		{"last_sign_in_at_after", true, func(u *User) time.Time { return u.LastSignInAt }},
		{"last_sign_in_at_before", false, func(u *User) time.Time { return u.LastSignInAt }},
	}
	for _, t := range times {
		ms, perr := millisParam(q, t.name)
		if perr != nil {
			return f, perr
		}
		if ms != nil {
			f.preds = append(f.preds, timePredicate(t.get, *ms, t.after))
		}
	}
	return f, nil
}

// textQueries are the case-insensitive substring searches: "query" over
// the id, username, names and emails, the others over one property each.
func textQueries(q url.Values) []func(*record) bool {
	emails := func(u *User) []string {
		out := make([]string, len(u.EmailAddresses))
		for i, e := range u.EmailAddresses {
			out[i] = e.EmailAddress
		}
		return out
	}
	fields := []struct {
		param string
		text  func(*User) []string
	}{
		{"email_address_query", emails},
		{"username_query", func(u *User) []string { return []string{u.Username} }},
		{"name_query", func(u *User) []string { return []string{u.FirstName + " " + u.LastName} }},
	}
	var preds []func(*record) bool
	if needle := strings.ToLower(q.Get("query")); needle != "" {
		preds = append(preds, func(r *record) bool { return strings.Contains(r.search, needle) })
	}
	for _, fl := range fields {
		needle := strings.ToLower(q.Get(fl.param))
		if needle == "" {
			continue
		}
		preds = append(preds, func(r *record) bool {
			return slices.ContainsFunc(fl.text(&r.user), func(s string) bool { return strings.Contains(strings.ToLower(s), needle) })
		})
	}
	return preds
}

// includeExclude reads a filter whose values may carry a "+" (include) or
// "-" (exclude) prefix. A "+" arrives as a space when the client did not
// encode it, so a leading space counts as "+".
func includeExclude(values []string, get func(*User) string) func(*record) bool {
	if len(values) == 0 {
		return nil
	}
	var include, exclude []string
	for _, v := range values {
		v = strings.TrimLeft(v, " ")
		switch {
		case strings.HasPrefix(v, "-"):
			exclude = append(exclude, v[1:])
		default:
			include = append(include, strings.TrimPrefix(v, "+"))
		}
	}
	return func(r *record) bool {
		id := get(&r.user)
		if slices.Contains(exclude, id) {
			return false
		}
		return len(include) == 0 || slices.Contains(include, id)
	}
}

func containsFold(list []string, s string) bool {
	return slices.ContainsFunc(list, func(v string) bool { return strings.EqualFold(v, s) })
}

func timePredicate(get func(*User) time.Time, ms int64, after bool) func(*record) bool {
	return func(r *record) bool {
		t := get(&r.user)
		if t.IsZero() {
			return false
		}
		if after {
			return t.UnixMilli() > ms
		}
		return t.UnixMilli() < ms
	}
}

// millisParam reads an optional Unix time in milliseconds.
func millisParam(q url.Values, name string) (*int64, *paramError) {
	v := q.Get(name)
	if v == "" {
		return nil, nil
	}
	ms, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return nil, formatError(name, "a Unix time in milliseconds")
	}
	return &ms, nil
}

// intParam reads an optional integer in [lo, hi].
func intParam(q url.Values, name string, def, lo, hi int) (int, *paramError) {
	v := q.Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, formatError(name, "an integer")
	}
	if n < lo || n > hi {
		if hi == maxInt {
			return 0, valueError(name, "must be greater than or equal to %d", lo)
		}
		return 0, valueError(name, "must be between %d and %d", lo, hi)
	}
	return n, nil
}

const maxInt = int(^uint(0) >> 1)

// listQuery is a parsed GET /v1/users request.
type listQuery struct {
	filter
	limit, offset int
	order         string // a key of orderKeys
	desc          bool
	startingAfter string
}

func parseList(q url.Values) (listQuery, *paramError) {
	var l listQuery
	var perr *paramError
	if l.filter, perr = parseFilter(q); perr != nil {
		return l, perr
	}
	if l.limit, perr = intParam(q, "limit", 10, 1, 500); perr != nil {
		return l, perr
	}
	if l.offset, perr = intParam(q, "offset", 0, 0, maxInt); perr != nil {
		return l, perr
	}
	order := "-created_at"
	if vs := q["order_by"]; len(vs) > 0 { // only the first order_by counts
		order = strings.TrimLeft(vs[0], " ") // an unencoded "+" arrives as a space
	}
	l.desc = strings.HasPrefix(order, "-")
	l.order = strings.TrimLeft(order, "+-")
	if _, ok := orderKeys[l.order]; !ok || len(order)-len(l.order) > 1 {
		return l, valueError("order_by", "must be one of %s, optionally prefixed with + or -", strings.Join(orderNames(), ", "))
	}
	l.startingAfter = q.Get("starting_after")
	if l.startingAfter != "" {
		if l.order != "created_at" {
			return l, valueError("starting_after", "can only be used when ordering by created_at")
		}
		if l.offset != 0 {
			return l, valueError("starting_after", "cannot be combined with a non-zero offset")
		}
	}
	return l, nil
}

// orderKey compares two users on one order_by property. Users where null
// reports true have no value: they sort last ascending and first descending,
// as in PostgreSQL.
type orderKey struct {
	null    func(*User) bool
	compare func(a, b *User) int
}

func byTime(get func(*User) time.Time) orderKey {
	return orderKey{
		null:    func(u *User) bool { return get(u).IsZero() },
		compare: func(a, b *User) int { return get(a).Compare(get(b)) },
	}
}

func byText(get func(*User) string) orderKey {
	return orderKey{
		null:    func(u *User) bool { return get(u) == "" },
		compare: func(a, b *User) int { return cmp.Compare(strings.ToLower(get(a)), strings.ToLower(get(b))) },
	}
}

// never is the key of properties stored users do not have.
var never = orderKey{null: func(*User) bool { return true }, compare: func(a, b *User) int { return 0 }}

// orderKeys are the order_by properties Clerk documents.
var orderKeys = map[string]orderKey{
	"created_at":      byTime(func(u *User) time.Time { return u.CreatedAt }),
	"updated_at":      byTime(func(u *User) time.Time { return u.UpdatedAt }),
	"last_active_at":  byTime(func(u *User) time.Time { return u.LastActiveAt }),
	"last_sign_in_at": byTime(func(u *User) time.Time { return u.LastSignInAt }),
	"email_address":   byText(func(u *User) string { return u.primaryEmail() }),
	"first_name":      byText(func(u *User) string { return u.FirstName }),
	"last_name":       byText(func(u *User) string { return u.LastName }),
	"username":        byText(func(u *User) string { return u.Username }),
	"phone_number":    never,
	"web3wallet":      never,
}

func orderNames() []string {
	names := make([]string, 0, len(orderKeys))
	for k := range orderKeys {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

// window is the range [lo, hi) of the creation-ordered users that the
// created_at bounds of f allow. Callers hold s.mu.
func (st *store) window(f filter) (lo, hi int) {
	lo, hi = 0, len(st.users)
	if f.createdAfter != nil {
		lo = sort.Search(len(st.users), func(i int) bool { return st.users[i].user.CreatedAt.UnixMilli() > *f.createdAfter })
	}
	if f.createdBefore != nil {
		hi = sort.Search(len(st.users), func(i int) bool { return st.users[i].user.CreatedAt.UnixMilli() >= *f.createdBefore })
	}
	return lo, max(lo, hi)
}

// list answers a GET /v1/users query with the JSON of each user of the page.
func (s *Server) list(l listQuery) ([][]byte, *paramError) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	users := s.store.users
	lo, hi := s.store.window(l.filter)
	if l.order != "created_at" {
		return page(sortedMatches(users[lo:hi], l), l.offset, l.limit), nil
	}
	// In creation order a page is a walk over the window, in either direction,
	// from its start or from just past the cursor, that stops once the page
	// is full.
	step, at := 1, lo
	if l.desc {
		step, at = -1, hi-1
	}
	if l.startingAfter != "" {
		cursor, ok := s.store.byID[l.startingAfter]
		if !ok {
			return nil, valueError("starting_after", "does not match any user")
		}
		if next := s.store.index(cursor) + step; (step > 0 && next > at) || (step < 0 && next < at) {
			at = next
		}
	}
	skip := l.offset
	if len(l.preds) == 0 { // every user in the window matches: jump the offset
		at, skip = at+step*skip, 0
	}
	out := make([][]byte, 0, min(l.limit, hi-lo))
	for ; at >= lo && at < hi && len(out) < l.limit; at += step {
		if !l.match(users[at]) {
			continue
		}
		if skip > 0 {
			skip--
			continue
		}
		out = append(out, users[at].json)
	}
	return out, nil
}

// sortedMatches is every user of rs that matches, sorted by l's order_by
// property; ties keep creation order.
func sortedMatches(rs []*record, l listQuery) []*record {
	var out []*record
	for _, r := range rs {
		if l.match(r) {
			out = append(out, r)
		}
	}
	key := orderKeys[l.order]
	slices.SortStableFunc(out, func(a, b *record) int {
		an, bn := key.null(&a.user), key.null(&b.user)
		switch {
		case an && bn:
			return 0
		case an != bn: // nulls last ascending, first descending
			if an == l.desc {
				return -1
			}
			return 1
		}
		c := key.compare(&a.user, &b.user)
		if l.desc {
			c = -c
		}
		return c
	})
	return out
}

func page(rs []*record, offset, limit int) [][]byte {
	if offset >= len(rs) {
		return [][]byte{}
	}
	rs = rs[offset:min(len(rs), offset+limit)]
	out := make([][]byte, len(rs))
	for i, r := range rs {
		out[i] = r.json
	}
	return out
}

// count answers a GET /v1/users/count query.
func (s *Server) count(f filter) int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	lo, hi := s.store.window(f)
	n := 0
	for _, r := range s.store.users[lo:hi] {
		if f.match(r) {
			n++
		}
	}
	return n
}
