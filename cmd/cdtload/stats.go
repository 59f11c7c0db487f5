package main

import (
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// stats are the run's counters, shared by every pushing goroutine.
type stats struct {
	mu        sync.Mutex
	lat       []time.Duration // of acknowledged pushes (200)
	pushes    int64
	ops       [nOpTypes][4]int64 // by op type × result (applied, already_applied, rejected, other)
	rejected  map[string]int64
	errors    map[string]int64
	honour    map[int]int64 // 503 and 429 answers with Retry-After, waited out
	waited    time.Duration
	reauths   int64
	gaveUp    [2]int64 // batches, ops given up after errors
	abandoned [2]int64 // batches, ops left when the run was stopped
	wire      int64    // bytes sent, as sent (gzip or not)
	rawBytes  int64    // bytes of JSON sent, before gzip
	attempts  int64
	sentOps   int64 // ops in every attempt, retries included
	liveBuilt int64 // batches built during the timed run (the prebuilt ones ran out)

	ackedOps atomic.Int64 // for progress lines
	start    time.Time    // of the timed run, for the timeline
	timeline []int64      // acknowledged ops per second since start
}

// begin marks the start of the timed run.
func (s *stats) begin(t time.Time) {
	s.mu.Lock()
	s.start = t
	s.mu.Unlock()
}

func newStats() *stats {
	return &stats{rejected: map[string]int64{}, errors: map[string]int64{}, honour: map[int]int64{}}
}

func (s *stats) sent(ops, wire, raw int) {
	s.mu.Lock()
	s.attempts++
	s.sentOps += int64(ops)
	s.wire += int64(wire)
	s.rawBytes += int64(raw)
	s.mu.Unlock()
}

func (s *stats) acked(bt *batch, d *device, pr *pushResponse, lat time.Duration) {
	s.mu.Lock()
	s.lat = append(s.lat, lat)
	s.pushes++
	if !s.start.IsZero() {
		sec := int(time.Since(s.start) / time.Second)
		for len(s.timeline) <= sec {
			s.timeline = append(s.timeline, 0)
		}
		s.timeline[sec] += int64(len(pr.Results))
	}
	for i, r := range pr.Results {
		s.ops[bt.meta[i].typ][statusIndex(r.Status)]++
		if r.Status == "rejected" {
			s.rejected[r.Code]++
		}
	}
	s.mu.Unlock()
	s.ackedOps.Add(int64(len(pr.Results)))
	for i, r := range pr.Results {
		d.gen.account(bt.meta[i], r.Status)
	}
}

func (s *stats) honoured(status int, wait time.Duration) {
	s.mu.Lock()
	s.honour[status]++
	s.waited += wait
	s.mu.Unlock()
}

func (s *stats) error(code string) {
	s.mu.Lock()
	s.errors[code]++
	s.mu.Unlock()
}

func (s *stats) reauth() {
	s.mu.Lock()
	s.reauths++
	s.mu.Unlock()
}

func (s *stats) giveUp(bt *batch) {
	s.mu.Lock()
	s.gaveUp[0]++
	s.gaveUp[1] += int64(len(bt.meta))
	s.mu.Unlock()
}

func (s *stats) abandon(bt *batch) {
	s.mu.Lock()
	s.abandoned[0]++
	s.abandoned[1] += int64(len(bt.meta))
	s.mu.Unlock()
}

// latency is a distribution in milliseconds.
type latency struct {
	N    int     `json:"n"`
	P50  float64 `json:"p50"`
	P95  float64 `json:"p95"`
	P99  float64 `json:"p99"`
	Max  float64 `json:"max"`
	Mean float64 `json:"mean"`
}

// distribution computes percentiles by nearest rank.
func distribution(ds []time.Duration) latency {
	if len(ds) == 0 {
		return latency{}
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	ms := func(d time.Duration) float64 { return math.Round(float64(d)/1e4) / 100 }
	rank := func(p float64) time.Duration {
		i := int(math.Ceil(p/100*float64(len(s)))) - 1
		return s[max(i, 0)]
	}
	var sum time.Duration
	for _, d := range s {
		sum += d
	}
	return latency{N: len(s), P50: ms(rank(50)), P95: ms(rank(95)), P99: ms(rank(99)), Max: ms(s[len(s)-1]),
		Mean: ms(sum / time.Duration(len(s)))}
}

// summary is the result of a run; --json prints it.
type summary struct {
	Mode   string `json:"mode"` // "load" or "storm"
	Server string `json:"server"`
	// Servers lists every server pushes went to, in turn, when there were several.
	Servers     []string `json:"servers,omitempty"`
	UnitID      int64    `json:"unit_id"`
	Unit        string   `json:"unit"`
	Hamlets     int      `json:"hamlets"`
	TeamID      int64    `json:"team_id"`
	Team        string   `json:"team"`
	Teams       int      `json:"teams"` // the devices are spread over this many teams (TeamID, Team: the first)
	Devices     int      `json:"devices"`
	Phones      int      `json:"phones"`
	WrongClocks int      `json:"wrong_clock_phones"`
	Batch       int      `json:"batch"`
	Concurrency int      `json:"concurrency,omitempty"`
	Gzip        bool     `json:"gzip"`
	Setup       struct {
		Seconds   float64 `json:"seconds"`
		Created   int     `json:"volunteers_created"`
		Reused    int     `json:"volunteers_reused"`
		Throttled int64   `json:"throttled"`
	} `json:"setup"`

	ElapsedS       float64 `json:"elapsed_s"`
	Pushes         int64   `json:"pushes"`
	Attempts       int64   `json:"push_attempts"`
	OpsAcked       int64   `json:"ops_acked"`
	Applied        int64   `json:"applied"`
	AlreadyApplied int64   `json:"already_applied"`
	Rejected       int64   `json:"rejected"`
	OpsPerSec      float64 `json:"ops_per_sec"`
	// SteadyOpsPerSec is the rate from a quarter of --duration in until --duration
	// (sustained mode): without the first pushes' wait and the last pushes' drain.
	SteadyOpsPerSec float64 `json:"steady_ops_per_sec,omitempty"`
	// Timeline holds the ops acknowledged in each second of the run.
	Timeline       []int64                     `json:"timeline"`
	ByType         map[string]map[string]int64 `json:"by_type"`
	RejectedByCode map[string]int64            `json:"rejected_by_code"`
	Errors         int64                       `json:"errors"`
	ErrorsByCode   map[string]int64            `json:"errors_by_code"`
	Honoured503    int64                       `json:"honoured_503"`
	Honoured429    int64                       `json:"honoured_429"`
	RetryWaitS     float64                     `json:"retry_after_wait_s"`
	Reauths        int64                       `json:"reauths"`
	FailedPushes   int64                       `json:"failed_pushes"`
	FailedOps      int64                       `json:"failed_ops"`
	AbandonedOps   int64                       `json:"abandoned_ops"`
	AllAcked       bool                        `json:"all_acked"`
	Aborted        string                      `json:"aborted,omitempty"` // why the run was stopped early
	LatencyMS      latency                     `json:"latency_ms"`
	BytesPerOp     struct {
		JSON float64 `json:"json"`
		Wire float64 `json:"wire"`
	} `json:"bytes_per_op"`
	BuiltDuringRun int64 `json:"batches_built_during_run"`
	// ExpectedDuplicates is how many of this run's logs the server should mark duplicate
	// (once-per-person kinds), from the generator's model of the acknowledged ops. It holds
	// on a database with no earlier logs of these residents; absent if some ops were not
	// acknowledged.
	ExpectedDuplicates *int64 `json:"expected_duplicates,omitempty"`

	Generator cpuShare      `json:"generator_cpu"`
	ServerPID *procSummary  `json:"server_process,omitempty"`
	Storm     *stormSummary `json:"storm,omitempty"`
	Baseline  *baselineRef  `json:"baseline,omitempty"`
}

// cpuShare is CPU time used over a wall time, as a share of the machine.
type cpuShare struct {
	CPUSeconds float64 `json:"cpu_s"`
	Share      float64 `json:"share_of_machine"` // 0..1
	Cores      int     `json:"cores"`
}

// stormSummary is what only the storm reports.
type stormSummary struct {
	Outbox  int     `json:"outbox"`
	WindowS float64 `json:"window_s"`
	// DrainS is the time from the start until every device's outbox was empty; absent
	// if some device's never was.
	DrainS      float64 `json:"drain_s,omitempty"`
	LastDoneS   float64 `json:"last_drained_s"` // when the last device that drained did
	DevicesDone int     `json:"devices_drained"`
	// DeviceDrainMS is each device's time from arrival to an empty outbox (503 waits included).
	DeviceDrainMS latency `json:"device_drain_ms"`
	MaxInFlight   int64   `json:"max_in_flight"`
}

// baselineRef compares the run with a raw SQLite baseline (cdtload raw --json).
type baselineRef struct {
	File       string  `json:"file"`
	Mode       string  `json:"mode,omitempty"` // raw (SQLite) or raw-pg (bare pgx)
	Raw500     float64 `json:"raw_500_rows_per_s"`
	Ratio      float64 `json:"ratio"` // ops_per_sec / Raw500
	Raw2000    float64 `json:"raw_2000_rows_per_s,omitempty"`
	Raw20000   float64 `json:"raw_20000_rows_per_s,omitempty"`
	SameRunRaw bool    `json:"-"`
}

// steady is the mean rate of timeline over [from, to) seconds.
func steady(timeline []int64, from, to int) float64 {
	if to <= from {
		return 0
	}
	var n int64
	for i := from; i < to && i < len(timeline); i++ {
		n += timeline[i]
	}
	return float64(n) / float64(to-from)
}

// fill completes a summary from the counters.
func (s *stats) fill(sum *summary, elapsed time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sum.ElapsedS = round(elapsed.Seconds(), 3)
	sum.Pushes, sum.Attempts = s.pushes, s.attempts
	sum.ByType = map[string]map[string]int64{}
	for t := 0; t < nOpTypes; t++ {
		m := map[string]int64{}
		for i, name := range []string{"applied", "already_applied", "rejected", "other"} {
			if v := s.ops[t][i]; v > 0 {
				m[name] = v
			}
		}
		if len(m) > 0 {
			sum.ByType[opTypeNames[t]] = m
		}
		sum.Applied += s.ops[t][0]
		sum.AlreadyApplied += s.ops[t][1]
		sum.Rejected += s.ops[t][2]
		sum.OpsAcked += s.ops[t][0] + s.ops[t][1] + s.ops[t][2] + s.ops[t][3]
	}
	if elapsed > 0 {
		sum.OpsPerSec = round(float64(sum.OpsAcked)/elapsed.Seconds(), 1)
	}
	sum.Timeline = append([]int64{}, s.timeline...)
	sum.RejectedByCode = copyMap(s.rejected)
	sum.ErrorsByCode = copyMap(s.errors)
	for _, v := range s.errors {
		sum.Errors += v
	}
	sum.Honoured503, sum.Honoured429 = s.honour[503], s.honour[429]
	sum.RetryWaitS = round(s.waited.Seconds(), 1)
	sum.Reauths = s.reauths
	sum.FailedPushes, sum.FailedOps = s.gaveUp[0], s.gaveUp[1]
	sum.AbandonedOps = s.abandoned[1]
	sum.AllAcked = s.gaveUp[0] == 0 && s.abandoned[0] == 0
	sum.LatencyMS = distribution(s.lat)
	if s.sentOps > 0 {
		sum.BytesPerOp.JSON = round(float64(s.rawBytes)/float64(s.sentOps), 0)
		sum.BytesPerOp.Wire = round(float64(s.wire)/float64(s.sentOps), 0)
	}
	sum.BuiltDuringRun = s.liveBuilt
}

func copyMap[K comparable](m map[K]int64) map[K]int64 {
	out := make(map[K]int64, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func round(v float64, places int) float64 {
	p := math.Pow10(places)
	return math.Round(v*p) / p
}

// expectedDuplicates sums the devices' duplicate models: in each once-per-person group
// (resident and kind), every live completed log but one is a duplicate.
func expectedDuplicates(devs []*device) int64 {
	total := map[uint64]int32{}
	for _, d := range devs {
		for k, v := range d.gen.groups {
			total[k] += v
		}
	}
	var n int64
	for _, v := range total {
		if v > 1 {
			n += int64(v - 1)
		}
	}
	return n
}

// selfCPU returns this process's CPU time (user + system).
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func shareOf(cpu, wall time.Duration) cpuShare {
	c := runtime.NumCPU()
	sh := cpuShare{CPUSeconds: round(cpu.Seconds(), 2), Cores: c}
	if wall > 0 {
		sh.Share = round(cpu.Seconds()/(wall.Seconds()*float64(c)), 3)
	}
	return sh
}

// procSummary is what the sampler saw of another process (the server): its resident
// memory and CPU share over the run. With several server processes (PIDs), every figure
// is their sum (RSS: the sum at each sample).
type procSummary struct {
	PID        int      `json:"pid"`
	PIDs       []int    `json:"pids,omitempty"`
	RSSStartMB float64  `json:"rss_start_mb"`
	RSSMaxMB   float64  `json:"rss_max_mb"`
	RSSEndMB   float64  `json:"rss_end_mb"`
	CPU        cpuShare `json:"cpu"`
	Samples    int      `json:"samples"`
	// WrittenMB is what the process sent to storage during the run (/proc/<pid>/io
	// write_bytes: the WAL, checkpoints, its log); WrittenKBPerOp divides it by the ops
	// acknowledged, to compare with the raw baseline's kB per row.
	WrittenMB      float64 `json:"written_mb"`
	WrittenKBPerOp float64 `json:"written_kb_per_op,omitempty"`
}

// procSampler reads /proc/<pid>/status (VmRSS) and /proc/<pid>/stat (CPU ticks) every
// interval until stopped.
type procSampler struct {
	pids    []int
	stop    chan struct{}
	done    chan struct{}
	start   time.Time
	cpu0    time.Duration
	w0      int64
	sum     procSummary
	lastRSS int64
}

// startProcSampler samples pid every interval. If limitKB > 0, over is called once when
// the resident memory passes it.
func startProcSampler(pids []int, every time.Duration, limitKB int64, over func(kb int64)) *procSampler {
	p := &procSampler{pids: pids, stop: make(chan struct{}), done: make(chan struct{}), start: time.Now()}
	p.sum.PID = pids[0]
	if len(pids) > 1 {
		p.sum.PIDs = pids
	}
	p.cpu0, _ = sumProcs(pids, procCPU)
	p.w0 = procsWriteBytes(pids)
	if kb, ok := sumProcs(pids, procRSS); ok {
		p.sum.RSSStartMB = round(float64(kb)/1024, 1)
		p.sum.RSSMaxMB = p.sum.RSSStartMB
		p.lastRSS = kb
		p.sum.Samples++
	}
	go func() {
		defer close(p.done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-p.stop:
				return
			case <-t.C:
				if kb, ok := sumProcs(pids, procRSS); ok {
					p.sum.Samples++
					p.lastRSS = kb
					if mb := round(float64(kb)/1024, 1); mb > p.sum.RSSMaxMB {
						p.sum.RSSMaxMB = mb
					}
					if limitKB > 0 && kb > limitKB && over != nil {
						over(kb)
						over = nil
					}
				}
			}
		}
	}()
	return p
}

func (p *procSampler) Stop() *procSummary {
	close(p.stop)
	<-p.done
	if kb, ok := sumProcs(p.pids, procRSS); ok {
		p.lastRSS = kb
		if mb := round(float64(kb)/1024, 1); mb > p.sum.RSSMaxMB {
			p.sum.RSSMaxMB = mb
		}
	}
	p.sum.RSSEndMB = round(float64(p.lastRSS)/1024, 1)
	cpu1, _ := sumProcs(p.pids, procCPU)
	p.sum.CPU = shareOf(cpu1-p.cpu0, time.Since(p.start))
	if w1 := procsWriteBytes(p.pids); p.w0 >= 0 && w1 >= p.w0 {
		p.sum.WrittenMB = round(float64(w1-p.w0)/(1<<20), 1)
	}
	return &p.sum
}

// sumProcs sums read (procRSS, procCPU) over processes; a process that has gone counts
// nothing, and the sum is false only if all have gone. procsWriteBytes does the same for
// procWriteBytes.
func sumProcs[T int64 | time.Duration](pids []int, read func(pid int) (T, bool)) (T, bool) {
	var sum T
	found := false
	for _, pid := range pids {
		if v, ok := read(pid); ok {
			sum, found = sum+v, true
		}
	}
	return sum, found
}

func procsWriteBytes(pids []int) int64 {
	var sum int64 = -1
	for _, pid := range pids {
		if n := procWriteBytes(pid); n >= 0 {
			sum = max(sum, 0) + n
		}
	}
	return sum
}

// procWriteBytes reads a process's bytes sent to storage, or -1.
func procWriteBytes(pid int) int64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/io")
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "write_bytes:"); ok {
			if n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err == nil {
				return n
			}
		}
	}
	return -1
}

