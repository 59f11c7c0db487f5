package sqlite_test

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/cdtsync/cdtsync/schema"
	"github.com/cdtsync/cdtsync/store/sqlite/sqlitetest"
	"github.com/cdtsync/cdtsync/sync/engine"
	"github.com/cdtsync/cdtsync/sync/hlc"
)

// phone is one volunteer's device in the operations tests: it records new logs (some of
// them once-per-person kinds for a small population, so duplicates happen), edits and
// deletes its own, and remembers every push and its answer.
type phone struct {
	actor   schema.Actor
	hamlets []int64
	rng     *rand.Rand

	mu     sync.Mutex
	logs   []string          // its logs' ids
	bases  map[string]string // log id → its last HLC
	pushes []pushRecord
}

// pushRecord is one push and what came of it.
type pushRecord struct {
	ops      []schema.Op
	acked    bool
	ackedAt  time.Time
	started  time.Time
	failCode string
}

func newPhone(a schema.Actor, hamlets []int64, seed uint64) *phone {
	return &phone{actor: a, hamlets: hamlets, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b9)), bases: map[string]string{}}
}

// ref is a keyed-hash-shaped citizen ref for person n.
func ref(n int) string {
	h := sha256.Sum256([]byte(fmt.Sprintf("citizen:%012d", n)))
	return hex.EncodeToString(h[:])
}

func rawFields(m map[string]any) map[string]json.RawMessage {
	out := map[string]json.RawMessage{}
	for k, v := range m {
		b, err := json.Marshal(v)
		if err != nil {
			panic(err)
		}
		out[k] = b
	}
	return out
}

var opKinds = []string{"vneid_install", "vneid_level2", "cashless_payment", "digital_signature", "online_public_service", "digital_skills"}

// batch makes n ops: mostly creations, some edits and deletes of the phone's own logs.
func (p *phone) batch(n int, now time.Time) []schema.Op {
	p.mu.Lock()
	defer p.mu.Unlock()
	ops := make([]schema.Op, 0, n)
	touched := map[string]bool{}
	for i := 0; i < n; i++ {
		stamp := hlc.FromTime(now).String()
		op := schema.Op{OpID: uuid.Must(uuid.NewV7()).String(), HLC: stamp}
		switch r := p.rng.IntN(20); {
		case r < 2 && len(p.logs) > 0: // an edit
			id := p.logs[p.rng.IntN(len(p.logs))]
			if touched[id] {
				continue
			}
			op.Type, op.ID, op.Base = schema.OpUpsert, id, p.bases[id]
			op.Fields = rawFields(map[string]any{"note": fmt.Sprintf("Đã sửa lần %d, hộ ông Tư", p.rng.IntN(1000)),
				"attendees": 1 + p.rng.IntN(3)})
		case r < 3 && len(p.logs) > 0: // a delete
			id := p.logs[p.rng.IntN(len(p.logs))]
			if touched[id] {
				continue
			}
			op.Type, op.ID = schema.OpDelete, id
		default:
			op.Type, op.ID = schema.OpUpsert, uuid.Must(uuid.NewV7()).String()
			f := map[string]any{
				"hamlet_id":   p.hamlets[p.rng.IntN(len(p.hamlets))],
				"kind":        opKinds[p.rng.IntN(len(opKinds))],
				"occurred_at": now.Add(-time.Duration(p.rng.IntN(20*24)) * time.Hour).Format(time.RFC3339),
				"note":        "Hướng dẫn bà Sáu cài VNeID",
			}
			if p.rng.IntN(3) > 0 {
				f["citizen_ref"], f["consent"] = ref(p.rng.IntN(300)), true
			}
			if p.rng.IntN(4) == 0 {
				f["outcome"] = "incomplete"
			}
			op.Fields = rawFields(f)
			p.logs = append(p.logs, op.ID)
		}
		touched[op.ID] = true
		p.bases[op.ID] = stamp
		ops = append(ops, op)
		now = now.Add(time.Millisecond)
	}
	return ops
}

// push makes a batch of n ops and pushes it once through the engine.
func (p *phone) push(ctx context.Context, e *engine.Engine, n int) pushRecord {
	now := time.Now()
	rec := pushRecord{ops: p.batch(n, now), started: now}
	resp, err := e.Push(ctx, p.actor, schema.PushRequest{DeviceTime: now.Format(time.RFC3339Nano), Ops: rec.ops})
	if err != nil {
		rec.failCode = schema.ErrorCode(err)
	} else if len(resp.Results) == len(rec.ops) {
		rec.acked, rec.ackedAt = true, time.Now()
	}
	p.mu.Lock()
	p.pushes = append(p.pushes, rec)
	p.mu.Unlock()
	return rec
}

