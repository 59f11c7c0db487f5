package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cdtsync/cdtsync/store/postgres/pgtest"
)

// The bare pgx baseline's tests need PostgreSQL: make test runs them through
// scripts/pg-test.sh (CDTSYNC_TEST_DATABASE_URL set); without a server they skip, or fail
// with CI=true (pgtest.URL).

// TestRawPG runs `cdtload raw --database` and checks its summary: a rate per connection
// count at 500 rows a batch, the ceiling the load runs compare with, WAL per row; every row
// inserted (runRawPG counts them); its scratch schema gone afterwards.
func TestRawPG(t *testing.T) {
	url := pgtest.NewDatabase(t)
	var out, errOut bytes.Buffer
	m := &Main{Stdout: &out, Stderr: &errOut, Getenv: func(string) string { return "" }}
	jsonFile := filepath.Join(t.TempDir(), "raw-pg.json")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	args := []string{"raw", "--database", url, "--rows", "2400", "--repeat", "2", "--conns", "1,3", "--quiet", "--json-out", jsonFile}
	if err := m.Run(ctx, args); err != nil {
		t.Fatalf("cdtload raw: %v\n%s", err, errOut.String())
	}
	b, err := os.ReadFile(jsonFile)
	if err != nil {
		t.Fatal(err)
	}
	var s rawSummary
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	if s.Mode != "raw-pg" || len(s.Results) != 2 {
		t.Fatalf("mode %q, %d results; want raw-pg with 2 (500 rows × 1 and 3 connections):\n%s", s.Mode, len(s.Results), b)
	}
	var best float64
	for i, r := range s.Results {
		if r.TxRows != 500 || r.Conns != []int{1, 3}[i] || r.Indexes != len(rawPGIndexes) || r.Rows != 2400 || len(r.RowsPerSec.Runs) != 2 {
			t.Errorf("result %d: %+v", i, r)
		}
		if r.RowsPerSec.Median <= 0 || r.WALKB <= 0 {
			t.Errorf("result %d: %.0f rows/s, %.2f kB of WAL per row", i, r.RowsPerSec.Median, r.WALKB)
		}
		best = max(best, r.RowsPerSec.Median)
	}
	if s.Raw500 != best || s.Raw500Conns == 0 {
		t.Errorf("ceiling %.0f rows/s at %d connections; want the best median, %.0f", s.Raw500, s.Raw500Conns, best)
	}
	// A load run reads it as its baseline.
	ref, err := readBaseline(jsonFile)
	if err != nil || ref.Raw500 != s.Raw500 || ref.Mode != "raw-pg" {
		t.Errorf("readBaseline: %+v, %v", ref, err)
	}
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var left int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'cdtload_raw_%'`).Scan(&left); err != nil || left != 0 {
		t.Errorf("scratch schemas left behind: %d (%v)", left, err)
	}
}

// TestRawPGMatchesStore: the baseline's table is the PostgreSQL store's logs table — the
// same columns and types, the same secondary indexes — and its insert is idempotent: a
// batch sent again inserts nothing.
func TestRawPGMatchesStore(t *testing.T) {
	url := pgtest.NewDatabase(t) // migrated: the store's own logs table is in public
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	const scratch = "cdtload_raw_test"
	defer conn.Exec(context.Background(), `DROP SCHEMA IF EXISTS `+scratch+` CASCADE`)
	if _, err := conn.Exec(ctx, `SET search_path = `+scratch); err != nil {
		t.Fatal(err)
	}
	if err := rawPGReset(ctx, conn, scratch); err != nil {
		t.Fatal(err)
	}
	// list returns the strings query q gives for a schema ($1).
	list := func(q, schema string) []string {
		rows, err := conn.Query(ctx, q, schema)
		if err != nil {
			t.Fatal(err)
		}
		out, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	columns := func(schema string) []string {
		return list(`SELECT column_name || ' ' || data_type || ' ' || is_nullable FROM information_schema.columns
			WHERE table_schema = $1 AND table_name = 'logs' ORDER BY ordinal_position`, schema)
	}
	indexes := func(schema string) []string {
		return list(`SELECT replace(indexdef, $1 || '.', '') FROM pg_indexes WHERE schemaname = $1 AND tablename = 'logs'
			ORDER BY indexname`, schema)
	}
	if store, raw := columns("public"), columns(scratch); !slices.Equal(store, raw) {
		t.Errorf("columns differ from the store's logs table:\nstore: %v\nraw:   %v", store, raw)
	}
	if store, raw := indexes("public"), indexes(scratch); !slices.Equal(store, raw) {
		t.Errorf("indexes differ from the store's logs table:\nstore: %v\nraw:   %v", store, raw)
	}

	batches := pgBatches(rawRows(1000, 7), 500)
	if _, err := rawPGOnce(ctx, []*pgx.Conn{conn}, batches); err != nil {
		t.Fatal(err)
	}
	tag, err := conn.Exec(ctx, rawPGInsert, batches[1].args()...)
	if err != nil || tag.RowsAffected() != 0 {
		t.Errorf("a batch sent again inserted %d rows (%v); want 0", tag.RowsAffected(), err)
	}
	var n int
	var complete bool
	if err := conn.QueryRow(ctx, `SELECT count(*), bool_and(complete AND day IS NOT NULL AND length(citizen_ref) = 32 AND stamps <> '')
		FROM logs`).Scan(&n, &complete); err != nil || n != 1000 || !complete {
		t.Errorf("%d rows, all complete with a day, ref and stamps: %v (%v)", n, complete, err)
	}
}
