// Command cdtload is cdtsync's load generator. It enrols simulated phones through the
// real API and pushes realistic activity logs at a running server — steadily
// (`cdtload`), or as the evening storm (`cdtload --storm`) — and measures the raw SQLite
// insert rate the server is compared with (`cdtload raw`). See docs/BENCHMARKS.md.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := NewMain().Run(ctx, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "cdtload:", err)
		os.Exit(1)
	}
}

// Main is the cdtload program; tests run it in-process with their own output.
type Main struct {
	Stdout, Stderr io.Writer
	Getenv         func(string) string
}

// NewMain returns a Main wired to the process's stdout, stderr and environment.
func NewMain() *Main {
	return &Main{Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv}
}

const usage = `cdtload — đo tải máy chủ cdtsync / load generator for cdtsync

Usage:
  cdtload [flags]            sustained pushes: --devices phones, --batch ops per push, for --duration or --count ops
  cdtload --storm [flags]    the evening storm: --devices phones, each with --outbox ops, arriving within --window
  cdtload raw [flags]        the raw SQLite insert baseline (same row shape and pragmas as the server)
  cdtload raw --database postgres://… [flags]
                             the bare pgx baseline: idempotent batched inserts of the PostgreSQL store's log rows

Setup goes through the real API: sign in (--user, --password or CDTLOAD_PASSWORD), find the
unit (--unit, or the first commune with hamlets under the caller's unit), create or reuse
the team (--team) and its volunteers, issue enrolment codes and enrol the phones. Start the
server with --trust-proxy (or CDTSYNC_TRUST_PROXY=1) when enrolling more than 20 phones:
each simulated phone sends its own X-Forwarded-For address.

Flags:
`

// Run runs cdtload with args (without the program name).
func (m *Main) Run(ctx context.Context, args []string) error {
	if len(args) > 0 && args[0] == "raw" {
		return m.raw(ctx, args[1:])
	}
	if len(args) > 0 && (args[0] == "help" || args[0] == "-h" || args[0] == "--help") {
		fs := m.loadFlags(&loadConfig{}, &outputFlags{})
		fs.SetOutput(m.Stdout)
		fs.Usage()
		return nil
	}
	return m.load(ctx, args)
}

func (m *Main) env(key, def string) string {
	if v := m.Getenv(key); v != "" {
		return v
	}
	return def
}

// outputFlags are the flags that are not part of the run's configuration.
type outputFlags struct {
	seed     string
	json     bool
	jsonFile string
	quiet    bool
}

// serverList splits a comma-separated list of base URLs.
func serverList(v string) []string {
	var out []string
	for _, u := range strings.Split(v, ",") {
		if u = strings.TrimRight(strings.TrimSpace(u), "/"); u != "" {
			out = append(out, u)
		}
	}
	return out
}

