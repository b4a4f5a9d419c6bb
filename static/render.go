package static

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"maps"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The embedded defaults. An operator restyles the gateway by dropping
// files with the same names into static.templates.
//
//go:embed templates/*.html templates/favicon.svg
var embedded embed.FS

const (
	productFile = "product.html"
	systemFile  = "system.html"
	homeFile    = "home.html"
)

// HomePage is the page key of the shop's home page, which lists the
// catalogue's products with links to their pages (Options.ProductURL).
// A route serves it with page "{home}"; no product may use the key.
const HomePage = "_home"

// SystemData is what a system page shows. Zero fields get the defaults of
// the page's kind (see kindDefaults), so a caller sets only what differs.
type SystemData struct {
	Status     int
	Reason     string // machine code, e.g. "sold_out"
	Title      string
	Message    string
	RetryAfter int       // seconds, 0 = none
	Activity   string    // optional
	StartsAt   time.Time // optional: countdown target for not_started pages
	// RetryTo is where a page that loads itself again after RetryAfter
	// (busy, rate_limited) goes: "" is the page's own URL, right for a
	// GET; a page answered to a POST sets the shop's home, because a
	// browser reloads a refresh URL with GET, which the POST route would
	// answer with 405.
	RetryTo string
}

// Shop is what every page shows of the shop around the product or the
// message: its name in the header, a link back to its home, the favicon
// and, when the gateway fronts a sign-in, where to sign in.
type Shop struct {
	// Name is shown in the header of every page. Default "Shop".
	Name string
	// Home is the link back to the shop on every page. Default "/".
	Home string
	// Login is the sign-in page the product page sends anonymous visitors
	// to, with ?next=<the page>. Default "": no sign-in link.
	Login string
	// SignedInCookie names a cookie (readable by scripts, not the session
	// itself) whose presence tells the product page that the visitor is
	// signed in, so anonymous visitors never ask for an order token.
	// Default "": the page asks once and takes a 401 as signed out.
	SignedInCookie string
	// Favicon is the icon's URL, set by Load.
	Favicon string
}

type kindDefault struct {
	status         int
	title, message string
}

// kindDefaults lists the system page kinds and fills zero SystemData
// fields. The gateway usually passes its own status and message; these
// make a bare RenderSystem(kind, SystemData{}) a sensible page.
var kindDefaults = map[string]kindDefault{
	"busy":         {http.StatusServiceUnavailable, "We are very busy", "Lots of people are shopping right now. Please try again in a moment."},
	"sold_out":     {http.StatusGone, "Sold out", "Sorry, everything has been sold."},
	"not_started":  {http.StatusForbidden, "Not started yet", "The sale has not started yet."},
	"ended":        {http.StatusGone, "This sale has ended", "This sale is over. Thank you for your interest."},
	"blocked":      {http.StatusForbidden, "We cannot take this order", "This request was blocked."},
	"rate_limited": {http.StatusTooManyRequests, "Too many requests", "Too many requests. Please wait a little before trying again."},
	"not_found":    {http.StatusNotFound, "Page not found", "There is nothing here."},
	"error":        {http.StatusInternalServerError, "Something went wrong", "An unexpected error occurred. Please try again later."},
}

// templates holds the parsed page templates. A file <kind>.html in the
// templates directory replaces system.html for that kind only: the
// config documents overrides such as busy.html.
type templates struct {
	product *template.Template
	system  *template.Template
	home    *template.Template
	kinds   map[string]*template.Template
	favicon []byte
	shop    Shop
}

// funcs are the helpers every template may use.
var funcs = template.FuncMap{
	// plural writes a count with its noun: "1 second", "5 seconds".
	"plural": func(n int, noun string) string {
		if n == 1 {
			return "1 " + noun
		}
		return strconv.Itoa(n) + " " + noun + "s"
	},
}

// productView is what product.html sees: the product plus the URLs of
// the dynamic half, built here so templates need no URL logic.
type productView struct {
	Product
	Shop      Shop
	StatusURL string // "" without an activity
	// TokenURL and PathURL are the checkout flow: an order token when the
	// page loads, the user's hidden purchase path when they click.
	TokenURL string
	PathURL  string
}

// systemView is what system.html sees.
type systemView struct {
	SystemData
	Shop        Shop
	Kind        string
	StartsAtISO string // RFC 3339 UTC, "" when StartsAt is zero
	// StartsAtText is StartsAt in words, in UTC; the page's script
	// replaces it with the shopper's local time.
	StartsAtText string
	Countdown    bool // not_started with a StartsAt
	// AutoRetry makes the page load itself again after RetryAfter: busy
	// and rate_limited pages, whose visitor has nothing to do but wait.
	AutoRetry bool
}

