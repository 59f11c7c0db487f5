package main

import (
	"context"
	"fmt"
	"text/tabwriter"

	"github.com/cdtsync/cdtsync/clientsdk"
	"github.com/cdtsync/cdtsync/schema"
)

// hamlets: cdt hamlets — the pick-list of hamlets, as last synced.
func (m *Main) hamlets(ctx context.Context, args []string) error {
	fs, c := m.flags("hamlets")
	if err := fs.Parse(args); err != nil {
		return err
	}
	sdk, err := m.open(ctx, c, clientsdk.Options{})
	if err != nil {
		return err
	}
	defer sdk.Close()
	hs, err := sdk.Hamlets(ctx)
	if err != nil {
		return err
	}
	if c.json {
		if hs == nil {
			hs = []schema.Unit{}
		}
		return m.printJSON(hs)
	}
	if len(hs) == 0 {
		fmt.Fprintln(m.Stdout, "Chưa có danh mục: chạy cdt sync / no pick-list yet: run cdt sync")
		return nil
	}
	w := tabwriter.NewWriter(m.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "Mã / id\tẤp/thôn / hamlet\tSố hộ / households")
	for _, h := range hs {
		hh := "—"
		if h.Households != nil {
			hh = vnNumber(int(*h.Households))
		}
		fmt.Fprintf(w, "%d\t%s\t%s\n", h.ID, h.Name, hh)
	}
	return w.Flush()
}

// kinds: cdt kinds — the activity kinds, as last synced.
func (m *Main) kinds(ctx context.Context, args []string) error {
	fs, c := m.flags("kinds")
	if err := fs.Parse(args); err != nil {
		return err
	}
	sdk, err := m.open(ctx, c, clientsdk.Options{})
	if err != nil {
		return err
	}
	defer sdk.Close()
	ks, err := sdk.Kinds(ctx)
	if err != nil {
		return err
	}
	if c.json {
		if ks == nil {
			ks = []schema.Kind{}
		}
		return m.printJSON(ks)
	}
	if len(ks) == 0 {
		fmt.Fprintln(m.Stdout, "Chưa có danh mục: chạy cdt sync / no pick-list yet: run cdt sync")
		return nil
	}
	w := tabwriter.NewWriter(m.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "Mã / code\tTên / name\t")
	for _, k := range ks {
		fmt.Fprintf(w, "%s\t%s\t%s\n", k.Code, k.NameVI, k.NameEN)
	}
	return w.Flush()
}
