package gateway

import (
	"github.com/prometheus/client_golang/prometheus"
)

// gateway's own module: the endpoints and admin calls over state the
// gateway itself owns (activities, stock, overrides, reload), and its
// metrics. A filter package registers its own the same way.
func init() {
	Register(Module{
		Name: "gateway",
		Endpoints: []EndpointInfo{
			{Name: "activity_status", New: func() EndpointConfig { return &StatusConfig{} }},
			{Name: "stock_decision", New: func() EndpointConfig { return &DecisionConfig{} }},
			{Name: "order_status", New: func() EndpointConfig { return &OrderStatusConfig{} }},
		},
		Admin: []AdminRoute{
			{Method: "GET", Path: "/admin/status", Handler: adminStatus},
			{Method: "POST", Path: "/admin/reload", Handler: adminReload},
			{Method: "GET", Path: "/admin/activities", Handler: adminActivities},
			{Method: "POST", Path: "/admin/activities/{id}/pause", Handler: adminPause(true)},
			{Method: "POST", Path: "/admin/activities/{id}/resume", Handler: adminPause(false)},
			{Method: "PUT", Path: "/admin/activities/{id}/window", Handler: adminSetWindow},
			{Method: "DELETE", Path: "/admin/activities/{id}/window", Handler: adminClearWindow},
			{Method: "POST", Path: "/admin/activities/{id}/warm", Handler: withActivity(adminWarm), TakesQuery: true},
			{Method: "GET", Path: "/admin/activities/{id}/stock", Handler: withActivity(adminStock)},
			{Method: "POST", Path: "/admin/activities/{id}/topup", Handler: withActivity(adminTopUp), TakesQuery: true},
			{Method: "POST", Path: "/admin/activities/{id}/release", Handler: withActivity(adminRelease), TakesQuery: true},
			{Method: "POST", Path: "/admin/activities/{id}/orders/{key}/paid", Handler: withActivity(adminPaid)},
		},
		Metrics: []prometheus.Collector{
			requestsTotal, rejectionsTotal, filterErrorsTotal, requestDuration,
			upstreamTotal, upstreamDuration, breakerRejections, breakerGauges{}, stockReleasesTotal, stockReleaseFailures,
			inflight, reloadsTotal, lastReload, activityAdmitted, activityRejections, redisDuration, redisErrors, connErrorsTotal,
			stateCollector{}, stockStatsCollector{},
			prometheus.NewGoCollector(), prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{}),
		},
	})
	// Zero before the first reload, so a dashboard shows 0, not "no data".
	reloadsTotal.WithLabelValues("ok")
	reloadsTotal.WithLabelValues("error")
}
