// Package merge holds the conflict rules of the sync protocol as pure functions over
// values: field-level last-writer-wins by HLC, delete wins, review fields owned by
// coordinators, and the choice of the canonical log among once-per-person duplicates.
//
// The store loads state, these rules decide, the store writes. Nothing here reads a clock
// or a database, so every rule is testable on its own and gives the same answer on every
// server.
package merge

import (
	"bytes"
	"encoding/json"
	"time"

	"github.com/cdtsync/cdtsync/schema"
	"github.com/cdtsync/cdtsync/sync/hlc"
)

// Stamp identifies one write: when (HLC), from which phone (Device, the phone's own id),
// by which operation, and what the writer had seen of the log (Base).
type Stamp struct {
	HLC    hlc.Timestamp
	Device string
	OpID   string
	Base   hlc.Timestamp
}

// IsZero reports whether s is the stamp of a field never written.
func (s Stamp) IsZero() bool { return s.HLC == 0 && s.Device == "" && s.OpID == "" }

// Beats reports whether a write stamped s wins over one stamped t: the greater HLC wins;
// on equal HLCs the greater device id (as a string) wins; on equal devices the greater op
// id, so that the rule is a total order and every server picks the same winner.
func (s Stamp) Beats(t Stamp) bool {
	if s.HLC != t.HLC {
		return s.HLC > t.HLC
	}
	if s.Device != t.Device {
		return s.Device > t.Device
	}
	return s.OpID > t.OpID
}

// Concurrent reports whether two writes were made without either knowing of the other:
// from different phones, each later than what the other had seen. Sequential edits (a
// phone pulled the log, then edited it) are not concurrent.
func Concurrent(a, b Stamp) bool {
	return a.Device != b.Device && a.HLC > b.Base && b.HLC > a.Base
}

// Review is a coordinator's decision on a log, stamped with the server's HLC.
type Review struct {
	Status string // schema.StatusApproved or schema.StatusRejected
	Note   string
	By     int64
	At     string // RFC 3339, server time
	HLC    hlc.Timestamp
}

// Log is the merge state of one activity log.
type Log struct {
	ID          string
	VolunteerID int64
	TeamID      int64

	Content schema.Content
	Stamps  [schema.NumFields]Stamp // the winning write of each field; zero if never written
	Created Stamp                   // the least stamp of every write: its Device is the log's device_id
	// OccurredOffsetMS is the device clock offset measured on the push that carried the
	// winning occurred_at; the corrected time is occurred_at minus it.
	OccurredOffsetMS int64

	Deleted    bool
	DeletedHLC hlc.Timestamp // the greatest HLC of the deletes received

	Review      Review // zero when never reviewed
	HadConflict bool

	// Derived by Derive; stored for queries.
	Status      string
	DuplicateOf string
}

// HistoryEntry is a value that is not (or no longer) a field's winner: a value overwritten
// by a later edit, or a concurrent edit that lost. Every write a log received is either
// its field's winner or in its history, so the history is the same whatever order the
// writes arrived in.
type HistoryEntry struct {
	Field schema.Field
	Value json.RawMessage
	Stamp Stamp
}

// Write is an upsert operation's effect: the fields it sets, with its stamp.
type Write struct {
	Stamp
	Mask     schema.FieldMask
	Content  schema.Content
	OffsetMS int64 // device clock offset measured on the push that carried this write
}

// ContentHLC is the greatest HLC of the log's fields: its version as phones see it.
func (l *Log) ContentHLC() hlc.Timestamp {
	var m hlc.Timestamp
	for _, s := range l.Stamps {
		if s.HLC > m {
			m = s.HLC
		}
	}
	return m
}

// Version is the log's version on the wire: the greatest HLC it holds, deletes included.
func (l *Log) Version() hlc.Timestamp {
	v := l.ContentHLC()
	if l.DeletedHLC > v {
		v = l.DeletedHLC
	}
	return v
}

// Complete reports whether the log has every required field (its creation has arrived).
func (l *Log) Complete() bool {
	return l.Content.SetMask()&schema.RequiredFields == schema.RequiredFields
}

// EffectiveReview is the review that stands: none when the log was never reviewed, or when
// a content edit newer than the review has arrived (the log is back to pending).
func (l *Log) EffectiveReview() string {
	if l.Review.Status == "" || l.ContentHLC() > l.Review.HLC {
		return ""
	}
	return l.Review.Status
}

// Outcome returns the log's outcome, completed when unset.
func (l *Log) Outcome() string {
	if l.Content.Outcome == nil {
		return schema.OutcomeCompleted
	}
	return *l.Content.Outcome
}

// OccurredMillis returns occurred_at as Unix milliseconds, and false if unset or unparsable.
func (l *Log) OccurredMillis() (int64, bool) {
	if l.Content.OccurredAt == nil {
		return 0, false
	}
	t, err := time.Parse(time.RFC3339Nano, *l.Content.OccurredAt)
	if err != nil {
		return 0, false
	}
	return t.UnixMilli(), true
}

// CorrectedMillis returns occurred_at corrected by the device clock offset.
func (l *Log) CorrectedMillis() (int64, bool) {
	ms, ok := l.OccurredMillis()
	return ms - l.OccurredOffsetMS, ok
}

