package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"
)

// Main is the cdtsync program. Tests run it in-process with their own output, environment
// and listen address.
type Main struct {
	Stdout, Stderr io.Writer
	Getenv         func(string) string
	Now            func() time.Time
	// Listening, if set, is called with the address the server listens on (tests use :0).
	Listening func(addr string)
}

// NewMain returns a Main wired to the process's stdout, stderr and environment.
func NewMain() *Main {
	return &Main{Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv, Now: time.Now}
}

const usage = `cdtsync — máy chủ đồng bộ cho Tổ công nghệ số cộng đồng / sync server for community digital technology teams

Cách dùng / usage:
  cdtsync serve [--addr :8080] [--data ./data] [--demo]   chạy máy chủ / run the server
  cdtsync migrate [--data DIR]                            nâng cấp cơ sở dữ liệu / migrate the database
  cdtsync import-units [--data DIR] [--placement FILE] FILE|DIR   nhập đơn vị hành chính / import administrative units
  cdtsync import-targets [--data DIR] FILE                nhập chỉ tiêu / import targets
  cdtsync user add --role R --username U --password P --unit ID [--name N]
  cdtsync backup [--data DIR] FILE|DIR                    sao lưu khi đang chạy / online backup
  cdtsync restore [--data DIR] FILE                       khôi phục khi đã dừng / restore, server stopped
  cdtsync restore --database postgres://…                 sau khi PostgreSQL khôi phục / after a PostgreSQL restore
  cdtsync demo [--data DIR]                               nạp dữ liệu minh hoạ / load demo data
  cdtsync migrate-store --from DIR --to postgres://…      chuyển SQLite sang PostgreSQL / move to PostgreSQL

serve, migrate, demo, user, import-units, import-targets: --database postgres://… dùng PostgreSQL /
use PostgreSQL instead of SQLite (several servers may share it).

Biến môi trường / environment: CDTSYNC_ADDR, CDTSYNC_DATA, CDTSYNC_DATABASE_URL, CDTSYNC_METRICS_TOKEN, CDTSYNC_LOG_LEVEL.
`

// Run runs the subcommand named by args[0].
func (m *Main) Run(ctx context.Context, args []string) error {
	if len(args) == 0 {
		fmt.Fprint(m.Stderr, usage)
		return errors.New("thiếu lệnh / missing command")
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "serve":
		return m.serve(ctx, rest)
	case "migrate":
		return m.migrate(ctx, rest)
	case "help", "-h", "--help":
		fmt.Fprint(m.Stdout, usage)
		return nil
	}
	if fn, ok := m.commands()[cmd]; ok {
		return fn(ctx, rest)
	}
	fmt.Fprint(m.Stderr, usage)
	return fmt.Errorf("lệnh không rõ / unknown command %q", cmd)
}

// commands lists the subcommands besides serve and migrate; each lives in its own file.
func (m *Main) commands() map[string]func(context.Context, []string) error {
	return map[string]func(context.Context, []string) error{
		"user":           m.user,
		"import-units":   m.importUnits,
		"import-targets": m.importTargets,
		"demo":           m.demoCmd,
		"keys":           m.keys,
		"backup":         m.backup,
		"restore":        m.restore,
		"migrate-store":  m.migrateStore,
	}
}

// env returns the environment value of key, or def.
func (m *Main) env(key, def string) string {
	if v := m.Getenv(key); v != "" {
		return v
	}
	return def
}

// dataFlag adds the --data flag every subcommand shares.
func (m *Main) dataFlag(fs *flag.FlagSet) *string {
	return fs.String("data", m.env("CDTSYNC_DATA", "./data"), "thư mục dữ liệu / data directory (env CDTSYNC_DATA)")
}

func (m *Main) flagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet("cdtsync "+name, flag.ContinueOnError)
	fs.SetOutput(m.Stderr)
	return fs
}

func (m *Main) logger() *slog.Logger {
	lvl := slog.LevelInfo
	switch strings.ToLower(m.Getenv("CDTSYNC_LOG_LEVEL")) {
	case "debug":
		lvl = slog.LevelDebug
	case "warn":
		lvl = slog.LevelWarn
	case "error":
		lvl = slog.LevelError
	}
	return slog.New(slog.NewJSONHandler(m.Stderr, &slog.HandlerOptions{Level: lvl}))
}
