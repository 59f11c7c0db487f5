package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/cdtsync/cdtsync/store/postgres"
	"github.com/cdtsync/cdtsync/store/sqlite"
)

const restoreUsage = `cdtsync restore [--data DIR] FILE
cdtsync restore --database postgres://…

Khôi phục cơ sở dữ liệu từ một bản sao (của cdtsync backup, Litestream, hay ảnh chụp đĩa) khi
máy chủ đã dừng. Cơ sở dữ liệu hiện có được giữ lại bên cạnh (cdtsync.db.before-restore-…).
Bản khôi phục nhận epoch mới: điện thoại sẽ tải lại từ đầu và gửi lại những gì máy chủ đã mất.
Restores the database from a copy (made by cdtsync backup, Litestream or a disk snapshot)
while the server is stopped. The current database is kept aside
(cdtsync.db.before-restore-…). The restored database gets a new epoch: phones pull afresh
and offer again what the server lost.

Với PostgreSQL, khôi phục bằng công cụ của PostgreSQL (PITR, pg_restore), rồi chạy lệnh
với --database trước khi mở máy chủ: cơ sở dữ liệu nhận epoch mới.
With PostgreSQL, restore with PostgreSQL's own tools (PITR, pg_restore), then run this
with --database before the servers start: the database gets a new epoch (docs/SCALING.md).
`

// restore runs "cdtsync restore FILE".
func (m *Main) restore(ctx context.Context, args []string) error {
	fs := m.flagSet("restore")
	fs.Usage = func() { fmt.Fprint(m.Stderr, restoreUsage); fs.PrintDefaults() }
	data := m.dataFlag(fs)
	database := m.databaseFlag(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *database != "" {
		if fs.NArg() != 0 {
			fs.Usage()
			return errors.New("với --database, PostgreSQL tự khôi phục; không cần tệp / with --database, PostgreSQL restores by its own tools: no FILE")
		}
		return m.restorePostgres(ctx, *database)
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return errors.New("cần đúng một tệp sao lưu / exactly one backup FILE is needed")
	}
	unlock, err := lockData(*data)
	if errors.Is(err, errDataInUse) {
		return fmt.Errorf("%w: hãy dừng máy chủ trước khi khôi phục / stop the server before restoring", err)
	}
	if err != nil {
		return err
	}
	defer unlock()
	info, aside, err := sqlite.Restore(ctx, fs.Arg(0), *data)
	if err != nil {
		return err
	}
	fmt.Fprintf(m.Stdout, "Đã khôi phục / restored %s → %s (%s, lược đồ / schema v%d, change seq %d)\n",
		fs.Arg(0), info.Path, humanBytes(info.Bytes), info.SchemaVersion, info.Seq)
	fmt.Fprintf(m.Stdout, "  epoch mới / new epoch %s (was %s): phones pull afresh and re-offer what the server lost\n", info.Epoch, info.SourceEpoch)
	if aside != "" {
		fmt.Fprintf(m.Stdout, "  cơ sở dữ liệu cũ giữ tại / the previous database is kept at %s (delete it when no longer needed)\n", aside)
	}
	fmt.Fprintln(m.Stdout, "Khởi động lại máy chủ / start the server: cdtsync serve")
	return nil
}

// restorePostgres starts a new history for a PostgreSQL database that PostgreSQL's tools
// restored: a new epoch, and positions re-based if the rows came from another cluster.
func (m *Main) restorePostgres(ctx context.Context, database string) error {
	s, err := m.openStoreWith(ctx, "", database, postgres.Options{CompactEvery: -1})
	if err != nil {
		return err
	}
	defer s.Close()
	r, err := s.(*postgres.DB).NewHistory(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(m.Stdout, "Đã bắt đầu lịch sử mới / a new history begins: epoch mới / new epoch %s (was %s)\n", r.Epoch, r.PreviousEpoch)
	if r.Rebased > 0 {
		fmt.Fprintf(m.Stdout, "  %d dòng của cụm PostgreSQL khác được đặt lại vị trí / rows of another PostgreSQL cluster re-based\n", r.Rebased)
	}
	fmt.Fprintln(m.Stdout, "  điện thoại sẽ tải lại từ đầu và gửi lại những gì máy chủ đã mất / phones pull afresh and offer again what the server lost")
	return nil
}
