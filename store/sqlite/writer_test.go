package sqlite_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/cdtsync/cdtsync/schema"
	"github.com/cdtsync/cdtsync/store/sqlite"
	"github.com/cdtsync/cdtsync/store/sqlite/sqlitetest"
)

// TestWriterGroupCommit: writes queued while the writer is busy share one transaction;
// a write that fails (an error or a panic) is undone alone and the others commit; the
// sequence numbers the failed write took are not used.
func TestWriterGroupCommit(t *testing.T) {
	db := sqlitetest.MustOpen(t)
	ctx := context.Background()
	gate := make(chan struct{})
	started := make(chan struct{})
	go db.Write(ctx, 0, func(tx *sqlite.Tx) error { // holds the writer while the others queue
		close(started)
		<-gate
		return nil
	})
	<-started
	const n = 40
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			errs[i] = db.Write(ctx, 1, func(tx *sqlite.Tx) error {
				tx.NextSeq()
				if _, err := tx.ExecContext(ctx, `INSERT INTO meta (key, value) VALUES (?, 'x')`, fmt.Sprintf("test-%d", i)); err != nil {
					return err
				}
				switch i {
				case 7:
					return schema.Errorf(schema.CodeConflict, "không được / refused")
				case 13:
					panic("a bug in one write")
				}
				return nil
			})
		}(i)
	}
	for db.Stats().QueueJobs < n {
		time.Sleep(time.Millisecond)
	}
	before := db.Stats().Batches
	close(gate)
	wg.Wait()
	for i, err := range errs {
		switch i {
		case 7:
			if schema.ErrorCode(err) != schema.CodeConflict {
				t.Errorf("write 7: %v", err)
			}
		case 13:
			if err == nil || errors.As(err, new(*schema.Error)) {
				t.Errorf("write 13 (panic): %v", err)
			}
		default:
			if err != nil {
				t.Errorf("write %d: %v", i, err)
			}
		}
	}
	if b := db.Stats().Batches - before; b > 3 {
		t.Errorf("%d writes took %d transactions; group commit should need one or two", n, b)
	}
	var count int
	var seq string
	db.WriteDB().QueryRow(`SELECT count(*) FROM meta WHERE key LIKE 'test-%'`).Scan(&count)
	db.WriteDB().QueryRow(`SELECT value FROM meta WHERE key = 'seq'`).Scan(&seq)
	if count != n-2 {
		t.Fatalf("%d writes committed, want %d", count, n-2)
	}
	var kinds int
	db.WriteDB().QueryRow(`SELECT count(*) FROM activity_kinds`).Scan(&kinds)
	if seq != fmt.Sprint(kinds+n-2) {
		t.Fatalf("sequence at %s, want %d: the failed writes' numbers must not be used", seq, kinds+n-2)
	}
}

// TestWriterOverload: beyond the queue bound a write fails at once with unavailable and
// a Retry-After, instead of waiting.
func TestWriterOverload(t *testing.T) {
	db, err := sqlite.Open(context.Background(), t.TempDir(), sqlite.Options{QueueJobs: 2, QueueOps: 100})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	gate := make(chan struct{})
	started := make(chan struct{})
	go db.Write(ctx, 0, func(*sqlite.Tx) error { close(started); <-gate; return nil })
	<-started
	var wg sync.WaitGroup
	for i := 0; i < 2; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); db.Write(ctx, 10, func(*sqlite.Tx) error { return nil }) }()
	}
	for db.Stats().QueueJobs < 2 {
		time.Sleep(time.Millisecond)
	}
	err = db.Write(ctx, 10, func(*sqlite.Tx) error { return nil })
	var se *schema.Error
	if !errors.As(err, &se) || se.Code != schema.CodeUnavailable || se.RetryAfter <= 0 {
		t.Fatalf("a write over the queue bound: %v", err)
	}
	close(gate)
	wg.Wait()
}

// TestWriterGiveUp: a caller that gives up while its write waits in the queue gets its
// context's error and the write never runs; a caller whose write the writer has begun
// waits for it and gets its true result — an error from Write always means not applied.
func TestWriterGiveUp(t *testing.T) {
	db := sqlitetest.MustOpen(t)
	gate := make(chan struct{})
	started := make(chan struct{})
	go db.Write(context.Background(), 0, func(tx *sqlite.Tx) error { close(started); <-gate; return nil })
	<-started

	// Queued behind the gate, then given up: never runs.
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan struct{}, 1)
	errc := make(chan error, 1)
	go func() {
		errc <- db.Write(ctx, 1, func(tx *sqlite.Tx) error { ran <- struct{}{}; return nil })
	}()
	for db.Stats().QueueJobs < 1 {
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("queued write given up: %v", err)
	}
	close(gate)

	// Begun, then given up: the caller waits and hears success.
	ctx2, cancel2 := context.WithCancel(context.Background())
	inside := make(chan struct{})
	release := make(chan struct{})
	errc2 := make(chan error, 1)
	go func() {
		errc2 <- db.Write(ctx2, 1, func(tx *sqlite.Tx) error {
			close(inside)
			<-release
			_, err := tx.ExecContext(context.Background(), `INSERT INTO meta (key, value) VALUES ('given-up', 'x')`)
			return err
		})
	}()
	<-inside
	cancel2()
	time.Sleep(20 * time.Millisecond)
	close(release)
	if err := <-errc2; err != nil {
		t.Fatalf("a begun write given up by its caller: %v, want its real result", err)
	}
	select {
	case <-ran:
		t.Fatal("the abandoned write ran")
	default:
	}
	var n int
	db.WriteDB().QueryRow(`SELECT count(*) FROM meta WHERE key = 'given-up'`).Scan(&n)
	if n != 1 {
		t.Fatalf("the begun write was not committed")
	}
}
