package engine_test

import (
	"context"
	"testing"
	"time"

	"github.com/cdtsync/cdtsync/schema"
	"github.com/cdtsync/cdtsync/store/storetest"
	"github.com/cdtsync/cdtsync/sync/engine"
)

// Conflict rules are tested both ways: where a beats b, b pushed first must give the same.
func TestConcurrentEditsLastWriterWins(t *testing.T) {
	for _, order := range []string{"AB", "BA"} {
		t.Run(order, func(t *testing.T) {
			v := newEnv(t)
			f := v.f
			id := newID()
			h1 := at(-time.Hour)
			v.pushOK(f.HongA, create(id, h1, f.SaDecHamlets[0], "cashless_payment", now.Add(-2*time.Hour), "note", "gốc"))
			// Both phones saw version h1, then edited offline.
			a := upsert(id, at(-10*time.Minute), fields("note", "từ máy A"))
			a.Base = h1.String()
			b := upsert(id, at(-20*time.Minute), fields("note", "từ máy B", "attendees", 3))
			b.Base = h1.String()
			if order == "AB" {
				v.pushOK(f.HongA, a)
				v.pushOK(f.HongB, b)
			} else {
				v.pushOK(f.HongB, b)
				v.pushOK(f.HongA, a)
			}
			l := v.log(f.HongB, id)
			if str(l.Note) != "từ máy A" || *l.Attendees != 3 {
				t.Fatalf("note %q attendees %d: want A's note (newer HLC) and B's attendees (only writer)", str(l.Note), *l.Attendees)
			}
			if !l.HadConflict {
				t.Fatal("concurrent edits of one field not marked as a conflict")
			}
		})
	}
}

func TestSequentialEditsAreNotConflicts(t *testing.T) {
	v := newEnv(t)
	f := v.f
	id := newID()
	h1 := at(-time.Hour)
	v.pushOK(f.HongA, create(id, h1, f.SaDecHamlets[0], "other", now.Add(-2*time.Hour), "note", "một"))
	a := upsert(id, at(-30*time.Minute), fields("note", "hai"))
	a.Base = h1.String()
	v.pushOK(f.HongA, a)
	// Phone B pulled A's edit, then edited.
	b := upsert(id, at(-10*time.Minute), fields("note", "ba"))
	b.Base = at(-30 * time.Minute).String()
	v.pushOK(f.HongB, b)
	l := v.log(f.HongA, id)
	if str(l.Note) != "ba" || l.HadConflict {
		t.Fatalf("note %q conflict %v; want ba without conflict", str(l.Note), l.HadConflict)
	}
}

func TestEqualHLCGreaterDeviceWins(t *testing.T) {
	for _, order := range []string{"AB", "BA"} {
		t.Run(order, func(t *testing.T) {
			v := newEnv(t)
			f := v.f
			id := newID()
			v.pushOK(f.HongA, create(id, at(-time.Hour), f.SaDecHamlets[0], "other", now.Add(-2*time.Hour)))
			h := at(-time.Minute)
			a, b := upsert(id, h, fields("note", "A")), upsert(id, h, fields("note", "B"))
			if order == "AB" {
				v.pushOK(f.HongA, a)
				v.pushOK(f.HongB, b)
			} else {
				v.pushOK(f.HongB, b)
				v.pushOK(f.HongA, a)
			}
			// "phone-hong-b" > "phone-hong-a"
			if l := v.log(f.HongA, id); str(l.Note) != "B" {
				t.Fatalf("note %q, want B (greater device id)", str(l.Note))
			}
		})
	}
}

func TestDeleteWins(t *testing.T) {
	for _, order := range []string{"EditThenDelete", "DeleteThenEdit", "DeleteBeforeCreate"} {
		t.Run(order, func(t *testing.T) {
			v := newEnv(t)
			f := v.f
			id := newID()
			c := create(id, at(-time.Hour), f.SaDecHamlets[0], "vneid_level2", now.Add(-2*time.Hour),
				"citizen_ref", ref(7), "consent", true, "note", "bà Năm")
			edit := upsert(id, at(-time.Minute), fields("note", "sửa sau khi xoá")) // newer than the delete
			d := del(id, at(-30*time.Minute))
			var rs []schema.OpResult
			switch order {
			case "EditThenDelete":
				v.pushOK(f.HongA, c)
				v.pushOK(f.HongB, edit)
				v.pushOK(f.HongA, d)
			case "DeleteThenEdit":
				v.pushOK(f.HongA, c)
				v.pushOK(f.HongA, d)
				rs = v.push(f.HongB, now, edit)
			case "DeleteBeforeCreate":
				v.pushOK(f.HongA, d)
				rs = v.push(f.HongA, now, c, edit)
			}
			for _, r := range rs {
				if r.Status != schema.ResultRejected || r.Code != schema.CodeLogDeleted {
					t.Fatalf("write after delete: %+v", r)
				}
			}
			l := v.log(f.HongB, id)
			if !l.Deleted || l.Note != nil || l.CitizenRef != nil || l.HamletID != nil {
				t.Fatalf("tombstone keeps content: %+v", l)
			}
		})
	}
}

