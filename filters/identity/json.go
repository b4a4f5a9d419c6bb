package identity

import (
	"bytes"
	"unicode/utf8"
)

// A small JSON scanner for JWT headers and claims. encoding/json would
// allocate a map or struct per token; this walks the members of an object
// in place and hands out value slices, so verifying a token on the hot
// path allocates nothing. It checks the JSON grammar of everything it
// walks, including skipped nested values: the header is read before the
// signature is checked, and no input may make it panic or recurse deeply.

// Value kinds, as returned by the scanner.
const (
	kindString = 's'
	kindNumber = 'n'
	kindObject = 'o'
	kindArray  = 'a'
	kindTrue   = 't'
	kindFalse  = 'f'
	kindNull   = 'z'
)

// maxDepth bounds nesting inside skipped values, so hostile input cannot
// exhaust the stack.
const maxDepth = 16

// member is one key/value pair of an object, or one array element (no
// key). For strings, val is the raw content between the quotes and esc
// reports whether it holds escapes.
type member struct {
	key    []byte
	keyEsc bool
	val    []byte
	esc    bool
	kind   byte
}

// iter walks an object's members or an array's elements.
type iter struct {
	b     []byte
	i     int
	close byte // '}' or ']' while open, 0 once the closing byte was read
	n     int
	depth int
	bad   bool
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func skipSpace(b []byte, i int) int {
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	return i
}

// object starts iterating the object that is the whole of b.
func object(b []byte) iter {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return iter{bad: true}
	}
	return iter{b: b, i: i + 1, close: '}'}
}

// array starts iterating the array value v, as found in member.val.
func array(v []byte) iter {
	if len(v) == 0 || v[0] != '[' {
		return iter{bad: true}
	}
	return iter{b: v, i: 1, close: ']'}
}

// next returns the next member. It returns false at the closing bracket
// or on a syntax error; tell them apart with done or ended.
func (it *iter) next() (m member, ok bool) {
	if it.bad || it.close == 0 {
		it.bad = true // walking past the end is a caller bug or bad input
		return m, false
	}
	b := it.b
	i := skipSpace(b, it.i)
	if i >= len(b) {
		it.bad = true
		return m, false
	}
	if b[i] == it.close {
		it.i, it.close = i+1, 0
		return m, false
	}
	if it.n > 0 {
		if b[i] != ',' {
			it.bad = true
			return m, false
		}
		i = skipSpace(b, i+1)
	}
	if it.close == '}' {
		end, esc, good := scanString(b, i)
		if !good {
			it.bad = true
			return m, false
		}
		m.key, m.keyEsc = b[i+1:end-1], esc
		i = skipSpace(b, end)
		if i >= len(b) || b[i] != ':' {
			it.bad = true
			return m, false
		}
		i = skipSpace(b, i+1)
	}
	end, kind, esc, good := scanValue(b, i, it.depth)
	if !good {
		it.bad = true
		return m, false
	}
	m.kind, m.esc, m.val = kind, esc, b[i:end]
	if kind == kindString {
		m.val = b[i+1 : end-1]
	}
	it.i = end
	it.n++
	return m, true
}

// done reports whether the top-level walk reached its closing brace with
// nothing but whitespace after it.
func (it *iter) done() bool {
	return it.ended() && skipSpace(it.b, it.i) == len(it.b)
}

// ended reports whether the walk reached its closing bracket cleanly.
func (it *iter) ended() bool { return !it.bad && it.close == 0 }

var (
	litTrue  = []byte("true")
	litFalse = []byte("false")
	litNull  = []byte("null")
)

// scanValue returns the end of the value starting at b[i] and its kind.
func scanValue(b []byte, i, depth int) (end int, kind byte, esc, ok bool) {
	if i >= len(b) {
		return 0, 0, false, false
	}
	switch c := b[i]; {
	case c == '"':
		end, esc, ok = scanString(b, i)
		return end, kindString, esc, ok
	case c == '-' || (c >= '0' && c <= '9'):
		end, ok = scanNumber(b, i)
		return end, kindNumber, false, ok
	case c == '{' || c == '[':
		if depth >= maxDepth {
			return 0, 0, false, false
		}
		it := iter{b: b, i: i + 1, close: ']', depth: depth + 1}
		kind = kindArray
		if c == '{' {
			it.close, kind = '}', kindObject
		}
		for {
			if _, more := it.next(); !more {
				break
			}
		}
		return it.i, kind, false, it.ended()
	case bytes.HasPrefix(b[i:], litTrue):
		return i + 4, kindTrue, false, true
	case bytes.HasPrefix(b[i:], litFalse):
		return i + 5, kindFalse, false, true
	case bytes.HasPrefix(b[i:], litNull):
		return i + 4, kindNull, false, true
	}
	return 0, 0, false, false
}

