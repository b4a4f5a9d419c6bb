package stock

// Warm on the Redis store: what a load writes and in which order is in
// doc.go (# Warm); the lease that keeps two Warms of one activity apart is
// in warmlease.go.

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/rueidis"
)

// metaSpec is an activity's meta key: the spec of its last load.
type metaSpec struct {
	spec    Spec
	version int64
	// forced: the load at version was forced, so finishing it (a Warm
	// that died half-way) resets what it meets, as the forced Warm would.
	forced bool
	// drop is the shard count of the load before, when it had more
	// shards: the shards from spec.Shards up to drop are deleted by the
	// Warm that loaded version, or, if it failed, by the next one.
	drop int
}

// readMeta reads activity's meta key; ok is false when it is not loaded.
func (r *RedisStore) readMeta(ctx context.Context, activity string) (m metaSpec, ok bool, err error) {
	cctx, cancel := context.WithTimeout(ctx, r.timeout)
	f, err := r.bg.Do(cctx, r.bg.B().Hgetall().Key(metaKey(r.prefix, activity)).Build()).AsStrMap()
	cancel()
	if err != nil {
		return m, false, unavailable("read spec", err)
	}
	m.spec.Activity = activity
	m.spec.Stock, _ = strconv.ParseInt(f["stock"], 10, 64)
	m.spec.Shards, _ = strconv.Atoi(f["shards"])
	m.spec.PerUser, _ = strconv.ParseInt(f["per_user"], 10, 64)
	m.version, _ = strconv.ParseInt(f["version"], 10, 64)
	payMS, _ := strconv.ParseInt(f["pay_within"], 10, 64)
	m.spec.PayWithin = time.Duration(payMS) * time.Millisecond
	m.forced = f["forced"] == "1"
	m.drop, _ = strconv.Atoi(f["drop"])
	m.drop = min(m.drop, MaxShards)
	return m, m.version > 0 && m.spec.Shards >= 1 && m.spec.Shards <= MaxShards, nil
}

func (r *RedisStore) Warm(ctx context.Context, s Spec, force bool) error {
	if err := s.Validate(); err != nil {
		return err
	}
	token, err := r.takeLease(ctx, s.Activity)
	if err != nil {
		return err
	}
	defer r.giveLease(s.Activity, token)
	ctx, cancel := context.WithTimeout(ctx, warmFor)
	defer cancel()
	return r.warm(ctx, s, force, token)
}

