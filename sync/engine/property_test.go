package engine_test

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/cdtsync/cdtsync/schema"
	"github.com/cdtsync/cdtsync/store/postgres"
	"github.com/cdtsync/cdtsync/store/postgres/pgtest"
	"github.com/cdtsync/cdtsync/store/sqlite"
	"github.com/cdtsync/cdtsync/store/sqlite/sqlitetest"
	"github.com/cdtsync/cdtsync/store/storetest"
	"github.com/cdtsync/cdtsync/sync/engine"
	"github.com/cdtsync/cdtsync/sync/hlc"
)

// TestMain runs the sync properties at least 500 cases unless -rapid.checks or
// RAPID_CHECKS says otherwise.
func TestMain(m *testing.M) {
	flag.Parse()
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "rapid.checks" })
	if !set && os.Getenv("RAPID_CHECKS") == "" {
		flag.Set("rapid.checks", "500")
	}
	os.Exit(m.Run())
}

// event is one thing that happens in a generated history: a phone's operation or a
// coordinator's review.
type event struct {
	device int // index into devices; -1 for a review
	op     schema.Op
	review engine.Decision
	stamp  hlc.Timestamp // the review's HLC
	after  []int         // events that must be applied before this one (a review's causal past)
	// skip marks a review that failed in the order things happened (the log was not
	// complete, or deleted, when the coordinator would have made it): it never happened.
	skip bool
}

// world is the fixture the properties start every case from, on the store the tests run
// on (store/storetest).
type world struct {
	f       *sqlitetest.Fixture
	devices []schema.Actor
	offsets []time.Duration // each device's clock error
	cases   caseStore
}

// caseStore gives each case a store holding the fixture and nothing else, its engine, and
// a dump of its full state.
type caseStore interface {
	open(t *rapid.T, tmp string) (e *engine.Engine, dump func(t *rapid.T) string, close func())
	// openMany is open with n engines on the one store, each as if in its own server
	// process (PostgreSQL: its own connection pool).
	openMany(t *rapid.T, tmp string, n int) (es []*engine.Engine, dump func(t *rapid.T) string, close func())
}

func newWorld(t *testing.T) *world {
	var (
		f     *sqlitetest.Fixture
		cases caseStore
	)
	if storetest.Postgres() {
		url := pgtest.NewDatabase(t)
		var dbs []*postgres.DB
		for i := 0; i < 3; i++ {
			db, err := postgres.Open(context.Background(), url, postgres.Options{CompactEvery: -1})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			db.Now = func() time.Time { return now }
			dbs = append(dbs, db)
		}
		f = pgtest.MustFixture(t, dbs[0])
		cases = &pgCases{db: dbs[0], all: dbs}
	} else {
		dir := t.TempDir()
		db, err := sqlite.Open(context.Background(), dir, sqlite.Options{})
		if err != nil {
			t.Fatal(err)
		}
		f = sqlitetest.MustFixture(t, db)
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		cases = sqliteCases{dir: dir}
	}
	return &world{f: f, cases: cases,
		devices: []schema.Actor{f.HongA, f.HongB, f.Minh},
		offsets: []time.Duration{0, -72 * time.Hour, 2 * time.Hour}}
}

// open returns a fresh case: a store holding only the fixture.
func (w *world) open(t *rapid.T, tmp string) (*engine.Engine, func(t *rapid.T) string, func()) {
	return w.cases.open(t, tmp)
}

// sqliteCases copies the template database into a fresh directory for each case.
type sqliteCases struct{ dir string }

func (c sqliteCases) open(t *rapid.T, tmp string) (*engine.Engine, func(t *rapid.T) string, func()) {
	es, d, cl := c.openMany(t, tmp, 1)
	return es[0], d, cl
}

