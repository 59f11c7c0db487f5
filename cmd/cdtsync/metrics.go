package main

import (
	"context"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cdtsync/cdtsync/store/sqlite"
)

// storeMetrics exports the store's state on the server's registry: the writer (queue
// depth, refusals, group-commit batch sizes and durations), the database's room to grow
// and the phones' reports of their unsynced work. The server package holds the HTTP-side
// metrics (server/metrics.go); these need the store, which only cmd wires in.
func registerStoreMetrics(reg *prometheus.Registry, db *sqlite.DB, now func() time.Time) {
	batchJobs := prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "cdtsync_writer_batch_writes",
		Help:    "Writes (pushes, reviews, account changes) per group-commit transaction.",
		Buckets: []float64{1, 2, 4, 8, 16, 32, 64, 128},
	})
	batchOps := prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "cdtsync_writer_batch_ops",
		Help:    "Pushed operations per group-commit transaction.",
		Buckets: []float64{0, 1, 10, 50, 200, 1000, 5000, 20000},
	})
	batchTime := prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "cdtsync_writer_batch_duration_seconds",
		Help:    "Time of one group-commit transaction, fsync included.",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
	})
	db.ObserveBatches(func(jobs int, ops int64, d time.Duration) {
		batchJobs.Observe(float64(jobs))
		batchOps.Observe(float64(ops))
		batchTime.Observe(d.Seconds())
	})
	reg.MustRegister(batchJobs, batchOps, batchTime, &storeCollector{db: db, now: now})
}

// storeCollector reads the store's state at each scrape.
type storeCollector struct {
	db  *sqlite.DB
	now func() time.Time
}

var (
	descQueueJobs = prometheus.NewDesc("cdtsync_writer_queue_writes", "Writes waiting for the writer now.", nil, nil)
	descQueueOps  = prometheus.NewDesc("cdtsync_writer_queue_ops", "Pushed operations waiting for the writer now (bounded; past it pushes answer 503).", nil, nil)
	descRejected  = prometheus.NewDesc("cdtsync_writer_rejected_total", "Writes refused because the writer's queue was full (503 with Retry-After).", nil, nil)
	descBatches   = prometheus.NewDesc("cdtsync_writer_batches_total", "Group-commit transactions run.", nil, nil)
	descDBBytes   = prometheus.NewDesc("cdtsync_database_bytes", "Size of the database file's pages.", nil, nil)
	descDBFree    = prometheus.NewDesc("cdtsync_database_free_bytes", "Free pages inside the database file.", nil, nil)
	descDBCap     = prometheus.NewDesc("cdtsync_database_cap_bytes", "The database size cap (0: none).", nil, nil)
	descDiskFree  = prometheus.NewDesc("cdtsync_data_disk_free_bytes", "Free space on the data directory's disk.", nil, nil)
	descPending   = prometheus.NewDesc("cdtsync_outbox_devices_pending", "Devices whose last push reported unsynced operations.", nil, nil)
	descPendOps   = prometheus.NewDesc("cdtsync_outbox_pending_ops", "Unsynced operations phones reported in their last push.", nil, nil)
	descOldest    = prometheus.NewDesc("cdtsync_outbox_oldest_pending_age_seconds", "Age of the oldest unsynced operation a phone reported.", nil, nil)
	descOlderThan = prometheus.NewDesc("cdtsync_outbox_devices_pending_older_than", "Devices whose oldest unsynced operation is older than age.", []string{"age"}, nil)
)

func (c *storeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descQueueJobs, descQueueOps, descRejected, descBatches, descDBBytes, descDBFree,
		descDBCap, descDiskFree, descPending, descPendOps, descOldest, descOlderThan} {
		ch <- d
	}
}

func (c *storeCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.db.Stats()
	ch <- prometheus.MustNewConstMetric(descQueueJobs, prometheus.GaugeValue, float64(st.QueueJobs))
	ch <- prometheus.MustNewConstMetric(descQueueOps, prometheus.GaugeValue, float64(st.QueueOps))
	ch <- prometheus.MustNewConstMetric(descRejected, prometheus.CounterValue, float64(st.Rejected))
	ch <- prometheus.MustNewConstMetric(descBatches, prometheus.CounterValue, float64(st.Batches))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if r, err := c.db.Room(ctx); err == nil {
		ch <- prometheus.MustNewConstMetric(descDBBytes, prometheus.GaugeValue, float64(r.DBBytes))
		ch <- prometheus.MustNewConstMetric(descDBFree, prometheus.GaugeValue, float64(r.FreeBytes))
		ch <- prometheus.MustNewConstMetric(descDBCap, prometheus.GaugeValue, float64(r.CapBytes))
		if r.DiskFree >= 0 {
			ch <- prometheus.MustNewConstMetric(descDiskFree, prometheus.GaugeValue, float64(r.DiskFree))
		}
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

// ageLabel names a duration as Prometheus users write it: 1h, 1d, 7d, 30d.
func ageLabel(d time.Duration) string {
	if d >= 24*time.Hour {
		return strconv.Itoa(int(d/(24*time.Hour))) + "d"
	}
	return strconv.Itoa(int(d/time.Hour)) + "h"
}
