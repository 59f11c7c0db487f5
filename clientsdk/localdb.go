package clientsdk

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"

	_ "modernc.org/sqlite" // the pure-Go SQLite driver: no cgo on phones
)

// localSchema is the phone's database, one migration per entry; the database records the
// number applied in PRAGMA user_version. A database newer than the SDK is refused.
var localSchema = []string{
	`
-- Key-value settings of the phone: device_id, server_url, current_volunteer, hlc_last,
-- clock_offset_ms.
CREATE TABLE meta (
	key   TEXT PRIMARY KEY,
	value TEXT NOT NULL
) WITHOUT ROWID;

-- Volunteers enrolled on this phone, by the server's user id.
CREATE TABLE volunteers (
	id               INTEGER PRIMARY KEY,
	display_name     TEXT NOT NULL,
	unit_id          INTEGER NOT NULL,
	team_id          INTEGER NOT NULL,
	device_row       INTEGER NOT NULL,
	enrolled_at      TEXT NOT NULL,
	cursor           TEXT NOT NULL DEFAULT '',
	-- 1 from a pull answered reset (or an unreadable cursor) until that full pull ends.
	resetting        INTEGER NOT NULL DEFAULT 0 CHECK (resetting IN (0, 1)),
	last_sync_at     TEXT NOT NULL DEFAULT '',
	last_attempt_at  TEXT NOT NULL DEFAULT '',
	last_error_code  TEXT NOT NULL DEFAULT '',
	last_error       TEXT NOT NULL DEFAULT '',
	needs_enrollment INTEGER NOT NULL DEFAULT 0 CHECK (needs_enrollment IN (0, 1))
);

-- Logs as the phone shows them. display is what the volunteer sees: the content known to
-- be on the server (confirmed) with the outbox's operations laid over it. server is the
-- record as last pulled. Contents are JSON of schema.Content; never a raw ID number.
CREATE TABLE logs (
	id             TEXT PRIMARY KEY,
	volunteer_id   INTEGER NOT NULL REFERENCES volunteers(id),
	display        TEXT NOT NULL,
	deleted        INTEGER NOT NULL DEFAULT 0 CHECK (deleted IN (0, 1)),
	confirmed      TEXT,
	gone           INTEGER NOT NULL DEFAULT 0 CHECK (gone IN (0, 1)),
	server         TEXT,
	version        TEXT NOT NULL DEFAULT '',
	occurred_ms    INTEGER,
	recorded_at    TEXT NOT NULL,
	-- The log's creation was rejected and the server never had it: the next edit carries
	-- every field, so it creates the log.
	needs_full     INTEGER NOT NULL DEFAULT 0 CHECK (needs_full IN (0, 1)),
	reject_code    TEXT NOT NULL DEFAULT '',
	reject_message TEXT NOT NULL DEFAULT ''
);
CREATE INDEX logs_volunteer ON logs(volunteer_id, occurred_ms);

-- One outbox per volunteer: operations not yet answered by the server, in creation order.
-- op is the operation's wire JSON, sent byte for byte on every attempt.
CREATE TABLE outbox (
	seq          INTEGER PRIMARY KEY AUTOINCREMENT,
	volunteer_id INTEGER NOT NULL REFERENCES volunteers(id),
	op_id        TEXT NOT NULL UNIQUE,
	log_id       TEXT NOT NULL,
	op           TEXT NOT NULL,
	created_at   TEXT NOT NULL  -- when it was made, in server time (the clock's reading)
);
CREATE INDEX outbox_volunteer ON outbox(volunteer_id, seq);
CREATE INDEX outbox_log ON outbox(log_id, seq);

-- Operations the server rejected, with its code and message, kept until dismissed.
CREATE TABLE rejected (
	op_id        TEXT PRIMARY KEY,
	volunteer_id INTEGER NOT NULL REFERENCES volunteers(id),
	log_id       TEXT NOT NULL,
	op           TEXT NOT NULL,
	code         TEXT NOT NULL CHECK (code <> ''),
	message      TEXT NOT NULL,
	created_at   TEXT NOT NULL,
	rejected_at  TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX rejected_volunteer ON rejected(volunteer_id, rejected_at);

-- Reference data pulled for each volunteer: units, team, kinds, targets (JSON).
CREATE TABLE reference (
	volunteer_id INTEGER NOT NULL REFERENCES volunteers(id),
	type         TEXT NOT NULL CHECK (type IN ('unit', 'team', 'kind', 'target')),
	key          TEXT NOT NULL,
	data         TEXT NOT NULL,
	PRIMARY KEY (volunteer_id, type, key)
) WITHOUT ROWID;

-- The default SecretStore. A phone app should pass its platform's secure storage instead.
CREATE TABLE secrets (
	key   TEXT PRIMARY KEY,
	value BLOB NOT NULL
) WITHOUT ROWID;
`,
}

// localDSN builds the connection string. Pragmas are per connection, so they are in the
// DSN.
func localDSN(path string) string {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)") // another process (the cdt tool run twice) waits rather than fails
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "journal_mode(WAL)") // a crash mid-write leaves the last commit intact
	// FULL: a commit is fsynced before it returns. Record promises the volunteer that the
	// entry is safe when it returns; NORMAL can lose the last commits on power loss.
	q.Add("_pragma", "synchronous(FULL)")
	q.Set("_txlock", "immediate") // take the write lock at BEGIN: no deadlock upgrading a read
	return "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + q.Encode()
}

// openLocal opens (creating, 0600) the phone's database and migrates it. It uses one
// connection: the phone has one user, and one connection makes every transaction
// serialised without busy errors.
func openLocal(ctx context.Context, path string) (*sql.DB, error) {
	if path == "" {
		return nil, errors.New("clientsdk: empty database path")
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("clientsdk: create data directory: %w", err)
	}
	// Create the file private before SQLite does: it may hold tokens (the default
	// SecretStore).
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("clientsdk: %w", err)
	}
	f.Close()
	db, err := sql.Open("sqlite", localDSN(path))
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	if err := migrateLocal(ctx, db); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

func migrateLocal(ctx context.Context, db *sql.DB) error {
	var v int
	if err := db.QueryRowContext(ctx, `PRAGMA user_version`).Scan(&v); err != nil {
		return fmt.Errorf("clientsdk: read schema version: %w", err)
	}
	if v > len(localSchema) {
		return fmt.Errorf("clientsdk: the database is at version %d, newer than this app (%d); update the app", v, len(localSchema))
	}
	for i := v; i < len(localSchema); i++ {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, localSchema[i]); err != nil {
			tx.Rollback()
			return fmt.Errorf("clientsdk: migration %d: %w", i+1, err)
		}
		if _, err := tx.ExecContext(ctx, fmt.Sprintf(`PRAGMA user_version = %d`, i+1)); err != nil {
			tx.Rollback()
			return err
		}
		if err := tx.Commit(); err != nil {
			return err
		}
	}
	return nil
}

// inTx runs fn in one write transaction and commits it durably.
func (c *Client) inTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := c.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// querier is a *sql.DB or a *sql.Tx.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func getMeta(ctx context.Context, q querier, key string) (string, error) {
	var v string
	err := q.QueryRowContext(ctx, `SELECT value FROM meta WHERE key = ?`, key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return v, err
}

func setMeta(ctx context.Context, q querier, key, value string) error {
	_, err := q.ExecContext(ctx, `INSERT INTO meta (key, value) VALUES (?, ?)
		ON CONFLICT (key) DO UPDATE SET value = excluded.value`, key, value)
	return err
}
