package main

import (
	"context"
	"fmt"

	"github.com/cdtsync/cdtsync/demo"
)

// demoCmd runs "cdtsync demo": it loads the demo deployment (package demo) into the
// database. Loading it again changes nothing.
func (m *Main) demoCmd(ctx context.Context, args []string) error {
	fs := m.flagSet("demo")
	data := m.dataFlag(fs)
	database := m.databaseFlag(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	db, err := m.openStore(ctx, *data, *database)
	if err != nil {
		return err
	}
	defer db.Close()
	d, err := demo.LoadStore(ctx, db, m.Now)
	if err != nil {
		return err
	}
	u := d.Units
	hamlets := 0
	for _, hs := range u.Hamlets {
		hamlets += len(hs)
	}
	fmt.Fprintf(m.Stdout, "Đã nạp dữ liệu minh hoạ vào %s: danh mục %s, Tỉnh Đồng Tháp (đơn vị số %d), Phường Sa Đéc (số %d) với %d khóm/ấp; "+
		"%s ấp/thôn ở %d xã/phường của Đồng Tháp.\n", *data, demo.CodeList, u.Province, u.SaDec, len(u.SaDecHamlets),
		viNumber(hamlets), len(u.Communes))
	fmt.Fprintf(m.Stdout, "Loaded the demo data into %s: code list %s, Tỉnh Đồng Tháp (unit %d), Phường Sa Đéc (unit %d) with %d khóm/ấp; "+
		"%d hamlets in %d Đồng Tháp communes.\n", *data, demo.CodeList, u.Province, u.SaDec, len(u.SaDecHamlets), hamlets, len(u.Communes))
	return nil
}
