package forward

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestOrderCodecRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		o    Order
	}{
		{"minimal", Order{Method: "POST", Path: "/orders"}},
		{"full", Order{Method: "POST", Path: "/orders?x=1", Body: []byte(`{"sku":"mug"}`),
			Header: [][2]string{{"Content-Type", "application/json"}, {"X-Forwarded-For", "10.0.0.1"}, {"X-Empty", ""}}}},
		{"binary body", Order{Method: "PUT", Path: "/", Body: []byte{0, 1, 2, 0xff, ';', ':'}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := AppendOrder([]byte("prefix"), &tc.o)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.HasPrefix(b, []byte("prefix")) {
				t.Fatalf("AppendOrder lost dst: %q", b)
			}
			var got Order
			if err := ParseOrder(b[len("prefix"):], &got); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.o) {
				t.Fatalf("round trip: got %+v, want %+v", got, tc.o)
			}
		})
	}
}

func TestOrderCodecBounds(t *testing.T) {
	big := Order{Method: "POST", Path: "/", Body: []byte(strings.Repeat("x", MaxOrderSize))}
	dst := []byte("keep")
	out, err := AppendOrder(dst, &big)
	if !errors.Is(err, ErrOrderTooLarge) || string(out) != "keep" {
		t.Fatalf("oversized order: %q, %v", out, err)
	}
	many := Order{Method: "POST", Path: "/", Header: make([][2]string, maxHeaders+1)}
	if _, err := AppendOrder(nil, &many); !errors.Is(err, ErrOrderTooLarge) {
		t.Fatalf("too many headers: %v", err)
	}
	bad := [][]byte{nil, {}, []byte("2"), []byte("1"), {'1', 4, 'P', 'O'}, {'1', 0, 0, 0, 0}, {'1', 1, 'G', 0, 0x81}, append([]byte{'1', 1, 'G', 0, 0, 0}, 'z')}
	for _, b := range bad {
		var o Order
		if err := ParseOrder(b, &o); !errors.Is(err, ErrBadOrder) {
			t.Errorf("ParseOrder(%q) = %v, want ErrBadOrder", b, err)
		}
	}
}

// FuzzParseOrder: the parser never panics, never accepts more than the
// bound, and whatever it accepts encodes back to the same bytes.
func FuzzParseOrder(f *testing.F) {
	seed, _ := AppendOrder(nil, &Order{Method: "POST", Path: "/orders", Body: []byte("{}"), Header: [][2]string{{"A", "b"}}})
	f.Add(seed)
	f.Add([]byte{'1', 1, 'G', 0, 0, 0})
	f.Add([]byte{'1', 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Fuzz(func(t *testing.T, b []byte) {
		var o Order
		if err := ParseOrder(b, &o); err != nil {
			return
		}
		again, err := AppendOrder(nil, &o)
		if err != nil {
			t.Fatalf("parsed order does not encode: %v", err)
		}
		if !bytes.Equal(again, b) {
			t.Fatalf("re-encoding differs:\n in %q\nout %q", b, again)
		}
	})
}
