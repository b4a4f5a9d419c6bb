package gateway

import (
	"context"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/rueidis"
)

// redisOps are the commands flashgate sends; each one's series are
// resolved once, so timing a call allocates nothing. Anything else is
// counted as "other" (TestRedisOpsCoverCode keeps this list complete).
var redisOps = []string{
	"EVALSHA", "EVAL", "SCRIPT", "GET", "SET", "DEL", "EXISTS", "INCR", "PTTL", "PING", "WAIT",
	"HGET", "HMGET", "HSET", "HDEL", "HGETALL", "HLEN", "SADD", "SREM", "SCARD", "SMEMBERS", "SSCAN",
	"ZCARD", "ZSCORE", "ZRANGEBYSCORE", "PUBLISH", "SUBSCRIBE", "DBSIZE", "CLUSTER",
	"XADD", "XREADGROUP", "XACK", "XLEN", "XRANGE", "XPENDING", "XAUTOCLAIM", "XGROUP",
}

type opMetrics struct {
	duration prometheus.Observer
	errors   prometheus.Counter
}

// InstrumentRedis wraps c so that every Do and DoMulti is timed and its
// failures counted by operation. The wrapper is hand-written because
// rueidis's hook module is not among our dependencies; it adds one map
// read, one clock read and one histogram observation per call.
func InstrumentRedis(c rueidis.Client) rueidis.Client {
	if c == nil {
		return nil
	}
	ic := &instrumented{Client: c, ops: make(map[string]opMetrics, len(redisOps))}
	for _, op := range redisOps {
		name := strings.ToLower(op)
		ic.ops[op] = opMetrics{redisDuration.WithLabelValues(name), redisErrors.WithLabelValues(name)}
	}
	ic.other = opMetrics{redisDuration.WithLabelValues("other"), redisErrors.WithLabelValues("other")}
	return ic
}

type instrumented struct {
	rueidis.Client
	ops   map[string]opMetrics
	other opMetrics
}

func (ic *instrumented) op(cs []string) opMetrics {
	if len(cs) > 0 {
		if m, ok := ic.ops[cs[0]]; ok {
			return m
		}
	}
	return ic.other
}

// failed reports whether a reply counts as a failed call: not a nil
// reply, nor BUSYGROUP (XGROUP CREATE of a group that exists, which the
// forwarders ask for and expect).
func failed(err error) bool {
	return err != nil && !rueidis.IsRedisNil(err) && !strings.HasPrefix(err.Error(), "BUSYGROUP")
}

func (ic *instrumented) Do(ctx context.Context, cmd rueidis.Completed) rueidis.RedisResult {
	m := ic.op(cmd.Commands())
	start := time.Now()
	res := ic.Client.Do(ctx, cmd)
	m.duration.Observe(time.Since(start).Seconds())
	if failed(res.Error()) {
		m.errors.Inc()
	}
	return res
}

func (ic *instrumented) DoMulti(ctx context.Context, multi ...rueidis.Completed) []rueidis.RedisResult {
	if len(multi) == 0 {
		return ic.Client.DoMulti(ctx, multi...)
	}
	m := ic.op(multi[0].Commands())
	start := time.Now()
	res := ic.Client.DoMulti(ctx, multi...)
	m.duration.Observe(time.Since(start).Seconds())
	for _, r := range res {
		if failed(r.Error()) {
			m.errors.Inc()
		}
	}
	return res
}
