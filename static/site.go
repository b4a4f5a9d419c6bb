// Package static serves the static half of the static-dynamic split:
// product pages rendered once at start-up and served from memory, plus
// the gateway's system pages (busy, sold out, ...). The dynamic half
// (stock, phase, countdown) is JSON the page's script polls from the
// gateway, so a product page never changes during a sale and a CDN or
// browser can revalidate it for free with ETag and Last-Modified.
package static

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/allegro/bigcache/v3"
	"github.com/valyala/fasthttp"
)

// Options configures Load. They mirror the static: block of flashgate.yaml.
type Options struct {
	// TemplatesDir is an optional directory of html/template files that
	// replace the embedded ones with the same name: product.html,
	// system.html, or <kind>.html for one system page kind.
	TemplatesDir string
	// CataloguePath is an optional YAML or JSON catalogue; "" = no products.
	CataloguePath string
	// CacheControl is sent with product pages, e.g. "public, max-age=60".
	// "" sends none.
	CacheControl string
	// CacheMB is the bigcache hard size limit in MB; 0 = unbounded. Load
	// fails rather than let a page be evicted.
	CacheMB int
	// Hot lists product ids kept in the zero-copy hot set (the gateway
	// passes every product with an activity). Products whose catalogue
	// entry names an activity are hot anyway; unknown ids are ignored,
	// since the gateway can check them with Has. May be nil.
	Hot []string
	// Shop is what every page shows of the shop (name, home link, sign
	// in). Zero fields get their defaults.
	Shop Shop
	// ProductURL is the path of a product page with "{product}" for its
	// id (the gateway passes its product page route), so the home page
	// can link each product. Default "": the home page lists no links.
	ProductURL string
}

// Site holds the rendered pages. It is immutable after Load, so every
// method is safe for concurrent use without locks.
type Site struct {
	tpl      *templates
	products []Product
	index    map[string]int
	// pages is the lock-free map Serve reads. Hot pages carry their bodies
	// here as plain slices; cold ones are read from cache, which copies on
	// every Get (allegro/bigcache#404).
	pages map[string]*page
	// assets are the names of the files served under AssetPrefix, sorted.
	assets []string
	cache  *bigcache.BigCache

	modified     time.Time // Load time, truncated to HTTP date precision
	lastModified []byte
	cacheControl []byte

	closeOnce sync.Once
	closeErr  error
}

