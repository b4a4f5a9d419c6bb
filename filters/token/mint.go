package token

import (
	"crypto/rand"
	"errors"
	"fmt"
	"time"

	"github.com/flashgate/flashgate/conf"
	"github.com/flashgate/flashgate/filters/internal/keyring"
)

// Minter signs order tokens offline with the keys of a config's
// order_token filter, byte for byte as the endpoint issues them. Load
// tests use it (bench/) to hand a crowd of distinct users valid tokens
// ahead of a run, so that a purchase storm measures the gate and not
// token issue. It is not safe for concurrent use.
type Minter struct {
	signer *keyring.Signer
	sc     scratch
	nonce  [nonceLen]byte
}

// MinterFor returns a minter for the first order_token filter of the
// route named route in cfg, reading its secret files.
func MinterFor(cfg *conf.Config, route string) (*Minter, error) {
	for _, r := range cfg.Routes {
		if r.Name != route {
			continue
		}
		for _, entry := range r.Filters {
			c, found := entry.Settings.(*Config)
			if !found {
				continue
			}
			path := entry.Path
			ids, secrets, err := keyring.Secrets(cfg, path+".keys", c.Keys)
			if err != nil {
				return nil, err
			}
			ring, err := keyring.New(ids, secrets)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", path, err)
			}
			return &Minter{signer: ring.Primary()}, nil
		}
		return nil, fmt.Errorf("route %q has no order_token filter", route)
	}
	return nil, fmt.Errorf("no route named %q", route)
}

var errMintArgs = errors.New("user must be 1..128 bytes and activity 1..64")

// Append appends the text of a token for user and activity, issued at
// issued, to dst. A token issued in the future counts as too young until
// issued + min_age: that is how a load test makes young tokens that stay
// young for the whole run.
func (m *Minter) Append(dst []byte, issued time.Time, user, activity []byte) ([]byte, error) {
	_, _ = rand.Read(m.nonce[:]) // never fails since Go 1.24
	out, good := appendToken(dst, m.sc.bin[:], m.signer, issued.UnixMilli(), m.nonce[:], user, activity, &m.sc.sum)
	if !good {
		return dst, errMintArgs
	}
	return out, nil
}
