package gateway

import (
	"testing"

	"github.com/flashgate/flashgate/conf"
)

// TestWriteBufferSize: derived from the largest page served unless set,
// and the largest product page really goes out through a buffer that
// holds it with its headers.
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
	tests := []struct {
		name string
		set  int
		want int
	}{
		{"derived", 0, max(conf.MinWriteBuffer, (largest+headerRoom+1023)&^1023)},
		{"explicit", 65536, 65536},
		{"explicit floor", conf.MinWriteBuffer, conf.MinWriteBuffer},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := WriteBufferSize(conf.Server{WriteBufferSize: tc.set}, in)
			if got != tc.want {
				t.Fatalf("WriteBufferSize = %d, want %d", got, tc.want)
			}
			if tc.set == 0 && (got < largest+headerRoom || got%1024 != 0) {
				t.Fatalf("derived %d does not hold the largest page %d and its headers", got, largest)
			}
		})
	}
	if ts.WriteBuffer() != WriteBufferSize(in.Config.Server, in) {
		t.Fatalf("server uses %d, want %d", ts.WriteBuffer(), WriteBufferSize(in.Config.Server, in))
	}
	resp := ts.do(t, "GET", "/p/phone-x")
	if n := len(resp.Header.Header()) + len(resp.Body()); resp.StatusCode() != 200 || n > ts.WriteBuffer() {
		t.Fatalf("status %d, response %d bytes > buffer %d", resp.StatusCode(), n, ts.WriteBuffer())
	}
}
