// Package postgres is cdtsync's PostgreSQL store: the data model and the methods of the
// SQLite store (store/sqlite), for a national deployment where several stateless cdtsync
// servers share one PostgreSQL database.
//
// Writers run concurrently, one transaction per unit of work (READ COMMITTED), in as many
// server processes as there are. What SQLite gets from its single writer is made explicit
// here:
//
//   - Exactly once and convergence: a push takes transaction-scoped advisory locks on what
//     it reads before reading it — its op ids, then its logs, then the once-per-person
//     groups (kind, citizen_ref) those logs were or will be in, then the report members it
//     changes — each class in ascending key order, classes always in that order, so
//     concurrent pushes of the same logs, ops or groups run one after the other and never
//     wait in a cycle (locks.go). A re-sent batch waits for the first send and then reads
//     its stored results: already_applied.
//   - Pull order: every pullable row carries its position (tx, seq), the writing
//     transaction's id and a sequence number. Transactions commit in any order, so a pull
//     returns only rows of transactions older than every transaction still running
//     (pg_snapshot_xmin): a late commit can never fall behind a cursor (pull.go).
//   - Durability: a write returns after COMMIT, with synchronous_commit on.
//
// Every acknowledged write is on disk as far as the PostgreSQL server's settings make it
// (fsync, synchronous_commit, and synchronous replication if configured); Open refuses
// synchronous_commit=off for its own sessions.
package postgres

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/cdtsync/cdtsync/schema"
)

// DB is the PostgreSQL store. Create it with Open; Close it when done. It is safe for
// concurrent use, and several DBs in several processes may share one database.
type DB struct {
	// Now is the clock of every transaction; tests inject their own. Set before use.
	Now func() time.Time

	pool    *pgxpool.Pool
	replica *replica // reports' database (Options.ReportURL), or nil
	opts    Options
	log     *slog.Logger

	// Admission: push operations in flight in this process (Options.MaxOps).
	opsInFlight atomic.Int64
	rejected    atomic.Int64
	stats       stats

	pullMu sync.Mutex
	pulled map[int64]time.Time // when each device's last pull was written (NotePull)

	compactMu   sync.Mutex
	compactStop chan struct{}
	compactDone chan struct{}

	builder builder // this process's part in building the report aggregates
	// beforeReportRead, if set, runs between a report's EnsureReports and its read (tests).
	beforeReportRead func()
}

// Options tune Open. The zero value is the production setting.
type Options struct {
	// MaxConns bounds the connections of this process's pool. 0 means 4 per CPU, at
	// least 8. The sum over every server process must stay under the PostgreSQL server's
	// max_connections (or a pooler's limit): docs/SCALING.md.
	MaxConns int32
	// MaxOps bounds the push operations this process runs or waits to run at once; beyond
	// it a push fails at once with CodeUnavailable and Retry-After (the server answers 503).
	// 0 means 50,000, the SQLite writer's queue bound.
	MaxOps int64
	// CompactEvery is how often this process folds report cell deltas into their cells
	// (cells.go); 0 means 2 s, negative never (tests that compact by hand).
	CompactEvery time.Duration
	// PullWait bounds how long a pull waits for older transactions to end so that a phone
	// finds the writes it just made (pull.go); 0 means 2 s.
	PullWait time.Duration
	// ReportsWait bounds how long a report waits for a build of the aggregates that is
	// under way (rebuild.go) before it answers CodeUnavailable with the build's progress;
	// 0 means 5 s.
	ReportsWait time.Duration
	// BuildBatch is how many logs each transaction of a build of the aggregates adds
	// (rebuild.go), the longest a push waits for one; 0 means 500.
	BuildBatch int
	// Logger receives warnings (a server with fsync off, a failed compaction); nil means
	// slog.Default().
	Logger *slog.Logger
	// ReportURL, if set, is a read replica (hot standby) of the database that coverage
	// and team reports read (replica.go); "" reads them on the primary.
	ReportURL string
}

