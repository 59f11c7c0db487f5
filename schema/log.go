package schema

import (
	"encoding/json"
	"fmt"
)

// Field names one client-settable field of an activity log. Server-owned fields (team,
// volunteer, device, review, status) have no Field: a phone cannot set them.
type Field uint8

// The client-settable fields, in wire order.
const (
	FieldHamletID Field = iota
	FieldKind
	FieldOccurredAt
	FieldCitizenRef
	FieldHouseholdRef
	FieldAgeBand
	FieldGender
	FieldAttendees
	FieldOutcome
	FieldConsent
	FieldNote
	FieldLat
	FieldLon
	FieldAccuracyM
	NumFields
)

var fieldNames = [NumFields]string{
	"hamlet_id", "kind", "occurred_at", "citizen_ref", "household_ref", "age_band", "gender",
	"attendees", "outcome", "consent", "note", "lat", "lon", "accuracy_m",
}

var fieldByName = func() map[string]Field {
	m := make(map[string]Field, NumFields)
	for f, n := range fieldNames {
		m[n] = Field(f)
	}
	return m
}()

func (f Field) String() string {
	if f < NumFields {
		return fieldNames[f]
	}
	return fmt.Sprintf("field(%d)", uint8(f))
}

// FieldByName returns the field with the given wire name.
func FieldByName(name string) (Field, bool) {
	f, ok := fieldByName[name]
	return f, ok
}

// FieldMask is a set of fields.
type FieldMask uint16

// AllFields holds every client field.
const AllFields FieldMask = 1<<NumFields - 1

// RequiredFields are the fields a log must have before it counts anywhere: a log whose
// creation has not arrived yet (an edit came first) is kept but not shown in reviews or
// reports.
const RequiredFields FieldMask = 1<<FieldHamletID | 1<<FieldKind | 1<<FieldOccurredAt

// Has reports whether f is in the mask.
func (m FieldMask) Has(f Field) bool { return m&(1<<f) != 0 }

// With returns the mask with f added.
func (m FieldMask) With(f Field) FieldMask { return m | 1<<f }

// Fields lists the fields of the mask in wire order.
func (m FieldMask) Fields() []Field {
	var fs []Field
	for f := Field(0); f < NumFields; f++ {
		if m.Has(f) {
			fs = append(fs, f)
		}
	}
	return fs
}

// Outcomes and other enumerations of log fields.
const (
	OutcomeCompleted  = "completed"
	OutcomeIncomplete = "incomplete"
)

// AgeBands and Genders are the accepted values of age_band and gender.
var (
	AgeBands = []string{"under_18", "18_35", "36_59", "60_plus"}
	Genders  = []string{"female", "male", "other"}
)

// Content is the client-settable part of an activity log. A nil pointer is an unset
// (null) field. The JSON names are the wire names.
type Content struct {
	HamletID     *int64   `json:"hamlet_id"`
	Kind         *string  `json:"kind"`
	OccurredAt   *string  `json:"occurred_at"` // RFC 3339 with offset, phone clock, as sent
	CitizenRef   *string  `json:"citizen_ref"`
	HouseholdRef *string  `json:"household_ref"`
	AgeBand      *string  `json:"age_band"`
	Gender       *string  `json:"gender"`
	Attendees    *int64   `json:"attendees"`
	Outcome      *string  `json:"outcome"`
	Consent      *bool    `json:"consent"`
	Note         *string  `json:"note"`
	Lat          *float64 `json:"lat"`
	Lon          *float64 `json:"lon"`
	AccuracyM    *float64 `json:"accuracy_m"`
}

// ptr returns the address of f's pointer field, for decoding and encoding one field.
func (c *Content) ptr(f Field) any {
	switch f {
	case FieldHamletID:
		return &c.HamletID
	case FieldKind:
		return &c.Kind
	case FieldOccurredAt:
		return &c.OccurredAt
	case FieldCitizenRef:
		return &c.CitizenRef
	case FieldHouseholdRef:
		return &c.HouseholdRef
	case FieldAgeBand:
		return &c.AgeBand
	case FieldGender:
		return &c.Gender
	case FieldAttendees:
		return &c.Attendees
	case FieldOutcome:
		return &c.Outcome
	case FieldConsent:
		return &c.Consent
	case FieldNote:
		return &c.Note
	case FieldLat:
		return &c.Lat
	case FieldLon:
		return &c.Lon
	case FieldAccuracyM:
		return &c.AccuracyM
	}
	panic("schema: unknown field " + f.String())
}

