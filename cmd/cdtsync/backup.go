package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/cdtsync/cdtsync/store/sqlite"
)

const backupUsage = `cdtsync backup [--data DIR] FILE|DIR

Sao lưu cơ sở dữ liệu khi máy chủ đang chạy: một bản chụp nhất quán, không chặn việc đồng bộ.
Nếu đích là một thư mục, tệp được đặt tên theo thời gian (cdtsync-20261123T020000Z.db).
Bản sao chứa khoá citizen_key: hãy bảo vệ nó như chính cơ sở dữ liệu.
Backs up the database while the server runs: one consistent snapshot; pushes go on. If
the destination is a directory, the file is named by the time. The copy holds the
deployment's citizen_key: protect it like the database. Restore with cdtsync restore.
`

// backup runs "cdtsync backup FILE": an online copy of the data directory's database.
func (m *Main) backup(ctx context.Context, args []string) error {
	fs := m.flagSet("backup")
	fs.Usage = func() { fmt.Fprint(m.Stderr, backupUsage); fs.PrintDefaults() }
	data := m.dataFlag(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return errors.New("cần đúng một tệp đích / exactly one destination FILE is needed")
	}
	dst := fs.Arg(0)
	if st, err := os.Stat(dst); (err == nil && st.IsDir()) || strings.HasSuffix(dst, string(os.PathSeparator)) {
		dst = filepath.Join(dst, "cdtsync-"+m.Now().UTC().Format("20060102T150405Z")+".db")
	}
	info, err := sqlite.Backup(ctx, filepath.Join(*data, sqlite.FileName), dst)
	if err != nil {
		return err
	}
	fmt.Fprintf(m.Stdout, "Đã sao lưu / backed up: %s (%s, lược đồ / schema v%d)\n", info.Path, humanBytes(info.Bytes), info.SchemaVersion)
	fmt.Fprintf(m.Stdout, "  thời điểm sao lưu / backup point: change seq %d of epoch %s; the copy's epoch %s\n",
		info.Seq, info.SourceEpoch, info.Epoch)
	fmt.Fprintf(m.Stdout, "  thời gian / took %v (snapshot copied in %v)\n",
		info.Duration.Round(time.Millisecond), info.Snapshot.Round(time.Millisecond))
	return nil
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
