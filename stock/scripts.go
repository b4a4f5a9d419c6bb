package stock

import (
	_ "embed"
	"strconv"
	"strings"

	"github.com/redis/rueidis"

	"github.com/flashgate/flashgate/internal/redisfence"
)

// Every shard script takes the same four keys, all under the shard's hash
// tag, so one precomputed slice per shard serves every call and no script
// can reach a second slot. Everything take.lua reads and writes lives in
// the state hash, so that the hot script makes two Redis calls (see
// lua/take.lua for the layout and its measured cost).
const (
	kState  = iota // HASH v, pu, n, s (units left), t (units topped up), f (live fences), a (admitted yet), u<user> ledger records, o<id> order records
	kPend          // ZSET n:user, score = ms when the home shard was empty
	kFence         // ZSET attempts given up before take.lua ran, score = ms
	kOrders        // STREAM orders admitted in async mode: one field per entry, the order id (n:user) -> the order
	kDue           // ZSET pay_within: n:user, score = deadline ms; xn:user, score 0, while a borrowed unit's release is under way
	numKeys
)

// syncKeys is how many keys a sync-mode take.lua gets: all but the Stream.
const syncKeys = kOrders

var keySuffixes = [numKeys]string{":s", ":pend", ":fence", ":orders", ":due"}

// Reply codes shared by the shard scripts (see each .lua header).
const (
	codeAdmitted  = 1
	codeLimit     = 2
	codeBorrow    = 3
	codeEmpty     = 4
	codeNotLoaded = 5
	codeStale     = 6
	codeFenced    = 7 // borrow.lua: reconciled; take.lua: attempt abandoned
)

// Replies of abandon.lua (the first element of its array).
const (
	abandonDone    = 0 // fenced before take.lua ran, or nothing left to undo
	abandonHeld    = 1 // {1, id, t}: the attempt holds a unit on shard t
	abandonPending = 3 // {3, id}: the attempt's borrow is unresolved
)

var (
	//go:embed lua/take.lua
	takeSrc string
	//go:embed lua/borrow.lua
	borrowSrc string
	//go:embed lua/settle.lua
	settleSrc string
	//go:embed lua/release.lua
	releaseSrc string
	//go:embed lua/unhold.lua
	unholdSrc string
	//go:embed lua/fence.lua
	fenceSrc string
	//go:embed lua/pending.lua
	pendingSrc string
	//go:embed lua/load.lua
	loadSrc string
	//go:embed lua/topup.lua
	topupSrc string
	//go:embed lua/meta.lua
	metaSrc string
	//go:embed lua/drop.lua
	dropSrc string
	//go:embed lua/lease.lua
	leaseSrc string
	//go:embed lua/leasegive.lua
	leaseGiveSrc string
	//go:embed lua/dropdone.lua
	dropDoneSrc string
	//go:embed lua/payleased.lua
	payLeasedSrc string
	//go:embed lua/abandon.lua
	abandonSrc string
	//go:embed lua/swapver.lua
	swapverSrc string
	//go:embed lua/counts.lua
	countsSrc string
	//go:embed lua/paid.lua
	paidSrc string
	//go:embed lua/expire.lua
	expireSrc string
	//go:embed lua/unpaid.lua
	unpaidSrc string
	//go:embed lua/claim.lua
	claimSrc string
	//go:embed lua/ack.lua
	ackSrc string
	//go:embed lua/touch.lua
	touchSrc string
)

