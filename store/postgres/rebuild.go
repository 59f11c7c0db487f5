package postgres

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cdtsync/cdtsync/schema"
	"github.com/cdtsync/cdtsync/sync/merge"
)

// Building the report aggregates from the logs, while pushes go on.
//
// A build is needed when the aggregates are missing, in an older format, or stale (a unit
// moved: every count above it changes). One transaction for the whole build would hold
// the reports lock exclusively for all of it, and every push's upkeep waits on that lock:
// about 50 minutes for a province of 10 million logs. So a build is a run of short
// transactions instead, like an index built concurrently:
//
//   - The first, under the reports lock held exclusively, empties the aggregates and sets
//     meta rpt_state = 'building', a cursor, rpt_build_after (the greatest log id added
//     so far), and a mark, rpt_build_seq: a number taken from change_seq, which every
//     write of a log row takes its position from.
//   - From then on every push and review keeps the aggregates up to date for the logs it
//     writes, as when they are ready: the upkeep diffs a log's contribution against the
//     one stored (rpt_contrib), whatever other logs are counted yet.
//   - Each next transaction of the build, under the reports lock held exclusively, adds
//     the next buildBatch eligible logs by id that were last written before the mark, as
//     they are then, and moves the cursor past them. The last, finding none left, folds
//     the cells' deltas and clears the state: the aggregates are ready.
//
// A log row written after the mark was written by a transaction that did its upkeep after
// the build began (it takes the reports lock shared, which the first transaction held
// exclusively when it took the mark), so the build leaves it out; a row last written before
// the mark is added by the build, and adding one whose contribution is stored already
// changes nothing. So the build's work is the logs there were when it began, whatever
// phones push meanwhile, with ids of any time (phones record offline and their clocks may
// be wrong): without the mark it chased them (measured at 929,000 logs with 8 phones
// pushing about 3,000 logs a second: it took 161 s for the logs there were, then went
// on to 2.0 M in another 235 s, taking what had just been pushed, docs/BENCHMARKS.md).
// A push waits at most for one batch. A unit moved during a build makes it start over
// (mode marks it stale). Reports wait for a build up to Options.ReportsWait and then
// answer CodeUnavailable with its progress; they never show a half-built count.
//
// Batches back to back would leave pushes only the gaps between them: measured at 929,000
// logs with 8 phones pushing, their rate fell from 4,200 to about 100 ops/s for the whole
// build (docs/BENCHMARKS.md). So a background build yields: after a batch that held the
// lock for d, no build of any process starts the next one before d has passed
// (meta rpt_build_next, on the database's clock), and pushes have the lock at least half
// the time.

// buildBatchDefault is how many logs a build's transaction adds: 0.15–0.4 s of a build
// on the 2-core machine, the longest a push waits for it.
const buildBatchDefault = 500

// reportsWait is the default of Options.ReportsWait.
const reportsWait = 5 * time.Second

// buildKeys are the meta keys of a build in progress.
const buildKeys = `'rpt_build_after', 'rpt_build_seq', 'rpt_build_done', 'rpt_build_total', 'rpt_build_next'`

// builder is a process's part in building the aggregates: at most one goroutine of this
// process drives the build (others, in other processes, may too: each batch is taken
// under the exclusive lock from the cursor it finds).
type builder struct {
	mu      sync.Mutex
	running bool
	closed  bool
	cancel  context.CancelFunc
	wg      sync.WaitGroup

	batch int                  // logs a transaction adds (Options.BuildBatch); 0 means buildBatchDefault
	after func(added []string) // called after each batch committed, with its logs (tests)
}

// start runs db.build in the background unless this process already does.
func (b *builder) start(db *DB) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.running || b.closed {
		return
	}
	b.running = true
	ctx, cancel := context.WithCancel(context.Background())
	b.cancel = cancel
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		defer cancel()
		start := time.Now()
		err := db.build(ctx, true)
		b.mu.Lock()
		b.running = false
		b.mu.Unlock()
		switch {
		case err != nil && ctx.Err() == nil:
			db.log.Warn("building the report aggregates; the next report starts it again", "err", err)
		case err == nil:
			db.log.Info("report aggregates built", "ms", time.Since(start).Milliseconds())
		}
	}()
}

// stop ends the background build after its current batch (Close).
func (b *builder) stop() {
	b.mu.Lock()
	b.closed = true
	if b.cancel != nil {
		b.cancel()
	}
	b.mu.Unlock()
	b.wg.Wait()
}

// build runs the build's transactions until the aggregates are ready. yield leaves
// pushes the reports lock between batches (a background build); a build nobody pushes
// during (migrate-store, tests) need not.
func (db *DB) build(ctx context.Context, yield bool) error {
	batch := db.builder.batch
	if batch <= 0 {
		batch = buildBatchDefault
	}
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		if wait, err := buildWait(ctx, db.pool); err != nil {
			return err
		} else if wait > 0 {
			if err := sleepCtx(ctx, wait); err != nil {
				return err
			}
			continue
		}
		var s step
		err := db.Write(ctx, 0, func(tx *Tx) error {
			var err error
			s, err = buildStep(ctx, tx, batch, yield)
			return err
		})
		if err != nil || s.ready {
			return err
		}
		if len(s.added) > 0 {
			if f := db.builder.after; f != nil {
				f(s.added)
			}
		}
	}
}

