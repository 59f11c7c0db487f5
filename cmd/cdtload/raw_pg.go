package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cdtsync/cdtsync/schema"
	"github.com/cdtsync/cdtsync/sync/engine"
	"github.com/cdtsync/cdtsync/sync/hlc"
	"github.com/cdtsync/cdtsync/sync/merge"
)

// The bare pgx baseline (`cdtload raw --database postgres://…`): how fast PostgreSQL itself
// takes idempotent batched inserts of the rows the PostgreSQL store writes for new logs —
// the store's logs table (store/postgres/migrations/0001_init.sql) with its primary key and
// secondary indexes, one INSERT … SELECT FROM unnest(…) ON CONFLICT (id) DO NOTHING per
// batch, each batch its own transaction, synchronous_commit on — with no server around it.
// It is the ceiling the PostgreSQL-backed server's ingest is compared with.

// rawPGTable is store/postgres's logs table without its foreign keys (the baseline has no
// users, teams or units), with tx and seq given as the store gives them (the writing
// transaction's id, a sequence number). Keep it in step with 0001_init.sql.
const rawPGTable = `
CREATE SEQUENCE change_seq;
CREATE TABLE logs (
	id                 uuid PRIMARY KEY,
	volunteer_id       bigint NOT NULL,
	team_id            bigint NOT NULL,
	device_id          text,
	hamlet_id          bigint,
	kind               text,
	occurred_at        text,
	occurred_ms        bigint,
	occurred_offset_ms bigint NOT NULL DEFAULT 0,
	corrected_ms       bigint,
	day                integer,
	citizen_ref        bytea CHECK (citizen_ref IS NULL OR length(citizen_ref) = 32),
	household_ref      bytea CHECK (household_ref IS NULL OR length(household_ref) = 32),
	age_band           text CHECK (age_band IS NULL OR age_band IN ('under_18', '18_35', '36_59', '60_plus')),
	gender             text CHECK (gender IS NULL OR gender IN ('female', 'male', 'other')),
	attendees          bigint CHECK (attendees IS NULL OR attendees >= 1),
	outcome            text CHECK (outcome IS NULL OR outcome IN ('completed', 'incomplete')),
	consent            boolean,
	note               text,
	lat                double precision,
	lon                double precision,
	accuracy_m         double precision,
	stamps             text NOT NULL DEFAULT '',
	created_stamp      text NOT NULL DEFAULT '',
	content_hlc        bigint NOT NULL DEFAULT 0,
	complete           boolean NOT NULL DEFAULT false,
	deleted            boolean NOT NULL DEFAULT false,
	deleted_hlc        bigint NOT NULL DEFAULT 0,
	review_status      text,
	review_note        text,
	reviewed_by        bigint,
	reviewed_at        timestamptz,
	review_hlc         bigint NOT NULL DEFAULT 0,
	status             text NOT NULL DEFAULT 'pending',
	duplicate_of       uuid,
	had_conflict       boolean NOT NULL DEFAULT false,
	received_at        timestamptz NOT NULL,
	tx                 bigint NOT NULL,
	seq                bigint NOT NULL,
	CHECK ((citizen_ref IS NULL AND household_ref IS NULL) OR consent),
	CHECK (NOT complete OR (hamlet_id IS NOT NULL AND kind IS NOT NULL AND occurred_at IS NOT NULL)),
	CHECK ((status = 'duplicate') = (duplicate_of IS NOT NULL))
);`

// rawPGIndexes are the logs table's secondary indexes in the store.
var rawPGIndexes = []string{
	`CREATE INDEX logs_volunteer_pos ON logs(volunteer_id, tx, seq)`,
	`CREATE INDEX logs_hamlet_day ON logs(hamlet_id, day) WHERE complete AND NOT deleted`,
	`CREATE INDEX logs_group ON logs(citizen_ref, kind) WHERE citizen_ref IS NOT NULL`,
	`CREATE INDEX logs_review ON logs(corrected_ms DESC, id DESC) WHERE complete AND NOT deleted`,
	`CREATE INDEX logs_duplicate_of ON logs(duplicate_of) WHERE duplicate_of IS NOT NULL`,
}

