package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/cdtsync/cdtsync/auth"
	"github.com/cdtsync/cdtsync/schema"
	"github.com/cdtsync/cdtsync/store/sqlite"
	"github.com/cdtsync/cdtsync/store/sqlite/sqlitetest"
)

// fixturePushers builds the sqlitetest fixture in a new database in data and returns a
// pusher (crash_test.go) for each of its four phones, with access tokens signed by the
// data directory's keys (valid 15 minutes).
func fixturePushers(t testing.TB, data string) ([]*pusher, *sqlitetest.Fixture) {
	t.Helper()
	db, err := sqlite.Open(context.Background(), data, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	f := sqlitetest.MustFixture(t, db)
	db.Close()
	var ps []*pusher
	for i, a := range []schema.Actor{f.HongA, f.HongB, f.Minh, f.Mai} {
		hamlet := f.SaDecHamlets[i%3]
		if a.UnitID == f.TanDuong {
			hamlet = f.TanDuongHamlets[0]
		}
		ps = append(ps, &pusher{actor: a, token: mintToken(t, data, a), hamlet: hamlet, acked: map[string]string{}})
	}
	return ps, f
}

// mintToken signs an access token for a with the data directory's keys.
func mintToken(t testing.TB, data string, a schema.Actor) string {
	t.Helper()
	keys, err := auth.LoadKeys(filepath.Join(data, auth.KeyDir), time.Now)
	if err != nil {
		t.Fatal(err)
	}
	tok, _, err := auth.NewTokens(keys, time.Now).Issue(auth.Principal{UserID: a.UserID, Role: a.Role, DeviceRow: a.DeviceRowID, DeviceID: a.DeviceID})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// runCmd runs `cdtsync <args…>` as a child process to its end and returns its output.
func runCmd(t testing.TB, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+strings.Join(args, "\x1f"), "CDTSYNC_LOG_LEVEL=warn")
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err = cmd.Run()
	return o.String(), e.String(), err
}

// pull sends one GET /v1/sync/pull.
func pull(t testing.TB, base, token, cursor string, limit int) (int, schema.PullResponse) {
	t.Helper()
	req, _ := http.NewRequest("GET", fmt.Sprintf("%s/v1/sync/pull?limit=%d&cursor=%s", base, limit, cursor), nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var out schema.PullResponse
	if resp.StatusCode == 200 {
		if err := json.Unmarshal(b, &out); err != nil {
			t.Fatalf("pull: %v %s", err, b)
		}
	}
	return resp.StatusCode, out
}

// pullToEnd pulls from cursor until has_more is false; it returns the last cursor, whether
// the first page said reset, and the log ids seen.
func pullToEnd(t testing.TB, base, token, cursor string) (string, bool, map[string]bool) {
	t.Helper()
	logs := map[string]bool{}
	reset := false
	for i := 0; ; i++ {
		status, page := pull(t, base, token, cursor, 1000)
		if status != 200 {
			t.Fatalf("pull: %d", status)
		}
		if i == 0 {
			reset = page.Reset
		}
		for _, c := range page.Changes {
			if c.Type == schema.ChangeLog {
				logs[c.Log.ID] = true
			}
		}
		cursor = page.Cursor
		if !page.HasMore {
			return cursor, reset, logs
		}
	}
}

// openReadOnly opens a database file for checks after the server stopped.
func openReadOnly(t testing.TB, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// latencies summarises durations: count, median, 99th percentile and maximum.
type latencies []time.Duration

func (l latencies) String() string {
	if len(l) == 0 {
		return "none"
	}
	s := append(latencies(nil), l...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	q := func(p float64) time.Duration { return s[int(p*float64(len(s)-1))].Round(time.Millisecond) }
	return fmt.Sprintf("n=%d p50=%v p99=%v max=%v", len(s), q(0.5), q(0.99), s[len(s)-1].Round(time.Millisecond))
}
