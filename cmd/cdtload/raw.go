package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	_ "modernc.org/sqlite" // the driver the server uses
)

// The raw SQLite baseline: how fast modernc SQLite itself inserts rows shaped like an
// activity log, with the server's pragmas and no server around it. It is the ceiling the
// server's ingest is compared with.

// rawPragmas are the server's per-connection pragmas (store/sqlite/db.go, dsn): WAL,
// synchronous=FULL (every commit fsynced), the same page cache. Keep them in step.
var rawPragmas = []string{
	"busy_timeout(10000)",
	"foreign_keys(1)",
	"journal_mode(WAL)",
	"synchronous(FULL)",
	"cache_size(-16000)",
	"temp_store(MEMORY)",
}

// rawSchema is an activity log of 12 fields with its primary key and two secondary
// indexes: where and when (reports), and resident and kind (once-per-person groups),
// as in the server's logs table.
const rawSchema = `
CREATE TABLE logs (
	id           TEXT PRIMARY KEY,
	volunteer_id INTEGER NOT NULL,
	device_id    TEXT NOT NULL,
	hamlet_id    INTEGER NOT NULL,
	kind         TEXT NOT NULL,
	occurred_at  TEXT NOT NULL,
	citizen_ref  TEXT,
	age_band     TEXT,
	gender       TEXT,
	outcome      TEXT NOT NULL,
	note         TEXT,
	received_at  TEXT NOT NULL
);`

var rawIndexes = []string{
	`CREATE INDEX logs_hamlet_time ON logs(hamlet_id, occurred_at)`,
	`CREATE INDEX logs_group ON logs(citizen_ref, kind)`,
}

