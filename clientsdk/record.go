package clientsdk

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"math"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/cdtsync/cdtsync/schema"
)

// Entry is a new activity log as the volunteer fills it in.
type Entry struct {
	HamletID int64  `json:"hamlet_id"` // required: a hamlet of the volunteer's pick-list (Hamlets)
	Kind     string `json:"kind"`      // required: an active activity-kind code (Kinds)
	// OccurredAt is when it happened, by the phone's clock, with its zone; zero means now.
	OccurredAt time.Time `json:"occurred_at"`
	// CCCD is the resident's 12-digit citizen-ID number, as typed. It is hashed on the
	// phone into citizen_ref and never stored or sent. Needs Consent.
	CCCD string `json:"cccd,omitempty"`
	// HouseholdID identifies the resident's household; hashed into household_ref. Needs
	// Consent.
	HouseholdID string `json:"household_id,omitempty"`
	// Consent: the resident agreed to be recorded. Required with CCCD or HouseholdID.
	Consent   bool     `json:"consent"`
	AgeBand   string   `json:"age_band,omitempty"`  // under_18, 18_35, 36_59, 60_plus
	Gender    string   `json:"gender,omitempty"`    // female, male, other
	Attendees int64    `json:"attendees,omitempty"` // group sessions; 0 means 1
	Outcome   string   `json:"outcome,omitempty"`   // completed (default) or incomplete
	Note      string   `json:"note,omitempty"`      // at most 500 characters
	Lat       *float64 `json:"lat,omitempty"`
	Lon       *float64 `json:"lon,omitempty"`
	AccuracyM *float64 `json:"accuracy_m,omitempty"`
}

// Changes is an edit of a log: nil fields are left as they are.
type Changes struct {
	HamletID   *int64     `json:"hamlet_id,omitempty"`
	Kind       *string    `json:"kind,omitempty"`
	OccurredAt *time.Time `json:"occurred_at,omitempty"`
	// CCCD sets citizen_ref from a citizen-ID number (hashed on the phone); "" clears it.
	CCCD *string `json:"cccd,omitempty"`
	// HouseholdID sets household_ref; "" clears it.
	HouseholdID *string `json:"household_id,omitempty"`
	// Consent false withdraws consent and clears both refs. Setting a ref needs consent:
	// when Consent is nil and the log already has it, the edit repeats it.
	Consent   *bool    `json:"consent,omitempty"`
	AgeBand   *string  `json:"age_band,omitempty"` // "" clears
	Gender    *string  `json:"gender,omitempty"`   // "" clears
	Attendees *int64   `json:"attendees,omitempty"`
	Outcome   *string  `json:"outcome,omitempty"`
	Note      *string  `json:"note,omitempty"` // "" clears
	Lat       *float64 `json:"lat,omitempty"`
	Lon       *float64 `json:"lon,omitempty"`
	AccuracyM *float64 `json:"accuracy_m,omitempty"`
	// ClearLocation clears lat, lon and accuracy_m.
	ClearLocation bool `json:"clear_location,omitempty"`
}

// Log is an activity log as the phone shows it: its content with the phone's unsynced
// edits laid over what the server last sent, and the server's fields as last pulled
// (Status is empty until the log was pulled once).
type Log struct {
	schema.Log
	// PendingOps counts this log's operations not yet answered by the server.
	PendingOps int  `json:"pending_ops"`
	Synced     bool `json:"synced"` // no pending operations and the server has it
	// RejectedCode and RejectedMessage are the server's answer to the last rejected
	// operation on this log, if any (see Status for the list).
	RejectedCode    string `json:"rejected_code,omitempty"`
	RejectedMessage string `json:"rejected_message,omitempty"`
	// RecordedAt is when this phone first saw the log (phone clock).
	RecordedAt time.Time `json:"recorded_at"`
}

func ptr[T any](v T) *T { return &v }

