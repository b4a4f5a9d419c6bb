package stock

// Replica acknowledgement of a Take (RedisOptions.WaitReplicas; README,
// "Durability"). Redis replicates asynchronously: a master that fails
// over can lose a write it already answered. With WaitReplicas > 0 the
// script that takes a unit (take.lua, borrow.lua) is followed by
// WAIT <replicas> <timeout> on the same connection, and a unit too few
// replicas acknowledged in time is given back before anyone is told of
// it: the Take fails closed (ErrUnavailable, the busy page), unless a
// forwarder already claimed its queued order, which then stays sold.
//
// A forwarder claims an order only once its admission is replicated
// (Check, replicated below), so that a claimed order, which the Take's
// give-back leaves alone and the backend receives, is never one a
// failover can take back.

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"strconv"
	"time"

	"github.com/redis/rueidis"
)

// waited is a script that WAIT may follow. WAIT counts the replicas that
// acknowledged the last write of its own connection, so the script and
// WAIT go in one DoMulti: rueidis sends a batch holding a blocking command
// (WAIT is one) on one connection of its blocking pool, in order, and a
// cluster client sends a keyless command with the keyed ones to their
// slot's master. rueidis.Lua keeps its SHA-1 to itself, hence our own.
type waited struct {
	lua *rueidis.Lua
	src string
	sha string
}

func newWaited(l *rueidis.Lua, src string) waited {
	sum := sha1.Sum([]byte(src))
	return waited{lua: l, src: src, sha: hex.EncodeToString(sum[:])}
}

var (
	takeWaited   = newWaited(takeScript, takeSrc)
	borrowWaited = newWaited(borrowScript, borrowSrc)
)

var (
	errUnreplicated = errors.New("stock: fewer replicas than wait_replicas acknowledged the take in time")
	// errUnreplicatedTake is a Take whose unit was given back (or never
	// held): nothing is left for abandon.lua to settle.
	errUnreplicatedTake = &unavailableError{op: "take", cause: errUnreplicated}
)

// admit runs an admitting script. Without WaitReplicas it is call. With
// it, WAIT follows on the same connection, and short reports that fewer
// replicas than asked acknowledged the script's write within WaitTimeout
// (or that WAIT failed, as it does on a node that is no longer a master).
// On NOSCRIPT both go again with EVAL; the first WAIT, behind a script
// that wrote nothing, is wasted (at most WaitTimeout, once per node).
func (r *RedisStore) admit(ctx context.Context, op string, s waited, keys, args []string) (v int64, short bool, err error) {
	if r.waitReplicas == 0 {
		v, err = call(ctx, r.c, op, s.lua, keys, args)
		return v, false, err
	}
	c := r.c
	wait := func() rueidis.Completed {
		return c.B().Wait().Numreplicas(r.waitReplicas).Timeout(r.waitMS).Build()
	}
	res := c.DoMulti(ctx, c.B().Evalsha().Sha1(s.sha).Numkeys(int64(len(keys))).Key(keys...).Arg(args...).Build(), wait())
	if e, ok := rueidis.IsRedisErr(res[0].Error()); ok && e.IsNoScript() {
		res = c.DoMulti(ctx, c.B().Eval().Script(s.src).Numkeys(int64(len(keys))).Key(keys...).Arg(args...).Build(), wait())
	}
	if v, err = res[0].AsInt64(); err != nil {
		return 0, false, unavailable(op, err)
	}
	acks, err := res[1].AsInt64()
	return v, err != nil || acks < r.waitReplicas, nil
}

// unreplicated gives back the unit of d, which too few replicas
// acknowledged: a failover could lose it after the caller was told, and
// in sync mode, where the order is already at the backend, sell it twice.
// The give-back is an abandoned Take's (retract with the attempt, then the
// unit): if a forwarder claimed the order first, its delivery is under way
// and d stands. An error leaves the rest to abandon.lua (complete queues
// it).
func (r *RedisStore) unreplicated(ctx context.Context, a *redisAct, h int, d Decision, u, attempt string) (Decision, error) {
	r.stats.unreplicated.Add(1)
	_, n := splitSeq(d.Seq)
	ns := strconv.FormatInt(n, 10)
	code, err := r.retract(ctx, a, h, ns, u, attempt)
	switch {
	case err != nil:
		return Decision{}, err
	case code == claimed:
		return d, nil
	case code != retracted: // gone, or another load: nothing held
		return Decision{}, errUnreplicatedTake
	}
	if _, err := r.returnUnit(ctx, a, h, d.Shard, orderID(n, u), ns, u); err != nil {
		return Decision{}, err
	}
	return Decision{}, errUnreplicatedTake
}

// replicated is Check's probe with WaitReplicas: on the shard whose
// Stream holds the order (t) and on the home shard (h), a write of the
// probe key <tag>:w followed by WAIT on the same connection. Replicas
// apply a master's writes in order, so enough acknowledgements of the
// probe mean enough of every earlier write there: the order's admission
// (take.lua on h, or borrow.lua on t, which the forwarder read before)
// and its settle. ok false means not yet: the Take's own WAIT may still
// fail and give the unit back, which claim.lua then reports.
func (r *RedisStore) replicated(ctx context.Context, a *redisAct, t, h int) (bool, error) {
	for i, s := range [2]int{t, h} {
		if i == 1 && s == t {
			break
		}
		c := r.bg
		cctx, cancel := context.WithTimeout(ctx, r.timeout)
		res := c.DoMulti(cctx,
			c.B().Set().Key(shardTag(r.prefix, a.name, s)+":w").Value("1").Px(probeTTL).Build(),
			c.B().Wait().Numreplicas(r.waitReplicas).Timeout(r.waitMS).Build())
		cancel()
		if err := res[0].Error(); err != nil {
			return false, unavailable("probe", err)
		}
		if acks, err := res[1].AsInt64(); err != nil || acks < r.waitReplicas {
			return false, nil
		}
	}
	return true, nil
}

// probeTTL keeps the probe key from outliving the sale by much.
const probeTTL = time.Hour
