package clientsdk_test

import (
	"context"
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cdtsync/cdtsync/clientsdk"
	"github.com/cdtsync/cdtsync/clientsdk/sdktest"
	"github.com/cdtsync/cdtsync/schema"
)

// TestThousandOfflineThenOneSync records 1,000 logs with no network, then syncs once:
// the server holds exactly 1,000, pushed in batches of 200, and the phone shows them all
// synced with the server's state.
func TestThousandOfflineThenOneSync(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := sdktest.Start(t)
	hong := srv.Volunteer(t, "Nguyễn Thị Hồng", srv.TeamSaDec)
	var progress []clientsdk.Progress
	p := newPhone(t, "android-hong-7f3a", clientsdk.Options{OnProgress: func(pr clientsdk.Progress) { progress = append(progress, pr) }})
	p.enroll(srv, srv.TeamSaDec, hong)

	const n = 1000
	hamlets := []int64{srv.VinhPhuoc, srv.CaiSon, srv.DongHue}
	kinds := []string{"vneid_install", "cashless_payment", "online_public_service", "digital_skills"}
	t0 := time.Now()
	for i := 0; i < n; i++ {
		p.record(clientsdk.Entry{HamletID: hamlets[i%3], Kind: kinds[i%4], Note: fmt.Sprintf("Hộ thứ %d", i+1)})
	}
	if got := p.pending(); got != n {
		t.Fatalf("pending before sync = %d, want %d", got, n)
	}
	t.Logf("recorded %d in %v", n, time.Since(t0))
	t0 = time.Now()
	before := srv.Requests()
	rep := p.sync()
	t.Logf("synced in %v", time.Since(t0))
	if rep.Pushed != n || rep.Rejected != 0 {
		t.Errorf("report %+v, want %d pushed", rep, n)
	}
	if got := srv.Count(t, `SELECT count(*) FROM logs WHERE volunteer_id = ?`, hong); got != n {
		t.Errorf("server holds %d logs, want %d", got, n)
	}
	if got := srv.Count(t, `SELECT count(*) FROM ops WHERE volunteer_id = ? AND status = 'applied'`, hong); got != n {
		t.Errorf("server applied %d ops, want %d", got, n)
	}
	pushes := 0
	for _, pr := range progress {
		if pr.Phase == "push" {
			pushes++
			if pr.Total != n {
				t.Errorf("progress total %d", pr.Total)
			}
		}
	}
	if pushes != n/schema.DefaultPushBatch {
		t.Errorf("%d push batches, want %d", pushes, n/schema.DefaultPushBatch)
	}
	t.Logf("1000 logs: %d HTTP requests", srv.Requests()-before)
	if got := p.pending(); got != 0 {
		t.Errorf("pending after sync = %d", got)
	}
	server := srv.Logs(t, srv.TeamSaDec, hong)
	local := p.logs()
	if len(local) != n || len(server) != n {
		t.Fatalf("phone shows %d logs, server %d", len(local), len(server))
	}
	for id, l := range local {
		s := server[id]
		if !l.Synced || l.Status != schema.StatusPending || l.Version != s.Version || !sameContent(l.Content, s.Content) {
			t.Fatalf("log %s on the phone %+v differs from the server %+v", id, l, s)
		}
	}
	if hs, err := p.Hamlets(ctx); err != nil || len(hs) != 3 || hs[0].Name != "Ấp Đông Huề" {
		t.Errorf("hamlets %v %v", hs, err)
	}
	if ks, err := p.Kinds(ctx); err != nil || len(ks) != len(schema.DefaultKinds) {
		t.Errorf("kinds %v %v", ks, err)
	}
	if tm, err := p.Team(ctx); err != nil || tm.Name != "Tổ CNSCĐ khóm Vĩnh Phước" {
		t.Errorf("team %v %v", tm, err)
	}
	// A second Sync has nothing to push and pulls nothing new.
	if rep := p.sync(); rep.Pushed != 0 || rep.Pulled != 0 {
		t.Errorf("second sync %+v", rep)
	}
}