// Record records a new activity log for the current volunteer, offline. It returns once
// the log and its operation are durably on the phone; Sync sends them.
//
// Errors: CodeUnauthorized with nobody enrolled; CodeInvalidField for a missing or bad
// field (a CCCD that is not 12 digits with a province code, an unknown age band…);
// CodeConsentRequired for a CCCD or household without consent; CodeNoteTooLong;
// CodeUnknownHamlet and CodeUnknownKind when the pulled pick-lists do not hold the hamlet
// or kind (before the first pull they are not checked here; the server checks them).
func (c *Client) Record(ctx context.Context, e Entry) (Log, error) {
	vol, err := c.currentOrErr()
	if err != nil {
		return Log{}, err
	}
	var ct schema.Content
	if e.HamletID <= 0 {
		return Log{}, fieldErr("hamlet_id", "cần chọn ấp/thôn", "a hamlet is required")
	}
	ct.HamletID = ptr(e.HamletID)
	if strings.TrimSpace(e.Kind) == "" {
		return Log{}, fieldErr("kind", "cần chọn loại hoạt động", "an activity kind is required")
	}
	ct.Kind = ptr(strings.TrimSpace(e.Kind))
	at := e.OccurredAt
	if at.IsZero() {
		at = c.now()
	}
	ct.OccurredAt = ptr(at.Format(time.RFC3339))
	key := []byte(nil)
	if e.CCCD != "" || e.HouseholdID != "" {
		if !e.Consent {
			return Log{}, errConsent()
		}
		if key, err = c.citizenKey(ctx); err != nil {
			return Log{}, err
		}
	}
	if e.CCCD != "" {
		ref, err := CitizenRef(key, e.CCCD)
		if err != nil {
			return Log{}, err
		}
		ct.CitizenRef = &ref
	}
	if e.HouseholdID != "" {
		ref, err := HouseholdRef(key, e.HouseholdID)
		if err != nil {
			return Log{}, err
		}
		ct.HouseholdRef = &ref
	}
	ct.Consent = ptr(e.Consent)
	if e.AgeBand != "" {
		ct.AgeBand = ptr(e.AgeBand)
	}
	if e.Gender != "" {
		ct.Gender = ptr(e.Gender)
	}
	ct.Attendees = ptr(max(e.Attendees, 1))
	if e.Attendees < 0 {
		ct.Attendees = ptr(e.Attendees)
	}
	ct.Outcome = ptr(schema.OutcomeCompleted)
	if e.Outcome != "" {
		ct.Outcome = ptr(e.Outcome)
	}
	if e.Note != "" {
		ct.Note = ptr(e.Note)
	}
	ct.Lat, ct.Lon, ct.AccuracyM = e.Lat, e.Lon, e.AccuracyM
	mask := ct.SetMask()
	if err := c.checkContent(ctx, vol, &ct, mask); err != nil {
		return Log{}, err
	}
	id, err := uuid.NewV7()
	if err != nil {
		return Log{}, err
	}
	var out Log
	err = c.inTx(ctx, func(tx *sql.Tx) error {
		op, err := c.newOp(schema.OpUpsert, id.String(), "", &ct, mask)
		if err != nil {
			return err
		}
		now := c.now()
		ms := occurredMillis(&ct)
		disp, _ := json.Marshal(&ct)
		if _, err := c.exec(ctx, tx, qInsertLog, op.ID, vol, string(disp), op.HLC, ms, timeString(now)); err != nil {
			return err
		}
		if err := c.enqueue(ctx, tx, vol, op); err != nil {
			return err
		}
		out, err = c.logTx(ctx, tx, vol, op.ID)
		return err
	})
	return out, err
}

