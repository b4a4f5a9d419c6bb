package identity

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"github.com/flashgate/flashgate/internal/filtertest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

var (
	rsaOnce sync.Once
	rsaKey  *rsa.PrivateKey
)

// testRSAKey is generated once: 2048-bit generation takes a while.
func testRSAKey(t testing.TB) *rsa.PrivateKey {
	rsaOnce.Do(func() {
		var err error
		if rsaKey, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
	})
	return rsaKey
}

// writePEM writes a PEM block of der to a temp file and returns its path.
func writePEM(t testing.TB, typ string, der []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "key.pem")
	if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func pkixPEM(t testing.TB, pub any) string {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return writePEM(t, "PUBLIC KEY", der)
}

func rs256(t testing.TB, c jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(jwt.SigningMethodRS256, c).SignedString(testRSAKey(t))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestRS256(t *testing.T) {
	key := testRSAKey(t)
	pkix := pkixPEM(t, &key.PublicKey)
	pkcs1 := writePEM(t, "RSA PUBLIC KEY", x509.MarshalPKCS1PublicKey(&key.PublicKey))
	pubPEM, _ := os.ReadFile(pkix)
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	forged, _ := jwt.NewWithClaims(jwt.SigningMethodRS256, claims("mallory")).SignedString(other)
	// Alg confusion: an HS256 token keyed with the RSA public key, which
	// a verifier that trusts the header's alg would accept.
	confused, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, claims("mallory")).SignedString(pubPEM)
	ps256, _ := jwt.NewWithClaims(jwt.SigningMethodPS256, claims("a")).SignedString(key)
	exp := testNow.Add(time.Hour).Unix()
	tests := []struct {
		name, keyFile, token, reason, user string
	}{
		{"pkix", pkix, rs256(t, claims("alice")), "", "alice"},
		{"pkcs1", pkcs1, rs256(t, claims("alice")), "", "alice"},
		{"other key", pkix, forged, "jwt_bad_signature", ""},
		{"alg confusion", pkix, confused, "jwt_bad_alg", ""},
		{"PS256", pkix, ps256, "jwt_bad_alg", ""},
		{"alg none", pkix, unsecured(`{"sub":"a","exp":` + itoa(exp) + `}`), "jwt_bad_alg", ""},
		{"expired", pkix, rs256(t, jwt.MapClaims{"sub": "a", "exp": testNow.Add(-time.Minute).Unix()}), "jwt_expired", ""},
		{"truncated", pkix, dropTail(rs256(t, claims("a")), 4), "jwt_bad_signature", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := filtertest.Filter[*filter](t, filtertest.Env(), "identity", map[string]any{"jwt": map[string]any{"alg": "RS256", "public_key_file": tc.keyFile}})
			reason, user := outcomeOf(t, f, filtertest.Request(nil, "", testNow, bearer(tc.token)...))
			if reason != tc.reason || user != tc.user {
				t.Fatalf("got %q %q, want %q %q", reason, user, tc.reason, tc.user)
			}
		})
	}
}

func TestRS256Certificate(t *testing.T) {
	key := testRSAKey(t)
	tmpl := &x509.Certificate{SerialNumber: bigOne(), NotBefore: testNow, NotAfter: testNow.Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	f := filtertest.Filter[*filter](t, filtertest.Env(), "identity", map[string]any{"jwt": map[string]any{"alg": "RS256", "public_key_file": writePEM(t, "CERTIFICATE", der)}})
	if reason, user := outcomeOf(t, f, filtertest.Request(nil, "", testNow, bearer(rs256(t, claims("cert")))...)); reason != "" || user != "cert" {
		t.Fatalf("got %q %q", reason, user)
	}
}

func TestRS256KeyFileErrors(t *testing.T) {
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	notPEM := filepath.Join(t.TempDir(), "x.pem")
	if err := os.WriteFile(notPEM, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, file, want string
	}{
		{"missing", "/nonexistent/key.pem", "jwt.public_key_file: open /nonexistent/key.pem: no such file or directory"},
		{"not pem", notPEM, "jwt.public_key_file: " + notPEM + ": no RSA public key in PEM"},
		{"small", pkixPEM(t, &small.PublicKey), "RSA key has 1024 bits, need at least 2048"},
		{"ecdsa", pkixPEM(t, &ec.PublicKey), "the key is not an RSA public key"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := &Config{JWT: JWTConfig{Alg: "RS256", PublicKeyFile: tc.file, Claim: "sub"}}
			_, err := c.Build(nil)
			if err == nil || !containsErr(err, tc.want) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
		})
	}
}
