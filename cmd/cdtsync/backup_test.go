package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/cdtsync/cdtsync/schema"
	"github.com/cdtsync/cdtsync/store/sqlite"
	"github.com/cdtsync/cdtsync/sync/engine"
	"github.com/cdtsync/cdtsync/sync/hlc"
)

// TestBackupRestoreWhileServing is the backup procedure of the README, on the real
// binary: `cdtsync backup` runs as its own process while phones push to `cdtsync serve`;
// pushes keep being answered during the backup (their latency is logged); `cdtsync restore`
// refuses to run while the server serves; after the server stops it puts the copy in
// place; the restarted server holds every push acknowledged before the backup began, and
// a phone's pull cursor from before the restore answers reset: true, then the phone's
// full pull.
//
// CDTSYNC_BACKUP_PREFILL=N first loads N logs, to measure a backup of a larger database.
func TestBackupRestoreWhileServing(t *testing.T) {
	data := t.TempDir()
	pushers, _ := fixturePushers(t, data)
	if n, _ := strconv.Atoi(os.Getenv("CDTSYNC_BACKUP_PREFILL")); n > 0 {
		prefill(t, data, pushers, n)
	}
	c := startChild(t, "serve", "--addr", "127.0.0.1:0", "--data", data)
	for _, p := range pushers {
		p.record(50)
		if !p.push(c.URL, 50) {
			t.Fatal("first push failed")
		}
	}
	hong := pushers[0]
	liveCursor, _, _ := pullToEnd(t, c.URL, hong.token, "")

	// Phones push while the backup runs; each push's latency is kept with its time.
	type sample struct {
		at time.Time
		d  time.Duration
	}
	var (
		mu      sync.Mutex
		samples []sample
		failed  int
	)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for _, p := range pushers {
		wg.Add(1)
		go func(p *pusher) {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				p.record(rand.IntN(30) + 1)
				start := time.Now()
				ok := p.push(c.URL, 200)
				mu.Lock()
				if ok {
					samples = append(samples, sample{start, time.Since(start)})
				} else {
					failed++
				}
				mu.Unlock()
			}
		}(p)
	}
	time.Sleep(time.Second)
	ackedBefore := map[string]string{}
	for _, p := range pushers {
		p.mu.Lock()
		for op, id := range p.acked {
			ackedBefore[op] = id
		}
		p.mu.Unlock()
	}
	backupFile := filepath.Join(t.TempDir(), "cdtsync-backup.db")
	began := time.Now()
	out, errOut, err := runCmd(t, "backup", "--data", data, backupFile)
	ended := time.Now()
	if err != nil {
		t.Fatalf("cdtsync backup: %v\n%s%s", err, out, errOut)
	}
	time.Sleep(500 * time.Millisecond)
	close(stop)
	wg.Wait()
	var during, outside latencies
	for _, s := range samples {
		if s.at.Add(s.d).After(began) && s.at.Before(ended) {
			during = append(during, s.d)
		} else {
			outside = append(outside, s.d)
		}
	}
	t.Logf("backup took %v:\n%s", ended.Sub(began).Round(time.Millisecond), strings.TrimSpace(out))
	t.Logf("push latency (batches of ≤200 ops, 4 phones) outside the backup: %v; overlapping it: %v; failed pushes: %d", outside, during, failed)
	if len(during) == 0 {
		t.Errorf("no push was answered while the backup ran")
	}
	if failed > 0 {
		t.Errorf("%d pushes failed during the backup", failed)
	}
	if !strings.Contains(out, "backed up: "+backupFile) {
		t.Errorf("backup output: %s", out)
	}

	// restore refuses while the server serves, and changes nothing.
	if _, errOut, err := runCmd(t, "restore", "--data", data, backupFile); err == nil || !strings.Contains(errOut, "stop the server") {
		t.Fatalf("restore while serving: %v %s", err, errOut)
	}
	c.stop(t)
	out, errOut, err = runCmd(t, "restore", "--data", data, backupFile)
	if err != nil {
		t.Fatalf("cdtsync restore: %v\n%s%s", err, out, errOut)
	}
	t.Logf("%s", strings.TrimSpace(out))
	asides, _ := filepath.Glob(filepath.Join(data, sqlite.FileName+".before-restore-*"))
	if len(asides) == 0 {
		t.Errorf("the previous database was not kept aside: %s", out)
	}

	c = startChild(t, "serve", "--addr", "127.0.0.1:0", "--data", data)
	_, reset, pulled := pullToEnd(t, c.URL, hong.token, liveCursor)
	if !reset {
		t.Fatalf("a cursor from before the restore did not answer reset")
	}
	_, _, all := pullToEnd(t, c.URL, hong.token, "")
	if len(pulled) != len(all) {
		t.Errorf("after reset the phone pulled %d logs; a fresh pull gives %d", len(pulled), len(all))
	}
	c.stop(t)
	db := openReadOnly(t, filepath.Join(data, sqlite.FileName))
	missing := 0
	for op := range ackedBefore {
		var n int
		db.QueryRow(`SELECT count(*) FROM ops WHERE op_id = ?`, op).Scan(&n)
		if n != 1 {
			missing++
		}
	}
	if missing > 0 {
		t.Fatalf("%d of the %d ops acknowledged before the backup began are not in the restored database", missing, len(ackedBefore))
	}
	t.Logf("restored: all %d ops acknowledged before the backup began are present; Hồng's phone pulled %d logs after reset", len(ackedBefore), len(pulled))
}

// prefill loads about n logs into the database in data through the sync engine, spread
// over the fixture's phones and the last 60 days.
func prefill(t testing.TB, data string, pushers []*pusher, n int) {
	t.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, data, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	e := engine.New(db, nil)
	start := time.Now()
	now := time.Now()
	for done := 0; done < n; {
		p := pushers[(done/1000)%len(pushers)]
		ops := make([]schema.Op, 0, 1000)
		for i := 0; i < 1000 && done < n; i++ {
			f := map[string]any{"hamlet_id": p.hamlet, "kind": "vneid_install",
				"occurred_at": now.Add(-time.Duration(rand.IntN(60*24)) * time.Hour).Format(time.RFC3339),
				"note":        fmt.Sprintf("Hướng dẫn cài VNeID cho hộ số %d", done)}
			raw := map[string]json.RawMessage{}
			for k, v := range f {
				raw[k], _ = json.Marshal(v)
			}
			ops = append(ops, schema.Op{OpID: uuid.Must(uuid.NewV7()).String(), Type: schema.OpUpsert,
				ID: uuid.Must(uuid.NewV7()).String(), HLC: hlc.FromTime(now).String(), Fields: raw})
			done++
		}
		if _, err := e.Push(ctx, p.actor, schema.PushRequest{DeviceTime: now.Format(time.RFC3339), Ops: ops}); err != nil {
			t.Fatal(err)
		}
	}
	st, _ := os.Stat(filepath.Join(data, sqlite.FileName))
	t.Logf("prefilled %d logs in %v", n, time.Since(start).Round(time.Millisecond))
	_ = st
}
