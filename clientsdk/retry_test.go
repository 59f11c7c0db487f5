package clientsdk_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cdtsync/cdtsync/clientsdk"
	"github.com/cdtsync/cdtsync/clientsdk/sdktest"
	"github.com/cdtsync/cdtsync/schema"
	"github.com/cdtsync/cdtsync/store/sqlite"
)

// answer writes a cdtsync error answer.
func answer(w http.ResponseWriter, status int, code, retryAfter string) {
	if retryAfter != "" {
		w.Header().Set("Retry-After", retryAfter)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(schema.Error{Code: code, Message: "thử lại sau / retry later"})
}

// TestServerAnswersRetried: each whole-request error the protocol says to retry is
// retried with the same ops, and the result is exactly-once; 413 splits the batch; a
// timeout is retried; Retry-After is honoured.
func TestServerAnswersRetried(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		// fail answers the n-th push (from 0) instead of the server, or returns false.
		fail func(w http.ResponseWriter, r *http.Request, n int, srv *sdktest.Server) bool
	}{
		{"Unavailable503", func(w http.ResponseWriter, r *http.Request, n int, _ *sdktest.Server) bool {
			if n < 2 {
				answer(w, 503, schema.CodeUnavailable, "0")
				return true
			}
			return false
		}},
		{"TooMany429", func(w http.ResponseWriter, r *http.Request, n int, _ *sdktest.Server) bool {
			if n < 2 {
				answer(w, 429, schema.CodeTooManyRequests, "0")
				return true
			}
			return false
		}},
		{"Internal500AfterCommit", func(w http.ResponseWriter, r *http.Request, n int, srv *sdktest.Server) bool {
			if n == 0 { // the server applies the push, then a proxy in front answers 500
				srv.Handler.ServeHTTP(httptest.NewRecorder(), r)
				answer(w, 500, schema.CodeInternal, "")
				return true
			}
			return false
		}},
		{"BadGatewayHTML", func(w http.ResponseWriter, r *http.Request, n int, _ *sdktest.Server) bool {
			if n == 0 {
				w.WriteHeader(502)
				w.Write([]byte("<html><body>502 Bad Gateway</body></html>"))
				return true
			}
			return false
		}},
		{"StorageFull507", func(w http.ResponseWriter, r *http.Request, n int, _ *sdktest.Server) bool {
			if n == 0 {
				answer(w, 507, schema.CodeStorageFull, "")
				return true
			}
			return false
		}},
		{"Timeout", func(w http.ResponseWriter, r *http.Request, n int, srv *sdktest.Server) bool {
			if n == 0 { // applied, but the answer comes after the phone gave up
				srv.Handler.ServeHTTP(httptest.NewRecorder(), r)
				select {
				case <-time.After(10 * time.Second):
				case <-r.Context().Done():
				}
				return true
			}
			return false
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := sdktest.Start(t)
			hong := srv.Volunteer(t, "Nguyễn Thị Hồng", srv.TeamSaDec)
			hc := clientsdk.NewHTTPClient()
			hc.Timeout = 2 * time.Second // short, but not so short that a loaded test machine trips it
			p := newPhone(t, "android-hong-7f3a", clientsdk.Options{HTTPClient: hc})
			p.enroll(srv, srv.TeamSaDec, hong)
			for i := 0; i < 5; i++ {
				p.record(visit(srv, "Hộ "+string(rune('A'+i))))
			}
			var pushes atomic.Int32
			srv.Intercept(func(w http.ResponseWriter, r *http.Request) bool {
				if r.URL.Path != "/v1/sync/push" {
					return false
				}
				return tc.fail(w, r, int(pushes.Add(1)-1), srv)
			})
			rep := p.sync()
			if rep.Pushed != 5 {
				t.Errorf("report %+v", rep)
			}
			if n := srv.Count(t, `SELECT count(*) FROM logs`); n != 5 {
				t.Errorf("server holds %d logs", n)
			}
			if pushes.Load() < 2 {
				t.Errorf("%d pushes: the failure was not retried", pushes.Load())
			}
		})
	}

	t.Run("TooLargeSplits", func(t *testing.T) {
		srv := sdktest.Start(t)
		hong := srv.Volunteer(t, "Nguyễn Thị Hồng", srv.TeamSaDec)
		p := newPhone(t, "android-hong-7f3a", clientsdk.Options{})
		p.enroll(srv, srv.TeamSaDec, hong)
		for i := 0; i < 30; i++ {
			p.record(visit(srv, "Hộ gia đình"))
		}
		var sizes []int
		var mu sync.Mutex
		var gzipAsked atomic.Bool
		srv.Intercept(func(w http.ResponseWriter, r *http.Request) bool {
			if r.URL.Path == "/v1/sync/pull" && strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
				gzipAsked.Store(true) // pull pages come back compressed
			}
			if r.URL.Path != "/v1/sync/push" {
				return false
			}
			if r.Header.Get("Content-Encoding") != "gzip" {
				t.Errorf("push body not gzip")
			}
			var req schema.PushRequest
			body, _ := readGzip(r)
			json.Unmarshal(body, &req)
			mu.Lock()
			sizes = append(sizes, len(req.Ops))
			mu.Unlock()
			if len(req.Ops) > 8 {
				answer(w, 413, schema.CodeTooLarge, "")
				return true
			}
			r.Body = ioNopCloser(body)
			r.Header.Del("Content-Encoding")
			return false
		})
		if rep := p.sync(); rep.Pushed != 30 {
			t.Errorf("report %+v", rep)
		}
		if !gzipAsked.Load() {
			t.Errorf("pulls do not ask for gzip answers")
		}
		mu.Lock()
		t.Logf("push sizes %v", sizes)
		mu.Unlock()
		if n := srv.Count(t, `SELECT count(*) FROM logs`); n != 30 {
			t.Errorf("server holds %d logs", n)
		}
	})

	t.Run("RetryAfterHonoured", func(t *testing.T) {
		srv := sdktest.Start(t)
		hong := srv.Volunteer(t, "Nguyễn Thị Hồng", srv.TeamSaDec)
		p := newPhone(t, "android-hong-7f3a", clientsdk.Options{Backoff: clientsdk.Backoff{Initial: time.Millisecond, Max: 10 * time.Second, Retries: 2}})
		p.enroll(srv, srv.TeamSaDec, hong)
		p.record(visit(srv, "Hộ gia đình"))
		var at []time.Time
		var mu sync.Mutex
		srv.Intercept(func(w http.ResponseWriter, r *http.Request) bool {
			if r.URL.Path != "/v1/sync/push" {
				return false
			}
			mu.Lock()
			defer mu.Unlock()
			at = append(at, time.Now())
			if len(at) == 1 {
				answer(w, 503, schema.CodeUnavailable, "1")
				return true
			}
			return false
		})
		p.sync()
		mu.Lock()
		defer mu.Unlock()
		if len(at) != 2 || at[1].Sub(at[0]) < time.Second {
			t.Errorf("pushes at %v: Retry-After 1 s not honoured", at)
		}
	})

	t.Run("ErrRetriesSpent", func(t *testing.T) {
		srv := sdktest.Start(t)
		hong := srv.Volunteer(t, "Nguyễn Thị Hồng", srv.TeamSaDec)
		p := newPhone(t, "android-hong-7f3a", clientsdk.Options{})
		p.enroll(srv, srv.TeamSaDec, hong)
		p.record(visit(srv, "Hộ gia đình"))
		srv.Intercept(func(w http.ResponseWriter, r *http.Request) bool {
			answer(w, 503, schema.CodeUnavailable, "")
			return true
		})
		_, err := p.Sync(context.Background())
		var ae *clientsdk.APIError
		if !errors.As(err, &ae) || ae.Status != 503 || schema.ErrorCode(err) != schema.CodeUnavailable {
			t.Fatalf("sync: %v", err)
		}
		st, _ := p.Status(context.Background())
		if v := st.Volunteers[0]; v.PendingOps != 1 || v.LastErrorCode != schema.CodeUnavailable || v.LastAttemptAt.IsZero() || !v.LastSyncAt.IsZero() {
			t.Errorf("status %+v", v)
		}
		srv.Intercept(nil)
		p.sync()
		st, _ = p.Status(context.Background())
		if v := st.Volunteers[0]; v.PendingOps != 0 || v.LastErrorCode != "" || v.LastSyncAt.IsZero() {
			t.Errorf("status after recovery %+v", v)
		}
	})

	t.Run("UnreadableCursorStartsOver", func(t *testing.T) {
		srv := sdktest.Start(t)
		hong := srv.Volunteer(t, "Nguyễn Thị Hồng", srv.TeamSaDec)
		p := newPhone(t, "android-hong-7f3a", clientsdk.Options{})
		p.enroll(srv, srv.TeamSaDec, hong)
		l := p.record(visit(srv, "Hộ gia đình"))
		p.sync()
		var refused atomic.Bool
		srv.Intercept(func(w http.ResponseWriter, r *http.Request) bool {
			if r.URL.Path == "/v1/sync/pull" && r.URL.Query().Get("cursor") != "" && !refused.Swap(true) {
				answer(w, 400, schema.CodeInvalid, "")
				return true
			}
			return false
		})
		srv.Review(t, srv.TeamSaDec, l.ID, schema.StatusApproved, "")
		p.sync()
		if got, _ := p.Log(context.Background(), l.ID); got.Status != schema.StatusApproved || !refused.Load() {
			t.Errorf("after starting over: %+v", got.Log)
		}
		if hs, _ := p.Hamlets(context.Background()); len(hs) != 3 {
			t.Errorf("pick-list after starting over: %d hamlets", len(hs))
		}
	})
}

