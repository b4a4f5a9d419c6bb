package ratelimit

import (
	"net/netip"

	"github.com/flashgate/flashgate/gateway"
)

// scope is what a bucket counts.
type scope uint8

const (
	scopeGlobal scope = iota
	scopeRoute
	scopeIP
	scopeUser
	scopeItem
)

var scopeByName = map[string]scope{
	"global": scopeGlobal, "route": scopeRoute, "ip": scopeIP, "user": scopeUser, "item": scopeItem,
}

var scopeNames = [...]string{"global", "route", "ip", "user", "item"}

func (s scope) String() string { return scopeNames[s] }

// keyBufLen fits every local key (1 + 16 bytes) and user ids up to 150
// bytes, on the stack; a longer id still works, through one allocation.
const keyBufLen = 160

// table holds the buckets of one limiter, in the cheapest structure its
// scope allows: one slot for global and route, a slice indexed by
// Activity.Index for item, a sharded map for ip and user.
type table struct {
	scope scope
	one   paddedSlot
	items []paddedSlot
	keys  *keyStore
}

func newTable(s scope, activities, maxKeys int) *table {
	t := &table{scope: s}
	switch s {
	case scopeItem:
		t.items = make([]paddedSlot, activities)
	case scopeIP, scopeUser:
		t.keys = newKeyStore(maxKeys)
	}
	return t
}

// fixed returns the bucket of a scope that needs no key, or nil. An item
// request without an activity (not expected: Build requires {activity})
// gets no bucket and passes.
func (t *table) fixed(r *gateway.Request) (s *slot, keyed bool) {
	switch t.scope {
	case scopeGlobal, scopeRoute:
		return &t.one.slot, false
	case scopeItem:
		if a := r.Activity; a != nil && a.Index < len(t.items) {
			return &t.items[a.Index].slot, false
		}
		return nil, false
	}
	return nil, true
}

// take runs GCRA for the request's bucket: 0 when admitted, else the ns
// to wait.
func (t *table) take(r *gateway.Request, g gcra, c *clock, buf []byte) int64 {
	s, keyed := t.fixed(r)
	if keyed {
		return t.keys.take(localKey(t.scope, r, buf), g, c)
	}
	if s == nil {
		return 0
	}
	wait, _ := g.take(&s.v, c) // fixed slots are never evicted
	return wait
}

// until reads the over-limit mark of the request's bucket.
func (t *table) until(r *gateway.Request, buf []byte) int64 {
	s, keyed := t.fixed(r)
	if keyed {
		return t.keys.until(localKey(t.scope, r, buf))
	}
	if s == nil {
		return 0
	}
	return s.v.Load()
}

// raise marks the request's bucket over its limit until until.
func (t *table) raise(r *gateway.Request, until int64, buf []byte) {
	s, keyed := t.fixed(r)
	if keyed {
		t.keys.raise(localKey(t.scope, r, buf), until)
		return
	}
	if s != nil {
		raise(&s.v, until)
	}
}

// sweep drops idle keys; tables without keys have nothing to drop.
func (t *table) sweep(now int64) {
	if t.keys != nil {
		t.keys.sweep(now)
	}
}

// localKey is 'u' + user id for a known user under the user scope, else
// 'i' + the 16-byte address, appended to buf.
func localKey(s scope, r *gateway.Request, buf []byte) []byte {
	if s == scopeUser && len(r.User) > 0 {
		return append(append(buf, 'u'), r.User...)
	}
	a := limitAddr(r.IP).As16()
	return append(append(buf, 'i'), a[:]...)
}

// limitAddr is the address a per-IP bucket counts. An IPv6 client is
// counted by its /64, the smallest block a site is given: otherwise one
// client could spread its requests over 2^64 addresses and buckets.
func limitAddr(a netip.Addr) netip.Addr {
	if a.Is6() && !a.Is4In6() {
		p, _ := a.Prefix(64)
		return p.Addr()
	}
	return a
}

// redisKey is the distributed bucket of the request:
// <prefix>rl:{<scope>:<key>}[:<name>]. The hash tag holds the key, so a
// cluster spreads IPs and users over its masters. An anonymous request
// under the user scope is counted as "user-ip", which no user id can
// collide with.
func redisKey(head []byte, s scope, r *gateway.Request, tail string, buf []byte) []byte {
	b := append(buf, head...)
	switch s {
	case scopeGlobal:
		b = append(b, "global"...)
	case scopeRoute:
		b = append(b, "route"...)
	case scopeItem:
		b = append(b, "item:"...)
		if r.Activity != nil {
			b = append(b, r.Activity.IDBytes...)
		}
	case scopeUser:
		if len(r.User) > 0 {
			b = append(append(b, "user:"...), r.User...)
			break
		}
		b = appendIP(append(b, "user-ip:"...), r.IP)
	case scopeIP:
		b = appendIP(append(b, "ip:"...), r.IP)
	}
	return append(b, tail...)
}

func appendIP(b []byte, a netip.Addr) []byte {
	if !a.IsValid() {
		return append(b, '-')
	}
	return limitAddr(a).AppendTo(b)
}