func TestReviewAndEditBackToPending(t *testing.T) {
	v := newEnv(t)
	f := v.f
	ctx := context.Background()
	id := newID()
	v.pushOK(f.HongA, create(id, at(-time.Hour), f.SaDecHamlets[1], "digital_signature", now.Add(-2*time.Hour)))
	rs, err := v.e.Review(ctx, f.CoordSaDec, []engine.Decision{{ID: id, Status: schema.StatusApproved}})
	if err != nil || !rs[0].OK || rs[0].Status != schema.StatusApproved {
		t.Fatalf("review: %+v %v", rs, err)
	}
	if l := v.log(f.HongA, id); l.Status != schema.StatusApproved || l.ReviewedBy == nil || *l.ReviewedBy != f.CoordSaDec.UserID {
		t.Fatalf("approval did not reach the phone: %+v", l)
	}
	// An edit made offline before the review (older HLC) leaves the approval standing.
	v.pushOK(f.HongB, upsert(id, at(-30*time.Minute), fields("note", "ghi chú cũ")))
	if l := v.log(f.HongA, id); l.Status != schema.StatusApproved {
		t.Fatalf("older edit reset the review: %s", l.Status)
	}
	// A newer edit sends it back to pending.
	v.pushOK(f.HongA, upsert(id, v.e.Clock().Tick()+1, fields("note", "sửa sau khi duyệt")))
	if l := v.log(f.HongA, id); l.Status != schema.StatusPending {
		t.Fatalf("newer edit: status %s, want pending", l.Status)
	}

	t.Run("ErrOtherCommune", func(t *testing.T) {
		rs, err := v.e.Review(ctx, f.CoordTanDuong, []engine.Decision{{ID: id, Status: schema.StatusRejected, Note: "sai"}})
		if err != nil || rs[0].OK || rs[0].Code != schema.CodeNotFound {
			t.Fatalf("other commune's coordinator: %+v %v", rs, err)
		}
	})
	t.Run("ErrRejectWithoutReason", func(t *testing.T) {
		rs, err := v.e.Review(ctx, f.CoordSaDec, []engine.Decision{{ID: id, Status: schema.StatusRejected}})
		if err != nil || rs[0].OK || rs[0].Code != schema.CodeInvalid {
			t.Fatalf("%+v %v", rs, err)
		}
	})
	t.Run("ErrVolunteer", func(t *testing.T) {
		if _, err := v.e.Review(ctx, f.HongA, []engine.Decision{{ID: id, Status: schema.StatusApproved}}); schema.ErrorCode(err) != schema.CodeForbidden {
			t.Fatalf("%v", err)
		}
	})
}

