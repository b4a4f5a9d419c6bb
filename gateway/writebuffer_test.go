package gateway

import (
	"testing"

	"github.com/flashgate/flashgate/conf"
)

// TestWriteBufferSize: unless set, fasthttp's 4 KiB on a plain listener
// (pages of zeroCopyMin bytes or more skip the buffer: zerocopy_test.go
// checks them on a socket), and on a TLS listener the size that holds the
// largest page served with its headers, which really goes out in it.
func TestWriteBufferSize(t *testing.T) {
	ts := newTestServer(t, `
routes:
  - path: /p/{product}
    action: {type: static, page: "{product}"}
`, Deps{})
	in := ts.Instance()
	largest := in.LargestPage()
	if largest < in.Site.LargestBody() || largest < in.Pages.Largest() || largest == 0 {
		t.Fatalf("LargestPage %d < site %d or pages %d", largest, in.Site.LargestBody(), in.Pages.Largest())
	}
	tls := conf.TLS{CertFile: "cert.pem", KeyFile: "key.pem"}
	tests := []struct {
		name string
		sc   conf.Server
		want int
	}{
		{"derived, plain", conf.Server{}, conf.MinWriteBuffer},
		{"derived, TLS", conf.Server{TLS: tls}, max(conf.MinWriteBuffer, (largest+headerRoom+1023)&^1023)},
		{"explicit", conf.Server{WriteBufferSize: 65536}, 65536},
		{"explicit, TLS", conf.Server{WriteBufferSize: 8192, TLS: tls}, 8192},
		{"explicit floor", conf.Server{WriteBufferSize: conf.MinWriteBuffer}, conf.MinWriteBuffer},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := WriteBufferSize(tc.sc, in)
			if got != tc.want {
				t.Fatalf("WriteBufferSize = %d, want %d", got, tc.want)
			}
			if tc.sc.WriteBufferSize == 0 && tc.sc.TLS.Enabled() && (got < largest+headerRoom || got%1024 != 0) {
				t.Fatalf("derived %d does not hold the largest page %d and its headers", got, largest)
			}
		})
	}
	if ts.WriteBuffer() != WriteBufferSize(in.Config.Server, in) {
		t.Fatalf("server uses %d, want %d", ts.WriteBuffer(), WriteBufferSize(in.Config.Server, in))
	}
	resp := ts.do(t, "GET", "/p/phone-x")
	if n := len(resp.Header.Header()) + len(resp.Body()); resp.StatusCode() != 200 || n > WriteBufferSize(conf.Server{TLS: tls}, in) {
		t.Fatalf("status %d, response %d bytes > the TLS buffer %d", resp.StatusCode(), n, WriteBufferSize(conf.Server{TLS: tls}, in))
	}
}
