package gateway

import (
	"strconv"
	"testing"
)

// TestPageByMethod: a reloading page answered to a POST is the variant
// that goes elsewhere (a browser follows a refresh with a GET, which the
// POST route would answer 405); GET and HEAD get the one that reloads
// itself.
func TestPageByMethod(t *testing.T) {
	p, err := BuildPage(PageSpec{Status: 503, Reason: "busy", Kind: "busy", RetryAfter: 1},
		func(s PageSpec, other bool) ([]byte, error) {
			return []byte(s.Kind + " other=" + strconv.FormatBool(other)), nil
		})
	if err != nil {
		t.Fatal(err)
	}
	for method, want := range map[string]string{
		"GET": "busy other=false", "HEAD": "busy other=false", "POST": "busy other=true", "PUT": "busy other=true", "DELETE": "busy other=true",
	} {
		ctx := newCtx(method, "/buy/x")
		p.Write(ctx)
		if got := string(ctx.Response.Body()); got != want {
			t.Errorf("%s: body %q, want %q", method, got, want)
		}
	}
}
