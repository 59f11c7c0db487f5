package main

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/cdtsync/cdtsync/schema"
	"github.com/cdtsync/cdtsync/store/sqlite"
)

// TestDiskFullWhileServing: the real server's files stop growing while phones push — the
// process's file-size limit (RLIMIT_FSIZE, set from outside with prlimit) is put just
// above the database and WAL sizes, so writes fail in the middle of commits as on a full
// disk, without root or a small file system. Pushes then fail whole with 503 or 507 and
// Retry-After and the server keeps running; when the limit is lifted, the same pushes
// resent are taken, without a restart. At the end every acknowledged op is in the
// database exactly once and the database passes integrity_check.
func TestDiskFullWhileServing(t *testing.T) {
	data := t.TempDir()
	pushers, _ := fixturePushers(t, data)
	c := startChild(t, "serve", "--addr", "127.0.0.1:0", "--data", data)
	pid := c.cmd.Process.Pid
	for _, p := range pushers {
		p.record(100)
		if !p.push(c.URL, 100) {
			t.Fatal("push before the limit")
		}
	}
	size := func(name string) int64 {
		st, err := os.Stat(filepath.Join(data, name))
		if err != nil {
			return 0
		}
		return st.Size()
	}
	limit := max(size(sqlite.FileName), size(sqlite.FileName+"-wal")) + 64<<10
	if err := unix.Prlimit(pid, unix.RLIMIT_FSIZE, &unix.Rlimit{Cur: uint64(limit), Max: unix.RLIM_INFINITY}, nil); err != nil {
		t.Fatalf("prlimit: %v", err) // Linux lets a process lower its own child's limits
	}

	// Push until the files cannot grow: the answer is 503 or 507 with Retry-After.
	var status int
	var e schema.Error
	var retry string
	for i := 0; i < 2000 && status == 0; i++ {
		p := pushers[i%len(pushers)]
		p.record(50)
		body, _ := json.Marshal(schema.PushRequest{DeviceTime: time.Now().Format(time.RFC3339), Ops: p.outbox[:min(len(p.outbox), 200)]})
		req, _ := http.NewRequest("POST", c.URL+"/v1/sync/push", strings.NewReader(string(body)))
		req.Header.Set("Authorization", "Bearer "+p.token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("the server died: %v\n%s", err, c.out.String())
		}
		if resp.StatusCode == 200 {
			resp.Body.Close()
			p.push(c.URL, 200) // records the acknowledgement (already_applied)
			continue
		}
		status, retry = resp.StatusCode, resp.Header.Get("Retry-After")
		json.NewDecoder(resp.Body).Decode(&e)
		resp.Body.Close()
	}
	if status != http.StatusServiceUnavailable && status != http.StatusInsufficientStorage {
		t.Fatalf("pushes past the file-size limit: status %d %+v", status, e)
	}
	if retry == "" || (e.Code != schema.CodeUnavailable && e.Code != schema.CodeStorageFull) || e.Message == "" {
		t.Fatalf("the failed push: %d Retry-After %q %+v", status, retry, e)
	}
	t.Logf("with the files capped at %d KiB: %d %s (Retry-After %s): %s", limit>>10, status, e.Code, retry, e.Message)
	var ready schema.Error
	if getJSON(t, c.URL+"/readyz", &ready) == http.StatusServiceUnavailable {
		t.Logf("/readyz: %s", ready.Message)
	}

	// Space returns: the same outboxes drain, without a restart.
	if err := unix.Prlimit(pid, unix.RLIMIT_FSIZE, &unix.Rlimit{Cur: unix.RLIM_INFINITY, Max: unix.RLIM_INFINITY}, nil); err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, p := range pushers {
		for tries := 0; len(p.outbox) > 0; tries++ {
			if !p.push(c.URL, 500) && tries > 100 {
				t.Fatalf("cannot drain after the limit was lifted\n%s", c.out.String())
			}
		}
		total += len(p.acked)
	}
	if s := getJSON(t, c.URL+"/readyz", nil); s != 200 {
		t.Fatalf("/readyz after the limit was lifted: %d", s)
	}
	c.stop(t)
	db := openReadOnly(t, filepath.Join(data, sqlite.FileName))
	var integrity string
	db.QueryRow(`PRAGMA integrity_check`).Scan(&integrity)
	var logs, applied int
	db.QueryRow(`SELECT count(*) FROM logs`).Scan(&logs)
	db.QueryRow(`SELECT count(*) FROM ops WHERE status = 'applied'`).Scan(&applied)
	if integrity != "ok" || logs != total || applied != total {
		t.Fatalf("integrity %q; %d ops acknowledged, %d logs, %d applied op results", integrity, total, logs, applied)
	}
}
