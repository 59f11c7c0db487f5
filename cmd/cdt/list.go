package main

import (
	"context"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/cdtsync/cdtsync/clientsdk"
)

// pickNames loads the pick-lists' names for display.
func pickNames(ctx context.Context, sdk *clientsdk.Client) names {
	n := names{hamlets: map[int64]string{}, kinds: map[string]string{}}
	if us, err := sdk.Units(ctx); err == nil {
		for _, u := range us {
			n.hamlets[u.ID] = u.Name
		}
	}
	if ks, err := sdk.Kinds(ctx); err == nil {
		for _, k := range ks {
			n.kinds[k.Code] = k.NameVI
		}
	}
	return n
}

// list: cdt list [--all] [--unsynced] [--limit N]
func (m *Main) list(ctx context.Context, args []string) error {
	fs, c := m.flags("list")
	all := fs.Bool("all", false, "cả nhật ký đã xoá / include deleted logs")
	unsynced := fs.Bool("unsynced", false, "chỉ nhật ký chưa đồng bộ / only logs not yet synced")
	limit := fs.Int("limit", 0, "số dòng tối đa / at most this many")
	if err := fs.Parse(args); err != nil {
		return err
	}
	sdk, err := m.open(ctx, c, clientsdk.Options{})
	if err != nil {
		return err
	}
	defer sdk.Close()
	logs, err := sdk.Logs(ctx, clientsdk.LogFilter{IncludeDeleted: *all, Unsynced: *unsynced, Limit: *limit})
	if err != nil {
		return err
	}
	if c.json {
		if logs == nil {
			logs = []clientsdk.Log{}
		}
		return m.printJSON(logs)
	}
	if len(logs) == 0 {
		fmt.Fprintln(m.Stdout, "Chưa có nhật ký nào / no logs yet")
		return nil
	}
	n := pickNames(ctx, sdk)
	w := tabwriter.NewWriter(m.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "Thời điểm / when\tẤp/thôn / hamlet\tHoạt động / activity\tTrạng thái / state\tMã / id")
	for _, l := range logs {
		var at time.Time
		if l.OccurredAt != nil {
			at, _ = time.Parse(time.RFC3339, *l.OccurredAt)
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", vnTime(at), n.hamlet(l.HamletID), n.kind(l.Kind), statusText(l), l.ID)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(m.Stdout, "%s nhật ký / logs\n", vnNumber(len(logs)))
	return nil
}
