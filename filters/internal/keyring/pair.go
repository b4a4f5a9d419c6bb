package keyring

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/flashgate/flashgate/conf"
	"github.com/flashgate/flashgate/gateway"
)

// What each kind of signature is called in an error.
var pairNames = map[string]string{"hidden_path": "purchase path", "order_token": "order token"}

// pairs are the signers and verifiers of one kind of signature in one
// gateway instance: the endpoint that issues hidden purchase paths and
// the hidden_path filters, the token endpoint and the order_token
// filters. Routes are built one after another, so no lock.
type pairs struct {
	kind string
	uses []pairUse
}

type pairUse struct {
	path  string          // the keys' YAML path
	signs bool            // an endpoint that signs, else a filter that verifies
	acts  map[string]bool // the activities its route expands to
	ring  *Ring
}

var pairsKey = gateway.NewSharedKey[*pairs]("keyring-pairs")

// Pair records that the entry being built signs (signs true) or verifies
// with ring the signatures kind names ("hidden_path", "order_token"), for
// the activities its route expands to; field names its keys, as for
// Shared. Once every route is built, each signer's signing key (its
// first) must be one that every verifier of the same kind on a shared
// activity holds, same id and secret: otherwise every path or token it
// issues would be refused and the sale would sell nothing, a mistake
// "flashgate check" reports instead.
func Pair(env *gateway.Env, field, kind string, signs bool, ring *Ring) error {
	p, err := gateway.Share(env, pairsKey.With(kind), func() (*pairs, error) {
		p := &pairs{kind: kind}
		env.AfterBuild(p.check)
		return p, nil
	})
	if err != nil {
		return err
	}
	acts := make(map[string]bool, len(env.Activities))
	for _, a := range env.Activities {
		acts[a.ID] = true
	}
	p.uses = append(p.uses, pairUse{path: conf.Join(env.Path, field), signs: signs, acts: acts, ring: ring})
	return nil
}

func (p *pairs) check() error {
	var errs []error
	for _, s := range p.uses {
		if !s.signs {
			continue
		}
		k := s.ring.Primary()
		for _, v := range p.uses {
			if v.signs {
				continue
			}
			shared := sharedActivities(s.acts, v.acts)
			if len(shared) == 0 {
				continue
			}
			if vk := v.ring.Lookup(k.id); vk == nil || vk.fp != k.fp {
				errs = append(errs, fmt.Errorf("%s: signs with key %q, which the %s filter's keys at %s do not hold with the same secret (activities %s): every %s it issues would be refused; list the same keys in both (a YAML anchor)",
					s.path, k.ID, p.kind, v.path, strings.Join(shared, ", "), pairNames[p.kind]))
			}
		}
	}
	return errors.Join(errs...)
}

// sharedActivities lists the ids in both sets, sorted for a stable error.
func sharedActivities(a, b map[string]bool) []string {
	var out []string
	for id := range a {
		if b[id] {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}

// fingerprint identifies a secret without keeping it outside the MAC
// state: two keys with one id verify each other's tags only when their
// fingerprints match.
func fingerprint(secret []byte) [sha256.Size]byte { return sha256.Sum256(secret) }
