package main

import (
	"context"
	"fmt"

	"github.com/cdtsync/cdtsync/clientsdk"
	"github.com/cdtsync/cdtsync/schema"
)

// sync: cdt sync. A progress bar (on stderr) shows a large outbox going up.
func (m *Main) sync(ctx context.Context, args []string) error {
	fs, c := m.flags("sync")
	quiet := fs.Bool("quiet", false, "không vẽ thanh tiến độ / no progress bar")
	if err := fs.Parse(args); err != nil {
		return err
	}
	drawn := false
	opts := clientsdk.Options{OnProgress: func(p clientsdk.Progress) {
		if *quiet || c.json || p.Phase != "push" || p.Total <= schema.DefaultPushBatch {
			return
		}
		fmt.Fprint(m.Stderr, progressBar(p.Done, p.Total))
		drawn = true
	}}
	sdk, err := m.open(ctx, c, opts)
	if err != nil {
		return err
	}
	defer sdk.Close()
	rep, err := sdk.Sync(ctx)
	if drawn {
		fmt.Fprintln(m.Stderr)
	}
	if c.json {
		out := map[string]any{"report": rep}
		if err != nil {
			out["error"] = map[string]string{"code": schema.ErrorCode(err), "message": schema.ErrorMessage(err)}
		}
		if perr := m.printJSON(out); perr != nil {
			return perr
		}
		return err
	}
	fmt.Fprintf(m.Stdout, "Đã gửi / pushed: %s thao tác / ops", vnNumber(rep.Pushed))
	if rep.Rejected > 0 {
		fmt.Fprintf(m.Stdout, ", bị từ chối / rejected: %s (cdt status)", vnNumber(rep.Rejected))
	}
	fmt.Fprintf(m.Stdout, "; đã nhận / pulled: %s thay đổi / changes\n", vnNumber(rep.Pulled))
	if err != nil {
		return err
	}
	fmt.Fprintln(m.Stdout, "Đã đồng bộ / synced")
	return nil
}