func TestOncePerPersonDuplicates(t *testing.T) {
	v := newEnv(t)
	f := v.f
	ctx := context.Background()
	person := ref(42)
	// Minh records at 10:00; Hồng's earlier record (08:00) arrives later.
	late, early := newID(), newID()
	v.pushOK(f.Minh, create(late, at(-time.Hour), f.SaDecHamlets[0], "vneid_level2", now.Add(-5*time.Hour), "citizen_ref", person, "consent", true))
	if l := v.log(f.Minh, late); l.Status != schema.StatusPending {
		t.Fatalf("only log: %s", l.Status)
	}
	v.pushOK(f.HongA, create(early, at(-time.Hour), f.SaDecHamlets[1], "vneid_level2", now.Add(-7*time.Hour), "citizen_ref", person, "consent", true))
	if l := v.log(f.Minh, late); l.Status != schema.StatusDuplicate || l.DuplicateOf != early {
		t.Fatalf("later log: status %s dup of %q, want duplicate of %s", l.Status, l.DuplicateOf, early)
	}
	if l := v.log(f.HongA, early); l.Status != schema.StatusPending || l.DuplicateOf != "" {
		t.Fatalf("earliest log: %s %q", l.Status, l.DuplicateOf)
	}
	// Another kind for the same person is no duplicate; an incomplete attempt neither.
	other, tried := newID(), newID()
	v.pushOK(f.HongA, create(other, at(0), f.SaDecHamlets[1], "cashless_payment", now.Add(-6*time.Hour), "citizen_ref", person, "consent", true),
		create(tried, at(0), f.SaDecHamlets[1], "vneid_level2", now.Add(-9*time.Hour), "citizen_ref", person, "consent", true, "outcome", "incomplete"))
	for _, id := range []string{other, tried} {
		if l := v.log(f.HongA, id); l.Status != schema.StatusPending {
			t.Fatalf("%s: %s", str(l.Kind), l.Status)
		}
	}
	// The canonical log rejected: the next earliest becomes canonical.
	if _, err := v.e.Review(ctx, f.CoordSaDec, []engine.Decision{{ID: early, Status: schema.StatusRejected, Note: "ảnh không rõ"}}); err != nil {
		t.Fatal(err)
	}
	if l := v.log(f.Minh, late); l.Status != schema.StatusPending || l.DuplicateOf != "" {
		t.Fatalf("after rejecting the canonical: %s %q", l.Status, l.DuplicateOf)
	}
	// Approved again (a newer review), it is canonical again and the other a duplicate.
	if _, err := v.e.Review(ctx, f.CoordSaDec, []engine.Decision{{ID: early, Status: schema.StatusApproved}}); err != nil {
		t.Fatal(err)
	}
	if l := v.log(f.Minh, late); l.Status != schema.StatusDuplicate {
		t.Fatalf("after approving the canonical: %s", l.Status)
	}
	// Edited out of the group (another person), the other becomes canonical.
	v.pushOK(f.HongA, upsert(early, v.e.Clock().Tick()+1, fields("citizen_ref", ref(43), "consent", true)))
	if l := v.log(f.Minh, late); l.Status != schema.StatusPending {
		t.Fatalf("after editing the canonical out: %s", l.Status)
	}
	// Deleted: nothing changes for the other.
	v.pushOK(f.HongA, del(early, v.e.Clock().Tick()+1))
	if l := v.log(f.Minh, late); l.Status != schema.StatusPending {
		t.Fatalf("after delete: %s", l.Status)
	}
}

func TestPullScopeAndPaging(t *testing.T) {
	v := newEnv(t)
	f := v.f
	var hong, minh []string
	for i := 0; i < 7; i++ {
		id := newID()
		hong = append(hong, id)
		actor := f.HongA
		if i%2 == 1 {
			actor = f.HongB
		}
		v.pushOK(actor, create(id, at(time.Duration(-i)*time.Minute), f.SaDecHamlets[i%3], "other", now.Add(-time.Hour)))
	}
	for i := 0; i < 3; i++ {
		id := newID()
		minh = append(minh, id)
		v.pushOK(f.Minh, create(id, at(0), f.SaDecHamlets[0], "ecommerce", now.Add(-time.Hour)))
	}
	full := v.pullAll(f.HongA, 1000)
	for _, limit := range []int{1, 2, 3, 5} {
		got := v.pullAll(f.HongB, limit)
		if len(got) != len(hong) {
			t.Fatalf("limit %d: %d logs, want %d", limit, len(got), len(hong))
		}
		for _, id := range hong {
			if got[id].Version != full[id].Version {
				t.Fatalf("limit %d: log %s differs", limit, id)
			}
		}
	}
	for _, id := range minh {
		if _, ok := full[id]; ok {
			t.Fatalf("Hồng pulled Minh's log %s", id)
		}
	}
	// Reference data: only the volunteer's commune, hamlets and team.
	resp, err := v.e.Pull(context.Background(), f.Mai, "", 1000)
	if err != nil {
		t.Fatal(err)
	}
	var units, teams, kinds int
	for _, c := range resp.Changes {
		switch c.Type {
		case schema.ChangeUnit:
			units++
			if c.Unit.ID != f.TanDuong && (c.Unit.ParentID == nil || *c.Unit.ParentID != f.TanDuong) {
				t.Fatalf("Mai pulled unit %s outside Xã Tân Dương", c.Unit.Name)
			}
		case schema.ChangeTeam:
			teams++
			if c.Team.ID != f.TanDuongTeam {
				t.Fatalf("Mai pulled team %s", c.Team.Name)
			}
		case schema.ChangeKind:
			kinds++
		case schema.ChangeLog:
			t.Fatalf("Mai pulled a log of another team: %s", c.Log.ID)
		}
	}
	if units != 3 || teams != 1 || kinds != len(schema.DefaultKinds) {
		t.Fatalf("units %d teams %d kinds %d", units, teams, kinds)
	}
}