const rawInsert = `INSERT INTO logs (id, volunteer_id, device_id, hamlet_id, kind, occurred_at, citizen_ref, age_band, gender, outcome, note, received_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

type rawRow struct {
	ID          string `json:"id"`
	VolunteerID int64  `json:"volunteer_id"`
	DeviceID    string `json:"device_id"`
	HamletID    int64  `json:"hamlet_id"`
	Kind        string `json:"kind"`
	OccurredAt  string `json:"occurred_at"`
	CitizenRef  string `json:"citizen_ref"`
	AgeBand     string `json:"age_band"`
	Gender      string `json:"gender"`
	Outcome     string `json:"outcome"`
	Note        string `json:"note"`
	ReceivedAt  string `json:"received_at"`
}

// rawConfig is a baseline run.
type rawConfig struct {
	Dir      string // where the database files go: the server's disk
	Rows     int    // rows per measurement
	Tx       []int  // rows per transaction
	Repeat   int
	PKOnly   bool // also measure the largest transaction with no secondary index
	Seed     uint64
	Progress io.Writer
}

// rawResult is one transaction size's figures over the repeats.
type rawResult struct {
	TxRows     int     `json:"tx_rows"`
	Indexes    int     `json:"secondary_indexes"`
	Conns      int     `json:"conns,omitempty"` // raw-pg: connections inserting at once
	Rows       int     `json:"rows"`
	RowsPerSec spread  `json:"rows_per_sec"`
	WrittenKB  float64 `json:"written_kb_per_row,omitempty"` // median, from /proc/self/io write_bytes
	WALKB      float64 `json:"wal_kb_per_row,omitempty"`     // raw-pg: median WAL written per row (pg_current_wal_lsn)
}

// spread is a median with the runs around it.
type spread struct {
	Median float64   `json:"median"`
	Min    float64   `json:"min"`
	Max    float64   `json:"max"`
	Runs   []float64 `json:"runs"`
}

func spreadOf(v []float64) spread {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	return spread{Median: round(median(v), 0), Min: round(s[0], 0), Max: round(s[len(s)-1], 0), Runs: v}
}

func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if len(s)%2 == 0 {
		return (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return s[len(s)/2]
}

// rawSummary is what `cdtload raw --json` prints.
type rawSummary struct {
	Mode        string   `json:"mode"`
	Dir         string   `json:"dir"`
	Driver      string   `json:"driver"`
	Pragmas     []string `json:"pragmas"`
	FsyncPerSec float64  `json:"fsync_per_sec"` // appending 4 KiB writes, each fsynced, for a second
	// Raw500 is the median rate at 500 rows per transaction with both secondary indexes,
	// the figure the server is compared with (also in Results).
	Raw500 float64 `json:"rows_per_sec_500tx,omitempty"`
	// Raw500Conns is, for raw-pg, the connection count whose 500-row rate is Raw500 (the
	// best of those measured).
	Raw500Conns int         `json:"conns_500tx,omitempty"`
	Fields      int         `json:"fields"`
	BytesPerRow float64     `json:"json_bytes_per_row"`
	Results     []rawResult `json:"results"`
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// rawRows makes n rows like the load generator's logs: UUIDv7 ids made now (phones that
// sync promptly, so the primary key grows at its end), 32 volunteers, phones and hamlets,
// a random resident ref (scattered over its index), a Vietnamese note.
func rawRows(n int, seed uint64) []rawRow {
	rng := rand.New(rand.NewPCG(seed, 7))
	g := &generator{rng: rng}
	now := time.Now()
	// 32 phones, each with the random UUID it made at install (PROTOCOL.md §2).
	phoneIDs := make([]string, 32)
	for i := range phoneIDs {
		phoneIDs[i] = string(appendUUID(nil, g.uuid7()))
	}
	rows := make([]rawRow, n)
	for i := range rows {
		k := rng.IntN(len(kinds))
		var ref [32]byte
		for j := 0; j < 32; j += 8 {
			v := rng.Uint64()
			for b := 0; b < 8; b++ {
				ref[j+b] = byte(v >> (8 * b))
			}
		}
		hexRef := make([]byte, 64)
		for j, c := range ref {
			hexRef[2*j], hexRef[2*j+1] = hexdigits[c>>4], hexdigits[c&0xf]
		}
		note := kinds[k].notes[rng.IntN(len(kinds[k].notes))] + houseNotes[rng.IntN(len(houseNotes))]
		rows[i] = rawRow{
			ID:          string(appendUUID(nil, g.uuid7())),
			VolunteerID: 1000 + int64(rng.IntN(32)),
			DeviceID:    phoneIDs[rng.IntN(len(phoneIDs))],
			HamletID:    3000 + int64(rng.IntN(32)),
			Kind:        kinds[k].code,
			OccurredAt:  now.Add(-time.Duration(rng.Int64N(int64(10 * time.Hour)))).In(vnZone).Format(time.RFC3339),
			CitizenRef:  string(hexRef),
			AgeBand:     ageBands[rng.IntN(len(ageBands))],
			Gender:      genders[rng.IntN(len(genders))],
			Outcome:     "completed",
			Note:        note,
			ReceivedAt:  now.UTC().Format("2006-01-02T15:04:05.000Z"),
		}
	}
	return rows
}

func rawDSN(path string) string {
	q := url.Values{}
	for _, p := range rawPragmas {
		q.Add("_pragma", p)
	}
	q.Set("_txlock", "immediate")
	return "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + q.Encode()
}

// runRaw measures every transaction size Repeat times, each on a fresh database file.
func runRaw(ctx context.Context, cfg rawConfig) (*rawSummary, error) {
	dir, err := os.MkdirTemp(cfg.Dir, "cdtload-raw-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	fsyncs, err := fsyncRate(filepath.Join(dir, "fsync.probe"), time.Second)
	if err != nil {
		return nil, err
	}
	rows := rawRows(cfg.Rows, cfg.Seed)
	var jsonBytes int
	for _, r := range rows[:min(1000, len(rows))] {
		b, _ := json.Marshal(r)
		jsonBytes += len(b)
	}
	sum := &rawSummary{Mode: "raw", Dir: cfg.Dir, Driver: "modernc.org/sqlite", Pragmas: rawPragmas, Fields: 12, FsyncPerSec: round(fsyncs, 0),
		BytesPerRow: round(float64(jsonBytes)/float64(min(1000, len(rows))), 0)}
	type variant struct{ tx, indexes int }
	var vs []variant
	for _, tx := range cfg.Tx {
		vs = append(vs, variant{tx, len(rawIndexes)})
	}
	if cfg.PKOnly && len(cfg.Tx) > 0 {
		vs = append(vs, variant{cfg.Tx[len(cfg.Tx)-1], 0})
	}
	rates := make([][]float64, len(vs))
	written := make([][]float64, len(vs))
	// Repeats outermost, so a noisy moment of a shared machine spreads over every size.
	for r := 0; r < cfg.Repeat; r++ {
		for i, v := range vs {
			path := filepath.Join(dir, fmt.Sprintf("raw-%d-%d-%d.db", v.tx, v.indexes, r))
			rate, kb, err := rawOnce(ctx, path, rows, v.tx, v.indexes)
			if err != nil {
				return nil, err
			}
			for _, suffix := range []string{"", "-wal", "-shm"} {
				os.Remove(path + suffix)
			}
			rates[i] = append(rates[i], round(rate, 0))
			if kb > 0 {
				written[i] = append(written[i], kb)
			}
			if cfg.Progress != nil {
				fmt.Fprintf(cfg.Progress, "  raw: %6d rows/tx, %d secondary indexes: %8.0f rows/s\n", v.tx, v.indexes, rate)
			}
		}
	}
	for i, v := range vs {
		res := rawResult{TxRows: v.tx, Indexes: v.indexes, Rows: len(rows), RowsPerSec: spreadOf(rates[i])}
		if len(written[i]) > 0 {
			res.WrittenKB = round(median(written[i]), 2)
		}
		sum.Results = append(sum.Results, res)
		if v.tx == 500 && v.indexes == len(rawIndexes) {
			sum.Raw500 = res.RowsPerSec.Median
		}
	}
	return sum, nil
}

// rawOnce inserts rows into a fresh database in transactions of tx rows, with one
// prepared statement per transaction, and returns rows/s and kB written to storage per row.
func rawOnce(ctx context.Context, path string, rows []rawRow, tx, indexes int) (float64, float64, error) {
	db, err := sql.Open("sqlite", rawDSN(path))
	if err != nil {
		return 0, 0, err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if _, err := db.ExecContext(ctx, rawSchema); err != nil {
		return 0, 0, err
	}
	for _, ix := range rawIndexes[:indexes] {
		if _, err := db.ExecContext(ctx, ix); err != nil {
			return 0, 0, err
		}
	}
	w0 := writeBytes()
	start := time.Now()
	for i := 0; i < len(rows); i += tx {
		t, err := db.BeginTx(ctx, nil)
		if err != nil {
			return 0, 0, err
		}
		st, err := t.PrepareContext(ctx, rawInsert)
		if err != nil {
			t.Rollback()
			return 0, 0, err
		}
		for _, r := range rows[i:min(i+tx, len(rows))] {
			if _, err := st.ExecContext(ctx, r.ID, r.VolunteerID, r.DeviceID, r.HamletID, r.Kind, r.OccurredAt, r.CitizenRef,
				r.AgeBand, r.Gender, r.Outcome, r.Note, r.ReceivedAt); err != nil {
				t.Rollback()
				return 0, 0, err
			}
		}
		st.Close()
		if err := t.Commit(); err != nil {
			return 0, 0, err
		}
	}
	d := time.Since(start)
	var kb float64
	if w0 >= 0 {
		if w1 := writeBytes(); w1 > w0 {
			kb = float64(w1-w0) / 1024 / float64(len(rows))
		}
	}
	return float64(len(rows)) / d.Seconds(), kb, nil
}

// fsyncRate appends 4 KiB blocks to a new file, fsyncing each, for d: what a WAL commit
// costs at least on this disk.
func fsyncRate(path string, d time.Duration) (float64, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND|os.O_TRUNC, 0o600)
	if err != nil {
		return 0, err
	}
	defer os.Remove(path)
	defer f.Close()
	block := make([]byte, 4096)
	n := 0
	start := time.Now()
	for time.Since(start) < d {
		if _, err := f.Write(block); err != nil {
			return 0, err
		}
		if err := f.Sync(); err != nil {
			return 0, err
		}
		n++
	}
	return float64(n) / time.Since(start).Seconds(), nil
}

// writeBytes reads this process's bytes sent to storage (/proc/self/io), or -1.
func writeBytes() int64 {
	b, err := os.ReadFile("/proc/self/io")
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "write_bytes:"); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err == nil {
				return n
			}
		}
	}
	return -1
}

// reportRaw prints a baseline for people.
func reportRaw(w io.Writer, s *rawSummary) {
	fmt.Fprintf(w, "raw SQLite baseline (%s; %s) in %s\n", s.Driver, strings.Join(s.Pragmas, ", "), s.Dir)
	fmt.Fprintf(w, "  disk: %.0f appending 4 KiB fsyncs/s\n", s.FsyncPerSec)
	fmt.Fprintf(w, "  row: %d fields, %.0f bytes as JSON; primary key + secondary indexes as listed\n", s.Fields, s.BytesPerRow)
	for _, r := range s.Results {
		fmt.Fprintf(w, "  %6d rows/tx, %d secondary indexes: %8.0f rows/s (median of %d; min %.0f, max %.0f)",
			r.TxRows, r.Indexes, r.RowsPerSec.Median, len(r.RowsPerSec.Runs), r.RowsPerSec.Min, r.RowsPerSec.Max)
		if r.WrittenKB > 0 {
			fmt.Fprintf(w, "; %.1f kB written per row", r.WrittenKB)
		}
		fmt.Fprintln(w)
	}
}
