// Package redisgcra is the rate shared by every gateway instance, one Lua
// script on one Redis key, on Redis's clock, in two forms: the GCRA
// bucket that admits or refuses (gcra.lua, the rate_limit filter's
// distributed limits), and the reservation that tells a caller when its
// slot comes (reserve.lua, the async forwarders' delivery pace).
package redisgcra

import (
	"context"
	_ "embed"
	"errors"
	"strconv"
	"time"

	"github.com/redis/rueidis"
)

//go:embed gcra.lua
var src string

//go:embed reserve.lua
var reserveSrc string

// Script is gcra.lua, wrapped once: EVALSHA, with EVAL when Redis lacks
// the script. KEYS: the bucket; ARGV: Args; reply: 0 admitted, else the
// microseconds until a call could be.
var Script = rueidis.NewLuaScript(src)

// Args are the script's arguments for rate per second with burst.
func Args(rate float64, burst int) []string {
	ivUS := 1e6 / rate
	return []string{
		strconv.FormatFloat(ivUS, 'f', -1, 64),
		strconv.FormatFloat(ivUS*float64(burst), 'f', -1, 64),
	}
}

// reserveScript is reserve.lua, wrapped once.
var reserveScript = rueidis.NewLuaScript(reserveSrc)

// Reserver is one shared pace, for callers that wait their turn rather
// than refuse (the forwarders): rate slots a second, each reserved by one
// caller, at most Horizon ahead of now.
type Reserver struct {
	Client  rueidis.Client
	Key     string
	Timeout time.Duration // bounds one call
	args    []string
}

// NewReserver returns the pace of rate per second on key. A slot may be
// reserved at most ahead slots ahead (at least 1): the waiters it allows
// at once, so set it to the callers' concurrency (max_inflight).
func NewReserver(client rueidis.Client, key string, rate float64, ahead int, timeout time.Duration) *Reserver {
	ivUS := 1e6 / rate
	return &Reserver{Client: client, Key: key, Timeout: timeout, args: []string{
		strconv.FormatFloat(ivUS, 'f', -1, 64),
		strconv.FormatFloat(ivUS*float64(max(ahead, 1)), 'f', -1, 64),
	}}
}

// Reserve takes the next free slot: ok, and the wait until it starts (the
// caller must go then: a slot reserved and not used is lost to the
// rate), or not ok, every slot within the horizon being taken, and the
// wait before asking again.
func (r *Reserver) Reserve(ctx context.Context) (wait time.Duration, ok bool, err error) {
	cctx, cancel := context.WithTimeout(ctx, r.Timeout)
	defer cancel()
	vs, err := reserveScript.Exec(cctx, r.Client, []string{r.Key}, r.args).AsIntSlice()
	if err != nil {
		return 0, false, err
	}
	if len(vs) != 2 {
		return 0, false, errors.New("redisgcra: reserve.lua answered " + strconv.Itoa(len(vs)) + " values")
	}
	return time.Duration(vs[1]) * time.Microsecond, vs[0] == 1, nil
}