// openMany gives n engines over one SQLite store: one process, one writer.
func (c sqliteCases) openMany(t *rapid.T, tmp string, n int) ([]*engine.Engine, func(t *rapid.T) string, func()) {
	dir, err := os.MkdirTemp(tmp, "case")
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.Open(filepath.Join(c.dir, sqlite.FileName))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := os.Create(filepath.Join(dir, sqlite.FileName))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	dst.Close()
	db, err := sqlite.Open(context.Background(), dir, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	db.Now = func() time.Time { return now }
	var es []*engine.Engine
	for len(es) < n {
		es = append(es, engine.New(db, func() time.Time { return now }))
	}
	return es, func(t *rapid.T) string { return dump(t, db) }, func() { db.Close() }
}

// pgCases empties one PostgreSQL database of everything the previous case wrote (logs,
// history, ops, report aggregates) for each case: cases run one at a time.
type pgCases struct {
	db  *postgres.DB
	all []*postgres.DB // handles on the same database, as several server processes have
}

func (c *pgCases) open(t *rapid.T, tmp string) (*engine.Engine, func(t *rapid.T) string, func()) {
	ctx := context.Background()
	for _, q := range []string{`DELETE FROM log_history`, `DELETE FROM logs`, `DELETE FROM ops`, `DELETE FROM rpt_contrib`,
		`DELETE FROM rpt_vdays`, `DELETE FROM rpt_tdays`, `DELETE FROM rpt_cells`, `DELETE FROM rpt_cell_deltas`, `DELETE FROM rpt_paths`,
		`UPDATE devices SET clock_offset_ms = NULL, clock_checked_at = NULL, last_push_at = NULL, last_pull_at = NULL,
			pending_ops = NULL, oldest_pending_at = NULL`} {
		if _, err := c.db.Pool().Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	return engine.New(c.db, func() time.Time { return now }), func(t *rapid.T) string { return pgDump(t, c.db) }, func() {}
}

func (c *pgCases) openMany(t *rapid.T, tmp string, n int) ([]*engine.Engine, func(t *rapid.T) string, func()) {
	e, d, cl := c.open(t, tmp)
	es := []*engine.Engine{e}
	for i := 1; len(es) < n; i++ {
		es = append(es, engine.New(c.all[i%len(c.all)], func() time.Time { return now }))
	}
	return es, d, cl
}

// pgDump is dump's PostgreSQL twin: the same columns, the refs in hex.
func pgDump(t *rapid.T, db *postgres.DB) string {
	var b strings.Builder
	q := func(query string) {
		rows, err := db.Pool().Query(context.Background(), query)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		cols := rows.FieldDescriptions()
		for rows.Next() {
			vals, err := rows.Values()
			if err != nil {
				t.Fatal(err)
			}
			for i, c := range cols {
				fmt.Fprintf(&b, "%s=%v ", c.Name, vals[i])
			}
			b.WriteString("\n")
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
	}
	q(`SELECT id::text AS id, volunteer_id, team_id, device_id, hamlet_id, kind, occurred_at, occurred_ms, occurred_offset_ms,
		corrected_ms, day, encode(citizen_ref, 'hex') AS citizen_ref, encode(household_ref, 'hex') AS household_ref, age_band,
		gender, attendees, outcome, consent, note, lat, lon, accuracy_m, stamps, created_stamp, content_hlc, complete, deleted,
		deleted_hlc, review_status, review_note, reviewed_by, review_hlc, status, duplicate_of::text AS duplicate_of, had_conflict
		FROM logs ORDER BY id`)
	q(`SELECT log_id::text AS log_id, field, value, hlc, device_id, op_id, base FROM log_history ORDER BY log_id, field, hlc, device_id, op_id`)
	return b.String()
}

// genHistory draws a history: logs owned by Hồng (two phones) or Minh, created, edited,
// deleted and reviewed, with concurrent edits, equal HLCs, once-per-person duplicates,
// incomplete outcomes and some invalid operations.
func (w *world) genHistory(t *rapid.T) []event {
	f := w.f
	nLogs := rapid.IntRange(1, 6).Draw(t, "logs")
	ids := make([]string, nLogs)
	owner := make([]int, nLogs) // 0 = Hồng, 1 = Minh
	for i := range ids {
		ids[i] = fmt.Sprintf("01900000-0000-7000-8000-%012d", i)
		owner[i] = rapid.IntRange(0, 1).Draw(t, "owner")
	}
	base := now.Add(-time.Hour)
	hlcs := make([][]hlc.Timestamp, nLogs) // HLCs of the ops of each log so far, for bases
	touched := make([][]int, nLogs)        // events of each log so far
	kinds := []string{"vneid_level2", "digital_signature", "cashless_payment"}
	occurred := []time.Time{now.Add(-5 * time.Hour), now.Add(-4 * time.Hour), now.Add(-4 * time.Hour), now.Add(-26 * time.Hour)}
	var events []event
	n := rapid.IntRange(1, 30).Draw(t, "events")
	for i := 0; i < n; i++ {
		li := rapid.IntRange(0, nLogs-1).Draw(t, "log")
		what := rapid.IntRange(0, 19).Draw(t, "what")
		if what >= 17 && len(touched[li]) > 0 { // a review of what the coordinator has seen
			status := rapid.SampledFrom([]string{schema.StatusApproved, schema.StatusRejected}).Draw(t, "decision")
			events = append(events, event{device: -1,
				review: engine.Decision{ID: ids[li], Status: status, Note: "lý do " + status},
				stamp:  hlc.FromTime(base.Add(time.Duration(rapid.IntRange(0, 3600).Draw(t, "rt")) * time.Second)),
				after:  append([]int(nil), touched[li]...)})
			continue
		}
		dev := 2
		if owner[li] == 0 {
			dev = rapid.IntRange(0, 1).Draw(t, "phone")
		}
		// Few distinct HLC values, so equal HLCs from two phones happen.
		h := hlc.FromTime(base.Add(time.Duration(rapid.IntRange(1, 40).Draw(t, "h")) * 90 * time.Second))
		h += hlc.Timestamp(rapid.IntRange(0, 1).Draw(t, "counter"))
		var op schema.Op
		switch {
		case what < 2:
			op = del(ids[li], h)
		case what < 9 || len(touched[li]) == 0:
			kv := []any{"hamlet_id", f.SaDecHamlets[rapid.IntRange(0, 2).Draw(t, "hamlet")],
				"kind", rapid.SampledFrom(kinds).Draw(t, "kind"),
				"occurred_at", rapid.SampledFrom(occurred).Draw(t, "occurred").Add(w.offsets[dev]).In(vn).Format(time.RFC3339)}
			if rapid.Bool().Draw(t, "person") {
				kv = append(kv, "citizen_ref", ref(rapid.IntRange(0, 2).Draw(t, "ref")), "consent", true)
			}
			if rapid.IntRange(0, 4).Draw(t, "incomplete") == 0 {
				kv = append(kv, "outcome", schema.OutcomeIncomplete)
			}
			if rapid.IntRange(0, 9).Draw(t, "invalid") == 0 {
				kv = append(kv, "hamlet_id", f.TanDuongHamlets[0]) // another commune's hamlet: rejected
			}
			op = upsert(ids[li], h, fields(kv...))
		default:
			var kv []any
			for len(kv) == 0 {
				if rapid.Bool().Draw(t, "note") {
					kv = append(kv, "note", rapid.SampledFrom([]string{"đã xong", "hẹn lại", "bà cụ 80 tuổi", strings.Repeat("x", 501)}).Draw(t, "text"))
				}
				if rapid.IntRange(0, 3).Draw(t, "ekind") == 0 {
					kv = append(kv, "kind", rapid.SampledFrom(kinds).Draw(t, "kind"))
				}
				switch rapid.IntRange(0, 5).Draw(t, "eref") {
				case 0:
					kv = append(kv, "citizen_ref", ref(rapid.IntRange(0, 2).Draw(t, "ref")), "consent", true)
				case 1:
					kv = append(kv, "consent", false)
				}
				if rapid.IntRange(0, 3).Draw(t, "eoutcome") == 0 {
					kv = append(kv, "outcome", rapid.SampledFrom([]string{schema.OutcomeCompleted, schema.OutcomeIncomplete}).Draw(t, "outcome"))
				}
				if rapid.IntRange(0, 3).Draw(t, "eocc") == 0 {
					kv = append(kv, "occurred_at", rapid.SampledFrom(occurred).Draw(t, "occurred").Add(w.offsets[dev]).In(vn).Format(time.RFC3339))
				}
				if rapid.IntRange(0, 4).Draw(t, "ehamlet") == 0 {
					kv = append(kv, "hamlet_id", f.SaDecHamlets[rapid.IntRange(0, 2).Draw(t, "hamlet")])
				}
			}
			op = upsert(ids[li], h, fields(kv...))
			// The base: nothing, or a version the phone had seen.
			var seen []hlc.Timestamp
			for _, x := range hlcs[li] {
				if x < h {
					seen = append(seen, x)
				}
			}
			if len(seen) > 0 && rapid.Bool().Draw(t, "hasbase") {
				op.Base = rapid.SampledFrom(seen).Draw(t, "base").String()
			}
		}
		hlcs[li] = append(hlcs[li], h)
		touched[li] = append(touched[li], len(events))
		events = append(events, event{device: dev, op: op})
	}
	return events
}

// batch is one push (ops of one device) or one review.
type batch struct {
	events []int
}

// apply applies batches in order and returns every op result of the batches. A review
// that fails is marked skip.
func (w *world) apply(t *rapid.T, e *engine.Engine, events []event, batches []batch) []schema.OpResult {
	ctx := context.Background()
	var results []schema.OpResult
	for _, b := range batches {
		first := &events[b.events[0]]
		if first.device < 0 {
			if first.skip {
				continue
			}
			rs, err := e.ReviewAt(ctx, w.f.CoordSaDec, []engine.Decision{first.review}, first.stamp)
			if err != nil {
				t.Fatalf("review: %v", err)
			}
			if !rs[0].OK {
				first.skip = true
			}
			continue
		}
		ops := make([]schema.Op, len(b.events))
		for i, ei := range b.events {
			ops[i] = events[ei].op
		}
		dev := first.device
		resp, err := e.Push(ctx, w.devices[dev], schema.PushRequest{DeviceTime: now.Add(w.offsets[dev]).Format(time.RFC3339), Ops: ops})
		if err != nil {
			t.Fatalf("push: %v", err)
		}
		results = append(results, resp.Results...)
	}
	return results
}

// inOrder is the reference: every event alone, in the order it happened.
func inOrder(events []event) []batch {
	bs := make([]batch, len(events))
	for i := range events {
		bs[i] = batch{events: []int{i}}
	}
	return bs
}

// shuffled draws another order of the same events, respecting only reviews' causal past,
// grouped into random batches per device, with random re-sends of earlier batches.
func shuffled(t *rapid.T, events []event) []batch {
	order := rapid.Permutation(func() []int {
		o := make([]int, len(events))
		for i := range o {
			o[i] = i
		}
		return o
	}()).Draw(t, "order")
	// Move each review after everything it depends on.
	for changed := true; changed; {
		changed = false
		pos := make(map[int]int, len(order))
		for p, ei := range order {
			pos[ei] = p
		}
		for p, ei := range order {
			last := -1
			for _, d := range events[ei].after {
				if pos[d] > last {
					last = pos[d]
				}
			}
			if last > p {
				order = append(order[:p], order[p+1:]...)
				order = append(order[:last], append([]int{ei}, order[last:]...)...)
				changed = true
				break
			}
		}
	}
	var bs []batch
	for i := 0; i < len(order); {
		ev := events[order[i]]
		b := batch{events: []int{order[i]}}
		i++
		if ev.device >= 0 {
			size := rapid.IntRange(1, 6).Draw(t, "batch")
			for i < len(order) && len(b.events) < size && events[order[i]].device == ev.device {
				b.events = append(b.events, order[i])
				i++
			}
		}
		bs = append(bs, b)
		// Sometimes the response was lost: the phone sends an earlier batch again, whole or in part.
		if len(bs) > 0 && rapid.IntRange(0, 3).Draw(t, "resend") == 0 {
			again := bs[rapid.IntRange(0, len(bs)-1).Draw(t, "which")]
			if events[again.events[0]].device >= 0 {
				cut := rapid.IntRange(1, len(again.events)).Draw(t, "cut")
				bs = append(bs, batch{events: again.events[:cut]})
			}
		}
	}
	return bs
}

// dump is the full state of every log and its history, minus what only says when the
// server happened to receive something (sequence numbers).
func dump(t *rapid.T, db *sqlite.DB) string {
	conn, err := sql.Open("sqlite", "file:"+db.Path()+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var b strings.Builder
	q := func(query string) {
		rows, err := conn.Query(query)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		cols, _ := rows.Columns()
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		for rows.Next() {
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			for i, c := range cols {
				fmt.Fprintf(&b, "%s=%v ", c, vals[i])
			}
			b.WriteString("\n")
		}
	}
	q(`SELECT id, volunteer_id, team_id, device_id, hamlet_id, kind, occurred_at, occurred_ms, occurred_offset_ms,
		corrected_ms, day, citizen_ref, household_ref, age_band, gender, attendees, outcome, consent, note, lat, lon,
		accuracy_m, stamps, created_stamp, content_hlc, complete, deleted, deleted_hlc, review_status, review_note,
		reviewed_by, review_hlc, status, duplicate_of, had_conflict FROM logs ORDER BY id`)
	q(`SELECT * FROM log_history ORDER BY log_id, field, hlc, device_id, op_id`)
	return b.String()
}

// TestConvergence: the same operations, applied in any order and any grouping into
// batches, with re-sends, give the same full state as applying them one by one in the
// order they happened. Re-sending everything again changes nothing and is answered
// already_applied or with the first rejection.
func TestConvergence(t *testing.T) {
	w := newWorld(t)
	tmp := t.TempDir()
	rapid.Check(t, func(t *rapid.T) {
		events := w.genHistory(t)

		refE, refDump, refClose := w.open(t, tmp)
		defer refClose()
		w.apply(t, refE, events, inOrder(events))
		want := refDump(t)

		e, dumpState, closeCase := w.open(t, tmp)
		defer closeCase()
		batches := shuffled(t, events)
		first := w.apply(t, e, events, batches)
		if got := dumpState(t); got != want {
			t.Fatalf("state differs from the in-order state\n--- in order:\n%s--- shuffled:\n%s", want, got)
		}

		// Exactly once: everything again, in the same batches.
		again := w.apply(t, e, events, batches)
		for i, r := range again {
			if r.Status == schema.ResultApplied {
				t.Fatalf("re-sent op %s applied again", r.OpID)
			}
			if first[i].Status == schema.ResultRejected && (r.Status != schema.ResultRejected || r.Code != first[i].Code) {
				t.Fatalf("re-sent rejected op %s: %s %s, first %s", r.OpID, r.Status, r.Code, first[i].Code)
			}
		}
		if got := dumpState(t); got != want {
			t.Fatalf("re-sending changed the state")
		}
	})
}

// TestConvergenceConcurrent: the phones' operations of a history (reviews aside), in
// random batches with re-sends, pushed at once through three engines — three server
// processes, each with its own connection pool on PostgreSQL — some batches through two of
// them at the same moment, give the state of applying the operations one by one in the
// order they happened. Nothing is lost or applied twice: re-sending everything answers
// already_applied or the first rejection.
//
// On SQLite (one process, one writer) it adds little to TestConvergence and runs at most
// 100 cases.
func TestConvergenceConcurrent(t *testing.T) {
	if !storetest.Postgres() {
		if f := flag.Lookup("rapid.checks"); f != nil && f.Value.String() != "" {
			if was := f.Value.String(); func() bool { n, err := strconv.Atoi(was); return err == nil && n > 100 }() {
				flag.Set("rapid.checks", "100")
				defer flag.Set("rapid.checks", was)
			}
		}
	}
	w := newWorld(t)
	tmp := t.TempDir()
	rapid.Check(t, func(t *rapid.T) {
		var events []event
		for _, ev := range w.genHistory(t) {
			if ev.device >= 0 {
				events = append(events, ev)
			}
		}
		if len(events) == 0 {
			return
		}
		refE, refDump, refClose := w.open(t, tmp)
		w.apply(t, refE, events, inOrder(events))
		want := refDump(t)
		refClose()

		es, dumpState, closeCase := w.cases.openMany(t, tmp, 3)
		defer closeCase()
		batches := shuffled(t, events)
		work := make([][]batch, len(es))
		for _, b := range batches {
			i := rapid.IntRange(0, len(es)-1).Draw(t, "process")
			work[i] = append(work[i], b)
			if rapid.IntRange(0, 3).Draw(t, "twice") == 0 { // the phone timed out and sent it again elsewhere
				j := (i + 1 + rapid.IntRange(0, len(es)-2).Draw(t, "other")) % len(es)
				work[j] = append(work[j], b)
			}
		}
		var wg sync.WaitGroup
		errs := make([]error, len(es))
		for i := range es {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				for _, b := range work[i] {
					ops := make([]schema.Op, len(b.events))
					for k, ei := range b.events {
						ops[k] = events[ei].op
					}
					dev := events[b.events[0]].device
					if _, err := es[i].Push(context.Background(), w.devices[dev],
						schema.PushRequest{DeviceTime: now.Add(w.offsets[dev]).Format(time.RFC3339), Ops: ops}); err != nil {
						errs[i] = err
						return
					}
				}
			}(i)
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				t.Fatalf("push: %v", err)
			}
		}
		if got := dumpState(t); got != want {
			t.Fatalf("state differs from the in-order state\n--- in order:\n%s--- concurrent:\n%s", want, got)
		}
		for _, r := range w.apply(t, es[0], events, batches) {
			if r.Status == schema.ResultApplied {
				t.Fatalf("re-sent op %s applied again", r.OpID)
			}
		}
		if got := dumpState(t); got != want {
			t.Fatalf("re-sending changed the state")
		}
	})
}
