package settings

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestDuration(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		env     map[string]string
		want    time.Duration
		wantErr string
	}{
		{name: "unset gives default", env: nil, want: 5 * time.Second},
		{name: "blank gives default", env: map[string]string{"D": "  "}, want: 5 * time.Second},
		{name: "parsed", env: map[string]string{"D": "2m"}, want: 2 * time.Minute},
		{name: "garbage", env: map[string]string{"D": "soon"}, wantErr: "D: not a duration"},
		{name: "negative", env: map[string]string{"D": "-1s"}, wantErr: "D: must not be negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := Duration(Map(tt.env), "D", 5*time.Second)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}

func TestBool(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]bool{"off": false, "ON": true, "1": true, "no": false} {
		got, err := Bool(Map(map[string]string{"B": in}), "B", !want)
		if err != nil || got != want {
			t.Errorf("Bool(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	if _, err := Bool(Map(map[string]string{"B": "maybe"}), "B", false); err == nil || !strings.Contains(err.Error(), "B: not a boolean") {
		t.Errorf("Bool(maybe) err = %v", err)
	}
}

func TestInt(t *testing.T) {
	t.Parallel()
	get := Map(map[string]string{"N": "70", "X": "ten"})
	if _, err := Int(get, "N", 30, 1, 60); err == nil || !strings.Contains(err.Error(), "between 1 and 60") {
		t.Errorf("out of range err = %v", err)
	}
	if _, err := Int(get, "X", 30, 1, 60); err == nil || !strings.Contains(err.Error(), "X: not a whole number") {
		t.Errorf("not a number err = %v", err)
	}
	if n, err := Int(get, "UNSET", 30, 1, 60); n != 30 || err != nil {
		t.Errorf("default = %d, %v", n, err)
	}
}

func TestList(t *testing.T) {
	t.Parallel()
	got := List(Map(map[string]string{"L": " https://a.example , ,http://localhost:5173/ "}), "L")
	want := []string{"https://a.example", "http://localhost:5173/"}
	if !slices.Equal(got, want) {
		t.Fatalf("List = %q, want %q", got, want)
	}
	if got := List(Map(nil), "L"); got != nil {
		t.Fatalf("unset List = %q, want nil", got)
	}
}
