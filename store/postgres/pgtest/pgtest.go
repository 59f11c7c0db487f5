// Package pgtest gives tests their own PostgreSQL database: a fresh copy of a migrated
// template, created in the server that CDTSYNC_TEST_DATABASE_URL names and dropped when
// the test ends. scripts/pg-test.sh starts a throwaway server and sets the variable.
//
// Without the variable, tests that need PostgreSQL fail when CI=true (CI must never pass
// by skipping them) and are skipped otherwise.
package pgtest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cdtsync/cdtsync/store/postgres"
)

// EnvURL names the environment variable holding the test server's URL.
const EnvURL = "CDTSYNC_TEST_DATABASE_URL"

// URL returns the test server's URL, failing the test in CI and skipping it elsewhere
// when none is set.
func URL(tb testing.TB) string {
	tb.Helper()
	return need(tb, EnvURL, "PostgreSQL tests skipped (run them with scripts/pg-test.sh go test …)")
}

// need returns the environment variable's value, failing the test in CI and skipping it
// elsewhere (saying skipped) when it is not set.
func need(tb testing.TB, env, skipped string) string {
	tb.Helper()
	v := os.Getenv(env)
	if v == "" {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("%s is not set: run the PostgreSQL tests through scripts/pg-test.sh (make test does)", env)
		}
		tb.Skipf("%s is not set: %s", env, skipped)
	}
	return v
}

var (
	templateOnce sync.Once
	templateName string
	templateErr  error
	counter      atomic.Int64
)

// withDatabase returns base with its database name replaced.
func withDatabase(base, name string) (string, error) {
	u, err := url.Parse(base)
	if err != nil {
		return "", err
	}
	u.Path = "/" + name
	return u.String(), nil
}

