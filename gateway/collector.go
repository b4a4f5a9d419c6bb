package gateway

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/flashgate/flashgate/forward"
	"github.com/prometheus/client_golang/prometheus"
)

// The state gauges (stock left, units sold, held, paid and released
// unpaid, from the store's Counts, the one definition of those numbers;
// paused, open) are
// read when Prometheus scrapes, from the Server serving now: the request
// path does not touch them at all.
var (
	descLeft = prometheus.NewDesc("flashgate_activity_stock_left",
		"Units left in the stock store, by activity (absent while the store cannot answer or the activity is not loaded).",
		[]string{"activity"}, nil)
	descSold = prometheus.NewDesc("flashgate_activity_units_sold",
		"Units sold (admitted and not given back), by activity, as the stock store counts them.",
		[]string{"activity"}, nil)
	descHeld = prometheus.NewDesc("flashgate_activity_units_held",
		"pay_within: units admitted and awaiting payment, by activity (part of units sold).",
		[]string{"activity"}, nil)
	descPaid = prometheus.NewDesc("flashgate_activity_units_paid",
		"pay_within: payments confirmed since the activity was loaded, by activity.",
		[]string{"activity"}, nil)
	descUnpaid = prometheus.NewDesc("flashgate_activity_units_released_unpaid",
		"pay_within: units given back since the activity was loaded because their deadline passed unpaid, each counted once across instances.",
		[]string{"activity"}, nil)
	descPaused = prometheus.NewDesc("flashgate_activity_paused",
		"1 while an operator has paused the activity's purchases.",
		[]string{"activity"}, nil)
	descOpen = prometheus.NewDesc("flashgate_activity_open",
		"1 while a sale window of the activity is open (an operator's window override included).",
		[]string{"activity"}, nil)
)

// The async queues' gauges and counters, by route, read from the queues
// at scrape time like the stock gauges.
var (
	descQueueDepth = prometheus.NewDesc("flashgate_queue_depth",
		"Orders an async route's queue holds and has not finished (queued, waiting for a retry or being sent), by route.",
		[]string{"route"}, nil)
	descQueueWait = prometheus.NewDesc("flashgate_queue_head_wait_seconds",
		"How long the oldest unfinished order of an async route (queued, being sent or waiting for a retry) has waited since it was admitted: the delivery lag.",
		[]string{"route"}, nil)
	descQueueOrders = prometheus.NewDesc("flashgate_queue_orders_total",
		"Orders of an async route's queue by result: enqueued, delivered, retried (attempts that will be retried), dead_lettered, full (refused, unit given back), dropped (its unit was given back before delivery), taken_over (Redis: claimed from a dead or stopped instance), handed_back (Redis: left unfinished by this instance's stop, for another to take over).",
		[]string{"route", "result"}, nil)
	descQueueDead = prometheus.NewDesc("flashgate_queue_dead_letters_total",
		"Orders of an async route dead-lettered, by route and reason: backend_rejected, attempts_exhausted, expired, malformed (their unit given back), unconfirmed (a send went unanswered: the unit stays sold). Their sum is flashgate_queue_orders_total{result=\"dead_lettered\"}.",
		[]string{"route", "reason"}, nil)
	descQueueDuplicates = prometheus.NewDesc("flashgate_queue_duplicate_deliveries_total",
		"Sends of an order that may have reached the backend before (same Idempotency-Key), by route and cause: claimed_from_dead (taken over from an instance that had claimed it, or read again from this instance's own pending list after a lost reply, when it had been claimed before), retry_after_timeout (sent again after no answer). Redis store.",
		[]string{"route", "cause"}, nil)
)

// scraped is the Server whose state the gauges describe: the last one
// built (a process runs one; tests build several in turn).
var scraped atomic.Pointer[Server]

type stateCollector struct{}

func (stateCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descLeft, descSold, descHeld, descPaid, descUnpaid, descPaused, descOpen, descQueueDepth, descQueueWait, descQueueOrders, descQueueDead, descQueueDuplicates} {
		ch <- d
	}
}

// scrapeTimeout bounds the stock reads of one scrape, so a slow Redis
// makes the stock gauges disappear instead of hanging /metrics.
const scrapeTimeout = time.Second

func (stateCollector) Collect(ch chan<- prometheus.Metric) {
	s := scraped.Load()
	if s == nil {
		return
	}
	in := s.Instance()
	now := s.deps.Now
	if now == nil {
		now = time.Now
	}
	t := now()
	ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
	defer cancel()
	collectQueues(ch, in.queues)
	for _, a := range in.ActivityList {
		gauge(ch, descPaused, b2f(a.Paused()), a.ID)
		phase, _ := a.PhaseAt(t)
		gauge(ch, descOpen, b2f(phase == Open), a.ID)
		if s.deps.Stock == nil {
			continue
		}
		if c, err := s.deps.Stock.Counts(ctx, a.ID); err == nil {
			gauge(ch, descLeft, float64(c.Left), a.ID)
			gauge(ch, descSold, float64(c.Sold), a.ID)
			gauge(ch, descHeld, float64(c.Held), a.ID)
			gauge(ch, descPaid, float64(c.Paid), a.ID)
			gauge(ch, descUnpaid, float64(c.ReleasedUnpaid), a.ID)
		}
	}
}

func gauge(ch chan<- prometheus.Metric, d *prometheus.Desc, v float64, label string) {
	ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, label)
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// resultCount is one result label of flashgate_queue_orders_total and its count.
type resultCount struct {
	result string
	n      uint64
}

func queueOrders(ch chan<- prometheus.Metric, route string, rs []resultCount) {
	for _, c := range rs {
		ch <- prometheus.MustNewConstMetric(descQueueOrders, prometheus.CounterValue, float64(c.n), route, c.result)
	}
}

func deadLetters(ch chan<- prometheus.Metric, route string, d forward.DeadCounts) {
	for i, reason := range forward.DeadReasons {
		ch <- prometheus.MustNewConstMetric(descQueueDead, prometheus.CounterValue, float64(d[i]), route, reason)
	}
}

func collectQueues(ch chan<- prometheus.Metric, qs *AsyncQueues) {
	if qs == nil {
		return
	}
	for route, st := range qs.Stats() {
		gauge(ch, descQueueDepth, float64(st.Depth), route)
		gauge(ch, descQueueWait, st.HeadWait.Seconds(), route)
		queueOrders(ch, route, []resultCount{
			{"enqueued", st.Enqueued}, {"delivered", st.Delivered}, {"retried", st.Retried},
			{"dead_lettered", st.DeadLettered}, {"full", st.Full}, {"dropped", st.Dropped},
		})
		deadLetters(ch, route, st.Dead)
	}
	for route, st := range qs.streamStats() {
		if st.depthOK {
			gauge(ch, descQueueDepth, float64(st.depth), route)
			gauge(ch, descQueueWait, st.headWait.Seconds(), route)
		}
		queueOrders(ch, route, []resultCount{
			{"delivered", st.Delivered}, {"retried", st.Retried}, {"dead_lettered", st.DeadLettered},
			{"dropped", st.Dropped}, {"taken_over", st.TakenOver}, {"handed_back", st.HandedBack},
		})
		deadLetters(ch, route, st.Dead)
		ch <- prometheus.MustNewConstMetric(descQueueDuplicates, prometheus.CounterValue, float64(st.ClaimedFromDead), route, "claimed_from_dead")
		ch <- prometheus.MustNewConstMetric(descQueueDuplicates, prometheus.CounterValue, float64(st.RetryAfterTimeout), route, "retry_after_timeout")
	}
}
