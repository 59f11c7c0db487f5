package engine_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cdtsync/cdtsync/schema"
	"github.com/cdtsync/cdtsync/sync/engine"
)

// cancellingStore cancels the caller's context just as the writer starts its write: the
// phone hung up, or the server's push deadline passed, at the worst moment.
type cancellingStore struct {
	store
	cancel context.CancelFunc
}

func (s cancellingStore) SyncWrite(ctx context.Context, weight int, fn func(engine.Tx) error) error {
	return s.store.SyncWrite(ctx, weight, func(tx engine.Tx) error {
		s.cancel()
		return fn(tx)
	})
}

// TestWriteRunsToTheEndOnceStarted: a push or review whose caller gives up after the
// writer began it still completes — its statements are not interrupted. An interrupted
// statement rolls back the whole group-commit transaction, which the writer then runs
// again without the failed write: under a storm of phones timing out, every batch ran
// several times and the storm fed itself (measured: a flood of 32 large pushes took 101 s
// instead of 7 s; server/ops_test.go TestPushFloodMemoryBounded).
func TestWriteRunsToTheEndOnceStarted(t *testing.T) {
	env := newEnv(t)
	ctx, cancel := context.WithCancel(context.Background())
	e := engine.New(cancellingStore{env.db, cancel}, func() time.Time { return now })
	var seq atomic.Int64
	ops := benchOps(50, env.f.SaDecHamlets, &seq)
	_, err := e.Push(ctx, env.f.HongA, schema.PushRequest{DeviceTime: now.Format(time.RFC3339), Ops: ops})
	if err != nil && err != context.Canceled {
		t.Fatalf("push: %v", err)
	}
	// Whatever the caller heard, the push was applied whole: resent, it answers
	// already_applied for every op.
	resp, err := engine.New(env.db, func() time.Time { return now }).Push(context.Background(), env.f.HongA,
		schema.PushRequest{DeviceTime: now.Format(time.RFC3339), Ops: ops})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range resp.Results {
		if r.Status != schema.ResultAlreadyApplied {
			t.Fatalf("resent op after a cancelled push: %+v", r)
		}
	}
}
