package token

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"github.com/flashgate/flashgate/internal/filtertest"
	"net/url"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// FuzzToken: parsing and verifying never panic, and a token is accepted
// only when its tag is the HMAC of its body under the named key,
// computed here with crypto/hmac independently of the code under test.
func FuzzToken(f *testing.F) {
	f.Add(mint(f, "k2", secretB, t0, "alice", "act1"))
	f.Add(mint(f, "k1", secretA, t0, "u@x.y:z-1", "act2"))
	f.Add(mint(f, "k9", secretA, t0, "alice", "act1"))
	f.Add("AQJrMQ")
	f.Add("")
	env := testEnv()
	fl := buildFilter(f, env, map[string]any{})
	secrets := map[string]string{"k1": secretA, "k2": secretB}
	f.Fuzz(func(t *testing.T, tok string) {
		var sc scratch
		fields, o := fl.verify([]byte(tok), &sc)
		if o != ok {
			return
		}
		b, err := base64.RawURLEncoding.DecodeString(tok)
		if err != nil {
			t.Fatalf("accepted undecodable %q", tok)
		}
		m := hmac.New(sha256.New, []byte(secrets[string(fields.kid)]))
		m.Write(domain)
		m.Write(b[:len(b)-tagLen])
		if !hmac.Equal(m.Sum(nil)[:tagLen], b[len(b)-tagLen:]) {
			t.Fatalf("accepted a token not signed with its key: %q", tok)
		}
		r := filtertest.Request(env.Activities[0], string(fields.user), time.UnixMilli(fields.issuedMs).Add(time.Minute))
		_ = fl.bind(&fields, r)
	})
}

// FuzzTokenRoundTrip: whatever the endpoint can issue, the filter reads
// back field for field.
func FuzzTokenRoundTrip(f *testing.F) {
	f.Add("alice", "act1", int64(1893585600000), []byte("0123456789ab"))
	f.Add("u", "a", int64(0), []byte("\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"))
	env := testEnv()
	fl := buildFilter(f, env, map[string]any{})
	f.Fuzz(func(t *testing.T, user, act string, ms int64, nonce []byte) {
		if ms < 0 || ms > 1<<62 || len(nonce) != nonceLen {
			return
		}
		var bin [maxBinary]byte
		var sum [32]byte
		tok, good := appendToken(nil, bin[:], fl.ring.Primary(), ms, nonce, []byte(user), []byte(act), &sum)
		if !good {
			if len(user) >= 1 && len(user) <= maxUser && len(act) >= 1 && len(act) <= maxAct {
				t.Fatalf("refused user %q act %q", user, act)
			}
			return
		}
		if len(tok) > maxText {
			t.Fatalf("token of %d chars, max %d", len(tok), maxText)
		}
		var sc scratch
		got, o := fl.verify(tok, &sc)
		if o != ok || got.issuedMs != ms || !bytes.Equal(got.nonce, nonce) || string(got.user) != user ||
			string(got.act) != act || string(got.kid) != "k2" {
			t.Fatalf("round trip: %v %+v", o, got)
		}
	})
}

// FuzzExtract drives the header/query/form extraction with arbitrary
// requests: it must not panic, must prefer the header, and a token sent
// as a query or form field must come back intact.
func FuzzExtract(f *testing.F) {
	tok := mint(f, "k2", secretB, t0, "alice", "act1")
	f.Add("/buy?order_token="+tok, "", "", "")
	f.Add("/buy?a=1&order_token=%41%42&order_token=x", "order_token="+tok, "application/x-www-form-urlencoded", "")
	f.Add("/buy", "order_token="+url.QueryEscape(tok)+"&&=&x", "application/x-www-form-urlencoded; charset=utf-8", tok)
	f.Add("/buy?order_token", "order_token", "multipart/form-data; boundary=x", "")
	env := testEnv()
	fl := buildFilter(f, env, map[string]any{})
	f.Fuzz(func(t *testing.T, uri, body, ctype, header string) {
		r := filtertest.Request(env.Activities[0], "alice", t0.Add(time.Minute))
		req := &r.Ctx.Request
		req.Header.SetMethod(fasthttp.MethodPost)
		req.SetRequestURI(uri)
		req.Header.SetContentType(ctype)
		req.SetBodyString(body)
		if header != "" {
			req.Header.Set("X-Order-Token", header)
		}
		got := fl.extract(r.Ctx)
		if h := req.Header.Peek("X-Order-Token"); len(h) > 0 && !bytes.Equal(got, h) {
			t.Fatalf("header %q present but extracted %q", h, got)
		}
		if _, err := fl.Handle(r); err != nil {
			t.Fatal(err)
		}
		// A token placed as the only query field reads back intact.
		r2 := filtertest.Request(env.Activities[0], "alice", t0.Add(time.Minute))
		r2.Ctx.Request.SetRequestURI("/buy?order_token=" + url.QueryEscape(header))
		if got := fl.extract(r2.Ctx); string(got) != header {
			t.Fatalf("query %q extracted as %q", header, got)
		}
	})
}
