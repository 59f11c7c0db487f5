//go:build !race

// The flood measures the server's heap, which the race detector's own allocations would
// swamp, and under the detector each push is slow enough to miss its deadline: this file
// runs in make test-rest, without the detector.

package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	rtmetrics "runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/cdtsync/cdtsync/schema"
)

// TestPushFloodMemoryBounded: many phones push large batches at once (500 ops with long
// notes, ~0.6 MB, sent without a length as a streaming client does, so each is charged
// the 4 MiB maximum). Admission lets in what PushMemory allows; the others wait, then
// answer 503 with Retry-After without their bodies being read. The server's live heap
// stays within a bound set by PushMemory, not by the number of phones; every push is
// applied whole or not at all, and once the refused ones are resent every op is stored
// exactly once.
//
// CDTSYNC_FLOOD_COMPARE=1 runs the same flood with admission effectively off and logs
// both peaks (docs/BENCHMARKS.md, Operations); CDTSYNC_FLOOD_PHONES sets the phones.
func TestPushFloodMemoryBounded(t *testing.T) {
	const pushMemory = 16 << 20
	phones := 32
	if n, err := strconv.Atoi(os.Getenv("CDTSYNC_FLOOD_PHONES")); err == nil && n > 0 {
		phones = n
	}
	peak, _ := flood(t, pushMemory, phones, 500)
	t.Logf("flood of %d pushes × 500 ops (%d MiB admitted at most): peak live heap growth %d MiB", phones, pushMemory>>20, peak>>20)
	if bound := int64(3 * pushMemory); peak > bound {
		t.Errorf("live heap grew %d MiB under the flood, bound %d MiB", peak>>20, bound>>20)
	}
	if os.Getenv("CDTSYNC_FLOOD_COMPARE") != "" {
		open, _ := flood(t, 1<<40, phones, 500)
		t.Logf("the same flood without admission: peak live heap growth %d MiB", open>>20)
	}
}

// flood runs the flood against a new server with the given push memory and returns the
// peak heap growth and how many pushes were refused at first.
func flood(t *testing.T, pushMemory int64, phones, opsPerPush int) (int64, int) {
	env := newTestEnvWith(t, func(cfg *Config) {
		cfg.PushMemory = pushMemory
		cfg.Timeouts.PushWait = 1500 * time.Millisecond
	})
	note := strings.Repeat("Hướng dẫn bà Sáu cài VNeID, chụp ảnh CCCD, xác thực khuôn mặt. ", 8)[:500]
	batches := make([][]schema.Op, phones)
	for i := range batches {
		batches[i] = newOps(env, opsPerPush, note)
	}
	stream := func(ops []schema.Op) io.Reader {
		pr, pw := io.Pipe()
		go func() {
			fmt.Fprintf(pw, `{"device_time":%q,"ops":[`, env.Clock.Now().Format(time.RFC3339))
			for i, op := range ops {
				if i > 0 {
					pw.Write([]byte(","))
				}
				b, _ := json.Marshal(op)
				if _, err := pw.Write(b); err != nil {
					return
				}
			}
			pw.Write([]byte("]}"))
			pw.Close()
		}()
		return pr
	}
	// A first push warms the server up (lazily built caches, pools) before the baseline.
	if s, _, code, _ := postPush(env, &http.Client{Timeout: time.Minute}, env.VolSaDec.Token, bytes.NewReader(pushBody(env, newOps(env, 50, note)))); s != 200 {
		t.Fatalf("warm-up push: %d %s", s, code)
	}
	// The live heap as the last collection measured it, sampled every 5 ms: garbage not
	// yet collected is the GC's pacing, not what the server holds.
	sample := []rtmetrics.Sample{{Name: "/gc/heap/live:bytes"}}
	live := func() int64 {
		rtmetrics.Read(sample)
		return int64(sample[0].Value.Uint64())
	}
	runtime.GC()
	base := live()
	var peak atomic.Int64
	stopSampling := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			if d := live() - base; d > peak.Load() {
				peak.Store(d)
			}
			select {
			case <-stopSampling:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	client := &http.Client{Timeout: time.Minute}
	status := make([]int, phones)
	var wg sync.WaitGroup
	for i := range batches {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			s, retry, _, err := postPush(env, client, env.VolSaDec.Token, stream(batches[i]))
			if err != nil {
				t.Error(err)
			}
			if s == http.StatusServiceUnavailable && retry == "" {
				t.Error("503 without Retry-After")
			}
			status[i] = s
		}(i)
	}
	wg.Wait()
	close(stopSampling)
	<-sampled
	refused := 0
	for i, s := range status {
		n := storedOps(t, env, batches[i])
		switch {
		case s == http.StatusOK && n != len(batches[i]):
			t.Errorf("an acknowledged push has %d of %d ops", n, len(batches[i]))
		case s != http.StatusOK && n != 0 && n != len(batches[i]):
			t.Errorf("a push answered %d is half-written: %d of %d ops", s, n, len(batches[i]))
		case s != http.StatusOK && s != http.StatusServiceUnavailable:
			t.Errorf("push answered %d", s)
		}
		if s != http.StatusOK {
			refused++
			wg.Add(1)
			go func(ops []schema.Op) { // resent as the SDK does, until taken
				defer wg.Done()
				for try := 0; ; try++ {
					s, _, code, _ := postPush(env, client, env.VolSaDec.Token, bytes.NewReader(pushBody(env, ops)))
					if s == http.StatusOK {
						return
					}
					if s != http.StatusServiceUnavailable || try > 100 {
						t.Errorf("resent: %d %s", s, code)
						return
					}
					time.Sleep(50 * time.Millisecond)
				}
			}(batches[i])
		}
	}
	wg.Wait()
	var total int
	env.DB.WriteDB().QueryRow(`SELECT count(*) FROM ops`).Scan(&total)
	if total != phones*opsPerPush+50 {
		t.Errorf("%d op results after the flood and the resends, want %d", total, phones*opsPerPush+50)
	}
	t.Logf("push memory %d MiB: %d of %d pushes refused at first (503), all stored once after resending", pushMemory>>20, refused, phones)
	return peak.Load(), refused
}

