// Package sqlite is cdtsync's SQLite store: one writer connection that groups concurrent
// writes into one transaction (group commit), and a pool of read connections.
//
// Every acknowledged write is on disk: the writer runs with synchronous=FULL, and a write
// returns only after its transaction committed.
package sqlite

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	sqlite3 "modernc.org/sqlite"
	sqlite3lib "modernc.org/sqlite/lib"

	"github.com/cdtsync/cdtsync/schema"
)

// FileName is the database file inside the data directory.
const FileName = "cdtsync.db"

// DB is the SQLite store. Create it with Open; Close it when done.
type DB struct {
	// Now is the clock of every transaction; tests inject their own. Set before use.
	Now func() time.Time

	path  string
	write *sql.DB // exactly one connection: SQLite has one writer, we fix contention here
	read  *sql.DB // a pool of query-only connections

	w        *writer
	maxPages atomic.Int64 // the size cap set by Options.MaxPages or SetMaxPages; 0: none

	pullMu sync.Mutex
	pulled map[int64]time.Time // when each device's last pull was written (NotePull)
}

// Options tune Open. The zero value is the production setting.
type Options struct {
	// QueueJobs bounds the writes waiting for the writer; beyond it a write fails at once
	// with CodeUnavailable (the server answers 503 with Retry-After). 0 means 256.
	QueueJobs int
	// QueueOps bounds the push operations waiting for the writer (memory bound). 0 means 50,000.
	QueueOps int
	// MaxPages, if set, caps the database size (PRAGMA max_page_count): tests use it to
	// simulate a full disk. SetMaxPages changes it while the store runs.
	MaxPages int
	// BusyTimeout is how long the writer waits for a lock another process holds (a backup
	// tool, an sqlite3 shell) before the write fails with CodeUnavailable. 0 means 10 s.
	BusyTimeout time.Duration
}

// dsn builds the connection string. Every pragma is per connection, so it is in the DSN
// and applies to each connection the pool opens.
func dsn(path string, readOnly bool) string {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)") // wait for a lock rather than fail: readers checkpointing, backups
	q.Add("_pragma", "foreign_keys(1)")     // references are invariants too
	q.Add("_pragma", "journal_mode(WAL)")   // readers never block the writer, and Litestream can follow the WAL
	// FULL: a commit is fsynced before it returns. NORMAL can lose acknowledged commits on
	// power loss, and our 200 promises the op is on disk.
	q.Add("_pragma", "synchronous(FULL)")
	q.Add("_pragma", "cache_size(-16000)") // 16 MB of page cache per connection
	q.Add("_pragma", "temp_store(MEMORY)") // sorts and temporary indexes stay off the disk
	if readOnly {
		q.Add("_pragma", "query_only(1)") // a read connection can never write by mistake
	} else {
		q.Set("_txlock", "immediate") // take the write lock at BEGIN, not at the first write
	}
	return "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + q.Encode()
}

// Open opens (creating if needed) the database in dir, applies the embedded migrations,
// and starts the writer. A database written by a newer cdtsync is refused with an error
// that says so.
func Open(ctx context.Context, dir string, opts Options) (*DB, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	return OpenFile(ctx, filepath.Join(dir, FileName), opts)
}

