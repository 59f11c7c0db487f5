package sqlite

import (
	"database/sql"
	"fmt"
	"time"

	"github.com/cdtsync/cdtsync/schema"
	"github.com/cdtsync/cdtsync/sync/engine"
	"github.com/cdtsync/cdtsync/sync/hlc"
	"github.com/cdtsync/cdtsync/sync/merge"
)

// logColumns is the column list of a log row, in the order logRow.scan reads.
const logColumns = `id, volunteer_id, team_id, device_id, hamlet_id, kind, occurred_at, occurred_offset_ms,
	corrected_ms, citizen_ref, household_ref, age_band, gender, attendees, outcome, consent, note, lat, lon,
	accuracy_m, stamps, created_stamp, deleted, deleted_hlc, review_status, review_note, reviewed_by,
	reviewed_at, review_hlc, status, duplicate_of, had_conflict, received_at`

// logRow is one stored log, read once and turned into the merge state or the wire form.
type logRow struct {
	l           merge.Log
	deviceID    sql.NullString
	correctedMS sql.NullInt64
	receivedAt  string
	reviewedBy  sql.NullInt64
}

func (r *logRow) scan(s rowScanner) error {
	var (
		c                                         = &r.l.Content
		hamlet, attendees                         sql.NullInt64
		kind, occ, cref, href, age, gender, out   sql.NullString
		note, stamps, created, rstatus, rnote, at sql.NullString
		dup                                       sql.NullString
		consent                                   sql.NullBool
		lat, lon, acc                             sql.NullFloat64
		deletedHLC, reviewHLC                     int64
	)
	err := s.Scan(&r.l.ID, &r.l.VolunteerID, &r.l.TeamID, &r.deviceID, &hamlet, &kind, &occ, &r.l.OccurredOffsetMS,
		&r.correctedMS, &cref, &href, &age, &gender, &attendees, &out, &consent, &note, &lat, &lon,
		&acc, &stamps, &created, &r.l.Deleted, &deletedHLC, &rstatus, &rnote, &r.reviewedBy,
		&at, &reviewHLC, &r.l.Status, &dup, &r.l.HadConflict, &r.receivedAt)
	if err != nil {
		return err
	}
	c.HamletID, c.Attendees = nullInt(hamlet), nullInt(attendees)
	c.Kind, c.OccurredAt, c.CitizenRef, c.HouseholdRef = nullStr(kind), nullStr(occ), nullStr(cref), nullStr(href)
	c.AgeBand, c.Gender, c.Outcome, c.Note = nullStr(age), nullStr(gender), nullStr(out), nullStr(note)
	if consent.Valid {
		c.Consent = &consent.Bool
	}
	c.Lat, c.Lon, c.AccuracyM = nullFloat(lat), nullFloat(lon), nullFloat(acc)
	if err := merge.DecodeStamps(stamps.String, &r.l.Stamps); err != nil {
		return fmt.Errorf("log %s: %w", r.l.ID, err)
	}
	if r.l.Created, err = merge.DecodeStamp(created.String); err != nil {
		return fmt.Errorf("log %s: %w", r.l.ID, err)
	}
	r.l.DeletedHLC = hlc.Timestamp(deletedHLC)
	r.l.Review = merge.Review{Status: rstatus.String, Note: rnote.String, By: r.reviewedBy.Int64, At: at.String, HLC: hlc.Timestamp(reviewHLC)}
	r.l.DuplicateOf = dup.String
	return nil
}

// wire returns the log as phones and coordinators see it.
func (r *logRow) wire() schema.Log {
	l := &r.l
	w := schema.Log{
		ID: l.ID, Content: l.Content, TeamID: l.TeamID, VolunteerID: l.VolunteerID, DeviceID: r.deviceID.String,
		ReceivedAt: r.receivedAt, Status: l.Status, DuplicateOf: l.DuplicateOf, HadConflict: l.HadConflict,
		Complete: l.Complete(), Deleted: l.Deleted, Version: l.Version().String(),
	}
	if r.correctedMS.Valid {
		s := engine.Time(time.UnixMilli(r.correctedMS.Int64).In(engine.Vietnam()))
		w.OccurredAtCorrected = &s
	}
	if l.Review.Status != "" {
		w.ReviewNote, w.ReviewedAt = l.Review.Note, l.Review.At
		if r.reviewedBy.Valid {
			w.ReviewedBy = &r.reviewedBy.Int64
		}
	}
	return w
}

func nullInt(v sql.NullInt64) *int64 {
	if !v.Valid {
		return nil
	}
	return &v.Int64
}

func nullStr(v sql.NullString) *string {
	if !v.Valid {
		return nil
	}
	return &v.String
}

func nullFloat(v sql.NullFloat64) *float64 {
	if !v.Valid {
		return nil
	}
	return &v.Float64
}

// logArgs returns the values of a log's row for upsertLog, after id.
func logArgs(l *merge.Log, seq int64, receivedAt string) []any {
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
		int64(l.DeletedHLC), rstatus, rnote, rby, rat, int64(l.Review.HLC), l.Status, dup, l.HadConflict, receivedAt, seq,
	}
}

const upsertLog = `INSERT INTO logs (id, volunteer_id, team_id, device_id, hamlet_id, kind, occurred_at, occurred_ms,
	occurred_offset_ms, corrected_ms, day, citizen_ref, household_ref, age_band, gender, attendees, outcome, consent,
	note, lat, lon, accuracy_m, stamps, created_stamp, content_hlc, complete, deleted, deleted_hlc, review_status,
	review_note, reviewed_by, reviewed_at, review_hlc, status, duplicate_of, had_conflict, received_at, seq)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
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
	duplicate_of = excluded.duplicate_of, had_conflict = excluded.had_conflict, seq = excluded.seq`

func hlcOf(v int64) hlc.Timestamp { return hlc.Timestamp(v) }