// TestTwoDevicesOfOneVolunteerConverge: Hồng has two phones. Both edit the same log
// offline; after both sync and pull, both phones and the server hold the same log: the
// later note (by HLC), the attendees only one phone set, and the conflict flagged. A
// delete on one phone wins over an edit on the other.
func TestTwoDevicesOfOneVolunteerConverge(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := sdktest.Start(t)
	hong := srv.Volunteer(t, "Nguyễn Thị Hồng", srv.TeamSaDec)
	a := newPhone(t, "android-hong-a", clientsdk.Options{})
	b := newPhone(t, "android-hong-b", clientsdk.Options{})
	a.enroll(srv, srv.TeamSaDec, hong)
	b.enroll(srv, srv.TeamSaDec, hong)

	l := a.record(visit(srv, "Bà Sáu, 78 tuổi"))
	gone := a.record(visit(srv, "Ông Bảy"))
	a.sync()
	b.sync()
	if got := b.logs(); len(got) != 2 || deref(got[l.ID].Note) != "Bà Sáu, 78 tuổi" {
		t.Fatalf("phone B pulled %v", got)
	}

	// Offline on both phones: A edits the note; a moment later B edits the note and the
	// number of attendees. B also edits the log A deletes.
	if _, err := a.Edit(ctx, l.ID, clientsdk.Changes{Note: str("Bà Sáu, 78 tuổi, đã có ảnh")}); err != nil {
		t.Fatal(err)
	}
	if err := a.Delete(ctx, gone.ID); err != nil {
		t.Fatal(err)
	}
	time.Sleep(5 * time.Millisecond)
	if _, err := b.Edit(ctx, l.ID, clientsdk.Changes{Note: str("Bà Sáu và con gái"), Attendees: i64(2)}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Edit(ctx, gone.ID, clientsdk.Changes{Note: str("Ông Bảy, hẹn lại")}); err != nil {
		t.Fatal(err)
	}
	a.sync()
	b.sync() // B's edit of the deleted log is rejected: deletes win
	a.sync()

	server := srv.Logs(t, srv.TeamSaDec, hong)
	want := server[l.ID]
	if deref(want.Note) != "Bà Sáu và con gái" || deref(want.Attendees) != int64(2) || !want.HadConflict {
		t.Errorf("server log: note %v attendees %v conflict %v", deref(want.Note), deref(want.Attendees), want.HadConflict)
	}
	for name, p := range map[string]*phone{"A": a, "B": b} {
		got := p.logs()
		if g := got[l.ID]; !sameContent(g.Content, want.Content) || g.Version != want.Version || !g.HadConflict || !g.Synced {
			t.Errorf("phone %s holds %+v, server %+v", name, g.Log, want)
		}
		if g := got[gone.ID]; !g.Deleted || g.Note != nil {
			t.Errorf("phone %s: deleted log %+v", name, g)
		}
	}
	if s := server[gone.ID]; !s.Deleted {
		t.Errorf("server: log %s not deleted", gone.ID)
	}
	st, _ := b.Status(ctx)
	if rj := st.Volunteers[0].Rejected; len(rj) != 1 || rj[0].Code != schema.CodeLogDeleted || rj[0].LogID != gone.ID {
		t.Errorf("phone B rejected ops: %+v", rj)
	}
}

// TestSharedPhone: Hồng and Minh share one phone. Each one's logs are pushed with their
// own credentials (the server files them under the right volunteer), switching volunteer
// loses nothing, and one volunteer's revoked enrolment does not stop the other's sync nor
// lose their own unsynced logs.
func TestSharedPhone(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := sdktest.Start(t)
	hong := srv.Volunteer(t, "Nguyễn Thị Hồng", srv.TeamSaDec)
	minh := srv.Volunteer(t, "Trần Văn Minh", srv.TeamSaDec)
	p := newPhone(t, "android-giadinh-01", clientsdk.Options{})
	p.enroll(srv, srv.TeamSaDec, hong)
	p.enroll(srv, srv.TeamSaDec, minh)
	if cur, _ := p.Current(ctx); cur.ID != hong {
		t.Fatalf("current volunteer %d, want the first enrolled (%d)", cur.ID, hong)
	}
	mine := map[int64][]string{}
	rec := func(who int64, note string) {
		if err := p.SetCurrent(ctx, who); err != nil {
			t.Fatal(err)
		}
		mine[who] = append(mine[who], p.record(visit(srv, note)).ID)
	}
	rec(hong, "Hồng 1")
	rec(hong, "Hồng 2")
	rec(minh, "Minh 1")
	rec(hong, "Hồng 3")
	rec(minh, "Minh 2")
	p.reopen() // the app restarted in between: still nothing lost
	st, _ := p.Status(ctx)
	pending := map[int64]int{}
	for _, v := range st.Volunteers {
		pending[v.ID] = v.PendingOps
	}
	if pending[hong] != 3 || pending[minh] != 2 {
		t.Fatalf("pending per volunteer %v", pending)
	}
	if cur, _ := p.Current(ctx); cur.ID != minh {
		t.Errorf("current after restart %d, want %d", cur.ID, minh)
	}
	rep := p.sync()
	if rep.Synced != 2 || rep.Pushed != 5 {
		t.Errorf("report %+v", rep)
	}
	for who, ids := range mine {
		logs := srv.Logs(t, srv.TeamSaDec, who)
		if len(logs) != len(ids) {
			t.Errorf("server holds %d logs of volunteer %d, want %d", len(logs), who, len(ids))
		}
		for _, id := range ids {
			if l, ok := logs[id]; !ok || l.VolunteerID != who || l.DeviceID != "android-giadinh-01" {
				t.Errorf("log %s on the server: %+v", id, l)
			}
		}
		p.SetCurrent(ctx, who)
		if got := p.logs(); len(got) != len(ids) {
			t.Errorf("phone shows volunteer %d %d logs, want %d", who, len(got), len(ids))
		}
	}

	// Minh's enrolment on this phone is revoked; Hồng keeps syncing, Minh's new log waits.
	var minhRow int64
	for _, d := range srv.Devices(t, srv.TeamSaDec, minh) {
		minhRow = d.ID
	}
	srv.RevokeDevice(t, srv.TeamSaDec, minhRow)
	rec(minh, "Minh 3")
	rec(hong, "Hồng 4")
	_, err := p.Sync(ctx)
	if schema.ErrorCode(err) != schema.CodeUnauthorized {
		t.Fatalf("sync with a revoked volunteer: %v", err)
	}
	if n := len(srv.Logs(t, srv.TeamSaDec, hong)); n != 4 {
		t.Errorf("Hồng has %d logs on the server, want 4", n)
	}
	st, _ = p.Status(ctx)
	for _, v := range st.Volunteers {
		if v.ID == minh && (!v.NeedsEnrollment || v.PendingOps != 1 || v.LastErrorCode != schema.CodeUnauthorized) {
			t.Errorf("Minh's status %+v", v)
		}
		if v.ID == hong && (v.NeedsEnrollment || v.PendingOps != 0) {
			t.Errorf("Hồng's status %+v", v)
		}
	}
	// A new code re-activates Minh on this phone, and his waiting log goes up.
	p.enroll(srv, srv.TeamSaDec, minh)
	p.sync()
	if n := srv.Count(t, `SELECT count(*) FROM logs WHERE volunteer_id = ?`, minh); n != 3 {
		t.Errorf("Minh has %d logs on the server, want 3", n)
	}
}

// TestWrongPhoneClocks: one of Hồng's phones is 3 days behind, the other 3 days ahead.
// Their logs are accepted, the server's corrected times are right, and edits order by
// real time: the later edit wins even when it comes from the phone whose clock is behind.
func TestWrongPhoneClocks(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := sdktest.Start(t)
	hong := srv.Volunteer(t, "Nguyễn Thị Hồng", srv.TeamSaDec)
	const days3 = 72 * time.Hour
	behind := newPhone(t, "android-hong-cham", clientsdk.Options{})
	ahead := newPhone(t, "android-hong-nhanh", clientsdk.Options{})
	behind.clock.Set(-days3)
	ahead.clock.Set(days3)
	behind.enroll(srv, srv.TeamSaDec, hong)
	ahead.enroll(srv, srv.TeamSaDec, hong)
	near := func(d, want time.Duration) bool { return (d - want).Abs() < time.Minute }
	if off := behind.ClockOffset(); !near(off, days3) {
		t.Errorf("phone behind learned offset %v", off)
	}
	if off := ahead.ClockOffset(); !near(off, -days3) {
		t.Errorf("phone ahead learned offset %v", off)
	}

	// Both record offline: occurred_at is the phone's own (wrong) clock.
	lb := behind.record(visit(srv, "Ghi trên máy chậm"))
	la := ahead.record(visit(srv, "Ghi trên máy nhanh"))
	behind.reopen() // the clock's offset survives a restart
	behind.sync()
	ahead.sync()
	behind.sync()
	server := srv.Logs(t, srv.TeamSaDec, hong)
	now := srv.Clock.Now()
	for _, c := range []struct {
		l    clientsdk.Log
		skew time.Duration
	}{{lb, -days3}, {la, days3}} {
		s, ok := server[c.l.ID]
		if !ok || s.Status != schema.StatusPending {
			t.Fatalf("log %s not accepted: %+v", c.l.ID, s)
		}
		occurred, _ := time.Parse(time.RFC3339, *s.OccurredAt)
		corrected, _ := time.Parse(time.RFC3339Nano, *s.OccurredAtCorrected)
		if !near(occurred.Sub(now), c.skew) {
			t.Errorf("occurred_at %v is not the phone's clock (skew %v)", occurred, c.skew)
		}
		if !near(corrected.Sub(now), 0) {
			t.Errorf("occurred_at_corrected %v, want about %v", corrected, now)
		}
		v, _ := hlcMillis(s.Version)
		if !near(time.UnixMilli(v).Sub(now), 0) {
			t.Errorf("log version %s is not in server time", s.Version)
		}
	}

	// The phone ahead edits first, the phone behind a moment later: the later edit wins.
	if _, err := ahead.Edit(ctx, lb.ID, clientsdk.Changes{Note: str("Sửa trên máy nhanh (trước)")}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(5 * time.Millisecond)
	if _, err := behind.Edit(ctx, lb.ID, clientsdk.Changes{Note: str("Sửa trên máy chậm (sau)")}); err != nil {
		t.Fatal(err)
	}
	ahead.sync()
	behind.sync()
	ahead.sync()
	s := srv.Logs(t, srv.TeamSaDec, hong)[lb.ID]
	if deref(s.Note) != "Sửa trên máy chậm (sau)" {
		t.Errorf("server note %q: the later edit (from the phone behind) must win", deref(s.Note))
	}
	for name, p := range map[string]*phone{"behind": behind, "ahead": ahead} {
		if g := p.logs()[lb.ID]; !sameContent(g.Content, s.Content) || g.Version != s.Version {
			t.Errorf("phone %s holds %+v, server %+v", name, g.Content, s.Content)
		}
	}
}

func hlcMillis(s string) (int64, error) {
	var v uint64
	_, err := fmt.Sscanf(s, "%016x", &v)
	return int64(v >> 16), err
}

// TestRejectedOpsStayVisible: operations the server rejects leave the outbox (they are
// not retried) and stay in Status with the server's code and message, across restarts,
// until dismissed; a later edit fixes a log whose creation was rejected.
func TestRejectedOpsStayVisible(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := sdktest.Start(t)
	hong := srv.Volunteer(t, "Nguyễn Thị Hồng", srv.TeamSaDec)
	p := newPhone(t, "android-hong-7f3a", clientsdk.Options{})
	p.enroll(srv, srv.TeamSaDec, hong)
	// Before the first pull the phone has no pick-lists, so it cannot check the hamlet and
	// kind itself: the server does.
	ok := p.record(visit(srv, "Hợp lệ"))
	wrongHamlet := p.record(clientsdk.Entry{HamletID: srv.MyThuong, Kind: "vneid_install", Note: "Nhầm phường"})
	wrongKind := p.record(clientsdk.Entry{HamletID: srv.CaiSon, Kind: "vneid_level3"})
	// An edit in the same batch is applied: the server holds an incomplete log.
	if _, err := p.Edit(ctx, wrongKind.ID, clientsdk.Changes{Note: str("Chú Ba")}); err != nil {
		t.Fatal(err)
	}
	rep := p.sync()
	if rep.Pushed != 2 || rep.Rejected != 2 {
		t.Fatalf("report %+v", rep)
	}
	check := func() {
		t.Helper()
		st, err := p.Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		v := st.Volunteers[0]
		codes := map[string]clientsdk.RejectedOp{}
		for _, r := range v.Rejected {
			codes[r.LogID] = r
			if r.Message == "" || r.Type != schema.OpUpsert || r.RejectedAt.IsZero() {
				t.Errorf("rejected op %+v", r)
			}
		}
		if v.PendingOps != 0 || len(v.Rejected) != 2 || codes[wrongHamlet.ID].Code != schema.CodeUnknownHamlet ||
			codes[wrongKind.ID].Code != schema.CodeUnknownKind {
			t.Errorf("status %+v", v)
		}
		if m := codes[wrongHamlet.ID].Message; m != fmt.Sprintf("Ấp/thôn %d không thuộc địa bàn của bạn / hamlet %d is not a hamlet in your area", srv.MyThuong, srv.MyThuong) {
			t.Errorf("message %q is not the server's", m)
		}
	}
	check()
	p.reopen()
	check()
	requests := srv.Requests()
	p.sync() // nothing to push: rejected ops are not retried
	if n := srv.Count(t, `SELECT count(*) FROM ops`); n != 4 {
		t.Errorf("server received %d distinct ops, want 4", n)
	}
	if got := srv.Requests() - requests; got != 1 {
		t.Errorf("a sync with nothing to push made %d requests, want 1 pull", got)
	}
	l, _ := p.Log(ctx, wrongHamlet.ID)
	if l.RejectedCode != schema.CodeUnknownHamlet || l.Synced || deref(l.Note) != "Nhầm phường" {
		t.Errorf("rejected log as shown %+v", l)
	}
	// Now the pick-list is known: the phone itself refuses a hamlet outside it.
	if _, err := p.Edit(ctx, wrongHamlet.ID, clientsdk.Changes{HamletID: i64(srv.MyThuong)}); schema.ErrorCode(err) != schema.CodeUnknownHamlet {
		t.Errorf("edit to a hamlet outside the pick-list: %v", err)
	}
	// The fix is a new op; it carries every field, since the server never had the log.
	if _, err := p.Edit(ctx, wrongHamlet.ID, clientsdk.Changes{HamletID: i64(srv.VinhPhuoc)}); err != nil {
		t.Fatal(err)
	}
	p.sync()
	s := srv.Logs(t, srv.TeamSaDec, hong)[wrongHamlet.ID]
	if !s.Complete || deref(s.HamletID) != srv.VinhPhuoc || deref(s.Note) != "Nhầm phường" || deref(s.Kind) != "vneid_install" {
		t.Errorf("fixed log on the server %+v", s)
	}
	if s := srv.Logs(t, srv.TeamSaDec, hong)[wrongKind.ID]; s.Complete {
		t.Fatalf("the server should hold only the edit of a log whose creation it refused: %+v", s)
	}
	if _, err := p.Edit(ctx, wrongKind.ID, clientsdk.Changes{Kind: str("vneid_install")}); err != nil {
		t.Fatal(err)
	}
	p.sync()
	s = srv.Logs(t, srv.TeamSaDec, hong)[wrongKind.ID]
	if !s.Complete || deref(s.HamletID) != srv.CaiSon || deref(s.Note) != "Chú Ba" || deref(s.Kind) != "vneid_install" {
		t.Errorf("fixed log on the server %+v", s)
	}
	st, _ := p.Status(ctx)
	for _, r := range st.Volunteers[0].Rejected {
		if err := p.DismissRejected(ctx, r.OpID); err != nil {
			t.Fatal(err)
		}
	}
	if st, _ := p.Status(ctx); len(st.Volunteers[0].Rejected) != 0 {
		t.Errorf("dismissed ops still listed")
	}
	if err := p.DismissRejected(ctx, ok.ID); schema.ErrorCode(err) != schema.CodeNotFound {
		t.Errorf("dismiss unknown: %v", err)
	}
}

// TestPhoneClockJumpsAheadOffline: after a sync the phone's clock is set 3 days ahead
// while offline (the volunteer changed it, or the battery died and it reset wrong). Its
// stamps are then ahead of server time and the server refuses them (clock_ahead); the SDK
// restarts its clock at server time and sends the same changes again as new ops, so
// nothing is lost, nothing is shown as rejected, and later edits still win. When the
// clock is set right again, edits keep their order.
func TestPhoneClockJumpsAheadOffline(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := sdktest.Start(t)
	hong := srv.Volunteer(t, "Nguyễn Thị Hồng", srv.TeamSaDec)
	p := newPhone(t, "android-hong-7f3a", clientsdk.Options{})
	p.enroll(srv, srv.TeamSaDec, hong)
	first := p.record(visit(srv, "Trước khi đồng hồ nhảy"))
	p.sync()

	p.clock.Set(72 * time.Hour)
	a := p.record(visit(srv, "Đồng hồ nhanh 3 ngày"))
	b := p.record(visit(srv, "Đồng hồ nhanh 3 ngày, hộ thứ hai"))
	if _, err := p.Edit(ctx, a.ID, clientsdk.Changes{Attendees: i64(3)}); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Edit(ctx, first.ID, clientsdk.Changes{Note: str("Sửa khi đồng hồ nhanh")}); err != nil {
		t.Fatal(err)
	}
	p.reopen() // the stamps from ahead survive a restart too
	rep := p.sync()
	if rep.Rejected != 0 {
		t.Errorf("report %+v", rep)
	}
	st, _ := p.Status(ctx)
	if v := st.Volunteers[0]; v.PendingOps != 0 || len(v.Rejected) != 0 {
		t.Errorf("status %+v", v)
	}
	server := srv.Logs(t, srv.TeamSaDec, hong)
	now := srv.Clock.Now()
	for _, id := range []string{a.ID, b.ID} {
		s := server[id]
		corrected, _ := time.Parse(time.RFC3339Nano, deref(s.OccurredAtCorrected).(string))
		if !s.Complete || (corrected.Sub(now)).Abs() > time.Minute {
			t.Errorf("log %s on the server: complete %v, corrected time %v (now %v)", id, s.Complete, corrected, now)
		}
		v, _ := hlcMillis(s.Version)
		if time.UnixMilli(v).Sub(now) > schema.MaxClockAhead {
			t.Errorf("log %s version %s still ahead of server time", id, s.Version)
		}
	}
	if deref(server[a.ID].Attendees) != int64(3) || deref(server[first.ID].Note) != "Sửa khi đồng hồ nhanh" {
		t.Errorf("edits lost: %+v %+v", server[a.ID].Content, server[first.ID].Content)
	}

	// The clock is set right again: a later edit still wins.
	p.clock.Set(0)
	if _, err := p.Edit(ctx, first.ID, clientsdk.Changes{Note: str("Sửa sau khi chỉnh giờ")}); err != nil {
		t.Fatal(err)
	}
	p.sync()
	if s := srv.Logs(t, srv.TeamSaDec, hong)[first.ID]; deref(s.Note) != "Sửa sau khi chỉnh giờ" {
		t.Errorf("note %v: the later edit must win", deref(s.Note))
	}
	if n := srv.Count(t, `SELECT count(*) FROM ops WHERE status = 'rejected'`); n != 4 {
		t.Errorf("%d ops refused as clock_ahead, want the 4 made while ahead", n)
	}
}

// TestDeviceReportsOutbox: each push tells the server what the volunteer's outbox holds
// beyond it, so coordinators see work stuck on a phone, and a phone that sent everything
// shows nothing waiting.
func TestDeviceReportsOutbox(t *testing.T) {
	t.Parallel()
	srv := sdktest.Start(t)
	hong := srv.Volunteer(t, "Nguyễn Thị Hồng", srv.TeamSaDec)
	p := newPhone(t, "android-hong-7f3a", clientsdk.Options{PushBatch: 10})
	p.enroll(srv, srv.TeamSaDec, hong)
	for i := 0; i < 25; i++ {
		p.record(visit(srv, "Hộ gia đình"))
	}
	var pushes atomic.Int32
	srv.Intercept(func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path == "/v1/sync/push" && pushes.Add(1) > 2 {
			answer(w, 500, schema.CodeInternal, "")
			return true
		}
		return false
	})
	if _, err := p.Sync(context.Background()); err == nil {
		t.Fatal("sync succeeded through a failing server")
	}
	d := srv.Devices(t, srv.TeamSaDec, hong)[0]
	if d.PendingOps == nil || *d.PendingOps != 5 || d.OldestPendingAt == "" {
		t.Errorf("device report after 2 of 3 pushes: pending %v, oldest %q", deref(d.PendingOps), d.OldestPendingAt)
	}
	srv.Intercept(nil)
	p.sync()
	d = srv.Devices(t, srv.TeamSaDec, hong)[0]
	if d.PendingOps == nil || *d.PendingOps != 0 || d.OldestPendingAt != "" {
		t.Errorf("device report after everything was sent: pending %v, oldest %q", deref(d.PendingOps), d.OldestPendingAt)
	}
}

// TestRecordWhileSyncing: the app records and edits on the UI thread while a background
// Sync runs (under the race detector in make test); nothing is lost or doubled, and a
// second concurrent Sync waits for the first.
func TestRecordWhileSyncing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := sdktest.Start(t)
	hong := srv.Volunteer(t, "Nguyễn Thị Hồng", srv.TeamSaDec)
	p := newPhone(t, "android-hong-7f3a", clientsdk.Options{PushBatch: 7, PullLimit: 9})
	p.enroll(srv, srv.TeamSaDec, hong)
	stop := make(chan struct{})
	synced := make(chan error, 2)
	for i := 0; i < 2; i++ {
		go func() {
			for {
				select {
				case <-stop:
					synced <- nil
					return
				default:
				}
				if _, err := p.Sync(ctx); err != nil {
					synced <- err
					return
				}
				time.Sleep(50 * time.Millisecond)
			}
		}()
	}
	notes := map[string]string{}
	for i := 0; i < 45; i++ {
		l, err := p.Record(ctx, visit(srv, fmt.Sprintf("Hộ %d", i)))
		if err != nil {
			t.Fatal(err)
		}
		notes[l.ID] = *l.Note
		if i%3 == 0 {
			n := fmt.Sprintf("Hộ %d — sửa", i)
			if _, err := p.Edit(ctx, l.ID, clientsdk.Changes{Note: &n}); err != nil {
				t.Fatal(err)
			}
			notes[l.ID] = n
		}
		if _, err := p.Logs(ctx, clientsdk.LogFilter{Limit: 5}); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	for i := 0; i < 2; i++ {
		if err := <-synced; err != nil {
			t.Fatal(err)
		}
	}
	p.sync()
	server := srv.Logs(t, srv.TeamSaDec, hong)
	local := p.logs()
	if len(server) != 45 || len(local) != 45 {
		t.Fatalf("server %d logs, phone %d", len(server), len(local))
	}
	for id, n := range notes {
		if deref(server[id].Note) != n || !sameContent(local[id].Content, server[id].Content) || !local[id].Synced {
			t.Errorf("log %s: server %q phone %+v want %q", id, deref(server[id].Note), local[id].Log, n)
		}
	}
	if n := srv.Count(t, `SELECT count(*) FROM ops WHERE status = 'applied'`); n != 60 {
		t.Errorf("server applied %d ops, want 60", n)
	}
}

// TestReviewAndSequentialEdits: edits made after pulling the other phone's change carry
// that change's version as their base, so the server does not flag a conflict; the
// coordinator's decision reaches the phone; an edit after the review sends the log back
// to review (docs/PROTOCOL.md §6.3, §6.6).
func TestReviewAndSequentialEdits(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := sdktest.Start(t)
	hong := srv.Volunteer(t, "Nguyễn Thị Hồng", srv.TeamSaDec)
	a := newPhone(t, "android-hong-a", clientsdk.Options{})
	b := newPhone(t, "android-hong-b", clientsdk.Options{})
	a.enroll(srv, srv.TeamSaDec, hong)
	b.enroll(srv, srv.TeamSaDec, hong)
	l := a.record(visit(srv, "Cô Chín"))
	a.sync()
	b.sync()
	if _, err := b.Edit(ctx, l.ID, clientsdk.Changes{Note: str("Cô Chín, bán bánh xèo")}); err != nil {
		t.Fatal(err)
	}
	b.sync()
	a.sync()
	if _, err := a.Edit(ctx, l.ID, clientsdk.Changes{Note: str("Cô Chín, bán bánh xèo, đã có QR")}); err != nil {
		t.Fatal(err)
	}
	a.sync()
	b.sync()
	s := srv.Logs(t, srv.TeamSaDec, hong)[l.ID]
	if s.HadConflict || deref(s.Note) != "Cô Chín, bán bánh xèo, đã có QR" {
		t.Errorf("sequential edits: conflict %v, note %q", s.HadConflict, deref(s.Note))
	}

	srv.Review(t, srv.TeamSaDec, l.ID, schema.StatusApproved, "")
	b.sync()
	if got, _ := b.Log(ctx, l.ID); got.Status != schema.StatusApproved {
		t.Errorf("phone B shows %q after approval", got.Status)
	}
	srv.Review(t, srv.TeamSaDec, l.ID, schema.StatusRejected, "Thiếu ảnh chụp màn hình / no screenshot")
	a.sync()
	if got, _ := a.Log(ctx, l.ID); got.Status != schema.StatusRejected || got.ReviewNote == "" {
		t.Errorf("phone A shows %q (%q) after rejection", got.Status, got.ReviewNote)
	}
	if _, err := a.Edit(ctx, l.ID, clientsdk.Changes{Note: str("Cô Chín, đã gửi ảnh")}); err != nil {
		t.Fatal(err)
	}
	a.sync()
	if got, _ := a.Log(ctx, l.ID); got.Status != schema.StatusPending {
		t.Errorf("after an edit newer than the review the log is %q, want pending", got.Status)
	}
}
