package identity

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/netip"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/valyala/fasthttp"

	"github.com/flashgate/flashgate/conf"
	"github.com/flashgate/flashgate/gateway"
)

var (
	testSecret = []byte("0123456789abcdef0123456789abcdef")
	testNow    = time.Date(2030, 1, 2, 12, 0, 0, 0, time.UTC)
)

// build decodes settings like the gateway does and builds the filter,
// failing the test on any config error.
func build(t testing.TB, settings map[string]any) *filter {
	t.Helper()
	c := newConfig()
	var errs conf.Errors
	conf.DecodeSection(&errs, "identity", settings, c)
	if err := errs.Err(); err != nil {
		t.Fatal(err)
	}
	f, err := c.Build(gateway.NewEnv())
	if err != nil {
		t.Fatal(err)
	}
	return f.(*filter)
}

// newRequest returns a request at testNow with the given headers.
func newRequest(headers ...string) *gateway.Request {
	ctx := new(fasthttp.RequestCtx)
	for i := 0; i+1 < len(headers); i += 2 {
		ctx.Request.Header.Set(headers[i], headers[i+1])
	}
	return &gateway.Request{Ctx: ctx, Now: testNow, IP: netip.MustParseAddr("127.0.0.1")}
}

// outcomeOf runs f and returns the rejection reason ("" on pass) and user.
func outcomeOf(t testing.TB, f gateway.Filter, r *gateway.Request) (string, string) {
	t.Helper()
	v, err := f.Handle(r)
	if err != nil {
		t.Fatalf("Handle: %v", err)
	}
	if v.Action == gateway.Reject {
		if len(r.User) != 0 {
			t.Fatalf("rejected request has user %q", r.User)
		}
		return v.Page.Reason, ""
	}
	return "", string(r.User)
}

// hs256 signs claims with golang-jwt, the reference implementation.
func hs256(t testing.TB, claims jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(testSecret)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// rawHS256 builds a token from literal header and payload JSON, so tests
// can sign what no library would produce.
func rawHS256(header, payload string, key []byte) string {
	enc := base64.RawURLEncoding
	in := enc.EncodeToString([]byte(header)) + "." + enc.EncodeToString([]byte(payload))
	m := hmac.New(sha256.New, key)
	m.Write([]byte(in))
	return in + "." + enc.EncodeToString(m.Sum(nil))
}

// claims returns valid claims for user, expiring an hour after testNow.
func claims(user any) jwt.MapClaims {
	return jwt.MapClaims{"sub": user, "exp": testNow.Add(time.Hour).Unix(), "iat": testNow.Unix()}
}
