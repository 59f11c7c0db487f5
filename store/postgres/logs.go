package postgres

import (
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cdtsync/cdtsync/schema"
	"github.com/cdtsync/cdtsync/sync/engine"
	"github.com/cdtsync/cdtsync/sync/hlc"
	"github.com/cdtsync/cdtsync/sync/merge"
)

// logColumns is the column list of a log row, in the order logRow.scan reads. Ids, refs
// and instants are read as the text the API uses.
const logColumns = `id::text, volunteer_id, team_id, device_id, hamlet_id, kind, occurred_at, occurred_offset_ms,
	corrected_ms, encode(citizen_ref, 'hex'), encode(household_ref, 'hex'), age_band, gender, attendees, outcome, consent,
	note, lat, lon, accuracy_m, stamps, created_stamp, deleted, deleted_hlc, review_status, review_note, reviewed_by,
	cdt_ts(reviewed_at), review_hlc, status, duplicate_of::text, had_conflict, cdt_ts(received_at)`

// prefixed qualifies every column of a column list with a table alias; expressions
// (encode(x, …), cdt_ts(x), x::text) get the alias on their column.
func prefixed(alias, cols string) string {
	parts := strings.Split(cols, ",")
	var out []string
	for i := 0; i < len(parts); i++ {
		p := strings.TrimSpace(parts[i])
		switch {
		case strings.HasPrefix(p, "encode("):
			out = append(out, "encode("+alias+strings.TrimPrefix(p, "encode(")+", 'hex')")
			i++ // the 'hex' argument
		case strings.HasPrefix(p, "cdt_ts("):
			out = append(out, "cdt_ts("+alias+strings.TrimPrefix(p, "cdt_ts("))
		default:
			out = append(out, alias+p)
		}
	}
	return strings.Join(out, ", ")
}

// logRow is one stored log, read once and turned into the merge state or the wire form.
type logRow struct {
	l           merge.Log
	deviceID    *string
	correctedMS *int64
	receivedAt  string
	reviewedBy  *int64
}

