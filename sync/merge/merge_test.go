package merge

import (
	"testing"

	"github.com/cdtsync/cdtsync/schema"
	"github.com/cdtsync/cdtsync/sync/hlc"
)

func s(h uint64, dev, op string) Stamp { return Stamp{HLC: hlc.Timestamp(h), Device: dev, OpID: op} }

// Where a beats b, b does not beat a: the rule is a strict total order.
func TestStampBeats(t *testing.T) {
	for _, c := range []struct {
		name string
		a, b Stamp
	}{
		{"GreaterHLC", s(2, "a", "x"), s(1, "z", "z")},
		{"EqualHLCGreaterDevice", s(2, "phone-b", "x"), s(2, "phone-a", "z")},
		{"EqualHLCAndDeviceGreaterOp", s(2, "phone-a", "y"), s(2, "phone-a", "x")},
	} {
		t.Run(c.name, func(t *testing.T) {
			if !c.a.Beats(c.b) || c.b.Beats(c.a) {
				t.Fatalf("a beats b: %v, b beats a: %v", c.a.Beats(c.b), c.b.Beats(c.a))
			}
		})
	}
	if x := s(1, "a", "x"); x.Beats(x) {
		t.Fatal("a stamp beats itself")
	}
}

func TestConcurrent(t *testing.T) {
	a := Stamp{HLC: 10, Device: "A", Base: 5}
	b := Stamp{HLC: 8, Device: "B", Base: 5}
	if !Concurrent(a, b) || !Concurrent(b, a) {
		t.Fatal("edits that did not see each other are concurrent, both ways")
	}
	seen := Stamp{HLC: 12, Device: "B", Base: 10} // B had seen A's edit
	if Concurrent(a, seen) || Concurrent(seen, a) {
		t.Fatal("an edit after seeing the other is sequential, both ways")
	}
	if Concurrent(a, Stamp{HLC: 9, Device: "A"}) {
		t.Fatal("one phone's edits are never concurrent")
	}
}

func note(v string) schema.Content { return schema.Content{Note: &v} }

// Two writes merged in either order give the same log and the same history set.
func TestApplyUpsertCommutes(t *testing.T) {
	mask := schema.FieldMask(0).With(schema.FieldNote)
	w1 := Write{Stamp: Stamp{HLC: 10, Device: "A", OpID: "1"}, Mask: mask, Content: note("một")}
	w2 := Write{Stamp: Stamp{HLC: 9, Device: "B", OpID: "2"}, Mask: mask, Content: note("hai")}
	run := func(first, second Write) (*Log, []HistoryEntry) {
		l := &Log{ID: "x"}
		h1, _ := ApplyUpsert(l, first, nil)
		h2, _ := ApplyUpsert(l, second, h1)
		return l, append(h1, h2...)
	}
	l1, h1 := run(w1, w2)
	l2, h2 := run(w2, w1)
	if *l1.Content.Note != "một" || *l2.Content.Note != "một" {
		t.Fatalf("winner: %q %q", *l1.Content.Note, *l2.Content.Note)
	}
	if l1.Stamps != l2.Stamps || l1.Created != l2.Created || l1.HadConflict != l2.HadConflict || !l1.HadConflict {
		t.Fatalf("orders differ: %+v / %+v", l1, l2)
	}
	if len(h1) != 1 || len(h2) != 1 || h1[0].Stamp != h2[0].Stamp || string(h1[0].Value) != `"hai"` {
		t.Fatalf("history %+v / %+v", h1, h2)
	}
}

func TestDeleteWins(t *testing.T) {
	l := &Log{ID: "x", VolunteerID: 3}
	ApplyUpsert(l, Write{Stamp: Stamp{HLC: 5, Device: "A", OpID: "1"}, Mask: schema.AllFields &^ (1 << schema.FieldCitizenRef) &^ (1 << schema.FieldHouseholdRef), Content: note("x")}, nil)
	ApplyDelete(l, Stamp{HLC: 1, Device: "B", OpID: "2"}) // an older delete still wins
	if !l.Deleted || l.Content.Note != nil || l.VolunteerID != 3 {
		t.Fatalf("tombstone: %+v", l)
	}
	if _, err := ApplyUpsert(l, Write{Stamp: Stamp{HLC: 99, Device: "A", OpID: "3"}, Mask: 1 << schema.FieldNote, Content: note("y")}, nil); schema.ErrorCode(err) != schema.CodeLogDeleted {
		t.Fatalf("write after delete: %v", err)
	}
}

