package main

import (
	"context"
	"fmt"
	"strconv"

	"github.com/cdtsync/cdtsync/clientsdk"
)

// who: cdt who [ID] — list the volunteers on this phone, or switch to one.
func (m *Main) who(ctx context.Context, args []string) error {
	fs, c := m.flags("who")
	id, rest := leadingArg(args)
	if err := fs.Parse(rest); err != nil {
		return err
	}
	if id == "" && fs.NArg() == 1 {
		id = fs.Arg(0)
	}
	sdk, err := m.open(ctx, c, clientsdk.Options{})
	if err != nil {
		return err
	}
	defer sdk.Close()
	if id != "" {
		n, err := strconv.ParseInt(id, 10, 64)
		if err != nil {
			return fmt.Errorf("mã thành viên là một số / a volunteer id is a number: %q", id)
		}
		if err := sdk.SetCurrent(ctx, n); err != nil {
			return err
		}
	}
	vs, err := sdk.Volunteers(ctx)
	if err != nil {
		return err
	}
	if c.json {
		if vs == nil {
			vs = []clientsdk.Volunteer{}
		}
		return m.printJSON(vs)
	}
	if len(vs) == 0 {
		fmt.Fprintln(m.Stdout, "Chưa có thành viên nào đăng ký / nobody enrolled: cdt enroll CODE")
		return nil
	}
	for _, v := range vs {
		mark := " "
		if v.Current {
			mark = "*"
		}
		fmt.Fprintf(m.Stdout, "%s %d\t%s\n", mark, v.ID, v.Name)
	}
	if id != "" {
		cur, _ := sdk.Current(ctx)
		fmt.Fprintf(m.Stdout, "Đang dùng / now using: %s\n", cur.Name)
	}
	return nil
}