// fleet is the fixture's four phones.
func fleet(f *sqlitetest.Fixture) []*phone {
	return []*phone{
		newPhone(f.HongA, f.SaDecHamlets, 1), newPhone(f.HongB, f.SaDecHamlets, 2),
		newPhone(f.Minh, f.SaDecHamlets, 3), newPhone(f.Mai, f.TanDuongHamlets, 4),
	}
}

// runFleet has every phone push batches of 1–60 ops until stop is closed.
func runFleet(ctx context.Context, e *engine.Engine, phones []*phone, stop <-chan struct{}) *sync.WaitGroup {
	var wg sync.WaitGroup
	for _, p := range phones {
		wg.Add(1)
		go func(p *phone) {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				p.push(ctx, e, 1+p.rng.IntN(60))
			}
		}(p)
	}
	return &wg
}

// tableDump is every row of every table, as text, in a stable order.
type tableDump map[string][]string

type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// dumpTables reads every table of the database behind q (skip: tables left out).
func dumpTables(t testing.TB, q queryer, skip ...string) tableDump {
	t.Helper()
	ctx := context.Background()
	rows, err := q.QueryContext(ctx, `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name`)
	if err != nil {
		t.Fatal(err)
	}
	var tables []string
	for rows.Next() {
		var n string
		rows.Scan(&n)
		tables = append(tables, n)
	}
	rows.Close()
	out := tableDump{}
	for _, tbl := range tables {
		if contains(skip, tbl) {
			continue
		}
		out[tbl] = dumpQuery(t, q, `SELECT * FROM `+tbl)
	}
	return out
}

func contains(xs []string, s string) bool {
	for _, x := range xs {
		if x == s {
			return true
		}
	}
	return false
}

// dumpQuery runs a query and returns its rows as sorted text lines.
func dumpQuery(t testing.TB, q queryer, query string, args ...any) []string {
	t.Helper()
	rows, err := q.QueryContext(context.Background(), query, args...)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var lines []string
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		parts := make([]string, len(vals))
		for i, v := range vals {
			if b, ok := v.([]byte); ok {
				parts[i] = "x'" + hex.EncodeToString(b) + "'"
			} else {
				parts[i] = fmt.Sprintf("%#v", v)
			}
		}
		lines = append(lines, strings.Join(parts, "|"))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	sort.Strings(lines)
	return lines
}

// diffDumps describes how two dumps differ (empty: equal).
func diffDumps(want, got tableDump) string {
	var b strings.Builder
	names := map[string]bool{}
	for n := range want {
		names[n] = true
	}
	for n := range got {
		names[n] = true
	}
	var sorted []string
	for n := range names {
		sorted = append(sorted, n)
	}
	sort.Strings(sorted)
	for _, n := range sorted {
		w, okW := want[n]
		g, okG := got[n]
		if !okW || !okG {
			fmt.Fprintf(&b, "table %s: in want %v, in got %v\n", n, okW, okG)
			continue
		}
		wm, gm := map[string]int{}, map[string]int{}
		for _, l := range w {
			wm[l]++
		}
		for _, l := range g {
			gm[l]++
		}
		shown := 0
		for l, c := range wm {
			if gm[l] != c && shown < 3 {
				fmt.Fprintf(&b, "table %s: want row ×%d, got ×%d: %.300s\n", n, c, gm[l], l)
				shown++
			}
		}
		for l, c := range gm {
			if wm[l] != c && shown < 6 {
				fmt.Fprintf(&b, "table %s: got row ×%d, want ×%d: %.300s\n", n, c, wm[l], l)
				shown++
			}
		}
		if len(w) != len(g) {
			fmt.Fprintf(&b, "table %s: %d rows, want %d\n", n, len(g), len(w))
		}
	}
	return b.String()
}

// withoutMeta drops the meta keys a backup or restore sets from a dump.
func withoutMeta(d tableDump) tableDump {
	out := tableDump{}
	for k, v := range d {
		out[k] = v
	}
	var keep []string
	for _, l := range d["meta"] {
		key := strings.SplitN(l, "|", 2)[0]
		switch strings.Trim(key, `"`) {
		case "epoch", "backup_of", "backup_seq", "backup_at", "restored_from", "restored_seq", "restored_at":
			continue
		}
		keep = append(keep, l)
	}
	out["meta"] = keep
	return out
}
