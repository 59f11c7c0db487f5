package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"time"

	sqlite3 "modernc.org/sqlite"

	"github.com/cdtsync/cdtsync/schema"
)

// BackupInfo describes a copy made by Backup or put in place by Restore.
type BackupInfo struct {
	Path string // the copy
	// SourceEpoch is the epoch of the database copied; Epoch is the copy's own, new one.
	SourceEpoch, Epoch string
	// Seq is the source's change sequence at the backup point: the copy holds every
	// transaction up to it and none after.
	Seq           int64
	SchemaVersion int
	Bytes         int64         // size of the copy
	Snapshot      time.Duration // how long the source was held in a read snapshot
	Duration      time.Duration // the whole backup, checks included
}

// Backup copies the database file src to dst while a server may be writing to src. It
// reads one consistent snapshot of src (a read transaction: in WAL mode the server's
// writer never waits for it) and copies its pages with SQLite's online backup API. The
// copy then gets a new epoch, so that pull cursors from src are recognised as another
// database's after a restore, is checked (PRAGMA integrity_check), made a single
// self-contained file (no -wal), fsynced, and only then renamed to dst: dst is never a
// half-written file. dst must not exist. The copy holds everything the database does —
// including the deployment's citizen key — and is created readable by its owner only.
//
// A database with a schema newer than this binary's is refused (*ErrNewerDatabase).
// ctx is checked before the pages are copied (the copy itself, one step, is not
// interruptible); a failed or cancelled backup leaves nothing at dst.
func Backup(ctx context.Context, src, dst string) (BackupInfo, error) {
	start := time.Now()
	info := BackupInfo{Path: dst}
	if _, err := os.Stat(src); err != nil {
		return info, fmt.Errorf("không mở được cơ sở dữ liệu / cannot open the database: %w", err)
	}
	if _, err := os.Lstat(dst); err == nil {
		return info, fmt.Errorf("%s đã có, không ghi đè / %s exists; not overwriting it", dst, dst)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return info, err
	}
	tmp, err := tempPath(dst)
	if err != nil {
		return info, err
	}
	defer removeDB(tmp) // nothing after the rename

	if err := copySnapshot(ctx, src, tmp, &info); err != nil {
		return info, err
	}
	if err := finishCopy(ctx, tmp, &info, map[string]string{
		"backup_of":  info.SourceEpoch,
		"backup_seq": strconv.FormatInt(info.Seq, 10),
		"backup_at":  time.Now().UTC().Format(time.RFC3339),
	}); err != nil {
		return info, err
	}
	if err := publish(tmp, dst); err != nil {
		return info, err
	}
	if st, err := os.Stat(dst); err == nil {
		info.Bytes = st.Size()
	}
	info.Duration = time.Since(start)
	return info, nil
}

// Restore puts the database file src (a copy made by Backup, a file restored by
// Litestream, a disk snapshot) in place as the database of the data directory dir, for a
// server that is stopped. It checks src (integrity, a cdtsync schema not newer than this
// binary's), copies it, gives the copy a new epoch — so every phone's pull cursor is
// recognised as another database's and the phone pulls afresh and re-offers what the
// server lost — and moves the current database file, with its -wal and -shm, aside to
// <file>.before-restore-<time> (returned as aside; empty if there was none). Restoring the
// same copy twice gives two different epochs.
//
// The caller must make sure no server uses dir (cmd/cdtsync holds a lock file for that).
func Restore(ctx context.Context, src, dir string) (info BackupInfo, aside string, err error) {
	start := time.Now()
	live := filepath.Join(dir, FileName)
	info.Path = live
	if _, err := os.Stat(src); err != nil {
		return info, "", fmt.Errorf("không mở được bản sao lưu / cannot open the backup: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return info, "", err
	}
	tmp, err := tempPath(live)
	if err != nil {
		return info, "", err
	}
	defer removeDB(tmp)
	if err := copySnapshot(ctx, src, tmp, &info); err != nil {
		return info, "", err
	}
	if err := finishCopy(ctx, tmp, &info, map[string]string{
		"restored_from": info.SourceEpoch,
		"restored_seq":  strconv.FormatInt(info.Seq, 10),
		"restored_at":   time.Now().UTC().Format(time.RFC3339),
	}); err != nil {
		return info, "", err
	}
	if _, err := os.Stat(live); err == nil {
		aside = live + ".before-restore-" + time.Now().UTC().Format("20060102T150405Z")
		// The -wal belongs to its database: it moves with it, or SQLite would replay the
		// old database's frames onto the restored one.
		for _, suffix := range []string{"", "-wal", "-shm"} {
			if err := os.Rename(live+suffix, aside+suffix); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return info, "", fmt.Errorf("dời cơ sở dữ liệu cũ / moving the old database aside: %w", err)
			}
		}
	}
	for _, suffix := range []string{"-wal", "-shm"} { // a stray one would be replayed
		if err := os.Remove(live + suffix); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return info, aside, err
		}
	}
	if err := publish(tmp, live); err != nil {
		return info, aside, err
	}
	if st, err := os.Stat(live); err == nil {
		info.Bytes = st.Size()
	}
	info.Duration = time.Since(start)
	return info, aside, nil
}

