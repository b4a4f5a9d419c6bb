package identity

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/flashgate/flashgate/internal/demobackend"
	"github.com/flashgate/flashgate/internal/filtertest"
	"github.com/flashgate/flashgate/internal/userid"
)

const hdr = `{"alg":"HS256","typ":"JWT"}`

func hsSettings(extra map[string]any) map[string]any {
	j := map[string]any{"alg": "HS256", "secret": string(testSecret)}
	for k, v := range extra {
		j[k] = v
	}
	return map[string]any{"jwt": j}
}

// demoShape is the identity entry of conf/demo.yaml.
func demoShape() map[string]any {
	return map[string]any{"header": "X-User-Id", "require": true,
		"jwt": map[string]any{"alg": "HS256", "secret": string(testSecret), "cookie": "fg_session"}}
}

func bearer(tok string) []string { return []string{"Authorization", "Bearer " + tok} }

func TestIdentityReasons(t *testing.T) {
	exp := testNow.Add(time.Hour).Unix()
	long := strings.Repeat("u", userid.Max)
	tests := []struct {
		name     string
		settings map[string]any
		headers  []string
		reason   string
		user     string
	}{
		// Anonymous requests.
		{"anonymous allowed", hsSettings(nil), nil, "", ""},
		{"anonymous required", map[string]any{"header": "X-User-Id", "require": true}, nil, "unauthenticated", ""},
		{"basic auth is no credential", hsSettings(nil), []string{"Authorization", "Basic dTpw"}, "", ""},
		{"empty bearer", hsSettings(nil), []string{"Authorization", "Bearer "}, "jwt_malformed", ""},

		// Trusted header.
		{"header", map[string]any{"header": "X-User-Id"}, []string{"X-User-Id", "u-42@shop.example:1"}, "", "u-42@shop.example:1"},
		{"header 128 bytes", map[string]any{"header": "X-User-Id"}, []string{"X-User-Id", long}, "", long},
		{"header 129 bytes", map[string]any{"header": "X-User-Id"}, []string{"X-User-Id", long + "u"}, "bad_user_id", ""},
		{"header with space", map[string]any{"header": "X-User-Id"}, []string{"X-User-Id", "a b"}, "bad_user_id", ""},
		{"header with brace", map[string]any{"header": "X-User-Id"}, []string{"X-User-Id", "a{b}"}, "bad_user_id", ""},
		{"header wins over jwt", map[string]any{"header": "X-User-Id", "jwt": map[string]any{"alg": "HS256", "secret": string(testSecret)}},
			[]string{"X-User-Id", "from-header", "Authorization", "Bearer garbage"}, "", "from-header"},

		// Valid tokens.
		{"jwt", hsSettings(nil), bearer(hs256(t, claims("alice"))), "", "alice"},
		{"jwt lower-case scheme", hsSettings(nil), []string{"Authorization", "bearer " + hs256(t, claims("alice"))}, "", "alice"},
		{"jwt cookie", hsSettings(map[string]any{"cookie": "session"}), []string{"Cookie", "a=b; session=" + hs256(t, claims("bob"))}, "", "bob"},
		{"jwt cookie ignores bearer", hsSettings(map[string]any{"cookie": "session"}), bearer(hs256(t, claims("bob"))), "", ""},

		// The demo's shape: the trusted header for curl, the sign-in's
		// session cookie for browsers, one of them required.
		{"header or cookie: the cookie", demoShape(), []string{"Cookie", "fg_user=x; fg_session=" + hs256(t, claims("carol"))}, "", "carol"},
		{"header or cookie: the demo sign-in's JWT", demoShape(),
			[]string{"Cookie", "fg_session=" + demobackend.SignJWT(testSecret, "dave", testNow, demobackend.DefaultSessionTTL)}, "", "dave"},
		{"header or cookie: the header wins", demoShape(), []string{"X-User-Id", "eve", "Cookie", "fg_session=" + hs256(t, claims("carol"))}, "", "eve"},
		{"header or cookie: expired session", demoShape(),
			[]string{"Cookie", "fg_session=" + demobackend.SignJWT(testSecret, "dave", testNow.Add(-time.Hour), demobackend.DefaultSessionTTL)}, "jwt_expired", ""},
		{"header or cookie: forged session", demoShape(),
			[]string{"Cookie", "fg_session=" + demobackend.SignJWT([]byte("another-secret-0123456789abcdef0123"), "dave", testNow, time.Hour)}, "jwt_bad_signature", ""},
		{"header or cookie: only the hint cookie", demoShape(), []string{"Cookie", "fg_user=carol"}, "unauthenticated", ""},
		{"header or cookie: neither", demoShape(), nil, "unauthenticated", ""},
		{"jwt integer sub", hsSettings(nil), bearer(rawHS256(hdr, `{"sub":12345,"exp":`+itoa(exp)+`}`, testSecret)), "", "12345"},
		{"jwt escaped sub", hsSettings(nil), bearer(rawHS256(hdr, `{"s\u0075b":"us\u0065r","exp":`+itoa(exp)+`}`, testSecret)), "", "user"},
		{"jwt custom claim", hsSettings(map[string]any{"claim": "uid"}), bearer(hs256(t, jwt.MapClaims{"uid": "carol", "sub": "x y", "exp": exp})), "", "carol"},
		{"jwt fractional exp", hsSettings(nil), bearer(rawHS256(hdr, `{"sub":"a","exp":`+itoa(exp)+`.5}`, testSecret)), "", "a"},
		{"jwt within leeway", hsSettings(nil), bearer(hs256(t, jwt.MapClaims{"sub": "a", "exp": testNow.Add(-3 * time.Second).Unix()})), "", "a"},
		{"jwt nbf within leeway", hsSettings(nil), bearer(hs256(t, jwt.MapClaims{"sub": "a", "exp": exp, "nbf": testNow.Add(3 * time.Second).Unix()})), "", "a"},
		{"jwt issuer and audience", hsSettings(map[string]any{"issuer": "https://auth", "audience": "shop"}),
			bearer(hs256(t, jwt.MapClaims{"sub": "a", "exp": exp, "iss": "https://auth", "aud": []string{"x", "shop"}})), "", "a"},
		{"jwt audience string", hsSettings(map[string]any{"audience": "shop"}), bearer(hs256(t, jwt.MapClaims{"sub": "a", "exp": exp, "aud": "shop"})), "", "a"},
		{"jwt unknown nested claims", hsSettings(nil), bearer(rawHS256(hdr, `{"x":{"y":[1,{"z":null}],"w":true},"sub":"a","exp":`+itoa(exp)+`}`, testSecret)), "", "a"},

		// jwt_malformed.
		{"one part", hsSettings(nil), bearer("abc"), "jwt_malformed", ""},
		{"two parts", hsSettings(nil), bearer("abc.def"), "jwt_malformed", ""},
		{"four parts", hsSettings(nil), bearer(hs256(t, claims("a")) + ".x"), "jwt_malformed", ""},
		{"bad base64", hsSettings(nil), bearer("a*c.def.ghi"), "jwt_malformed", ""},
		{"padded base64", hsSettings(nil), bearer("eyJhbGciOiJIUzI1NiJ9=.e30.abc"), "jwt_malformed", ""},
		{"header not json", hsSettings(nil), bearer(rawHS256(`{alg:HS256}`, `{}`, testSecret)), "jwt_malformed", ""},
		{"header trailing data", hsSettings(nil), bearer(rawHS256(hdr+`x`, `{}`, testSecret)), "jwt_malformed", ""},
		{"header is array", hsSettings(nil), bearer(rawHS256(`["HS256"]`, `{}`, testSecret)), "jwt_malformed", ""},
		{"duplicate alg", hsSettings(nil), bearer(rawHS256(`{"alg":"HS256","alg":"none"}`, `{"sub":"a","exp":`+itoa(exp)+`}`, testSecret)), "jwt_malformed", ""},
		{"crit header", hsSettings(nil), bearer(rawHS256(`{"alg":"HS256","crit":["b64"],"b64":false}`, `{"sub":"a","exp":`+itoa(exp)+`}`, testSecret)), "jwt_malformed", ""},
		{"payload not json", hsSettings(nil), bearer(rawHS256(hdr, `sub=a`, testSecret)), "jwt_malformed", ""},
		{"duplicate sub", hsSettings(nil), bearer(rawHS256(hdr, `{"sub":"a","sub":"b","exp":`+itoa(exp)+`}`, testSecret)), "jwt_malformed", ""},
		{"too long", hsSettings(nil), bearer(strings.Repeat("a", maxToken+1)), "jwt_malformed", ""},

		// jwt_bad_signature.
		{"wrong key", hsSettings(nil), bearer(rawHS256(hdr, `{"sub":"a","exp":`+itoa(exp)+`}`, []byte("another-secret-another-secret-xx"))), "jwt_bad_signature", ""},
		{"tampered payload", hsSettings(nil), bearer(tamper(hs256(t, claims("alice")))), "jwt_bad_signature", ""},
		{"truncated signature", hsSettings(nil), bearer(dropTail(hs256(t, claims("alice")), 4)), "jwt_bad_signature", ""},
		{"empty signature", hsSettings(nil), bearer(strings.TrimRight(rawHS256(hdr, `{}`, testSecret), "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_")), "jwt_bad_signature", ""},

		// jwt_expired and jwt_not_yet_valid.
		{"expired", hsSettings(nil), bearer(hs256(t, jwt.MapClaims{"sub": "a", "exp": testNow.Add(-6 * time.Second).Unix()})), "jwt_expired", ""},
		{"expired no leeway", hsSettings(map[string]any{"leeway": "0s"}), bearer(hs256(t, jwt.MapClaims{"sub": "a", "exp": testNow.Unix()})), "jwt_expired", ""},
		{"not yet valid", hsSettings(nil), bearer(hs256(t, jwt.MapClaims{"sub": "a", "exp": exp, "nbf": testNow.Add(6 * time.Second).Unix()})), "jwt_not_yet_valid", ""},

		// jwt_bad_alg.
		{"alg none", hsSettings(nil), bearer(unsecured(`{"sub":"a","exp":` + itoa(exp) + `}`)), "jwt_bad_alg", ""},
		{"alg HS512", hsSettings(nil), bearer(rawHS256(`{"alg":"HS512"}`, `{"sub":"a","exp":`+itoa(exp)+`}`, testSecret)), "jwt_bad_alg", ""},
		{"alg lower case", hsSettings(nil), bearer(rawHS256(`{"alg":"hs256"}`, `{"sub":"a","exp":`+itoa(exp)+`}`, testSecret)), "jwt_bad_alg", ""},
		{"alg missing", hsSettings(nil), bearer(rawHS256(`{"typ":"JWT"}`, `{"sub":"a","exp":`+itoa(exp)+`}`, testSecret)), "jwt_bad_alg", ""},
		{"alg not a string", hsSettings(nil), bearer(rawHS256(`{"alg":256}`, `{"sub":"a","exp":`+itoa(exp)+`}`, testSecret)), "jwt_malformed", ""},

		// jwt_bad_claims.
		{"no sub", hsSettings(nil), bearer(hs256(t, jwt.MapClaims{"exp": exp})), "jwt_bad_claims", ""},
		{"null sub", hsSettings(nil), bearer(hs256(t, jwt.MapClaims{"sub": nil, "exp": exp})), "jwt_bad_claims", ""},
		{"float sub", hsSettings(nil), bearer(hs256(t, jwt.MapClaims{"sub": 1.5, "exp": exp})), "jwt_bad_claims", ""},
		{"object sub", hsSettings(nil), bearer(hs256(t, jwt.MapClaims{"sub": map[string]any{}, "exp": exp})), "jwt_bad_claims", ""},
		{"no exp", hsSettings(nil), bearer(hs256(t, jwt.MapClaims{"sub": "a"})), "jwt_bad_claims", ""},
		{"string exp", hsSettings(nil), bearer(hs256(t, jwt.MapClaims{"sub": "a", "exp": "soon"})), "jwt_bad_claims", ""},
		{"negative exp", hsSettings(nil), bearer(hs256(t, jwt.MapClaims{"sub": "a", "exp": -1})), "jwt_bad_claims", ""},
		{"wrong issuer", hsSettings(map[string]any{"issuer": "https://auth"}), bearer(hs256(t, jwt.MapClaims{"sub": "a", "exp": exp, "iss": "https://evil"})), "jwt_bad_claims", ""},
		{"missing issuer", hsSettings(map[string]any{"issuer": "https://auth"}), bearer(hs256(t, claims("a"))), "jwt_bad_claims", ""},
		{"wrong audience", hsSettings(map[string]any{"audience": "shop"}), bearer(hs256(t, jwt.MapClaims{"sub": "a", "exp": exp, "aud": []string{"blog"}})), "jwt_bad_claims", ""},
		{"missing audience", hsSettings(map[string]any{"audience": "shop"}), bearer(hs256(t, claims("a"))), "jwt_bad_claims", ""},

		// bad_user_id from a valid token.
		{"jwt sub with space", hsSettings(nil), bearer(hs256(t, claims("a b"))), "bad_user_id", ""},
		{"jwt sub too long", hsSettings(nil), bearer(hs256(t, claims(long+"x"))), "bad_user_id", ""},
		{"jwt sub escaped NUL", hsSettings(nil), bearer(rawHS256(hdr, `{"sub":"a\u0000","exp":`+itoa(exp)+`}`, testSecret)), "bad_user_id", ""},
		{"jwt sub empty", hsSettings(nil), bearer(hs256(t, claims(""))), "bad_user_id", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := filtertest.Filter[*filter](t, filtertest.Env(), "identity", tc.settings)
			r := filtertest.Request(nil, "", testNow, tc.headers...)
			reason, user := outcomeOf(t, f, r)
			if reason != tc.reason || user != tc.user {
				t.Fatalf("got reason %q user %q, want reason %q user %q", reason, user, tc.reason, tc.user)
			}
			www := string(r.Ctx.Response.Header.Peek("WWW-Authenticate"))
			wantChallenge := f.bearer && reason != "" && reason != "bad_user_id"
			if wantChallenge != (www != "") {
				t.Fatalf("WWW-Authenticate %q for reason %q", www, reason)
			}
		})
	}
}

func TestReasonPages(t *testing.T) {
	f := filtertest.Filter[*filter](t, filtertest.Env(), "identity", hsSettings(nil))
	for o := jwtMalformed; o < numOutcomes; o++ {
		p := f.pages[o]
		if p == nil || p.Reason != pageSpecs[o].Reason || p.Status != pageSpecs[o].Status {
			t.Fatalf("page %d: %+v", o, p)
		}
		if !strings.Contains(string(p.JSON), `"error":"`+p.Reason+`"`) {
			t.Fatalf("page %s JSON %s", p.Reason, p.JSON)
		}
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// tamper changes the payload's user while keeping the old signature.
func tamper(tok string) string {
	parts := strings.Split(tok, ".")
	parts[1] = strings.Replace(parts[1], parts[1][:4], "eyJ4", 1)
	return strings.Join(parts, ".")
}

// unsecured builds an "alg":"none" token, which has an empty signature.
func unsecured(payload string) string {
	t := rawHS256(`{"alg":"none"}`, payload, testSecret)
	return t[:strings.LastIndexByte(t, '.')+1]
}

func dropTail(s string, n int) string { return s[:len(s)-n] }
