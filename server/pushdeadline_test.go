package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cdtsync/cdtsync/schema"
	"github.com/cdtsync/cdtsync/store/sqlite"
)

// The push deadline against the writer (issue 8's storm: pushes answered 503 after the
// 30 s push deadline had in fact been applied, against PROTOCOL.md §4.3 "nothing of a
// request answered with an error was applied"). A push's fate is settled by whether the
// writer began its write before the deadline: begun, it is applied and answers 200 with
// its results however late; not begun, it answers 503 and is not applied.

// pushAsync sends a push and delivers its status, error code and results.
type pushAnswer struct {
	status  int
	code    string
	retry   string
	results []schema.OpResult
	err     error
}

func pushAsync(client *http.Client, url, token string, body []byte) <-chan pushAnswer {
	out := make(chan pushAnswer, 1)
	go func() {
		var a pushAnswer
		defer func() { out <- a }()
		req, _ := http.NewRequest("POST", url+"/v1/sync/push", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			a.err = err
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			a.err = err
			return
		}
		a.status, a.retry = resp.StatusCode, resp.Header.Get("Retry-After")
		if resp.StatusCode == http.StatusOK {
			var pr schema.PushResponse
			a.err = json.Unmarshal(b, &pr)
			a.results = pr.Results
		} else {
			var e schema.Error
			json.Unmarshal(b, &e)
			a.code = e.Code
		}
	}()
	return out
}

// waitQueued waits until n writes wait in the store's writer queue.
func waitQueued(t *testing.T, env *testEnv, n int64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for env.DB.Stats().QueueJobs < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d writes queued, want %d", env.DB.Stats().QueueJobs, n)
		}
		time.Sleep(time.Millisecond)
	}
}

// slowWrite queues a write that takes d once the writer runs it; it shares the group-commit
// transaction of the writes gathered with it.
func slowWrite(env *testEnv, d time.Duration) <-chan error {
	done := make(chan error, 1)
	go func() {
		done <- env.DB.Write(context.Background(), 0, func(tx *sqlite.Tx) error {
			time.Sleep(d)
			return nil
		})
	}()
	return done
}

// TestPushBegunBeforeDeadlineAnswers200: the writer takes a push just before its deadline
// and the group-commit transaction it shares ends well after it (a slow write after it in
// the same batch). The push must answer 200 with its results — it is on disk — never 503.
func TestPushBegunBeforeDeadlineAnswers200(t *testing.T) {
	const pushWait = 400 * time.Millisecond
	env := newTestEnvWith(t, func(cfg *Config) { cfg.Timeouts.PushWait = pushWait })
	release := blockWriter(t, env)
	ops := newOps(env, 5, "Ghi trước hạn")
	start := time.Now()
	answer := pushAsync(&http.Client{Timeout: time.Minute}, env.HTTP.URL, env.VolSaDec.Token, pushBody(env, ops))
	waitQueued(t, env, 1)
	slow := slowWrite(env, 3*pushWait) // gathered with the push, after it
	waitQueued(t, env, 2)
	release() // the writer gathers [push, slow write] and begins the push at once
	a := <-answer
	if a.err != nil {
		t.Fatal(a.err)
	}
	if took := time.Since(start); took < pushWait {
		t.Fatalf("answered after %v, before the deadline %v: the test did not test the deadline", took, pushWait)
	}
	if err := <-slow; err != nil {
		t.Fatal(err)
	}
	stored := storedOps(t, env, ops)
	if a.status != http.StatusOK {
		t.Fatalf("a push the writer had begun answered %d %s after its deadline; %d of its %d ops are stored", a.status, a.code, stored, len(ops))
	}
	if len(a.results) != len(ops) || stored != len(ops) {
		t.Fatalf("%d results, %d ops stored, want %d", len(a.results), stored, len(ops))
	}
	for _, r := range a.results {
		if r.Status != schema.ResultApplied {
			t.Fatalf("result %+v", r)
		}
	}
}

// TestPushQueuedAtDeadlineNotApplied: the writer has gathered a push into its batch but is
// still running an earlier write of that batch when the push's deadline passes. The push
// answers 503 with Retry-After and is not applied: the writer skips it. Resent, it applies.
func TestPushQueuedAtDeadlineNotApplied(t *testing.T) {
	const pushWait = 300 * time.Millisecond
	env := newTestEnvWith(t, func(cfg *Config) { cfg.Timeouts.PushWait = pushWait })
	release := blockWriter(t, env)
	slow := slowWrite(env, 3*pushWait) // gathered before the push
	waitQueued(t, env, 1)
	ops := newOps(env, 5, "Chờ trong lô")
	client := &http.Client{Timeout: time.Minute}
	answer := pushAsync(client, env.HTTP.URL, env.VolSaDec.Token, pushBody(env, ops))
	waitQueued(t, env, 2)
	release()
	a := <-answer
	if a.err != nil {
		t.Fatal(a.err)
	}
	if err := <-slow; err != nil { // the batch has ended: the push was skipped or applied
		t.Fatal(err)
	}
	if err := env.DB.Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
	stored := storedOps(t, env, ops)
	if a.status != http.StatusServiceUnavailable || a.code != schema.CodeUnavailable || a.retry == "" {
		t.Fatalf("push still queued at its deadline: %d %s Retry-After %q (%d ops stored)", a.status, a.code, a.retry, stored)
	}
	if stored != 0 {
		t.Fatalf("a push answered 503 has %d of its %d ops stored", stored, len(ops))
	}
	if r := <-pushAsync(client, env.HTTP.URL, env.VolSaDec.Token, pushBody(env, ops)); r.status != http.StatusOK || storedOps(t, env, ops) != len(ops) {
		t.Fatalf("resent: %d %s %v", r.status, r.code, r.err)
	}
}

