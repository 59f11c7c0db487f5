package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/cdtsync/cdtsync/clientsdk"
)

// Main is the cdt program. Tests run it in-process with their own input, output,
// environment and clock.
type Main struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	Getenv         func(string) string
	Now            func() time.Time
	// HTTPClient, if set, replaces the SDK's default client.
	HTTPClient *http.Client
}

// NewMain returns a Main wired to the process's terminal and environment.
func NewMain() *Main {
	return &Main{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv, Now: time.Now}
}

const usage = `cdt — ứng dụng ghi nhận hoạt động của thành viên tổ CNSCĐ / field client for community digital technology teams

Cách dùng / usage:
  cdt enroll CODE                    đăng ký máy với mã đăng ký thiết bị / enrol with an enrolment code (or its QR text)
  cdt record --hamlet H --kind K ... ghi nhận một hoạt động (không cần mạng) / record an activity (offline)
  cdt edit ID --note ...             sửa nhật ký / edit a log
  cdt delete ID                      xoá nhật ký / delete a log
  cdt list                           danh sách nhật ký / list logs
  cdt sync                           đồng bộ / sync
  cdt status                         trạng thái đồng bộ / sync status
  cdt who [ID]                       thành viên trên máy này; chuyển người dùng / volunteers on this phone; switch
  cdt hamlets | kinds                danh mục ấp/thôn, loại hoạt động / pick-lists

Cờ chung / common flags: --data DIR (env CDT_DATA), --server URL (env CDT_SERVER), --json
Xem "cdt CMD -h" cho từng lệnh / see "cdt CMD -h" for each command.
`

// Run runs the subcommand named by args[0].
func (m *Main) Run(ctx context.Context, args []string) error {
	if len(args) == 0 {
		fmt.Fprint(m.Stderr, usage)
		return errors.New("thiếu lệnh / missing command")
	}
	cmds := map[string]func(context.Context, []string) error{
		"enroll": m.enroll, "record": m.record, "edit": m.edit, "delete": m.delete, "list": m.list,
		"sync": m.sync, "status": m.status, "who": m.who, "hamlets": m.hamlets, "kinds": m.kinds,
	}
	switch args[0] {
	case "help", "-h", "--help":
		fmt.Fprint(m.Stdout, usage)
		return nil
	}
	fn, ok := cmds[args[0]]
	if !ok {
		fmt.Fprint(m.Stderr, usage)
		return fmt.Errorf("lệnh không rõ / unknown command %q", args[0])
	}
	err := fn(ctx, args[1:])
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	return err
}

// common holds the flags every subcommand takes.
type common struct {
	data, server string
	json         bool
}

// flags returns a subcommand's flag set with the common flags.
func (m *Main) flags(name string) (*flag.FlagSet, *common) {
	fs := flag.NewFlagSet("cdt "+name, flag.ContinueOnError)
	fs.SetOutput(m.Stderr)
	c := &common{}
	fs.StringVar(&c.data, "data", m.env("CDT_DATA", defaultData()), "thư mục dữ liệu của máy / the phone's data directory (env CDT_DATA)")
	fs.StringVar(&c.server, "server", m.Getenv("CDT_SERVER"), "địa chỉ máy chủ / server URL (env CDT_SERVER)")
	fs.BoolVar(&c.json, "json", false, "in JSON cho script / print JSON for scripts")
	return fs, c
}

// defaultData is the data directory when neither --data nor CDT_DATA is given.
func defaultData() string {
	if d, err := os.UserConfigDir(); err == nil {
		return filepath.Join(d, "cdt")
	}
	return "cdt-data"
}

func (m *Main) env(key, def string) string {
	if v := m.Getenv(key); v != "" {
		return v
	}
	return def
}

// open opens the phone's SDK in the data directory.
func (m *Main) open(ctx context.Context, c *common, opts clientsdk.Options) (*clientsdk.Client, error) {
	opts.Now = m.Now
	opts.HTTPClient = m.HTTPClient
	if opts.DeviceName == "" {
		host, _ := os.Hostname()
		opts.DeviceName = "cdt " + host
	}
	return clientsdk.Open(ctx, filepath.Join(c.data, "cdt.db"), opts)
}

// printJSON writes v as indented JSON.
func (m *Main) printJSON(v any) error {
	enc := json.NewEncoder(m.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
