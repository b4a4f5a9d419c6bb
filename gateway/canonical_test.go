package gateway

import (
	"bufio"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"
)

// TestCanonicalHeader: a configured header name in any case finds the
// header a client sent in any case, through PeekCanonical.
func TestCanonicalHeader(t *testing.T) {
	tests := []struct{ name, configured, sent string }{
		{"lower config, canonical client", "x-user-id", "X-User-Id"},
		{"upper config, lower client", "X-REAL-IP", "x-real-ip"},
		{"canonical both", "X-Order-Token", "X-Order-Token"},
		{"underscore", "x_token", "X_TOKEN"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var req fasthttp.Request
			raw := "GET / HTTP/1.1\r\nHost: x\r\n" + tc.sent + ": v1\r\n\r\n"
			if err := req.Header.Read(bufioReader(raw)); err != nil {
				t.Fatal(err)
			}
			if got := string(req.Header.PeekCanonical(CanonicalHeader(tc.configured))); got != "v1" {
				t.Errorf("PeekCanonical(CanonicalHeader(%q)) with %q sent = %q, want v1", tc.configured, tc.sent, got)
			}
		})
	}
}

func bufioReader(s string) *bufio.Reader { return bufio.NewReader(strings.NewReader(s)) }
