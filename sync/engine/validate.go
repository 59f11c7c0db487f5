package engine

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"math"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/cdtsync/cdtsync/schema"
	"github.com/cdtsync/cdtsync/sync/hlc"
)

// parsedOp is an operation decoded and checked on its own, before the transaction.
type parsedOp struct {
	sentID  string // op_id as sent, echoed in the result
	opID    string // canonical form: the identity
	typ     string
	logID   string
	hlc     hlc.Timestamp
	base    hlc.Timestamp
	content schema.Content
	mask    schema.FieldMask
	hash    []byte
	// err is set when the op is rejected by a rule that needs no database.
	err *schema.Error
}

func rejectf(code, format string, args ...any) *schema.Error {
	return schema.Errorf(code, format, args...)
}

// canonicalUUID parses a UUID and returns its canonical lowercase form.
func canonicalUUID(s string) (string, bool) {
	if len(s) != 36 {
		return "", false
	}
	u, err := uuid.Parse(s)
	if err != nil {
		return "", false
	}
	return u.String(), true
}

// parseOp decodes and checks one op against the rules that need no database. now is the
// server's time at receipt; offset is the device clock offset measured on this push.
func parseOp(op schema.Op, now time.Time, offset time.Duration, maxAhead time.Duration) *parsedOp {
	p := &parsedOp{sentID: op.OpID, typ: op.Type}
	var ok bool
	if p.opID, ok = canonicalUUID(op.OpID); !ok {
		p.err = rejectf(schema.CodeInvalid, "op_id phải là UUID / op_id must be a UUID")
		return p
	}
	p.hash = opHash(op)
	if p.logID, ok = canonicalUUID(op.ID); !ok {
		p.err = rejectf(schema.CodeInvalid, "id phải là UUID / id must be a UUID")
		return p
	}
	var err error
	if p.hlc, err = hlc.Parse(op.HLC); err != nil || p.hlc == 0 {
		p.err = rejectf(schema.CodeInvalid, "hlc phải là 16 chữ số hex thường / hlc must be 16 lowercase hex digits")
		return p
	}
	if op.Base != "" {
		if p.base, err = hlc.Parse(op.Base); err != nil {
			p.err = rejectf(schema.CodeInvalid, "base phải là 16 chữ số hex thường / base must be 16 lowercase hex digits")
			return p
		}
		if p.base >= p.hlc {
			p.err = rejectf(schema.CodeInvalid, "base phải nhỏ hơn hlc / base must be less than hlc")
			return p
		}
	}
	if ahead := time.UnixMilli(p.hlc.Millis()).Sub(now); ahead > maxAhead {
		p.err = rejectf(schema.CodeClockAhead,
			"Đồng hồ thiết bị nhanh hơn máy chủ %s; hãy chỉnh giờ rồi ghi lại / the operation's clock is %s ahead of the server (limit %s); fix the clock and record again",
			ahead.Round(time.Second), ahead.Round(time.Second), maxAhead)
		return p
	}
	switch op.Type {
	case schema.OpDelete:
		if len(op.Fields) > 0 {
			p.err = rejectf(schema.CodeInvalid, "thao tác xoá không mang trường dữ liệu / a delete carries no fields")
		}
		return p
	case schema.OpUpsert:
	default:
		p.err = rejectf(schema.CodeInvalid, "type phải là upsert hoặc delete / type must be upsert or delete, not %q", op.Type)
		return p
	}
	if len(op.Fields) == 0 {
		p.err = rejectf(schema.CodeInvalid, "upsert cần ít nhất một trường / an upsert needs at least one field")
		return p
	}
	names := make([]string, 0, len(op.Fields))
	for name := range op.Fields {
		names = append(names, name)
	}
	sort.Strings(names) // report the first bad field deterministically
	for _, name := range names {
		f, ok := schema.FieldByName(name)
		if !ok {
			p.err = rejectf(schema.CodeInvalidField, "trường %q không phải trường của điện thoại / %q is not a field a phone may set", name, name)
			return p
		}
		if err := p.content.SetFieldJSON(f, op.Fields[name]); err != nil {
			p.err = rejectf(schema.CodeInvalidField, "trường %s có giá trị sai kiểu / field %s has a value of the wrong type", name, name)
			return p
		}
		p.mask = p.mask.With(f)
	}
	if e := checkFields(&p.content, p.mask, now, offset, maxAhead); e != nil {
		p.err = e
		return p
	}
	normalise(&p.content, &p.mask)
	return p
}

