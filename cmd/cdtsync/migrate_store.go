package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cdtsync/cdtsync/store/postgres"
	"github.com/cdtsync/cdtsync/store/sqlite"
)

const migrateStoreUsage = `cách dùng / usage: cdtsync migrate-store --from DIR --to postgres://…

Chuyển một triển khai SQLite (thư mục dữ liệu DIR) sang một cơ sở dữ liệu PostgreSQL mới, khi
máy chủ SQLite đã dừng: mọi bảng, từng dòng, cùng epoch và khoá citizen_key, trong một giao
dịch, cả số liệu báo cáo nếu chúng đã sẵn sàng (nếu không, máy chủ dựng lại chúng từ nhật ký sau
khi khởi động, trong lúc điện thoại vẫn đồng bộ; --rebuild-reports dựng lại ngay). Điện thoại
tiếp tục đồng bộ với cursor cũ.

Moves a SQLite deployment (data directory DIR) into a new PostgreSQL database while the
SQLite server is stopped: every table row for row, with the epoch and the citizen key, in
one transaction, the report aggregates too if they are ready (if not, the servers rebuild
them from the logs after they start, while phones sync; --rebuild-reports rebuilds them
now). Phones carry on with their cursors.
Copy DIR/keys/ to every server so that access tokens stay valid (without it phones simply
refresh their tokens).
`

// migrateStore runs "cdtsync migrate-store --from DIR --to postgres://…".
func (m *Main) migrateStore(ctx context.Context, args []string) error {
	fs := m.flagSet("migrate-store")
	fs.Usage = func() { fmt.Fprint(m.Stderr, migrateStoreUsage) }
	from := fs.String("from", "", "thư mục dữ liệu SQLite / the SQLite data directory")
	to := fs.String("to", m.Getenv("CDTSYNC_DATABASE_URL"), "cơ sở dữ liệu PostgreSQL mới / the new PostgreSQL database (env CDTSYNC_DATABASE_URL)")
	rebuild := fs.Bool("rebuild-reports", false, "dựng lại số liệu báo cáo từ nhật ký thay vì chép / rebuild the report aggregates from the logs instead of copying them")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *from == "" || !isPostgresURL(*to) || fs.NArg() > 0 {
		fs.Usage()
		return errors.New("cần --from DIR và --to postgres://… / --from DIR and --to postgres://… are required")
	}
	start := time.Now()
	// The SQLite server must be stopped: what it acknowledged after the copy began would
	// be lost. Its lock says whether it runs, and keeps it from starting meanwhile.
	unlock, err := lockData(*from)
	if err != nil {
		return fmt.Errorf("%w: dừng máy chủ SQLite trước / stop the SQLite server first", err)
	}
	defer unlock()
	src, err := sqlite.Open(ctx, *from, sqlite.Options{}) // at this binary's schema version
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := postgres.Open(ctx, *to, postgres.Options{Logger: m.logger(), CompactEvery: -1})
	if err != nil {
		return fmt.Errorf("PostgreSQL: %w", err)
	}
	defer dst.Close()
	dst.Now = m.Now
	rep, err := dst.CopyFromSQLite(ctx, src.WriteDB(), func(tc postgres.TableCount) {
		fmt.Fprintf(m.Stdout, "  %-17s %10d\n", tc.Table, tc.Copy)
	})
	if err != nil {
		return fmt.Errorf("không chép được, PostgreSQL không đổi / nothing was copied: %w", err)
	}
	copied := time.Since(start)
	reportsVI, reportsEN := "chép cùng", "copied with them"
	switch {
	case *rebuild:
		reportsVI, reportsEN = "dựng lại", "rebuilt"
		if err := dst.RebuildReports(ctx); err != nil {
			return fmt.Errorf("báo cáo / reports: %w", err)
		}
	case !rep.ReportsCopied:
		// Servers build them after they start, while phones push (a PostgreSQL build does
		// not stop pushes): the move's downtime is the copy alone.
		reportsVI = "chưa sẵn sàng ở SQLite, máy chủ sẽ dựng lại sau khi khởi động, trong lúc điện thoại vẫn đồng bộ"
		reportsEN = "not ready on SQLite; the servers build them after they start, while phones sync"
	}
	var rows int64
	for _, t := range rep.Tables {
		rows += t.Copy
	}
	epoch, err := dst.Epoch(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(m.Stdout, "Đã chép %d dòng trong %s; số liệu báo cáo: %s (%s); epoch %s giữ nguyên, điện thoại đồng bộ tiếp.\n",
		rows, copied.Round(time.Millisecond), reportsVI, (time.Since(start) - copied).Round(time.Millisecond), epoch)
	fmt.Fprintf(m.Stdout, "Copied %d rows in %s; report aggregates: %s (%s); epoch %s kept, phones carry on.\n",
		rows, copied.Round(time.Millisecond), reportsEN, (time.Since(start) - copied).Round(time.Millisecond), epoch)
	fmt.Fprintf(m.Stdout, "Next: copy %s/keys/ to every server, then start them with --database.\n", *from)
	return nil
}