func complete(id, occurred string, review Review) *Log {
	h, k, ref, o := int64(1), "vneid_level2", "ref", occurred
	return &Log{ID: id, Content: schema.Content{HamletID: &h, Kind: &k, CitizenRef: &ref, OccurredAt: &o},
		Stamps: [schema.NumFields]Stamp{schema.FieldKind: {HLC: 5}}, Review: review}
}

func TestCanonicalAndDerive(t *testing.T) {
	once := func(string) bool { return true }
	a := complete("b-later-id", "2026-11-23T08:00:00+07:00", Review{})
	b := complete("a-earlier-id", "2026-11-23T08:00:00+07:00", Review{}) // same time: the smaller id wins
	c := complete("c", "2026-11-23T07:00:00+07:00", Review{Status: schema.StatusRejected, HLC: 9})
	for _, members := range [][]*Log{{a, b, c}, {c, b, a}} {
		if got := Canonical(members, once); got != b {
			t.Fatalf("canonical %s, want %s", got.ID, b.ID)
		}
	}
	Derive(a, b, once)
	Derive(b, b, once)
	Derive(c, b, once)
	if a.Status != schema.StatusDuplicate || a.DuplicateOf != b.ID || b.Status != schema.StatusPending || c.Status != schema.StatusRejected {
		t.Fatalf("a %s/%s b %s c %s", a.Status, a.DuplicateOf, b.Status, c.Status)
	}
	// A review older than the content no longer stands.
	d := complete("d", "2026-11-23T07:00:00+07:00", Review{Status: schema.StatusApproved, HLC: 4})
	if d.EffectiveReview() != "" {
		t.Fatal("stale review stands")
	}
}

func TestReviewTieIsTotal(t *testing.T) {
	x := Review{Status: schema.StatusApproved, HLC: 7, By: 1}
	y := Review{Status: schema.StatusRejected, HLC: 7, By: 1, Note: "sai"}
	if !y.beats(x) || x.beats(y) {
		t.Fatal("equal-HLC reviews not totally ordered")
	}
}

func TestStampsRoundTrip(t *testing.T) {
	var st [schema.NumFields]Stamp
	st[schema.FieldNote] = Stamp{HLC: 10, Device: "A", OpID: "1", Base: 3}
	st[schema.FieldKind] = Stamp{HLC: 10, Device: "A", OpID: "1", Base: 3}
	st[schema.FieldLat] = Stamp{HLC: 11, Device: "B", OpID: "2"}
	var back [schema.NumFields]Stamp
	if err := DecodeStamps(EncodeStamps(&st), &back); err != nil || back != st {
		t.Fatalf("%v %+v", err, back)
	}
}

// The hand-written encoding reads back, including device ids that need escaping, and
// matches what encoding/json would read.
func TestStampsEncodingEscapes(t *testing.T) {
	var st [schema.NumFields]Stamp
	st[schema.FieldNote] = Stamp{HLC: 10, Device: `máy "Hồng"\1`, OpID: "op<1>", Base: 3}
	st[schema.FieldKind] = Stamp{HLC: 12, Device: "android-7f3a", OpID: "01900000-0000-7000-8000-000000000001"}
	enc := EncodeStamps(&st)
	var back [schema.NumFields]Stamp
	if err := DecodeStamps(enc, &back); err != nil || back != st {
		t.Fatalf("%v %s", err, enc)
	}
	one, err := DecodeStamp(EncodeStamp(st[schema.FieldNote]))
	if err != nil || one != st[schema.FieldNote] {
		t.Fatalf("%v %+v", err, one)
	}
}