// checkFields applies the per-field rules to the fields in mask.
func checkFields(c *schema.Content, mask schema.FieldMask, now time.Time, offset, maxAhead time.Duration) *schema.Error {
	bad := func(f schema.Field, vi, en string) *schema.Error {
		return rejectf(schema.CodeInvalidField, "%s: %s / %s: %s", f, vi, f, en)
	}
	for _, f := range mask.Fields() {
		if schema.RequiredFields.Has(f) && !c.IsSet(f) {
			return bad(f, "không được để trống", "cannot be null")
		}
	}
	if mask.Has(schema.FieldHamletID) && *c.HamletID <= 0 {
		return bad(schema.FieldHamletID, "mã ấp/thôn không hợp lệ", "not a hamlet id")
	}
	if mask.Has(schema.FieldKind) && *c.Kind == "" {
		return bad(schema.FieldKind, "không được để trống", "cannot be empty")
	}
	if mask.Has(schema.FieldOccurredAt) {
		t, err := time.Parse(time.RFC3339Nano, *c.OccurredAt)
		if err != nil {
			return bad(schema.FieldOccurredAt, "phải theo RFC 3339 có múi giờ, ví dụ 2026-11-23T09:30:00+07:00", "must be RFC 3339 with an offset, e.g. 2026-11-23T09:30:00+07:00")
		}
		if t.Year() < schema.EarliestOccurredAtYear {
			return bad(schema.FieldOccurredAt, "quá cũ", "too early")
		}
		if corrected := t.Add(-offset); corrected.Sub(now) > maxAhead {
			return rejectf(schema.CodeOccurredInFuture,
				"Thời điểm ghi nhận ở tương lai (%s theo giờ máy chủ) / occurred_at is in the future (%s by server time)",
				corrected.In(vietnam).Format("02/01/2006 15:04"), corrected.UTC().Format(time.RFC3339))
		}
	}
	for _, f := range []schema.Field{schema.FieldCitizenRef, schema.FieldHouseholdRef} {
		if !mask.Has(f) || !c.IsSet(f) {
			continue
		}
		ref := *c.CitizenRef
		if f == schema.FieldHouseholdRef {
			ref = *c.HouseholdRef
		}
		if isDigits(ref) && len(ref) < 64 {
			return bad(f, "không bao giờ gửi số định danh gốc; gửi mã băm HMAC", "never send a raw ID number; send its HMAC")
		}
		if !isHex64(ref) {
			return bad(f, "phải là 64 chữ số hex thường (HMAC-SHA-256)", "must be 64 lowercase hex digits (HMAC-SHA-256)")
		}
	}
	if mask.Has(schema.FieldAgeBand) && c.AgeBand != nil && !oneOf(*c.AgeBand, schema.AgeBands) {
		return bad(schema.FieldAgeBand, "phải là "+strings.Join(schema.AgeBands, ", "), "must be one of "+strings.Join(schema.AgeBands, ", "))
	}
	if mask.Has(schema.FieldGender) && c.Gender != nil && !oneOf(*c.Gender, schema.Genders) {
		return bad(schema.FieldGender, "phải là "+strings.Join(schema.Genders, ", "), "must be one of "+strings.Join(schema.Genders, ", "))
	}
	if mask.Has(schema.FieldAttendees) {
		if c.Attendees == nil || *c.Attendees < 1 || *c.Attendees > 100000 {
			return bad(schema.FieldAttendees, "phải từ 1 đến 100000", "must be 1 to 100000")
		}
	}
	if mask.Has(schema.FieldOutcome) {
		if c.Outcome == nil || (*c.Outcome != schema.OutcomeCompleted && *c.Outcome != schema.OutcomeIncomplete) {
			return bad(schema.FieldOutcome, "phải là completed hoặc incomplete", "must be completed or incomplete")
		}
	}
	if mask.Has(schema.FieldConsent) && c.Consent == nil {
		return bad(schema.FieldConsent, "phải là true hoặc false", "must be true or false")
	}
	if mask.Has(schema.FieldNote) && c.Note != nil {
		if n := utf8.RuneCountInString(*c.Note); n > schema.MaxNoteRunes {
			return rejectf(schema.CodeNoteTooLong, "Ghi chú dài %d ký tự, tối đa %d / note is %d characters, at most %d", n, schema.MaxNoteRunes, n, schema.MaxNoteRunes)
		}
	}
	if mask.Has(schema.FieldLat) && c.Lat != nil && (math.IsNaN(*c.Lat) || *c.Lat < -90 || *c.Lat > 90) {
		return bad(schema.FieldLat, "phải từ -90 đến 90", "must be -90 to 90")
	}
	if mask.Has(schema.FieldLon) && c.Lon != nil && (math.IsNaN(*c.Lon) || *c.Lon < -180 || *c.Lon > 180) {
		return bad(schema.FieldLon, "phải từ -180 đến 180", "must be -180 to 180")
	}
	if mask.Has(schema.FieldAccuracyM) && c.AccuracyM != nil && (*c.AccuracyM < 0 || *c.AccuracyM > 1e6) {
		return bad(schema.FieldAccuracyM, "không hợp lệ", "out of range")
	}
	// A resident's refs are kept only with their consent, given in the same operation.
	setsRef := (mask.Has(schema.FieldCitizenRef) && c.CitizenRef != nil) || (mask.Has(schema.FieldHouseholdRef) && c.HouseholdRef != nil)
	if setsRef && (!mask.Has(schema.FieldConsent) || !*c.Consent) {
		return rejectf(schema.CodeConsentRequired,
			"Cần có sự đồng ý của người dân khi ghi mã định danh hoặc mã hộ / consent: true is required with citizen_ref or household_ref")
	}
	return nil
}