// Edit changes fields of one of the current volunteer's logs, offline. The operation's
// base is the log's version as this phone knows it, so the server tells a concurrent
// edit on another phone from a later one.
//
// Errors: CodeNotFound for a log the current volunteer does not have; CodeLogDeleted for
// a deleted log; CodeInvalid for an edit that changes nothing; the field errors of
// Record.
func (c *Client) Edit(ctx context.Context, id string, ch Changes) (Log, error) {
	vol, err := c.currentOrErr()
	if err != nil {
		return Log{}, err
	}
	cur, err := c.Log(ctx, id)
	if err != nil {
		return Log{}, err
	}
	if cur.Deleted {
		return Log{}, errDeleted()
	}
	var ct schema.Content
	var mask schema.FieldMask
	set := func(f schema.Field) { mask = mask.With(f) }
	if ch.HamletID != nil {
		ct.HamletID = ptr(*ch.HamletID)
		set(schema.FieldHamletID)
		if *ch.HamletID <= 0 {
			return Log{}, fieldErr("hamlet_id", "cần chọn ấp/thôn", "a hamlet is required")
		}
	}
	if ch.Kind != nil {
		ct.Kind = ptr(strings.TrimSpace(*ch.Kind))
		set(schema.FieldKind)
	}
	if ch.OccurredAt != nil {
		ct.OccurredAt = ptr(ch.OccurredAt.Format(time.RFC3339))
		set(schema.FieldOccurredAt)
	}
	setsRef := (ch.CCCD != nil && *ch.CCCD != "") || (ch.HouseholdID != nil && *ch.HouseholdID != "")
	if ch.Consent != nil {
		ct.Consent = ptr(*ch.Consent)
		set(schema.FieldConsent)
	} else if setsRef && cur.Consent != nil && *cur.Consent {
		ct.Consent = ptr(true) // the server wants consent in the op that sets a ref
		set(schema.FieldConsent)
	}
	if setsRef && (ct.Consent == nil || !*ct.Consent) {
		return Log{}, errConsent()
	}
	var key []byte
	if setsRef {
		if key, err = c.citizenKey(ctx); err != nil {
			return Log{}, err
		}
	}
	if ch.CCCD != nil {
		set(schema.FieldCitizenRef)
		if *ch.CCCD != "" {
			ref, err := CitizenRef(key, *ch.CCCD)
			if err != nil {
				return Log{}, err
			}
			ct.CitizenRef = &ref
		}
	}
	if ch.HouseholdID != nil {
		set(schema.FieldHouseholdRef)
		if *ch.HouseholdID != "" {
			ref, err := HouseholdRef(key, *ch.HouseholdID)
			if err != nil {
				return Log{}, err
			}
			ct.HouseholdRef = &ref
		}
	}
	optional := func(f schema.Field, v *string, dst **string) {
		if v == nil {
			return
		}
		set(f)
		if *v != "" {
			*dst = ptr(*v)
		}
	}
	optional(schema.FieldAgeBand, ch.AgeBand, &ct.AgeBand)
	optional(schema.FieldGender, ch.Gender, &ct.Gender)
	optional(schema.FieldNote, ch.Note, &ct.Note)
	if ch.Outcome != nil {
		ct.Outcome = ptr(*ch.Outcome)
		set(schema.FieldOutcome)
	}
	if ch.Attendees != nil {
		ct.Attendees = ptr(*ch.Attendees)
		set(schema.FieldAttendees)
	}
	if ch.ClearLocation {
		set(schema.FieldLat)
		set(schema.FieldLon)
		set(schema.FieldAccuracyM)
	}
	for _, p := range []struct {
		f   schema.Field
		v   *float64
		dst **float64
	}{{schema.FieldLat, ch.Lat, &ct.Lat}, {schema.FieldLon, ch.Lon, &ct.Lon}, {schema.FieldAccuracyM, ch.AccuracyM, &ct.AccuracyM}} {
		if p.v != nil {
			*p.dst = ptr(*p.v)
			set(p.f)
		}
	}
	if mask == 0 {
		return Log{}, schema.Errorf(schema.CodeInvalid, "Không có gì thay đổi / nothing to change")
	}
	if err := c.checkContent(ctx, vol, &ct, mask); err != nil {
		return Log{}, err
	}
	var out Log
	err = c.inTx(ctx, func(tx *sql.Tx) error {
		var (
			version, display string
			needsFull        bool
			deleted          bool
		)
		err := tx.QueryRowContext(ctx, `SELECT version, display, needs_full, deleted FROM logs WHERE id = ? AND volunteer_id = ?`,
			cur.ID, vol).Scan(&version, &display, &needsFull, &deleted)
		if errors.Is(err, sql.ErrNoRows) {
			return errNoLog(id)
		}
		if err != nil {
			return err
		}
		if deleted {
			return errDeleted()
		}
		var shown schema.Content
		if err := json.Unmarshal([]byte(display), &shown); err != nil {
			return err
		}
		sendMask, send := mask, ct
		if needsFull {
			// The server never had this log (its creation was rejected): send every field,
			// so this edit creates it.
			full := shown
			applyFields(&full, &ct, mask)
			send, sendMask = full, full.SetMask()
		}
		op, err := c.newOp(schema.OpUpsert, cur.ID, version, &send, sendMask)
		if err != nil {
			return err
		}
		applyFields(&shown, &ct, mask)
		disp, _ := json.Marshal(&shown)
		if _, err := tx.ExecContext(ctx, `UPDATE logs SET display = ?, version = ?, occurred_ms = ?, needs_full = 0,
			reject_code = '', reject_message = '' WHERE id = ?`, string(disp), op.HLC, occurredMillis(&shown), cur.ID); err != nil {
			return err
		}
		if err := c.enqueue(ctx, tx, vol, op); err != nil {
			return err
		}
		out, err = c.logTx(ctx, tx, vol, cur.ID)
		return err
	})
	return out, err
}

