package gateway

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/flashgate/flashgate/stock"
)

// gateway's metrics, all declared here and registered through its Module
// (core.go). They live for the process and are shared by every config
// generation, so a reload keeps counting into the same series.
var (
	requestsTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "flashgate_requests_total",
		Help: "Requests by route and outcome (admitted, rejected; shed requests have route \"\").",
	}, []string{"route", "outcome"})
	rejectionsTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "flashgate_filter_rejections_total",
		Help: "Requests a filter turned away, by route, filter and reason code.",
	}, []string{"route", "filter", "reason"})
	filterErrorsTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "flashgate_filter_errors_total",
		Help: "Times a filter could not decide (dependency down or slow), by route, filter and the on_error policy applied.",
	}, []string{"route", "filter", "policy"})
	requestDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "flashgate_request_duration_seconds",
		Help:    "Time from routing to the response being ready, by route.",
		Buckets: []float64{.00005, .0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
	}, []string{"route"})
	upstreamTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "flashgate_upstream_requests_total",
		Help: "Upstream exchanges by upstream and result (2xx, 3xx, 4xx, 5xx, timeout, unreachable).",
	}, []string{"upstream", "result"})
	upstreamDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "flashgate_upstream_duration_seconds",
		Help:    "Upstream exchange time by upstream.",
		Buckets: prometheus.DefBuckets,
	}, []string{"upstream"})
	breakerRejections = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "flashgate_upstream_breaker_rejections_total",
		Help: "Requests answered 503 upstream_unavailable, before their chain ran, because the upstream's breaker was open.",
	}, []string{"route", "upstream"})
	breakerState = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "flashgate_breaker_state",
		Help: "State of each circuit breaker (breaker = upstream:<name> or redis): 0 closed, 1 open, 2 half-open.",
	}, []string{"breaker"})
	stockReleasesTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "flashgate_stock_releases_total",
		Help: "Units given back after a failed order, by activity and cause.",
	}, []string{"activity", "cause"})
	stockReleaseFailures = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "flashgate_stock_release_failures_total",
		Help: "Give-backs the store failed or timed out on. A request's give-back is not tried again: its unit stays held until the backend releases it through the admin API or a forced warm. A dead letter's (cause dead_letter) is retried until it succeeds, and each failed try counts.",
	}, []string{"activity", "cause"})
	// inflight reads the serving Server's own counter at scrape time, so
	// the request path pays one atomic add each way instead of two more
	// (a Gauge's Inc and Dec are float CAS loops on a line both cores
	// write).
	inflight = prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "flashgate_inflight_requests",
		Help: "Requests being handled now.",
	}, func() float64 {
		if s := scraped.Load(); s != nil {
			return float64(s.inflight.Load())
		}
		return 0
	})
	reloadsTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "flashgate_config_reloads_total",
		Help: "Config reloads by result (ok, error).",
	}, []string{"result"})
	lastReload = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "flashgate_config_last_reload_timestamp_seconds",
		Help: "Unix time of the last config reload, by result (ok, error).",
	}, []string{"result"})
	activityAdmitted = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "flashgate_activity_admitted_total",
		Help: "Purchase requests admitted by an activity's purchase routes (stock filter or proxy action), by activity.",
	}, []string{"activity"})
	activityRejections = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "flashgate_activity_rejections_total",
		Help: "Purchase requests turned away on an activity's purchase routes, by activity and reason code.",
	}, []string{"activity", "reason"})
)

// connErrorsTotal counts the connections fasthttp closed on an error it
// reports per connection: a request it could not read (already answered
// 400, 408, 413 or 431 by errorHandler), a TLS handshake that failed.
var connErrorsTotal = prometheus.NewCounter(prometheus.CounterOpts{
	Name: "flashgate_connection_errors_total",
	Help: "Connections closed on an error (unreadable request, failed TLS handshake); logged at most once per 10 s.",
})

// The request path's Redis calls, by command (redismetrics.go).
var (
	redisDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "flashgate_redis_duration_seconds",
		Help:    "Redis call time by operation (the command: evalsha for the stock and rate-limit scripts); a pipelined batch counts once, under its first command.",
		Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1},
	}, []string{"op"})
	redisErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "flashgate_redis_errors_total",
		Help: "Redis calls that failed (timeout, connection, server error; not a nil reply), by operation.",
	}, []string{"op"})
)

