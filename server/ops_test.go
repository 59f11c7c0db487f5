package server

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/cdtsync/cdtsync/schema"
	"github.com/cdtsync/cdtsync/store/sqlite"
	"github.com/cdtsync/cdtsync/sync/hlc"
)

// newOps makes n creation ops in Khóm Vĩnh Phước with fresh ids; note pads each op.
func newOps(env *testEnv, n int, note string) []schema.Op {
	now := env.Clock.Now()
	ops := make([]schema.Op, n)
	for i := range ops {
		f := map[string]json.RawMessage{}
		for k, v := range map[string]any{"hamlet_id": env.VinhPhuoc, "kind": "vneid_install",
			"occurred_at": now.Add(-time.Hour).Format(time.RFC3339), "note": note} {
			f[k], _ = json.Marshal(v)
		}
		ops[i] = schema.Op{OpID: uuid.Must(uuid.NewV7()).String(), Type: schema.OpUpsert,
			ID: uuid.Must(uuid.NewV7()).String(), HLC: hlc.FromTime(now).String(), Fields: f}
	}
	return ops
}

func pushBody(env *testEnv, ops []schema.Op) []byte {
	b, _ := json.Marshal(schema.PushRequest{DeviceTime: env.Clock.Now().Format(time.RFC3339), Ops: ops})
	return b
}

// postPush sends a push body and returns the status, Retry-After and error code.
func postPush(env *testEnv, client *http.Client, token string, body io.Reader) (int, string, string, error) {
	req, _ := http.NewRequest("POST", env.HTTP.URL+"/v1/sync/push", body)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return 0, "", "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var e schema.Error
	if resp.StatusCode != 200 {
		json.Unmarshal(b, &e)
	}
	return resp.StatusCode, resp.Header.Get("Retry-After"), e.Code, nil
}

// storedOps returns how many of ops have a stored result.
func storedOps(t testing.TB, env *testEnv, ops []schema.Op) int {
	t.Helper()
	ids := make([]string, len(ops))
	for i, op := range ops {
		ids[i] = op.OpID
	}
	b, _ := json.Marshal(ids)
	var n int
	if err := env.DB.WriteDB().QueryRow(`SELECT count(*) FROM ops WHERE op_id IN (SELECT value FROM json_each(?))`, string(b)).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// blockWriter holds the store's writer until the returned function is called.
func blockWriter(t testing.TB, env *testEnv) (release func()) {
	gate, started := make(chan struct{}), make(chan struct{})
	go env.DB.Write(context.Background(), 0, func(tx *sqlite.Tx) error {
		close(started)
		<-gate
		return nil
	})
	<-started
	var once sync.Once
	release = func() { once.Do(func() { close(gate) }) }
	t.Cleanup(release)
	return release
}

// TestPushOverload: with the writer busy, pushes queue until the queue's bound (256
// writes; the bound of 50,000 queued operations works the same way, store/sqlite's
// TestWriterOverload); past it a push answers 503 unavailable with Retry-After at once,
// and stores nothing. When the writer frees, every queued push is applied whole; the
// refused ones, resent unchanged, are applied too: nothing lost, nothing twice.
func TestPushOverload(t *testing.T) {
	// Admission would hold pushes past 128 (DefaultMaxPushes) before the writer's queue.
	env := newTestEnvWith(t, func(cfg *Config) { cfg.MaxPushes = 1000 })
	release := blockWriter(t, env)
	const pushes, size = 300, 3 // 44 past the queue's bound
	batches := make([][]schema.Op, pushes)
	status := make([]int, pushes)
	retry := make([]string, pushes)
	var wg sync.WaitGroup
	client := &http.Client{Timeout: time.Minute}
	for i := range batches {
		batches[i] = newOps(env, size, "Hướng dẫn cài VNeID")
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			var code string
			var err error
			status[i], retry[i], code, err = postPush(env, client, env.VolSaDec.Token, bytes.NewReader(pushBody(env, batches[i])))
			if err != nil {
				t.Error(err)
			}
			if status[i] == http.StatusServiceUnavailable && code != schema.CodeUnavailable {
				t.Errorf("503 with code %q", code)
			}
		}(i)
	}
	// The refusals come while the writer is still held.
	deadline := time.Now().Add(30 * time.Second)
	for env.DB.Stats().Rejected < 10 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if r := env.DB.Stats().Rejected; r < 10 {
		t.Fatalf("%d pushes refused while %d writes wait (queue of 256)", r, env.DB.Stats().QueueJobs)
	}
	release()
	wg.Wait()
	var refused [][]schema.Op
	for i, s := range status {
		switch s {
		case http.StatusOK:
			if n := storedOps(t, env, batches[i]); n != len(batches[i]) {
				t.Errorf("an acknowledged push has %d of its %d ops stored", n, len(batches[i]))
			}
		case http.StatusServiceUnavailable:
			if retry[i] == "" {
				t.Errorf("503 without Retry-After")
			}
			if n := storedOps(t, env, batches[i]); n != 0 {
				t.Errorf("a refused push stored %d ops", n)
			}
			refused = append(refused, batches[i])
		default:
			t.Errorf("push answered %d", s)
		}
	}
	if len(refused) < 10 {
		t.Fatalf("%d pushes refused, want at least 10", len(refused))
	}
	for _, ops := range refused {
		if s, _, code, _ := postPush(env, client, env.VolSaDec.Token, bytes.NewReader(pushBody(env, ops))); s != 200 {
			t.Fatalf("resent push: %d %s", s, code)
		}
	}
	var total int
	env.DB.WriteDB().QueryRow(`SELECT count(*) FROM logs`).Scan(&total)
	if total != pushes*size {
		t.Fatalf("%d logs, want %d", total, pushes*size)
	}
	t.Logf("%d of %d pushes refused with 503 while the writer was busy; all applied once resent", len(refused), pushes)
}

