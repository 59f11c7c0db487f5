package clientsdk_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/cdtsync/cdtsync/clientsdk"
	"github.com/cdtsync/cdtsync/clientsdk/sdktest"
	"github.com/cdtsync/cdtsync/store/sqlite"
)

// TestRealOverloadRetryAfter (issue 9, operations): the real server's writer queue is
// full, so the real push handler answers 503 with Retry-After: 2 — not a scripted
// answer. The phone, whose own backoff would retry within milliseconds, waits the 2 s
// the server asked for, then its resent push is applied.
func TestRealOverloadRetryAfter(t *testing.T) {
	srv := sdktest.Start(t)
	hong := srv.Volunteer(t, "Nguyễn Thị Hồng", srv.TeamSaDec)
	// Its own backoff starts at 2 ms; Max (the cap of any wait, Retry-After included) is
	// the SDK's default order of magnitude, not the tests' 20 ms.
	p := newPhone(t, "android-hong-7f3a", clientsdk.Options{Backoff: clientsdk.Backoff{Initial: 2 * time.Millisecond, Max: time.Minute, Retries: 4}})
	p.enroll(srv, srv.TeamSaDec, hong)
	for i := 0; i < 3; i++ {
		p.record(visit(srv, "Hướng dẫn cài VNeID"))
	}

	// Fill the writer: one write holds it, 256 more fill its queue.
	gate := make(chan struct{})
	var once sync.Once
	release := func() { once.Do(func() { close(gate) }) }
	t.Cleanup(release)
	started := make(chan struct{})
	go srv.DB.Write(context.Background(), 0, func(*sqlite.Tx) error { close(started); <-gate; return nil })
	<-started
	for i := 0; i < 256; i++ {
		go srv.DB.Write(context.Background(), 0, func(*sqlite.Tx) error { return nil })
	}
	for srv.DB.Stats().QueueJobs < 256 {
		time.Sleep(time.Millisecond)
	}

	type attempt struct {
		at     time.Time
		status int
		retry  string
	}
	var mu sync.Mutex
	var pushes []attempt
	srv.Intercept(func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path != "/v1/sync/push" {
			return false
		}
		rec := httptest.NewRecorder()
		srv.Handler.ServeHTTP(rec, r)
		mu.Lock()
		pushes = append(pushes, attempt{time.Now(), rec.Code, rec.Header().Get("Retry-After")})
		if len(pushes) == 1 {
			time.AfterFunc(300*time.Millisecond, release) // the storm passes quickly
		}
		mu.Unlock()
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		w.Write(rec.Body.Bytes())
		return true
	})
	rep := p.sync()
	mu.Lock()
	defer mu.Unlock()
	if len(pushes) < 2 || pushes[0].status != http.StatusServiceUnavailable || pushes[0].retry != "2" {
		t.Fatalf("pushes %+v: the first should be the server's 503 with Retry-After 2", pushes)
	}
	if gap := pushes[1].at.Sub(pushes[0].at); gap < 2*time.Second {
		t.Fatalf("the phone resent after %v; the server asked for 2 s", gap)
	}
	if last := pushes[len(pushes)-1]; last.status != http.StatusOK || rep.Pushed != 3 || p.pending() != 0 {
		t.Fatalf("after the wait: %+v, report %+v, %d pending", last, rep, p.pending())
	}
}
