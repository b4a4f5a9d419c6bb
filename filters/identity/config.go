package identity

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/flashgate/flashgate/conf"
	"github.com/flashgate/flashgate/filters/internal/keyring"
	"github.com/flashgate/flashgate/gateway"
)

// Config is the settings block of an identity entry. At least one of
// header or jwt is required.
type Config struct {
	// Header names a request header carrying the user id, set by the
	// shop's auth layer in front of the gateway, e.g. "X-User-Id". That
	// layer must strip the header from client requests: the gateway trusts
	// it. When both header and jwt are set the header wins. Default ""
	// (not trusted: a default here would let clients pick their id).
	Header string `mapstructure:"header"`
	// JWT verifies a signed session token instead. Default: disabled
	// (jwt.alg empty).
	JWT JWTConfig `mapstructure:"jwt"`
	// Require rejects anonymous requests with 401 unauthenticated. When
	// false they pass with no user, and later filters limit them per IP.
	// A credential that is present but invalid is rejected either way.
	// Default false.
	Require bool `mapstructure:"require"`
}

// JWTConfig configures JWT verification.
type JWTConfig struct {
	// Alg is HS256 or RS256; the token's header must name exactly this
	// algorithm. Required to enable JWT. Default "" (disabled).
	Alg string `mapstructure:"alg"`
	// Secret is the HS256 key, at least 32 bytes. Default "".
	Secret string `mapstructure:"secret"`
	// SecretFile holds the HS256 key instead (whitespace trimmed). Default "".
	SecretFile string `mapstructure:"secret_file"`
	// PublicKeyFile is a PEM RSA public key (PKIX "PUBLIC KEY", PKCS#1
	// "RSA PUBLIC KEY" or a certificate), at least 2048 bits, for RS256.
	// Default "".
	PublicKeyFile string `mapstructure:"public_key_file"`
	// Cookie names the cookie carrying the token. Default "": the token is
	// read from "Authorization: Bearer <token>".
	Cookie string `mapstructure:"cookie"`
	// Claim is the claim holding the user id (a string or an integer).
	// Default "sub".
	Claim string `mapstructure:"claim"`
	// Issuer, when set, must equal the iss claim. Default "" (unchecked).
	Issuer string `mapstructure:"issuer"`
	// Audience, when set, must equal aud or be one of its entries.
	// Default "" (unchecked).
	Audience string `mapstructure:"audience"`
	// Leeway tolerates clock skew with the issuer when checking exp and
	// nbf. Default 5s.
	Leeway time.Duration `mapstructure:"leeway"`
}

// maxLeeway keeps a typo from making expired sessions live for hours.
const maxLeeway = 10 * time.Minute

func newConfig() gateway.FilterConfig {
	return &Config{JWT: JWTConfig{Claim: "sub", Leeway: 5 * time.Second}}
}

func (j *JWTConfig) enabled() bool { return j.Alg != "" }

// configured reports whether any jwt field differs from its default, to
// catch a jwt block whose alg was forgotten.
func (j *JWTConfig) configured() bool {
	return j.Alg != "" || j.Secret != "" || j.SecretFile != "" || j.PublicKeyFile != "" ||
		j.Cookie != "" || j.Issuer != "" || j.Audience != ""
}

// Validate reports every problem, without reading key files.
func (c *Config) Validate(at conf.At) {
	if c.Header == "" && !c.JWT.configured() {
		at.Addf("", "one of header or jwt is required")
	}
	if c.Header != "" && !validToken(c.Header) {
		at.Addf("header", "must be a header name, got %q", c.Header)
	}
	if c.JWT.configured() {
		c.JWT.validate(conf.At{Errs: at.Errs, Path: conf.Join(at.Path, "jwt")})
	}
}

func (j *JWTConfig) validate(at conf.At) {
	switch j.Alg {
	case "HS256":
		switch {
		case j.Secret != "" && j.SecretFile != "":
			at.Addf("", "set one of secret or secret_file, not both")
		case j.Secret == "" && j.SecretFile == "":
			at.Addf("secret", "required for HS256 (or secret_file)")
		case j.Secret != "" && len(j.Secret) < keyring.MinSecret:
			at.Addf("secret", "must be at least %d bytes, got %d", keyring.MinSecret, len(j.Secret))
		}
		if j.PublicKeyFile != "" {
			at.Addf("public_key_file", "only for RS256")
		}
	case "RS256":
		if j.PublicKeyFile == "" {
			at.Addf("public_key_file", "required for RS256")
		}
		if j.Secret != "" || j.SecretFile != "" {
			at.Addf("secret", "only for HS256; RS256 verifies with public_key_file")
		}
	case "":
		at.Addf("alg", "required when jwt is set: HS256 or RS256")
	default:
		at.Addf("alg", "must be HS256 or RS256, got %q", j.Alg)
	}
	if j.Claim == "" || len(j.Claim) > 64 {
		at.Addf("claim", "must be 1..64 bytes, got %q", j.Claim)
	}
	if j.Cookie != "" && !validToken(j.Cookie) {
		at.Addf("cookie", "must be a cookie name, got %q", j.Cookie)
	}
	if j.Leeway < 0 || j.Leeway > maxLeeway {
		at.Addf("leeway", "must be in 0s..%s, got %s", maxLeeway, j.Leeway)
	}
}

