package token

import (
	"encoding/binary"

	"github.com/flashgate/flashgate/filters/internal/keyring"
)

// Format constants; see the package documentation.
const (
	version   = 1
	nonceLen  = 12
	tagLen    = 16
	maxUser   = 128
	maxAct    = 64
	minBinary = 1 + 1 + 1 + 8 + nonceLen + 1 + 1 + 1 + 1 + tagLen
	maxBinary = 1 + 1 + keyring.MaxID + 8 + nonceLen + 1 + maxUser + 1 + maxAct + tagLen
	maxText   = (maxBinary*8 + 5) / 6
)

// domain separates order-token MACs from anything else the keys sign.
var domain = []byte("flashgate/order_token/v1\x00")

// fields are a decoded token's parts, slices into the decoding buffer.
type fields struct {
	kid      []byte
	issuedMs int64
	nonce    []byte
	user     []byte
	act      []byte
	body     []byte // everything the tag covers
	tag      []byte
}

// parse splits a decoded token, checking every length. It does not
// verify the tag.
func parse(b []byte) (fields, bool) {
	var t fields
	if len(b) < minBinary || len(b) > maxBinary || b[0] != version {
		return t, false
	}
	t.body, t.tag = b[:len(b)-tagLen], b[len(b)-tagLen:]
	p := t.body[1:]
	var good bool
	if t.kid, p, good = lenPrefixed(p, keyring.MaxID); !good || len(p) < 8+nonceLen {
		return t, false
	}
	ms := binary.BigEndian.Uint64(p)
	if ms > 1<<62 {
		return t, false
	}
	t.issuedMs = int64(ms)
	t.nonce, p = p[8:8+nonceLen], p[8+nonceLen:]
	if t.user, p, good = lenPrefixed(p, maxUser); !good {
		return t, false
	}
	if t.act, p, good = lenPrefixed(p, maxAct); !good || len(p) != 0 {
		return t, false
	}
	return t, true
}

// lenPrefixed reads a one-byte length (1..limit) and that many bytes.
func lenPrefixed(p []byte, limit int) (v, rest []byte, ok bool) {
	if len(p) < 1 {
		return nil, nil, false
	}
	n := int(p[0])
	if n == 0 || n > limit || len(p) < 1+n {
		return nil, nil, false
	}
	return p[1 : 1+n], p[1+n:], true
}

// appendToken appends the text of a new token to dst. buf is scratch of
// at least maxBinary bytes; nonce must be nonceLen random bytes. It
// returns false when user or activity do not fit the format.
func appendToken(dst, buf []byte, k *keyring.Signer, issuedMs int64, nonce, user, act []byte, sum *[32]byte) ([]byte, bool) {
	kid := k.IDBytes()
	if len(user) == 0 || len(user) > maxUser || len(act) == 0 || len(act) > maxAct || len(nonce) != nonceLen {
		return dst, false
	}
	b := append(buf[:0], version, byte(len(kid)))
	b = append(b, kid...)
	b = binary.BigEndian.AppendUint64(b, uint64(issuedMs))
	b = append(b, nonce...)
	b = append(b, byte(len(user)))
	b = append(b, user...)
	b = append(b, byte(len(act)))
	b = append(b, act...)
	k.Sum(sum, domain, b)
	b = append(b, sum[:tagLen]...)
	return keyring.AppendEncode(dst, b), true
}