// normalise applies the op-level defaults. Each is a pure function of the op, so every
// server applies it the same way whatever order ops arrive in:
//   - withdrawing consent clears both refs, at the same stamp;
//   - an op that creates a log (it carries hamlet, kind and time) defaults outcome to
//     completed and attendees to 1.
func normalise(c *schema.Content, mask *schema.FieldMask) {
	if mask.Has(schema.FieldConsent) && !*c.Consent {
		c.CitizenRef, c.HouseholdRef = nil, nil
		*mask = mask.With(schema.FieldCitizenRef).With(schema.FieldHouseholdRef)
	}
	if *mask&schema.RequiredFields == schema.RequiredFields {
		if !mask.Has(schema.FieldOutcome) {
			o := schema.OutcomeCompleted
			c.Outcome = &o
			*mask = mask.With(schema.FieldOutcome)
		}
		if !mask.Has(schema.FieldAttendees) {
			one := int64(1)
			c.Attendees = &one
			*mask = mask.With(schema.FieldAttendees)
		}
	}
}

// opHash fingerprints an op's content, so an op id re-sent with different content is
// caught rather than silently answered with another op's result.
func opHash(op schema.Op) []byte {
	h := sha256.New()
	h.Write([]byte(op.Type + "\x00" + strings.ToLower(op.ID) + "\x00" + op.HLC + "\x00" + op.Base + "\x00"))
	names := make([]string, 0, len(op.Fields))
	for n := range op.Fields {
		names = append(names, n)
	}
	sort.Strings(names)
	var buf bytes.Buffer
	for _, n := range names {
		buf.Reset()
		if json.Compact(&buf, op.Fields[n]) != nil {
			buf.Write(op.Fields[n])
		}
		h.Write([]byte(n + "\x00"))
		h.Write(buf.Bytes())
		h.Write([]byte{0})
	}
	return h.Sum(nil)
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func isHex64(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

func oneOf(s string, set []string) bool {
	for _, v := range set {
		if s == v {
			return true
		}
	}
	return false
}
