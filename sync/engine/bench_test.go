package engine_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/cdtsync/cdtsync/schema"
	"github.com/cdtsync/cdtsync/store/sqlite/sqlitetest"
	"github.com/cdtsync/cdtsync/sync/engine"
)

// benchOps makes n creation ops of a realistic shape (~12 fields, a citizen ref, a
// Vietnamese note) in one of the volunteer's hamlets.
func benchOps(n int, hamlets []int64, seq *atomic.Int64) []schema.Op {
	ops := make([]schema.Op, n)
	kinds := []string{"vneid_install", "vneid_level2", "cashless_payment", "online_public_service", "digital_skills"}
	for i := range ops {
		k := seq.Add(1)
		ops[i] = create(newID(), at(-time.Minute), hamlets[k%int64(len(hamlets))], kinds[k%int64(len(kinds))],
			now.Add(-time.Duration(k%600)*time.Minute),
			"citizen_ref", ref(int(k%50000)), "consent", true, "age_band", "60_plus", "gender", "female",
			"note", "Hướng dẫn cài VNeID và kích hoạt mức 2 cho bà con khóm", "lat", 10.2915, "lon", 105.7565, "accuracy_m", 12.5)
	}
	return ops
}

// BenchmarkPush measures one phone pushing batches of 1, 100 and 500 new logs through the
// real engine into a real SQLite file (WAL, synchronous=FULL): every batch is durable
// before the next is sent.
func BenchmarkPush(b *testing.B) {
	for _, size := range []int{1, 100, 500} {
		b.Run(fmt.Sprintf("batch=%d", size), func(b *testing.B) {
			db := sqlitetest.MustOpen(b)
			f := sqlitetest.MustFixture(b, db)
			db.Now = func() time.Time { return now }
			e := engine.New(db, func() time.Time { return now })
			var seq atomic.Int64
			ctx := context.Background()
			batches := make([][]schema.Op, b.N)
			for i := range batches {
				batches[i] = benchOps(size, f.SaDecHamlets, &seq)
			}
			cpu := cpuTime()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := e.Push(ctx, f.HongA, schema.PushRequest{DeviceTime: now.Format(time.RFC3339), Ops: batches[i]}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*size)/b.Elapsed().Seconds(), "ops/s")
			// CPU time per op is steadier than ops/s on a shared machine: compare it
			// between versions.
			b.ReportMetric(float64((cpuTime()-cpu).Microseconds())/float64(b.N*size), "cpu-µs/op")
		})
	}
}

// BenchmarkPushConcurrent measures many phones pushing at once: the writer groups their
// pushes into shared transactions (group commit).
func BenchmarkPushConcurrent(b *testing.B) {
	for _, c := range []struct{ phones, size int }{{8, 100}, {32, 100}, {32, 500}} {
		b.Run(fmt.Sprintf("phones=%d/batch=%d", c.phones, c.size), func(b *testing.B) {
			db := sqlitetest.MustOpen(b)
			f := sqlitetest.MustFixture(b, db)
			db.Now = func() time.Time { return now }
			e := engine.New(db, func() time.Time { return now })
			var seq atomic.Int64
			ctx := context.Background()
			actors := []schema.Actor{f.HongA, f.HongB, f.Minh}
			batches := make([][]schema.Op, b.N)
			for i := range batches {
				batches[i] = benchOps(c.size, f.SaDecHamlets, &seq)
			}
			var next atomic.Int64
			var wg sync.WaitGroup
			b.ResetTimer()
			cpu := cpuTime()
			for p := 0; p < c.phones; p++ {
				wg.Add(1)
				go func(a schema.Actor) {
					defer wg.Done()
					for {
						i := next.Add(1) - 1
						if i >= int64(b.N) {
							return
						}
						if _, err := e.Push(ctx, a, schema.PushRequest{DeviceTime: now.Format(time.RFC3339), Ops: batches[i]}); err != nil {
							b.Error(err)
							return
						}
					}
				}(actors[p%len(actors)])
			}
			wg.Wait()
			b.ReportMetric(float64(b.N*c.size)/b.Elapsed().Seconds(), "ops/s")
			b.ReportMetric(float64((cpuTime()-cpu).Microseconds())/float64(b.N*c.size), "cpu-µs/op")
			st := db.Stats()
			if st.Batches > 0 {
				b.ReportMetric(float64(st.Jobs)/float64(st.Batches), "pushes/tx")
			}
		})
	}
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
