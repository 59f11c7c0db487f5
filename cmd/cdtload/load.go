package main

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// loadConfig is a whole run: the setup, the workload and how it is pushed.
type loadConfig struct {
	setupConfig
	Servers     []string // pushes go to each in turn; setup goes through the first
	Batch       int
	Concurrency int           // sustained mode: phones pushing at once (at most Devices)
	Duration    time.Duration // sustained mode: how long new pushes start
	Count       int           // sustained mode: total ops instead of a duration
	Gzip        bool
	Edits       float64
	Deletes     float64
	Repeat      float64
	SharedVisit float64
	Invalid     float64
	Storm       bool
	Outbox      int           // storm: ops per device
	Window      time.Duration // storm: devices arrive at random times within it
	StormLimit  time.Duration // storm: give up this long after the window
	Timeout     time.Duration // per request
	PrebuildMB  int
	// PrebuildRate is the ingest rate (ops/s) bodies are prebuilt for in a --duration run.
	PrebuildRate int
	MaxRetries   int
	ServerPIDs   []int
	AbortRSSMB   int // stop the run if the server's RSS passes it (a shared machine's safety)
	Baseline     string
	Progress     io.Writer // progress lines; nil for none
}

// run sets up the deployment and runs the load or the storm.
func run(ctx context.Context, cfg loadConfig) (*summary, error) {
	conns := cfg.Concurrency
	if cfg.Storm {
		conns = 4096
	}
	tr := newTransport(conns+cfg.setupConfig.Concurrency, cfg.Gzip)
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: cfg.Timeout}
	logf := func(format string, args ...any) {
		if cfg.Progress != nil {
			fmt.Fprintf(cfg.Progress, format+"\n", args...)
		}
	}
	dep, err := setup(ctx, hc, cfg.Servers[0], cfg.setupConfig, logf)
	if err != nil {
		return nil, err
	}
	hamlets := make([]int64, len(dep.Hamlets))
	for i, h := range dep.Hamlets {
		hamlets[i] = h.ID
	}
	w := newWorkload(dep.CitizenKey, hamlets, cfg.Devices, cfg.Seed)
	w.edits, w.deletes, w.repeat, w.sharedVisit, w.invalid = cfg.Edits, cfg.Deletes, cfg.Repeat, cfg.SharedVisit, cfg.Invalid
	w.skew = dep.Skew
	if cfg.Storm {
		w.agoMax = 10 * time.Hour // the day's outbox: recorded since the morning
	}
	for _, d := range dep.Devices {
		d.gen = newGenerator(w, d.idx, cfg.Seed, d.phone.offset)
	}
	sum := &summary{Mode: "load", Server: cfg.Servers[0], UnitID: dep.Unit.ID, Unit: dep.Unit.Name, Hamlets: len(dep.Hamlets),
		TeamID: dep.Team.ID, Team: dep.Team.Name, Teams: len(dep.Teams), Devices: len(dep.Devices), Phones: dep.Phones, WrongClocks: dep.WrongClock,
		Batch: cfg.Batch, Gzip: cfg.Gzip}
	sum.Setup.Seconds = round(dep.Took.Seconds(), 2)
	sum.Setup.Created, sum.Setup.Reused = dep.Created, dep.Reused
	logf("setup: %d devices on %d phones in %s (team %q, %d hamlets) in %.1f s", len(dep.Devices), dep.Phones, dep.Unit.Name,
		dep.Team.Name, len(dep.Hamlets), dep.Took.Seconds())

	st := newStats()
	if len(cfg.Servers) > 1 {
		sum.Servers = cfg.Servers
	}
	p := &pusher{bases: cfg.Servers, hc: hc, api: &api{base: cfg.Servers[0], hc: hc}, gz: cfg.Gzip, skew: dep.Skew, st: st,
		maxRetries: cfg.MaxRetries}
	var elapsed time.Duration
	var cpu0 time.Duration
	var sampler *procSampler
	runCtx, stopRun := context.WithCancel(ctx)
	defer stopRun()
	var aborted atomic.Pointer[string]
	begin := func() time.Time {
		runtime.GC() // the prebuilt bodies' garbage is not the run's
		cpu0 = selfCPU()
		if len(cfg.ServerPIDs) > 0 {
			sampler = startProcSampler(cfg.ServerPIDs, 200*time.Millisecond, int64(cfg.AbortRSSMB)<<10, func(kb int64) {
				msg := fmt.Sprintf("the server's RSS reached %d MB, over --abort-rss-mb %d", kb>>10, cfg.AbortRSSMB)
				aborted.Store(&msg)
				logf("cdtload: %s: stopping the run", msg)
				stopRun()
			})
		}
		t := time.Now()
		st.begin(t)
		return t
	}
	stopProgress := progress(cfg.Progress, st)
	if cfg.Storm {
		sum.Mode = "storm"
		sum.Storm, elapsed = runStorm(runCtx, cfg, dep.Devices, p, st, begin)
	} else {
		sum.Concurrency = min(cfg.Concurrency, len(dep.Devices))
		elapsed = runSustained(runCtx, cfg, dep.Devices, p, st, begin)
	}
	stopProgress()
	sum.Generator = shareOf(selfCPU()-cpu0, elapsed)
	if sampler != nil {
		sum.ServerPID = sampler.Stop()
	}
	st.fill(sum, elapsed)
	if sp := sum.ServerPID; sp != nil && sum.OpsAcked > 0 {
		sp.WrittenKBPerOp = round(sp.WrittenMB*1024/float64(sum.OpsAcked), 2)
	}
	if !cfg.Storm && cfg.Count == 0 {
		d := int(cfg.Duration / time.Second)
		sum.SteadyOpsPerSec = round(steady(sum.Timeline, d/4, d), 1)
	}
	if m := aborted.Load(); m != nil {
		sum.Aborted = *m
	}
	sum.Setup.Throttled = p.api.throttled.Load()
	if sum.AllAcked { // the model counts acknowledged ops: retried ones too

		n := expectedDuplicates(dep.Devices)
		sum.ExpectedDuplicates = &n
	}
	if cfg.Baseline != "" {
		b, err := readBaseline(cfg.Baseline)
		if err != nil {
			return sum, err
		}
		if b.Raw500 > 0 {
			b.Ratio = round(sum.OpsPerSec/b.Raw500, 3)
		}
		sum.Baseline = b
	}
	return sum, ctx.Err()
}

