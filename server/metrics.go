package server

import (
	"crypto/subtle"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/cdtsync/cdtsync/schema"
)

type metrics struct {
	requests *prometheus.HistogramVec
	ops      *prometheus.CounterVec

	// Operations (server/ops.go): sync latency, admission, device clocks.
	push, pull  *prometheus.HistogramVec
	admission   *prometheus.CounterVec
	clockOffset prometheus.Histogram
}

func newMetrics(reg *prometheus.Registry) *metrics {
	m := &metrics{
		requests: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "cdtsync_http_request_duration_seconds",
			Help:    "HTTP request latency by route pattern, method and status.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"method", "route", "status"}),
	}
	m.ops = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "cdtsync_sync_ops_total",
		Help: "Pushed operations by result status and rejection code.",
	}, []string{"status", "code"})
	syncBuckets := []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 20, 30, 60}
	m.push = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "cdtsync_sync_push_duration_seconds",
		Help:    "POST /v1/sync/push latency, body read to answer (durable commit included), by HTTP status.",
		Buckets: syncBuckets,
	}, []string{"status"})
	m.pull = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "cdtsync_sync_pull_duration_seconds",
		Help:    "GET /v1/sync/pull latency by HTTP status.",
		Buckets: syncBuckets,
	}, []string{"status"})
	m.admission = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "cdtsync_push_admission_total",
		Help: "Pushes admitted or refused (503) by the push memory bound.",
	}, []string{"result"})
	m.clockOffset = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "cdtsync_device_clock_offset_seconds",
		Help: "Absolute difference between a pushing phone's clock (device_time) and the server's, per push.",
		// 30 s is network noise; then a minute, 5 minutes (coordinators are shown), an
		// hour, a day, a week, a month, a year.
		Buckets: []float64{1, 30, 60, 300, 3600, 86400, 7 * 86400, 30 * 86400, 365 * 86400},
	})
	reg.MustRegister(m.requests, m.ops, m.push, m.pull, m.admission, m.clockOffset)
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

func (m *metrics) observeRequest(method, route string, status int, d time.Duration) {
	m.requests.WithLabelValues(method, route, strconv.Itoa(status)).Observe(d.Seconds())
	switch route {
	case "/v1/sync/push":
		m.push.WithLabelValues(strconv.Itoa(status)).Observe(d.Seconds())
	case "/v1/sync/pull":
		m.pull.WithLabelValues(strconv.Itoa(status)).Observe(d.Seconds())
	}
}

// registerAdmission exports the push memory bound's use.
func (m *metrics) registerAdmission(reg *prometheus.Registry, w *weighted) {
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "cdtsync_push_memory_bytes",
		Help: "Push body bytes admitted now (bounded by the push memory limit).",
	}, func() float64 { return float64(w.inUse()) }))
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "cdtsync_push_memory_limit_bytes",
		Help: "The push memory limit.",
	}, func() float64 { return float64(w.size) }))
}

// Registry returns the server's metrics registry, for other parts to register on.
func (s *Server) Registry() *prometheus.Registry { return s.reg }

func (s *Server) metricsHandler() echo.HandlerFunc {
	// The router's gzip middleware compresses the answer; promhttp compressing it too sent
	// Prometheus (Accept-Encoding: gzip) a body gzipped twice, which it cannot parse.
	h := promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{DisableCompression: true})
	return func(c echo.Context) error {
		if tok := s.cfg.MetricsToken; tok != "" {
			got := c.Request().Header.Get("Authorization")
			if subtle.ConstantTimeCompare([]byte(got), []byte("Bearer "+tok)) != 1 {
				return schema.Errorf(schema.CodeUnauthorized, "Cần mã truy cập số liệu / metrics token required")
			}
		}
		h.ServeHTTP(c.Response(), c.Request())
		return nil
	}
}

func (m *metrics) observePush(results []schema.OpResult) {
	for _, r := range results {
		m.ops.WithLabelValues(r.Status, r.Code).Inc()
	}
}

// observeClock records a push's device clock offset.
func (m *metrics) observeClock(deviceTime string, now time.Time) {
	t, err := time.Parse(time.RFC3339Nano, deviceTime)
	if err != nil {
		return
	}
	d := t.Sub(now)
	if d < 0 {
		d = -d
	}
	m.clockOffset.Observe(d.Seconds())
}