// TestPushAnswerOutlivesWriteTimeout: the server's WriteTimeout counts from the request's
// start; a push committed after it had passed (a slow group commit) must still get its
// 200 and results, not a cut connection that leaves the phone guessing.
func TestPushAnswerOutlivesWriteTimeout(t *testing.T) {
	const write = 300 * time.Millisecond
	env := newTestEnvWith(t, func(cfg *Config) {
		cfg.Timeouts = Timeouts{Write: write, PushWait: 5 * time.Second}
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- env.Srv.Serve(ctx, ln, time.Second) }()
	defer func() { cancel(); <-done }()

	release := blockWriter(t, env)
	ops := newOps(env, 5, "Trả lời muộn")
	answer := pushAsync(&http.Client{Timeout: time.Minute}, "http://"+ln.Addr().String(), env.VolSaDec.Token, pushBody(env, ops))
	waitQueued(t, env, 1)
	slow := slowWrite(env, 3*write)
	waitQueued(t, env, 2)
	release()
	a := <-answer
	<-slow
	if a.err != nil || a.status != http.StatusOK || len(a.results) != len(ops) {
		t.Fatalf("a push committed after the write timeout: %d %v (%d ops stored)", a.status, a.err, storedOps(t, env, ops))
	}
}

// TestPushGzipShare: a gzipped push is admitted with gzipEstimate times its compressed
// length, not the 4 MiB maximum (which let only 16 storm pushes of 6 KB in at once); one
// that decompresses to more gives its share back and waits for the maximum's; if that
// wait outlasts PushWait it answers 503 (not 400) and nothing of it is applied.
func TestPushGzipShare(t *testing.T) {
	const pushMemory = 1 << 20
	env := newTestEnvWith(t, func(cfg *Config) {
		cfg.PushMemory = pushMemory
		cfg.Timeouts.PushWait = 500 * time.Millisecond
	})
	client := &http.Client{Timeout: time.Minute}
	post := func(ops []schema.Op, gz bool) <-chan pushAnswer {
		var body []byte
		if gz {
			body = gzipped(t, json.RawMessage(pushBody(env, ops)))
		} else {
			body = pushBody(env, ops)
		}
		out := make(chan pushAnswer, 1)
		go func() {
			var a pushAnswer
			defer func() { out <- a }()
			req, _ := http.NewRequest("POST", env.HTTP.URL+"/v1/sync/push", bytes.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+env.VolSaDec.Token)
			req.Header.Set("Content-Type", "application/json")
			if gz {
				req.Header.Set("Content-Encoding", "gzip")
			}
			resp, err := client.Do(req)
			if err != nil {
				a.err = err
				return
			}
			defer resp.Body.Close()
			var e schema.Error
			json.NewDecoder(resp.Body).Decode(&e)
			a.status, a.code, a.retry = resp.StatusCode, e.Code, resp.Header.Get("Retry-After")
		}()
		return out
	}
	release := blockWriter(t, env)

	// A usual push (varied notes): charged 8× its gzipped length.
	usual := newOps(env, 50, "Hướng dẫn cài VNeID")
	for i := range usual {
		usual[i].Fields["note"], _ = json.Marshal(fmt.Sprintf("Bà %d, ấp %d, cài VNeID mức %d", i*7919%1000, i%11, 1+i%2))
	}
	gzLen := int64(len(gzipped(t, json.RawMessage(pushBody(env, usual)))))
	a := post(usual, true)
	waitQueued(t, env, 1)
	if got, want := env.Srv.pushMem.inUse(), max(gzLen*gzipEstimate, env.Srv.pushFloor); got != want {
		t.Errorf("a gzipped push of %d bytes holds %d bytes of push memory, want %d", gzLen, got, want)
	}
	release()
	if r := <-a; r.status != http.StatusOK {
		t.Fatalf("usual gzipped push: %d %s %v", r.status, r.code, r.err)
	}

	// A push compressing far better than 8× (the same long note 400 times) grows to the
	// maximum's share: the whole push memory here.
	release = blockWriter(t, env)
	long := strings.Repeat("Hướng dẫn bà Sáu cài VNeID, chụp ảnh CCCD, xác thực khuôn mặt. ", 8)[:500]
	dense := newOps(env, 400, long)
	a = post(dense, true)
	waitQueued(t, env, 1)
	if got := env.Srv.pushMem.inUse(); got != pushMemory {
		t.Errorf("a push that decompressed past its estimate holds %d bytes of push memory, want all %d", got, pushMemory)
	}
	release()
	if r := <-a; r.status != http.StatusOK || storedOps(t, env, dense) != len(dense) {
		t.Fatalf("dense gzipped push: %d %s %v", r.status, r.code, r.err)
	}

	// The same kind of push while the rest of the memory is held (by pushes the writer
	// has not answered yet): admitted on its estimate, it cannot grow before its deadline,
	// answers 503 — not 400 — and is not applied.
	dense2 := newOps(env, 400, long)
	hold := pushMemory - int64(len(gzipped(t, json.RawMessage(pushBody(env, dense2)))))*gzipEstimate
	if err := env.Srv.pushMem.acquire(context.Background(), hold); err != nil {
		t.Fatal(err)
	}
	r := <-post(dense2, true)
	if r.err != nil || r.status != http.StatusServiceUnavailable || r.code != schema.CodeUnavailable || r.retry == "" {
		t.Errorf("a push that could not grow its share in time: %d %s Retry-After %q %v", r.status, r.code, r.retry, r.err)
	}
	env.Srv.pushMem.release(hold)
	if n := storedOps(t, env, dense2); n != 0 {
		t.Fatalf("a push answered %d has %d ops stored", r.status, n)
	}
	if r := <-post(dense2, true); r.status != http.StatusOK || storedOps(t, env, dense2) != len(dense2) {
		t.Fatalf("resent: %d %s", r.status, r.code)
	}
	if n := env.Srv.pushMem.inUse(); n != 0 {
		t.Fatalf("%d bytes of push memory still held after every push was answered", n)
	}
}

// TestMaxPushes: however small, no more than MaxPushes pushes are admitted at once; the
// others wait for admission (holding only their connection) rather than fill the writer's
// queue, where they would be refused at once and resent.
func TestMaxPushes(t *testing.T) {
	env := newTestEnvWith(t, func(cfg *Config) { cfg.MaxPushes = 4 })
	release := blockWriter(t, env)
	client := &http.Client{Timeout: time.Minute}
	var answers []<-chan pushAnswer
	for i := 0; i < 10; i++ {
		answers = append(answers, pushAsync(client, env.HTTP.URL, env.VolSaDec.Token, pushBody(env, newOps(env, 3, "Nhỏ"))))
	}
	deadline := time.Now().Add(10 * time.Second)
	for env.Srv.pushMem.waiting() < 6 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond)
	if q, w := env.DB.Stats().QueueJobs, env.Srv.pushMem.waiting(); q != 4 || w != 6 {
		t.Fatalf("%d pushes in the writer's queue and %d waiting for admission, want 4 and 6", q, w)
	}
	release()
	for _, a := range answers {
		if r := <-a; r.status != http.StatusOK {
			t.Fatalf("push answered %d %s %v", r.status, r.code, r.err)
		}
	}
}