// TestServerRestoredFromBackup: the server is restored from a backup older than some of
// the phone's logs. The next pull answers reset; the phone pulls everything again and
// offers the logs the server lost, so nothing the volunteer recorded is lost.
func TestServerRestoredFromBackup(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := sdktest.Start(t)
	hong := srv.Volunteer(t, "Nguyễn Thị Hồng", srv.TeamSaDec)
	p := newPhone(t, "android-hong-7f3a", clientsdk.Options{})
	p.enroll(srv, srv.TeamSaDec, hong)
	var ids []string
	for i := 0; i < 5; i++ {
		ids = append(ids, p.record(visit(srv, "Trước bản sao lưu")).ID)
	}
	p.sync()
	var lost []string
	for i := 0; i < 3; i++ {
		lost = append(lost, p.record(visit(srv, "Sau bản sao lưu")).ID)
	}
	gone := p.record(visit(srv, "Sau bản sao lưu, rồi xoá"))
	p.sync()
	if err := p.Delete(ctx, gone.ID); err != nil {
		t.Fatal(err)
	}
	p.sync()
	// The restore: the logs made after the backup are gone, and the database has a new
	// epoch.
	srv.Write(t, func(tx *sqlite.Tx) error {
		for _, id := range append(lost, gone.ID) {
			for _, q := range []string{`DELETE FROM log_history WHERE log_id = ?`, `DELETE FROM logs WHERE id = ?`} {
				if _, err := tx.ExecContext(ctx, q, id); err != nil {
					return err
				}
			}
		}
		_, err := tx.ExecContext(ctx, `UPDATE meta SET value = 'restored-2026-11-23' WHERE key = 'epoch'`)
		return err
	})
	if n := srv.Count(t, `SELECT count(*) FROM logs`); n != 5 {
		t.Fatalf("restored server holds %d logs", n)
	}
	p.sync()
	server := srv.Logs(t, srv.TeamSaDec, hong)
	if len(server) != 8 {
		t.Errorf("server holds %d logs after the phone synced, want 8", len(server))
	}
	local := p.logs()
	for _, id := range append(ids, lost...) {
		if s := server[id]; deref(s.Note) == nil || !local[id].Synced || !sameContent(local[id].Content, s.Content) {
			t.Errorf("log %s: server %+v phone %+v", id, s, local[id].Log)
		}
	}
	if _, ok := local[gone.ID]; ok {
		t.Errorf("the deleted log came back on the phone")
	}
	if _, ok := server[gone.ID]; ok {
		t.Errorf("the deleted log came back on the server")
	}
}

