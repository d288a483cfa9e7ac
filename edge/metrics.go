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
	m.Registry.MustRegister(
		m.requests, m.latency, m.Forwarded,
		prometheus.NewGoCollector(),
		prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{}),
		newOutboxCollector(svc),
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

// outboxCollector shows the sync status as three gauges, reading it once per
// scrape (Service.Sync runs several queries). When it cannot be read, each
// gauge is -1.
type outboxCollector struct {
	svc                   *Service
	pending, dead, online *prometheus.Desc
}

func newOutboxCollector(svc *Service) *outboxCollector {
	return &outboxCollector{
		svc:     svc,
		pending: prometheus.NewDesc("crmedge_outbox_pending", "Outbox events not yet delivered upstream.", nil, nil),
		dead:    prometheus.NewDesc("crmedge_outbox_dead", "Outbox events dead-lettered and not retried.", nil, nil),
		online:  prometheus.NewDesc("crmedge_upstream_online", "1 when the last attempt reached the central CRM.", nil, nil),
	}
}

func (c *outboxCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.pending
	ch <- c.dead
	ch <- c.online
}

func (c *outboxCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	pending, dead, online := -1.0, -1.0, -1.0
	if st, err := c.svc.Sync(ctx); err == nil {
		pending, dead, online = float64(st.Pending), float64(st.Dead), 0
		if st.Online {
			online = 1
		}
	}
	ch <- prometheus.MustNewConstMetric(c.pending, prometheus.GaugeValue, pending)
	ch <- prometheus.MustNewConstMetric(c.dead, prometheus.GaugeValue, dead)
	ch <- prometheus.MustNewConstMetric(c.online, prometheus.GaugeValue, online)
}