// ApplyUpsert merges w into l field by field: for each field w sets, the greater stamp
// wins and the other value goes to the history. hist is the log's history before the
// write (used to tell whether w conflicts with any earlier write); the entries to add are
// returned. A deleted log takes no more writes: ApplyUpsert returns a CodeLogDeleted
// error and changes nothing.
func ApplyUpsert(l *Log, w Write, hist []HistoryEntry) ([]HistoryEntry, error) {
	if l.Deleted {
		return nil, schema.Errorf(schema.CodeLogDeleted, "Nhật ký đã bị xoá; thao tác xoá luôn được ưu tiên / the log was deleted; deletes win")
	}
	var added []HistoryEntry
	conflict := false
	for _, f := range w.Mask.Fields() {
		val := w.Content.FieldJSON(f)
		cur := l.Stamps[f]
		if !cur.IsZero() && Concurrent(w.Stamp, cur) && !bytes.Equal(val, l.Content.FieldJSON(f)) {
			conflict = true
		}
		for _, e := range hist {
			if e.Field == f && Concurrent(w.Stamp, e.Stamp) && !bytes.Equal(val, e.Value) {
				conflict = true
			}
		}
		if cur.IsZero() || w.Stamp.Beats(cur) {
			if !cur.IsZero() {
				added = append(added, HistoryEntry{Field: f, Value: l.Content.FieldJSON(f), Stamp: cur})
			}
			l.Content.CopyField(f, &w.Content)
			l.Stamps[f] = w.Stamp
			if f == schema.FieldOccurredAt {
				l.OccurredOffsetMS = w.OffsetMS
			}
		} else {
			added = append(added, HistoryEntry{Field: f, Value: val, Stamp: w.Stamp})
		}
	}
	if conflict {
		l.HadConflict = true
	}
	if l.Created.IsZero() || l.Created.Beats(w.Stamp) {
		l.Created = w.Stamp
	}
	return added, nil
}

// ApplyDelete makes l a tombstone. Delete wins over every edit, earlier or later: a
// tombstone keeps only the log's identity and owner, and takes no more writes. Its
// content, history and review are dropped (the resident's refs and the note are personal
// data with no further use), so that a tombstone is the same whatever order the log's
// operations arrived in. The caller deletes the stored history.
func ApplyDelete(l *Log, s Stamp) {
	deletedHLC := l.DeletedHLC
	if s.HLC > deletedHLC {
		deletedHLC = s.HLC
	}
	*l = Log{ID: l.ID, VolunteerID: l.VolunteerID, TeamID: l.TeamID, Deleted: true, DeletedHLC: deletedHLC}
}

// beats reports whether review r stands over review o: the greater HLC wins; equal HLCs
// (two servers' clocks) are ordered by reviewer, then decision, then note, so the rule is
// total and every order of arrival gives the same review.
func (r Review) beats(o Review) bool {
	if r.HLC != o.HLC {
		return r.HLC > o.HLC
	}
	if r.By != o.By {
		return r.By > o.By
	}
	if r.Status != o.Status {
		return r.Status > o.Status
	}
	return r.Note > o.Note
}

// ApplyReview records a coordinator's decision. Of two reviews, the one with the greater
// HLC stands (see beats). A review of a deleted or incomplete log is refused with CodeConflict or
// CodeNotFound.
func ApplyReview(l *Log, r Review) error {
	if l.Deleted {
		return schema.Errorf(schema.CodeConflict, "Nhật ký %s đã bị xoá / log %s was deleted", l.ID, l.ID)
	}
	if !l.Complete() {
		return schema.Errorf(schema.CodeNotFound, "Không tìm thấy nhật ký %s / log %s not found", l.ID, l.ID)
	}
	if l.Review.Status == "" || r.beats(l.Review) {
		l.Review = r
	}
	return nil
}

// GroupKey names a once-per-person group: logs of one kind for one person.
type GroupKey struct {
	Kind       string
	CitizenRef string
}

// KeyOf returns the group key of l if l has a citizen_ref and a kind (whatever its
// eligibility), for finding the group it is, or was, in.
func KeyOf(l *Log) (GroupKey, bool) {
	if l.Deleted || l.Content.Kind == nil || l.Content.CitizenRef == nil {
		return GroupKey{}, false
	}
	return GroupKey{Kind: *l.Content.Kind, CitizenRef: *l.Content.CitizenRef}, true
}

// InGroup reports whether l takes part in choosing its group's canonical log: of a
// once-per-person kind, complete, completed, not rejected, not deleted.
func InGroup(l *Log, oncePerPerson func(kind string) bool) bool {
	k, ok := KeyOf(l)
	return ok && oncePerPerson(k.Kind) && l.Complete() && l.Outcome() == schema.OutcomeCompleted &&
		l.EffectiveReview() != schema.StatusRejected
}

// earlier reports whether a comes before b by the phone's (occurred_at, id).
func earlier(a, b *Log) bool {
	am, _ := a.OccurredMillis()
	bm, _ := b.OccurredMillis()
	if am != bm {
		return am < bm
	}
	return a.ID < b.ID
}

// Canonical returns the canonical log of a group: the earliest by the phone's
// (occurred_at, id) among the members in the group, or nil if none is.
func Canonical(members []*Log, oncePerPerson func(kind string) bool) *Log {
	var c *Log
	for _, m := range members {
		if InGroup(m, oncePerPerson) && (c == nil || earlier(m, c)) {
			c = m
		}
	}
	return c
}

// Derive sets l's Status and DuplicateOf from its review and its group's canonical log
// (nil when l is in no group). It reports whether either changed.
func Derive(l *Log, canonical *Log, oncePerPerson func(kind string) bool) bool {
	dup := ""
	if canonical != nil && canonical.ID != l.ID && InGroup(l, oncePerPerson) {
		dup = canonical.ID
	}
	status := schema.StatusPending
	switch eff := l.EffectiveReview(); {
	case eff == schema.StatusRejected:
		status = schema.StatusRejected
	case dup != "":
		status = schema.StatusDuplicate
	case eff == schema.StatusApproved:
		status = schema.StatusApproved
	}
	changed := status != l.Status || dup != l.DuplicateOf
	l.Status, l.DuplicateOf = status, dup
	return changed
}