// buildWaitMS is how many milliseconds the next batch of a build must wait for the last
// one's yield (≤ 0: none).
const buildWaitMS = `coalesce((SELECT value::bigint FROM meta WHERE key = 'rpt_build_next'), 0)
	- (extract(epoch FROM clock_timestamp()) * 1000)::bigint`

// buildWait is how long the next batch of a build must wait for the last one's yield.
func buildWait(ctx context.Context, q querier) (time.Duration, error) {
	var ms int64
	err := q.QueryRow(ctx, `SELECT `+buildWaitMS).Scan(&ms)
	return time.Duration(max(ms, 0)) * time.Millisecond, err
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// buildLogsQuery reads a build's next batch: the logs after the cursor ($1) last written
// before the mark ($3), in id order. ORDER BY names the table's column: a bare "id" would
// be logColumns' id::text, sorted after reading every log past the cursor
// (TestPushQueriesUseIndexes).
const buildLogsQuery = `SELECT ` + logColumns + ` FROM logs WHERE logs.id > $1::uuid AND logs.seq < $3::bigint
	AND complete AND NOT deleted AND status IN ('pending', 'approved') ORDER BY logs.id LIMIT $2`

// step is what one transaction of a build did.
type step struct {
	ready bool     // the aggregates are ready: the build is over
	added []string // the ids of the logs added
}

// buildStep is one transaction of a build: it starts the build if the aggregates are
// stale, adds the next batch of logs if one is under way (unless the last batch's yield
// has not passed), and reports whether the aggregates are ready.
func buildStep(ctx context.Context, tx *Tx, batch int, yield bool) (step, error) {
	if err := tx.takeExclusive(ctx, lockReports); err != nil {
		return step{}, err
	}
	held := time.Now()
	b := &pgx.Batch{}
	st := queueReportState(b)
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return step{}, err
	}
	mode, err := st.mode(ctx, tx)
	switch {
	case err != nil:
		return step{}, err
	case mode == aggReady:
		return step{ready: true}, nil
	case mode == aggStale:
		return step{}, startBuild(ctx, tx)
	}
	// The cursor and the mark; and another process's builder may have added a batch since
	// this one looked. (A build begun without a mark takes every log.)
	var (
		waitMS, mark int64
		after        string
	)
	if err := tx.QueryRow(ctx, `SELECT `+buildWaitMS+`,
		coalesce((SELECT value FROM meta WHERE key = 'rpt_build_after'), '00000000-0000-0000-0000-000000000000'),
		coalesce((SELECT value::bigint FROM meta WHERE key = 'rpt_build_seq'), 9223372036854775807)`).Scan(&waitMS, &after, &mark); err != nil || waitMS > 0 {
		return step{}, err
	}
	logs := map[string]*merge.Log{}
	st2 := &syncTx{Tx: tx}
	if err := st2.queryLogs(ctx, logs, buildLogsQuery, after, batch, mark); err != nil {
		return step{}, err
	}
	if len(logs) == 0 {
		if err := compactAll(ctx, tx); err != nil {
			return step{}, err
		}
		_, err := tx.Exec(ctx, `DELETE FROM meta WHERE key IN ('rpt_state', `+buildKeys+`)`)
		return step{ready: err == nil}, err
	}
	last := ""
	added := make([]string, 0, len(logs))
	for id := range logs {
		if id > last { // canonical text (id::text) sorts as the uuids do
			last = id
		}
		added = append(added, id)
	}
	days, err := applyContribs(ctx, tx, logs, nil)
	if err != nil {
		return step{}, err
	}
	if err := days.apply(ctx); err != nil { // under the exclusive reports lock: no member locks
		return step{}, err
	}
	if _, err = tx.Exec(ctx, `UPDATE meta SET value = CASE key WHEN 'rpt_build_after' THEN $1
		ELSE (value::bigint + $2)::text END WHERE key IN ('rpt_build_after', 'rpt_build_done')`, last, len(logs)); err != nil {
		return step{}, err
	}
	if yield {
		_, err = tx.Exec(ctx, `INSERT INTO meta (key, value) VALUES ('rpt_build_next',
			((extract(epoch FROM clock_timestamp()) * 1000)::bigint + $1)::text)
			ON CONFLICT (key) DO UPDATE SET value = excluded.value`, time.Since(held).Milliseconds())
	}
	return step{added: added}, err
}

