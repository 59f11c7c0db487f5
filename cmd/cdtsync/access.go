package main

import (
	"context"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/cdtsync/cdtsync/auth"
	"github.com/cdtsync/cdtsync/server"
	"github.com/cdtsync/cdtsync/store/sqlite"
)

// The SQLite store is the server's account store.
var (
	_ server.AccountStore = (*sqlite.DB)(nil)
	_ server.UnitLister   = (*sqlite.DB)(nil)
)

// loadKeys loads (creating on first start) the access-token signing keys in <data>/keys.
func (m *Main) loadKeys(data string) (*auth.KeySet, error) {
	return auth.LoadKeys(filepath.Join(data, auth.KeyDir), m.Now)
}

// pruneCredentials deletes long-expired refresh tokens and enrolment codes now and then
// until ctx ends. Spent tokens are kept 30 days past expiry: until then a reuse is still
// recognised as one.
func (m *Main) pruneCredentials(ctx context.Context, db interface {
	PruneCredentials(ctx context.Context, before time.Time) (int64, error)
}, log *slog.Logger) {
	t := time.NewTicker(6 * time.Hour)
	defer t.Stop()
	for {
		n, err := db.PruneCredentials(ctx, m.Now().Add(-30*24*time.Hour))
		if err != nil && ctx.Err() == nil {
			log.Warn("pruning expired credentials", "err", err)
		} else if n > 0 {
			log.Info("pruned expired credentials", "rows", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