func (r *logRow) scan(s pgx.Row) error {
	var (
		c                                       = &r.l.Content
		hamlet, attendees                       *int64
		kind, occ, cref, href, age, gender, out *string
		note, rstatus, rnote, at, dup           *string
		consent                                 *bool
		lat, lon, acc                           *float64
		stamps, created                         string
		deletedHLC, reviewHLC                   int64
	)
	err := s.Scan(&r.l.ID, &r.l.VolunteerID, &r.l.TeamID, &r.deviceID, &hamlet, &kind, &occ, &r.l.OccurredOffsetMS,
		&r.correctedMS, &cref, &href, &age, &gender, &attendees, &out, &consent, &note, &lat, &lon,
		&acc, &stamps, &created, &r.l.Deleted, &deletedHLC, &rstatus, &rnote, &r.reviewedBy,
		&at, &reviewHLC, &r.l.Status, &dup, &r.l.HadConflict, &r.receivedAt)
	if err != nil {
		return err
	}
	c.HamletID, c.Attendees = hamlet, attendees
	c.Kind, c.OccurredAt, c.CitizenRef, c.HouseholdRef = kind, occ, cref, href
	c.AgeBand, c.Gender, c.Outcome, c.Note = age, gender, out, note
	c.Consent = consent
	c.Lat, c.Lon, c.AccuracyM = lat, lon, acc
	if err := merge.DecodeStamps(stamps, &r.l.Stamps); err != nil {
		return fmt.Errorf("log %s: %w", r.l.ID, err)
	}
	if r.l.Created, err = merge.DecodeStamp(created); err != nil {
		return fmt.Errorf("log %s: %w", r.l.ID, err)
	}
	r.l.DeletedHLC = hlc.Timestamp(deletedHLC)
	r.l.Review = merge.Review{Status: deref(rstatus), Note: deref(rnote), HLC: hlc.Timestamp(reviewHLC), At: deref(at)}
	if r.reviewedBy != nil {
		r.l.Review.By = *r.reviewedBy
	}
	r.l.DuplicateOf = deref(dup)
	return nil
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// wire returns the log as phones and coordinators see it.
func (r *logRow) wire() schema.Log {
	l := &r.l
	w := schema.Log{
		ID: l.ID, Content: l.Content, TeamID: l.TeamID, VolunteerID: l.VolunteerID, DeviceID: deref(r.deviceID),
		ReceivedAt: r.receivedAt, Status: l.Status, DuplicateOf: l.DuplicateOf, HadConflict: l.HadConflict,
		Complete: l.Complete(), Deleted: l.Deleted, Version: l.Version().String(),
	}
	if r.correctedMS != nil {
		s := engine.Time(time.UnixMilli(*r.correctedMS).In(engine.Vietnam()))
		w.OccurredAtCorrected = &s
	}
	if l.Review.Status != "" {
		w.ReviewNote, w.ReviewedAt = l.Review.Note, l.Review.At
		if r.reviewedBy != nil {
			by := *r.reviewedBy
			w.ReviewedBy = &by
		}
	}
	return w
}

// logRows are whole log rows to write in one statement (upsertLogs), column by column:
// one INSERT … SELECT FROM unnest for a push's logs, not one statement per log.
type logRows struct {
	ids, stamps, created, status                    []string
	volunteer, team, offset, contentHLC, deletedHLC []int64
	reviewHLC                                       []int64
	complete, deleted, conflict                     []bool
	device, kind, occurredAt, cref, href, age       []*string
	gender, outcome, note, rstatus, rnote, rat, dup []*string
	hamlet, occMS, corrMS, day, attendees, rby      []*int64
	consent                                         []*bool
	lat, lon, acc                                   []*float64
}

func ptr[T any](v T) *T { return &v }

// add appends a log's row.
func (r *logRows) add(l *merge.Log) {
	c := &l.Content
	var occMS, corrMS, day *int64
	if ms, ok := l.OccurredMillis(); ok {
		corr := ms - l.OccurredOffsetMS
		occMS, corrMS, day = ptr(ms), ptr(corr), ptr(int64(engine.VietnamDay(corr)))
	}
	var rstatus, rnote, rat *string
	var rby *int64
	if l.Review.Status != "" {
		rstatus, rnote, rby, rat = ptr(l.Review.Status), ptr(l.Review.Note), ptr(l.Review.By), ptr(l.Review.At)
	}
	var dup, device *string
	if l.DuplicateOf != "" {
		dup = ptr(l.DuplicateOf)
	}
	if l.Created.Device != "" {
		device = ptr(l.Created.Device)
	}
	r.ids = append(r.ids, l.ID)
	r.volunteer = append(r.volunteer, l.VolunteerID)
	r.team = append(r.team, l.TeamID)
	r.device = append(r.device, device)
	r.hamlet = append(r.hamlet, c.HamletID)
	r.kind = append(r.kind, c.Kind)
	r.occurredAt = append(r.occurredAt, c.OccurredAt)
	r.occMS = append(r.occMS, occMS)
	r.offset = append(r.offset, l.OccurredOffsetMS)
	r.corrMS = append(r.corrMS, corrMS)
	r.day = append(r.day, day)
	r.cref = append(r.cref, c.CitizenRef)
	r.href = append(r.href, c.HouseholdRef)
	r.age = append(r.age, c.AgeBand)
	r.gender = append(r.gender, c.Gender)
	r.attendees = append(r.attendees, c.Attendees)
	r.outcome = append(r.outcome, c.Outcome)
	r.consent = append(r.consent, c.Consent)
	r.note = append(r.note, c.Note)
	r.lat = append(r.lat, c.Lat)
	r.lon = append(r.lon, c.Lon)
	r.acc = append(r.acc, c.AccuracyM)
	r.stamps = append(r.stamps, merge.EncodeStamps(&l.Stamps))
	r.created = append(r.created, merge.EncodeStamp(l.Created))
	r.contentHLC = append(r.contentHLC, int64(l.ContentHLC()))
	r.complete = append(r.complete, l.Complete())
	r.deleted = append(r.deleted, l.Deleted)
	r.deletedHLC = append(r.deletedHLC, int64(l.DeletedHLC))
	r.rstatus = append(r.rstatus, rstatus)
	r.rnote = append(r.rnote, rnote)
	r.rby = append(r.rby, rby)
	r.rat = append(r.rat, rat)
	r.reviewHLC = append(r.reviewHLC, int64(l.Review.HLC))
	r.status = append(r.status, l.Status)
	r.dup = append(r.dup, dup)
	r.conflict = append(r.conflict, l.HadConflict)
}

// queue queues the statement that writes every added row, each with a new position, in
// the order added; received_at stays a log's first.
func (r *logRows) queue(b *pgx.Batch, receivedAt time.Time) {
	if len(r.ids) == 0 {
		return
	}
	b.Queue(upsertLogs, r.ids, r.volunteer, r.team, r.device, r.hamlet, r.kind, r.occurredAt, r.occMS, r.offset,
		r.corrMS, r.day, r.cref, r.href, r.age, r.gender, r.attendees, r.outcome, r.consent, r.note, r.lat, r.lon,
		r.acc, r.stamps, r.created, r.contentHLC, r.complete, r.deleted, r.deletedHLC, r.rstatus, r.rnote, r.rby,
		r.rat, r.reviewHLC, r.status, r.dup, r.conflict, receivedAt)
}

// upsertLogs writes whole log rows (logRows.queue). WITH ORDINALITY and the ORDER BY keep
// the rows, their positions and their row locks in the order given.
const upsertLogs = `INSERT INTO logs (id, volunteer_id, team_id, device_id, hamlet_id, kind, occurred_at, occurred_ms,
	occurred_offset_ms, corrected_ms, day, citizen_ref, household_ref, age_band, gender, attendees, outcome, consent,
	note, lat, lon, accuracy_m, stamps, created_stamp, content_hlc, complete, deleted, deleted_hlc, review_status,
	review_note, reviewed_by, reviewed_at, review_hlc, status, duplicate_of, had_conflict, received_at, tx, seq)
	SELECT id, vol, team, dev, hamlet, kind, occ, occ_ms, off_ms, corr_ms, day, decode(cref, 'hex'), decode(href, 'hex'),
	age, gender, att, outcome, consent, note, lat, lon, acc, stamps, created, chlc, complete, deleted, dhlc, rstatus,
	rnote, rby, rat, rhlc, status, dup, conflict, $37, cdt_xid(), nextval('change_seq')
	FROM unnest($1::uuid[], $2::bigint[], $3::bigint[], $4::text[], $5::bigint[], $6::text[], $7::text[], $8::bigint[],
		$9::bigint[], $10::bigint[], $11::integer[], $12::text[], $13::text[], $14::text[], $15::text[], $16::bigint[],
		$17::text[], $18::boolean[], $19::text[], $20::double precision[], $21::double precision[],
		$22::double precision[], $23::text[], $24::text[], $25::bigint[], $26::boolean[], $27::boolean[], $28::bigint[],
		$29::text[], $30::text[], $31::bigint[], $32::timestamptz[], $33::bigint[], $34::text[], $35::uuid[], $36::boolean[])
		WITH ORDINALITY AS r(id, vol, team, dev, hamlet, kind, occ, occ_ms, off_ms, corr_ms, day, cref, href, age, gender,
		att, outcome, consent, note, lat, lon, acc, stamps, created, chlc, complete, deleted, dhlc, rstatus, rnote, rby,
		rat, rhlc, status, dup, conflict, n)
	ORDER BY n
	ON CONFLICT (id) DO UPDATE SET device_id = excluded.device_id, hamlet_id = excluded.hamlet_id,
	kind = excluded.kind, occurred_at = excluded.occurred_at, occurred_ms = excluded.occurred_ms,
	occurred_offset_ms = excluded.occurred_offset_ms, corrected_ms = excluded.corrected_ms, day = excluded.day,
	citizen_ref = excluded.citizen_ref, household_ref = excluded.household_ref, age_band = excluded.age_band,
	gender = excluded.gender, attendees = excluded.attendees, outcome = excluded.outcome, consent = excluded.consent,
	note = excluded.note, lat = excluded.lat, lon = excluded.lon, accuracy_m = excluded.accuracy_m,
	stamps = excluded.stamps, created_stamp = excluded.created_stamp, content_hlc = excluded.content_hlc,
	complete = excluded.complete, deleted = excluded.deleted, deleted_hlc = excluded.deleted_hlc,
	review_status = excluded.review_status, review_note = excluded.review_note, reviewed_by = excluded.reviewed_by,
	reviewed_at = excluded.reviewed_at, review_hlc = excluded.review_hlc, status = excluded.status,
	duplicate_of = excluded.duplicate_of, had_conflict = excluded.had_conflict, tx = excluded.tx, seq = excluded.seq`

// updateStatus writes only the derived status of a log this transaction did not lock: a
// member of a once-per-person group whose canonical log changed. Its content may be
// changing in another transaction, which holds the group lock too and derives the status
// again after this one commits.
const updateStatus = `UPDATE logs SET status = $2, duplicate_of = $3::uuid, tx = cdt_xid(), seq = nextval('change_seq')
	WHERE id = $1 AND (status <> $2 OR duplicate_of IS DISTINCT FROM $3::uuid)`