// progress prints the acknowledged ops every 5 s until stopped.
func progress(w io.Writer, st *stats) func() {
	if w == nil {
		return func() {}
	}
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(5 * time.Second)
		defer t.Stop()
		start, last, prev := time.Now(), time.Now(), int64(0)
		for {
			select {
			case <-stop:
				return
			case now := <-t.C:
				n := st.ackedOps.Load()
				fmt.Fprintf(w, "  %5.0f s  %9d ops acknowledged  %7.0f ops/s\n", now.Sub(start).Seconds(), n,
					float64(n-prev)/now.Sub(last).Seconds())
				last, prev = now, n
			}
		}
	}()
	return func() { close(stop); <-done }
}

// runSustained keeps Concurrency phones pushing batches back to back for Duration (or
// until Count ops were sent). Bodies are built before the clock starts, within
// PrebuildMB; beyond it they are built during the run (and counted).
func runSustained(ctx context.Context, cfg loadConfig, devs []*device, p *pusher, st *stats, begin func() time.Time) time.Duration {
	n := len(devs)
	left := make([]int, n) // ops still to generate per device; -1: no limit
	for i := range left {
		left[i] = -1
		if cfg.Count > 0 {
			left[i] = cfg.Count / n
			if i < cfg.Count%n {
				left[i]++
			}
		}
	}
	take := func(i int) int {
		if left[i] < 0 {
			return cfg.Batch
		}
		k := min(cfg.Batch, left[i])
		left[i] -= k
		return k
	}
	// Prebuild: as many batches per device as the budget allows.
	queues := make([][]*batch, n)
	zw, _ := gzip.NewWriterLevel(io.Discard, gzip.BestSpeed)
	if k := take(0); k > 0 {
		queues[0] = append(queues[0], devs[0].gen.newBatch(k, 0, time.Time{}, cfg.Gzip, zw))
	}
	// As many batches per device as the budget allows, and no more than the run needs if
	// the server takes PrebuildRate ops/s; a faster server gets bodies built during the run.
	per := 1
	if len(queues[0]) > 0 {
		est := len(queues[0][0].rest) + 64*len(queues[0][0].meta)
		per = max(1, (cfg.PrebuildMB<<20)/(est*n))
		if cfg.Count == 0 {
			need := int(float64(cfg.PrebuildRate)*cfg.Duration.Seconds())/(cfg.Batch*n) + 1
			per = min(per, need)
		}
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < runtime.GOMAXPROCS(0); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			zw, _ := gzip.NewWriterLevel(io.Discard, gzip.BestSpeed)
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				for len(queues[i]) < per {
					k := take(i)
					if k == 0 {
						break
					}
					queues[i] = append(queues[i], devs[i].gen.newBatch(k, 0, time.Time{}, cfg.Gzip, zw))
				}
			}
		}()
	}
	wg.Wait()

	conc := max(1, min(cfg.Concurrency, n))
	start := begin()
	deadline := start.Add(cfg.Duration)
	for w := 0; w < conc; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			zw, _ := gzip.NewWriterLevel(io.Discard, gzip.BestSpeed)
			var mine []int
			for i := w; i < n; i += conc {
				mine = append(mine, i)
			}
			for len(mine) > 0 && ctx.Err() == nil {
				for j := 0; j < len(mine); j++ {
					i := mine[j]
					if cfg.Count == 0 && time.Now().After(deadline) {
						return
					}
					var bt *batch
					if len(queues[i]) > 0 {
						bt, queues[i] = queues[i][0], queues[i][1:]
					} else if k := take(i); k > 0 {
						bt = devs[i].gen.newBatch(k, 0, time.Time{}, cfg.Gzip, zw)
						st.mu.Lock()
						st.liveBuilt++
						st.mu.Unlock()
					} else {
						mine = append(mine[:j], mine[j+1:]...) // this device is done
						j--
						continue
					}
					p.push(ctx, devs[i], bt)
				}
			}
		}(w)
	}
	wg.Wait()
	return time.Since(start)
}

