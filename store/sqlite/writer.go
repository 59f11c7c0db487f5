package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"runtime/debug"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cdtsync/cdtsync/schema"
)

// Tx is one unit of work inside the writer's transaction. It carries one fixed Now for
// the whole transaction. Lower-case store helpers take a *Tx; exported methods call
// DB.Write.
type Tx struct {
	*sql.Tx
	Now time.Time

	db    *DB
	seq   int64 // the last change sequence number allocated
	dirty bool
	after []func()
	stmts map[string]*sql.Stmt
}

// NextSeq allocates the next change sequence number. Every change a phone may pull gets
// one; pull cursors are positions in this sequence.
func (tx *Tx) NextSeq() int64 {
	tx.seq++
	tx.dirty = true
	return tx.seq
}

// AfterCommit registers fn to run after the transaction commits (never if it fails):
// the place to update in-memory caches.
func (tx *Tx) AfterCommit(fn func()) { tx.after = append(tx.after, fn) }

// stmt returns a statement for query prepared once per transaction (a group-commit
// transaction runs many pushes, each reusing it).
func (tx *Tx) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	if s, ok := tx.stmts[query]; ok {
		return s, nil
	}
	s, err := tx.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	if tx.stmts == nil {
		tx.stmts = map[string]*sql.Stmt{}
	}
	tx.stmts[query] = s
	return s, nil
}

// WriterStats are the writer's counters, for metrics.
type WriterStats struct {
	Batches     int64 // transactions committed or failed
	Jobs        int64 // writes run
	Rejected    int64 // writes refused because the queue was full
	QueueJobs   int64 // writes waiting now
	QueueOps    int64 // push operations waiting now
	LastBatchSz int   // writes in the last transaction
}

type job struct {
	ctx    context.Context
	weight int64
	fn     func(*Tx) error
	err    error
	failed bool // fn failed (err says why); not run again
	done   chan struct{}
	// state settles the race between a caller giving up and the writer starting the
	// write: jobQueued → jobTaken (the writer will run it; the caller waits for the end)
	// or → jobAbandoned (the caller gave up first; it never runs).
	state atomic.Int32
}

const (
	jobQueued int32 = iota
	jobTaken
	jobAbandoned
)

type writer struct {
	db       *DB
	jobs     chan *job
	maxOps   int64
	queueOps atomic.Int64
	quit     chan struct{}
	stopped  chan struct{}
	once     sync.Once

	batches, jobsRun, rejected atomic.Int64
	lastBatch                  atomic.Int64
	// BatchObserver, if set, is told the size of each group-commit batch (metrics).
	observe atomic.Pointer[func(jobs int, ops int64, d time.Duration)]
}

// Group commit bounds: one transaction takes at most this many writes or push operations.
const (
	maxBatchJobs = 128
	maxBatchOps  = 20000
)

func newWriter(db *DB, opts Options) *writer {
	qj, qo := opts.QueueJobs, int64(opts.QueueOps)
	if qj <= 0 {
		qj = 256
	}
	if qo <= 0 {
		qo = 50000
	}
	w := &writer{db: db, jobs: make(chan *job, qj), maxOps: qo, quit: make(chan struct{}),
		stopped: make(chan struct{})}
	go w.loop()
	return w
}

// errOverloaded is returned when the writer's queue is full.
func errOverloaded() error {
	return &schema.Error{Code: schema.CodeUnavailable, RetryAfter: 2 * time.Second,
		Message: "Máy chủ đang bận, vui lòng thử lại sau ít giây / the server is busy; retry in a few seconds"}
}

var errClosed = errors.New("sqlite: store closed")