// Registry is the process-wide Prometheus registry flashgate exports.
// Metrics reach it through a Module (registry.go); gateway's are listed
// in core.go.
var Registry = prometheus.NewRegistry()

// routeMetrics are the series of one route, resolved when it is built.
type routeMetrics struct {
	admitted, rejected prometheus.Counter
	duration           prometheus.Observer
}

func newRouteMetrics(route string) routeMetrics {
	return routeMetrics{
		admitted: requestsTotal.WithLabelValues(route, "admitted"),
		rejected: requestsTotal.WithLabelValues(route, "rejected"),
		duration: requestDuration.WithLabelValues(route),
	}
}

// releaseCauses are the causes a unit is given back for.
var releaseCauses = []string{"backend_rejected", "backend_unreachable", "pool_full", "rejected_after_stock", "queue_full", "dead_letter", "admin"}

// resolveActivitySeries creates an activity's release series at build
// time, so they are exported (at 0) before the first release, and the
// release path only finds them.
func resolveActivitySeries(id string) {
	for _, c := range releaseCauses {
		stockReleasesTotal.WithLabelValues(id, c)
		stockReleaseFailures.WithLabelValues(id, c)
	}
}

// activityMetrics are the per-activity series of one expanded purchase
// route, resolved when it is built; the zero value counts nothing.
type activityMetrics struct {
	admitted prometheus.Counter
	rejects  reasonCounters
}

func (rt *Route) activityMetrics(a *Activity) activityMetrics {
	if a == nil || !rt.purchase {
		return activityMetrics{}
	}
	return activityMetrics{
		admitted: activityAdmitted.WithLabelValues(a.ID),
		rejects: newReasonCounters(rt.pages, func(reason string) prometheus.Counter {
			return activityRejections.WithLabelValues(a.ID, reason)
		}),
	}
}

func (m *activityMetrics) admit() {
	if m.admitted != nil {
		m.admitted.Inc()
	}
}

// statser is the Redis stock store's view of its background work.
type statser interface{ Stats() stock.RedisStats }

// The Redis stock store's counters of decisions it finished after the
// caller gave up, read at scrape time from the store of the Server
// serving now (the store outlives config reloads). A memory store has
// none, and exports none.
var stockStats = []struct {
	desc *prometheus.Desc
	kind prometheus.ValueType
	read func(stock.RedisStats) uint64
}{
	{prometheus.NewDesc("flashgate_stock_abandoned_total", "Stock decisions the gateway stopped waiting for (answered 503); their outcome is settled in the background.", nil, nil),
		prometheus.CounterValue, func(s stock.RedisStats) uint64 { return s.Abandoned }},
	{prometheus.NewDesc("flashgate_stock_compensated_total", "Units given back because no caller learned they were admitted.", nil, nil),
		prometheus.CounterValue, func(s stock.RedisStats) uint64 { return s.Compensated }},
	{prometheus.NewDesc("flashgate_stock_lost_total", "Unknown outcomes given up on (queue full or shutdown): each may hold one unit until the next forced warm.", nil, nil),
		prometheus.CounterValue, func(s stock.RedisStats) uint64 { return s.Lost }},
	{prometheus.NewDesc("flashgate_stock_shed_total", "Stock decisions refused at once because too many were still settling.", nil, nil),
		prometheus.CounterValue, func(s stock.RedisStats) uint64 { return s.Shed }},
	{prometheus.NewDesc("flashgate_stock_unreplicated_total", "Stock decisions (redis.wait_replicas > 0) fewer replicas acknowledged within redis.wait_timeout: answered 503 busy, their unit given back.", nil, nil),
		prometheus.CounterValue, func(s stock.RedisStats) uint64 { return s.Unreplicated }},
	{prometheus.NewDesc("flashgate_stock_unresolved", "Unknown outcomes waiting for Redis to answer.", nil, nil),
		prometheus.GaugeValue, func(s stock.RedisStats) uint64 { return uint64(s.Unresolved) }},
}

type stockStatsCollector struct{}

func (stockStatsCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, s := range stockStats {
		ch <- s.desc
	}
}

func (stockStatsCollector) Collect(ch chan<- prometheus.Metric) {
	s := scraped.Load()
	if s == nil {
		return
	}
	st, ok := s.deps.Stock.(statser)
	if !ok {
		return
	}
	v := st.Stats()
	for _, m := range stockStats {
		ch <- prometheus.MustNewConstMetric(m.desc, m.kind, float64(m.read(v)))
	}
}