// CopyField sets c's field f to src's.
func (c *Content) CopyField(f Field, src *Content) {
	switch f {
	case FieldHamletID:
		c.HamletID = src.HamletID
	case FieldKind:
		c.Kind = src.Kind
	case FieldOccurredAt:
		c.OccurredAt = src.OccurredAt
	case FieldCitizenRef:
		c.CitizenRef = src.CitizenRef
	case FieldHouseholdRef:
		c.HouseholdRef = src.HouseholdRef
	case FieldAgeBand:
		c.AgeBand = src.AgeBand
	case FieldGender:
		c.Gender = src.Gender
	case FieldAttendees:
		c.Attendees = src.Attendees
	case FieldOutcome:
		c.Outcome = src.Outcome
	case FieldConsent:
		c.Consent = src.Consent
	case FieldNote:
		c.Note = src.Note
	case FieldLat:
		c.Lat = src.Lat
	case FieldLon:
		c.Lon = src.Lon
	case FieldAccuracyM:
		c.AccuracyM = src.AccuracyM
	default:
		panic("schema: unknown field " + f.String())
	}
}

// FieldJSON returns the JSON of field f's value ("null" when unset).
func (c *Content) FieldJSON(f Field) json.RawMessage {
	b, err := json.Marshal(c.ptr(f))
	if err != nil { // only NaN or Inf floats, which decoding never produces
		return json.RawMessage("null")
	}
	return b
}

// SetFieldJSON decodes raw into field f. JSON null unsets the field.
func (c *Content) SetFieldJSON(f Field, raw json.RawMessage) error {
	return json.Unmarshal(raw, c.ptr(f))
}

// IsSet reports whether field f has a value.
func (c *Content) IsSet(f Field) bool {
	switch p := c.ptr(f).(type) {
	case **int64:
		return *p != nil
	case **string:
		return *p != nil
	case **bool:
		return *p != nil
	case **float64:
		return *p != nil
	}
	return false
}

// SetMask returns the set of fields that have a value.
func (c *Content) SetMask() FieldMask {
	var m FieldMask
	for f := Field(0); f < NumFields; f++ {
		if c.IsSet(f) {
			m = m.With(f)
		}
	}
	return m
}

// Log is an activity log as the server shows it: on pull to its volunteer's phones, in the
// review queue. Content carries every field the phones sent; the rest is the server's.
type Log struct {
	ID string `json:"id"`
	Content
	TeamID              int64   `json:"team_id"`
	VolunteerID         int64   `json:"volunteer_id"`
	DeviceID            string  `json:"device_id"` // the phone that created the log
	ReceivedAt          string  `json:"received_at"`
	OccurredAtCorrected *string `json:"occurred_at_corrected"` // occurred_at corrected by the device clock offset; reports use it
	Status              string  `json:"status"`                // pending, approved, rejected, duplicate
	DuplicateOf         string  `json:"duplicate_of,omitempty"`
	ReviewNote          string  `json:"review_note,omitempty"`
	ReviewedBy          *int64  `json:"reviewed_by,omitempty"`
	ReviewedAt          string  `json:"reviewed_at,omitempty"`
	HadConflict         bool    `json:"had_conflict"`
	Complete            bool    `json:"complete"` // hamlet, kind and occurred_at have all arrived
	Deleted             bool    `json:"deleted"`
	Version             string  `json:"version"` // the greatest HLC in the log; send it as an edit's base
}

// Log statuses. A deleted log keeps the status it had; Deleted says it is gone.
const (
	StatusPending   = "pending"
	StatusApproved  = "approved"
	StatusRejected  = "rejected"
	StatusDuplicate = "duplicate"
)
