package gateway

import (
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/flashgate/flashgate/conf"
	"github.com/flashgate/flashgate/internal/breaker"
)

// newUpstreamBreaker is the breaker of one upstream, or nil when
// breaker_failures is -1. It decides with now, read at the moment of each
// decision (never the request's arrival time), so a test can inject it.
//
// While it is open, the routes that proxy to the upstream answer 503
// upstream_unavailable before their chain runs: no stock is taken for
// orders that could not be delivered, and the crowd does not queue on a
// dead backend. The route gate takes the Ticket, Forward reports the
// exchange's outcome with it, and a request the chain turned away gives
// it back with breaker.Ignore (see Route.handler).
func newUpstreamBreaker(c conf.Upstream, now func() time.Time) *breaker.Breaker {
	if c.BreakerFailures <= 0 {
		return nil
	}
	return loggedBreaker("upstream:"+c.Name, c.BreakerFailures, c.BreakerOpen, c.BreakerProbes, now)
}

// loggedBreaker builds a breaker that logs its transitions under name,
// the one way the upstream and Redis breakers are made. Its state reaches
// flashgate_breaker_state at each scrape (breakerGauges), not from here.
func loggedBreaker(name string, failures int, openFor time.Duration, probes int, now func() time.Time) *breaker.Breaker {
	b := breaker.New(breaker.Settings{Failures: failures, OpenFor: openFor, Probes: probes, Now: now})
	log := breakerLog.Load() // the building server's: a breaker logs where its gateway does
	b.OnChange(func(from, to breaker.State) {
		// An outage's timeline in two lines: opened, closed again (its
		// probes' open/half-open flaps in between are left to the gauge).
		// Off the breaker's lock (OnChange runs under it, on the request
		// that tripped it): a blocked log pipe must not hold requests.
		switch {
		case log == nil:
		case from == breaker.Closed && to == breaker.Open:
			logBreaker(func() {
				log.Warn("breaker open: its requests are refused at once until a probe succeeds",
					"breaker", name, "after_failures", failures, "probe_every", openFor.String())
			})
		case to == breaker.Closed:
			logBreaker(func() { log.Info("breaker closed: requests go through again", "breaker", name) })
		}
	})
	return b
}

// breakerLog is where breaker transitions are logged: the serving
// gateway's logger (NewServer sets it).
var breakerLog atomic.Pointer[slog.Logger]

// breakerLines are the transition lines, written in order by one
// goroutine, off the breaker's lock and the request that tripped it; a
// full buffer (a blocked log pipe) drops a line, never a request.
var (
	breakerLines     = make(chan func(), 64)
	breakerLinesOnce sync.Once
)

func logBreaker(line func()) {
	breakerLinesOnce.Do(func() {
		go func() {
			for line := range breakerLines {
				line()
			}
		}()
	})
	select {
	case breakerLines <- line:
	default:
	}
}

// breakerGauges is flashgate_breaker_state, read at every scrape from the
// serving instance's breakers (its upstreams' and the Redis one): an open
// breaker turns half-open by the clock, not by a call, so a gauge set on
// transitions alone said "open" on a quiet instance long after the
// backend or Redis came back. Only the serving instance's count: a build
// a reload refused never served, so its breakers say nothing.
type breakerGauges struct{}

func (breakerGauges) Describe(ch chan<- *prometheus.Desc) { breakerState.Describe(ch) }

func (breakerGauges) Collect(ch chan<- prometheus.Metric) {
	if s := scraped.Load(); s != nil {
		if in := s.Instance(); in != nil {
			for name, u := range in.Upstreams {
				if u.breaker != nil {
					breakerState.WithLabelValues("upstream:" + name).Set(float64(u.breaker.State()))
				}
			}
		}
		if s.deps.RedisBreaker != nil {
			breakerState.WithLabelValues("redis").Set(float64(s.deps.RedisBreaker.State()))
		}
	}
	breakerState.Collect(ch)
}

// upstreamOutcome is what an exchange says about the backend's health.
// A full local pool (fasthttp.ErrNoFreeConns) is the gateway's own
// saturation: the request never left, so it says nothing about the
// backend and must not open its breaker.
func upstreamOutcome(err error, status int) breaker.Outcome {
	switch {
	case err == nil && status < 500:
		return breaker.Success
	case err != nil && poolFull(err):
		return breaker.Ignore
	}
	return breaker.Failure
}
