package clerkfake_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"clerk-lambda/internal/clerkfake"
)

// BenchmarkPageHundredThousandUsers pages through 100,000 users in creation
// order, 500 at a time, the way an export walks them; one iteration is the
// whole walk, served by the handler without a network in between, and
// includes decoding the pages.
func BenchmarkPageHundredThousandUsers(b *testing.B) {
	s, err := clerkfake.New(clerkfake.Config{})
	if err != nil {
		b.Fatal(err)
	}
	s.SeedUsers(100_000)
	h := s.Handler()
	for _, walk := range []string{"offset", "created_at_after"} {
		b.Run(walk, func(b *testing.B) {
			for b.Loop() {
				n, query := 0, ""
				for {
					rec := httptest.NewRecorder()
					req := httptest.NewRequest(http.MethodGet, "/v1/users?order_by=%2Bcreated_at&limit=500"+query, nil)
					req.Header.Set("Authorization", "Bearer "+s.SecretKey())
					h.ServeHTTP(rec, req)
					if rec.Code != http.StatusOK {
						b.Fatalf("status %d", rec.Code)
					}
					var page []struct {
						CreatedAt int64 `json:"created_at"`
					}
					if err := json.Unmarshal(rec.Body.Bytes(), &page); err != nil {
						b.Fatal(err)
					}
					n += len(page)
					if len(page) < 500 {
						break
					}
					if walk == "offset" {
						query = fmt.Sprintf("&offset=%d", n)
					} else {
						query = fmt.Sprintf("&created_at_after=%d", page[len(page)-1].CreatedAt)
					}
				}
				if n != 100_000 {
					b.Fatalf("walked %d users", n)
				}
			}
		})
	}
}
