package static

import (
	"bytes"

	"github.com/valyala/fasthttp"
)

// Header names and fixed values, as package-level bytes so Serve never
// converts a string. The names are in fasthttp's canonical form, so Serve
// reads them with PeekCanonical and writes them with SetCanonical:
// PeekBytes and SetBytesKV copy and re-normalise the name on every call,
// which was 10% of a page answer's instructions (callgrind, bench
// BenchmarkConn/page_plain: 14,989 → see README's page-speed section).
// The request's own names are normalised once by fasthttp as it parses
// them (server.go keeps DisableHeaderNamesNormalizing off), so the
// lookups match whatever case the client sent.
var (
	hdrAcceptEncoding  = []byte(fasthttp.HeaderAcceptEncoding)
	hdrIfNoneMatch     = []byte(fasthttp.HeaderIfNoneMatch)
	hdrIfModifiedSince = []byte(fasthttp.HeaderIfModifiedSince)
	hdrETag            = []byte("Etag") // fasthttp's canonical form of "ETag", which Peek and clients look up
	hdrLastModified    = []byte(fasthttp.HeaderLastModified)
	hdrCacheControl    = []byte(fasthttp.HeaderCacheControl)
	hdrVary            = []byte(fasthttp.HeaderVary)
	ctypeHTML          = []byte("text/html; charset=utf-8")
)

// Serve writes the page stored under key (a product id) and reports
// whether there was one; when there is not, it writes nothing.
//
// It answers conditional requests (If-None-Match, then If-Modified-Since,
// for GET and HEAD) with 304, picks the pre-compressed gzip variant when
// Accept-Encoding allows it, and for HEAD sends the headers and the
// Content-Length of the body it would have sent. Hot pages are served
// from plain slices with no allocation; cold pages cost one bigcache copy
// per 200 (a 304 or a HEAD reads nothing from the cache).
func (s *Site) Serve(ctx *fasthttp.RequestCtx, key string) bool {
	p := s.pages[key]
	if p == nil {
		return false
	}
	req := &ctx.Request.Header
	resp := &ctx.Response
	h := &resp.Header

	gz := p.etagGz != nil && acceptsGzip(req.PeekCanonical(hdrAcceptEncoding))
	etag := p.etag
	if gz {
		etag = p.etagGz
	}
	head := req.IsHead()
	if (head || req.IsGet()) && s.notModified(req, etag) {
		// RFC 9110 15.4.5: a 304 repeats the validators and caching fields
		// a 200 would carry, and nothing of the representation.
		resp.ResetBody()
		resp.SetStatusCode(fasthttp.StatusNotModified)
		h.SetCanonical(hdrETag, etag)
		s.setCaching(h)
		return true
	}

	var body []byte
	if !head {
		cacheKey := p.bodyKey
		body = p.body
		if gz {
			body, cacheKey = p.gz, p.gzKey
		}
		if body == nil {
			var err error
			if body, err = s.cache.Get(cacheKey); err != nil {
				// Cannot happen: Load refuses a cache that evicts, and
				// entries never expire. Still, a lost page is a miss.
				return false
			}
		}
	}

	resp.SetStatusCode(fasthttp.StatusOK)
	if p.ctype != nil {
		h.SetContentTypeBytes(p.ctype)
	} else {
		h.SetContentTypeBytes(ctypeHTML)
	}
	h.SetCanonical(hdrETag, etag)
	h.SetCanonical(hdrLastModified, s.lastModified)
	s.setCaching(h)
	if gz {
		h.SetContentEncodingBytes(codingGzip)
	}
	if head {
		resp.ResetBody()
		resp.SkipBody = true
		if gz {
			h.SetContentLength(p.gzSize)
		} else {
			h.SetContentLength(p.size)
		}
		return true
	}
	// Hot bodies are immutable and the cold copy is ours: no copy needed,
	// neither here nor, on a connection that can, into the write buffer.
	SetBody(ctx, body)
	return true
}

// SetBody makes body, which must stay unchanged until the answer is
// written, the response's body without a copy: through the connection's
// SendBody when it is a BodySender, else with SetBodyRaw.
func SetBody(ctx *fasthttp.RequestCtx, body []byte) {
	if bs, ok := ctx.Conn().(BodySender); !ok || !bs.SendBody(&ctx.Response, body) {
		ctx.Response.SetBodyRaw(body)
	}
}

// BodySender is a connection that sends a response body without copying
// it into fasthttp's write buffer: the gateway's plain TCP connections
// (gateway/zerocopy.go). SendBody reports false when it cannot, having
// done nothing.
type BodySender interface {
	SendBody(resp *fasthttp.Response, body []byte) bool
}

func (s *Site) setCaching(h *fasthttp.ResponseHeader) {
	if len(s.cacheControl) > 0 {
		h.SetCanonical(hdrCacheControl, s.cacheControl)
	}
	h.SetCanonical(hdrVary, hdrAcceptEncoding)
}

// notModified evaluates If-None-Match, or, when absent, If-Modified-Since
// (RFC 9110 13.2.2 order: the ETag is the finer validator).
func (s *Site) notModified(req *fasthttp.RequestHeader, etag []byte) bool {
	if inm := req.PeekCanonical(hdrIfNoneMatch); len(inm) > 0 {
		return etagMatch(inm, etag)
	}
	ims := req.PeekCanonical(hdrIfModifiedSince)
	if len(ims) == 0 {
		return false
	}
	// Clients echo Last-Modified: compare bytes before parsing a date.
	if bytes.Equal(ims, s.lastModified) {
		return true
	}
	t, err := fasthttp.ParseHTTPDate(ims)
	return err == nil && !s.modified.After(t)
}