// runStorm simulates the evening: every device arrives at a random time within Window
// with a day's outbox (Outbox ops) and pushes it in batches of Batch, one after another,
// as a phone does, waiting out 503s. All bodies are built before the storm starts.
func runStorm(ctx context.Context, cfg loadConfig, devs []*device, p *pusher, st *stats, begin func() time.Time) (*stormSummary, time.Duration) {
	n := len(devs)
	outboxes := make([][]*batch, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < runtime.GOMAXPROCS(0); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			zw, _ := gzip.NewWriterLevel(io.Discard, gzip.BestSpeed)
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				d := devs[i]
				oldest := d.gen.phoneNow().Add(-d.gen.w.agoMax)
				for left := cfg.Outbox; left > 0; {
					k := min(cfg.Batch, left)
					outboxes[i] = append(outboxes[i], d.gen.newBatch(k, left, oldest, cfg.Gzip, zw))
					left -= k
				}
			}
		}()
	}
	wg.Wait()

	rng := rand.New(rand.NewPCG(cfg.Seed, 0xa0761d6478bd642f))
	arrive := make([]time.Duration, n)
	for i := range arrive {
		arrive[i] = time.Duration(rng.Int64N(int64(cfg.Window) + 1))
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.Window+cfg.StormLimit)
	defer cancel()
	var (
		inFlight, maxInFlight atomic.Int64
		done                  atomic.Int64
		lastDone              atomic.Int64
		drains                = make([]time.Duration, n)
		drained               = make([]bool, n)
	)
	start := begin()
	for i := range devs {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			if !sleepCtx(ctx, time.Until(start.Add(arrive[i]))) {
				for _, bt := range outboxes[i] {
					st.abandon(bt)
				}
				return
			}
			t0 := time.Now()
			for j, bt := range outboxes[i] {
				f := inFlight.Add(1)
				for m := maxInFlight.Load(); f > m && !maxInFlight.CompareAndSwap(m, f); m = maxInFlight.Load() {
				}
				ok := p.push(ctx, devs[i], bt)
				inFlight.Add(-1)
				if !ok {
					for _, rest := range outboxes[i][j+1:] {
						st.abandon(rest)
					}
					return
				}
			}
			drains[i], drained[i] = time.Since(t0), true
			done.Add(1)
			t := int64(time.Since(start))
			for l := lastDone.Load(); t > l && !lastDone.CompareAndSwap(l, t); l = lastDone.Load() {
			}
		}(i)
	}
	wg.Wait()
	elapsed := time.Since(start)
	var ds []time.Duration
	for i, ok := range drained {
		if ok {
			ds = append(ds, drains[i])
		}
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	ss := &stormSummary{Outbox: cfg.Outbox, WindowS: cfg.Window.Seconds(), DevicesDone: int(done.Load()),
		DeviceDrainMS: distribution(ds), MaxInFlight: maxInFlight.Load()}
	ss.LastDoneS = round(time.Duration(lastDone.Load()).Seconds(), 2)
	if ss.DevicesDone == n {
		ss.DrainS = ss.LastDoneS
	}
	return ss, elapsed
}

// rawSummaryFile is the part of `cdtload raw --json` a load run compares itself with.
type rawSummaryFile struct {
	Mode    string  `json:"mode"`
	Raw500  float64 `json:"rows_per_sec_500tx"`
	Results []struct {
		TxRows     int `json:"tx_rows"`
		Indexes    int `json:"secondary_indexes"`
		RowsPerSec struct {
			Median float64 `json:"median"`
		} `json:"rows_per_sec"`
	} `json:"results"`
}

func readBaseline(path string) (*baselineRef, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r rawSummaryFile
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	ref := &baselineRef{File: path, Mode: r.Mode}
	if r.Mode == "raw-pg" { // its ceiling: the best 500-row rate over the connection counts
		if r.Raw500 == 0 {
			return nil, errors.New(path + ": no 500-row result")
		}
		ref.Raw500 = r.Raw500
		return ref, nil
	}
	for _, x := range r.Results {
		if x.Indexes != 2 {
			continue
		}
		switch x.TxRows {
		case 500:
			ref.Raw500 = x.RowsPerSec.Median
		case 2000:
			ref.Raw2000 = x.RowsPerSec.Median
		case 20000:
			ref.Raw20000 = x.RowsPerSec.Median
		}
	}
	if ref.Raw500 == 0 {
		return nil, errors.New(path + ": no 500-row result with 2 secondary indexes")
	}
	return ref, nil
}
