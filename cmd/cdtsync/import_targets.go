package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/cdtsync/cdtsync/report"
)

const importTargetsUsage = `cdtsync import-targets [--data DIR] [--code-list vn-admin-YYYY-MM-DD] FILE

Nhập chỉ tiêu từ tệp CSV (dấu phẩy hoặc chấm phẩy, như Excel lưu) có dòng tiêu đề với các cột:
unit_id (mã đơn vị trong cdtsync) hoặc code_list và code (mã GSO), metric (people, households
hoặc mã loại hoạt động), period (2026, 2026-Q4 hoặc 2026-11) và value (số nguyên). Chỉ tiêu có
phiên bản theo đơn vị, chỉ số và kỳ: nhập lại cùng giá trị không thêm gì, giá trị mới thêm một
phiên bản và phiên bản mới nhất được tính. Xem README, mục Chỉ tiêu / Targets.

Imports targets from a CSV file with a header row: unit_id (a cdtsync unit id) or code_list and
code (a GSO code), metric (people, households or an activity-kind code), period (2026,
2026-Q4 or 2026-11) and value (a whole number). Targets are versioned per unit, metric and
period: the same value again adds nothing, a new value adds a version, the newest counts.
`

// importTargets runs "cdtsync import-targets".
func (m *Main) importTargets(ctx context.Context, args []string) error {
	fs := m.flagSet("import-targets")
	fs.Usage = func() { fmt.Fprint(m.Stderr, importTargetsUsage); fs.PrintDefaults() }
	data := m.dataFlag(fs)
	database := m.databaseFlag(fs)
	codeList := fs.String("code-list", "", "danh mục của các dòng chỉ có cột code / the code list of rows with a code but no code_list")
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return err
		}
		if args = fs.Args(); len(args) == 0 {
			break
		}
		pos, args = append(pos, args[0]), args[1:]
	}
	if len(pos) != 1 {
		fs.Usage()
		return errors.New("cần đúng một tệp / give exactly one file")
	}
	f, err := os.Open(pos[0])
	if err != nil {
		return err
	}
	defer f.Close()
	rows, err := report.ParseTargets(f, *codeList)
	if err != nil {
		return fmt.Errorf("%s:\n%w", pos[0], err)
	}
	db, err := m.openStore(ctx, *data, *database)
	if err != nil {
		return err
	}
	defer db.Close()
	rep, err := db.ImportTargets(ctx, rows, filepath.Base(pos[0]))
	if err != nil {
		return err
	}
	fmt.Fprintf(m.Stdout, "Đã đọc %d dòng: %d chỉ tiêu mới hoặc thay đổi, %d không đổi / read %d rows: %d targets new or changed, %d unchanged\n",
		rep.Rows, rep.Added, rep.Unchanged, rep.Rows, rep.Added, rep.Unchanged)
	return nil
}