// copySnapshot copies one read snapshot of src to the new file dst with the online backup
// API, and records the snapshot's epoch, change sequence and schema version in info.
func copySnapshot(ctx context.Context, src, dst string, info *BackupInfo) error {
	srcDB, err := sql.Open("sqlite", sourceDSN(src))
	if err != nil {
		return err
	}
	defer srcDB.Close()
	conn, err := srcDB.Conn(ctx)
	if err != nil {
		return storageError(err)
	}
	defer conn.Close()
	// The read transaction pins the snapshot: the backup step below runs inside it, so the
	// epoch and sequence read here are those of the pages copied.
	tx, err := conn.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return storageError(err)
	}
	defer tx.Rollback()
	held := time.Now()
	var seq string
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0),
		(SELECT value FROM meta WHERE key = 'epoch'), (SELECT value FROM meta WHERE key = 'seq') FROM schema_migrations`).
		Scan(&info.SchemaVersion, &info.SourceEpoch, &seq); err != nil {
		return fmt.Errorf("%s không phải cơ sở dữ liệu cdtsync / %s is not a cdtsync database: %w", src, src, err)
	}
	if latest := schema.LatestVersion(); info.SchemaVersion > latest {
		return &ErrNewerDatabase{Have: info.SchemaVersion, Want: latest}
	}
	if info.Seq, err = strconv.ParseInt(seq, 10, 64); err != nil {
		return fmt.Errorf("meta seq %q: %w", seq, err)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	err = conn.Raw(func(dc any) error {
		b, ok := dc.(interface {
			NewBackup(dstURI string) (*sqlite3.Backup, error)
		})
		if !ok {
			return errors.New("sqlite: driver without the online backup API")
		}
		bk, err := b.NewBackup("file:" + dst)
		if err != nil {
			return err
		}
		// All pages in one step: one snapshot, and no restart when the server commits.
		if _, err := bk.Step(-1); err != nil {
			bk.Finish()
			return err
		}
		return bk.Finish()
	})
	info.Snapshot = time.Since(held)
	if err == nil && backupSnapshotHook != nil {
		backupSnapshotHook(tx)
	}
	if err != nil {
		return fmt.Errorf("sao lưu / backup: %w", storageError(err))
	}
	return nil
}

// backupSnapshotHook, if set (tests), is called with the read transaction whose snapshot
// was just copied, before it ends.
var backupSnapshotHook func(tx *sql.Tx)

// finishCopy gives the copy at path a new epoch and the given meta entries, checks it,
// makes it one file in rollback-journal mode (the server switches it to WAL when it opens
// it) and fsyncs it.
func finishCopy(ctx context.Context, path string, info *BackupInfo, meta map[string]string) error {
	db, err := sql.Open("sqlite", dsn(path, false))
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	info.Epoch = randomHex(8)
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return storageError(err)
	}
	defer tx.Rollback()
	meta["epoch"] = info.Epoch
	for k, v := range meta {
		if _, err := tx.ExecContext(ctx, `INSERT INTO meta (key, value) VALUES (?, ?)
			ON CONFLICT (key) DO UPDATE SET value = excluded.value`, k, v); err != nil {
			return storageError(err)
		}
	}
	if err := tx.Commit(); err != nil {
		return storageError(err)
	}
	var check string
	if err := db.QueryRowContext(ctx, `PRAGMA integrity_check`).Scan(&check); err != nil {
		return storageError(err)
	}
	if check != "ok" {
		return fmt.Errorf("bản sao hỏng / the copy fails integrity_check: %s", check)
	}
	var mode string
	if err := db.QueryRowContext(ctx, `PRAGMA journal_mode = DELETE`).Scan(&mode); err != nil {
		return storageError(err)
	}
	if err := db.Close(); err != nil {
		return err
	}
	return syncFile(path)
}

// publish makes tmp the file dst: owner-only permissions, renamed in place, the directory
// fsynced so the rename survives a power loss.
func publish(tmp, dst string) error {
	if err := os.Chmod(tmp, 0o600); err != nil {
		return err
	}
	if err := os.Rename(tmp, dst); err != nil {
		return err
	}
	return syncFile(filepath.Dir(dst))
}

// tempPath returns a new unused name beside path.
func tempPath(path string) (string, error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return "", err
	}
	name := f.Name()
	f.Close()
	// The backup API wants an empty database or no file at all: an empty file is one.
	return name, nil
}

// removeDB removes a database file and its side files, if they exist.
func removeDB(path string) {
	for _, suffix := range []string{"", "-wal", "-shm", "-journal"} {
		os.Remove(path + suffix)
	}
}

func syncFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

// sourceDSN opens a database to copy it: read only, and without the journal-mode pragma
// of dsn, so that the source file is never changed (a live database is in WAL mode
// already; a backup file stays in its own mode).
func sourceDSN(path string) string {
	return "file:" + (&url.URL{Path: path}).EscapedPath() + "?_pragma=busy_timeout(10000)&_pragma=query_only(1)"
}
