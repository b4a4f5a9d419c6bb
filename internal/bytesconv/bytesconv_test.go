package bytesconv

import "testing"

func TestTrimOWS(t *testing.T) {
	for in, want := range map[string]string{
		"": "", " \t": "", "a": "a", " a ": "a", "\ta b\t ": "a b", "a\r": "a\r",
	} {
		if got := string(TrimOWS([]byte(in))); got != want {
			t.Errorf("TrimOWS(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestString(t *testing.T) {
	b := []byte("10.0.0.1")
	if s := String(b); s != "10.0.0.1" {
		t.Fatalf("String = %q", s)
	}
	if String(nil) != "" {
		t.Fatal("String(nil) not empty")
	}
}

func TestNoAllocs(t *testing.T) {
	b := []byte("  203.0.113.7 ")
	m := map[string]int{"203.0.113.7": 1}
	if n := testing.AllocsPerRun(100, func() { _ = m[String(TrimOWS(b))] }); n != 0 {
		t.Errorf("%v allocs", n)
	}
}
