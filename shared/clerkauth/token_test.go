package clerkauth

import "testing"

func TestTokenFromRequest(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		headers map[string]string
		cookies []string
		want    string
		reason  Reason
	}{
		{name: "bearer", headers: map[string]string{"authorization": "Bearer abc.def.ghi"}, want: "abc.def.ghi"},
		{name: "scheme in any case, header in any case", headers: map[string]string{"Authorization": "bEaReR abc.def.ghi"}, want: "abc.def.ghi"},
		{name: "surrounding spaces", headers: map[string]string{"authorization": "  Bearer   abc.def.ghi  "}, want: "abc.def.ghi"},
		{name: "basic auth", headers: map[string]string{"authorization": "Basic dXNlcjpwYXNz"}, reason: TokenMalformed},
		{name: "bare token", headers: map[string]string{"authorization": "abc.def.ghi"}, reason: TokenMalformed},
		{name: "bearer without token", headers: map[string]string{"authorization": "Bearer "}, reason: TokenMissing},
		{name: "two tokens", headers: map[string]string{"authorization": "Bearer a.b.c d.e.f"}, reason: TokenMalformed},
		{name: "empty header", headers: map[string]string{"authorization": ""}, reason: TokenMissing},
		{name: "malformed header wins over cookie", headers: map[string]string{"authorization": "Token x"}, cookies: []string{"__session=a.b.c"}, reason: TokenMalformed},
		{name: "session cookie from the cookie list", cookies: []string{"theme=dark", "__session=a.b.c"}, want: "a.b.c"},
		{name: "session cookie from the Cookie header", headers: map[string]string{"cookie": "theme=dark; __session=a.b.c"}, want: "a.b.c"},
		{name: "other cookies only", cookies: []string{"__session_other=x"}, reason: TokenMissing},
		{name: "nothing", reason: TokenMissing},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := TokenFromRequest(tt.headers, tt.cookies)
			if ReasonOf(err) != tt.reason || got != tt.want {
				t.Fatalf("got %q, %v; want %q, reason %q", got, err, tt.want, tt.reason)
			}
		})
	}
}
