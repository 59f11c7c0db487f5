package engine_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/cdtsync/cdtsync/schema"
)

func TestPush(t *testing.T) {
	v := newEnv(t)
	f := v.f
	hamlet := f.SaDecHamlets[0]
	occurred := now.Add(-2 * time.Hour)

	t.Run("OK", func(t *testing.T) {
		id := newID()
		op := create(id, at(-time.Hour), hamlet, "vneid_install", occurred, "note", "Hướng dẫn bác Tư cài VNeID")
		rs := v.push(f.HongA, now, op)
		if rs[0].Status != schema.ResultApplied || rs[0].OpID != op.OpID {
			t.Fatalf("got %+v", rs[0])
		}
		l := v.log(f.HongA, id)
		if str(l.Kind) != "vneid_install" || *l.HamletID != hamlet || str(l.Note) != "Hướng dẫn bác Tư cài VNeID" {
			t.Fatalf("pulled %+v", l)
		}
		if l.Status != schema.StatusPending || !l.Complete || l.Deleted || str(l.Outcome) != schema.OutcomeCompleted || *l.Attendees != 1 {
			t.Fatalf("server fields %+v", l)
		}
		if l.DeviceID != "phone-hong-a" || l.TeamID != f.SaDecTeam || l.VolunteerID != f.HongA.UserID {
			t.Fatalf("credential fields %+v", l)
		}
		// Re-sent, whole: already applied, nothing changes.
		rs = v.push(f.HongA, now, op)
		if rs[0].Status != schema.ResultAlreadyApplied {
			t.Fatalf("re-send: %+v", rs[0])
		}
		if l2 := v.log(f.HongA, id); l2.Version != l.Version || l2.Status != l.Status {
			t.Fatalf("re-send changed the log: %+v", l2)
		}
	})

	long := strings.Repeat("ả", schema.MaxNoteRunes+1)
	cases := []struct {
		name string
		op   schema.Op
		code string
	}{
		{"ErrUnknownHamlet", create(newID(), at(0), f.TanDuongHamlets[0], "vneid_install", occurred), schema.CodeUnknownHamlet},
		{"ErrUnknownHamletCommune", create(newID(), at(0), f.SaDec, "vneid_install", occurred), schema.CodeUnknownHamlet},
		{"ErrUnknownKind", create(newID(), at(0), hamlet, "karaoke", occurred), schema.CodeUnknownKind},
		{"ErrNoteTooLong", create(newID(), at(0), hamlet, "other", occurred, "note", long), schema.CodeNoteTooLong},
		{"ErrClockAhead", create(newID(), at(11*time.Minute), hamlet, "other", occurred), schema.CodeClockAhead},
		{"ErrOccurredInFuture", create(newID(), at(0), hamlet, "other", now.Add(time.Hour)), schema.CodeOccurredInFuture},
		{"ErrConsentRequired", create(newID(), at(0), hamlet, "vneid_level2", occurred, "citizen_ref", ref(1)), schema.CodeConsentRequired},
		{"ErrRawCitizenID", create(newID(), at(0), hamlet, "vneid_level2", occurred, "citizen_ref", "087123456789", "consent", true), schema.CodeInvalidField},
		{"ErrServerField", create(newID(), at(0), hamlet, "other", occurred, "status", "approved"), schema.CodeInvalidField},
		{"ErrVolunteerField", create(newID(), at(0), hamlet, "other", occurred, "volunteer_id", 1), schema.CodeInvalidField},
		{"ErrBadOutcome", create(newID(), at(0), hamlet, "other", occurred, "outcome", "maybe"), schema.CodeInvalidField},
		{"ErrNullRequired", upsert(newID(), at(0), fields("kind", nil)), schema.CodeInvalidField},
		{"ErrBadTime", upsert(newID(), at(0), fields("hamlet_id", hamlet, "kind", "other", "occurred_at", "23/11/2026")), schema.CodeInvalidField},
		{"ErrBadHLC", func() schema.Op {
			o := create(newID(), at(0), hamlet, "other", occurred)
			o.HLC = "0190ABCDEF000000"
			return o
		}(), schema.CodeInvalid},
		{"ErrBadID", func() schema.Op { o := create("log-1", at(0), hamlet, "other", occurred); return o }(), schema.CodeInvalid},
		{"ErrDeleteWithFields", func() schema.Op { o := del(newID(), at(0)); o.Fields = fields("note", "x"); return o }(), schema.CodeInvalid},
		{"ErrEmptyUpsert", upsert(newID(), at(0), nil), schema.CodeInvalid},
		{"ErrBadType", func() schema.Op { o := del(newID(), at(0)); o.Type = "merge"; return o }(), schema.CodeInvalid},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			good := create(newID(), at(0), hamlet, "other", occurred)
			rs := v.push(f.HongA, now, c.op, good)
			if rs[0].Status != schema.ResultRejected || rs[0].Code != c.code || rs[0].Message == "" {
				t.Fatalf("got %+v, want rejected %s", rs[0], c.code)
			}
			if rs[1].Status != schema.ResultApplied {
				t.Fatalf("the rest of the batch: %+v", rs[1])
			}
			// A rejected op re-sent is rejected again with the same code.
			if rs2 := v.push(f.HongA, now, c.op); rs2[0].Status != schema.ResultRejected || rs2[0].Code != c.code {
				t.Fatalf("re-send: %+v", rs2[0])
			}
		})
	}

	t.Run("ErrOpIDReused", func(t *testing.T) {
		op := create(newID(), at(0), hamlet, "other", occurred)
		v.pushOK(f.HongA, op)
		op2 := op
		op2.Fields = fields("hamlet_id", hamlet, "kind", "ecommerce", "occurred_at", occurred.Format(time.RFC3339))
		if rs := v.push(f.HongA, now, op2); rs[0].Code != schema.CodeOpIDReused {
			t.Fatalf("got %+v", rs[0])
		}
		// Another volunteer sending the same op id learns nothing of the first.
		if rs := v.push(f.Minh, now, op); rs[0].Code != schema.CodeOpIDReused {
			t.Fatalf("other volunteer: %+v", rs[0])
		}
	})

	t.Run("ErrNotOwner", func(t *testing.T) {
		id := newID()
		v.pushOK(f.HongA, create(id, at(0), hamlet, "other", occurred))
		rs := v.push(f.Minh, now, upsert(id, at(time.Second), fields("note", "sửa hộ")), del(id, at(time.Second)))
		if codes(rs) != "rejected:not_owner rejected:not_owner" {
			t.Fatalf("got %s", codes(rs))
		}
	})

	t.Run("SameOpTwiceInBatch", func(t *testing.T) {
		op := create(newID(), at(0), hamlet, "other", occurred)
		if got := codes(v.push(f.HongA, now, op, op)); got != "applied already_applied" {
			t.Fatalf("got %s", got)
		}
	})

	t.Run("ErrTooLarge", func(t *testing.T) {
		ops := make([]schema.Op, schema.MaxOpsPerPush+1)
		_, err := v.e.Push(context.Background(), f.HongA, schema.PushRequest{DeviceTime: now.Format(time.RFC3339), Ops: ops})
		if schema.ErrorCode(err) != schema.CodeTooLarge {
			t.Fatalf("got %v", err)
		}
	})

	t.Run("ErrNoDeviceTime", func(t *testing.T) {
		_, err := v.e.Push(context.Background(), f.HongA, schema.PushRequest{Ops: []schema.Op{create(newID(), at(0), hamlet, "other", occurred)}})
		if schema.ErrorCode(err) != schema.CodeInvalid {
			t.Fatalf("got %v", err)
		}
	})

	t.Run("ErrNotAVolunteer", func(t *testing.T) {
		_, err := v.e.Push(context.Background(), f.CoordSaDec, schema.PushRequest{DeviceTime: now.Format(time.RFC3339)})
		if schema.ErrorCode(err) != schema.CodeForbidden {
			t.Fatalf("got %v", err)
		}
	})
}