// TestPushGivesUpCleanly: a push that waits longer than PushWait for the writer answers
// 503 with Retry-After; a push whose phone hung up gets no answer. Neither is applied
// when the writer frees (their writes had not begun), and both apply when resent.
func TestPushGivesUpCleanly(t *testing.T) {
	env := newTestEnvWith(t, func(cfg *Config) { cfg.Timeouts.PushWait = 300 * time.Millisecond })
	release := blockWriter(t, env)

	waited := newOps(env, 5, "Chờ quá lâu")
	start := time.Now()
	s, retry, code, err := postPush(env, &http.Client{Timeout: time.Minute}, env.VolSaDec.Token, bytes.NewReader(pushBody(env, waited)))
	if err != nil || s != http.StatusServiceUnavailable || code != schema.CodeUnavailable || retry != "5" {
		t.Fatalf("push past PushWait: %d %s Retry-After %q %v", s, code, retry, err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("answered after %v", d)
	}

	hungUp := newOps(env, 5, "Điện thoại mất sóng")
	_, _, _, err = postPush(env, &http.Client{Timeout: 100 * time.Millisecond}, env.VolSaDec.Token, bytes.NewReader(pushBody(env, hungUp)))
	if err == nil {
		t.Fatal("the phone's timeout did not fire")
	}
	time.Sleep(400 * time.Millisecond) // past PushWait: the server side has given up too
	release()
	if err := env.DB.Ping(context.Background()); err != nil { // the writer ran its queue
		t.Fatal(err)
	}
	if n := storedOps(t, env, waited) + storedOps(t, env, hungUp); n != 0 {
		t.Fatalf("%d ops of pushes that gave up were applied", n)
	}
	if !strings.Contains(env.Logs.String(), `"status":499`) {
		t.Errorf("the hung-up push is not logged as 499")
	}
	for _, ops := range [][]schema.Op{waited, hungUp} {
		if s, _, code, _ := postPush(env, &http.Client{Timeout: time.Minute}, env.VolSaDec.Token, bytes.NewReader(pushBody(env, ops))); s != 200 {
			t.Fatalf("resent: %d %s", s, code)
		}
	}
}

// TestStorageFullOverHTTP: when the database reaches its size cap, a push answers 507
// storage_full with Retry-After and a message, /readyz answers 503 naming the cause, and
// nothing of the push is stored; when the cap is raised, the same push resent is applied
// and /readyz is ready again, without a restart.
func TestStorageFullOverHTTP(t *testing.T) {
	env := newTestEnv(t)
	ctx := context.Background()
	room, err := env.DB.Room(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := env.DB.SetMaxPages(ctx, int(room.DBBytes/4096)+40); err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Timeout: time.Minute}
	var failed []schema.Op
	for i := 0; ; i++ {
		ops := newOps(env, 20, "Hướng dẫn thanh toán không dùng tiền mặt ở chợ Sa Đéc")
		s, retry, code, err := postPush(env, client, env.VolSaDec.Token, bytes.NewReader(pushBody(env, ops)))
		if err != nil {
			t.Fatal(err)
		}
		if s == http.StatusOK {
			if i > 500 {
				t.Fatal("the database never filled")
			}
			continue
		}
		if s != http.StatusInsufficientStorage || code != schema.CodeStorageFull || retry != "60" {
			t.Fatalf("push on a full database: %d %s Retry-After %q", s, code, retry)
		}
		failed = ops
		break
	}
	if n := storedOps(t, env, failed); n != 0 {
		t.Fatalf("the refused push stored %d ops", n)
	}
	var e schema.Error
	status, _, body := env.send(env.request("GET", "/readyz", "", nil))
	if json.Unmarshal(body, &e); status != http.StatusServiceUnavailable || !strings.Contains(e.Message, "size cap") {
		t.Fatalf("/readyz on a full database: %d %s", status, body)
	}
	if err := env.DB.SetMaxPages(ctx, 1<<30); err != nil {
		t.Fatal(err)
	}
	if status, _, body := env.send(env.request("GET", "/readyz", "", nil)); status != http.StatusOK {
		t.Fatalf("/readyz after space returned: %d %s", status, body)
	}
	if s, _, code, _ := postPush(env, client, env.VolSaDec.Token, bytes.NewReader(pushBody(env, failed))); s != 200 || storedOps(t, env, failed) != len(failed) {
		t.Fatalf("the same push resent after space returned: %d %s", s, code)
	}
}

// TestSecurityHeaders: every answer — API, error, dashboard page, static file — carries
// nosniff, a referrer policy, no framing and a Content-Security-Policy; API answers are
// not cached; HSTS is sent only when the request came over TLS, and X-Forwarded-Proto
// counts only from a trusted proxy.
func TestSecurityHeaders(t *testing.T) {
	env := newTestEnv(t)
	cases := []struct {
		method, path, token string
		body                any
	}{
		{"GET", "/healthz", "", nil},
		{"GET", "/v1/me", env.CoordSaDec.Token, nil},
		{"GET", "/v1/khong-co", "", nil},
		{"POST", "/v1/sync/push", env.VolSaDec.Token, map[string]any{"x": 1}},
		{"GET", "/openapi.json", "", nil},
		{"GET", "/web/login", "", nil},
		{"GET", "/metrics", "", nil},
	}
	for _, c := range cases {
		req := env.request(c.method, c.path, c.token, c.body)
		req.Header.Set("X-Forwarded-Proto", "https") // not trusted here
		status, h, _ := env.send(req)
		for k, want := range map[string]string{"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY", "Referrer-Policy": "same-origin"} {
			if h.Get(k) != want {
				t.Errorf("%s %s (%d): %s = %q, want %q", c.method, c.path, status, k, h.Get(k), want)
			}
		}
		if csp := h.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") || !strings.Contains(csp, "default-src 'none'") {
			t.Errorf("%s %s: Content-Security-Policy %q", c.method, c.path, csp)
		}
		if h.Get("Strict-Transport-Security") != "" {
			t.Errorf("%s %s: HSTS over plain HTTP", c.method, c.path)
		}
		if strings.HasPrefix(c.path, "/v1/") && h.Get("Cache-Control") != "no-store" {
			t.Errorf("%s %s: Cache-Control %q", c.method, c.path, h.Get("Cache-Control"))
		}
	}
	proxied := newTestEnvWith(t, func(cfg *Config) { cfg.TrustProxy = true })
	req := proxied.request("GET", "/healthz", "", nil)
	req.Header.Set("X-Forwarded-Proto", "https")
	if _, h, _ := proxied.send(req); !strings.HasPrefix(h.Get("Strict-Transport-Security"), "max-age=") {
		t.Errorf("behind a trusted TLS proxy: no HSTS")
	}
}