// OpenFile is Open for a database file path.
func OpenFile(ctx context.Context, path string, opts Options) (*DB, error) {
	db := &DB{Now: time.Now, path: path}
	var err error
	if db.write, err = sql.Open("sqlite", dsn(path, false)); err != nil {
		return nil, err
	}
	db.write.SetMaxOpenConns(1)
	db.write.SetMaxIdleConns(1)
	db.write.SetConnMaxLifetime(0)
	db.write.SetConnMaxIdleTime(0)
	if opts.MaxPages > 0 {
		// max_page_count is per connection; the writer has exactly one, so setting it once holds.
		if _, err := db.write.ExecContext(ctx, fmt.Sprintf("PRAGMA max_page_count = %d", opts.MaxPages)); err != nil {
			db.write.Close()
			return nil, err
		}
		db.maxPages.Store(int64(opts.MaxPages))
	}
	if opts.BusyTimeout > 0 {
		if _, err := db.write.ExecContext(ctx, fmt.Sprintf("PRAGMA busy_timeout = %d", opts.BusyTimeout.Milliseconds())); err != nil {
			db.write.Close()
			return nil, err
		}
	}
	if err := migrate(ctx, db.write, db.Now); err != nil {
		db.write.Close()
		return nil, err
	}
	if db.read, err = sql.Open("sqlite", dsn(path, true)); err != nil {
		db.write.Close()
		return nil, err
	}
	db.read.SetMaxOpenConns(4)
	db.read.SetMaxIdleConns(4)
	db.w = newWriter(db, opts)
	return db, nil
}

// Path returns the database file path.
func (db *DB) Path() string { return db.path }

// Close stops the writer after the writes already queued, and closes the connections.
func (db *DB) Close() error {
	if db.w != nil {
		db.w.close()
	}
	err1 := db.read.Close()
	err2 := db.write.Close()
	return errors.Join(err1, err2)
}

// Ping checks that the database is open and writable: it runs a write transaction
// through the writer that changes nothing, and checks there is room to grow (health.go):
// CodeStorageFull when the database is at its size cap or the disk is nearly full,
// CodeUnavailable when it cannot be written. /readyz uses it.
func (db *DB) Ping(ctx context.Context) error {
	return db.Write(ctx, 0, func(tx *Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE meta SET value = value WHERE key = 'epoch'`); err != nil {
			return err
		}
		return db.checkRoom(ctx, tx)
	})
}

// Epoch returns the database's epoch: a random id made when the database was created (or
// copied by backup). Pull cursors carry it, so a cursor from another database is known.
func (db *DB) Epoch(ctx context.Context) (string, error) {
	return db.metaValue(ctx, "epoch")
}

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
	err := db.read.QueryRowContext(ctx, `SELECT value FROM meta WHERE key = ?`, key).Scan(&v)
	return v, err
}

// randomHex returns n random bytes in hex.
func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

// storageError classifies a SQLite failure: a full disk is CodeStorageFull, a read-only or
// failing disk CodeUnavailable; both are worth a retry later. Errors are recognised by
// code, never by message text.
func storageError(err error) error {
	if err == nil {
		return nil
	}
	var se *schema.Error
	if errors.As(err, &se) {
		return err
	}
	var e *sqlite3.Error
	if errors.As(err, &e) {
		switch e.Code() & 0xff {
		case sqlite3lib.SQLITE_FULL:
			return &wrapped{errStorageFull(), err}
		case sqlite3lib.SQLITE_READONLY, sqlite3lib.SQLITE_IOERR, sqlite3lib.SQLITE_CANTOPEN, sqlite3lib.SQLITE_BUSY, sqlite3lib.SQLITE_LOCKED:
			return &wrapped{errNotWritable(), err}
		}
	}
	return err
}

// wrapped is a *schema.Error that keeps its cause for logs.
type wrapped struct {
	err   *schema.Error
	cause error
}

func (w *wrapped) Unwrap() []error { return []error{w.err, w.cause} }
func (w *wrapped) Error() string   { return w.err.Error() + " (" + w.cause.Error() + ")" }

// isConstraint reports whether err is a constraint violation of the given extended code
// (0 for any constraint).
func isConstraint(err error, extended int) bool {
	var e *sqlite3.Error
	if !errors.As(err, &e) || e.Code()&0xff != sqlite3lib.SQLITE_CONSTRAINT {
		return false
	}
	return extended == 0 || e.Code() == extended
}

func itoa(v int64) string { return strconv.FormatInt(v, 10) }

// WriteDB returns the writer's connection pool, for admin commands that run outside the
// writer while the server is stopped (migrate, version checks).
func (db *DB) WriteDB() *sql.DB { return db.write }