// validToken reports whether s is an RFC 7230 token (header and cookie
// names).
func validToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || c == '"' || c == '(' || c == ')' || c == ',' || c == '/' ||
			c == ':' || c == ';' || c == '<' || c == '=' || c == '>' || c == '?' || c == '@' ||
			c == '[' || c == '\\' || c == ']' || c == '{' || c == '}' {
			return false
		}
	}
	return true
}

// Build reads key files and prepares the pages.
func (c *Config) Build(env *gateway.Env) (gateway.Filter, error) {
	f := &filter{require: c.Require}
	if c.Header != "" {
		// Canonical once here, so Handle can PeekCanonical (see gateway.CanonicalHeader).
		f.header = gateway.CanonicalHeader(c.Header)
	}
	if c.JWT.enabled() {
		var cfg *conf.Config // relative key files resolve against the config's dir
		if env != nil {
			cfg = env.Config
		}
		v, err := c.JWT.verifier(cfg)
		if err != nil {
			return nil, err
		}
		f.jwt = v
		if c.JWT.Cookie != "" {
			f.cookie = []byte(c.JWT.Cookie)
		} else {
			f.bearer = true
		}
	}
	for o, s := range pageSpecs {
		p, err := env.Page(s)
		if err != nil {
			return nil, err
		}
		f.pages[o] = p
	}
	return f, nil
}

func (j *JWTConfig) verifier(cfg *conf.Config) (*verifier, error) {
	v := &verifier{
		alg: []byte(j.Alg), claim: []byte(j.Claim), leewayMs: j.Leeway.Milliseconds(),
	}
	if j.Issuer != "" {
		v.issuer = []byte(j.Issuer)
	}
	if j.Audience != "" {
		v.audience = []byte(j.Audience)
	}
	switch j.Alg {
	case "HS256":
		secret := []byte(j.Secret)
		if j.SecretFile != "" {
			var err error
			if secret, err = keyring.ReadSecret("jwt.secret_file", cfg.Resolve(j.SecretFile)); err != nil {
				return nil, err
			}
		}
		ring, err := keyring.New([]string{"jwt"}, [][]byte{secret})
		if err != nil {
			return nil, err
		}
		v.hs = ring.Primary()
	case "RS256":
		pub, err := readRSAPublicKey(cfg.Resolve(j.PublicKeyFile))
		if err != nil {
			return nil, fmt.Errorf("jwt.public_key_file: %w", err)
		}
		v.rsa = pub
	}
	return v, nil
}

// readRSAPublicKey loads the first usable RSA key of a PEM file.
func readRSAPublicKey(path string) (*rsa.PublicKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	for {
		var blk *pem.Block
		blk, data = pem.Decode(data)
		if blk == nil {
			return nil, fmt.Errorf("%s: no RSA public key in PEM", path)
		}
		var key any
		switch blk.Type {
		case "PUBLIC KEY":
			key, err = x509.ParsePKIXPublicKey(blk.Bytes)
		case "RSA PUBLIC KEY":
			key, err = x509.ParsePKCS1PublicKey(blk.Bytes)
		case "CERTIFICATE":
			var cert *x509.Certificate
			if cert, err = x509.ParseCertificate(blk.Bytes); err == nil {
				key = cert.PublicKey
			}
		default:
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		pub, isRSA := key.(*rsa.PublicKey)
		if !isRSA {
			return nil, fmt.Errorf("%s: %w", path, errNotRSA)
		}
		if pub.N.BitLen() < 2048 {
			return nil, fmt.Errorf("%s: RSA key has %d bits, need at least 2048", path, pub.N.BitLen())
		}
		if pub.Size() > maxSig {
			return nil, fmt.Errorf("%s: RSA key has %d bits, at most %d are supported", path, pub.N.BitLen(), maxSig*8)
		}
		return pub, nil
	}
}

var errNotRSA = errors.New("the key is not an RSA public key")
