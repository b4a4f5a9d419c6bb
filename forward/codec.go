package forward

import (
	"encoding/binary"
	"errors"
)

// The order's wire form in the Redis store's Stream (async mode on Redis):
// what the backend is sent, nothing that the entry already says (the
// ticket, user and sequence come from the entry's field and the load
// version the store writes in front of it).
//
//	'1' (format version)
//	uvarint len, method
//	uvarint len, path
//	uvarint count, then per header: uvarint len, name, uvarint len, value
//	uvarint len, body
//
// Hand-written rather than JSON or gob: it is built on every async
// purchase and parsed on every delivery, and a length-prefixed form needs
// no escaping, so encoding is one pass of appends into one buffer (JSON
// would escape the body and headers and allocate per field).

// MaxOrderSize bounds an encoded order. The gateway refuses to queue a
// larger one (the purchase gets busy and its unit back), so that one
// client cannot grow the Stream by megabytes per unit.
const MaxOrderSize = 16 << 10

// maxHeaders bounds the header count an order may carry.
const maxHeaders = 128

const codecVersion = '1'

var (
	// ErrOrderTooLarge is AppendOrder's answer past MaxOrderSize.
	ErrOrderTooLarge = errors.New("forward: order larger than 16 KiB")
	// ErrBadOrder is ParseOrder's answer to bytes AppendOrder did not make.
	ErrBadOrder = errors.New("forward: malformed order")
)

// AppendOrder appends the wire form of o's request (Method, Path, Header,
// Body) to dst. It fails, returning dst unchanged, when the order would
// exceed MaxOrderSize or carry more than 128 headers.
func AppendOrder(dst []byte, o *Order) ([]byte, error) {
	if len(o.Header) > maxHeaders {
		return dst, ErrOrderTooLarge
	}
	start := len(dst)
	dst = append(dst, codecVersion)
	dst = appendField(dst, o.Method)
	dst = appendField(dst, o.Path)
	dst = binary.AppendUvarint(dst, uint64(len(o.Header)))
	for _, kv := range o.Header {
		dst = appendField(dst, kv[0])
		dst = appendField(dst, kv[1])
	}
	dst = appendField(dst, string(o.Body))
	if len(dst)-start > MaxOrderSize {
		return dst[:start], ErrOrderTooLarge
	}
	return dst, nil
}

func appendField(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

// ParseOrder reads a wire form made by AppendOrder into o's Method, Path,
// Header and Body (the other fields are left alone). It copies: o does
// not point into b.
func ParseOrder(b []byte, o *Order) error {
	if len(b) == 0 || len(b) > MaxOrderSize || b[0] != codecVersion {
		return ErrBadOrder
	}
	p := parser{b: b[1:], ok: true}
	method, path := p.field(), p.field()
	n := p.count(maxHeaders)
	var hs [][2]string
	if n > 0 {
		hs = make([][2]string, 0, n)
	}
	for i := 0; i < n && p.ok; i++ {
		k, v := p.field(), p.field()
		hs = append(hs, [2]string{k, v})
	}
	body := p.field()
	if !p.ok || len(p.b) != 0 || method == "" {
		return ErrBadOrder
	}
	o.Method, o.Path, o.Header = method, path, hs
	o.Body = nil
	if body != "" {
		o.Body = []byte(body)
	}
	return nil
}

// parser walks a wire form; ok turns false at the first malformed field
// and every later read returns zero values.
type parser struct {
	b  []byte
	ok bool
}

func (p *parser) uvarint() uint64 {
	if !p.ok {
		return 0
	}
	v, n := binary.Uvarint(p.b)
	if n <= 0 || n > 1 && p.b[n-1] == 0 { // only the shortest form: one order, one encoding
		p.fail()
		return 0
	}
	p.b = p.b[n:]
	return v
}

func (p *parser) fail() { p.b, p.ok = nil, false }

func (p *parser) field() string {
	if !p.ok {
		return ""
	}
	n := p.uvarint()
	if !p.ok || n > uint64(len(p.b)) {
		p.fail()
		return ""
	}
	s := string(p.b[:n])
	p.b = p.b[n:]
	return s
}

func (p *parser) count(limit int) int {
	if !p.ok {
		return 0
	}
	n := p.uvarint()
	if !p.ok || n > uint64(limit) {
		p.fail()
		return 0
	}
	return int(n)
}
