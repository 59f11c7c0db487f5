package report

import (
	"sort"
	"time"

	"github.com/cdtsync/cdtsync/schema"
)

// DefaultStuckDays is how many days work may wait unsynced on a phone before the phone
// is shown to its coordinator.
const DefaultStuckDays = 3

// Attention picks, from the devices of a coordinator's scope, those to look at:
//
//   - clock off: the clock offset measured on the device's last push is at least
//     schema.ClockOffThreshold either way (đồng hồ thiết bị bị lệch); largest first;
//   - stuck: the phone last reported unsynced operations (pending_ops > 0) whose oldest
//     was recorded stuckDays or more days before now (chưa đồng bộ); longest first.
//
// A device may be in both lists.
func Attention(devices []schema.Device, now time.Time, stuckDays int) schema.AttentionReport {
	out := schema.AttentionReport{ServerTime: now.UTC().Format(time.RFC3339Nano),
		ClockOffThresholdMS: schema.ClockOffThreshold.Milliseconds(), StuckAfterDays: stuckDays,
		ClockOff: []schema.AttentionDevice{}, Stuck: []schema.AttentionDevice{}}
	for _, d := range devices {
		if d.RevokedAt != "" {
			continue
		}
		if d.ClockOff {
			out.ClockOff = append(out.ClockOff, schema.AttentionDevice{Device: d})
		}
		if d.PendingOps == nil || *d.PendingOps <= 0 || d.OldestPendingAt == "" {
			continue
		}
		oldest, err := time.Parse(time.RFC3339Nano, d.OldestPendingAt)
		if err != nil {
			continue
		}
		days := int(now.Sub(oldest) / (24 * time.Hour))
		if days >= stuckDays {
			out.Stuck = append(out.Stuck, schema.AttentionDevice{Device: d, StuckDays: &days})
		}
	}
	abs := func(p *int64) int64 {
		if p == nil {
			return 0
		}
		if *p < 0 {
			return -*p
		}
		return *p
	}
	sort.SliceStable(out.ClockOff, func(i, j int) bool {
		return abs(out.ClockOff[i].ClockOffsetMS) > abs(out.ClockOff[j].ClockOffsetMS)
	})
	sort.SliceStable(out.Stuck, func(i, j int) bool { return *out.Stuck[i].StuckDays > *out.Stuck[j].StuckDays })
	return out
}
