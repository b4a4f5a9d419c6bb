package demobackend

import (
	"strings"
	"testing"
)

// TestValidUser: the sign-in's rule is the one the README and the form
// state, 1 to 64 of [A-Za-z0-9_.@-].
func TestValidUser(t *testing.T) {
	for _, tc := range []struct {
		s    string
		want bool
	}{
		{"alice", true}, {"a.b@c_d-e", true}, {strings.Repeat("x", 64), true},
		{"", false}, {strings.Repeat("x", 65), false}, {"a:b", false}, {"a b", false}, {"é", false},
	} {
		if got := validUser(tc.s); got != tc.want {
			t.Errorf("validUser(%q) = %v, want %v", tc.s, got, tc.want)
		}
	}
}
