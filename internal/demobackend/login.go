package demobackend

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"html/template"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/flashgate/flashgate/internal/userid"
)

// The demo sign-in: GET /login shows a form asking for a user name, POST
// /login (form field user) sets a session cookie holding a short-lived
// HS256 JWT that the gateway's identity filter verifies (jwt.cookie). It
// stands in for a shop's real sign-in; there is no password because
// there is nothing to protect in a demo.
const (
	// SessionCookie holds the JWT. HttpOnly: scripts never see it.
	SessionCookie = "fg_session"
	// UserCookie holds the user name for the page to greet and to know
	// that someone is signed in (static.signed_in_cookie). The gateway
	// never trusts it: the session is the JWT.
	UserCookie = "fg_user"
	// DefaultSessionTTL is how long a session lives: a sale's length, not
	// a week, so a copied cookie is soon worthless.
	DefaultSessionTTL = 30 * time.Minute
	maxUserName       = 64
)

// validUser is the demo's user name rule: the one user-id rule
// (internal/userid), narrowed to 64 bytes and without ':', so the sign-in
// form can say it in words ("1 to 64 letters, digits or _ . @ -").
func validUser(s string) bool {
	return len(s) <= maxUserName && !strings.Contains(s, ":") && userid.Valid(s)
}

// safeNext keeps the redirect after sign-in on this site: a path, never
// another host ("//evil", "https://evil", "/\evil").
func safeNext(next string) string {
	if next == "" || next[0] != '/' || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n") {
		return "/"
	}
	return next
}

// SignJWT returns a compact HS256 JWT with sub, iat and exp.
func SignJWT(secret []byte, user string, now time.Time, ttl time.Duration) string {
	enc := base64.RawURLEncoding
	claims, _ := json.Marshal(map[string]any{"sub": user, "iat": now.Unix(), "exp": now.Add(ttl).Unix()})
	msg := enc.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`)) + "." + enc.EncodeToString(claims)
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(msg))
	return msg + "." + enc.EncodeToString(mac.Sum(nil))
}

var loginPage = template.Must(template.New("login").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign in · {{.Shop}}</title><link rel="icon" href="/assets/favicon.svg" type="image/svg+xml">
<style>body{margin:0;font:16px/1.5 system-ui,sans-serif;color:#222;background:#f6f6f6}
header{background:#d0021b;padding:10px 24px}header a{color:#fff;font-weight:700;font-size:1.15em;text-decoration:none}
main{max-width:380px;margin:48px auto;padding:32px;background:#fff;border-radius:12px}
label{display:block;margin:12px 0 4px}input{box-sizing:border-box;width:100%;font-size:1.1em;padding:10px;border:1px solid #bbb;border-radius:8px}
button{margin-top:16px;width:100%;font-size:1.1em;padding:12px;border:0;border-radius:8px;background:#d0021b;color:#fff;cursor:pointer}
.error{color:#d0021b;font-weight:600}.note{color:#777;font-size:.9em}</style></head>
<body><header><a href="/">{{.Shop}}</a></header><main>
<h1>Sign in</h1>
{{with .Error}}<p class="error" role="alert">{{.}}</p>{{end}}
<form method="post" action="/login">
<input type="hidden" name="next" value="{{.Next}}">
<label for="user">Your name</label>
<input id="user" name="user" value="{{.User}}" autocomplete="username" required maxlength="64" pattern="[A-Za-z0-9_.@\-]+" autofocus>
<button type="submit">Sign in</button>
</form>
<p class="note">A demo sign-in: any name of letters, digits and _ . @ - will do. Your session lasts {{.TTL}}.</p>
</main></body></html>
`))

type loginView struct {
	Shop, Next, User, Error, TTL string
}

func (b *Backend) loginForm(ctx *fasthttp.RequestCtx, status int, v loginView) {
	v.Shop = b.opts.ShopName
	v.TTL = humanTTL(b.opts.SessionTTL)
	var buf bytes.Buffer
	if err := loginPage.Execute(&buf, v); err != nil {
		ctx.Error("login page: "+err.Error(), fasthttp.StatusInternalServerError)
		return
	}
	ctx.SetStatusCode(status)
	ctx.SetContentType("text/html; charset=utf-8")
	ctx.Response.Header.Set(fasthttp.HeaderCacheControl, "no-store")
	ctx.SetBody(buf.Bytes())
}

// humanTTL says a session's length in words: "30 minutes", "1 hour".
func humanTTL(d time.Duration) string {
	n, unit := int64(d/time.Second), "second"
	switch {
	case d >= time.Hour && d%time.Hour == 0:
		n, unit = int64(d/time.Hour), "hour"
	case d >= time.Minute && d%time.Minute == 0:
		n, unit = int64(d/time.Minute), "minute"
	}
	if n == 1 {
		return "1 " + unit
	}
	return strconv.FormatInt(n, 10) + " " + unit + "s"
}

// login serves GET and POST /login.
func (b *Backend) login(ctx *fasthttp.RequestCtx) {
	switch {
	case ctx.IsGet() || ctx.IsHead():
		b.loginForm(ctx, fasthttp.StatusOK, loginView{Next: safeNext(string(ctx.QueryArgs().Peek("next")))})
	case ctx.IsPost():
		user := strings.TrimSpace(string(ctx.PostArgs().Peek("user")))
		next := safeNext(string(ctx.PostArgs().Peek("next")))
		if !validUser(user) {
			b.loginForm(ctx, fasthttp.StatusBadRequest, loginView{Next: next, User: user,
				Error: "Please pick a name of 1 to 64 letters, digits or _ . @ -"})
			return
		}
		now := time.Now()
		b.setCookie(ctx, SessionCookie, SignJWT(b.opts.SessionSecret, user, now, b.opts.SessionTTL), true, b.opts.SessionTTL)
		b.setCookie(ctx, UserCookie, user, false, b.opts.SessionTTL)
		ctx.Response.Header.Set(fasthttp.HeaderCacheControl, "no-store")
		ctx.Redirect(next, fasthttp.StatusSeeOther)
	default:
		methodNotAllowed(ctx, "GET, HEAD, POST")
	}
}

// logout is GET /logout: both cookies go, and the visitor goes home.
func (b *Backend) logout(ctx *fasthttp.RequestCtx) {
	if !ctx.IsGet() && !ctx.IsHead() {
		methodNotAllowed(ctx, "GET, HEAD")
		return
	}
	b.setCookie(ctx, SessionCookie, "", true, -1)
	b.setCookie(ctx, UserCookie, "", false, -1)
	ctx.Response.Header.Set(fasthttp.HeaderCacheControl, "no-store")
	ctx.Redirect(safeNext(string(ctx.QueryArgs().Peek("next"))), fasthttp.StatusSeeOther)
}

// setCookie sets a site-wide SameSite=Lax cookie; a negative ttl deletes it.
func (b *Backend) setCookie(ctx *fasthttp.RequestCtx, name, value string, httpOnly bool, ttl time.Duration) {
	c := fasthttp.AcquireCookie()
	defer fasthttp.ReleaseCookie(c)
	c.SetKey(name)
	c.SetValue(value)
	c.SetPath("/")
	c.SetHTTPOnly(httpOnly)
	c.SetSameSite(fasthttp.CookieSameSiteLaxMode)
	if ttl < 0 {
		c.SetExpire(fasthttp.CookieExpireDelete)
	} else {
		c.SetMaxAge(int(ttl / time.Second))
	}
	ctx.Response.Header.SetCookie(c)
}
