package identity

import (
	"bytes"
	"crypto"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"math"
	"strconv"
	"sync"

	"github.com/flashgate/flashgate/filters/internal/keyring"
	"github.com/flashgate/flashgate/internal/bytesconv"
	"github.com/flashgate/flashgate/internal/userid"
)

// outcome is the result of checking a credential; each failure is its
// own reason code.
type outcome uint8

const (
	ok outcome = iota
	jwtMalformed
	jwtBadSignature
	jwtExpired
	jwtNotYetValid
	jwtBadAlg
	jwtBadClaims
	badUserID
	unauthenticated
	numOutcomes
)

// Limits on what a token may hold. A session JWT is a few hundred bytes;
// the caps keep the scratch buffers fixed and hostile input cheap.
const (
	maxToken   = 8192
	maxHeader  = 1024 // decoded header bytes
	maxPayload = 6144 // decoded claims bytes
	maxSig     = 1024 // decoded signature bytes: RSA keys up to 8192 bits
)

// scratch is the per-verification working memory, pooled so that the hot
// path allocates nothing: base64 output, unescaped strings and the MAC.
type scratch struct {
	hdr     [maxHeader]byte
	payload [maxPayload]byte
	sig     [maxSig]byte
	user    [2 * userid.Max]byte
	str     [512]byte
	sum     [sha256.Size]byte
}

var scratchPool = sync.Pool{New: func() any { return new(scratch) }}

// verifier checks JWS compact tokens signed with one configured algorithm.
type verifier struct {
	alg      []byte
	hs       *keyring.Signer // HS256
	rsa      *rsa.PublicKey  // RS256
	claim    []byte
	issuer   []byte
	audience []byte
	leewayMs int64
}

var (
	keyAlg  = []byte("alg")
	keyCrit = []byte("crit")
	keyExp  = []byte("exp")
	keyNbf  = []byte("nbf")
	keyIss  = []byte("iss")
	keyAud  = []byte("aud")
)

// verify checks tok at nowMs (unix milliseconds) and returns the user id,
// which points into sc or tok and is valid until sc goes back to the pool.
func (v *verifier) verify(tok []byte, nowMs int64, sc *scratch) ([]byte, outcome) {
	if len(tok) == 0 || len(tok) > maxToken {
		return nil, jwtMalformed
	}
	d1 := bytes.IndexByte(tok, '.')
	if d1 < 0 {
		return nil, jwtMalformed
	}
	d2 := bytes.IndexByte(tok[d1+1:], '.')
	if d2 < 0 {
		return nil, jwtMalformed
	}
	d2 += d1 + 1
	h64, p64, s64 := tok[:d1], tok[d1+1:d2], tok[d2+1:]
	// An empty signature is left to the alg check, so that an unsecured
	// ("alg":"none") token is reported as jwt_bad_alg.
	if !isB64URL(h64) || !isB64URL(p64) || (len(s64) > 0 && !isB64URL(s64)) {
		return nil, jwtMalformed // also refuses a third dot (JWE has five parts)
	}
	hdr, good := decode(sc.hdr[:], h64)
	if !good {
		return nil, jwtMalformed
	}
	if o := v.checkHeader(hdr, sc); o != ok {
		return nil, o
	}
	sig, good := decode(sc.sig[:], s64)
	if !good {
		return nil, jwtBadSignature // too long for any key we accept
	}
	if !v.checkSignature(tok[:d2], sig, sc) {
		return nil, jwtBadSignature
	}
	claims, good := decode(sc.payload[:], p64)
	if !good {
		return nil, jwtMalformed
	}
	return v.checkClaims(claims, nowMs, sc)
}

// checkHeader requires alg to be exactly the configured algorithm, so
// "none" and HS256-with-the-RSA-public-key confusion are both refused.
func (v *verifier) checkHeader(hdr []byte, sc *scratch) outcome {
	it := object(hdr)
	var alg []byte
	seen := false
	for m, more := it.next(); more; m, more = it.next() {
		key, good := text(member{val: m.key, esc: m.keyEsc}, sc.str[0:64:64])
		if !good {
			continue // longer than any name we read
		}
		switch {
		case bytes.Equal(key, keyAlg):
			if seen || m.kind != kindString {
				return jwtMalformed
			}
			seen = true
			if alg, good = text(m, sc.str[64:128:128]); !good {
				return jwtBadAlg
			}
		case bytes.Equal(key, keyCrit):
			// We implement no extensions, so a critical one cannot be honoured.
			return jwtMalformed
		}
	}
	if !it.done() {
		return jwtMalformed
	}
	if !bytes.Equal(alg, v.alg) {
		return jwtBadAlg
	}
	return ok
}

