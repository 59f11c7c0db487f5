package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/cdtsync/cdtsync/schema"
	"github.com/cdtsync/cdtsync/sync/hlc"
)

// TestMetrics runs the real Main (`serve --metrics-token`) on 127.0.0.1:0, has a phone two
// hours behind push applied, already-applied and rejected ops while reporting its outbox,
// pulls, and scrapes /metrics: without the token it is refused; with it, every
// operations metric is there with the values the traffic implies.
func TestMetrics(t *testing.T) {
	data := t.TempDir()
	pushers, _ := fixturePushers(t, data)
	ctx, cancel := context.WithCancel(context.Background())
	addrc := make(chan string, 1)
	env := map[string]string{"CDTSYNC_METRICS_TOKEN": "đo-đếm-bí-mật"}
	m := &Main{Stdout: io.Discard, Stderr: io.Discard, Getenv: func(k string) string { return env[k] }, Now: time.Now,
		Listening: func(a string) { addrc <- a }}
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx, []string{"serve", "--addr", "127.0.0.1:0", "--data", data}) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	var base string
	select {
	case a := <-addrc:
		base = "http://" + a
	case err := <-done:
		t.Fatalf("serve ended: %v", err)
	}
	client := &http.Client{Timeout: 30 * time.Second}

	// A phone two hours behind: 3 ops applied, 1 rejected (a hamlet outside its area),
	// then the same batch again (already applied); it reports 12 ops still unsynced, the
	// oldest from 3 hours ago.
	hong := pushers[0]
	now := time.Now()
	var ops []schema.Op
	for i := 0; i < 4; i++ {
		hamlet := hong.hamlet
		if i == 3 {
			hamlet = 999999
		}
		f := map[string]json.RawMessage{}
		for k, v := range map[string]any{"hamlet_id": hamlet, "kind": "cashless_payment",
			"occurred_at": now.Add(-3 * time.Hour).Format(time.RFC3339), "note": "Mở tài khoản ngân hàng cho cô Ba"} {
			f[k], _ = json.Marshal(v)
		}
		ops = append(ops, schema.Op{OpID: uuid.Must(uuid.NewV7()).String(), Type: schema.OpUpsert,
			ID: uuid.Must(uuid.NewV7()).String(), HLC: hlc.FromTime(now).String(), Fields: f})
	}
	pending := 12
	body, _ := json.Marshal(schema.PushRequest{DeviceTime: now.Add(-2 * time.Hour).Format(time.RFC3339),
		PendingOps: &pending, OldestPendingAt: now.Add(-3 * time.Hour).Format(time.RFC3339), Ops: ops})
	for i := 0; i < 2; i++ {
		req, _ := http.NewRequest("POST", base+"/v1/sync/push", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+hong.token)
		resp, err := client.Do(req)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("push: %v %v", resp, err)
		}
		resp.Body.Close()
	}
	if status, _ := pull(t, base, hong.token, "", 100); status != 200 {
		t.Fatalf("pull: %d", status)
	}

	scrape := func(token string) (int, map[string]float64) {
		req, _ := http.NewRequest("GET", base+"/metrics", nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		out := map[string]float64{}
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			if line == "" || line[0] == '#' {
				continue
			}
			i := strings.LastIndexByte(line, ' ')
			v, err := strconv.ParseFloat(line[i+1:], 64)
			if err == nil {
				out[line[:i]] = v
			}
		}
		return resp.StatusCode, out
	}
	if status, _ := scrape(""); status != http.StatusUnauthorized {
		t.Fatalf("/metrics without the token: %d", status)
	}
	if status, _ := scrape("wrong"); status != http.StatusUnauthorized {
		t.Fatalf("/metrics with a wrong token: %d", status)
	}
	status, got := scrape(env["CDTSYNC_METRICS_TOKEN"])
	if status != 200 {
		t.Fatalf("/metrics: %d", status)
	}
	// As Prometheus asks: gzip once, text inside (not gzipped twice).
	req, _ := http.NewRequest("GET", base+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+env["CDTSYNC_METRICS_TOKEN"])
	req.Header.Set("Accept-Encoding", "gzip")
	if resp, err := (&http.Transport{DisableCompression: true}).RoundTrip(req); err != nil {
		t.Fatal(err)
	} else {
		zr, err := gzip.NewReader(resp.Body)
		if err != nil {
			t.Fatalf("/metrics with Accept-Encoding gzip: %v", err)
		}
		text, _ := io.ReadAll(zr)
		resp.Body.Close()
		if !bytes.HasPrefix(text, []byte("# HELP")) {
			t.Fatalf("/metrics gunzipped once is not the text format: %.40q", text)
		}
	}
	atLeast := map[string]float64{
		`cdtsync_sync_ops_total{code="",status="applied"}`:                                              3,
		`cdtsync_sync_ops_total{code="",status="already_applied"}`:                                      3,
		`cdtsync_sync_ops_total{code="unknown_hamlet",status="rejected"}`:                               2,
		`cdtsync_sync_push_duration_seconds_count{status="200"}`:                                        2,
		`cdtsync_sync_pull_duration_seconds_count{status="200"}`:                                        1,
		`cdtsync_push_admission_total{result="admitted"}`:                                               2,
		`cdtsync_push_memory_limit_bytes`:                                                               1,
		`cdtsync_device_clock_offset_seconds_count`:                                                     2,
		`cdtsync_writer_batch_writes_count`:                                                             2,
		`cdtsync_writer_batch_ops_sum`:                                                                  8,
		`cdtsync_writer_batch_duration_seconds_count`:                                                   2,
		`cdtsync_writer_batches_total`:                                                                  2,
		`cdtsync_database_bytes`:                                                                        4096,
		`cdtsync_data_disk_free_bytes`:                                                                  1,
		`cdtsync_outbox_devices_pending`:                                                                1,
		`cdtsync_outbox_pending_ops`:                                                                    12,
		`cdtsync_outbox_oldest_pending_age_seconds`:                                                     3*3600 - 60,
		`cdtsync_outbox_devices_pending_older_than{age="1h"}`:                                           1,
		`cdtsync_http_request_duration_seconds_count{method="POST",route="/v1/sync/push",status="200"}`: 2,
	}
	for name, min := range atLeast {
		v, ok := got[name]
		if !ok {
			t.Errorf("/metrics has no %s", name)
		} else if v < min {
			t.Errorf("%s = %v, want at least %v", name, v, min)
		}
	}
	for name, want := range map[string]float64{
		`cdtsync_writer_queue_writes`:                            0,
		`cdtsync_writer_queue_ops`:                               0,
		`cdtsync_writer_rejected_total`:                          0,
		`cdtsync_push_memory_bytes`:                              0,
		`cdtsync_outbox_devices_pending_older_than{age="1d"}`:    0,
		`cdtsync_device_clock_offset_seconds_bucket{le="3600"}`:  0, // two hours off: above an hour
		`cdtsync_device_clock_offset_seconds_bucket{le="86400"}`: 2,
	} {
		if v, ok := got[name]; !ok || v != want {
			t.Errorf("%s = %v (present %v), want %v", name, v, ok, want)
		}
	}
}
