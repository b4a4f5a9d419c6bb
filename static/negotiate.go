package static

import (
	"bytes"

	"github.com/flashgate/flashgate/internal/bytesconv"
)

// The two request headers parsed on every page hit. Both parsers walk the
// value in place: no splitting, no lower-casing copies, no allocation.

var (
	codingGzip  = []byte("gzip")
	codingXGzip = []byte("x-gzip")
)

// acceptsGzip reports whether an Accept-Encoding value (RFC 9110 12.5.3)
// allows a gzip response: gzip (or x-gzip) listed with a non-zero q, or,
// when gzip is not listed, "*" with a non-zero q. An explicit zero wins
// over any other listing of the same coding, and a malformed q counts as
// zero: identity is always a safe answer. An empty value (or no header)
// means identity only, which is what clients without gzip send.
func acceptsGzip(v []byte) bool {
	const unseen, refused, accepted = 0, 1, 2
	gz, star := unseen, unseen
	for len(v) > 0 {
		var elem []byte
		if i := bytes.IndexByte(v, ','); i >= 0 {
			elem, v = v[:i], v[i+1:]
		} else {
			elem, v = v, nil
		}
		coding, params := elem, []byte(nil)
		if i := bytes.IndexByte(elem, ';'); i >= 0 {
			coding, params = elem[:i], elem[i+1:]
		}
		coding = bytesconv.TrimOWS(coding)
		var st *int
		switch {
		case bytes.EqualFold(coding, codingGzip), bytes.EqualFold(coding, codingXGzip):
			st = &gz
		case len(coding) == 1 && coding[0] == '*':
			st = &star
		default:
			continue
		}
		if !qNonZero(params) {
			*st = refused
		} else if *st == unseen {
			*st = accepted
		}
	}
	if gz != unseen {
		return gz == accepted
	}
	return star == accepted
}

// qNonZero reports whether the parameters after a coding (";q=0.5;x=y")
// give it a non-zero weight. No q parameter means q=1.
func qNonZero(params []byte) bool {
	for len(params) > 0 {
		var p []byte
		if i := bytes.IndexByte(params, ';'); i >= 0 {
			p, params = params[:i], params[i+1:]
		} else {
			p, params = params, nil
		}
		eq := bytes.IndexByte(p, '=')
		if eq < 0 {
			continue
		}
		name := bytesconv.TrimOWS(p[:eq])
		if len(name) != 1 || name[0]|0x20 != 'q' {
			continue
		}
		return qvalueNonZero(bytesconv.TrimOWS(p[eq+1:]))
	}
	return true
}

// qvalueNonZero parses a qvalue: "0" ["." digits] or "1" ["." zeros].
// Anything malformed is treated as zero.
func qvalueNonZero(q []byte) bool {
	if len(q) == 0 {
		return false
	}
	lead, rest := q[0], q[1:]
	if lead != '0' && lead != '1' {
		return false
	}
	if len(rest) > 0 {
		if rest[0] != '.' {
			return false
		}
		rest = rest[1:]
	}
	nonZero := lead == '1'
	for _, c := range rest {
		if c < '0' || c > '9' {
			return false
		}
		if c != '0' {
			if lead == '1' {
				return false // 1.5 is not a qvalue
			}
			nonZero = true
		}
	}
	return nonZero
}

// etagMatch reports whether an If-None-Match value (RFC 9110 13.1.2)
// matches etag, a quoted entity-tag. It uses the weak comparison the RFC
// prescribes for If-None-Match: a W/ prefix on either side is ignored and
// the opaque tags must be equal. "*" matches any existing page. The
// opaque tag is scanned to its closing quote before a comma is looked
// for, since commas are legal inside it.
func etagMatch(field, etag []byte) bool {
	etag = stripWeak(etag)
	for {
		field = trimListSep(field)
		if len(field) == 0 {
			return false
		}
		if field[0] == '*' {
			if rest := bytesconv.TrimOWS(field[1:]); len(rest) == 0 || rest[0] == ',' {
				return true
			}
		}
		field = stripWeak(field)
		if len(field) == 0 || field[0] != '"' {
			// Malformed member: skip it.
			i := bytes.IndexByte(field, ',')
			if i < 0 {
				return false
			}
			field = field[i+1:]
			continue
		}
		end := bytes.IndexByte(field[1:], '"')
		if end < 0 {
			return false // unterminated
		}
		if bytes.Equal(field[:end+2], etag) {
			return true
		}
		field = field[end+2:]
	}
}

func stripWeak(b []byte) []byte {
	if len(b) >= 2 && b[0] == 'W' && b[1] == '/' {
		return b[2:]
	}
	return b
}

// trimListSep skips leading whitespace and empty list members.
func trimListSep(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t' || b[0] == ',') {
		b = b[1:]
	}
	return b
}