// Open connects to the database at url (postgres://…), applies the embedded migrations
// the database lacks, checks that the database is still in the history its positions
// come from (history.go: a copy from another cluster is re-based and gets a new epoch),
// and starts the report compactor. A database written by a newer
// cdtsync is refused with *sqlite.ErrNewerDatabase's message. ctx bounds the connection
// and the migrations.
func Open(ctx context.Context, url string, opts Options) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	if opts.MaxConns > 0 {
		cfg.MaxConns = opts.MaxConns
	} else if cfg.MaxConns < 8 {
		cfg.MaxConns = 8
	}
	if opts.MaxOps <= 0 {
		opts.MaxOps = 50_000
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.ReportsWait <= 0 {
		opts.ReportsWait = reportsWait
	}
	if opts.PullWait <= 0 {
		opts.PullWait = pullWait
	}
	// Our acknowledgements promise the write is on disk: never commit asynchronously,
	// whatever the server's default; a stronger setting (remote_apply) is kept.
	cfg.AfterConnect = func(ctx context.Context, c *pgx.Conn) error {
		var v string
		if err := c.QueryRow(ctx, `SELECT current_setting('synchronous_commit')`).Scan(&v); err != nil {
			return err
		}
		if v == "off" {
			_, err := c.Exec(ctx, `SET synchronous_commit = on`)
			return err
		}
		return nil
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, storageError(err)
	}
	db := &DB{Now: time.Now, pool: pool, opts: opts, log: opts.Logger}
	db.builder.batch = opts.BuildBatch
	if err := migrate(ctx, pool, db.Now); err != nil {
		pool.Close()
		return nil, err
	}
	if err := db.checkHistory(ctx); err != nil { // history.go
		pool.Close()
		return nil, err
	}
	var fsync string
	if err := pool.QueryRow(ctx, `SELECT current_setting('fsync')`).Scan(&fsync); err == nil && fsync != "on" {
		db.log.Warn("PostgreSQL runs with fsync off: acknowledged pushes can be lost on a crash")
	}
	db.checkLockTable(ctx)
	if opts.ReportURL != "" {
		if err := db.openReplica(ctx, opts.ReportURL); err != nil {
			pool.Close()
			return nil, err
		}
	}
	db.startCompactor()
	return db, nil
}

// locksPerPush is the most advisory locks one push of n operations takes (locks.go): an op
// id, a log, a once-per-person group, a person and a household for each operation, and a
// few volunteers, team days and tables besides.
func locksPerPush(n int) int64 { return 5*int64(n) + 64 }

// checkLockTable warns when PostgreSQL's lock table cannot hold the locks of two server
// processes like this one, each running pushes of the largest size on every connection
// of its pool. Past the table's size PostgreSQL fails transactions with "out of shared
// memory"; Write retries them and then answers 503 busy, but the deployment is then
// paced by its configuration, not by its machines.
func (db *DB) checkLockTable(ctx context.Context) {
	var perTx, conns, prepared int64
	err := db.pool.QueryRow(ctx, `SELECT current_setting('max_locks_per_transaction')::bigint,
		current_setting('max_connections')::bigint, current_setting('max_prepared_transactions')::bigint`).Scan(&perTx, &conns, &prepared)
	if err != nil {
		db.log.Warn("cannot read PostgreSQL's lock table settings", "err", err)
		return
	}
	table := perTx * (conns + prepared)
	need := int64(db.pool.Config().MaxConns) * locksPerPush(schema.MaxOpsPerPush)
	if table >= 2*need {
		return
	}
	want := (2*need + conns + prepared - 1) / (conns + prepared)
	db.log.Warn("PostgreSQL's lock table is small for concurrent pushes; set max_locks_per_transaction higher (docs/SCALING.md)",
		"max_locks_per_transaction", perTx, "max_connections", conns, "lock_table", table,
		"locks_this_process_may_hold", need, "recommended_max_locks_per_transaction", want)
}

// Close stops the compactor and closes the pool after the queries in flight.
func (db *DB) Close() error {
	db.stopCompactor()
	db.builder.stop()
	db.pool.Close()
	if db.replica != nil {
		db.replica.pool.Close()
	}
	return nil
}

// Pool returns the connection pool, for admin commands and tests.
func (db *DB) Pool() *pgxpool.Pool { return db.pool }

// Tx is one unit of work in a write transaction, with one fixed Now.
type Tx struct {
	pgx.Tx
	Now time.Time

	db    *DB
	locks lockState
	// syncState is what the engine's transaction (sync.go) remembers between its calls.
	locked map[string]bool // logs this transaction locked (Logs): written whole; others narrowly
}

// errOverloaded is returned when this process has MaxOps push operations in flight.
func errOverloaded() error {
	return &schema.Error{Code: schema.CodeUnavailable, RetryAfter: 2 * time.Second,
		Message: "Máy chủ đang bận, vui lòng thử lại sau ít giây / the server is busy; retry in a few seconds"}
}

// maxAttempts bounds how often a write is run again after PostgreSQL aborted it to break
// a deadlock or a serialization conflict.
const maxAttempts = 5

// Write runs fn in a transaction and returns after it committed or failed. weight is the
// number of push operations the write carries (0 for other writes): past Options.MaxOps
// in flight in this process Write fails at once with CodeUnavailable and RetryAfter.
//
// fn may run more than once: PostgreSQL may abort a transaction to break a deadlock or a
// serialization conflict, and Write then runs fn again in a new transaction; fn must keep
// its effects to the transaction. A storage failure is CodeStorageFull or CodeUnavailable
// (with RetryAfter) and nothing of fn's writes remains. If ctx is cancelled while the
// write waits for a connection, Write returns an error; a write whose transaction began
// runs to its end (the engine passes a context that is not cancelled), and a commit whose
// answer was lost may have been applied: re-sent pushes answer already_applied.
func (db *DB) Write(ctx context.Context, weight int, fn func(*Tx) error) error {
	return db.write(ctx, weight, pgx.TxOptions{}, fn)
}