// TestTokenRefreshAndReuse: an expired access token is refreshed and the request retried;
// the rotated refresh token is stored before use. A copy of the phone's credentials used
// after the phone rotated them is refresh-token reuse: the server revokes the session, the
// phone is marked as needing a new enrolment and keeps its unsynced logs until then.
func TestTokenRefreshAndReuse(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := sdktest.Start(t)
	hong := srv.Volunteer(t, "Nguyễn Thị Hồng", srv.TeamSaDec)
	p := newPhone(t, "android-hong-7f3a", clientsdk.Options{})
	p.enroll(srv, srv.TeamSaDec, hong)
	p.record(visit(srv, "Hộ 1"))
	p.sync()

	// A copy of the phone's database: someone cloned the app's storage.
	p.Close()
	clonePath := filepath.Join(t.TempDir(), "clone.db")
	copyFile(t, p.path, clonePath)
	p.open()
	tokensBefore := secretOf(t, p.path, "tokens/")

	srv.Clock.Advance(20 * time.Minute) // the access token expired on the server
	p.record(visit(srv, "Hộ 2"))
	if rep := p.sync(); rep.Pushed != 1 {
		t.Errorf("after the access token expired: %+v", rep)
	}
	if secretOf(t, p.path, "tokens/") == tokensBefore {
		t.Errorf("the rotated tokens were not stored")
	}

	srv.Clock.Advance(3 * time.Minute) // past the grace for a lost answer
	clone := &phone{t: t, path: clonePath, opts: p.opts, clock: &phoneClock{}}
	clone.open()
	_, err := clone.Sync(ctx)
	if schema.ErrorCode(err) != schema.CodeUnauthorized {
		t.Fatalf("clone sync: %v", err)
	}
	if !strings.Contains(srv.Output.String(), "refresh_token_reused") {
		t.Errorf("the server did not see the reuse")
	}
	// The session is revoked: the real phone needs a new code, and loses nothing.
	srv.Clock.Advance(20 * time.Minute)
	p.record(visit(srv, "Hộ 3"))
	if _, err := p.Sync(ctx); schema.ErrorCode(err) != schema.CodeUnauthorized {
		t.Fatalf("sync after reuse: %v", err)
	}
	st, _ := p.Status(ctx)
	if v := st.Volunteers[0]; !v.NeedsEnrollment || v.PendingOps != 1 {
		t.Errorf("status %+v", v)
	}
	p.enroll(srv, srv.TeamSaDec, hong)
	p.sync()
	if n := srv.Count(t, `SELECT count(*) FROM logs`); n != 3 {
		t.Errorf("server holds %d logs, want 3", n)
	}
	// Tokens never reach the server's logs.
	if s := srv.Output.String(); strings.Contains(s, "cdtr_") || strings.Contains(s, "Bearer") {
		t.Errorf("a token in the server's log output")
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	for _, suffix := range []string{"", "-wal", "-shm"} {
		b, err := os.ReadFile(from + suffix)
		if errors.Is(err, os.ErrNotExist) && suffix != "" {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(to+suffix, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

func readGzip(r *http.Request) ([]byte, error) {
	zr, err := gzip.NewReader(r.Body)
	if err != nil {
		return nil, err
	}
	return io.ReadAll(zr)
}

func ioNopCloser(b []byte) io.ReadCloser { return io.NopCloser(bytes.NewReader(b)) }

// secretOf reads the default SecretStore's values under a key prefix from a phone's
// database file.
func secretOf(t *testing.T, path, prefix string) string {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var v string
	if err := db.QueryRow(`SELECT group_concat(value) FROM secrets WHERE key LIKE ? || '%'`, prefix).Scan(&v); err != nil {
		t.Fatal(err)
	}
	return v
}
