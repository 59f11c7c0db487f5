package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/cdtsync/cdtsync/auth"
	"github.com/cdtsync/cdtsync/schema"
	"github.com/cdtsync/cdtsync/store/sqlite"
	"github.com/cdtsync/cdtsync/store/sqlite/sqlitetest"
	"github.com/cdtsync/cdtsync/sync/hlc"
)

// crashCycles is how many kill -9 cycles TestCrashDurability runs: a few in make test,
// more with CDTSYNC_CRASH_CYCLES (make crash).
func crashCycles() int {
	if n, err := strconv.Atoi(os.Getenv("CDTSYNC_CRASH_CYCLES")); err == nil && n > 0 {
		return n
	}
	return 4
}

// pusher is one phone: it makes creation ops, pushes them in batches, and remembers which
// the server acknowledged. Unacknowledged ops are re-sent with the same op ids.
type pusher struct {
	actor  schema.Actor
	token  string
	hamlet int64
	mu     sync.Mutex
	outbox []schema.Op
	acked  map[string]string // op id → log id
}

func (p *pusher) record(n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := 0; i < n; i++ {
		id := uuid.Must(uuid.NewV7()).String()
		f := map[string]json.RawMessage{}
		for k, v := range map[string]any{"hamlet_id": p.hamlet, "kind": "vneid_install",
			"occurred_at": time.Now().Add(-time.Hour).Format(time.RFC3339), "note": "ghi nhận " + id[:8]} {
			b, _ := json.Marshal(v)
			f[k] = b
		}
		p.outbox = append(p.outbox, schema.Op{OpID: uuid.Must(uuid.NewV7()).String(), Type: schema.OpUpsert, ID: id,
			HLC: hlc.FromTime(time.Now()).String(), Fields: f})
	}
}

// push sends up to n ops from the front of the outbox once; it returns false if the
// server could not be reached or answered an error.
func (p *pusher) push(url string, n int) bool {
	p.mu.Lock()
	if n > len(p.outbox) {
		n = len(p.outbox)
	}
	batch := append([]schema.Op(nil), p.outbox[:n]...)
	p.mu.Unlock()
	if len(batch) == 0 {
		return true
	}
	body, _ := json.Marshal(schema.PushRequest{DeviceTime: time.Now().Format(time.RFC3339Nano), Ops: batch})
	req, _ := http.NewRequest("POST", url+"/v1/sync/push", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+p.token)
	req.Header.Set("Content-Type", "application/json")
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		return false
	}
	var out schema.PushResponse
	if json.Unmarshal(b, &out) != nil || len(out.Results) != len(batch) {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	done := map[string]bool{}
	for i, r := range out.Results {
		if r.Status == schema.ResultApplied || r.Status == schema.ResultAlreadyApplied {
			p.acked[batch[i].OpID] = batch[i].ID
			done[batch[i].OpID] = true
		}
	}
	keep := p.outbox[:0]
	for _, op := range p.outbox {
		if !done[op.OpID] {
			keep = append(keep, op)
		}
	}
	p.outbox = keep
	return true
}

// TestCrashDurability runs the real server as a child process with several phones
// pushing concurrently, kills it with SIGKILL at random moments, restarts it on the same
// data directory, and at the end checks that every operation ever acknowledged applied is
// in the database exactly once, and that the database is intact.
func TestCrashDurability(t *testing.T) {
	data := t.TempDir()
	db, err := sqlite.Open(context.Background(), data, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	f := sqlitetest.MustFixture(t, db)
	db.Close()
	keys, err := auth.LoadKeys(filepath.Join(data, auth.KeyDir), time.Now)
	if err != nil {
		t.Fatal(err)
	}
	tokens := auth.NewTokens(keys, time.Now)
	var pushers []*pusher
	for i, a := range []schema.Actor{f.HongA, f.HongB, f.Minh, f.Mai, f.HongA, f.Minh} {
		tok, _, err := tokens.Issue(auth.Principal{UserID: a.UserID, Role: a.Role, DeviceRow: a.DeviceRowID, DeviceID: a.DeviceID})
		if err != nil {
			t.Fatal(err)
		}
		hamlet := f.SaDecHamlets[i%3]
		if a.UnitID == f.TanDuong {
			hamlet = f.TanDuongHamlets[0]
		}
		pushers = append(pushers, &pusher{actor: a, token: tok, hamlet: hamlet, acked: map[string]string{}})
	}

	var kills atomic.Int64
	for cycle := 0; cycle < crashCycles(); cycle++ {
		c := startChild(t, "serve", "--addr", "127.0.0.1:0", "--data", data)
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
					p.record(rand.IntN(40) + 1)
					if !p.push(c.URL, rand.IntN(120)+1) {
						time.Sleep(20 * time.Millisecond)
					}
				}
			}(p)
		}
		time.Sleep(time.Duration(300+rand.IntN(1200)) * time.Millisecond)
		c.kill()
		kills.Add(1)
		close(stop)
		wg.Wait()
	}

	// Restart once more and drain every outbox: each op ends acknowledged.
	c := startChild(t, "serve", "--addr", "127.0.0.1:0", "--data", data)
	total := 0
	for _, p := range pushers {
		for tries := 0; ; tries++ {
			p.mu.Lock()
			left := len(p.outbox)
			p.mu.Unlock()
			if left == 0 {
				break
			}
			if !p.push(c.URL, 500) && tries > 200 {
				t.Fatalf("cannot drain the outbox of %s", p.actor.DeviceID)
			}
		}
		total += len(p.acked)
	}
	c.stop(t)

	conn, err := sql.Open("sqlite", "file:"+filepath.Join(data, sqlite.FileName)+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var integrity string
	if err := conn.QueryRow(`PRAGMA integrity_check`).Scan(&integrity); err != nil || integrity != "ok" {
		t.Fatalf("integrity_check: %q %v", integrity, err)
	}
	var logs, ops int
	conn.QueryRow(`SELECT count(*) FROM logs`).Scan(&logs)
	conn.QueryRow(`SELECT count(*) FROM ops WHERE status = 'applied'`).Scan(&ops)
	if logs != total || ops != total {
		t.Fatalf("acknowledged %d ops; database holds %d logs and %d applied ops", total, logs, ops)
	}
	for _, p := range pushers {
		for opID, logID := range p.acked {
			var n int
			if err := conn.QueryRow(`SELECT count(*) FROM logs l JOIN ops o ON o.op_id = ? WHERE l.id = ? AND l.volunteer_id = ? AND o.status = 'applied'`,
				opID, logID, p.actor.UserID).Scan(&n); err != nil || n != 1 {
				t.Fatalf("acknowledged op %s (log %s) present %d times: %v", opID, logID, n, err)
			}
		}
	}
	t.Logf("%d kill -9 cycles, %d operations acknowledged, all present exactly once", kills.Load(), total)
	fmt.Fprint(io.Discard)
}