// pushTx begins a push's transaction with generic plans for its statements, in the BEGIN's
// own round trip. Every statement of the push path looks rows up by keys or arrays of keys
// (TestPushQueriesUseIndexes checks the generic plans of the reads by ref); left to choose,
// PostgreSQL planned several of them again at every run, a tenth of its CPU at pushes of 20.
var pushTx = pgx.TxOptions{BeginQuery: "BEGIN; SET LOCAL plan_cache_mode = force_generic_plan"}

func (db *DB) write(ctx context.Context, weight int, opts pgx.TxOptions, fn func(*Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if weight > 0 {
		w := int64(weight)
		if prev := db.opsInFlight.Add(w) - w; prev > 0 && prev+w > db.opts.MaxOps {
			db.opsInFlight.Add(-w)
			db.rejected.Add(1)
			return errOverloaded()
		}
		defer db.opsInFlight.Add(-w)
	}
	start := time.Now()
	var err error
	for attempt := 1; ; attempt++ {
		err = db.attempt(ctx, opts, fn)
		if err == nil || attempt == maxAttempts || !retryable(err) {
			break
		}
		db.stats.retries.Add(1)
		pause := time.Duration(attempt) * time.Millisecond
		if lockTableFull(err) {
			// Other transactions release their locks when they end: give them the time of
			// a few pushes, with jitter so that the waiting ones do not all come back at once.
			pause = time.Duration(attempt)*50*time.Millisecond + time.Duration(mrand.Int64N(int64(50*time.Millisecond)))
		}
		time.Sleep(pause)
	}
	db.stats.observe(int64(weight), time.Since(start), err)
	return storageError(err)
}

func (db *DB) attempt(ctx context.Context, opts pgx.TxOptions, fn func(*Tx) error) error {
	conn, err := db.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	// Once begun, the transaction is not interrupted by the caller giving up.
	bg := context.WithoutCancel(ctx)
	ptx, err := conn.BeginTx(bg, opts)
	if err != nil {
		return err
	}
	tx := &Tx{Tx: ptx, Now: db.Now().UTC().Truncate(time.Millisecond), db: db}
	if err := callSafely(fn, tx); err != nil {
		ptx.Rollback(bg)
		return err
	}
	return ptx.Commit(bg)
}

// callSafely runs fn, turning a panic into an error.
func callSafely(fn func(*Tx) error, tx *Tx) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic in write: %v\n%s", r, debug.Stack())
		}
	}()
	return fn(tx)
}

// retryable reports whether PostgreSQL aborted the transaction to break a deadlock or a
// serialization conflict: running it again is the documented answer.
// A transaction that found PostgreSQL's lock table full is retried too: nothing of it
// remains, and the table empties as the other transactions end (lockTableFull).
func retryable(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code == "40P01" || pe.Code == "40001" || pe.Code == "53200"
	}
	return false
}

// lockTableFull reports whether err is PostgreSQL's "out of shared memory" (53200), which
// it answers when its lock table is full: the push path's advisory locks (locks.go) need
// max_locks_per_transaction to be sized for them (checkLockTable, docs/SCALING.md).
func lockTableFull(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "53200"
}

// Retry-After of storage failures, as the SQLite store gives them.
const (
	retryStorageFull = 60 * time.Second
	retryNotWritable = 10 * time.Second
)

func errStorageFull() *schema.Error {
	return &schema.Error{Code: schema.CodeStorageFull, RetryAfter: retryStorageFull,
		Message: "Máy chủ hết dung lượng lưu trữ; dữ liệu chưa được ghi, hãy gửi lại sau / the server's disk is full; nothing was stored, resend later"}
}

func errNotWritable() *schema.Error {
	return &schema.Error{Code: schema.CodeUnavailable, RetryAfter: retryNotWritable,
		Message: "Cơ sở dữ liệu tạm thời không ghi được; dữ liệu chưa được ghi, hãy gửi lại sau / the database cannot be written right now; nothing was stored, resend later"}
}

