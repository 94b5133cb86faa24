package settings

import (
	"fmt"
	"strconv"
	"time"
)

// maxAPIRateLimit is Clerk's production limit, 1,000 requests per 10 s:
// pacing above it would never be reached.
const maxAPIRateLimit = 100

// DefaultBatchRateLimit is how many Backend API requests per second a batch
// job (the export, the CLI) sends when CLERK_API_RATE_LIMIT is unset: half
// of a development instance's 100 per 10 s, so the live API keeps the rest.
// At 500 users a page that is 2,500 users a second.
const DefaultBatchRateLimit = 5

// DefaultAuthorizerRateLimit is how many machine-token verifications per
// second the authorizer sends the Backend API at most, per execution
// environment, when CLERK_API_RATE_LIMIT is unset: a flood of well-formed
// made-up tokens then drains Clerk's quota no faster than this (an
// environment serves one request at a time, so one waits at most a tenth
// of a second for its turn).
const DefaultAuthorizerRateLimit = 10

// APIRateLimit reads CLERK_API_RATE_LIMIT: how many Backend API requests per
// second one execution environment may send, such as 5 or 0.5; 0 means
// unpaced, and unset means def.
func APIRateLimit(get Lookup, def float64) (float64, error) {
	v := String(get, APIRateLimitName, "")
	if v == "" {
		return def, nil
	}
	n, err := strconv.ParseFloat(v, 64)
	if err != nil || n < 0 || n > maxAPIRateLimit || n != n {
		return 0, fmt.Errorf("%s: must be a number of requests per second from 0 (unpaced) to %d", APIRateLimitName, maxAPIRateLimit)
	}
	return n, nil
}

// DefaultMeCacheTTL is how long GET /me keeps a user when ME_CACHE_TTL is
// unset.
const DefaultMeCacheTTL = 30 * time.Second

// maxMeCacheTTL bounds ME_CACHE_TTL: a user's changes show in /me after at
// most this long.
const maxMeCacheTTL = 10 * time.Minute

// MeCacheTTL reads ME_CACHE_TTL: how long GET /me keeps each user it read
// from Clerk, in one execution environment; 0 turns the cache off.
func MeCacheTTL(get Lookup) (time.Duration, error) {
	return DurationUpTo(get, MeCacheTTLName, DefaultMeCacheTTL, maxMeCacheTTL)
}