// Delete deletes one of the current volunteer's logs, offline. Deletes win on the server:
// the log stays deleted whatever edits other phones make. Deleting a deleted log does
// nothing. CodeNotFound for a log the current volunteer does not have.
func (c *Client) Delete(ctx context.Context, id string) error {
	vol, err := c.currentOrErr()
	if err != nil {
		return err
	}
	return c.inTx(ctx, func(tx *sql.Tx) error {
		var version string
		var deleted bool
		err := tx.QueryRowContext(ctx, `SELECT version, deleted FROM logs WHERE id = ? AND volunteer_id = ?`,
			strings.ToLower(id), vol).Scan(&version, &deleted)
		if errors.Is(err, sql.ErrNoRows) {
			return errNoLog(id)
		}
		if err != nil || deleted {
			return err
		}
		op, err := c.newOp(schema.OpDelete, strings.ToLower(id), version, nil, 0)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE logs SET deleted = 1, version = ? WHERE id = ?`, op.HLC, op.ID); err != nil {
			return err
		}
		return c.enqueue(ctx, tx, vol, op)
	})
}

// newOp makes an operation with new ids and the clock's next reading.
func (c *Client) newOp(typ, logID, base string, ct *schema.Content, mask schema.FieldMask) (schema.Op, error) {
	opID, err := uuid.NewV7()
	if err != nil {
		return schema.Op{}, err
	}
	op := schema.Op{OpID: opID.String(), Type: typ, ID: logID, HLC: c.clock().Tick().String()}
	if base != "" && base < op.HLC {
		op.Base = base
	}
	if typ == schema.OpUpsert {
		op.Fields = map[string]json.RawMessage{}
		for _, f := range mask.Fields() {
			op.Fields[f.String()] = ct.FieldJSON(f)
		}
	}
	return op, nil
}

var (
	qInsertLog = stmt(`INSERT INTO logs (id, volunteer_id, display, version, occurred_ms, recorded_at) VALUES (?, ?, ?, ?, ?, ?)`)
	qEnqueue   = stmt(`INSERT INTO outbox (volunteer_id, op_id, log_id, op, created_at) VALUES (?, ?, ?, ?, ?)`)
	qRefHas    = stmt(`SELECT EXISTS (SELECT 1 FROM reference WHERE volunteer_id = ? AND type = ?),
		(SELECT data FROM reference WHERE volunteer_id = ? AND type = ? AND key = ?)`)
)

// enqueue adds an operation to the volunteer's outbox and saves the clock, in tx.
func (c *Client) enqueue(ctx context.Context, tx *sql.Tx, volunteer int64, op schema.Op) error {
	b, err := json.Marshal(op)
	if err != nil {
		return err
	}
	if _, err := c.exec(ctx, tx, qEnqueue, volunteer, op.OpID, op.ID, string(b), timeString(c.serverNow())); err != nil {
		return err
	}
	return c.saveClock(ctx, tx)
}

// applyFields sets dst's fields in mask to src's, with the server's op-level rule:
// withdrawing consent clears both refs.
func applyFields(dst, src *schema.Content, mask schema.FieldMask) {
	for _, f := range mask.Fields() {
		dst.CopyField(f, src)
	}
	if mask.Has(schema.FieldConsent) && src.Consent != nil && !*src.Consent {
		dst.CitizenRef, dst.HouseholdRef = nil, nil
	}
}

// applyOpFields lays an operation's fields over a content.
func applyOpFields(dst *schema.Content, op *schema.Op) {
	var src schema.Content
	var mask schema.FieldMask
	for name, raw := range op.Fields {
		f, ok := schema.FieldByName(name)
		if !ok || src.SetFieldJSON(f, raw) != nil {
			continue
		}
		mask = mask.With(f)
	}
	applyFields(dst, &src, mask)
}

func occurredMillis(ct *schema.Content) any {
	if ct.OccurredAt == nil {
		return nil
	}
	t, err := time.Parse(time.RFC3339Nano, *ct.OccurredAt)
	if err != nil {
		return nil
	}
	return t.UnixMilli()
}

// checkContent applies the server's field rules on the phone, so a mistake is shown at
// once instead of after a sync: the same codes as the server's rejections.
func (c *Client) checkContent(ctx context.Context, volunteer int64, ct *schema.Content, mask schema.FieldMask) error {
	if mask.Has(schema.FieldKind) && (ct.Kind == nil || *ct.Kind == "") {
		return fieldErr("kind", "cần chọn loại hoạt động", "an activity kind is required")
	}
	if mask.Has(schema.FieldOccurredAt) {
		t, err := time.Parse(time.RFC3339, *ct.OccurredAt)
		if err != nil || t.Year() < schema.EarliestOccurredAtYear {
			return fieldErr("occurred_at", "thời điểm không hợp lệ", "not a valid time")
		}
		// Both by the phone's clock: the server corrects both by the same offset.
		if t.Sub(c.now()) > schema.MaxClockAhead {
			return schema.Errorf(schema.CodeOccurredInFuture, "Thời điểm ghi nhận ở tương lai (%s) / occurred_at is in the future (%s)",
				t.Format("02/01/2006 15:04"), t.Format(time.RFC3339))
		}
	}
	if mask.Has(schema.FieldAgeBand) && ct.AgeBand != nil && !slices.Contains(schema.AgeBands, *ct.AgeBand) {
		return fieldErr("age_band", "phải là "+strings.Join(schema.AgeBands, ", "), "must be one of "+strings.Join(schema.AgeBands, ", "))
	}
	if mask.Has(schema.FieldGender) && ct.Gender != nil && !slices.Contains(schema.Genders, *ct.Gender) {
		return fieldErr("gender", "phải là "+strings.Join(schema.Genders, ", "), "must be one of "+strings.Join(schema.Genders, ", "))
	}
	if mask.Has(schema.FieldAttendees) && (ct.Attendees == nil || *ct.Attendees < 1 || *ct.Attendees > 100000) {
		return fieldErr("attendees", "phải từ 1 đến 100000", "must be 1 to 100000")
	}
	if mask.Has(schema.FieldOutcome) && (ct.Outcome == nil || (*ct.Outcome != schema.OutcomeCompleted && *ct.Outcome != schema.OutcomeIncomplete)) {
		return fieldErr("outcome", "phải là completed hoặc incomplete", "must be completed or incomplete")
	}
	if mask.Has(schema.FieldNote) && ct.Note != nil {
		if n := utf8.RuneCountInString(*ct.Note); n > schema.MaxNoteRunes {
			return schema.Errorf(schema.CodeNoteTooLong, "Ghi chú dài %d ký tự, tối đa %d / note is %d characters, at most %d", n, schema.MaxNoteRunes, n, schema.MaxNoteRunes)
		}
	}
	for _, p := range []struct {
		name   string
		v      *float64
		lo, hi float64
		has    bool
		vi, en string
	}{
		{"lat", ct.Lat, -90, 90, mask.Has(schema.FieldLat), "phải từ -90 đến 90", "must be -90 to 90"},
		{"lon", ct.Lon, -180, 180, mask.Has(schema.FieldLon), "phải từ -180 đến 180", "must be -180 to 180"},
		{"accuracy_m", ct.AccuracyM, 0, 1e6, mask.Has(schema.FieldAccuracyM), "không hợp lệ", "out of range"},
	} {
		if p.has && p.v != nil && (math.IsNaN(*p.v) || *p.v < p.lo || *p.v > p.hi) {
			return fieldErr(p.name, p.vi, p.en)
		}
	}
	if mask.Has(schema.FieldHamletID) && ct.HamletID != nil {
		ok, known, err := c.refHas(ctx, volunteer, "unit", itoa(*ct.HamletID), func(b []byte) bool {
			var u schema.Unit
			return json.Unmarshal(b, &u) == nil && u.Level == schema.LevelHamlet && u.ValidTo == ""
		})
		if err != nil {
			return err
		}
		if known && !ok {
			return schema.Errorf(schema.CodeUnknownHamlet, "Ấp/thôn %d không thuộc địa bàn của bạn / hamlet %d is not a hamlet in your area", *ct.HamletID, *ct.HamletID)
		}
	}
	if mask.Has(schema.FieldKind) {
		ok, known, err := c.refHas(ctx, volunteer, "kind", *ct.Kind, func(b []byte) bool {
			var k schema.Kind
			return json.Unmarshal(b, &k) == nil && k.Active
		})
		if err != nil {
			return err
		}
		if known && !ok {
			return schema.Errorf(schema.CodeUnknownKind, "Loại hoạt động %q không có trong danh mục / activity kind %q is not in the catalogue", *ct.Kind, *ct.Kind)
		}
	}
	return nil
}

// refHas reports whether the volunteer's pulled reference data of a type holds key and
// it passes good; known is false when nothing of that type was pulled yet.
func (c *Client) refHas(ctx context.Context, volunteer int64, typ, key string, good func([]byte) bool) (ok, known bool, err error) {
	var b []byte
	if err := c.queryRow(ctx, c.db, qRefHas, volunteer, typ, volunteer, typ, key).Scan(&known, &b); err != nil {
		return false, false, err
	}
	if !known || b == nil {
		return false, known, nil
	}
	return good(b), true, nil
}

func fieldErr(field, vi, en string) *schema.Error {
	return schema.Errorf(schema.CodeInvalidField, "%s: %s / %s: %s", field, vi, field, en)
}

func errConsent() *schema.Error {
	return schema.Errorf(schema.CodeConsentRequired,
		"Cần có sự đồng ý của người dân khi ghi số CCCD hoặc mã hộ / the resident's consent is required with a citizen-ID number or household")
}

func errDeleted() *schema.Error {
	return schema.Errorf(schema.CodeLogDeleted, "Nhật ký đã bị xoá / the log was deleted")
}

func errNoLog(id string) *schema.Error {
	return schema.Errorf(schema.CodeNotFound, "Không có nhật ký %s / no log %s", id, id)
}