func (v *verifier) checkSignature(input, sig []byte, sc *scratch) bool {
	if v.hs != nil {
		if len(sig) != sha256.Size {
			return false
		}
		v.hs.Sum(&sc.sum, nil, input)
		return hmac.Equal(sc.sum[:], sig)
	}
	if len(sig) != v.rsa.Size() {
		return false
	}
	sum := sha256.Sum256(input)
	return rsa.VerifyPKCS1v15(v.rsa, crypto.SHA256, sum[:], sig) == nil
}

// claimsSeen records which claims were present, to refuse duplicates.
type claimsSeen struct{ exp, nbf, iss, aud, user bool }

func (v *verifier) checkClaims(b []byte, nowMs int64, sc *scratch) ([]byte, outcome) {
	it := object(b)
	var (
		seen          claimsSeen
		expMs, nbfMs  int64
		user          []byte
		issOK, audOK  = len(v.issuer) == 0, len(v.audience) == 0
		claimsInvalid bool
		userInvalid   bool
	)
	for m, more := it.next(); more; m, more = it.next() {
		key, good := text(member{val: m.key, esc: m.keyEsc}, sc.str[0:64:64])
		if !good {
			continue // longer than any claim we read
		}
		var dup *bool
		switch {
		case bytes.Equal(key, v.claim):
			dup = &seen.user
			user, userInvalid, claimsInvalid = v.userClaim(m, sc, claimsInvalid)
		case bytes.Equal(key, keyExp):
			dup = &seen.exp
			expMs, good = numericDate(m)
			claimsInvalid = claimsInvalid || !good
		case bytes.Equal(key, keyNbf):
			dup = &seen.nbf
			nbfMs, good = numericDate(m)
			claimsInvalid = claimsInvalid || !good
		case bytes.Equal(key, keyIss):
			dup = &seen.iss
			if len(v.issuer) > 0 && m.kind == kindString {
				iss, good := text(m, sc.str[64:])
				issOK = good && bytes.Equal(iss, v.issuer)
			}
		case bytes.Equal(key, keyAud):
			dup = &seen.aud
			if len(v.audience) > 0 {
				audOK = v.audienceMatches(m, sc)
			}
		default:
			continue
		}
		if *dup {
			return nil, jwtMalformed // which of two values is meant is ambiguous
		}
		*dup = true
	}
	switch {
	case !it.done():
		return nil, jwtMalformed
	case claimsInvalid || !seen.exp || !seen.user || !issOK || !audOK:
		return nil, jwtBadClaims
	case nowMs >= satAdd(expMs, v.leewayMs):
		return nil, jwtExpired
	case seen.nbf && satAdd(nowMs, v.leewayMs) < nbfMs:
		return nil, jwtNotYetValid
	case userInvalid || !userid.Valid(user):
		return nil, badUserID
	}
	return user, ok
}

// userClaim reads the user id claim: a string, or an integer, which some
// issuers use for numeric account ids.
func (v *verifier) userClaim(m member, sc *scratch, invalid bool) (user []byte, userBad, claimsBad bool) {
	switch m.kind {
	case kindString:
		u, good := text(m, sc.user[:])
		return u, !good, invalid
	case kindNumber:
		for _, c := range m.val {
			if c == '.' || c == 'e' || c == 'E' {
				return nil, false, true
			}
		}
		return m.val, false, invalid
	}
	return nil, false, true
}

func (v *verifier) audienceMatches(m member, sc *scratch) bool {
	switch m.kind {
	case kindString:
		aud, good := text(m, sc.str[64:])
		return good && bytes.Equal(aud, v.audience)
	case kindArray:
		it := array(m.val)
		for e, more := it.next(); more; e, more = it.next() {
			if e.kind != kindString {
				continue
			}
			if aud, good := text(e, sc.str[64:]); good && bytes.Equal(aud, v.audience) {
				return true
			}
		}
	}
	return false
}

// numericDate converts a JSON NumericDate (seconds, maybe fractional) to
// unix milliseconds, refusing negative and absurdly large values.
func numericDate(m member) (int64, bool) {
	if m.kind != kindNumber {
		return 0, false
	}
	f, err := strconv.ParseFloat(bytesconv.String(m.val), 64)
	if err != nil || math.IsNaN(f) || f < 0 || f > 1e12 {
		return 0, false
	}
	return int64(f * 1000), true
}

func satAdd(a, b int64) int64 {
	if b > 0 && a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}

// isB64URL reports whether b is non-empty unpadded base64url.
func isB64URL(b []byte) bool { return len(b) > 0 && keyring.ValidB64(b) }

// decode is keyring.Decode: canonical base64url into a fixed buffer.
func decode(dst, src []byte) ([]byte, bool) { return keyring.Decode(dst, src) }
