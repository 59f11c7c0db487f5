package main

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cdtsync/cdtsync/store/sqlite"
)

// TestSoak (make soak; not in make test) pushes without pause to the real server, run as a
// child process, for CDTSYNC_SOAK (e.g. 30m), killing it with SIGKILL every 20–90 s and
// starting it again on the same data directory. Phones keep their unacknowledged ops and
// resend them with the same op ids, as the SDK does. At the end it drains every outbox and
// checks that every op ever acknowledged is in the database exactly once, that the
// database passes integrity_check, and records ops acknowledged, restarts, losses and the
// server's resident memory over time (CDTSYNC_SOAK_REPORT names a file for the summary).
func TestSoak(t *testing.T) {
	d, err := time.ParseDuration(os.Getenv("CDTSYNC_SOAK"))
	if err != nil || d <= 0 {
		t.Skip("set CDTSYNC_SOAK=30m (make soak)")
	}
	data := t.TempDir()
	if dir := os.Getenv("CDTSYNC_SOAK_DATA"); dir != "" {
		data = dir
	}
	pushers, _ := fixturePushers(t, data)
	var (
		tokenMu  sync.RWMutex
		acked    atomic.Int64
		attempts atomic.Int64
		failures atomic.Int64
	)
	// Access tokens live 15 minutes: the phones get new ones every 10.
	refreshTokens := func() {
		tokenMu.Lock()
		defer tokenMu.Unlock()
		for _, p := range pushers {
			p.token = mintToken(t, data, p.actor)
		}
	}
	type rssSample struct {
		at  time.Duration
		kib int64
	}
	var (
		rssMu   sync.Mutex
		rss     []rssSample
		urlMu   sync.Mutex
		url     string
		restart int
	)
	start := time.Now()
	end := start.Add(d)
	c := startChild(t, "serve", "--addr", "127.0.0.1:0", "--data", data)
	url = c.URL
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
				p.mu.Lock()
				backlog := len(p.outbox)
				p.mu.Unlock()
				if backlog < 2000 {
					p.record(rand.IntN(40) + 1)
				}
				urlMu.Lock()
				u := url
				urlMu.Unlock()
				p.mu.Lock()
				before := len(p.acked)
				p.mu.Unlock()
				attempts.Add(1)
				tokenMu.RLock() // tokens are replaced only between pushes
				ok := p.push(u, 200)
				tokenMu.RUnlock()
				if !ok {
					failures.Add(1)
					time.Sleep(100 * time.Millisecond)
					continue
				}
				p.mu.Lock()
				acked.Add(int64(len(p.acked) - before))
				p.mu.Unlock()
				time.Sleep(time.Duration(20+rand.IntN(60)) * time.Millisecond)
			}
		}(p)
	}
	// Resident memory of the server, every 5 s.
	sampleStop := make(chan struct{})
	sampled := make(chan struct{})
	current := func() *child { urlMu.Lock(); defer urlMu.Unlock(); return c }
	go func() {
		defer close(sampled)
		for {
			select {
			case <-sampleStop:
				return
			case <-time.After(5 * time.Second):
			}
			if kib := vmRSS(current().cmd.Process.Pid); kib > 0 {
				rssMu.Lock()
				rss = append(rss, rssSample{time.Since(start), kib})
				rssMu.Unlock()
			}
		}
	}()
	lastRefresh := time.Now()
	for time.Now().Before(end) {
		wait := time.Duration(20+rand.IntN(70)) * time.Second
		if rem := time.Until(end); wait > rem {
			wait = rem
		}
		time.Sleep(wait)
		if time.Since(lastRefresh) > 10*time.Minute {
			refreshTokens()
			lastRefresh = time.Now()
		}
		if !time.Now().Before(end) {
			break
		}
		c.kill()
		restart++
		nc := startChild(t, "serve", "--addr", "127.0.0.1:0", "--data", data)
		urlMu.Lock()
		c, url = nc, nc.URL
		urlMu.Unlock()
	}
	close(stop)
	wg.Wait()
	close(sampleStop)
	<-sampled
	elapsed := time.Since(start)

	// Drain every outbox, then check.
	refreshTokens()
	drained := 0
	for _, p := range pushers {
		for tries := 0; ; tries++ {
			p.mu.Lock()
			left := len(p.outbox)
			p.mu.Unlock()
			if left == 0 {
				break
			}
			before := len(p.acked)
			if !p.push(c.URL, 1000) && tries > 200 {
				t.Fatalf("cannot drain the outbox of %s", p.actor.DeviceID)
			}
			drained += len(p.acked) - before
		}
	}
	c.stop(t)
	db := openReadOnly(t, filepath.Join(data, sqlite.FileName))
	var integrity string
	if err := db.QueryRow(`PRAGMA integrity_check`).Scan(&integrity); err != nil || integrity != "ok" {
		t.Fatalf("integrity_check: %q %v", integrity, err)
	}
	total, lost, dup := 0, 0, 0
	for _, p := range pushers {
		for opID, logID := range p.acked {
			total++
			var n int
			if err := db.QueryRow(`SELECT count(*) FROM logs l JOIN ops o ON o.op_id = ? WHERE l.id = ? AND l.volunteer_id = ? AND o.status = 'applied'`,
				opID, logID, p.actor.UserID).Scan(&n); err != nil {
				t.Fatal(err)
			}
			switch {
			case n == 0:
				lost++
			case n > 1:
				dup++
			}
		}
	}
	var logs, ops int
	db.QueryRow(`SELECT count(*) FROM logs`).Scan(&logs)
	db.QueryRow(`SELECT count(*) FROM ops`).Scan(&ops)
	st, _ := os.Stat(filepath.Join(data, sqlite.FileName))

	var b strings.Builder
	fmt.Fprintf(&b, "soak: %v of pushes by %d phones, kill -9 and restart %d times\n", elapsed.Round(time.Second), len(pushers), restart)
	fmt.Fprintf(&b, "  pushes sent %d, failed (server down or killed mid-push) %d\n", attempts.Load(), failures.Load())
	fmt.Fprintf(&b, "  ops acknowledged %d during the run (%.0f/s), %d more while draining; total %d\n",
		acked.Load(), float64(acked.Load())/elapsed.Seconds(), drained, total)
	fmt.Fprintf(&b, "  lost %d, duplicated %d; database: %d logs, %d op results, %d MiB, integrity ok\n", lost, dup, logs, ops, st.Size()>>20)
	b.WriteString("  server RSS (MiB), max per 5 minutes:")
	rssMu.Lock()
	var maxAll int64
	for i := 0; ; i++ {
		lo, hi := time.Duration(i)*5*time.Minute, time.Duration(i+1)*5*time.Minute
		if lo > elapsed {
			break
		}
		var m int64
		for _, s := range rss {
			if s.at >= lo && s.at < hi && s.kib > m {
				m = s.kib
			}
		}
		if m > maxAll {
			maxAll = m
		}
		fmt.Fprintf(&b, " %d–%dmin %d;", i*5, (i+1)*5, m>>10)
	}
	rssMu.Unlock()
	fmt.Fprintf(&b, " max %d\n", maxAll>>10)
	t.Log(b.String())
	if f := os.Getenv("CDTSYNC_SOAK_REPORT"); f != "" {
		os.WriteFile(f, []byte(b.String()), 0o644)
	}
	if lost > 0 || dup > 0 || logs != total {
		t.Fatalf("lost %d, duplicated %d acknowledged ops; %d logs for %d acknowledged ops", lost, dup, logs, total)
	}
}

// vmRSS returns a process's resident set size in KiB from /proc (0 if unknown).
func vmRSS(pid int) int64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return n
		}
	}
	return 0
}
