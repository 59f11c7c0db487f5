package main

import (
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cdtsync/cdtsync/schema"
	"github.com/cdtsync/cdtsync/store/sqlite"
)

// TestRefusesNewerDatabase: a database written by a newer cdtsync (its schema version
// above this binary's) is refused by serve, migrate and backup — the real binary exits
// with a message saying which versions and what to do — and the database file is left
// exactly as it was. (Migrating an older database forward, with its data and reports:
// store/sqlite TestUpgradeFromEachOlderSchema.)
func TestRefusesNewerDatabase(t *testing.T) {
	data := t.TempDir()
	db, err := sqlite.Open(context.Background(), data, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	newer := schema.LatestVersion() + 1
	if _, err := db.WriteDB().Exec(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, 'from_a_newer_build', '2027-01-01T00:00:00Z')`, newer); err != nil {
		t.Fatal(err)
	}
	db.Close()
	path := filepath.Join(data, sqlite.FileName)
	sum := func() string {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return fmt.Sprintf("%x", sha256.Sum256(b))
	}
	before := sum()
	for _, args := range [][]string{
		{"serve", "--addr", "127.0.0.1:0", "--data", data},
		{"migrate", "--data", data},
		{"backup", "--data", data, filepath.Join(t.TempDir(), "b.db")},
	} {
		out, errOut, err := runCmd(t, args...)
		if err == nil {
			t.Fatalf("cdtsync %s accepted a newer database:\n%s", args[0], out)
		}
		want := fmt.Sprintf("the database has schema version %d, newer than this cdtsync (%d): install a newer cdtsync", newer, newer-1)
		if !strings.Contains(errOut, want) || !strings.Contains(errOut, "mới hơn") {
			t.Errorf("cdtsync %s: the message does not say what is wrong and what to do:\n%s", args[0], errOut)
		}
		if strings.Contains(out, "serving at") {
			t.Errorf("cdtsync %s served", args[0])
		}
	}
	if sum() != before {
		t.Fatal("refusing the database changed it")
	}
}
