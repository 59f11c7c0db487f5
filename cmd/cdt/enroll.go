package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/cdtsync/cdtsync/clientsdk"
)

// enroll: cdt enroll [--server URL] [--name DEVICE] CODE
func (m *Main) enroll(ctx context.Context, args []string) error {
	fs, c := m.flags("enroll")
	name := fs.String("name", "", "tên thiết bị hiện cho cán bộ điều phối / device name shown to coordinators")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("cần đúng một mã đăng ký thiết bị / exactly one enrolment code is needed: cdt enroll 7KQ2M-XH4PA")
	}
	sdk, err := m.open(ctx, c, clientsdk.Options{DeviceName: *name})
	if err != nil {
		return err
	}
	defer sdk.Close()
	v, err := sdk.Enroll(ctx, c.server, fs.Arg(0))
	if err != nil {
		return err
	}
	if c.json {
		return m.printJSON(v)
	}
	fmt.Fprintf(m.Stdout, "Đã đăng ký / enrolled: %s (#%d) trên thiết bị / on device %s\n", v.Name, v.ID, sdk.DeviceID())
	if !v.Current {
		fmt.Fprintf(m.Stdout, "Chuyển sang người này: / to switch to them: cdt who %d\n", v.ID)
	}
	fmt.Fprintln(m.Stdout, "Chạy / run \"cdt sync\" để tải danh mục ấp/thôn / to fetch the hamlet pick-list.")
	return nil
}
