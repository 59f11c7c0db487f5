package main

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cdtsync/cdtsync/store/postgres"
	"github.com/cdtsync/cdtsync/store/sqlite"
)

// registerPostgresMetrics is registerStoreMetrics for the PostgreSQL store: there is no
// single writer and no queue, so it exports this process's write transactions (count,
// push operations, duration, retries after deadlocks), the push operations in flight and
// the 503s past Options.MaxOps, the connection pool, the database's size and the phones'
// outbox reports (the same names as on SQLite where the meaning is the same).
func registerPostgresMetrics(reg *prometheus.Registry, db *postgres.DB, now func() time.Time) {
	writeTime := prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "cdtsync_pg_write_duration_seconds",
		Help:    "Time of one write transaction (push, review, account change), commit included.",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
	})
	writeOps := prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "cdtsync_pg_write_ops",
		Help:    "Pushed operations per write transaction.",
		Buckets: []float64{0, 1, 10, 50, 200, 1000},
	})
	db.ObserveWrites(func(ops int64, d time.Duration, err error) {
		writeTime.Observe(d.Seconds())
		writeOps.Observe(float64(ops))
	})
	reg.MustRegister(writeTime, writeOps, &pgCollector{db: db, now: now})
}

type pgCollector struct {
	db  *postgres.DB
	now func() time.Time
}

var (
	descPGWrites     = prometheus.NewDesc("cdtsync_pg_writes_total", "Write transactions run by this process.", nil, nil)
	descPGFailed     = prometheus.NewDesc("cdtsync_pg_writes_failed_total", "Write transactions that failed.", nil, nil)
	descPGRetries    = prometheus.NewDesc("cdtsync_pg_write_retries_total", "Write transactions run again after PostgreSQL broke a deadlock or a serialization conflict.", nil, nil)
	descPGConns      = prometheus.NewDesc("cdtsync_pg_pool_conns", "Connections of this process's pool.", nil, nil)
	descPGConnsUsed  = prometheus.NewDesc("cdtsync_pg_pool_conns_in_use", "Connections in use now.", nil, nil)
	descPGConnWaits  = prometheus.NewDesc("cdtsync_pg_pool_waits_total", "Times a query waited for a free connection.", nil, nil)
	descPGReports    = prometheus.NewDesc("cdtsync_pg_report_reads_total", "Reports read, by database: replica (--report-database) or primary; none counted without a report database.", []string{"on"}, nil)
	descPGReportsOff = prometheus.NewDesc("cdtsync_pg_report_replica_failures_total", "Reports the report database failed to read (then read on the primary).", nil, nil)
	descPGAggReady   = prometheus.NewDesc("cdtsync_pg_reports_ready", "1 when the report aggregates are built; 0 while they are stale or being built (reports answer 503).", nil, nil)
	descPGAggBuild   = prometheus.NewDesc("cdtsync_pg_reports_build_logs", "A build of the report aggregates under way: the logs it has added (done) of those it began with (total).", []string{"of"}, nil)
)

func (c *pgCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descPGWrites, descPGFailed, descPGRetries, descPGConns, descPGConnsUsed, descPGConnWaits, descPGReports, descPGReportsOff, descPGAggReady, descPGAggBuild,
		descQueueOps, descRejected, descDBBytes, descPending, descPendOps, descOldest, descOlderThan} {
		ch <- d
	}
}

func (c *pgCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.db.Stats()
	ch <- prometheus.MustNewConstMetric(descPGWrites, prometheus.CounterValue, float64(st.Writes))
	ch <- prometheus.MustNewConstMetric(descPGFailed, prometheus.CounterValue, float64(st.Failed))
	ch <- prometheus.MustNewConstMetric(descPGRetries, prometheus.CounterValue, float64(st.Retries))
	ch <- prometheus.MustNewConstMetric(descPGConns, prometheus.GaugeValue, float64(st.Conns))
	ch <- prometheus.MustNewConstMetric(descPGConnsUsed, prometheus.GaugeValue, float64(st.ConnsInUse))
	ch <- prometheus.MustNewConstMetric(descPGConnWaits, prometheus.CounterValue, float64(st.ConnWaits))
	rs := c.db.ReportStats()
	ch <- prometheus.MustNewConstMetric(descPGReports, prometheus.CounterValue, float64(rs.OnReplica), "replica")
	ch <- prometheus.MustNewConstMetric(descPGReports, prometheus.CounterValue, float64(rs.OnPrimary), "primary")
	ch <- prometheus.MustNewConstMetric(descPGReportsOff, prometheus.CounterValue, float64(rs.ReplicaFailed))
	ch <- prometheus.MustNewConstMetric(descQueueOps, prometheus.GaugeValue, float64(st.InFlight))
	ch <- prometheus.MustNewConstMetric(descRejected, prometheus.CounterValue, float64(st.Rejected))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if p, err := c.db.ReportsProgress(ctx); err == nil {
		ready := 0.0
		if p.Ready {
			ready = 1
		}
		ch <- prometheus.MustNewConstMetric(descPGAggReady, prometheus.GaugeValue, ready)
		ch <- prometheus.MustNewConstMetric(descPGAggBuild, prometheus.GaugeValue, float64(p.Done), "done")
		ch <- prometheus.MustNewConstMetric(descPGAggBuild, prometheus.GaugeValue, float64(p.Total), "total")
	}
	if r, err := c.db.Room(ctx); err == nil {
		ch <- prometheus.MustNewConstMetric(descDBBytes, prometheus.GaugeValue, float64(r.DBBytes))
	}
	if o, err := c.db.OutboxStats(ctx, c.now()); err == nil {
		ch <- prometheus.MustNewConstMetric(descPending, prometheus.GaugeValue, float64(o.DevicesPending))
		ch <- prometheus.MustNewConstMetric(descPendOps, prometheus.GaugeValue, float64(o.PendingOps))
		ch <- prometheus.MustNewConstMetric(descOldest, prometheus.GaugeValue, o.OldestAge.Seconds())
		for i, a := range sqlite.OutboxAges {
			ch <- prometheus.MustNewConstMetric(descOlderThan, prometheus.GaugeValue, float64(o.OlderThan[i]), ageLabel(a))
		}
	}
}
