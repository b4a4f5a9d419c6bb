package identity

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/flashgate/flashgate/internal/filtertest"
	"github.com/flashgate/flashgate/internal/userid"
)

func fuzzVerifier(t testing.TB) *verifier {
	return filtertest.Filter[*filter](t, filtertest.Env(), "identity", hsSettings(map[string]any{"audience": "shop"})).jwt
}

// signedWith reports whether tok's signature is the HMAC of its signing
// input under key, computed independently of the code under test.
func signedWith(tok string, key []byte) bool {
	i := strings.LastIndexByte(tok, '.')
	if i < 0 {
		return false
	}
	sig, err := base64.RawURLEncoding.DecodeString(tok[i+1:])
	if err != nil {
		return false
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(tok[:i]))
	return hmac.Equal(m.Sum(nil), sig)
}

// FuzzJWT feeds arbitrary credentials: the verifier must never panic and
// never accept a token whose signature was not made with the key.
func FuzzJWT(f *testing.F) {
	exp := itoa(testNow.Add(time.Hour).Unix())
	f.Add(rawHS256(hdr, `{"sub":"alice","exp":`+exp+`,"aud":"shop"}`, testSecret))
	f.Add(rawHS256(hdr, `{"sub":"alice","exp":`+exp+`,"aud":["x","shop"]}`, testSecret))
	f.Add(rawHS256(hdr, `{"sub":"a\u0041","exp":1e12,"nbf":1.5,"aud":"shop","x":[{"y":null}]}`, testSecret))
	f.Add(rawHS256(`{"alg":"none"}`, `{"sub":"a","exp":`+exp+`}`, testSecret))
	f.Add(rawHS256(hdr, `{"sub":"alice","exp":`+exp+`}`, []byte("wrong-key-wrong-key-wrong-key-xx")))
	f.Add("eyJhbGciOiJIUzI1NiJ9.e30.")
	f.Add("a.b.c")
	f.Add("..")
	v := fuzzVerifier(f)
	nowMs := testNow.UnixMilli()
	f.Fuzz(func(t *testing.T, tok string) {
		sc := new(scratch)
		user, o := v.verify([]byte(tok), nowMs, sc)
		if o != ok {
			return
		}
		if !signedWith(tok, testSecret) {
			t.Fatalf("accepted a token not signed with the key: %q", tok)
		}
		if !userid.Valid(user) {
			t.Fatalf("accepted invalid user %q", user)
		}
	})
}

// FuzzJWTClaims signs fuzzed header and claims JSON (or signs them with
// the wrong key) and checks every acceptance against encoding/json.
func FuzzJWTClaims(f *testing.F) {
	exp := itoa(testNow.Add(time.Hour).Unix())
	f.Add(hdr, `{"sub":"alice","exp":`+exp+`,"aud":"shop"}`, true)
	f.Add(hdr, `{"sub":"alice","exp":`+exp+`,"aud":"shop"}`, false)
	f.Add(`{"alg":"HS256","kid":"k\"1"}`, `{"sub":12,"exp":`+exp+`.25,"aud":["shop"],"n":{"a":[1,2,{"b":"\ud83d\ude00"}]}}`, true)
	f.Add(`{"alg":"HS256"}`, `{"sub":"a\u002eb","exp":`+exp+`,"nbf":0,"aud":"shop"}`, true)
	v := fuzzVerifier(f)
	nowMs := testNow.UnixMilli()
	wrong := []byte("wrong-key-wrong-key-wrong-key-xx")
	f.Fuzz(func(t *testing.T, header, payload string, sign bool) {
		key := testSecret
		if !sign {
			key = wrong
		}
		tok := rawHS256(header, payload, key)
		user, o := v.verify([]byte(tok), nowMs, new(scratch))
		if o != ok {
			return
		}
		if !sign {
			t.Fatalf("accepted a token signed with the wrong key: %q %q", header, payload)
		}
		var h struct{ Alg string }
		if err := json.Unmarshal([]byte(header), &h); err != nil || h.Alg != "HS256" {
			t.Fatalf("accepted header %q (alg %q, err %v)", header, h.Alg, err)
		}
		var c map[string]any
		d := json.NewDecoder(strings.NewReader(payload))
		d.UseNumber()
		if err := d.Decode(&c); err != nil {
			t.Fatalf("accepted claims encoding/json refuses: %q: %v", payload, err)
		}
		e, isNum := c["exp"].(json.Number)
		ef, err := e.Float64()
		if !isNum || err != nil || ef*1000 <= float64(nowMs-5000) {
			t.Fatalf("accepted exp %v in %q", c["exp"], payload)
		}
		if want := claimText(c["sub"]); want != string(user) {
			t.Fatalf("user %q, encoding/json reads %q from %q", user, want, payload)
		}
	})
}

