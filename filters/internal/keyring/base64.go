package keyring

import "encoding/base64"

// Tokens and signatures travel as unpadded base64url. The stdlib decoder
// silently skips CR and LF, which would make one token readable under many
// spellings; Decode refuses any byte outside the alphabet first, and
// Strict refuses non-zero trailing bits, so each value has one spelling.
var (
	b64     = base64.RawURLEncoding.Strict()
	b64url  = alphabet("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
	encoder = base64.RawURLEncoding
)

func alphabet(s string) (t [256]bool) {
	for i := 0; i < len(s); i++ {
		t[s[i]] = true
	}
	return t
}

// ValidB64 reports whether b is unpadded base64url of a plausible length
// (empty is valid).
func ValidB64(b []byte) bool {
	if len(b)%4 == 1 {
		return false
	}
	for _, c := range b {
		if !b64url[c] {
			return false
		}
	}
	return true
}

// Decode base64url-decodes src into dst, failing, never allocating, when
// src is not canonical unpadded base64url or does not fit in dst.
func Decode(dst, src []byte) ([]byte, bool) {
	if !ValidB64(src) || b64.DecodedLen(len(src)) > len(dst) {
		return nil, false
	}
	n, err := b64.Decode(dst, src)
	if err != nil {
		return nil, false
	}
	return dst[:n], true
}

// AppendEncode appends the unpadded base64url encoding of src to dst.
func AppendEncode(dst, src []byte) []byte { return encoder.AppendEncode(dst, src) }