// TestMaxPushWaiting: when MaxPushWaiting pushes already wait for admission, the next
// answers 503 with Retry-After at once, and is not applied; the waiting ones are applied.
func TestMaxPushWaiting(t *testing.T) {
	env := newTestEnvWith(t, func(cfg *Config) { cfg.MaxPushes, cfg.MaxPushWaiting = 2, 3 })
	release := blockWriter(t, env)
	client := &http.Client{Timeout: time.Minute}
	var answers []<-chan pushAnswer
	for i := 0; i < 5; i++ {
		answers = append(answers, pushAsync(client, env.HTTP.URL, env.VolSaDec.Token, pushBody(env, newOps(env, 3, "Chờ"))))
	}
	deadline := time.Now().Add(10 * time.Second)
	for env.Srv.pushMem.waiting() < 3 || env.DB.Stats().QueueJobs < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("%d waiting, %d queued", env.Srv.pushMem.waiting(), env.DB.Stats().QueueJobs)
		}
		time.Sleep(time.Millisecond)
	}
	extra := newOps(env, 3, "Một lần quá nhiều")
	start := time.Now()
	r := <-pushAsync(client, env.HTTP.URL, env.VolSaDec.Token, pushBody(env, extra))
	if r.status != http.StatusServiceUnavailable || r.code != schema.CodeUnavailable || r.retry == "" {
		t.Fatalf("a push past MaxPushWaiting: %d %s Retry-After %q %v", r.status, r.code, r.retry, r.err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("refused after %v, want at once", d)
	}
	release()
	for _, a := range answers {
		if r := <-a; r.status != http.StatusOK {
			t.Fatalf("a waiting push answered %d %s %v", r.status, r.code, r.err)
		}
	}
	if n := storedOps(t, env, extra); n != 0 {
		t.Fatalf("the refused push has %d ops stored", n)
	}
}
