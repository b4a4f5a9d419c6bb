package blacklist

import (
	"net/netip"
	"strings"
	"testing"
)

func TestParseLine(t *testing.T) {
	tests := []struct {
		line string
		want string // canonical entry, "" for a skipped line
		err  string // error substring
	}{
		{"", "", ""},
		{"   \t", "", ""},
		{"# a comment", "", ""},
		{"user-1", "user-1", ""},
		{"  alice@example.com  # trailing comment", "alice@example.com", ""},
		{"u.1:2_x-Y", "u.1:2_x-Y", ""},
		{strings.Repeat("u", 128), strings.Repeat("u", 128), ""},
		{strings.Repeat("u", 129), "", "is not a user id"},
		{"bad user", "", "is not a user id"},
		{"semi;colon", "", "is not a user id"},
		{"10.0.0.1", "10.0.0.1", ""},
		{"::ffff:10.0.0.1", "10.0.0.1", ""},
		{"2001:DB8::1", "2001:db8::1", ""},
		{"10.1.2.3/8", "10.0.0.0/8", ""},
		{"10.0.0.7/32", "10.0.0.7", ""},
		{"::ffff:10.0.0.0/104", "10.0.0.0/8", ""},
		{"2001:db8::/32", "2001:db8::/32", ""},
		{"10.0.0.0/33", "", "not a valid CIDR"},
		{"10.0.0/8", "", "not a valid CIDR"},
		{"fe80::1%eth0", "", "zone"},
		{"1:2", "1:2", ""}, // not an address: a user id
	}
	for _, tc := range tests {
		t.Run(tc.line, func(t *testing.T) {
			e, ok, err := parseLine(tc.line)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want it to contain %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := map[bool]string{true: e.String()}[ok]; got != tc.want {
				t.Fatalf("got %q (ok %v), want %q", got, ok, tc.want)
			}
		})
	}
}

func TestSnapshot(t *testing.T) {
	s := build([]string{"bob", "10.0.0.1", "192.168.0.0/16", "2001:db8::/32", "172.16.0.0/12", "junk entry", "::1"})
	if len(s.invalid) != 1 || s.invalid[0] != "junk entry" {
		t.Fatalf("invalid = %q", s.invalid)
	}
	if got := s.v4.bits; len(got) != 3 || got[0] != 32 || got[1] != 16 || got[2] != 12 {
		t.Fatalf("v4 lengths %v, want [32 16 12]", got)
	}
	for _, tc := range []struct {
		ip   string
		want bool
	}{
		{"10.0.0.1", true}, {"10.0.0.2", false}, {"192.168.44.1", true}, {"192.169.0.1", false},
		{"172.31.255.255", true}, {"172.32.0.0", false}, {"::ffff:192.168.1.1", true},
		{"2001:db8:1::9", true}, {"2001:db9::1", false}, {"::1", true}, {"::2", false},
	} {
		if got := s.hasIP(netip.MustParseAddr(tc.ip)); got != tc.want {
			t.Errorf("hasIP(%s) = %v, want %v", tc.ip, got, tc.want)
		}
	}
	if s.hasIP(netip.Addr{}) {
		t.Error("the zero address is listed")
	}
	if !s.hasUser([]byte("bob")) || s.hasUser([]byte("alice")) || s.hasUser([]byte("10.0.0.1")) {
		t.Error("users: bob must be listed, alice and an address must not")
	}
}

// FuzzBlacklistLine: a line either parses into an entry whose canonical
// form parses back to itself, or is rejected; it never panics.
func FuzzBlacklistLine(f *testing.F) {
	for _, s := range []string{"user-1", "10.0.0.1", "10.0.0.0/8", "::ffff:1.2.3.4/120", "2001:db8::/32",
		"# c", "a # b", "fe80::1%eth0", "", "\x00", "1:2", "::/0", "0.0.0.0/0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		e, ok, err := parseLine(line)
		if err != nil || !ok {
			return
		}
		c := e.String()
		back, err := parseEntry(c)
		if err != nil || back != e {
			t.Fatalf("%q: canonical %q parses back to %+v, %v", line, c, back, err)
		}
		s := build([]string{c})
		if e.isUser() {
			if !s.hasUser([]byte(c)) {
				t.Fatalf("%q: user not found after build", c)
			}
		} else if !s.hasIP(e.prefix.Addr()) {
			t.Fatalf("%q: the range's own address is not found", c)
		}
	})
}
