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

// logArgs returns the values of a log's row for upsertLog.
func logArgs(l *merge.Log, receivedAt time.Time) []any {
	c := &l.Content
	var occMS, corrMS, day any
	if ms, ok := l.OccurredMillis(); ok {
		corr := ms - l.OccurredOffsetMS
		occMS, corrMS, day = ms, corr, engine.VietnamDay(corr)
	}
	var rstatus, rnote, rby, rat any
	if l.Review.Status != "" {
		rstatus, rnote, rby, rat = l.Review.Status, l.Review.Note, l.Review.By, l.Review.At
	}
	var dup, device any
	if l.DuplicateOf != "" {
		dup = l.DuplicateOf
	}
	if l.Created.Device != "" {
		device = l.Created.Device
	}
	return []any{
		l.ID, l.VolunteerID, l.TeamID, device, c.HamletID, c.Kind, c.OccurredAt, occMS, l.OccurredOffsetMS, corrMS, day,
		c.CitizenRef, c.HouseholdRef, c.AgeBand, c.Gender, c.Attendees, c.Outcome, c.Consent, c.Note, c.Lat, c.Lon, c.AccuracyM,
		merge.EncodeStamps(&l.Stamps), merge.EncodeStamp(l.Created), int64(l.ContentHLC()), l.Complete(), l.Deleted,
		int64(l.DeletedHLC), rstatus, rnote, rby, rat, int64(l.Review.HLC), l.Status, dup, l.HadConflict, receivedAt,
	}
}

// upsertLog writes a whole log row with a new position; received_at stays the first.
const upsertLog = `INSERT INTO logs (id, volunteer_id, team_id, device_id, hamlet_id, kind, occurred_at, occurred_ms,
	occurred_offset_ms, corrected_ms, day, citizen_ref, household_ref, age_band, gender, attendees, outcome, consent,
	note, lat, lon, accuracy_m, stamps, created_stamp, content_hlc, complete, deleted, deleted_hlc, review_status,
	review_note, reviewed_by, reviewed_at, review_hlc, status, duplicate_of, had_conflict, received_at, tx, seq)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, decode($12, 'hex'), decode($13, 'hex'), $14, $15, $16, $17, $18,
	$19, $20, $21, $22, $23, $24, $25, $26, $27, $28, $29, $30, $31, $32::timestamptz, $33, $34, $35, $36, $37,
	cdt_xid(), nextval('change_seq'))
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
