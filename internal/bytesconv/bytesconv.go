// Package bytesconv holds the byte-slice helpers of the request path,
// which allocate nothing: a zero-copy string view and the trim of HTTP's
// optional whitespace. One definition each, for the gateway, the filters
// and the page cache.
package bytesconv

import "unsafe"

// String views b as a string without copying (fasthttp's b2s), for a map
// lookup or a parse; the string must not outlive b, and b must not change
// while it is used.
func String(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// TrimOWS trims HTTP optional whitespace (SP, HTAB) from both ends of b.
func TrimOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}