func (m *Main) loadFlags(cfg *loadConfig, out *outputFlags) *flag.FlagSet {
	fs := flag.NewFlagSet("cdtload", flag.ContinueOnError)
	fs.SetOutput(m.Stderr)
	fs.Usage = func() { fmt.Fprint(fs.Output(), usage); fs.PrintDefaults() }
	cfg.Servers = serverList(m.env("CDTLOAD_SERVER", "http://127.0.0.1:8080"))
	fs.Func("server", "the server's base URL (env CDTLOAD_SERVER, default http://127.0.0.1:8080); several, comma-separated, for server processes sharing one PostgreSQL: setup goes through the first, pushes to each in turn", func(v string) error {
		cfg.Servers = serverList(v)
		return nil
	})
	fs.StringVar(&cfg.User, "user", m.env("CDTLOAD_USER", ""), "an admin or coordinator username (env CDTLOAD_USER)")
	fs.StringVar(&cfg.Password, "password", m.env("CDTLOAD_PASSWORD", ""), "its password (better: env CDTLOAD_PASSWORD)")
	fs.Int64Var(&cfg.Unit, "unit", 0, "the unit for the team: a commune (its hamlets are used) or a hamlet; 0: the first commune with hamlets under the caller's unit")
	fs.StringVar(&cfg.Team, "team", "Tổ CNSCĐ đo tải (cdtload)", "the team's name; reused with its volunteers if it exists")
	fs.IntVar(&cfg.Teams, "teams", 1, "spread the devices over this many teams, round robin, named \"<team> 1\"…: phones of many small teams, as in the field, rather than one")
	fs.IntVar(&cfg.Devices, "devices", 32, "simulated enrolments (volunteer + phone); --storm: default 10000")
	fs.Float64Var(&cfg.Shared, "shared", 0.05, "share of enrolments that are a second volunteer on another's phone")
	fs.Float64Var(&cfg.WrongClocks, "wrong-clocks", 0.03, "share of phones whose clock is wrong (days, a year, hours off)")
	fs.IntVar(&cfg.setupConfig.Concurrency, "setup-concurrency", 16, "parallel requests during the setup")
	fs.IntVar(&cfg.Batch, "batch", 500, "ops per push (the server takes at most 1000); --storm: default 200, as the SDK")
	fs.IntVar(&cfg.Concurrency, "concurrency", 0, "phones pushing at once (default: --devices)")
	fs.DurationVar(&cfg.Duration, "duration", 20*time.Second, "how long pushes start (sustained mode)")
	fs.IntVar(&cfg.Count, "count", 0, "total ops to push instead of --duration (sustained mode)")
	fs.BoolVar(&cfg.Gzip, "gzip", true, "gzip request bodies (and accept gzip answers), as phones on 3G do")
	fs.Float64Var(&cfg.Edits, "edits", 0.06, "share of ops that edit an earlier log of the phone (with base)")
	fs.Float64Var(&cfg.Deletes, "deletes", 0.02, "share of ops that delete an earlier log of the phone")
	fs.Float64Var(&cfg.Repeat, "repeat", 0.04, "share of creations revisiting a resident the volunteer helped before")
	fs.Float64Var(&cfg.SharedVisit, "shared-residents", 0.01, "share of creations for residents every volunteer may meet (cross-phone duplicates)")
	fs.Float64Var(&cfg.Invalid, "invalid", 0, "share of ops made to be rejected (unknown kind, long note, no consent, unknown hamlet)")
	fs.BoolVar(&cfg.Storm, "storm", false, "simulate the evening storm instead of a sustained load")
	fs.IntVar(&cfg.Outbox, "outbox", 50, "storm: ops in each phone's outbox")
	fs.DurationVar(&cfg.Window, "window", 60*time.Second, "storm: phones arrive at random times within it")
	fs.DurationVar(&cfg.StormLimit, "storm-limit", 10*time.Minute, "storm: stop this long after the window even if outboxes are not empty")
	fs.DurationVar(&cfg.Timeout, "timeout", 90*time.Second, "per request, body included (the SDK's)")
	fs.IntVar(&cfg.PrebuildMB, "prebuild-mb", 384, "sustained mode: memory for request bodies built before the clock starts")
	fs.IntVar(&cfg.PrebuildRate, "prebuild-rate", 40000, "sustained mode with --duration: build bodies before the clock starts for this many ops/s")
	fs.IntVar(&cfg.MaxRetries, "max-retries", 8, "failed attempts (network errors, 5xx other than an honoured 503) before a batch is given up")
	fs.Var((*pidList)(&cfg.ServerPIDs), "server-pid", "sample this process's RSS and CPU during the run (the server's pid, same machine); several, comma-separated: their sums")
	fs.IntVar(&cfg.AbortRSSMB, "abort-rss-mb", 0, "with --server-pid: stop the run if the server's RSS passes this many MB (0: never)")
	fs.StringVar(&cfg.Baseline, "baseline", "", "a `file` written by cdtload raw --json-out: print the ratio to its 500-row rate")
	fs.StringVar(&out.seed, "seed", "", "random seed (default: from the clock)")
	fs.BoolVar(&out.json, "json", false, "print the summary as JSON instead of text")
	fs.StringVar(&out.jsonFile, "json-out", "", "also write the JSON summary to this file")
	fs.BoolVar(&out.quiet, "quiet", false, "no progress lines on stderr")
	return fs
}

