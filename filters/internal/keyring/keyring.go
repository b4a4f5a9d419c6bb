// Package keyring holds the HMAC keys that order tokens and hidden
// purchase paths are signed with. Keys carry ids so that operators can
// rotate them: the first key signs, every listed key verifies, and a key
// is dropped only once nothing it signed can still be in use.
//
// A ring is built once per distinct key set and shared, through
// gateway.Share, by every route and endpoint configured with the same
// keys, so the token endpoint and the order_token filter agree by
// construction when the YAML shares the list with an anchor.
package keyring

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"os"
	"regexp"
	"strings"
	"sync"

	"github.com/flashgate/flashgate/conf"
	"github.com/flashgate/flashgate/gateway"
)

// MinSecret is the shortest secret accepted: an HMAC-SHA256 key shorter
// than the hash output weakens the tag.
const MinSecret = 32

// MaxID is the longest key id; ids travel inside every token.
const MaxID = 32

var idPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,32}$`)

// Key is one entry of a `keys:` list.
type Key struct {
	// ID names the key inside what it signs, so that verifiers pick the
	// right secret during a rotation. Required, 1..32 of [A-Za-z0-9_-].
	ID string `mapstructure:"id"`
	// Secret is the HMAC-SHA256 secret, at least 32 bytes. Exactly one of
	// secret or secret_file is required. Default "".
	Secret string `mapstructure:"secret"`
	// SecretFile names a file holding the secret (surrounding whitespace
	// trimmed), so that the secret stays out of the config. Default "".
	SecretFile string `mapstructure:"secret_file"`
}

// Validate reports every problem of the list at field (usually "keys"),
// without reading secret files.
func Validate(at conf.At, field string, keys []Key) {
	if len(keys) == 0 {
		at.Addf(field, "at least one key is required")
		return
	}
	seen := map[string]bool{}
	for i, k := range keys {
		p := conf.Index(field, i)
		switch {
		case !idPattern.MatchString(k.ID):
			at.Addf(conf.Join(p, "id"), "required, [A-Za-z0-9_-]{1,32}, got %q", k.ID)
		case seen[k.ID]:
			at.Addf(conf.Join(p, "id"), "duplicate key id %q", k.ID)
		}
		seen[k.ID] = true
		switch {
		case k.Secret != "" && k.SecretFile != "":
			at.Addf(p, "set one of secret or secret_file, not both")
		case k.Secret == "" && k.SecretFile == "":
			at.Addf(p, "one of secret or secret_file is required")
		case k.Secret != "" && len(k.Secret) < MinSecret:
			at.Addf(conf.Join(p, "secret"), "must be at least %d bytes, got %d", MinSecret, len(k.Secret))
		}
	}
}

// ReadSecret reads a secret file, trims surrounding whitespace (editors
// add a final newline) and checks its length. field names the setting in
// the error.
func ReadSecret(field, path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", field, err)
	}
	b = bytes.TrimSpace(b)
	if len(b) < MinSecret {
		return nil, fmt.Errorf("%s: %s holds %d bytes, need at least %d", field, path, len(b), MinSecret)
	}
	return b, nil
}

// ringKey shares one ring per distinct key set (ids and a hash of the
// secrets) in a gateway instance.
var ringKey = gateway.NewSharedKey[*Ring]("keyring")

// Shared returns the ring for keys, built once per gateway instance and
// per distinct key set, reading secret files now.
func Shared(env *gateway.Env, field string, keys []Key) (*Ring, error) {
	ids, secrets, err := Secrets(env.Config, field, keys)
	if err != nil {
		return nil, err
	}
	fp := sha256.New()
	for i, s := range secrets {
		fp.Write([]byte(ids[i]))
		fp.Write([]byte{0})
		fp.Write(s)
		fp.Write([]byte{0})
	}
	// The shared key names the ids and a hash of the secrets, never the
	// secrets themselves.
	name := strings.Join(ids, ",") + ":" + hex.EncodeToString(fp.Sum(nil)[:12])
	return gateway.Share(env, ringKey.With(name), func() (*Ring, error) { return New(ids, secrets) })
}

// Secrets reads the ids and secrets of keys, secret files relative to
// cfg's directory; field names the list in errors.
func Secrets(cfg *conf.Config, field string, keys []Key) ([]string, [][]byte, error) {
	ids := make([]string, len(keys))
	secrets := make([][]byte, len(keys))
	for i, k := range keys {
		s := []byte(k.Secret)
		if k.SecretFile != "" {
			var err error
			if s, err = ReadSecret(conf.Join(conf.Index(field, i), "secret_file"), cfg.Resolve(k.SecretFile)); err != nil {
				return nil, nil, err
			}
		}
		ids[i], secrets[i] = k.ID, s
	}
	return ids, secrets, nil
}

// Ring is an ordered set of keys: the first signs, all verify.
type Ring struct {
	keys []*Signer
}

// New builds a ring from parallel lists of ids and secrets.
func New(ids []string, secrets [][]byte) (*Ring, error) {
	if len(ids) == 0 || len(ids) != len(secrets) {
		return nil, errors.New("keyring: need one secret per key id")
	}
	r := &Ring{}
	for i, id := range ids {
		if len(id) == 0 || len(id) > MaxID {
			return nil, fmt.Errorf("keyring: bad key id %q", id)
		}
		r.keys = append(r.keys, newSigner(id, secrets[i]))
	}
	return r, nil
}

// Primary is the key that signs new tokens.
func (r *Ring) Primary() *Signer { return r.keys[0] }

// Keys lists every verifying key, primary first.
func (r *Ring) Keys() []*Signer { return r.keys }

// Lookup finds the key named id, or nil. Rings hold a handful of keys,
// so a scan beats a map and needs no string conversion.
func (r *Ring) Lookup(id []byte) *Signer {
	for _, k := range r.keys {
		if bytes.Equal(k.id, id) {
			return k
		}
	}
	return nil
}

// Signer computes HMAC-SHA256 with one key. hmac.New allocates and
// precomputes the padded key state, so states are pooled per key and
// reset rather than rebuilt per request.
type Signer struct {
	ID   string
	id   []byte
	fp   [sha256.Size]byte // of the secret, for Pair's check
	pool sync.Pool
}

type macState struct {
	h   hash.Hash
	sum [sha256.Size]byte
}

func newSigner(id string, secret []byte) *Signer {
	key := append([]byte(nil), secret...)
	s := &Signer{ID: id, id: []byte(id), fp: fingerprint(secret)}
	s.pool.New = func() any { return &macState{h: hmac.New(sha256.New, key)} }
	return s
}

// IDBytes is the key id as bytes, for writing into tokens.
func (s *Signer) IDBytes() []byte { return s.id }

// Sum writes HMAC-SHA256(prefix || msg) into out. Both slices are handed
// to the hash through an interface, so callers pass heap or pooled
// memory, never a stack array (it would escape and allocate).
func (s *Signer) Sum(out *[sha256.Size]byte, prefix, msg []byte) {
	m := s.pool.Get().(*macState)
	m.h.Reset()
	m.h.Write(prefix)
	m.h.Write(msg)
	copy(out[:], m.h.Sum(m.sum[:0]))
	s.pool.Put(m)
}