func claimText(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case json.Number:
		return v.String()
	}
	return "<not a string>"
}

// FuzzJSONScanner checks the scanner against encoding/json: whatever it
// walks to the end is valid JSON, valid shallow objects are walked to the
// end, and unescaped strings read the same.
func FuzzJSONScanner(f *testing.F) {
	for _, s := range []string{`{}`, `{"a":1}`, `{"a":"b\n\u00e9\ud83d\ude00","c":[1,-2.5e3,true,false,null,{}]}`,
		` { "x" : { "y" : [ ] } } `, `{"a":1,}`, `{"a" 1}`, `{"a":01}`, `{"a":"\x"}`, `[1]`, `{"a":[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		it := object(b)
		buf := make([]byte, 0, len(b))
		for m, more := it.next(); more; m, more = it.next() {
			if m.kind == kindString && utf8.Valid(m.val) {
				got, good := unescape(buf, m.val)
				var want string
				if err := json.Unmarshal(append(append([]byte{'"'}, m.val...), '"'), &want); err != nil || !good || string(got) != want {
					t.Fatalf("unescape %q = %q %v, encoding/json %q %v", m.val, got, good, want, err)
				}
			}
		}
		walked := it.done()
		if walked && !json.Valid(b) {
			t.Fatalf("scanner accepts invalid JSON %q", b)
		}
		var v any
		if !walked && json.Valid(b) && json.Unmarshal(b, &v) == nil && isObject(v) && depth(v) < maxDepth {
			t.Fatalf("scanner refuses valid object %q", b)
		}
	})
}

func isObject(v any) bool { _, isMap := v.(map[string]any); return isMap }

func depth(v any) int {
	d := 0
	switch v := v.(type) {
	case map[string]any:
		for _, e := range v {
			d = max(d, depth(e))
		}
		return d + 1
	case []any:
		for _, e := range v {
			d = max(d, depth(e))
		}
		return d + 1
	}
	return 0
}

// FuzzSessionCookie: whatever Cookie header a browser (or an attacker)
// sends, the demo's header-or-cookie identity never panics, never
// identifies anyone but the holder of a valid session, and reads the
// session from the named cookie only.
func FuzzSessionCookie(f *testing.F) {
	good := rawHS256(hdr, `{"sub":"alice","exp":`+itoa(testNow.Add(time.Hour).Unix())+`}`, testSecret)
	f.Add("", "")
	f.Add("fg_user=mallory; ", "")
	f.Add("a=b; ", "; c=d")
	f.Add(`fg_session="`, `"`)
	f.Add("fg_session=x; ", "")
	f.Add("", "; fg_session=forged")
	f.Add("fg_session2=", "")
	fl := filtertest.Filter[*filter](f, filtertest.Env(), "identity", demoShape())
	f.Fuzz(func(t *testing.T, before, after string) {
		for _, cookie := range []string{before + after, before + "fg_session=" + good + after} {
			r := filtertest.Request(nil, "", testNow, "Cookie", cookie)
			reason, user := outcomeOf(t, fl, r)
			switch {
			case reason == "" && user != "alice":
				t.Fatalf("Cookie %q identified %q", cookie, user)
			case reason == "" && !strings.Contains(cookie, good):
				t.Fatalf("Cookie %q without the session passed", cookie)
			}
		}
	})
}
