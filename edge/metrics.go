package edge

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics are crmedge's Prometheus collectors, on a registry of their own (no
// global state): request counts and latencies per route and status, and the
// outbox, read from the database when scraped.
type Metrics struct {
	Registry  *prometheus.Registry
	requests  *prometheus.CounterVec
	latency   *prometheus.HistogramVec
	Forwarded *prometheus.CounterVec // by result: delivered, retry, dead
}

// NewMetrics registers the collectors; svc feeds the outbox gauges.
func NewMetrics(svc *Service) *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "crmedge_http_requests_total", Help: "HTTP requests by route, method and status.",
		}, []string{"route", "method", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "crmedge_http_request_duration_seconds",
			Help:    "HTTP request latency by route, method and status.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"route", "method", "status"}),
		Forwarded: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "crmedge_upstream_forward_total", Help: "Outbox events sent upstream, by result (delivered, retry, dead).",
		}, []string{"result"}),
	}
	for _, result := range []string{"delivered", "retry", "dead"} {
		m.Forwarded.WithLabelValues(result) // shown at 0 before the first event
	}
	outbox := func(pick func(SyncStatus) float64) func() float64 {
		return func() float64 {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			st, err := svc.Sync(ctx)
			if err != nil {
				return -1
			}
			return pick(st)
		}
	}
	m.Registry.MustRegister(
		m.requests, m.latency, m.Forwarded,
		prometheus.NewGoCollector(),
		prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "crmedge_outbox_pending", Help: "Outbox events not yet delivered upstream."},
			outbox(func(s SyncStatus) float64 { return float64(s.Pending) })),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "crmedge_outbox_dead", Help: "Outbox events dead-lettered and not retried."},
			outbox(func(s SyncStatus) float64 { return float64(s.Dead) })),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "crmedge_upstream_online", Help: "1 when the last attempt reached the central CRM."},
			outbox(func(s SyncStatus) float64 {
				if s.Online {
					return 1
				}
				return 0
			})),
	)
	return m
}

func (m *Metrics) observe(route, method string, status int, d time.Duration) {
	m.requests.WithLabelValues(route, method, strconv.Itoa(status)).Inc()
	m.latency.WithLabelValues(route, method, strconv.Itoa(status)).Observe(d.Seconds())
}

// Register adds more collectors (e.g. the database size, from main).
func (m *Metrics) Register(c prometheus.Collector) { m.Registry.MustRegister(c) }

func (m *Metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{})
}