// Write runs fn in the writer's transaction and returns after that transaction committed
// (its effects are on disk) or failed. Concurrent writes share one transaction and one
// fsync (group commit); a write whose fn fails is undone alone and the others commit —
// fn may therefore run more than once (in a transaction that is then rolled back), and
// must keep its effects to the transaction (use AfterCommit for anything else).
//
// weight is the number of push operations the write carries (0 for other writes): queued
// weight is bounded, and when the queue is full Write fails at once with a
// CodeUnavailable error carrying RetryAfter. A storage failure fails every write of the
// transaction: nothing is half-applied. If ctx ends while the write waits in the queue,
// Write returns ctx.Err() and the write never runs; once the writer has begun it, Write
// waits for its end whatever ctx does. So an error from Write always means nothing of fn
// was applied, and success means it is on disk.
func (db *DB) Write(ctx context.Context, weight int, fn func(*Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	w := db.w
	j := &job{ctx: ctx, weight: int64(weight), fn: fn, done: make(chan struct{})}
	if j.weight > 0 {
		// A write larger than the bound is still taken when nothing else waits.
		if prev := w.queueOps.Add(j.weight) - j.weight; prev > 0 && prev+j.weight > w.maxOps {
			w.queueOps.Add(-j.weight)
			w.rejected.Add(1)
			return errOverloaded()
		}
	}
	select {
	case <-w.quit:
		w.queueOps.Add(-j.weight)
		return errClosed
	default:
	}
	select {
	case w.jobs <- j:
	default:
		w.queueOps.Add(-j.weight)
		w.rejected.Add(1)
		return errOverloaded()
	}
	select {
	case <-j.done:
		return j.err
	case <-ctx.Done():
		if j.state.CompareAndSwap(jobQueued, jobAbandoned) {
			return ctx.Err()
		}
		<-j.done // taken: it runs to its end, and its result is the answer
		return j.err
	case <-w.stopped:
		select {
		case <-j.done:
			return j.err
		default:
			return errClosed
		}
	}
}

// Stats returns the writer's counters.
func (db *DB) Stats() WriterStats {
	w := db.w
	return WriterStats{Batches: w.batches.Load(), Jobs: w.jobsRun.Load(), Rejected: w.rejected.Load(),
		QueueJobs: int64(len(w.jobs)), QueueOps: w.queueOps.Load(), LastBatchSz: int(w.lastBatch.Load())}
}

// ObserveBatches registers fn to be told of every group-commit transaction: how many
// writes and push operations it held and how long it took.
func (db *DB) ObserveBatches(fn func(jobs int, ops int64, d time.Duration)) { db.w.observe.Store(&fn) }

func (w *writer) close() {
	w.once.Do(func() { close(w.quit) })
	<-w.stopped
}

func (w *writer) loop() {
	defer close(w.stopped)
	for {
		select {
		case j := <-w.jobs:
			w.run(w.gather(j))
		case <-w.quit:
			for {
				select {
				case j := <-w.jobs:
					w.run(w.gather(j))
				default:
					return
				}
			}
		}
	}
}

// gather takes the writes already waiting, up to the batch bounds. It never waits for
// more: while one transaction commits, the next batch queues up by itself.
func (w *writer) gather(first *job) []*job {
	batch := []*job{first}
	ops := first.weight
	for len(batch) < maxBatchJobs && ops < maxBatchOps {
		select {
		case j := <-w.jobs:
			batch = append(batch, j)
			ops += j.weight
		default:
			return batch
		}
	}
	return batch
}

func (w *writer) run(batch []*job) {
	start := time.Now()
	var ops int64
	for _, j := range batch {
		ops += j.weight
	}
	defer func() {
		w.queueOps.Add(-ops)
		w.batches.Add(1)
		w.jobsRun.Add(int64(len(batch)))
		w.lastBatch.Store(int64(len(batch)))
		if fn := w.observe.Load(); fn != nil {
			(*fn)(len(batch), ops, time.Since(start))
		}
		for _, j := range batch {
			close(j.done)
		}
	}()
	// Run the batch in one transaction. A write whose fn fails is dropped and the others
	// run again in a fresh transaction: writes fail rarely (per-op rejections are data,
	// not errors), so this costs less than a savepoint per write, whose statement journal
	// copies every page the write touches.
	for {
		failed, err := w.attempt(batch)
		if err != nil { // the disk or the database failed: nothing of the batch commits
			err = storageError(err)
			for _, j := range batch {
				if j.err == nil {
					j.err = err
				}
			}
			return
		}
		if failed == nil {
			return
		}
		failed.failed = true
	}
}

// attempt runs the batch's pending writes in one transaction and commits it. It returns
// the first write whose fn failed (the transaction is rolled back; the caller runs the
// others again without it), or an error if the database failed.
func (w *writer) attempt(batch []*job) (*job, error) {
	ctx := context.Background()
	sqlTx, err := w.db.write.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	tx := &Tx{Tx: sqlTx, Now: w.db.Now().UTC(), db: w.db}
	var seq string
	if err := sqlTx.QueryRowContext(ctx, `SELECT value FROM meta WHERE key = 'seq'`).Scan(&seq); err != nil {
		sqlTx.Rollback()
		return nil, err
	}
	if tx.seq, err = strconv.ParseInt(seq, 10, 64); err != nil {
		sqlTx.Rollback()
		return nil, err
	}
	ran := 0
	for _, j := range batch {
		if j.failed {
			continue
		}
		if !j.state.CompareAndSwap(jobQueued, jobTaken) && j.state.Load() != jobTaken {
			j.err, j.failed = j.ctx.Err(), true // the caller gave up before the write began
			continue
		}
		if err := callSafely(j.fn, tx); err != nil {
			sqlTx.Rollback()
			j.err = storageError(err)
			if isStorageFailure(j.err) {
				return nil, j.err
			}
			return j, nil
		}
		ran++
	}
	if ran == 0 {
		sqlTx.Rollback()
		return nil, nil
	}
	if tx.dirty {
		if _, err := sqlTx.ExecContext(ctx, `UPDATE meta SET value = ? WHERE key = 'seq'`, strconv.FormatInt(tx.seq, 10)); err != nil {
			sqlTx.Rollback()
			return nil, err
		}
	}
	if err := sqlTx.Commit(); err != nil {
		return nil, err
	}
	for _, fn := range tx.after {
		fn()
	}
	return nil, nil
}

// isStorageFailure reports whether err says the disk failed (full, read-only, I/O).
func isStorageFailure(err error) bool {
	switch schema.ErrorCode(err) {
	case schema.CodeStorageFull, schema.CodeUnavailable:
		return true
	}
	return false
}

// callSafely runs fn, turning a panic into an internal error so one bad write cannot take
// the writer down with the others.
func callSafely(fn func(*Tx) error, tx *Tx) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic in write: %v\n%s", r, debug.Stack())
		}
	}()
	return fn(tx)
}
