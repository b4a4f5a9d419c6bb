// Package redisgcra is the GCRA bucket shared by every gateway instance:
// one Lua script on one Redis key, on Redis's clock (see gcra.lua). The
// rate_limit filter's distributed limits and the async forwarders' shared
// delivery rate both use it, so there is one copy of the script.
package redisgcra

import (
	"context"
	_ "embed"
	"strconv"
	"time"

	"github.com/redis/rueidis"
)

//go:embed gcra.lua
var src string

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

// Bucket is one shared bucket, for callers that wait their turn rather
// than refuse (the forwarders).
type Bucket struct {
	Client  rueidis.Client
	Key     string
	Args    []string
	Timeout time.Duration // bounds one call
}

// Take asks for one admission: 0 when admitted now, else how long to wait
// before asking again.
func (b *Bucket) Take(ctx context.Context) (time.Duration, error) {
	cctx, cancel := context.WithTimeout(ctx, b.Timeout)
	defer cancel()
	us, err := Script.Exec(cctx, b.Client, []string{b.Key}, b.Args).AsInt64()
	if err != nil {
		return 0, err
	}
	return time.Duration(us) * time.Microsecond, nil
}