// rawPGInsert inserts a batch given as one array per column; a row whose id is already
// there is left alone (a resent batch inserts nothing).
const rawPGInsert = `INSERT INTO logs (id, volunteer_id, team_id, device_id, hamlet_id, kind, occurred_at, occurred_ms,
	corrected_ms, day, citizen_ref, age_band, gender, outcome, consent, note, stamps, created_stamp, content_hlc, complete,
	received_at, tx, seq)
SELECT r.*, pg_current_xact_id()::text::bigint, nextval('change_seq')
FROM unnest($1::uuid[], $2::bigint[], $3::bigint[], $4::text[], $5::bigint[], $6::text[], $7::text[], $8::bigint[],
	$9::bigint[], $10::integer[], $11::bytea[], $12::text[], $13::text[], $14::text[], $15::boolean[], $16::text[],
	$17::text[], $18::text[], $19::bigint[], $20::boolean[], $21::timestamptz[]) AS r
ON CONFLICT (id) DO NOTHING`

// pgBatch is one batch's column arrays.
type pgBatch struct {
	id, device, kind, occurredAt, ageBand, gender, outcome, note, stamps, created []string
	volunteer, team, hamlet, occurredMS, correctedMS, contentHLC                  []int64
	day                                                                           []int32
	ref                                                                           [][]byte
	consent, complete                                                             []bool
	receivedAt                                                                    []time.Time
}

func (b *pgBatch) args() []any {
	return []any{b.id, b.volunteer, b.team, b.device, b.hamlet, b.kind, b.occurredAt, b.occurredMS, b.correctedMS, b.day,
		b.ref, b.ageBand, b.gender, b.outcome, b.consent, b.note, b.stamps, b.created, b.contentHLC, b.complete, b.receivedAt}
}

// pgBatches turns rows (the SQLite baseline's) into the store's rows, tx rows a batch.
func pgBatches(rows []rawRow, tx int) []*pgBatch {
	var out []*pgBatch
	for i := 0; i < len(rows); i += tx {
		part := rows[i:min(i+tx, len(rows))]
		b := &pgBatch{}
		for _, r := range part {
			occ, _ := time.Parse(time.RFC3339, r.OccurredAt)
			ms := occ.UnixMilli()
			ref, _ := hex.DecodeString(r.CitizenRef)
			recv, _ := time.Parse("2006-01-02T15:04:05.000Z", r.ReceivedAt)
			// Every field the phone set carries the stamp of the op that created the log.
			st := merge.Stamp{HLC: hlc.FromTime(recv), Device: r.DeviceID, OpID: r.ID}
			var stamps [schema.NumFields]merge.Stamp
			for _, f := range []schema.Field{schema.FieldHamletID, schema.FieldKind, schema.FieldOccurredAt, schema.FieldCitizenRef,
				schema.FieldAgeBand, schema.FieldGender, schema.FieldOutcome, schema.FieldConsent, schema.FieldNote} {
				stamps[f] = st
			}
			b.id = append(b.id, r.ID)
			b.volunteer = append(b.volunteer, r.VolunteerID)
			b.team = append(b.team, 1)
			b.device = append(b.device, r.DeviceID)
			b.hamlet = append(b.hamlet, r.HamletID)
			b.kind = append(b.kind, r.Kind)
			b.occurredAt = append(b.occurredAt, r.OccurredAt)
			b.occurredMS = append(b.occurredMS, ms)
			b.correctedMS = append(b.correctedMS, ms)
			b.day = append(b.day, int32(engine.VietnamDay(ms)))
			b.ref = append(b.ref, ref)
			b.ageBand = append(b.ageBand, r.AgeBand)
			b.gender = append(b.gender, r.Gender)
			b.outcome = append(b.outcome, r.Outcome)
			b.consent = append(b.consent, true)
			b.note = append(b.note, r.Note)
			b.stamps = append(b.stamps, merge.EncodeStamps(&stamps))
			b.created = append(b.created, merge.EncodeStamp(st))
			b.contentHLC = append(b.contentHLC, int64(st.HLC))
			b.complete = append(b.complete, true)
			b.receivedAt = append(b.receivedAt, recv)
		}
		out = append(out, b)
	}
	return out
}