// warm is Warm's work, under the lease token (warmlease.go).
func (r *RedisStore) warm(ctx context.Context, s Spec, force bool, token string) error {
	r.sweepAlso(s.Activity)
	old, loaded, err := r.readMeta(ctx, s.Activity)
	if err != nil {
		return err
	}
	if loaded && !force && old.drop > old.spec.Shards {
		// The Warm that loaded it did not finish deleting the shards its
		// load no longer uses: finish that first. (A forced Warm deletes
		// them itself, after its load.) A shard at the meta key's version
		// or newer is kept: the meta key is behind its shards.
		kept, err := r.dropShards(ctx, old, token)
		if err != nil {
			return err
		}
		if kept >= 0 {
			return r.behindError(ctx, s.Activity, token, kept)
		}
	}
	if loaded && !force && old.spec.sameStock(s) && old.spec.PayWithin != s.PayWithin {
		// pay_within changes in place, on a running sale too: the sync
		// loops of every instance read it again within SyncInterval.
		if err := r.setPayWithinLeased(ctx, s, token); err != nil {
			return err
		}
		old.spec.PayWithin = s.PayWithin
	}
	if loaded && !force {
		behind, frozen, sold, err := r.inspect(ctx, old)
		if err != nil {
			return err
		}
		if frozen && sold {
			// A freeze whose Warm found the sale sold: that Warm does not
			// load (nothing sells or settles while frozen, so it saw what
			// this one sees) and thaws, unless its thaw failed. Undo it,
			// whatever this Warm's spec, so the sale sells again. A freeze
			// of an unsold sale is never thawed here: its Warm may be about
			// to replace it, and a sale at the old version between would
			// be wiped by that load.
			if err := r.thaw(ctx, old); err != nil {
				return err
			}
			if behind, frozen, sold, err = r.inspect(ctx, old); err != nil {
				return err
			}
		}
		switch {
		case old.spec == s && len(behind) == 0:
			return nil
		case old.spec == s && !frozen:
			// A Warm died half-way. Finish it at its version, loading only
			// the shards it did not reach: the others may already sell,
			// and reloading them would sell their units again. A forced
			// one is finished as forced: it resets what it meets.
			r.step("resuming")
			superseded, err := r.loadShards(ctx, s, old.version, behind, old.forced)
			if err != nil {
				return err
			}
			if superseded >= 0 {
				return r.behindError(ctx, s.Activity, token, superseded)
			}
			return r.announce(ctx, s.Activity, old.version)
		case sold:
			return ErrExists
		}
		// A different spec on an unsold activity, or an unsold one another
		// Warm froze (replacing it now, or dead half-way: it replaces it,
		// and so does this one, each at a newer version; versions only move
		// forward, so the last wins): freeze its shards so no
		// Take can admit between the check and the load, check again, and
		// only then replace it.
		if err := r.swapVersion(ctx, old, old.version, -old.version); err != nil {
			return err
		}
		_, _, sold, err = r.inspect(ctx, old)
		if err != nil {
			// Not thawed: another Warm may count on this freeze (its own
			// made this one's a no-op). The next Warm resolves it: sold,
			// it thaws; unsold, it replaces the sale.
			return fmt.Errorf("%w (the sale stays frozen, selling nothing, until the next warm)", err)
		}
		if sold {
			// Every Warm that froze it sees it sold too (nothing sells
			// while frozen): none loads, so thawing is safe.
			if err := r.thaw(ctx, old); err != nil {
				return err
			}
			return ErrExists
		}
	}
	r.step("checked")
	next := metaSpec{spec: s, forced: force}
	span := MaxShards // the meta key is gone: any shard may hold a load
	if loaded {
		span = max(s.Shards, old.spec.Shards, old.drop) // every shard a load named
	}
	floor, extent, err := r.highestVersion(ctx, s.Activity, span)
	if err != nil {
		return err
	}
	if !loaded && floor > 0 && !force {
		return fmt.Errorf("%w: its shards hold a load (version %d) but its meta key is gone (evicted, deleted, or lost to a failover); warm with force to reset the sale", ErrExists, floor)
	}
	if extent > s.Shards {
		next.drop = extent
	}
	if next.version, err = r.newVersion(ctx, next, floor, token); err != nil {
		return err
	}
	r.step("versioned")
	// Shard 0 first: every load has one, so a newer Warm's has loaded it,
	// and this Warm stops there (with its lease checked) before it loads
	// shards that a newer, smaller load does not name.
	superseded, err := r.loadShards(ctx, s, next.version, []int{0}, force)
	if err != nil {
		return err
	}
	if superseded < 0 && !r.holdsLease(ctx, s.Activity, token) {
		superseded = 0
	}
	if superseded < 0 && s.Shards > 1 {
		rest := make([]int, s.Shards-1)
		for i := range rest {
			rest[i] = i + 1
		}
		if superseded, err = r.loadShards(ctx, s, next.version, rest, force); err != nil {
			return err
		}
	}
	if superseded >= 0 {
		// Its version is above every shard's when it was allocated: a
		// shard at it or newer was loaded by a Warm that ran since.
		return &lostLeaseError{activity: s.Activity, what: fmt.Sprintf("shard %d already holds a newer load; this warm stopped there", superseded)}
	}
	r.step("loaded")
	if err := r.announce(ctx, s.Activity, next.version); err != nil {
		return err
	}
	// After the announce: the instances move to the new spec, which names
	// none of these shards any more.
	kept, err := r.dropShards(ctx, next, token)
	if err == nil && kept >= 0 {
		err = &lostLeaseError{activity: s.Activity, what: fmt.Sprintf("shard %d holds a newer load and was kept", kept)}
	}
	return err
}