func TestPushConsentWithdrawnClearsRefs(t *testing.T) {
	v := newEnv(t)
	id := newID()
	v.pushOK(v.f.HongA, create(id, at(-time.Minute), v.f.SaDecHamlets[0], "cashless_payment", now.Add(-time.Hour),
		"citizen_ref", ref(1), "household_ref", ref(2), "consent", true))
	v.pushOK(v.f.HongA, upsert(id, at(0), fields("consent", false)))
	l := v.log(v.f.HongA, id)
	if l.CitizenRef != nil || l.HouseholdRef != nil || l.Consent == nil || *l.Consent {
		t.Fatalf("refs kept after consent withdrawn: %+v", l.Content)
	}
}

func TestDeviceClockCorrection(t *testing.T) {
	for _, c := range []struct {
		name   string
		offset time.Duration
	}{{"Behind3Days", -72 * time.Hour}, {"Ahead3Days", 72 * time.Hour}, {"Right", 0}, {"NoiseIgnored", 20 * time.Second}} {
		t.Run(c.name, func(t *testing.T) {
			v := newEnv(t)
			id := newID()
			// The phone says it is 09:00 on its own clock, which is `offset` off.
			real := now.Add(-time.Hour)
			phone := real.Add(c.offset)
			rs := v.push(v.f.HongA, now.Add(c.offset), create(id, at(0), v.f.SaDecHamlets[0], "digital_skills", phone))
			if rs[0].Status != schema.ResultApplied {
				t.Fatalf("%+v", rs[0])
			}
			l := v.log(v.f.HongA, id)
			got, err := time.Parse(time.RFC3339, *l.OccurredAtCorrected)
			if err != nil {
				t.Fatal(err)
			}
			want := real
			if c.name == "NoiseIgnored" {
				want = phone
			}
			if !got.Equal(want) {
				t.Fatalf("corrected %s, want %s (phone said %s)", got, want, *l.OccurredAt)
			}
			if str(l.OccurredAt) != phone.In(vn).Format(time.RFC3339) {
				t.Fatalf("phone's occurred_at not kept: %s", str(l.OccurredAt))
			}
		})
	}
}
