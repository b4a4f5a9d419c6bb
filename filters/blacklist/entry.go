package blacklist

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/flashgate/flashgate/filters/internal/userset"
	"github.com/flashgate/flashgate/internal/userid"
)

// entry is one blacklist line: a user id, or an address range (a single
// IP is a /32 or /128).
type entry struct {
	user   string
	prefix netip.Prefix
}

func (e entry) isUser() bool { return e.user != "" }

// String is the canonical form stored in Redis: the user id, the address
// without IPv4-in-IPv6 mapping, or the masked CIDR.
func (e entry) String() string {
	if e.isUser() {
		return e.user
	}
	if e.prefix.IsSingleIP() {
		return e.prefix.Addr().String()
	}
	return e.prefix.String()
}

// parseEntry reads one entry. Anything that parses as an IP address or a
// CIDR is an address entry (so "10.0.0.1" blocks that address, not a user
// of that name); anything else must be a user id.
func parseEntry(s string) (entry, error) {
	if strings.IndexByte(s, '/') >= 0 {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return entry{}, fmt.Errorf("%q is not a valid CIDR", s)
		}
		a, bits := p.Addr(), p.Bits()
		if a.Is4In6() && bits >= 96 {
			a, bits = a.Unmap(), bits-96
		}
		return entry{prefix: netip.PrefixFrom(a, bits).Masked()}, nil
	}
	if a, err := netip.ParseAddr(s); err == nil {
		if a.Zone() != "" {
			return entry{}, fmt.Errorf("%q: an address with a zone cannot be matched", s)
		}
		a = a.Unmap()
		return entry{prefix: netip.PrefixFrom(a, a.BitLen())}, nil
	}
	if !userid.Valid(s) {
		return entry{}, fmt.Errorf("%q is not a user id ([A-Za-z0-9_.@:-]{1,128}), an IP address or a CIDR", s)
	}
	return entry{user: s}, nil
}

// parseLine reads one line of a blacklist file: ok is false for a blank
// or comment-only line.
func parseLine(line string) (e entry, ok bool, err error) {
	s := userset.Entry(line)
	if s == "" {
		return entry{}, false, nil
	}
	e, err = parseEntry(s)
	return e, err == nil, err
}

// snapshot is an immutable copy of a blacklist that the request path
// reads without locks.
type snapshot struct {
	users   map[string]struct{}
	v4, v6  prefixes
	invalid []string // Redis members that are not entries, skipped
}

// prefixes finds the ranges that contain an address without allocating:
// for each prefix length present, longest first, mask the address to that
// length and look the result up. A list has few distinct lengths. IPv4
// ranges are keyed by one integer (length and masked address), which
// hashes several times faster than a netip.Prefix.
type prefixes struct {
	bits []int
	v4   map[uint64]struct{}
	v6   map[netip.Prefix]struct{}
}

func key4(a netip.Addr, bits int) uint64 {
	b := a.As4()
	u := uint64(binary.BigEndian.Uint32(b[:]))
	if bits < 32 {
		u &^= 1<<(32-bits) - 1
	}
	return uint64(bits)<<32 | u
}

func (p *prefixes) add(x netip.Prefix) {
	if x.Addr().Is4() {
		if p.v4 == nil {
			p.v4 = map[uint64]struct{}{}
		}
		p.v4[key4(x.Addr(), x.Bits())] = struct{}{}
	} else {
		if p.v6 == nil {
			p.v6 = map[netip.Prefix]struct{}{}
		}
		p.v6[x] = struct{}{}
	}
	i, found := slices.BinarySearchFunc(p.bits, x.Bits(), func(have, want int) int { return want - have })
	if !found {
		p.bits = slices.Insert(p.bits, i, x.Bits())
	}
}

func (p *prefixes) has(a netip.Addr) bool {
	if a.Is4() {
		for _, b := range p.bits {
			if _, ok := p.v4[key4(a, b)]; ok {
				return true
			}
		}
		return false
	}
	for _, b := range p.bits {
		q, _ := a.Prefix(b)
		if _, ok := p.v6[q]; ok {
			return true
		}
	}
	return false
}

// build makes a snapshot from file entries and Redis members. A member
// that is not an entry (written to Redis by hand) is skipped and kept in
// invalid for the log.
func build(entries []string) *snapshot {
	s := &snapshot{users: make(map[string]struct{}, len(entries))}
	for _, raw := range entries {
		e, err := parseEntry(raw)
		switch {
		case err != nil:
			s.invalid = append(s.invalid, raw)
		case e.isUser():
			s.users[e.user] = struct{}{}
		case e.prefix.Addr().Is4():
			s.v4.add(e.prefix)
		default:
			s.v6.add(e.prefix)
		}
	}
	return s
}

// hasUser reports whether the user id is listed; it allocates nothing.
func (s *snapshot) hasUser(user []byte) bool {
	_, ok := s.users[string(user)]
	return ok
}

// hasIP reports whether an entry covers the address.
func (s *snapshot) hasIP(a netip.Addr) bool {
	if !a.IsValid() {
		return false
	}
	a = a.Unmap()
	if a.Is4() {
		return s.v4.has(a)
	}
	return s.v6.has(a)
}