// behindError explains a shard found at a newer load than the meta key
// names: this Warm lost its lease (a newer Warm ran), or, holding it, the
// meta key lost its last writes (restored, or a failover) while the
// shards kept theirs, and only a forced Warm resets the sale.
func (r *RedisStore) behindError(ctx context.Context, activity, token string, shard int) error {
	if !r.holdsLease(ctx, activity, token) {
		return &lostLeaseError{activity: activity, what: fmt.Sprintf("shard %d holds a newer load; this warm stopped there", shard)}
	}
	return fmt.Errorf("%w: shard %d holds a newer load than the meta key names (the meta key lost its last writes: restored, or a failover); check the sale, then warm with force to reset it", ErrExists, shard)
}

// highestVersion is the highest version (loaded, or frozen at -version)
// that any of activity's first n shards holds, and extent, one past the
// last of them holding state. A new version is always above it, so it
// never repeats one, even when the meta key's counter was lost (evicted,
// deleted, or not yet replicated when a master failed over).
func (r *RedisStore) highestVersion(ctx context.Context, activity string, n int) (top int64, extent int, err error) {
	cmds := make(rueidis.Commands, n)
	for i := range cmds {
		cmds[i] = r.c.B().Hget().Key(shardKeys(r.prefix, activity, i)[kState]).Field("v").Build()
	}
	res, err := r.doMulti(ctx, "warm", cmds)
	if err != nil {
		return 0, 0, err
	}
	for i, x := range res {
		if v, err := x.AsInt64(); err == nil {
			top, extent = max(top, v, -v), i+1
		}
	}
	return top, extent, nil
}

// newVersion allocates the version of m's load and records m on the meta
// key (meta.lua), if this Warm still holds the lease.
// versionEpoch is where load versions' clock floor counts from, in Unix
// seconds (2026-01-01T00:00:00Z; meta.lua has the same number).
const versionEpoch = 1767225600

// maxClockVersion caps the clock floor (about the year 2060): a version
// must stay below 2^31 for seq = version << 32 | n to fit an int64, and a
// clock set far ahead must not push it there.
const maxClockVersion = 1 << 30

// clockVersion is the version floor of a load made at t: the seconds
// since versionEpoch, 0 before it or past maxClockVersion.
func clockVersion(t time.Time) int64 {
	v := t.Unix() - versionEpoch
	if v < 0 || v > maxClockVersion {
		return 0
	}
	return v
}

func (r *RedisStore) newVersion(ctx context.Context, m metaSpec, floor int64, token string) (int64, error) {
	s, forced := m.spec, "0"
	if m.forced {
		forced = "1"
	}
	// The caller's clock is a floor too (meta.lua adds Redis's): a
	// version repeats after a loss only if both clocks went back.
	floor = max(floor, clockVersion(r.now()))
	cctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	v, err := metaScript.Exec(cctx, r.bg, []string{metaKey(r.prefix, s.Activity), warmKey(r.prefix, s.Activity)}, []string{
		strconv.FormatInt(s.Stock, 10), strconv.Itoa(s.Shards), strconv.FormatInt(s.PerUser, 10),
		strconv.FormatInt(s.PayWithin.Milliseconds(), 10), token, strconv.FormatInt(floor, 10), forced, strconv.Itoa(m.drop),
	}).AsInt64()
	switch {
	case err != nil:
		return 0, unavailable("warm", err)
	case v < 0:
		return 0, &lostLeaseError{activity: s.Activity, what: "nothing was loaded"}
	}
	return v, nil
}