// storageError classifies a PostgreSQL failure by SQLSTATE, never by message text: a full
// disk is CodeStorageFull; a database that cannot be reached, is shutting down, refuses
// connections or writes (a read-only standby) is CodeUnavailable. Both are worth a retry
// later.
func storageError(err error) error {
	if err == nil {
		return nil
	}
	var se *schema.Error
	if errors.As(err, &se) {
		return err
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case pe.Code == "53100": // disk_full
			return &wrapped{errStorageFull(), err}
		case pe.Code == "53200": // out of shared memory: the lock table is full, still after retries
			return &wrapped{errOverloaded().(*schema.Error), err}
		case pe.Code == "25006", // read_only_sql_transaction (a standby)
			pe.Code == "53300",                                         // too_many_connections
			pe.Code == "57P01", pe.Code == "57P02", pe.Code == "57P03", // shutdown, cannot connect now
			pe.Code == "55P03", // lock_not_available
			pe.Code == "40P01", pe.Code == "40001",
			len(pe.Code) == 5 && pe.Code[:2] == "08", // connection exceptions
			len(pe.Code) == 5 && pe.Code[:2] == "58": // system errors (I/O)
			return &wrapped{errNotWritable(), err}
		}
		return err
	}
	if pgconn.SafeToRetry(err) || pgconn.Timeout(err) || isConnError(err) {
		return &wrapped{errNotWritable(), err}
	}
	return err
}

func isConnError(err error) bool {
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		return true
	}
	return errors.Is(err, pgx.ErrTxClosed) || errors.Is(err, context.DeadlineExceeded)
}

// wrapped is a *schema.Error that keeps its cause for logs.
type wrapped struct {
	err   *schema.Error
	cause error
}

func (w *wrapped) Unwrap() []error { return []error{w.err, w.cause} }
func (w *wrapped) Error() string   { return w.err.Error() + " (" + w.cause.Error() + ")" }

// isUnique reports whether err is a unique violation.
func isUnique(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505"
}

// isConstraint reports whether err is an integrity constraint violation of any kind.
func isConstraint(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && len(pe.Code) == 5 && pe.Code[:2] == "23"
}

// Ping checks that the database takes a write: /readyz uses it. CodeUnavailable when it
// cannot be reached or written (a standby after a failover), CodeStorageFull when its disk
// is full.
func (db *DB) Ping(ctx context.Context) error {
	return db.Write(ctx, 0, func(tx *Tx) error {
		_, err := tx.Exec(ctx, `UPDATE meta SET value = value WHERE key = 'epoch'`)
		return err
	})
}

// Epoch returns the database's epoch, part of every pull cursor.
func (db *DB) Epoch(ctx context.Context) (string, error) { return db.metaValue(ctx, "epoch") }

// CitizenKey returns the deployment's key for citizen_ref HMACs (sent to phones at
// enrolment). It is never logged.
func (db *DB) CitizenKey(ctx context.Context) ([]byte, error) {
	v, err := db.metaValue(ctx, "citizen_key")
	if err != nil {
		return nil, err
	}
	return base64.StdEncoding.DecodeString(v)
}

func (db *DB) metaValue(ctx context.Context, key string) (string, error) {
	var v string
	err := db.pool.QueryRow(ctx, `SELECT value FROM meta WHERE key = $1`, key).Scan(&v)
	return v, storageError(err)
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

// stats are this process's write counters, for metrics.
type stats struct {
	writes, failed, retries, ops atomic.Int64
	observer                     atomic.Pointer[func(ops int64, d time.Duration, err error)]
}

func (s *stats) observe(ops int64, d time.Duration, err error) {
	s.writes.Add(1)
	s.ops.Add(ops)
	if err != nil {
		s.failed.Add(1)
	}
	if fn := s.observer.Load(); fn != nil {
		(*fn)(ops, d, err)
	}
}

// WriterStats are this process's write counters.
type WriterStats struct {
	Writes   int64 // transactions run (committed or failed)
	Failed   int64 // of which failed
	Retries  int64 // transactions run again after a deadlock, a serialization abort or a full lock table
	Ops      int64 // push operations written
	InFlight int64 // push operations running or waiting now
	Rejected int64 // writes refused because MaxOps were in flight
	// Pool: connections open, in use, and waits for one.
	Conns, ConnsInUse int32
	ConnWaits         int64
}

// Stats returns this process's write counters.
func (db *DB) Stats() WriterStats {
	ps := db.pool.Stat()
	return WriterStats{Writes: db.stats.writes.Load(), Failed: db.stats.failed.Load(), Retries: db.stats.retries.Load(),
		Ops: db.stats.ops.Load(), InFlight: db.opsInFlight.Load(), Rejected: db.rejected.Load(),
		Conns: ps.TotalConns(), ConnsInUse: ps.AcquiredConns(), ConnWaits: ps.EmptyAcquireCount()}
}

// ObserveWrites calls fn after every write transaction with its push operations, its
// duration and its error.
func (db *DB) ObserveWrites(fn func(ops int64, d time.Duration, err error)) {
	db.stats.observer.Store(&fn)
}
