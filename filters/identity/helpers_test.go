package identity

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/flashgate/flashgate/gateway"
	"github.com/flashgate/flashgate/internal/filtertest"
)

var (
	testSecret = []byte("0123456789abcdef0123456789abcdef")
	testNow    = filtertest.T0
)

// outcomeOf runs f and returns the rejection reason ("" on pass) and user.
func outcomeOf(t testing.TB, f gateway.Filter, r *gateway.Request) (string, string) {
	t.Helper()
	if reason, _ := filtertest.Outcome(t, f, r); reason != "" {
		if len(r.User) != 0 {
			t.Fatalf("rejected request has user %q", r.User)
		}
		return reason, ""
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