// TestEveryRouteHasABodyLimit walks every route of the router and sends it a body one
// byte over its limit: with Content-Length it is refused with 413 too_large before the
// handler runs; sent chunked (no length), the routes that read a body refuse it with 413
// when the limit is passed, and the others never read it. No answer is a 5xx.
func TestEveryRouteHasABodyLimit(t *testing.T) {
	env := newTestEnv(t)
	tokens := map[string]string{
		"POST /v1/sync/push": env.VolSaDec.Token, "POST /v1/reviews": env.CoordSaDec.Token,
		"POST /v1/teams": env.CoordSaDec.Token, "POST /v1/users": env.CoordSaDec.Token,
		"POST /v1/enrollments": env.CoordSaDec.Token,
	}
	// Routes whose handlers take no body: a chunked one is never read.
	bodiless := map[string]bool{"POST /v1/users/:id/revoke": true, "POST /v1/devices/:id/revoke": true}
	seen := map[string]bool{}
	for _, r := range env.Srv.Echo().Routes() {
		key := r.Method + " " + r.Path
		if seen[key] || r.Method == "echo_route_any" {
			continue
		}
		seen[key] = true
		path := r.Path
		for _, p := range []string{":id", ":name", "*"} {
			path = strings.ReplaceAll(path, p, "1")
		}
		max := bodyLimit(r.Method, r.Path)
		over := bytes.Repeat([]byte("a"), int(max)+1)
		req, _ := http.NewRequest(r.Method, env.HTTP.URL+path, bytes.NewReader(over))
		req.Header.Set("Authorization", "Bearer "+env.Admin.Token)
		status, _, body := env.send(req)
		var e schema.Error
		if json.Unmarshal(body, &e); status != http.StatusRequestEntityTooLarge || e.Code != schema.CodeTooLarge || !strings.Contains(e.Message, fmt.Sprint(max)) {
			t.Errorf("%s with a %d-byte body (Content-Length): %d %s", key, len(over), status, body)
		}
		if r.Method != http.MethodPost {
			continue
		}
		req, _ = http.NewRequest(r.Method, env.HTTP.URL+path, io.MultiReader(bytes.NewReader(over))) // no length: chunked
		req.Header.Set("Content-Type", "application/json")
		if tok := tokens[key]; tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		status, _, body = env.send(req)
		switch {
		case status >= 500:
			t.Errorf("%s chunked over its limit: %d %s", key, status, body)
		case bodiless[key] || strings.HasPrefix(r.Path, "/web/"):
			if status < 400 && !bodiless[key] {
				t.Errorf("%s chunked over its limit: %d", key, status)
			}
		case status != http.StatusRequestEntityTooLarge:
			t.Errorf("%s chunked over its limit: %d %s, want 413", key, status, body)
		}
	}
	// A body of exactly the limit is not refused for its size.
	at := bytes.Repeat([]byte(" "), schema.MaxSmallBodyBytes-2)
	req, _ := http.NewRequest("POST", env.HTTP.URL+"/v1/auth/login", io.MultiReader(bytes.NewReader(append(append([]byte("{"), at...), '}'))))
	if status, _, body := env.send(req); status == http.StatusRequestEntityTooLarge {
		t.Errorf("a body of exactly the limit: %d %s", status, body)
	}
}