// rawPGConfig is a bare pgx baseline run.
type rawPGConfig struct {
	URL      string // postgres://…: the database the baseline's scratch schema goes in
	Rows     int    // rows per measurement
	Tx       []int  // rows per batch (one transaction each)
	Conns    []int  // connections inserting at once
	Repeat   int
	Seed     uint64
	Progress io.Writer
}

// redactURL drops a password from a database URL for printing.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "postgres://…"
	}
	if u.User != nil {
		if _, ok := u.User.Password(); ok {
			u.User = url.UserPassword(u.User.Username(), "xxxxx")
		}
	}
	return u.String()
}

// runRawPG measures every batch size and connection count Repeat times, each on a fresh
// table in a scratch schema of its own, dropped at the end.
func runRawPG(ctx context.Context, cfg rawPGConfig) (*rawSummary, error) {
	conns := make([]*pgx.Conn, 0, maxOf(cfg.Conns))
	defer func() {
		for _, c := range conns {
			c.Close(context.Background())
		}
	}()
	var suffix [4]byte
	rand.Read(suffix[:])
	schemaName := "cdtload_raw_" + hex.EncodeToString(suffix[:])
	for len(conns) < maxOf(cfg.Conns) {
		c, err := pgx.Connect(ctx, cfg.URL)
		if err != nil {
			return nil, fmt.Errorf("PostgreSQL: %w", err)
		}
		conns = append(conns, c)
		// The store's sessions: synchronous_commit on (it refuses off), its own schema.
		if _, err := c.Exec(ctx, `SET synchronous_commit = on`); err != nil {
			return nil, err
		}
		if _, err := c.Exec(ctx, `SET search_path = `+schemaName); err != nil {
			return nil, err
		}
	}
	admin := conns[0]
	defer admin.Exec(context.Background(), `DROP SCHEMA IF EXISTS `+schemaName+` CASCADE`)
	var version, fsync string
	if err := admin.QueryRow(ctx, `SELECT current_setting('server_version'), current_setting('fsync')`).Scan(&version, &fsync); err != nil {
		return nil, err
	}

	rows := rawRows(cfg.Rows, cfg.Seed)
	var jsonBytes int
	for _, r := range rows[:min(1000, len(rows))] {
		jsonBytes += len(mustJSON(r))
	}
	sum := &rawSummary{Mode: "raw-pg", Dir: redactURL(cfg.URL), Driver: "github.com/jackc/pgx/v5, PostgreSQL " + version,
		Pragmas: []string{"synchronous_commit=on", "fsync=" + fsync, "INSERT … SELECT FROM unnest(…) ON CONFLICT (id) DO NOTHING"},
		Fields:  12, BytesPerRow: round(float64(jsonBytes)/float64(min(1000, len(rows))), 0)}
	type variant struct{ tx, conns int }
	var vs []variant
	for _, tx := range cfg.Tx {
		for _, c := range cfg.Conns {
			vs = append(vs, variant{tx, c})
		}
	}
	batches := map[int][]*pgBatch{}
	for _, tx := range cfg.Tx {
		batches[tx] = pgBatches(rows, tx)
	}
	rates := make([][]float64, len(vs))
	wal := make([][]float64, len(vs))
	// Repeats outermost, so a noisy moment of a shared machine spreads over every variant.
	for r := 0; r < cfg.Repeat; r++ {
		for i, v := range vs {
			if err := rawPGReset(ctx, admin, schemaName); err != nil {
				return nil, err
			}
			var lsn0 string
			if err := admin.QueryRow(ctx, `SELECT pg_current_wal_lsn()::text`).Scan(&lsn0); err != nil {
				return nil, err
			}
			rate, err := rawPGOnce(ctx, conns[:v.conns], batches[v.tx])
			if err != nil {
				return nil, err
			}
			var walBytes float64
			if err := admin.QueryRow(ctx, `SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), $1::pg_lsn)::float8`, lsn0).Scan(&walBytes); err != nil {
				return nil, err
			}
			wal[i] = append(wal[i], walBytes/1024/float64(len(rows)))
			var n int
			if err := admin.QueryRow(ctx, `SELECT count(*) FROM logs`).Scan(&n); err != nil {
				return nil, err
			}
			if n != len(rows) {
				return nil, fmt.Errorf("raw-pg: %d rows inserted, %d in the table", len(rows), n)
			}
			rates[i] = append(rates[i], round(rate, 0))
			if cfg.Progress != nil {
				fmt.Fprintf(cfg.Progress, "  raw-pg: %6d rows/batch, %2d connections: %8.0f rows/s\n", v.tx, v.conns, rate)
			}
		}
	}
	for i, v := range vs {
		res := rawResult{TxRows: v.tx, Indexes: len(rawPGIndexes), Conns: v.conns, Rows: len(rows), RowsPerSec: spreadOf(rates[i]),
			WALKB: round(median(wal[i]), 2)}
		sum.Results = append(sum.Results, res)
		// The ceiling a server is compared with: the best 500-row rate over the connection
		// counts measured.
		if v.tx == 500 && res.RowsPerSec.Median > sum.Raw500 {
			sum.Raw500, sum.Raw500Conns = res.RowsPerSec.Median, v.conns
		}
	}
	return sum, nil
}

