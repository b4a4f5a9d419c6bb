package static

import (
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"
)

func TestAssets(t *testing.T) {
	s, err := Load(Options{
		CataloguePath: "testdata/shop/catalogue.yaml",
		CacheControl:  testCacheControl,
		Shop:          Shop{Name: "Cup & Co", Home: "/shop", Login: "/login", SignedInCookie: "who"},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got := strings.Join(s.Assets(), ","); got != "cup.svg,favicon.svg" {
		t.Fatalf("Assets() = %s", got)
	}
	svg, _ := os.ReadFile("testdata/shop/cup.svg")
	tests := []struct {
		key, accept, ctype, body string
		gzip                     bool
	}{
		{key: "cup.svg", ctype: "image/svg+xml", body: string(svg)},
		{key: "favicon.svg", ctype: "image/svg+xml", body: "<svg"},
		{key: "favicon.svg", accept: "gzip", ctype: "image/svg+xml", gzip: true},
	}
	for _, tc := range tests {
		t.Run(tc.key+"/"+tc.accept, func(t *testing.T) {
			ctx := newCtx("GET", "Accept-Encoding", tc.accept)
			if !s.Serve(ctx, tc.key) {
				t.Fatal("not served")
			}
			h := &ctx.Response.Header
			if got := string(h.ContentType()); got != tc.ctype {
				t.Errorf("Content-Type %q, want %q", got, tc.ctype)
			}
			if len(h.Peek("ETag")) == 0 || string(h.Peek("Cache-Control")) != testCacheControl {
				t.Errorf("caching headers: ETag %q Cache-Control %q", h.Peek("ETag"), h.Peek("Cache-Control"))
			}
			if gz := string(h.Peek("Content-Encoding")) == "gzip"; gz != tc.gzip {
				t.Errorf("gzip %v, want %v", gz, tc.gzip)
			}
			if !tc.gzip && !strings.HasPrefix(string(ctx.Response.Body()), tc.body) {
				t.Errorf("body %q, want prefix %q", ctx.Response.Body(), tc.body)
			}
			etag := string(h.Peek("ETag"))
			ctx = newCtx("GET", "Accept-Encoding", tc.accept, "If-None-Match", etag)
			if s.Serve(ctx, tc.key); ctx.Response.StatusCode() != 304 {
				t.Errorf("If-None-Match: %d", ctx.Response.StatusCode())
			}
		})
	}

	pages := []struct {
		id   string
		want []string
	}{
		{"cup", []string{`src="/assets/cup.svg"`, `<title>Cup · Cup &amp; Co</title>`, `<a class="shop" href="/shop">Cup &amp; Co</a>`,
			`href="/assets/favicon.svg"`, `loginURL = "/login", hint = "who"`, `Back to Cup &amp; Co`}},
		{"cup2", []string{`src="/assets/cup.svg"`}},
		{"far", []string{`src="https://cdn.example/far.png"`}},
	}
	for _, tc := range pages {
		ctx := newCtx("GET")
		s.Serve(ctx, tc.id)
		for _, w := range tc.want {
			if !strings.Contains(string(ctx.Response.Body()), w) {
				t.Errorf("%s lacks %q", tc.id, w)
			}
		}
	}
	b, err := s.RenderSystem("busy", SystemData{})
	if err != nil || !strings.Contains(string(b), `<a class="home" href="/shop">Back to Cup &amp; Co</a>`) || !strings.Contains(string(b), `href="/assets/favicon.svg"`) {
		t.Errorf("system page lacks the shop: %v\n%s", err, b)
	}
}

func TestAssetErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("a/x.svg", "<svg/>")
	write("b/x.svg", "<svg></svg>")
	write("big.png", strings.Repeat("x", maxAsset+1))
	write("catalogue.yaml", `
- {id: p0, name: P, image: photo.bmp}
- {id: p1, name: P, image: missing.svg}
- {id: p2, name: P, image: a/x.svg}
- {id: p3, name: P, image: b/x.svg}
- {id: p4, name: P, image: big.png}
- {id: p5, name: P, image: "sp ace.svg"}
- {id: p6, name: P, image: favicon.svg}
`)
	_, err := Load(Options{CataloguePath: filepath.Join(dir, "catalogue.yaml")})
	if err == nil {
		t.Fatal("Load accepted bad images")
	}
	for _, want := range []string{
		`static.catalogue: products[0].image: "photo.bmp": want an .svg, .png, .jpg, .webp or .gif file`,
		`static.catalogue: products[1].image: stat ` + filepath.Join(dir, "missing.svg") + `: no such file or directory`,
		`static.catalogue: products[3].image: "` + filepath.Join(dir, "b/x.svg") + `": another image file has the same name "x.svg"`,
		`static.catalogue: products[4].image: ` + filepath.Join(dir, "big.png") + `: 524289 bytes, at most 524288`,
		`static.catalogue: products[5].image: "sp ace.svg": the file name must be [A-Za-z0-9_.-]`,
		`static.catalogue: products[6].image: "favicon.svg": favicon.svg is the shop's icon; name the image differently`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if strings.Contains(err.Error(), "products[2]") {
		t.Errorf("the first x.svg is fine:\n%v", err)
	}
}

func TestFaviconOverride(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "favicon.svg"), []byte("<svg id=mine/>"), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := Load(Options{TemplatesDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := newCtx("GET")
	if !s.Serve(ctx, "favicon.svg") || string(ctx.Response.Body()) != "<svg id=mine/>" {
		t.Errorf("favicon %q", ctx.Response.Body())
	}
}

func TestPlural(t *testing.T) {
	f := funcs["plural"].(func(int, string) string)
	for n, want := range map[int]string{0: "0 seconds", 1: "1 second", 2: "2 seconds", 61: "61 seconds"} {
		if got := f(n, "second"); got != want {
			t.Errorf("plural(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestHomePage(t *testing.T) {
	tests := []struct {
		name       string
		productURL string
		want       []string
		notWant    []string
	}{
		{"linked", "/p/{product}", []string{`<a href="/p/cup"><img src="/assets/cup.svg"`, "<b>Second cup</b>", `href="/p/far"`, "<title>Shop</title>"}, nil},
		{"no product route", "", []string{"<b>Cup</b>"}, []string{`href="/p/`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Load(Options{CataloguePath: "testdata/shop/catalogue.yaml", ProductURL: tc.productURL})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			ctx := newCtx("GET")
			if !s.Serve(ctx, HomePage) || len(ctx.Response.Header.Peek("ETag")) == 0 {
				t.Fatal("no home page")
			}
			body := string(ctx.Response.Body())
			for _, w := range tc.want {
				if !strings.Contains(body, w) {
					t.Errorf("home lacks %q:\n%s", w, body)
				}
			}
			for _, w := range tc.notWant {
				if strings.Contains(body, w) {
					t.Errorf("home has %q", w)
				}
			}
		})
	}
	dir := t.TempDir()
	cat := filepath.Join(dir, "c.yaml")
	if err := os.WriteFile(cat, []byte("- {id: _home, name: H}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(Options{CataloguePath: cat}); err == nil || err.Error() != `static.catalogue: product id "_home" is reserved for the home page` {
		t.Errorf("reserved id: %v", err)
	}
}

// FuzzImageRef: whatever a catalogue's image says, it is either linked as
// a URL or becomes one plain asset name under AssetPrefix: never a path
// that climbs out of /assets/ or a name the router would split.
func FuzzImageRef(f *testing.F) {
	for _, s := range []string{"phone.svg", "img/phone.svg", "/img/x.jpg", "https://cdn/x.png", "//cdn/x.png",
		"javascript:alert(1)", "../../etc/passwd.svg", ".hidden.svg", "a b.svg", "x.SVG", "", "dir/", "c:\\x.png"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, img string) {
		if !isImageFile(img) {
			return
		}
		name := path.Base(filepath.ToSlash(img))
		if !validAssetName(name) {
			return
		}
		if strings.ContainsAny(name, "/\\?#%") || strings.HasPrefix(name, ".") || name == "" {
			t.Fatalf("image %q gives asset name %q", img, name)
		}
	})
}