// TestSlowClients: Serve's timeouts end connections that dribble their headers, dribble
// their body, or sit idle, so slow or malicious clients cannot hold connections open.
func TestSlowClients(t *testing.T) {
	env := newTestEnvWith(t, func(cfg *Config) {
		cfg.Timeouts = Timeouts{ReadHeader: 300 * time.Millisecond, Read: 800 * time.Millisecond, Write: 2 * time.Second, Idle: 400 * time.Millisecond}
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- env.Srv.Serve(ctx, ln, time.Second) }()
	defer func() { cancel(); <-done }()
	addr := ln.Addr().String()

	// closedWithin dribbles one byte of rest every 50 ms and reports how long the server
	// took to end the connection (it may answer first, e.g. 408 or 400).
	closedWithin := func(t *testing.T, first, rest string) time.Duration {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		start := time.Now()
		conn.Write([]byte(first))
		closed := make(chan struct{})
		go func() {
			io.Copy(io.Discard, conn)
			close(closed)
		}()
		for i := 0; i < len(rest); i++ {
			select {
			case <-closed:
				return time.Since(start)
			case <-time.After(50 * time.Millisecond):
			}
			if _, err := conn.Write([]byte{rest[i]}); err != nil {
				break
			}
		}
		select {
		case <-closed:
			return time.Since(start)
		case <-time.After(5 * time.Second):
			t.Fatal("the server kept the connection")
		}
		return 0
	}
	t.Run("Headers", func(t *testing.T) {
		d := closedWithin(t, "GET /healthz HTTP/1.1\r\nHost: x\r\n", strings.Repeat("X-Slow: a\r\n", 100))
		if d > 2*time.Second {
			t.Fatalf("header dribble held the connection %v (ReadHeader 300 ms)", d)
		}
	})
	t.Run("Body", func(t *testing.T) {
		head := fmt.Sprintf("POST /v1/sync/push HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: 4000\r\n\r\n", env.VolSaDec.Token)
		d := closedWithin(t, head, strings.Repeat(" ", 4000))
		if d > 3*time.Second {
			t.Fatalf("body dribble held the connection %v (Read 800 ms)", d)
		}
	})
	t.Run("Idle", func(t *testing.T) {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		conn.Write([]byte("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"))
		br := bufio.NewReader(conn)
		resp, err := http.ReadResponse(br, nil)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("%v %v", resp, err)
		}
		io.Copy(io.Discard, resp.Body)
		start := time.Now()
		conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := br.ReadByte(); err == nil {
			t.Fatal("unexpected data")
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Fatalf("an idle connection was kept %v (Idle 400 ms)", d)
		}
	})
}
