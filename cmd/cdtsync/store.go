package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/cdtsync/cdtsync/demo"
	"github.com/cdtsync/cdtsync/report"
	"github.com/cdtsync/cdtsync/schema"
	"github.com/cdtsync/cdtsync/server"
	"github.com/cdtsync/cdtsync/store/postgres"
	"github.com/cdtsync/cdtsync/store/sqlite"
	"github.com/cdtsync/cdtsync/sync/engine"
)

// Store is everything the commands need of a store. SQLite (the default: one file in the
// data directory) and PostgreSQL (--database postgres://…, for several servers sharing one
// database) both implement it; the assertions below check at compile time that neither
// lacks a method the product uses.
type Store interface {
	server.Pinger
	server.AccountStore
	server.UnitLister
	server.Reporter
	server.ReviewLister
	engine.Store
	demo.Store

	CreateUnit(ctx context.Context, u schema.Unit, origin string) (int64, error)
	ImportTargets(ctx context.Context, rows []report.TargetRow, source string) (sqlite.TargetImportReport, error)
	EnsureReports(ctx context.Context) error
	RebuildReports(ctx context.Context) error
	PruneCredentials(ctx context.Context, before time.Time) (int64, error)
	OutboxStats(ctx context.Context, now time.Time) (sqlite.OutboxStats, error)
	Room(ctx context.Context) (sqlite.Room, error)
	Epoch(ctx context.Context) (string, error)
	Close() error
}

var (
	_ Store = (*sqlite.DB)(nil)
	_ Store = (*postgres.DB)(nil)
)

// databaseFlag adds the --database flag: a PostgreSQL URL selects the PostgreSQL store.
func (m *Main) databaseFlag(fs *flag.FlagSet) *string {
	return fs.String("database", m.Getenv("CDTSYNC_DATABASE_URL"),
		"PostgreSQL thay cho SQLite, vd. postgres://cdtsync@db:5432/cdtsync / PostgreSQL instead of SQLite, e.g. postgres://cdtsync@db:5432/cdtsync (env CDTSYNC_DATABASE_URL)")
}

// isPostgresURL reports whether s names a PostgreSQL database.
func isPostgresURL(s string) bool {
	return strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://")
}

// openStore opens the PostgreSQL store at database if it is set, and otherwise the SQLite
// store in the data directory. Either gets the command's clock.
func (m *Main) openStore(ctx context.Context, data, database string) (Store, error) {
	return m.openStoreWith(ctx, data, database, postgres.Options{})
}

// openStoreWith is openStore with the PostgreSQL store's options (serve's report database).
func (m *Main) openStoreWith(ctx context.Context, data, database string, opts postgres.Options) (Store, error) {
	if database == "" {
		db, err := sqlite.Open(ctx, data, sqlite.Options{})
		if err != nil {
			return nil, err
		}
		db.Now = m.Now
		return db, nil
	}
	if !isPostgresURL(database) {
		return nil, errors.New("--database phải là postgres://… / --database must be a postgres://… URL")
	}
	opts.Logger = m.logger()
	db, err := postgres.Open(ctx, database, opts)
	if err != nil {
		return nil, fmt.Errorf("PostgreSQL: %w", err)
	}
	db.Now = m.Now
	return db, nil
}
