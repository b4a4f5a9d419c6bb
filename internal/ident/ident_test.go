package ident

import (
	"strings"
	"testing"
)

func TestValid(t *testing.T) {
	for _, tc := range []struct {
		s    string
		want bool
	}{
		{"phone-sale", true}, {"A_1-b", true}, {"0", true}, {strings.Repeat("x", Max), true},
		{"", false}, {strings.Repeat("x", Max+1), false}, {"a b", false}, {"a.b", false}, {"a:b", false},
		{"{a}", false}, {"a/b", false}, {"é", false}, {"a\x00", false},
	} {
		if got := Valid(tc.s); got != tc.want {
			t.Errorf("Valid(%q) = %v, want %v", tc.s, got, tc.want)
		}
	}
}

func TestValidAllocs(t *testing.T) {
	if n := testing.AllocsPerRun(100, func() { Valid("phone-sale") }); n != 0 {
		t.Errorf("%v allocs", n)
	}
}