func maxOf(v []int) int {
	m := 0
	for _, x := range v {
		m = max(m, x)
	}
	return m
}

// rawPGReset makes the scratch schema anew with an empty logs table and its indexes.
func rawPGReset(ctx context.Context, c *pgx.Conn, schemaName string) error {
	stmts := []string{`DROP SCHEMA IF EXISTS ` + schemaName + ` CASCADE`, `CREATE SCHEMA ` + schemaName, rawPGTable}
	stmts = append(stmts, rawPGIndexes...)
	stmts = append(stmts, `CHECKPOINT`) // the previous measurement's dirty pages are not this one's
	for _, s := range stmts {
		if _, err := c.Exec(ctx, s); err != nil {
			if strings.HasPrefix(s, "CHECKPOINT") {
				continue // needs a superuser (or pg_checkpoint) on a shared server: fine without
			}
			return fmt.Errorf("raw-pg: %s: %w", strings.Fields(s)[0], err)
		}
	}
	return nil
}

// rawPGOnce inserts every batch, each in its own transaction, over the connections at
// once, and returns rows/s.
func rawPGOnce(ctx context.Context, conns []*pgx.Conn, batches []*pgBatch) (float64, error) {
	var next atomic.Int64
	var rowsIn atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, len(conns))
	start := time.Now()
	for _, c := range conns {
		wg.Add(1)
		go func(c *pgx.Conn) {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(batches) || ctx.Err() != nil {
					return
				}
				tag, err := c.Exec(ctx, rawPGInsert, batches[i].args()...)
				if err != nil {
					errs <- err
					return
				}
				rowsIn.Add(tag.RowsAffected())
			}
		}(c)
	}
	wg.Wait()
	d := time.Since(start)
	close(errs)
	if err := <-errs; err != nil {
		return 0, fmt.Errorf("raw-pg: insert: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	var want int64
	for _, b := range batches {
		want += int64(len(b.id))
	}
	if rowsIn.Load() != want {
		return 0, fmt.Errorf("raw-pg: %d rows inserted of %d", rowsIn.Load(), want)
	}
	return float64(want) / d.Seconds(), nil
}

// reportRawPG prints a bare pgx baseline for people.
func reportRawPG(w io.Writer, s *rawSummary) {
	fmt.Fprintf(w, "bare pgx baseline (%s; %s) in %s\n", s.Driver, strings.Join(s.Pragmas, ", "), s.Dir)
	fmt.Fprintf(w, "  row: the store's logs table, %d fields from the phone, %.0f bytes as JSON; primary key + %d secondary indexes\n",
		s.Fields, s.BytesPerRow, len(rawPGIndexes))
	for _, r := range s.Results {
		fmt.Fprintf(w, "  %6d rows/batch, %2d connections: %8.0f rows/s (median of %d; min %.0f, max %.0f); %.2f kB of WAL per row\n",
			r.TxRows, r.Conns, r.RowsPerSec.Median, len(r.RowsPerSec.Runs), r.RowsPerSec.Min, r.RowsPerSec.Max, r.WALKB)
	}
	if s.Raw500 > 0 {
		fmt.Fprintf(w, "  ceiling at 500 rows/batch: %.0f rows/s (%d connections)\n", s.Raw500, s.Raw500Conns)
	}
}