// loadShards runs load.lua at version on each of shards. Without force, a
// shard that sold in the version it holds is kept, and the Warm fails
// with ErrExists: a Warm only replaces a sale it found unsold, so the
// shard was loaded and sold by another Warm (this one lost its lease) or
// belongs to a sale whose meta key was lost; loading over it would sell
// its units again. superseded is the first shard that already held this
// or a newer version (nothing done there), or -1.
func (r *RedisStore) loadShards(ctx context.Context, s Spec, version int64, shards []int, force bool) (superseded int, err error) {
	ver, pu, n := strconv.FormatInt(version, 10), strconv.FormatInt(s.PerUser, 10), strconv.Itoa(s.Shards)
	f := "0"
	if force {
		f = "1"
	}
	multi := make([]rueidis.LuaExec, len(shards))
	for j, i := range shards {
		multi[j] = rueidis.LuaExec{
			Keys: shardKeys(r.prefix, s.Activity, i),
			Args: []string{ver, pu, n, strconv.FormatInt(share(s.Stock, s.Shards, i), 10), r.channel, stockMsg(s.Activity, i), f},
		}
	}
	res, err := r.execMulti(ctx, "warm", loadScript, multi)
	if err != nil {
		return -1, err
	}
	superseded = -1
	for j, v := range res {
		switch {
		case v == loadKeptSold:
			return -1, fmt.Errorf("%w: shard %d had sold under another load and was kept (a warm that lost its lease ran meanwhile, or the sale's meta key was lost); warm with force to reset the sale", ErrExists, shards[j])
		case v == 0 && superseded < 0:
			superseded = shards[j]
		}
	}
	return superseded, nil
}

// loadKeptSold is load.lua's reply for a shard it kept because it sold.
const loadKeptSold = 2

// dropShards deletes the shards m's load no longer uses (m.spec.Shards up
// to m.drop), then clears the pending drop on the meta key. drop.lua keeps
// a shard at m's version or newer, which no drop of m may delete: kept is
// the first such shard, or -1.
func (r *RedisStore) dropShards(ctx context.Context, m metaSpec, token string) (kept int, err error) {
	if m.drop <= m.spec.Shards {
		return -1, nil
	}
	ver := strconv.FormatInt(m.version, 10)
	multi := make([]rueidis.LuaExec, 0, m.drop-m.spec.Shards)
	for i := m.spec.Shards; i < m.drop; i++ {
		multi = append(multi, rueidis.LuaExec{Keys: shardKeys(r.prefix, m.spec.Activity, i), Args: []string{ver}})
	}
	res, err := r.execMulti(ctx, "warm", dropScript, multi)
	if err != nil {
		return -1, err
	}
	for j, deleted := range res {
		if deleted == 0 {
			return m.spec.Shards + j, nil
		}
	}
	cctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	held, err := dropDoneScript.Exec(cctx, r.bg, []string{metaKey(r.prefix, m.spec.Activity), warmKey(r.prefix, m.spec.Activity)},
		[]string{token, ver}).AsInt64()
	switch {
	case err != nil:
		return -1, unavailable("warm", err)
	case held == 0:
		return -1, &lostLeaseError{activity: m.spec.Activity, what: "its old shards are deleted; the pending delete was left on the meta key"}
	}
	return -1, nil
}

// setPayWithinLeased is setPayWithin for a Warm: written only while the
// Warm holds its lease, so a stalled one cannot change a newer sale's.
func (r *RedisStore) setPayWithinLeased(ctx context.Context, s Spec, token string) error {
	cctx, cancel := context.WithTimeout(ctx, r.timeout)
	ok, err := payLeasedScript.Exec(cctx, r.bg, []string{metaKey(r.prefix, s.Activity), warmKey(r.prefix, s.Activity)},
		[]string{strconv.FormatInt(s.PayWithin.Milliseconds(), 10), token}).AsInt64()
	cancel()
	switch {
	case err != nil:
		return unavailable("warm", err)
	case ok != 1:
		return &lostLeaseError{activity: s.Activity, what: "pay_within was not changed"}
	}
	r.drop(s.Activity)
	return nil
}

// step marks a point in Warm for tests that interleave two of them.
func (r *RedisStore) step(name string) {
	if r.warmStep != nil {
		r.warmStep(name)
	}
}

// announce drops the local spec and tells every instance to do the same.
func (r *RedisStore) announce(ctx context.Context, activity string, version int64) error {
	r.drop(activity)
	cctx, cancel := context.WithTimeout(ctx, r.timeout)
	err := r.bg.Do(cctx, r.bg.B().Publish().Channel(r.channel).Message(loadMsg(activity, version)).Build()).Error()
	cancel()
	if err != nil {
		return unavailable("warm", err)
	}
	return nil
}
