package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/cdtsync/cdtsync/auth"
	"github.com/cdtsync/cdtsync/schema"
)

const userUsage = `cdtsync user add --role R --username U --password P --unit ID [--name N] [--data DIR]
cdtsync user add --role volunteer --team ID --name N [--unit ID] [--data DIR]

Tạo người dùng không cần đăng nhập, để tạo quản trị viên đầu tiên. Mật khẩu có thể đặt qua
biến môi trường CDTSYNC_PASSWORD để không lộ trong danh sách tiến trình.
Creates a user without signing in, to make the first admin. The password may come from the
environment variable CDTSYNC_PASSWORD, so it does not show in the process list.
`

// user runs "cdtsync user add".
func (m *Main) user(ctx context.Context, args []string) error {
	if len(args) == 0 || args[0] != "add" {
		fmt.Fprint(m.Stderr, userUsage)
		return errors.New("cách dùng / usage: cdtsync user add …")
	}
	fs := m.flagSet("user add")
	fs.Usage = func() { fmt.Fprint(m.Stderr, userUsage); fs.PrintDefaults() }
	data := m.dataFlag(fs)
	database := m.databaseFlag(fs)
	role := fs.String("role", "", "vai trò / role: admin, officer, coordinator, volunteer")
	username := fs.String("username", "", "tên đăng nhập / username (staff)")
	password := fs.String("password", m.Getenv("CDTSYNC_PASSWORD"), "mật khẩu / password (staff; env CDTSYNC_PASSWORD)")
	unit := fs.Int64("unit", 0, "mã số đơn vị / unit id")
	team := fs.Int64("team", 0, "mã số tổ / team id (volunteers)")
	name := fs.String("name", "", "họ tên / display name (default: the username)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("thừa đối số / unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	nu := schema.NewUser{Role: *role, DisplayName: *name, UnitID: *unit}
	if nu.DisplayName == "" {
		nu.DisplayName = *username
	}
	if *role == schema.RoleVolunteer {
		if *team == 0 {
			return errors.New("thành viên tổ cần --team / a volunteer needs --team")
		}
		if *username != "" || *password != "" {
			return errors.New("thành viên tổ không có tên đăng nhập hay mật khẩu / volunteers have no username or password")
		}
		nu.TeamID = team
	} else {
		if *username == "" || *unit == 0 {
			return errors.New("cần --role, --username, --password và --unit / --role, --username, --password and --unit are required")
		}
		if err := auth.CheckPassword(*password); err != nil {
			return err
		}
		h, err := auth.HashPassword(*password, auth.DefaultParams)
		if err != nil {
			return err
		}
		nu.Username, nu.PasswordHash = *username, h
	}
	db, err := m.openStore(ctx, *data, *database)
	if err != nil {
		return err
	}
	defer db.Close()
	u, err := db.CreateUserUnscoped(ctx, nu)
	if err != nil {
		return err
	}
	who := u.Username
	if who == "" {
		who = u.DisplayName
	}
	fmt.Fprintf(m.Stdout, "Đã tạo người dùng #%d (%s) %s / created user #%d (%s) %s\n", u.ID, u.Role, who, u.ID, u.Role, who)
	return nil
}
