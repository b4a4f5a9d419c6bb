package demobackend

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/valyala/fasthttp"
)

var testSecret = []byte("test-session-secret-0123456789abcdef")

func loginCtx(method, uri, form string) *fasthttp.RequestCtx {
	ctx := &fasthttp.RequestCtx{}
	ctx.Request.Header.SetMethod(method)
	ctx.Request.SetRequestURI(uri)
	if form != "" {
		ctx.Request.Header.SetContentType("application/x-www-form-urlencoded")
		ctx.Request.SetBodyString(form)
	}
	return ctx
}

func TestLogin(t *testing.T) {
	b := New(Options{SessionSecret: testSecret, SessionTTL: 10 * time.Minute})
	tests := []struct {
		name, method, uri, form string
		status                  int
		location                string
		want                    []string // in the body
		session                 bool
	}{
		{"form", "GET", "/login?next=/p/phone-x", "", 200, "", []string{`<form method="post" action="/login">`, `name="next" value="/p/phone-x"`, "Sign in · Flash Shop", "Your session lasts 10 minutes."}, false},
		{"form keeps a foreign next home", "GET", "/login?next=//evil.example", "", 200, "", []string{`name="next" value="/"`}, false},
		{"sign in", "POST", "/login", "user=alice&next=%2Fp%2Fphone-x", 303, "/p/phone-x", nil, true},
		{"sign in, foreign next", "POST", "/login", "user=alice&next=https%3A%2F%2Fevil.example", 303, "/", nil, true},
		{"bad name", "POST", "/login", "user=a+b&next=%2Fp%2Fx", 400, "", []string{`role="alert"`, `value="a b"`, `name="next" value="/p/x"`}, false},
		{"empty name", "POST", "/login", "user=", 400, "", []string{"Please pick a name"}, false},
		{"wrong method", "PUT", "/login", "", 405, "", nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := loginCtx(tc.method, tc.uri, tc.form)
			b.Handler(ctx)
			r := &ctx.Response
			if r.StatusCode() != tc.status {
				t.Fatalf("status %d, want %d: %s", r.StatusCode(), tc.status, r.Body())
			}
			if tc.location != "" {
				if got := string(r.Header.Peek("Location")); !strings.HasSuffix(got, tc.location) || strings.Contains(got, "evil") {
					t.Errorf("Location %q, want %q", got, tc.location)
				}
			}
			for _, w := range tc.want {
				if !strings.Contains(string(r.Body()), w) {
					t.Errorf("body lacks %q:\n%s", w, r.Body())
				}
			}
			session := cookie(r, SessionCookie)
			if (session != nil) != tc.session {
				t.Fatalf("session cookie set: %v, want %v", session != nil, tc.session)
			}
			if session == nil {
				return
			}
			if !session.HTTPOnly() || session.SameSite() != fasthttp.CookieSameSiteLaxMode || string(session.Path()) != "/" || session.MaxAge() != 600 {
				t.Errorf("session cookie attributes: %s", session)
			}
			tok, err := jwt.Parse(string(session.Value()), func(*jwt.Token) (any, error) { return testSecret, nil },
				jwt.WithValidMethods([]string{"HS256"}), jwt.WithExpirationRequired())
			if err != nil {
				t.Fatalf("session JWT: %v", err)
			}
			sub, _ := tok.Claims.GetSubject()
			exp, _ := tok.Claims.GetExpirationTime()
			if sub != "alice" || time.Until(exp.Time) > 10*time.Minute || time.Until(exp.Time) < 9*time.Minute {
				t.Errorf("claims sub=%q exp in %s", sub, time.Until(exp.Time))
			}
			user := cookie(r, UserCookie)
			if user == nil || string(user.Value()) != "alice" || user.HTTPOnly() {
				t.Errorf("user cookie: %v", user)
			}
		})
	}
}

func TestLogout(t *testing.T) {
	b := New(Options{SessionSecret: testSecret})
	ctx := loginCtx("GET", "/logout?next="+url.QueryEscape("/p/phone-x"), "")
	b.Handler(ctx)
	if ctx.Response.StatusCode() != 303 || !strings.HasSuffix(string(ctx.Response.Header.Peek("Location")), "/p/phone-x") {
		t.Fatalf("logout: %d %q", ctx.Response.StatusCode(), ctx.Response.Header.Peek("Location"))
	}
	for _, name := range []string{SessionCookie, UserCookie} {
		if c := cookie(&ctx.Response, name); c == nil || len(c.Value()) != 0 || !c.Expire().Before(time.Now()) {
			t.Errorf("%s not cleared: %v", name, c)
		}
	}
}

func TestLoginDisabledWithoutSecret(t *testing.T) {
	b := New(Options{})
	for _, p := range []string{"/login", "/logout"} {
		ctx := loginCtx("GET", p, "")
		b.Handler(ctx)
		if ctx.Response.StatusCode() != 404 {
			t.Errorf("%s: %d, want 404", p, ctx.Response.StatusCode())
		}
	}
}

func TestSafeNext(t *testing.T) {
	for in, want := range map[string]string{
		"": "/", "/p/x": "/p/x", "//evil": "/", "https://evil": "/", "/\\evil": "/", "p/x": "/", "/a\r\nSet-Cookie: x": "/",
	} {
		if got := safeNext(in); got != want {
			t.Errorf("safeNext(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestHumanTTL(t *testing.T) {
	for d, want := range map[time.Duration]string{
		30 * time.Minute: "30 minutes", time.Minute: "1 minute", time.Hour: "1 hour", 2 * time.Hour: "2 hours",
		90 * time.Second: "90 seconds", time.Second: "1 second",
	} {
		if got := humanTTL(d); got != want {
			t.Errorf("humanTTL(%s) = %q, want %q", d, got, want)
		}
	}
}

func cookie(r *fasthttp.Response, name string) *fasthttp.Cookie {
	c := fasthttp.AcquireCookie()
	c.SetKey(name)
	if !r.Header.Cookie(c) {
		return nil
	}
	return c
}