func TestPullCursor(t *testing.T) {
	v := newEnv(t)
	f := v.f
	ctx := context.Background()
	resp, err := v.e.Pull(ctx, f.HongA, "", 1000)
	if err != nil || resp.Reset {
		t.Fatalf("%v %v", resp.Reset, err)
	}
	id := newID()
	v.pushOK(f.HongA, create(id, at(0), f.SaDecHamlets[0], "other", now.Add(-time.Hour)))
	next, err := v.e.Pull(ctx, f.HongA, resp.Cursor, 1000)
	if err != nil || len(next.Changes) != 1 || next.Changes[0].Log.ID != id {
		t.Fatalf("incremental pull: %+v %v", next.Changes, err)
	}
	t.Run("OtherDatabase", func(t *testing.T) {
		other := newEnv(t)
		r, err := other.e.Pull(ctx, other.f.HongA, resp.Cursor, 1000)
		if err != nil || !r.Reset || len(r.Changes) == 0 {
			t.Fatalf("cursor of another database: reset %v, %d changes, %v", r.Reset, len(r.Changes), err)
		}
	})
	// A cursor of this database's epoch and the volunteer's scope, but past everything the
	// database has written: what a phone holds after the database was restored to an
	// earlier point without a new epoch. Waiting there would skip every change written
	// until the database catches up; the phone starts over instead and finds them.
	t.Run("PastTheDatabase", func(t *testing.T) {
		c, err := engine.ParseCursor(next.Cursor)
		if err != nil {
			t.Fatal(err)
		}
		past := []engine.Pos{{Tx: 1 << 40, Seq: 1}, {Tx: c.Tx + 1<<40, Seq: c.Seq}}
		if !storetest.Postgres() {
			past = append(past, engine.Pos{Seq: c.Seq + 1<<40}) // SQLite's positions are its change numbers
		}
		for _, pos := range past {
			ahead := engine.Cursor{Epoch: c.Epoch, Scope: c.Scope, Pos: pos}.String()
			r, err := v.e.Pull(ctx, f.HongA, ahead, 1000)
			if err != nil {
				t.Fatal(err)
			}
			found := false
			for _, ch := range r.Changes {
				found = found || (ch.Log != nil && ch.Log.ID == id)
			}
			if !found {
				t.Fatalf("cursor at %+v (the database is at %+v): reset %v, %d changes without the volunteer's log",
					pos, c.Pos, r.Reset, len(r.Changes))
			}
			if !r.Reset {
				t.Fatalf("cursor at %+v past the database (at %+v): no reset", pos, c.Pos)
			}
		}
		// The cursor the database made goes on from where it is.
		r, err := v.e.Pull(ctx, f.HongA, next.Cursor, 1000)
		if err != nil || r.Reset || len(r.Changes) != 0 {
			t.Fatalf("the database's own cursor: reset %v, %d changes, %v", r.Reset, len(r.Changes), err)
		}
	})
	t.Run("ErrGarbage", func(t *testing.T) {
		for _, c := range []string{"abc", "%%%", "MTIz", "djEuLi4x"} {
			if _, err := v.e.Pull(ctx, f.HongA, c, 10); schema.ErrorCode(err) != schema.CodeInvalid {
				t.Fatalf("cursor %q: %v", c, err)
			}
		}
	})
}

// After a restart the server's clock may be behind content it accepted (a phone's HLC up
// to MaxClockAhead ahead): a review made then must still stand over that content.
func TestReviewAfterRestartStands(t *testing.T) {
	v := newEnv(t)
	f := v.f
	id := newID()
	v.pushOK(f.HongA, create(id, at(9*time.Minute), f.SaDecHamlets[0], "vneid_install", now.Add(-time.Hour)))
	restarted := engine.New(v.db, func() time.Time { return now }) // a fresh clock at wall time
	rs, err := restarted.Review(context.Background(), f.CoordSaDec, []engine.Decision{{ID: id, Status: schema.StatusApproved}})
	if err != nil || !rs[0].OK || rs[0].Status != schema.StatusApproved {
		t.Fatalf("review after restart: %+v %v", rs, err)
	}
}

// Pushes and pulls are recorded on the device, for coordinators.
func TestDeviceLastSync(t *testing.T) {
	v := newEnv(t)
	f := v.f
	v.pushOK(f.HongA, create(newID(), at(0), f.SaDecHamlets[0], "other", now.Add(-time.Hour)))
	v.pullAll(f.HongA, 100)
	devs, err := v.db.ListDevices(context.Background(), f.CoordSaDec, schema.DeviceFilter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range devs {
		if d.ID == f.HongA.DeviceRowID {
			if d.LastPushAt == "" || d.LastPullAt == "" {
				t.Fatalf("device %+v: last push %q, last pull %q", d.DeviceID, d.LastPushAt, d.LastPullAt)
			}
			return
		}
	}
	t.Fatal("Hồng's phone not listed")
}
