package engine_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/cdtsync/cdtsync/schema"
	"github.com/cdtsync/cdtsync/sync/engine"
)

// TestConcurrentPushes: phones pushing at once (sharing group-commit transactions), each
// batch sent twice concurrently, with reviews and pulls running beside them. Every op is
// applied once; the race detector watches the engine, the writer and the clock.
func TestConcurrentPushes(t *testing.T) {
	v := newEnv(t)
	f := v.f
	ctx := context.Background()
	phones := []schema.Actor{f.HongA, f.HongB, f.Minh, f.Mai}
	const batches, size = 6, 20
	var wg sync.WaitGroup
	applied := make([]int, len(phones))
	var mu sync.Mutex
	for pi, a := range phones {
		hamlets := f.SaDecHamlets
		if a.UnitID == f.TanDuong {
			hamlets = f.TanDuongHamlets
		}
		for b := 0; b < batches; b++ {
			ops := make([]schema.Op, size)
			for i := range ops {
				ops[i] = create(newID(), at(-time.Minute), hamlets[i%len(hamlets)], "vneid_level2", now.Add(-time.Duration(i)*time.Minute),
					"citizen_ref", ref(i), "consent", true)
			}
			for copy := 0; copy < 2; copy++ { // the same batch twice, at once
				wg.Add(1)
				go func(pi int, a schema.Actor, ops []schema.Op) {
					defer wg.Done()
					resp, err := v.e.Push(ctx, a, schema.PushRequest{DeviceTime: now.Format(time.RFC3339), Ops: ops})
					if err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					defer mu.Unlock()
					for _, r := range resp.Results {
						if r.Status == schema.ResultApplied {
							applied[pi]++
						}
					}
				}(pi, a, ops)
			}
		}
		wg.Add(1)
		go func(a schema.Actor) {
			defer wg.Done()
			for i := 0; i < 5; i++ {
				if _, err := v.e.Pull(ctx, a, "", 50); err != nil {
					t.Error(err)
				}
			}
		}(a)
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < 5; i++ {
			page, err := v.db.ListReviews(ctx, f.CoordSaDec, schema.ReviewFilter{Limit: 10})
			if err != nil {
				t.Error(err)
				return
			}
			var ds []engine.Decision
			for _, it := range page.Items {
				ds = append(ds, engine.Decision{ID: it.ID, Status: schema.StatusApproved})
			}
			if len(ds) > 0 {
				if _, err := v.e.Review(ctx, f.CoordSaDec, ds); err != nil {
					t.Error(err)
				}
			}
		}
	}()
	wg.Wait()
	for pi, n := range applied {
		if n != batches*size {
			t.Errorf("phone %s: %d ops applied, want %d (each exactly once)", phones[pi].DeviceID, n, batches*size)
		}
	}
	total := 0
	for _, a := range []schema.Actor{f.HongA, f.Minh, f.Mai} {
		total += len(v.pullAll(a, 1000))
	}
	if total != len(phones)*batches*size {
		t.Fatalf("%d logs pulled, want %d", total, len(phones)*batches*size)
	}
	// Each person (ref) has one canonical vneid_level2 log per… the whole deployment: the
	// same 20 refs were used by every phone, so exactly 20 logs are not duplicates.
	canonical := 0
	for _, a := range []schema.Actor{f.HongA, f.Minh, f.Mai} {
		for _, l := range v.pullAll(a, 1000) {
			if l.Status != schema.StatusDuplicate {
				canonical++
			}
		}
	}
	if canonical != size {
		t.Fatalf("%d canonical logs, want %d (one per person)", canonical, size)
	}
}