// loadTemplates parses the embedded templates and the overrides in dir.
func loadTemplates(dir string) (*templates, error) {
	t := &templates{kinds: map[string]*template.Template{}}
	var err error
	if t.favicon, err = embedded.ReadFile("templates/" + faviconFile); err != nil {
		return nil, fmt.Errorf("%s: embedded %s: %w", keyTemplates, faviconFile, err)
	}
	if t.product, err = parseEmbedded(productFile); err != nil {
		return nil, err
	}
	if t.system, err = parseEmbedded(systemFile); err != nil {
		return nil, err
	}
	if t.home, err = parseEmbedded(homeFile); err != nil {
		return nil, err
	}
	if dir == "" {
		return t, nil
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", keyTemplates, err)
	}
	var errs []error
	for _, e := range entries {
		name := e.Name()
		if !e.IsDir() && name == faviconFile {
			if t.favicon, err = readAsset(filepath.Join(dir, name)); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", keyTemplates, err))
			}
			continue
		}
		if e.IsDir() || !strings.HasSuffix(name, ".html") {
			continue
		}
		kind := strings.TrimSuffix(name, ".html")
		if _, ok := kindDefaults[kind]; !ok && name != productFile && name != systemFile && name != homeFile {
			errs = append(errs, fmt.Errorf("%s: %s: unknown template (want %s, %s, %s or <kind>.html)", keyTemplates, name, productFile, systemFile, homeFile))
			continue
		}
		src, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %s: %w", keyTemplates, name, err))
			continue
		}
		tpl, err := template.New(name).Funcs(funcs).Parse(string(src))
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %s: %w", keyTemplates, name, err))
			continue
		}
		switch name {
		case productFile:
			t.product = tpl
		case homeFile:
			t.home = tpl
		case systemFile:
			t.system = tpl
		default:
			t.kinds[kind] = tpl
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return t, t.check()
}

func parseEmbedded(name string) (*template.Template, error) {
	tpl, err := template.New(name).Funcs(funcs).ParseFS(embedded, "templates/"+name)
	if err != nil {
		return nil, fmt.Errorf("%s: embedded %s: %w", keyTemplates, name, err)
	}
	return tpl, nil
}

// check renders every template once with sample data, so that errors
// html/template reports only at execution (unknown fields, escaping
// contexts) fail Load and `flashgate check` instead of a request.
func (t *templates) check() error {
	var errs []error
	sample := Product{ID: "sample", Name: "Sample", Activity: "sample", Attrs: map[string]string{"k": "v"}}
	if _, err := t.renderProduct(sample); err != nil {
		errs = append(errs, err)
	}
	if _, err := t.renderHome([]Product{sample}, "/p/{product}"); err != nil {
		errs = append(errs, err)
	}
	seen := map[string]bool{} // system.html serves many kinds: report once
	for _, kind := range slices.Sorted(maps.Keys(kindDefaults)) {
		d := SystemData{RetryAfter: 1, Activity: "sample", StartsAt: time.Unix(0, 0)}
		if _, err := t.renderSystem(kind, d); err != nil && !seen[err.Error()] {
			seen[err.Error()] = true
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (t *templates) renderProduct(p Product) ([]byte, error) {
	v := productView{Product: p, Shop: t.shop}
	if p.Activity != "" {
		base := "/api/activities/" + url.PathEscape(p.Activity)
		v.StatusURL = base + "/status"
		v.TokenURL = base + "/token"
		v.PathURL = base + "/path"
	}
	var buf bytes.Buffer
	if err := t.product.Execute(&buf, v); err != nil {
		return nil, fmt.Errorf("%s: %s: product %q: %w", keyTemplates, productFile, p.ID, err)
	}
	return buf.Bytes(), nil
}

// homeView is what home.html sees.
type homeView struct {
	Shop  Shop
	Items []homeItem
}

type homeItem struct {
	Product
	URL string // "" when no route serves product pages
}

func (t *templates) renderHome(ps []Product, productURL string) ([]byte, error) {
	v := homeView{Shop: t.shop, Items: make([]homeItem, len(ps))}
	for i, p := range ps {
		v.Items[i].Product = p
		if productURL != "" {
			v.Items[i].URL = strings.ReplaceAll(productURL, "{product}", url.PathEscape(p.ID))
		}
	}
	var buf bytes.Buffer
	if err := t.home.Execute(&buf, v); err != nil {
		return nil, fmt.Errorf("%s: %s: %w", keyTemplates, homeFile, err)
	}
	return buf.Bytes(), nil
}

func (t *templates) renderSystem(kind string, d SystemData) ([]byte, error) {
	def, ok := kindDefaults[kind]
	if !ok {
		kind, def = "error", kindDefaults["error"]
	}
	if d.Status == 0 {
		d.Status = def.status
	}
	if d.Reason == "" {
		d.Reason = kind
	}
	if d.Title == "" {
		d.Title = def.title
	}
	if d.Message == "" {
		d.Message = def.message
	}
	v := systemView{SystemData: d, Shop: t.shop, Kind: kind,
		AutoRetry: d.RetryAfter > 0 && (kind == "busy" || kind == "rate_limited")}
	if !d.StartsAt.IsZero() {
		v.StartsAtISO = d.StartsAt.UTC().Format(time.RFC3339)
		v.StartsAtText = d.StartsAt.UTC().Format("2 January 2006, 15:04 UTC")
		v.Countdown = kind == "not_started"
	}
	tpl, file := t.system, systemFile
	if k := t.kinds[kind]; k != nil {
		tpl, file = k, kind+".html"
	}
	var buf bytes.Buffer
	if err := tpl.Execute(&buf, v); err != nil {
		return nil, fmt.Errorf("%s: %s: %w", keyTemplates, file, err)
	}
	return buf.Bytes(), nil
}