// TestPushWaitersHoldLittleMemory: hundreds of pushes waiting for admission (the evening
// storm's phones arriving faster than the writer commits) each hold only their
// connection's buffers and request, a few tens of KB — not a body, not a decoder, not an
// answer compressor. Echo's Gzip middleware took a pooled gzip writer (about 1 MB of flate
// state once it had compressed an answer) when a request arrived, so each waiting push
// held one: the storm's server grew to 4 GB with 4,000 pushes waiting (docs/BENCHMARKS.md).
// The test first has many answers compressed at once, so the pool is full of used
// compressors, as it is under load.
func TestPushWaitersHoldLittleMemory(t *testing.T) {
	const waiting = 300
	env := newTestEnvWith(t, func(cfg *Config) {
		cfg.PushMemory = 64 << 10 // a handful of pushes at once; the rest wait
		cfg.Timeouts.PushWait = time.Minute
	})
	client := &http.Client{Timeout: 2 * time.Minute, Transport: &http.Transport{MaxIdleConnsPerHost: waiting + 10}}
	// The live heap after two collections: the first moves what sync.Pools hold aside, the
	// second frees it, so only what requests hold is counted.
	sample := []rtmetrics.Sample{{Name: "/gc/heap/live:bytes"}}
	live := func() int64 {
		runtime.GC()
		runtime.GC()
		rtmetrics.Read(sample)
		return int64(sample[0].Value.Uint64())
	}
	base := live()
	// Many answers compressed at once (a test route that writes 2 KB, then waits for the
	// others): the pool holds used compressors afterwards.
	const warm = 64
	barrier := make(chan struct{})
	var arrived sync.WaitGroup
	arrived.Add(warm)
	env.Srv.Echo().GET("/test/compressed", func(c echo.Context) error {
		c.Response().Header().Set(echo.HeaderContentType, "text/plain")
		c.Response().WriteHeader(http.StatusOK)
		c.Response().Write([]byte(strings.Repeat("Tổ công nghệ số cộng đồng. ", 80)))
		arrived.Done()
		<-barrier
		return nil
	})
	var wg sync.WaitGroup
	for i := 0; i < warm; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest("GET", env.HTTP.URL+"/test/compressed", nil)
			req.Header.Set("Accept-Encoding", "gzip")
			resp, err := client.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.Header.Get("Content-Encoding") != "gzip" {
				t.Error("the warm-up answer was not compressed")
			}
		}()
	}
	arrived.Wait()
	close(barrier)
	wg.Wait()

	batches := make([][]schema.Op, waiting)
	bodies := make([][]byte, waiting)
	for i := range batches {
		batches[i] = newOps(env, 20, "Hướng dẫn cài VNeID")
		bodies[i] = pushBody(env, batches[i])
	}
	release := blockWriter(t, env)
	status := make([]int, waiting)
	for i := range bodies {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			req, _ := http.NewRequest("POST", env.HTTP.URL+"/v1/sync/push", bytes.NewReader(bodies[i]))
			req.Header.Set("Authorization", "Bearer "+env.VolSaDec.Token)
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Accept-Encoding", "gzip")
			resp, err := client.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			status[i] = resp.StatusCode
		}(i)
	}
	deadline := time.Now().Add(30 * time.Second)
	admitted := 0
	for {
		admitted = int(env.DB.Stats().QueueJobs)
		if env.Srv.pushMem.waiting()+admitted >= waiting {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d pushes wait for admission, %d in the writer's queue; want %d in all", env.Srv.pushMem.waiting(), admitted, waiting)
		}
		time.Sleep(10 * time.Millisecond)
	}
	held := live() - base
	per := held / waiting
	t.Logf("%d pushes in flight (%d admitted, in the writer's queue; %d waiting for admission): live heap +%d KiB, %d KiB per push (client side included)",
		waiting, admitted, waiting-admitted, held>>10, per>>10)
	if per > 64<<10 {
		t.Errorf("each push in flight holds %d KiB of heap, want under 64 KiB", per>>10)
	}
	release()
	wg.Wait()
	for i, s := range status {
		if s != http.StatusOK {
			t.Fatalf("push %d answered %d", i, s)
		}
	}
	var total int
	env.DB.WriteDB().QueryRow(`SELECT count(*) FROM ops`).Scan(&total)
	if total != waiting*20 {
		t.Fatalf("%d op results, want %d", total, waiting*20)
	}
}
