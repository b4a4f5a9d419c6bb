package orderkey

import (
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		key            string
		activity, user string
		seq            int64
		ok             bool
	}{
		{"phone-sale:u1:7", "phone-sale", "u1", 7, true},
		{"a:user:with:colons:12", "a", "user:with:colons", 12, true},
		{"a:u:9223372036854775807", "a", "u", 9223372036854775807, true},
		{"a:u:007", "", "", 0, false},
		{"a:u:+7", "", "", 0, false},
		{"a:u:0", "", "", 0, false},
		{"a:u:-1", "", "", 0, false},
		{"a:u:", "", "", 0, false},
		{"a:u:9223372036854775808", "", "", 0, false},
		{"a::7", "", "", 0, false},
		{":u:7", "", "", 0, false},
		{"a:7", "", "", 0, false},
		{"a", "", "", 0, false},
		{"", "", "", 0, false},
		{"a b:u:7", "", "", 0, false},
		{"a:u{x}:7", "", "", 0, false},
	}
	for _, tc := range tests {
		a, u, s, ok := Parse(tc.key)
		if a != tc.activity || u != tc.user || s != tc.seq || ok != tc.ok {
			t.Errorf("Parse(%q) = %q, %q, %d, %v; want %q, %q, %d, %v", tc.key, a, u, s, ok, tc.activity, tc.user, tc.seq, tc.ok)
		}
	}
}

func TestAppendAllocs(t *testing.T) {
	buf := make([]byte, 0, 64)
	act, user := []byte("phone-sale"), []byte("u1")
	if n := testing.AllocsPerRun(100, func() { buf = Append(buf[:0], act, user, 12345) }); n != 0 {
		t.Fatalf("Append allocates %.0f times", n)
	}
	if got := String("phone-sale", "u1", 12345); got != "phone-sale:u1:12345" {
		t.Fatalf("String = %q", got)
	}
}

// FuzzParse: whatever Parse accepts, Append writes back byte for byte.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"a:u:1", "a:u:007", "a:b:c:9", "::", "a:u:99999999999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, key string) {
		a, u, s, ok := Parse(key)
		if !ok {
			return
		}
		if back := String(a, u, s); back != key {
			t.Fatalf("Parse(%q) then String = %q", key, back)
		}
	})
}
