//go:build !race

// The demo load takes ~10 s; under the race detector, minutes. This test runs in make
// test-rest, without the detector; the server it drives is race-tested in server/.

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cdtsync/cdtsync/demo"
	"github.com/cdtsync/cdtsync/schema"
)

// TestServeDemoEndToEnd runs the real cdtsync Main — `serve --demo` on 127.0.0.1:0 with a
// temporary data directory — and checks what a newcomer's `make run` promises: demo data
// loaded, readiness, the OpenAPI document, a JSON error body, a demo sign-in and the
// coordinator's review queue, and a graceful stop.
func TestServeDemoEndToEnd(t *testing.T) {
	data := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out lockedBuffer
	addrc := make(chan string, 1)
	m := &Main{Stdout: &out, Stderr: io.Discard, Getenv: func(string) string { return "" }, Now: time.Now,
		Listening: func(a string) { addrc <- a }}
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx, []string{"serve", "--addr", "127.0.0.1:0", "--data", data, "--demo"}) }()
	var base string
	select {
	case a := <-addrc:
		base = "http://" + a
	case err := <-done:
		t.Fatalf("serve ended: %v", err)
	case <-time.After(2 * time.Minute):
		t.Fatal("serve did not start")
	}
	client := &http.Client{Timeout: 30 * time.Second}
	get := func(path string, out any) (int, []byte) {
		resp, err := client.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if out != nil {
			if err := json.Unmarshal(b, out); err != nil {
				t.Fatalf("GET %s: %v: %s", path, err, b)
			}
		}
		return resp.StatusCode, b
	}

	var ready map[string]string
	if status, _ := get("/readyz", &ready); status != 200 || ready["status"] != "ready" {
		t.Fatalf("/readyz: %d %v", status, ready)
	}
	var doc map[string]any
	if status, _ := get("/openapi.json", &doc); status != 200 || doc["openapi"] != "3.0.3" || doc["paths"].(map[string]any)["/v1/sync/push"] == nil {
		t.Fatalf("/openapi.json: %d", status)
	}
	var e schema.Error
	if status, _ := get("/v1/khong-co", &e); status != 404 || e.Code != schema.CodeNotFound || e.Message == "" {
		t.Fatalf("unknown route: %d %+v", status, e)
	}
	if status, _ := get("/v1/sync/pull", &e); status != 401 || e.Code != schema.CodeUnauthorized {
		t.Fatalf("pull without a token: %d %+v", status, e)
	}

	// The start-up message names the URL and the demo sign-ins; one of them works.
	text := out.String()
	for _, want := range []string{base, demo.CoordinatorUser, demo.OfficerUser, demo.AdminUser, demo.DemoPassword} {
		if !strings.Contains(text, want) {
			t.Errorf("start-up message lacks %q:\n%s", want, text)
		}
	}
	body, _ := json.Marshal(map[string]string{"username": demo.CoordinatorUser, "password": demo.DemoPassword})
	resp, err := client.Post(base+"/v1/auth/login", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	if resp.StatusCode != 200 || tok.AccessToken == "" {
		t.Fatalf("demo sign-in: %d", resp.StatusCode)
	}
	req, _ := http.NewRequest("GET", base+"/v1/reviews?limit=20", nil)
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	resp, err = client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var page schema.ReviewPage
	json.NewDecoder(resp.Body).Decode(&page)
	resp.Body.Close()
	if resp.StatusCode != 200 || len(page.Items) != 20 || page.NextCursor == "" {
		t.Fatalf("the demo coordinator's review queue: %d, %d items", resp.StatusCode, len(page.Items))
	}
	for _, it := range page.Items {
		if it.HamletName == "" || it.VolunteerName == "" || it.CitizenRef != nil {
			t.Fatalf("review item %+v", it)
		}
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve stopped with %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop when its context ended")
	}
}

// lockedBuffer is a buffer the server goroutine writes and the test reads.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