func (m *Main) load(ctx context.Context, args []string) error {
	var cfg loadConfig
	var out outputFlags
	fs := m.loadFlags(&cfg, &out)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if cfg.Storm {
		if !set["devices"] {
			cfg.Devices = 10000
		}
		if !set["batch"] {
			cfg.Batch = 200
		}
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = cfg.Devices
	}
	switch {
	case cfg.User == "" || cfg.Password == "":
		return errors.New("--user and --password (or CDTLOAD_PASSWORD) are required: an admin or coordinator")
	case cfg.Devices < 1 || cfg.Batch < 1:
		return errors.New("--devices and --batch must be at least 1")
	case cfg.Batch > 1000:
		return errors.New("--batch: the server takes at most 1000 ops per push")
	case cfg.Storm && (cfg.Outbox < 1 || cfg.Window <= 0):
		return errors.New("--outbox and --window must be positive")
	case !cfg.Storm && cfg.Count <= 0 && cfg.Duration <= 0:
		return errors.New("--duration or --count must be positive")
	case cfg.Edits+cfg.Deletes+cfg.Invalid >= 1:
		return errors.New("--edits + --deletes + --invalid must stay below 1")
	}
	if len(cfg.Servers) == 0 {
		return errors.New("--server: a URL is required")
	}
	if out.seed != "" {
		s, err := strconv.ParseUint(out.seed, 10, 64)
		if err != nil {
			return fmt.Errorf("--seed: %w", err)
		}
		cfg.Seed = s
	} else {
		cfg.Seed = uint64(time.Now().UnixNano())
	}
	if !out.quiet {
		cfg.Progress = m.Stderr
	}
	sum, err := run(ctx, cfg)
	if sum == nil {
		return err
	}
	if out.jsonFile != "" {
		if werr := writeJSON(out.jsonFile, sum); werr != nil {
			return werr
		}
	}
	if out.json {
		enc := json.NewEncoder(m.Stdout)
		enc.SetIndent("", "  ")
		if werr := enc.Encode(sum); werr != nil {
			return werr
		}
	} else {
		report(m.Stdout, sum)
	}
	if err != nil {
		return err
	}
	if !sum.AllAcked {
		return fmt.Errorf("%d ops were not acknowledged", sum.FailedOps+sum.AbandonedOps)
	}
	return nil
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

func (m *Main) raw(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("cdtload raw", flag.ContinueOnError)
	fs.SetOutput(m.Stderr)
	var cfg rawConfig
	fs.StringVar(&cfg.Dir, "dir", ".", "where the temporary database files go: put them on the server's disk (not a tmpfs)")
	fs.IntVar(&cfg.Rows, "rows", 100000, "rows inserted per measurement")
	txs := fs.String("tx", "500,2000,20000", "rows per transaction, comma-separated")
	fs.IntVar(&cfg.Repeat, "repeat", 3, "measurements per size (the median is reported, with min and max)")
	fs.BoolVar(&cfg.PKOnly, "pk-only", true, "also measure the largest transaction size with no secondary index")
	database := fs.String("database", "", "a postgres://… URL: measure the bare pgx baseline in this database instead (a scratch schema, dropped afterwards)")
	connsFlag := fs.String("conns", "1,2,4", "with --database: connections inserting at once, comma-separated")
	jsonOut := fs.Bool("json", false, "print the summary as JSON")
	jsonFile := fs.String("json-out", "", "also write the JSON summary to this file")
	quiet := fs.Bool("quiet", false, "no progress lines on stderr")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if *database != "" && !set["tx"] {
		*txs = "500" // the batch the server is compared at
	}
	var err error
	if cfg.Tx, err = positiveList("--tx", *txs); err != nil {
		return err
	}
	if cfg.Rows < 1 || cfg.Repeat < 1 {
		return errors.New("--rows and --repeat must be at least 1")
	}
	cfg.Seed = uint64(time.Now().UnixNano())
	if !*quiet {
		cfg.Progress = m.Stderr
	}
	var sum *rawSummary
	report := reportRaw
	if *database != "" {
		if !strings.HasPrefix(*database, "postgres://") && !strings.HasPrefix(*database, "postgresql://") {
			return errors.New("--database: a postgres://… URL")
		}
		pc := rawPGConfig{URL: *database, Rows: cfg.Rows, Tx: cfg.Tx, Repeat: cfg.Repeat, Seed: cfg.Seed, Progress: cfg.Progress}
		if pc.Conns, err = positiveList("--conns", *connsFlag); err != nil {
			return err
		}
		sum, err = runRawPG(ctx, pc)
		report = reportRawPG
	} else {
		sum, err = runRaw(ctx, cfg)
	}
	if err != nil {
		return err
	}
	if *jsonFile != "" {
		if err := writeJSON(*jsonFile, sum); err != nil {
			return err
		}
	}
	if *jsonOut {
		enc := json.NewEncoder(m.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(sum)
	}
	report(m.Stdout, sum)
	return nil
}

// pidList is the --server-pid flag: process ids, comma-separated.
type pidList []int

func (l *pidList) String() string {
	if l == nil || len(*l) == 0 {
		return ""
	}
	return strings.Trim(strings.ReplaceAll(fmt.Sprint([]int(*l)), " ", ","), "[]")
}

func (l *pidList) Set(s string) error {
	v, err := positiveList("--server-pid", s)
	*l = v
	return err
}

// positiveList parses a comma-separated list of positive numbers.
func positiveList(name, s string) ([]int, error) {
	var out []int
	for _, p := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(p))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("%s: %q is not a positive number", name, p)
		}
		out = append(out, n)
	}
	return out, nil
}