// startBuild empties the aggregates and starts a build from the first log.
func startBuild(ctx context.Context, tx *Tx) error {
	if _, err := tx.Exec(ctx, `TRUNCATE rpt_contrib, rpt_vdays, rpt_tdays, rpt_cells, rpt_cell_deltas, rpt_paths`); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `DELETE FROM meta WHERE key IN ('rpt_state', 'rpt_format', 'rpt_units_seq', `+buildKeys+`)`); err != nil {
		return err
	}
	if _, err := reportsReady(ctx, tx); err != nil { // records the format and the units' state
		return err
	}
	_, err := tx.Exec(ctx, `INSERT INTO meta (key, value) VALUES ('rpt_state', 'building'),
		('rpt_build_after', '00000000-0000-0000-0000-000000000000'), ('rpt_build_seq', nextval('change_seq')::text),
		('rpt_build_done', '0'),
		('rpt_build_total', (SELECT count(*) FROM logs WHERE complete AND NOT deleted AND status IN ('pending', 'approved'))::text)`)
	return err
}

// RebuildReports recomputes the report aggregates from the logs, and returns once they
// are ready. Pushes go on meanwhile, each waiting at most for one batch of the build.
func (db *DB) RebuildReports(ctx context.Context) error {
	err := db.Write(ctx, 0, func(tx *Tx) error {
		if err := tx.takeExclusive(ctx, lockReports); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO meta (key, value) VALUES ('rpt_state', 'stale')
			ON CONFLICT (key) DO UPDATE SET value = excluded.value`)
		return err
	})
	if err != nil {
		return err
	}
	return storageError(db.build(ctx, false))
}

// EnsureReports returns nil once the report aggregates are ready. When they are not (a
// database from before them, a unit moved since), it starts building them in the
// background — unless a build is already under way, here or in another process — and
// waits for it up to Options.ReportsWait; a build that takes longer answers
// CodeUnavailable with its progress, and goes on. Servers call it at start and before
// every report.
func (db *DB) EnsureReports(ctx context.Context) error {
	p, err := db.buildProgress(ctx)
	if err != nil || p.Ready {
		return err
	}
	// Not plainly ready: units may have changed without moving (mode records that).
	var mode aggMode
	err = db.Write(ctx, 0, func(tx *Tx) error {
		b := &pgx.Batch{}
		if err := tx.queueTakeShared(b, lockReports); err != nil {
			return err
		}
		st := queueReportState(b)
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return err
		}
		mode, err = st.mode(ctx, tx)
		return err
	})
	if err != nil || mode == aggReady {
		return err
	}
	db.builder.start(db)
	deadline := time.NewTimer(db.opts.ReportsWait)
	defer deadline.Stop()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-deadline.C:
			return p.unavailable()
		case <-tick.C:
		}
		if p, err = db.buildProgress(ctx); err != nil || p.Ready {
			return err
		}
		db.builder.start(db) // a build that failed, or ended with units moved, again
	}
}

// BuildProgress is the state of the report aggregates, for monitoring: ready, or the logs
// a build has added of those it began with (both 0 when the aggregates are stale and no
// build has begun).
type BuildProgress struct {
	Ready       bool
	Done, Total int64
}

// ReportsProgress reads the state of the report aggregates without writing.
func (db *DB) ReportsProgress(ctx context.Context) (BuildProgress, error) {
	return db.buildProgress(ctx)
}

// buildProgress reads whether the aggregates are ready, without writing: when they may
// be but the units changed since, it says not ready, and EnsureReports decides.
func (db *DB) buildProgress(ctx context.Context) (BuildProgress, error) {
	var (
		state, format, unitsSeq, done, total *string
		maxSeq                               *int64
	)
	err := db.pool.QueryRow(ctx, reportStateQuery+`, (SELECT value FROM meta WHERE key = 'rpt_build_done'),
		(SELECT value FROM meta WHERE key = 'rpt_build_total')`).Scan(&state, &format, &unitsSeq, &maxSeq, &done, &total)
	if err != nil {
		return BuildProgress{}, storageError(err)
	}
	var p BuildProgress
	p.Ready = state == nil && deref(format) == reportsFormat && deref(unitsSeq) == strconv.FormatInt(deref(maxSeq), 10)
	if deref(state) == "building" {
		p.Done, _ = strconv.ParseInt(deref(done), 10, 64)
		p.Total, _ = strconv.ParseInt(deref(total), 10, 64)
	}
	return p, nil
}

// unavailable is the answer to a report while the aggregates are being built.
func (p BuildProgress) unavailable() error {
	pct := int64(0)
	if p.Total > 0 {
		pct = min(99, p.Done*100/p.Total)
	}
	return &schema.Error{Code: schema.CodeUnavailable, RetryAfter: 30 * time.Second,
		Message: fmt.Sprintf("Báo cáo đang được tính lại từ nhật ký hoạt động (đã xong %d%%, %d/%d nhật ký), vui lòng thử lại sau ít phút / "+
			"the reports are being rebuilt from the activity logs (%d%% done, %d of %d logs); retry in a few minutes",
			pct, p.Done, p.Total, pct, p.Done, p.Total)}
}
