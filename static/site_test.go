package static

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadCatalogue(t *testing.T) {
	s := loadTestSite(t)
	ps := s.Products()
	if len(ps) != 3 || ps[0].ID != "phone-x" || ps[2].ID != "tee_2" {
		t.Fatalf("Products() = %+v", ps)
	}
	ps[0].Attrs["colour"] = "changed"
	if p, ok := s.Product("phone-x"); !ok || p.Attrs["colour"] != "black" {
		t.Errorf("Product(phone-x) = %+v, %v: callers must not alias the site's copy", p, ok)
	}
	if _, ok := s.Product("nope"); ok {
		t.Error("Product(nope) found")
	}

	tests := []struct {
		key      string
		has, hot bool
	}{
		{"phone-x", true, true}, // has an activity
		{"mug", true, true},     // in Options.Hot
		{"tee_2", true, false},  // served through bigcache
		{"not-in-catalogue", false, false},
		{"", false, false},
	}
	for _, tc := range tests {
		t.Run(tc.key, func(t *testing.T) {
			if got := s.Has(tc.key); got != tc.has {
				t.Errorf("Has = %v, want %v", got, tc.has)
			}
			if p := s.pages[tc.key]; p != nil {
				if hot := p.body != nil && p.gz != nil; hot != tc.hot {
					t.Errorf("hot = %v, want %v", hot, tc.hot)
				}
				for _, k := range []string{p.bodyKey, p.gzKey} {
					if _, err := s.cache.Get(k); err != nil {
						t.Errorf("bigcache %s: %v", k, err)
					}
				}
			}
		})
	}
}

func TestLoadEmpty(t *testing.T) {
	s, err := Load(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if len(s.Products()) != 0 || s.Has("x") {
		t.Error("empty site has products")
	}
	if _, err := s.RenderSystem("busy", SystemData{}); err != nil {
		t.Error(err)
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	badCat := write("bad.yaml", "- {id: a}\n")
	write("syntax/product.html", "<p>{{.Name</p>")
	write("exec/system.html", "<p>{{.Nope}}</p>")
	write("typo/prodcut.html", "<p></p>")

	tests := []struct {
		name string
		o    Options
		want []string // lines the error must contain, in order
	}{
		{"missing templates dir", Options{TemplatesDir: filepath.Join(dir, "none")},
			[]string{"static.templates: open " + filepath.Join(dir, "none") + ": no such file or directory"}},
		{"template syntax", Options{TemplatesDir: filepath.Join(dir, "syntax")},
			[]string{`static.templates: product.html: template: product.html:1: `}},
		{"template execution", Options{TemplatesDir: filepath.Join(dir, "exec")},
			[]string{`static.templates: system.html: template: system.html:1:5: executing "system.html" at <.Nope>: can't evaluate field Nope`}},
		{"unknown template", Options{TemplatesDir: filepath.Join(dir, "typo")},
			[]string{"static.templates: prodcut.html: unknown template (want product.html, system.html, home.html or <kind>.html)"}},
		{"templates and catalogue together", Options{TemplatesDir: filepath.Join(dir, "syntax"), CataloguePath: badCat},
			[]string{"static.templates: product.html:", "static.catalogue: products[0].name: required"}},
		{"negative cache", Options{CacheMB: -1}, []string{"static.cache_mb: must be >= 0, got -1"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Load(tc.o)
			if err == nil {
				s.Close()
				t.Fatal("no error")
			}
			lines := strings.Split(err.Error(), "\n")
			if len(lines) != len(tc.want) {
				t.Fatalf("error:\n%v\nwant %d lines", err, len(tc.want))
			}
			for i, w := range tc.want {
				if !strings.HasPrefix(lines[i], w) {
					t.Errorf("line %d: %q, want prefix %q", i, lines[i], w)
				}
			}
		})
	}
}

// TestLoadCacheTooSmall: a page evicted for space would be a 404 during
// the sale, so Load refuses the configuration instead.
func TestLoadCacheTooSmall(t *testing.T) {
	var b strings.Builder
	noise := make([]byte, 4096)
	for i := range 200 {
		rand.Read(noise)
		fmt.Fprintf(&b, "- {id: p%d, name: P, description: %s}\n", i, hex.EncodeToString(noise))
	}
	path := filepath.Join(t.TempDir(), "big.yaml")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Load(Options{CataloguePath: path, CacheMB: 1})
	if err == nil || !strings.HasPrefix(err.Error(), "static.cache_mb: 1 MB ") {
		t.Fatalf("err = %v", err)
	}
	s, err := Load(Options{CataloguePath: path, CacheMB: 16})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := newCtx("GET", "Accept-Encoding", "gzip")
	if !s.Serve(ctx, "p0") || !s.Serve(newCtx("GET"), "p199") {
		t.Error("first or last page missing")
	}
}

func TestCloseTwice(t *testing.T) {
	s := loadTestSite(t)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestLargestBody: the write buffer follows the largest HTML page, not
// the assets.
func TestLargestBody(t *testing.T) {
	s := loadTestSite(t)
	want := 0
	for _, p := range s.pages {
		if p.ctype == nil {
			want = max(want, p.size, p.gzSize)
		}
	}
	if got := s.LargestBody(); got != want || got < s.pages["phone-x"].size {
		t.Fatalf("LargestBody = %d, want %d (phone-x is %d)", got, want, s.pages["phone-x"].size)
	}
}
