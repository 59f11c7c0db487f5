package main

import (
	"context"
	"fmt"
	"time"

	"github.com/cdtsync/cdtsync/clientsdk"
	"github.com/cdtsync/cdtsync/schema"
)

// status: cdt status
func (m *Main) status(ctx context.Context, args []string) error {
	fs, c := m.flags("status")
	if err := fs.Parse(args); err != nil {
		return err
	}
	sdk, err := m.open(ctx, c, clientsdk.Options{})
	if err != nil {
		return err
	}
	defer sdk.Close()
	st, err := sdk.Status(ctx)
	if err != nil {
		return err
	}
	if c.json {
		if st.Volunteers == nil {
			st.Volunteers = []clientsdk.VolunteerStatus{}
		}
		return m.printJSON(st)
	}
	out := m.Stdout
	fmt.Fprintf(out, "Thiết bị / device: %s\n", st.DeviceID)
	if st.Server != "" {
		fmt.Fprintf(out, "Máy chủ / server: %s\n", st.Server)
	}
	if off := st.ClockOffset; off.Abs() >= schema.ClockOffThreshold {
		fmt.Fprintf(out, "Đồng hồ thiết bị bị lệch / device clock is off: %s (đã tự hiệu chỉnh / corrected automatically)\n", signed(-off))
	}
	if len(st.Volunteers) == 0 {
		fmt.Fprintln(out, "Chưa có thành viên nào đăng ký / nobody enrolled: cdt enroll CODE")
		return nil
	}
	for _, v := range st.Volunteers {
		mark := " "
		if v.Current {
			mark = "*"
		}
		fmt.Fprintf(out, "%s %s (#%d)\n", mark, v.Name, v.ID)
		if v.NeedsEnrollment {
			fmt.Fprintln(out, "    Cần mã đăng ký thiết bị mới / needs a new enrolment code (cdt enroll CODE)")
		}
		if v.PendingOps == 0 {
			fmt.Fprintln(out, "    Không còn gì chưa đồng bộ / nothing waiting to sync")
		} else {
			fmt.Fprintf(out, "    Chưa đồng bộ / not yet synced: %s thao tác / ops, cũ nhất / oldest %s trước / ago\n",
				vnNumber(v.PendingOps), vnDuration(v.OldestPendingAge))
		}
		fmt.Fprintf(out, "    Đồng bộ lần cuối / last sync: %s\n", vnTime(v.LastSyncAt))
		if v.LastErrorCode != "" {
			fmt.Fprintf(out, "    Lỗi lần trước / last error (%s): %s — %s\n", vnTime(v.LastAttemptAt), v.LastErrorCode, v.LastError)
		}
		if len(v.Rejected) > 0 {
			fmt.Fprintf(out, "    Bị máy chủ từ chối / refused by the server: %s\n", vnNumber(len(v.Rejected)))
			for _, r := range v.Rejected {
				fmt.Fprintf(out, "      - %s: %s (nhật ký / log %s)\n", r.Code, r.Message, r.LogID)
			}
		}
	}
	return nil
}

func signed(d time.Duration) string {
	d = d.Round(time.Second)
	if d >= 0 {
		return "+" + d.String()
	}
	return d.String()
}