// template creates (once per server and schema version, whichever test process gets there
// first) a migrated database to copy.
func template(ctx context.Context, base string) (string, error) {
	templateOnce.Do(func() {
		h := sha256.New()
		for _, m := range postgres.Migrations() {
			h.Write([]byte(m.SQL))
		}
		templateName = "cdtsync_tpl_" + hex.EncodeToString(h.Sum(nil))[:12]
		templateErr = func() error {
			conn, err := pgx.Connect(ctx, base)
			if err != nil {
				return err
			}
			defer conn.Close(ctx)
			// Test processes of several packages start at once: one makes the template.
			if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock(8675309)`); err != nil {
				return err
			}
			defer conn.Exec(ctx, `SELECT pg_advisory_unlock(8675309)`)
			var exists bool
			if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, templateName).Scan(&exists); err != nil {
				return err
			}
			if exists {
				return nil
			}
			building := templateName + "_building"
			conn.Exec(ctx, `DROP DATABASE IF EXISTS `+building+` WITH (FORCE)`)
			if _, err := conn.Exec(ctx, `CREATE DATABASE `+building); err != nil {
				return err
			}
			u, err := withDatabase(base, building)
			if err != nil {
				return err
			}
			db, err := postgres.Open(ctx, u, postgres.Options{CompactEvery: -1, MaxConns: 2})
			if err != nil {
				return err
			}
			db.Close()
			_, err = conn.Exec(ctx, `ALTER DATABASE `+building+` RENAME TO `+templateName)
			return err
		}()
	})
	return templateName, templateErr
}

// NewDatabase creates a fresh, migrated database for the test and returns its URL; it is
// dropped when the test ends.
func NewDatabase(tb testing.TB) string {
	tb.Helper()
	base := URL(tb)
	ctx := context.Background()
	tpl, err := template(ctx, base)
	if err != nil {
		tb.Fatalf("pgtest: template database: %v", err)
	}
	name := fmt.Sprintf("cdtsync_t%d_%d_%d", os.Getpid(), time.Now().UnixNano()%1e9, counter.Add(1))
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		tb.Fatalf("pgtest: %v", err)
	}
	defer conn.Close(ctx)
	// A template being copied must have no other connection: retry while another test
	// process copies it at the same moment.
	for i := 0; ; i++ {
		_, err = conn.Exec(ctx, `CREATE DATABASE `+name+` TEMPLATE `+tpl)
		if err == nil || i == 50 || !strings.Contains(err.Error(), "being accessed by other users") {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		tb.Fatalf("pgtest: create database: %v", err)
	}
	u, err := withDatabase(base, name)
	if err != nil {
		tb.Fatal(err)
	}
	// Each database is a deployment of its own: its own epoch and citizen key.
	c2, err := pgx.Connect(ctx, u)
	if err != nil {
		tb.Fatalf("pgtest: %v", err)
	}
	epoch, key := make([]byte, 8), make([]byte, 32)
	rand.Read(epoch)
	rand.Read(key)
	_, err = c2.Exec(ctx, `UPDATE meta SET value = CASE key WHEN 'epoch' THEN $1 ELSE $2 END WHERE key IN ('epoch', 'citizen_key')`,
		hex.EncodeToString(epoch), base64.StdEncoding.EncodeToString(key))
	c2.Close(ctx)
	if err != nil {
		tb.Fatalf("pgtest: new epoch: %v", err)
	}
	tb.Cleanup(func() {
		if os.Getenv("PGTEST_KEEP") != "" {
			tb.Logf("pgtest: kept database %s", name)
			return
		}
		c, err := pgx.Connect(context.Background(), base)
		if err != nil {
			return
		}
		defer c.Close(context.Background())
		c.Exec(context.Background(), `DROP DATABASE IF EXISTS `+name+` WITH (FORCE)`)
	})
	return u
}

// MustOpen opens a fresh database for the test, closed when it ends. The compactor runs
// as in production unless opts says otherwise.
func MustOpen(tb testing.TB, opts postgres.Options) *postgres.DB {
	tb.Helper()
	db, err := postgres.Open(context.Background(), NewDatabase(tb), opts)
	if err != nil {
		tb.Fatalf("pgtest: open: %v", err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

// EnvReplicaPort names the environment variable holding the port of a hot standby of the
// test server on the same host (scripts/pg-test.sh starts one).
const EnvReplicaPort = "CDTSYNC_TEST_REPLICA_PORT"

// ReplicaURL returns the URL of the database at dbURL on the test server's hot standby,
// once the standby has replayed its creation. Without a standby it fails the test in CI
// and skips it elsewhere.
func ReplicaURL(tb testing.TB, dbURL string) string {
	tb.Helper()
	port := need(tb, EnvReplicaPort, "no hot standby, replica tests skipped")
	u, err := url.Parse(dbURL)
	if err != nil {
		tb.Fatal(err)
	}
	u.Host = u.Hostname() + ":" + port
	CatchUp(tb, dbURL)
	return u.String()
}

// CatchUp waits until the hot standby has replayed everything the primary at dbURL has
// written so far.
func CatchUp(tb testing.TB, dbURL string) {
	tb.Helper()
	ctx := context.Background()
	p, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		tb.Fatalf("pgtest: %v", err)
	}
	var lsn string
	err = p.QueryRow(ctx, `SELECT pg_current_wal_lsn()::text`).Scan(&lsn)
	p.Close(ctx)
	if err != nil {
		tb.Fatalf("pgtest: %v", err)
	}
	base, err := url.Parse(URL(tb)) // a database that the standby had from its start
	if err != nil {
		tb.Fatal(err)
	}
	base.Host = base.Hostname() + ":" + os.Getenv(EnvReplicaPort)
	s, err := pgx.Connect(ctx, base.String())
	if err != nil {
		tb.Fatalf("pgtest: standby: %v", err)
	}
	defer s.Close(ctx)
	for deadline := time.Now().Add(30 * time.Second); ; {
		var done bool
		if err := s.QueryRow(ctx, `SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn`, lsn).Scan(&done); err != nil {
			tb.Fatalf("pgtest: standby: %v", err)
		}
		if done {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("pgtest: the standby has not replayed %s after 30 s", lsn)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