// scanString returns the index after the closing quote of the string
// starting at b[i], checking escapes and refusing raw control bytes.
func scanString(b []byte, i int) (end int, esc, ok bool) {
	if i >= len(b) || b[i] != '"' {
		return 0, false, false
	}
	for j := i + 1; j < len(b); j++ {
		switch c := b[j]; {
		case c == '"':
			return j + 1, esc, true
		case c < 0x20:
			return 0, false, false
		case c == '\\':
			esc = true
			j++
			if j >= len(b) {
				return 0, false, false
			}
			switch b[j] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if j+4 >= len(b) || !isHex4(b[j+1:j+5]) {
					return 0, false, false
				}
				j += 4
			default:
				return 0, false, false
			}
		}
	}
	return 0, false, false
}

func isHex4(b []byte) bool {
	for _, c := range b {
		if hexVal(c) < 0 {
			return false
		}
	}
	return true
}

func hexVal(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

// scanNumber returns the end of the JSON number starting at b[i].
func scanNumber(b []byte, i int) (int, bool) {
	j := i
	if j < len(b) && b[j] == '-' {
		j++
	}
	switch {
	case j < len(b) && b[j] == '0':
		j++
	case j < len(b) && b[j] >= '1' && b[j] <= '9':
		j = digits(b, j)
	default:
		return 0, false
	}
	if j < len(b) && b[j] == '.' {
		k := digits(b, j+1)
		if k == j+1 {
			return 0, false
		}
		j = k
	}
	if j < len(b) && (b[j] == 'e' || b[j] == 'E') {
		j++
		if j < len(b) && (b[j] == '+' || b[j] == '-') {
			j++
		}
		k := digits(b, j)
		if k == j {
			return 0, false
		}
		j = k
	}
	return j, true
}

func digits(b []byte, j int) int {
	for j < len(b) && b[j] >= '0' && b[j] <= '9' {
		j++
	}
	return j
}

// unescape decodes the escapes of a JSON string's content s into dst[:0]
// without growing it: it fails rather than allocate when the result would
// not fit in cap(dst). Lone surrogates become U+FFFD, as encoding/json does.
func unescape(dst, s []byte) ([]byte, bool) {
	out := dst[:0]
	var rb [utf8.UTFMax]byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' {
			if len(out) == cap(out) {
				return nil, false
			}
			out = append(out, c)
			continue
		}
		i++
		if i >= len(s) {
			return nil, false
		}
		var r rune
		switch s[i] {
		case '"', '\\', '/':
			r = rune(s[i])
		case 'b':
			r = '\b'
		case 'f':
			r = '\f'
		case 'n':
			r = '\n'
		case 'r':
			r = '\r'
		case 't':
			r = '\t'
		case 'u':
			var good bool
			if r, good = hex4(s, i+1); !good {
				return nil, false
			}
			i += 4
			if r >= 0xD800 && r < 0xDC00 { // high surrogate: look for its pair
				if lo, good := hex4(s, i+3); good && i+2 < len(s) && s[i+1] == '\\' && s[i+2] == 'u' && lo >= 0xDC00 && lo < 0xE000 {
					r = 0x10000 + (r-0xD800)<<10 + (lo - 0xDC00)
					i += 6
				} else {
					r = utf8.RuneError
				}
			} else if r >= 0xDC00 && r < 0xE000 {
				r = utf8.RuneError
			}
		default:
			return nil, false
		}
		n := utf8.EncodeRune(rb[:], r)
		if len(out)+n > cap(out) {
			return nil, false
		}
		out = append(out, rb[:n]...)
	}
	return out, true
}

// hex4 reads four hex digits at s[i:].
func hex4(s []byte, i int) (rune, bool) {
	if i < 0 || i+4 > len(s) {
		return 0, false
	}
	var r rune
	for _, c := range s[i : i+4] {
		v := hexVal(c)
		if v < 0 {
			return 0, false
		}
		r = r<<4 | rune(v)
	}
	return r, true
}

// text returns a string member's decoded content, unescaping into buf
// only when it holds escapes.
func text(m member, buf []byte) ([]byte, bool) {
	if !m.esc {
		return m.val, true
	}
	return unescape(buf, m.val)
}
