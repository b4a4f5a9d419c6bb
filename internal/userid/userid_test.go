package userid

import (
	"strings"
	"testing"
)

func TestValid(t *testing.T) {
	for _, tc := range []struct {
		s    string
		want bool
	}{
		{"alice", true}, {"a.b@c:d_e-f", true}, {"0", true}, {strings.Repeat("x", Max), true},
		{"", false}, {strings.Repeat("x", Max+1), false}, {"a b", false}, {"a#b", false}, {"é", false},
		{"a/b", false}, {"a\x00", false}, {"{a}", false},
	} {
		if got := Valid(tc.s); got != tc.want {
			t.Errorf("Valid(%q) = %v, want %v", tc.s, got, tc.want)
		}
		if got := Valid([]byte(tc.s)); got != tc.want {
			t.Errorf("Valid([]byte(%q)) = %v, want %v", tc.s, got, tc.want)
		}
	}
}

func TestValidAllocs(t *testing.T) {
	b := []byte("alice@example")
	if n := testing.AllocsPerRun(100, func() { Valid(b) }); n != 0 {
		t.Errorf("%v allocs", n)
	}
}
