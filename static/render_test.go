package static

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestRenderProduct(t *testing.T) {
	s := loadTestSite(t)
	tests := []struct {
		id      string
		want    []string
		notWant []string
	}{
		{"phone-x",
			[]string{"<title>Phone X · Shop</title>", "&lt;b&gt;Limited&lt;/b&gt; &amp; fast.", "¥4999.00",
				`src="/img/phone-x.jpg"`, `id="buy"`,
				`var statusURL = "/api/activities/flash-phone/status", tokenURL = "/api/activities/flash-phone/token", pathURL = "/api/activities/flash-phone/path";`, "<dt>colour</dt><dd>black</dd>"},
			[]string{"<b>Limited"}},
		{"tee_2", []string{"<title>T-shirt · Shop</title>", "99.00", "Not on sale"}, []string{`id="buy"`, "<script", "<img"}},
	}
	for _, tc := range tests {
		t.Run(tc.id, func(t *testing.T) {
			ctx := newCtx("GET")
			if !s.Serve(ctx, tc.id) {
				t.Fatal("not served")
			}
			body := string(ctx.Response.Body())
			for _, w := range tc.want {
				if !strings.Contains(body, w) {
					t.Errorf("page lacks %q", w)
				}
			}
			for _, w := range tc.notWant {
				if strings.Contains(body, w) {
					t.Errorf("page has %q", w)
				}
			}
		})
	}
}

func TestRenderProductUnsafeImage(t *testing.T) {
	tpl, err := loadTemplates("")
	if err != nil {
		t.Fatal(err)
	}
	b, err := tpl.renderProduct(Product{ID: "x", Name: "X", Image: "javascript:alert(1)"})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "javascript:") {
		t.Error("unsafe image URL rendered")
	}
}

func TestRenderSystem(t *testing.T) {
	s := loadTestSite(t)
	starts := time.Date(2030, 1, 2, 3, 4, 5, 0, time.FixedZone("CST", 8*3600))
	tests := []struct {
		name    string
		kind    string
		d       SystemData
		want    []string
		notWant []string
	}{
		{"defaults", "busy", SystemData{}, []string{"<title>We are very busy · Shop</title>", "Reference: busy", `class="busy"`, `<a class="home" href="/">Back to Shop</a>`}, []string{"seconds.", "http-equiv"}},
		{"given fields", "sold_out", SystemData{Status: 410, Reason: "stock_empty", Title: "Gone!", Message: "All <sold>", RetryAfter: 30, Activity: "flash-1"},
			[]string{"<title>Gone! · Shop</title>", "All &lt;sold&gt;", "Please try again in 30 seconds.", "Reference: stock_empty · flash-1"}, []string{"http-equiv"}},
		{"countdown", "not_started", SystemData{StartsAt: starts},
			[]string{`data-starts-at="2030-01-01T19:04:05Z"`, `<time id="starts" datetime="2030-01-01T19:04:05Z">1 January 2030, 19:04 UTC</time>`, "<script>", "toLocaleString"}, nil},
		{"no countdown without StartsAt", "not_started", SystemData{}, []string{"Not started yet"}, []string{"<script>", "data-starts-at"}},
		{"no countdown for other kinds", "ended", SystemData{StartsAt: starts}, []string{"This sale has ended"}, []string{"<script>"}},
		{"unknown kind", "teapot", SystemData{Message: "short and stout"}, []string{`class="error"`, "Reference: error", "short and stout"}, nil},
		{"rate limited, one second", "rate_limited", SystemData{RetryAfter: 1},
			[]string{"Reference: rate_limited", `<meta http-equiv="refresh" content="1">`, "tries again by itself in 1 second."}, []string{"1 seconds"}},
		{"busy, two seconds", "busy", SystemData{RetryAfter: 2},
			[]string{`<meta http-equiv="refresh" content="2">`, "tries again by itself in 2 seconds."}, nil},
		{"busy answered to a POST goes home", "busy", SystemData{RetryAfter: 2, RetryTo: "/"},
			[]string{`<meta http-equiv="refresh" content="2;url=/">`, `data-text="This page takes you back to Shop in"`, "takes you back to Shop in 2 seconds."}, []string{"tries again by itself"}},
		{"a RetryTo URL is escaped", "rate_limited", SystemData{RetryAfter: 1, RetryTo: `https://shop.example/?a=1&b="`},
			[]string{`content="1;url=https://shop.example/?a=1&amp;b=&#34;"`}, nil},
		{"sold out does not reload", "sold_out", SystemData{RetryAfter: 1}, []string{"Please try again in 1 second."}, []string{"http-equiv", "1 seconds"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := s.RenderSystem(tc.kind, tc.d)
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tc.want {
				if !strings.Contains(string(b), w) {
					t.Errorf("page lacks %q:\n%s", w, b)
				}
			}
			for _, w := range tc.notWant {
				if strings.Contains(string(b), w) {
					t.Errorf("page has %q", w)
				}
			}
		})
	}
}

func TestTemplateOverride(t *testing.T) {
	dir := t.TempDir()
	for name, src := range map[string]string{
		"product.html": `<h1>{{.Name}}</h1><a href="{{.StatusURL}}">{{.Price}}</a>`,
		"system.html":  `<p>{{.Kind}}: {{.Title}}</p>`,
		"busy.html":    `<p>busy override {{.Status}}</p>`,
		"notes.txt":    `ignored: not a template`,
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "sub.html"), 0o755); err != nil {
		t.Fatal(err)
	}
	s, err := Load(Options{TemplatesDir: dir, CataloguePath: "testdata/catalogue.yaml"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	ctx := newCtx("GET")
	s.Serve(ctx, "phone-x")
	if got, want := string(ctx.Response.Body()), `<h1>Phone X</h1><a href="/api/activities/flash-phone/status">¥4999.00</a>`; got != want {
		t.Errorf("product page %q, want %q", got, want)
	}
	tests := []struct{ kind, want string }{
		{"busy", "<p>busy override 503</p>"},
		{"ended", "<p>ended: This sale has ended</p>"},
		{"nope", "<p>error: Something went wrong</p>"},
	}
	for _, tc := range tests {
		b, err := s.RenderSystem(tc.kind, SystemData{})
		if err != nil || string(b) != tc.want {
			t.Errorf("RenderSystem(%q) = %q, %v; want %q", tc.kind, b, err, tc.want)
		}
	}
}