// procRSS reads VmRSS in kB.
func procRSS(pid int) (int64, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(rest)
			if len(f) >= 1 {
				v, err := strconv.ParseInt(f[0], 10, 64)
				return v, err == nil
			}
		}
	}
	return 0, false
}

// clockTicks is USER_HZ, the unit of /proc/<pid>/stat times: 100 on Linux.
const clockTicks = 100

// procCPU reads a process's user + system time.
func procCPU(pid int) (time.Duration, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(s[i+1:])
	// After the command: state(0) ppid … utime is field 14 of the line, index 11 here.
	if len(f) < 13 {
		return 0, false
	}
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	return time.Duration(u+st) * time.Second / clockTicks, true
}

// report prints a summary for people.
func report(w io.Writer, s *summary) {
	p := func(format string, args ...any) { fmt.Fprintf(w, format+"\n", args...) }
	gz := "off"
	if s.Gzip {
		gz = "on"
	}
	p("cdtload %s against %s", s.Mode, s.Server)
	if len(s.Servers) > 1 {
		p("  servers       %d, pushes sent to each in turn", len(s.Servers))
	}
	if s.Teams > 1 {
		p("  deployment    %s (unit %d, %d hamlets), %d teams, the first %q (%d)", s.Unit, s.UnitID, s.Hamlets, s.Teams, s.Team, s.TeamID)
	} else {
		p("  deployment    %s (unit %d, %d hamlets), team %q (%d)", s.Unit, s.UnitID, s.Hamlets, s.Team, s.TeamID)
	}
	p("  devices       %d enrolments on %d phones (%d with a wrong clock); batch %d; gzip %s", s.Devices, s.Phones, s.WrongClocks, s.Batch, gz)
	if s.Concurrency > 0 {
		p("  concurrency   %d", s.Concurrency)
	}
	p("  setup         %.1f s (%d volunteers created, %d reused; %d throttled)", s.Setup.Seconds, s.Setup.Created, s.Setup.Reused, s.Setup.Throttled)
	if s.Storm != nil {
		st := s.Storm
		if st.DevicesDone == s.Devices {
			p("  storm         %d devices × %d ops arriving over %.0f s; all drained in %.1f s (max %d pushes in flight)",
				s.Devices, st.Outbox, st.WindowS, st.DrainS, st.MaxInFlight)
		} else {
			p("  storm         %d devices × %d ops arriving over %.0f s; NOT DRAINED: %d devices done, the last at %.1f s (max %d pushes in flight)",
				s.Devices, st.Outbox, st.WindowS, st.DevicesDone, st.LastDoneS, st.MaxInFlight)
		}
		p("  device drain  p50 %.0f ms · p95 %.0f ms · p99 %.0f ms · max %.0f ms (arrival to empty outbox)",
			st.DeviceDrainMS.P50, st.DeviceDrainMS.P95, st.DeviceDrainMS.P99, st.DeviceDrainMS.Max)
	}
	p("  ops acked     %d in %.1f s = %.0f ops/s  (applied %d, already_applied %d, rejected %d)",
		s.OpsAcked, s.ElapsedS, s.OpsPerSec, s.Applied, s.AlreadyApplied, s.Rejected)
	if s.SteadyOpsPerSec > 0 {
		p("  steady        %.0f ops/s (from a quarter of the duration in to its end)", s.SteadyOpsPerSec)
	}
	var types []string
	for _, t := range opTypeNames {
		if m, ok := s.ByType[t]; ok {
			types = append(types, fmt.Sprintf("%s %d", t, m["applied"]+m["already_applied"]+m["rejected"]+m["other"]))
		}
	}
	p("  by type       %s", strings.Join(types, " · "))
	p("  pushes        %d acknowledged of %d sent", s.Pushes, s.Attempts)
	l := s.LatencyMS
	p("  push latency  p50 %.1f ms · p95 %.1f ms · p99 %.1f ms · max %.1f ms · mean %.1f ms (acknowledged pushes)", l.P50, l.P95, l.P99, l.Max, l.Mean)
	p("  honoured      503 Retry-After: %d · 429 Retry-After: %d (waited %.1f s in all; not errors)", s.Honoured503, s.Honoured429, s.RetryWaitS)
	p("  errors        %s", codes(s.ErrorsByCode))
	p("  rejected ops  %s", codes(s.RejectedByCode))
	if s.Reauths > 0 {
		p("  token refresh %d", s.Reauths)
	}
	if s.Aborted != "" {
		p("  ABORTED       %s", s.Aborted)
	}
	if !s.AllAcked {
		p("  NOT ALL ACKED %d ops given up after errors, %d left when the run stopped", s.FailedOps, s.AbandonedOps)
	}
	p("  body          %.0f B/op JSON, %.0f B/op on the wire", s.BytesPerOp.JSON, s.BytesPerOp.Wire)
	if s.ExpectedDuplicates != nil {
		p("  duplicates    %d expected (once-per-person kinds; on a database without earlier logs of these residents)", *s.ExpectedDuplicates)
	}
	p("  generator CPU %.1f s = %.1f %% of the machine (%d cores)%s", s.Generator.CPUSeconds, s.Generator.Share*100, s.Generator.Cores,
		liveBuilt(s.BuiltDuringRun))
	if sp := s.ServerPID; sp != nil {
		who := fmt.Sprintf("pid %d", sp.PID)
		if len(sp.PIDs) > 1 {
			who = fmt.Sprintf("pids %s (summed)", strings.Trim(fmt.Sprint(sp.PIDs), "[]"))
		}
		p("  server        %s: RSS start %.0f MB, max %.0f MB, end %.0f MB; CPU %.1f s = %.1f %% of the machine",
			who, sp.RSSStartMB, sp.RSSMaxMB, sp.RSSEndMB, sp.CPU.CPUSeconds, sp.CPU.Share*100)
		p("  server disk   %.0f MB written = %.1f kB per acknowledged op", sp.WrittenMB, sp.WrittenKBPerOp)
	}
	if b := s.Baseline; b != nil {
		what := "raw SQLite, 500-row transactions"
		if b.Mode == "raw-pg" {
			what = "bare pgx, 500-row batches"
		}
		p("  ratio         %.0f ops/s ÷ %.0f rows/s (%s) = %.1f %%", s.OpsPerSec, b.Raw500, what, b.Ratio*100)
	}
}

func liveBuilt(n int64) string {
	if n == 0 {
		return ""
	}
	return fmt.Sprintf("; %d batches built during the run", n)
}

func codes(m map[string]int64) string {
	if len(m) == 0 {
		return "none"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
	}
	return strings.Join(parts, " · ")
}