// Load parses the templates, reads and validates the catalogue, renders
// every product page once (plain and gzip), stores them in bigcache and
// builds the hot set. Errors start with the flashgate.yaml key they are
// about (static.templates, static.catalogue, static.cache_mb), so
// `flashgate check` prints them as they are.
func Load(o Options) (*Site, error) {
	tpl, tplErr := loadTemplates(o.TemplatesDir)
	products, catErr := readCatalogue(o.CataloguePath)
	images, imgErr := loadImages(products, o.CataloguePath)
	if err := errors.Join(tplErr, catErr, imgErr); err != nil {
		return nil, err // all reported, so one run of check shows all
	}
	tpl.shop = o.Shop
	if tpl.shop.Name == "" {
		tpl.shop.Name = "Shop"
	}
	if tpl.shop.Home == "" {
		tpl.shop.Home = "/"
	}
	tpl.shop.Favicon = AssetPrefix + faviconFile
	s := &Site{
		tpl:          tpl,
		products:     products,
		index:        make(map[string]int, len(products)),
		pages:        make(map[string]*page, len(products)),
		modified:     time.Now().UTC().Truncate(time.Second),
		cacheControl: []byte(o.CacheControl),
	}
	s.lastModified = fasthttp.AppendHTTPDate(nil, s.modified)

	hot := make(map[string]bool, len(o.Hot))
	for _, id := range o.Hot {
		hot[id] = true
	}
	entries := make([]entry, 0, 2*len(products))
	for i, p := range products {
		s.index[p.ID] = i
		body, err := tpl.renderProduct(p)
		if err != nil {
			return nil, err
		}
		pg, gz, err := newPage(p.ID, body)
		if err != nil {
			return nil, fmt.Errorf("static: gzip %q: %w", p.ID, err)
		}
		entries = append(entries, entry{pg.bodyKey, body})
		if gz != nil {
			entries = append(entries, entry{pg.gzKey, gz})
		}
		if hot[p.ID] || p.Activity != "" {
			// Exact-size copies: the render buffers may be twice as big.
			pg.body, pg.gz = bytes.Clone(body), bytes.Clone(gz)
		}
		s.pages[p.ID] = pg
	}
	home, err := tpl.renderHome(products, o.ProductURL)
	if err != nil {
		return nil, err
	}
	if _, taken := s.index[HomePage]; taken {
		return nil, fmt.Errorf("%s: product id %q is reserved for the home page", keyCatalogue, HomePage)
	}
	pg, gz, err := newPage(HomePage, home)
	if err != nil {
		return nil, fmt.Errorf("static: gzip home page: %w", err)
	}
	pg.body, pg.gz = bytes.Clone(home), gz
	entries = append(entries, entry{pg.bodyKey, pg.body})
	s.pages[HomePage] = pg
	// Assets are few and small and every page load asks for them: all hot.
	images = append(images, asset{name: faviconFile, ctype: assetTypes[".svg"], body: tpl.favicon})
	for _, a := range images {
		pg, gz, err := newPage(a.name, a.body)
		if err != nil {
			return nil, fmt.Errorf("static: gzip %q: %w", a.name, err)
		}
		pg.ctype = []byte(a.ctype)
		pg.body, pg.gz = a.body, gz
		entries = append(entries, entry{pg.bodyKey, a.body})
		s.pages[a.name] = pg
		s.assets = append(s.assets, a.name)
	}
	slices.Sort(s.assets)
	cache, err := newStore(o.CacheMB, entries)
	if err != nil {
		return nil, err
	}
	s.cache = cache
	return s, nil
}

// Products returns the catalogue in file order. The result is a copy.
func (s *Site) Products() []Product {
	out := make([]Product, len(s.products))
	for i, p := range s.products {
		out[i] = cloneProduct(p)
	}
	return out
}

// Product returns the catalogue entry with the given id.
func (s *Site) Product(id string) (Product, bool) {
	i, ok := s.index[id]
	if !ok {
		return Product{}, false
	}
	return cloneProduct(s.products[i]), true
}

// Assets returns the names of the files Serve answers under key name at
// the URL AssetPrefix + name: the favicon and the catalogue's images.
func (s *Site) Assets() []string { return slices.Clone(s.assets) }

// Has reports whether Serve has a page under key.
func (s *Site) Has(key string) bool {
	return s.pages[key] != nil
}

// RenderSystem renders the system page of the given kind: busy, sold_out,
// not_started, ended, blocked, rate_limited, not_found or error. An
// unknown kind renders as error. It renders on every call: build pages at
// start-up, not per request.
func (s *Site) RenderSystem(kind string, d SystemData) ([]byte, error) {
	return s.tpl.renderSystem(kind, d)
}

// LargestBody is the size of the largest HTML page Serve can send (the
// product pages and the home page), plain or gzip: the server sizes its
// write buffers from it, so that every page leaves in one write. Assets
// (images, favicon) do not count: browsers and CDNs cache them, and a
// buffer sized to a 512 KiB image would cost that on every connection.
func (s *Site) LargestBody() int {
	n := 0
	for _, p := range s.pages {
		if p.ctype == nil {
			n = max(n, p.size, p.gzSize)
		}
	}
	return n
}

// Close releases the page cache. It is safe to call more than once.
func (s *Site) Close() error {
	s.closeOnce.Do(func() {
		if s.cache != nil {
			s.closeErr = s.cache.Close()
		}
	})
	return s.closeErr
}

// cloneProduct copies Attrs so callers cannot change the site's copy.
func cloneProduct(p Product) Product {
	p.Attrs = maps.Clone(p.Attrs)
	return p
}
