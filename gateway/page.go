package gateway

import (
	"bytes"
	"encoding/json"
	"html"
	"maps"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/flashgate/flashgate/static"
)

// Page is a rejection response built once at start-up, so that turning a
// request away costs no rendering: a status, a reason code, an HTML body
// for browsers and a JSON body for API clients.
type Page struct {
	Status int
	// Reason is the machine-readable code, in the JSON body, the
	// X-Flashgate-Reason header and the metrics.
	Reason string
	// Kind is the template kind the HTML was rendered from.
	Kind string
	// HTML is the page for GET and HEAD; a busy or rate-limited one
	// loads itself again after Retry-After.
	HTML []byte
	// HTMLOther is the page for every other method: a busy or
	// rate-limited one goes to static.home after Retry-After instead,
	// because a browser follows a refresh with a GET, which a POST
	// purchase route answers with 405. The same slice as HTML for the
	// kinds that do not reload.
	HTMLOther  []byte
	JSON       []byte
	retryAfter []byte
	reason     []byte
}

var (
	headerRetryAfter = []byte("Retry-After")
	headerReason     = []byte(ReasonHeader)
	headerAccept     = []byte("Accept")
	headerCacheCtl   = []byte("Cache-Control")
	mimeJSON         = []byte("application/json")
	ctypeJSON        = []byte("application/json")
	ctypeHTML        = []byte("text/html; charset=utf-8")
	noStore          = []byte("no-store")
)

// Write sends the page: JSON when the client accepts application/json,
// HTML otherwise. Bodies are shared, never copied.
func (p *Page) Write(ctx *fasthttp.RequestCtx) {
	if WantsJSON(ctx) {
		p.WriteJSON(ctx)
		return
	}
	p.writeHeaders(ctx)
	ctx.Response.Header.SetContentTypeBytes(ctypeHTML)
	if ctx.IsGet() || ctx.IsHead() {
		static.SetBody(ctx, p.HTML) // on plain TCP not even copied into the write buffer (zerocopy.go)
	} else {
		static.SetBody(ctx, p.HTMLOther)
	}
}

// WriteJSON sends the page as JSON whatever the client accepts: for
// endpoints that only scripts call. Headers a filter set before (such as
// WWW-Authenticate) are kept, as with Write.
func (p *Page) WriteJSON(ctx *fasthttp.RequestCtx) {
	p.writeHeaders(ctx)
	ctx.Response.Header.SetContentTypeBytes(ctypeJSON)
	ctx.Response.SetBodyRaw(p.JSON)
}

func (p *Page) writeHeaders(ctx *fasthttp.RequestCtx) {
	h := &ctx.Response.Header
	ctx.SetStatusCode(p.Status)
	// The names are canonical: SetCanonical skips the copy and
	// normalisation SetBytesKV does per call (see static/serve.go).
	h.SetCanonical(headerReason, p.reason)
	h.SetCanonical(headerCacheCtl, noStore)
	if len(p.retryAfter) > 0 {
		h.SetCanonical(headerRetryAfter, p.retryAfter)
	}
}

// WantsJSON reports whether the request prefers a JSON answer.
func WantsJSON(ctx *fasthttp.RequestCtx) bool {
	// fasthttp normalised the request's header names as it parsed them.
	return bytes.Contains(ctx.Request.Header.PeekCanonical(headerAccept), mimeJSON)
}

// PageSpec describes a page to build.
type PageSpec struct {
	Status int
	// Reason is the machine code, e.g. "token_too_young".
	Reason string
	// Kind picks the HTML template: busy, sold_out, not_started, ended,
	// blocked, rate_limited, not_found or error.
	Kind string
	// Title is the page's heading; "" picks one by Reason or Kind (titleOf).
	Title string
	// Message is the human sentence shown on the page and in the JSON.
	Message string
	// RetryAfter in seconds; 0 sends no Retry-After.
	RetryAfter int
	// Extra fields merged into the JSON body (e.g. "starts_at").
	Extra map[string]any
	// Activity and StartsAt feed the HTML countdown of not_started pages.
	Activity string
	StartsAt time.Time
}

// RenderFunc renders the HTML of a system page. other is true for the
// variant answered to methods other than GET and HEAD (Page.HTMLOther).
type RenderFunc func(s PageSpec, other bool) ([]byte, error)

// Pages builds and memoizes rejection pages at start-up.
type Pages struct {
	mu     sync.Mutex
	render RenderFunc
	byKey  map[string]*Page
}

// NewPages returns a page builder that renders HTML with render.
func NewPages(render RenderFunc) *Pages {
	return &Pages{render: render, byKey: map[string]*Page{}}
}

// Get returns the page for s, building it on first use. Call it while
// building filters, never per request.
func (ps *Pages) Get(s PageSpec) (*Page, error) {
	key := strconv.Itoa(s.Status) + "|" + s.Reason + "|" + s.Kind + "|" + s.Title + "|" + s.Message + "|" + strconv.Itoa(s.RetryAfter) +
		"|" + s.Activity + "|" + s.StartsAt.String()
	if len(s.Extra) > 0 {
		b, _ := json.Marshal(s.Extra)
		key += "|" + string(b)
	}
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if p, ok := ps.byKey[key]; ok {
		return p, nil
	}
	p, err := BuildPage(s, ps.render)
	if err != nil {
		return nil, err
	}
	ps.byKey[key] = p
	return p, nil
}

// All returns every page built so far, for tests that check them all.
func (ps *Pages) All() []*Page {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	return slices.Collect(maps.Values(ps.byKey))
}

// MustGet is Get for specs built into the code, whose rendering cannot
// fail unless the templates are broken, which Load has already checked.
func (ps *Pages) MustGet(s PageSpec) *Page {
	p, err := ps.Get(s)
	if err != nil {
		panic(err)
	}
	return p
}

// Largest is the size of the largest body of any page built so far.
func (ps *Pages) Largest() int {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	n := 0
	for _, p := range ps.byKey {
		n = max(n, len(p.HTML), len(p.HTMLOther), len(p.JSON))
	}
	return n
}

// BuildPage renders s into a Page.
func BuildPage(s PageSpec, render RenderFunc) (*Page, error) {
	body := map[string]any{"error": s.Reason, "message": s.Message, "status": s.Status}
	if s.RetryAfter > 0 {
		body["retry_after"] = s.RetryAfter
	}
	for k, v := range s.Extra {
		body[k] = v
	}
	js, err := json.Marshal(body)
	if err != nil {
		return nil, err
	}
	p := &Page{Status: s.Status, Reason: s.Reason, Kind: s.Kind, JSON: append(js, '\n'), reason: []byte(s.Reason)}
	if s.RetryAfter > 0 {
		p.retryAfter = []byte(strconv.Itoa(s.RetryAfter))
	}
	if render != nil {
		if p.HTML, err = render(s, false); err != nil {
			return nil, err
		}
		if p.HTMLOther, err = render(s, true); err != nil {
			return nil, err
		}
		if bytes.Equal(p.HTMLOther, p.HTML) {
			p.HTMLOther = p.HTML
		}
	} else {
		p.HTML = []byte("<!doctype html><title>" + strconv.Itoa(s.Status) + "</title><p>" + html.EscapeString(s.Message) + "</p>\n")
		p.HTMLOther = p.HTML
	}
	return p, nil
}
