package gateway

import (
	"net"
	"net/netip"
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/flashgate/flashgate/override"
)

// FuzzClientIP: whatever a client puts in the real-IP header, the address
// is either parsed from its first entry or taken from the connection;
// nothing panics and no garbage address comes out.
func FuzzClientIP(f *testing.F) {
	for _, s := range []string{"203.0.113.7", " 10.0.0.1 , 10.0.0.2", "::ffff:1.2.3.4", "fe80::1%eth0", "", ",", "not an ip", "1.2.3.4:80"} {
		f.Add(s)
	}
	peer := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 9), Port: 1}
	f.Fuzz(func(t *testing.T, v string) {
		var ctx fasthttp.RequestCtx
		ctx.Init(&fasthttp.Request{}, peer, nil)
		ctx.Request.Header.Set("X-Real-IP", v)
		got := clientIP(&ctx, CanonicalHeader("X-Real-IP"))
		if !got.IsValid() {
			t.Fatalf("no address for %q", v)
		}
		if got != netip.MustParseAddr("127.0.0.9") && !got.Is4() && !got.Is6() {
			t.Fatalf("odd address %v", got)
		}
	})
}

func TestClientIP(t *testing.T) {
	peer := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 9), Port: 1}
	tests := []struct{ header, want string }{
		{"203.0.113.7", "203.0.113.7"},
		{" 10.0.0.1 , 10.0.0.2", "10.0.0.2"},
		{"8.8.8.8, 203.0.113.9", "203.0.113.9"}, // the client wrote 8.8.8.8
		{"::ffff:1.2.3.4", "1.2.3.4"},
		{"garbage", "127.0.0.9"},
		{"", "127.0.0.9"},
	}
	for _, tc := range tests {
		var ctx fasthttp.RequestCtx
		ctx.Init(&fasthttp.Request{}, peer, nil)
		if tc.header != "" {
			ctx.Request.Header.Set("X-Real-IP", tc.header)
		}
		if got := clientIP(&ctx, CanonicalHeader("X-Real-IP")).String(); got != tc.want {
			t.Errorf("%q: got %s, want %s", tc.header, got, tc.want)
		}
	}
}

// FuzzParseWindow: whatever an admin client sends as a window body, the
// parser either refuses it with a message or returns a window the
// override store accepts; nothing panics.
func FuzzParseWindow(f *testing.F) {
	for _, s := range []string{
		`{"start":"2026-01-01T00:00:00Z","end":"2026-01-02T00:00:00+08:00"}`, `{"start":null,"end":"2026-01-01T00:00:00Z"}`,
		`{"start":"2026-02-01T00:00:00Z","end":"2026-01-01T00:00:00Z"}`, `{}`, `[]`, `{"start":1}`, `{"begin":"x"}`, ``, `{"start":"x"} {}`,
		`{"end":"2026-01-01T00:00:00Z","end":"2027-01-01T00:00:00Z"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		w, err := parseWindow(body)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("an error without a message")
			}
			return
		}
		if verr := override.Validate(w); verr != nil {
			t.Fatalf("parsed %q into a window the store refuses: %v", body, verr)
		}
	})
}