// Each script is wrapped once: the SHA-1 is computed here, calls use
// EVALSHA and fall back to EVAL on NOSCRIPT.
var (
	takeScript         = rueidis.NewLuaScript(takeSrc)
	swapverScript      = rueidis.NewLuaScript(swapverSrc)
	borrowScript       = rueidis.NewLuaScript(borrowSrc)
	settleScript       = rueidis.NewLuaScript(settleSrc)
	releaseScript      = rueidis.NewLuaScript(releaseSrc)
	unholdScript       = rueidis.NewLuaScript(unholdSrc)
	fenceScript        = rueidis.NewLuaScript(fenceSrc)
	pendingScript      = rueidis.NewLuaScript(pendingSrc)
	loadScript         = rueidis.NewLuaScript(loadSrc)
	topupScript        = rueidis.NewLuaScript(redisfence.Prologue + topupSrc)
	metaScript         = rueidis.NewLuaScript(metaSrc)
	dropScript         = rueidis.NewLuaScript(dropSrc)
	leaseScript        = rueidis.NewLuaScript(leaseSrc)
	leaseReleaseScript = rueidis.NewLuaScript(leaseGiveSrc)
	dropDoneScript     = rueidis.NewLuaScript(dropDoneSrc)
	payLeasedScript    = rueidis.NewLuaScript(payLeasedSrc)
	abandonScript      = rueidis.NewLuaScript(abandonSrc)
	countsScript       = rueidis.NewLuaScript(countsSrc)
	paidScript         = rueidis.NewLuaScript(paidSrc)
	expireScript       = rueidis.NewLuaScript(expireSrc)
	unpaidScript       = rueidis.NewLuaScript(unpaidSrc)
	claimScript        = rueidis.NewLuaScript(claimSrc)
	ackScript          = rueidis.NewLuaScript(ackSrc)
	touchScript        = rueidis.NewLuaScript(touchSrc)
)

// shardTag is the hash tag of shard i: "{fg:act42:3}".
func shardTag(prefix, activity string, i int) string {
	return "{" + prefix + activity + ":" + strconv.Itoa(i) + "}"
}

// shardKeys are the five keys of shard i, in script order.
func shardKeys(prefix, activity string, i int) []string {
	tag := shardTag(prefix, activity, i)
	keys := make([]string, numKeys)
	for k, s := range keySuffixes {
		keys[k] = tag + s
	}
	return keys
}

// metaKey holds the spec: "{fg:act42:meta}".
func metaKey(prefix, activity string) string { return "{" + prefix + activity + ":meta}" }

// orderID is the field naming purchase n of user in the ledgers and order
// records: "n:user". n has no colon, so the first one splits it.
func orderID(n int64, user string) string {
	b := make([]byte, 0, 20+len(user))
	b = strconv.AppendInt(b, n, 10)
	b = append(b, ':')
	b = append(b, user...)
	return string(b)
}

// parseOrderID splits an id built by orderID (or by take.lua).
func parseOrderID(id string) (n int64, user string, ok bool) {
	for i := 0; i < len(id); i++ {
		if id[i] == ':' {
			n, err := strconv.ParseInt(id[:i], 10, 64)
			return n, id[i+1:], err == nil
		}
	}
	return 0, "", false
}

// recordField is the state-hash field of user's ledger record: "u<user>".
func recordField(user string) string { return "u" + user }

// heldOnShard reads entry n of a ledger record ("N;k,attempt,t;...", see
// lua/take.lua): the shard holding its unit. ok is false when the record
// has no such entry or the entry is still pending.
func heldOnShard(rec string, n int64) (t int, ok bool) {
	want := strconv.FormatInt(n, 10)
	for rest := rec; ; {
		i := strings.IndexByte(rest, ';')
		if i < 0 {
			return 0, false
		}
		rest = rest[i+1:]
		e := rest
		if j := strings.IndexByte(e, ';'); j >= 0 {
			e = e[:j]
		}
		k, tail, found := strings.Cut(e, ",")
		if !found || k != want {
			continue
		}
		_, ts, found := strings.Cut(tail, ",")
		if !found || ts == "p" {
			return 0, false
		}
		t, err := strconv.Atoi(ts)
		return t, err == nil
	}
}

// stockMsg is the pub/sub message "activity:shard": shard has stock again.
func stockMsg(activity string, shard int) string { return activity + ":" + strconv.Itoa(shard) }

// loadMsg is the pub/sub message "activity:v<version>": the activity was
// (re)loaded at version.
func loadMsg(activity string, version int64) string {
	return activity + ":v" + strconv.FormatInt(version, 10)
}

// parseStockMsg splits a stockMsg (version 0) or a loadMsg (shard -1).
func parseStockMsg(msg string) (activity string, shard int, version int64, ok bool) {
	for i := len(msg) - 1; i >= 0; i-- {
		if msg[i] != ':' {
			continue
		}
		activity, tail := msg[:i], msg[i+1:]
		if len(tail) > 1 && tail[0] == 'v' {
			v, err := strconv.ParseInt(tail[1:], 10, 64)
			return activity, -1, v, err == nil && v > 0
		}
		n, err := strconv.Atoi(tail)
		return activity, n, 0, err == nil && n >= 0
	}
	return "", 0, 0, false
}
