package sqlite_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/cdtsync/cdtsync/schema"
	"github.com/cdtsync/cdtsync/sync/engine"
	"github.com/cdtsync/cdtsync/sync/hlc"
)

// A world for the report tests: a province with two districts, three communes and eight
// hamlets with real names, three teams, volunteers with phones whose clocks are right,
// slightly off (treated as right), hours ahead or days behind, and a model of every log
// computed from the raw operations in plain Go — the rules of docs/PROTOCOL.md §6
// (last writer wins per field, delete wins, reviews, once-per-person duplicates, clock
// correction) — so that the reports can be checked against numbers that owe nothing to
// the store.

var vn = time.FixedZone("ICT", 7*3600)

// worldNow is the server's clock: 5 January 2027, 10:00 in Vietnam.
var worldNow = time.Date(2027, 1, 5, 3, 0, 0, 0, time.UTC)

type wUnit struct {
	id, parent  int64
	level, name string
	code        string
	path        string
	households  *int64
	adults      *int64
}

type wDevice struct {
	actor  schema.Actor
	offset time.Duration // the phone's clock minus real time
	outbox []*wOp
}

type wVolunteer struct {
	id      int64
	name    string
	team    *wTeam
	devices []*wDevice
	revoked bool
}

type wTeam struct {
	id   int64
	name string
	unit *wUnit
}

type wOp struct {
	op      schema.Op
	dev     *wDevice
	hlc     hlc.Timestamp
	fields  map[string]any // the fields as sent (JSON values)
	delete  bool
	applied bool
	// offsetMS is the device offset the server measured on the push that applied the op.
	offsetMS int64
	// expectReject, if set, is the rejection code the op must get.
	expectReject string
}

type wReview struct {
	status string
	hlc    hlc.Timestamp
}

type wLog struct {
	id      string
	vol     *wVolunteer
	team    *wTeam // the volunteer's team when it created the log
	ops     []*wOp
	reviews []wReview
}

type world struct {
	t        testing.TB
	ctx      context.Context
	db       worldDB    // the store the tests run on (reports_stores_test.go)
	adm      worldAdmin // rows written directly
	e        *engine.Engine
	rnd      *rand.Rand
	units    map[int64]*wUnit
	byName   map[string]*wUnit
	teams    []*wTeam
	vols     []*wVolunteer
	logs     map[string]*wLog
	order    []string // log ids in creation order
	kinds    map[string]schema.Kind
	admin    schema.Actor
	coords   map[int64]schema.Actor // by commune
	nextHLC  time.Time              // HLCs of offline edits: increasing, before worldNow
	observed hlc.Timestamp          // greatest HLC the server has applied
	nextID   int
	late     int
}

func newWorld(t testing.TB, seed int64) *world {
	t.Helper()
	w := &world{t: t, ctx: context.Background(), rnd: rand.New(rand.NewSource(seed)), units: map[int64]*wUnit{},
		byName: map[string]*wUnit{}, logs: map[string]*wLog{}, coords: map[int64]schema.Actor{},
		nextHLC: worldNow.Add(-60 * 24 * time.Hour)}
	w.db, w.adm = openWorldStore(t)
	w.e = engine.New(w.db, func() time.Time { return worldNow })
	w.kinds = map[string]schema.Kind{}
	for _, k := range schema.DefaultKinds {
		w.kinds[k.Code] = k
	}
	n := func(v int64) *int64 { return &v }
	p := w.unit(nil, schema.LevelProvince, "Tỉnh", "87", "Tỉnh Đồng Tháp", n(1250000), n(1310000))
	sd := w.unit(p, schema.LevelDistrict, "Thành phố", "867", "Thành phố Sa Đéc", n(30500), nil)
	cl := w.unit(p, schema.LevelDistrict, "Thành phố", "866", "Thành phố Cao Lãnh", nil, nil)
	p1 := w.unit(sd, schema.LevelCommune, "Phường", "29905", "Phường 1", n(1200), n(3400))
	tkd := w.unit(sd, schema.LevelCommune, "Xã", "29914", "Xã Tân Khánh Đông", n(3610), nil)
	mt := w.unit(cl, schema.LevelCommune, "Xã", "29884", "Xã Mỹ Tân", nil, n(11290))
	w.unit(p1, schema.LevelHamlet, "khóm", "", "Khóm Vĩnh Phước", n(420), n(1150))
	w.unit(p1, schema.LevelHamlet, "khóm", "", "Khóm Cái Sơn", n(380), nil)
	w.unit(p1, schema.LevelHamlet, "khóm", "", "Khóm Sa Giang", nil, nil)
	w.unit(tkd, schema.LevelHamlet, "ấp", "", "Ấp Đông Huề", n(300), n(800))
	w.unit(tkd, schema.LevelHamlet, "ấp", "", "Ấp Đông Quới", nil, nil)
	w.unit(tkd, schema.LevelHamlet, "ấp", "", "Ấp Khánh Nhơn", n(250), nil)
	w.unit(mt, schema.LevelHamlet, "ấp", "", "Ấp 1", nil, nil)
	w.unit(mt, schema.LevelHamlet, "ấp", "", "Ấp 2", n(410), n(1020))
	// A hamlet that ended: it appears only if it has figures in a period.
	ended := w.unit(mt, schema.LevelHamlet, "ấp", "", "Ấp 3 (đã sáp nhập)", nil, nil)
	if err := w.adm.endUnit(w.ctx, ended.id, "2026-06-30"); err != nil {
		t.Fatal(err)
	}

	teamA := w.team("Tổ CNSCĐ Phường 1", p1)
	teamB := w.team("Tổ CNSCĐ xã Tân Khánh Đông", tkd)
	teamC := w.team("Tổ CNSCĐ xã Mỹ Tân", mt)
	// Phones: Hồng's second phone is 3 days behind; Đức's is 5 hours ahead; Mai's 20
	// seconds ahead, which the server treats as right (network transit); Lan's 40 minutes
	// behind.
	w.volunteer("Nguyễn Thị Hồng", teamA, 0, -72*time.Hour)
	w.volunteer("Trần Văn Minh", teamA, 0)
	w.volunteer("Lê Thị Mai", teamB, 20*time.Second)
	w.volunteer("Phạm Văn Đức", teamB, 5*time.Hour)
	w.volunteer("Võ Thị Lan", teamC, -40*time.Minute)
	w.volunteer("Đặng Thị Thu", teamA, 0)  // moves to Tân Khánh Đông's team halfway
	w.volunteer("Huỳnh Văn Tài", teamC, 0) // enrolled, never active
	w.volunteer("Bùi Thị Yến", teamB, 0)   // active, then revoked
	w.volunteer("Lý Văn Sang", teamC, 0)   // revoked without activity
	staff := func(role, name, username string, unit int64) schema.Actor {
		id, err := w.adm.staff(w.ctx, role, name, username, unit)
		if err != nil {
			t.Fatal(err)
		}
		return schema.Actor{UserID: id, Role: role, UnitID: unit, UnitPath: w.units[unit].path}
	}
	w.admin = staff(schema.RoleAdmin, "Quản trị viên tỉnh", "admin.dongthap", p.id)
	w.coords[p1.id] = staff(schema.RoleCoordinator, "Phạm Thị Lan", "lan.phuong1", p1.id)
	w.coords[tkd.id] = staff(schema.RoleCoordinator, "Võ Văn Tùng", "tung.tkd", tkd.id)
	w.coords[mt.id] = staff(schema.RoleCoordinator, "Nguyễn Văn Bình", "binh.mytan", mt.id)
	return w
}

func (w *world) unit(parent *wUnit, level, typ, code, name string, hh, adults *int64) *wUnit {
	w.t.Helper()
	u := schema.Unit{Level: level, UnitType: typ, Name: name, Households: hh, Adults: adults}
	if parent != nil {
		u.ParentID = &parent.id
	}
	if code != "" {
		u.Code, u.CodeList = code, "vn-admin-2025-03-01"
	}
	id, err := w.db.CreateUnit(w.ctx, u, "report-test/"+level+"/"+name)
	if err != nil {
		w.t.Fatal(err)
	}
	got, err := w.db.Unit(w.ctx, id)
	if err != nil {
		w.t.Fatal(err)
	}
	wu := &wUnit{id: id, level: level, name: name, code: code, path: got.Path, households: hh, adults: adults}
	if parent != nil {
		wu.parent = parent.id
	}
	w.units[id], w.byName[name] = wu, wu
	return wu
}

func (w *world) team(name string, u *wUnit) *wTeam {
	w.t.Helper()
	t := &wTeam{name: name, unit: u}
	var err error
	if t.id, err = w.adm.team(w.ctx, u.id, name); err != nil {
		w.t.Fatal(err)
	}
	w.teams = append(w.teams, t)
	return t
}

// volunteer adds a volunteer with one phone per clock offset.
func (w *world) volunteer(name string, t *wTeam, offsets ...time.Duration) *wVolunteer {
	w.t.Helper()
	v := &wVolunteer{name: name, team: t}
	var devIDs []string // the volunteer's id goes in the %d
	for i := range offsets {
		devIDs = append(devIDs, "android-%d-"+fmt.Sprint(i))
	}
	id, rows, err := w.adm.volunteer(w.ctx, name, t.unit.id, t.id, devIDs)
	if err != nil {
		w.t.Fatal(err)
	}
	v.id = id
	for i, off := range offsets {
		v.devices = append(v.devices, &wDevice{offset: off, actor: schema.Actor{UserID: v.id, Role: schema.RoleVolunteer,
			UnitID: t.unit.id, UnitPath: t.unit.path, TeamID: t.id, DeviceRowID: rows[i], DeviceID: fmt.Sprintf(devIDs[i], v.id)}})
	}
	w.vols = append(w.vols, v)
	return v
}

func (w *world) vol(name string) *wVolunteer {
	for _, v := range w.vols {
		if v.name == name {
			return v
		}
	}
	w.t.Fatalf("no volunteer %s", name)
	return nil
}

// move moves a volunteer to another team (and its unit); its phones carry on.
func (w *world) move(v *wVolunteer, t *wTeam) {
	w.t.Helper()
	if err := w.adm.moveVolunteer(w.ctx, v.id, t.id, t.unit.id); err != nil {
		w.t.Fatal(err)
	}
	v.team = t
	for _, d := range v.devices {
		d.actor.TeamID, d.actor.UnitID, d.actor.UnitPath = t.id, t.unit.id, t.unit.path
	}
}

func (w *world) revoke(v *wVolunteer) {
	w.t.Helper()
	if err := w.adm.revoke(w.ctx, v.id); err != nil {
		w.t.Fatal(err)
	}
	v.revoked = true
}

func (w *world) newID() string {
	w.nextID++
	// UUIDv7-shaped, unique, in creation order.
	return fmt.Sprintf("0193%04x-%04x-7%03x-8%03x-%012x", w.nextID>>16, w.nextID&0xffff, w.rnd.Intn(0xfff), w.rnd.Intn(0xfff), w.rnd.Int63n(1<<48))
}

// offlineHLC is the HLC of a change made on a phone before the server's now.
func (w *world) offlineHLC() hlc.Timestamp {
	w.nextHLC = w.nextHLC.Add(time.Second)
	if !w.nextHLC.Before(worldNow.Add(-time.Hour)) {
		w.t.Fatal("ran out of offline HLCs")
	}
	return hlc.FromTime(w.nextHLC)
}

// lateHLC is the HLC of a change made after the server's now (and after every review so
// far), within the clock_ahead bound.
func (w *world) lateHLC() hlc.Timestamp {
	w.late++
	return hlc.FromTime(worldNow.Add(2*time.Minute + time.Duration(w.late)*time.Second))
}

func person(n int) string    { return fmt.Sprintf("%064x", 0xc1000+n) }
func household(n int) string { return fmt.Sprintf("%064x", 0x40000+n) }

// record queues a log's creation on a device: real is when it really happened; the phone
// writes its own clock's time.
func (w *world) record(d *wDevice, hamlet *wUnit, kind string, real time.Time, extra map[string]any) *wLog {
	id := w.newID()
	f := map[string]any{"hamlet_id": hamlet.id, "kind": kind, "occurred_at": real.Add(d.offset).In(vn).Format(time.RFC3339)}
	for k, v := range extra {
		f[k] = v
	}
	v := w.volOf(d)
	l := &wLog{id: id, vol: v, team: v.team}
	w.logs[id] = l
	w.order = append(w.order, id)
	w.queue(l, d, w.offlineHLC(), f, false)
	return l
}

func (w *world) volOf(d *wDevice) *wVolunteer {
	for _, v := range w.vols {
		for _, dd := range v.devices {
			if dd == d {
				return v
			}
		}
	}
	panic("unknown device")
}

// edit queues an upsert of some fields of a log, from a device, at an HLC.
func (w *world) edit(l *wLog, d *wDevice, h hlc.Timestamp, f map[string]any) *wOp {
	return w.queue(l, d, h, f, false)
}

func (w *world) del(l *wLog, d *wDevice, h hlc.Timestamp) *wOp { return w.queue(l, d, h, nil, true) }

func (w *world) queue(l *wLog, d *wDevice, h hlc.Timestamp, f map[string]any, del bool) *wOp {
	w.t.Helper()
	op := schema.Op{OpID: w.newID(), ID: l.id, HLC: h.String(), Type: schema.OpUpsert}
	if del {
		op.Type = schema.OpDelete
	} else {
		op.Fields = map[string]json.RawMessage{}
		for k, v := range f {
			b, err := json.Marshal(v)
			if err != nil {
				w.t.Fatal(err)
			}
			op.Fields[k] = b
		}
	}
	o := &wOp{op: op, dev: d, hlc: h, fields: f, delete: del}
	l.ops = append(l.ops, o)
	d.outbox = append(d.outbox, o)
	return o
}

// sync pushes every device's outbox in shuffled batches, some sent twice, devices in
// random order. It checks each op's result and records the offset it was applied with.
func (w *world) sync() {
	w.t.Helper()
	var devs []*wDevice
	for _, v := range w.vols {
		devs = append(devs, v.devices...)
	}
	w.rnd.Shuffle(len(devs), func(i, j int) { devs[i], devs[j] = devs[j], devs[i] })
	for _, d := range devs {
		ops := d.outbox
		d.outbox = nil
		w.rnd.Shuffle(len(ops), func(i, j int) { ops[i], ops[j] = ops[j], ops[i] })
		for len(ops) > 0 {
			n := 1 + w.rnd.Intn(40)
			if n > len(ops) {
				n = len(ops)
			}
			batch := ops[:n]
			ops = ops[n:]
			w.push(d, batch, false)
			if w.rnd.Intn(5) == 0 { // the answer was lost: the phone sends the batch again
				w.push(d, batch, true)
			}
		}
	}
}

func (w *world) push(d *wDevice, batch []*wOp, again bool) {
	w.t.Helper()
	req := schema.PushRequest{DeviceTime: worldNow.Add(d.offset).In(vn).Format(time.RFC3339Nano)}
	for _, o := range batch {
		req.Ops = append(req.Ops, o.op)
	}
	resp, err := w.e.Push(w.ctx, d.actor, req)
	if err != nil {
		w.t.Fatalf("push: %v", err)
	}
	offset := d.offset
	if offset < schema.ClockNoise && offset > -schema.ClockNoise {
		offset = 0
	}
	for i, r := range resp.Results {
		o := batch[i]
		want := schema.ResultApplied
		if again {
			want = schema.ResultAlreadyApplied
		}
		if o.expectReject != "" {
			if r.Status != schema.ResultRejected || r.Code != o.expectReject {
				w.t.Fatalf("op %s: %s %s, want rejected %s", o.op.OpID, r.Status, r.Code, o.expectReject)
			}
			continue
		}
		if r.Status != want {
			// An edit of a log deleted before is refused: deletes win.
			if r.Status == schema.ResultRejected && r.Code == schema.CodeLogDeleted && w.deletedBefore(o) {
				continue
			}
			w.t.Fatalf("op %s (%s of %s): %s %s %s, want %s", o.op.OpID, o.op.Type, o.op.ID, r.Status, r.Code, r.Message, want)
		}
		if !again {
			o.applied, o.offsetMS = true, offset.Milliseconds()
			if o.hlc > w.observed {
				w.observed = o.hlc
			}
		}
	}
}

// deletedBefore reports whether o's log had a delete applied before o.
func (w *world) deletedBefore(o *wOp) bool {
	for _, x := range w.logs[o.op.ID].ops {
		if x.delete && x.applied {
			return true
		}
	}
	return false
}

// review applies coordinators' decisions through the engine, checks they were taken, and
// records them in the model with the HLC the server stamps them with.
func (w *world) review(by schema.Actor, decisions map[*wLog]string) {
	w.t.Helper()
	var ds []engine.Decision
	var ls []*wLog
	for l, st := range decisions {
		note := ""
		if st == schema.StatusRejected {
			note = "Ảnh chụp CCCD không rõ, đề nghị làm lại"
		}
		ds = append(ds, engine.Decision{ID: l.id, Status: st, Note: note})
		ls = append(ls, l)
	}
	res, err := w.e.Review(w.ctx, by, ds)
	if err != nil {
		w.t.Fatal(err)
	}
	for i, r := range res {
		if !r.OK {
			w.t.Fatalf("review of %s: %s %s", r.ID, r.Code, r.Message)
		}
		// The server's clock is fixed at worldNow: its ticks follow the greatest HLC seen.
		stamp := hlc.FromTime(worldNow)
		if w.observed >= stamp {
			stamp = w.observed
		}
		stamp++
		w.observed = stamp
		ls[i].reviews = append(ls[i].reviews, wReview{status: ds[i].Status, hlc: stamp})
	}
}

// mstate is a log's state by the model.
type mstate struct {
	exists, complete, deleted bool
	hamlet                    int64
	kind                      string
	phoneMS, correctedMS      int64
	citizen, household        string
	attendees                 int64
	outcome                   string
	contentHLC                hlc.Timestamp
	review                    string // the review that stands
	status                    string
}

// state computes a log's state from its applied ops: per field, the write with the
// greatest HLC wins; a delete wins over everything; the corrected time is the winning
// occurred_at minus the offset measured on the push that applied it.
func (w *world) state(l *wLog) mstate {
	var s mstate
	var ops []*wOp
	for _, o := range l.ops {
		if !o.applied {
			continue
		}
		s.exists = true
		if o.delete {
			s.deleted = true
		}
		ops = append(ops, o)
	}
	if s.deleted || !s.exists {
		return s
	}
	sort.Slice(ops, func(i, j int) bool { return ops[i].hlc < ops[j].hlc })
	set := map[string]bool{}
	var occurred string
	var occOffset int64
	for _, o := range ops {
		f := o.fields
		create := f["hamlet_id"] != nil && f["kind"] != nil && f["occurred_at"] != nil
		if create {
			if _, ok := f["outcome"]; !ok {
				s.outcome, set["outcome"] = schema.OutcomeCompleted, true
			}
			if _, ok := f["attendees"]; !ok {
				s.attendees, set["attendees"] = 1, true
			}
		}
		for k, v := range f {
			set[k] = true
			switch k {
			case "hamlet_id":
				s.hamlet = v.(int64)
			case "kind":
				s.kind = v.(string)
			case "occurred_at":
				occurred, occOffset = v.(string), o.offsetMS
			case "citizen_ref":
				s.citizen = v.(string)
			case "household_ref":
				s.household = v.(string)
			case "attendees":
				s.attendees = v.(int64)
			case "outcome":
				s.outcome = v.(string)
			case "consent":
				if !v.(bool) {
					s.citizen, s.household = "", ""
				}
			}
		}
		if o.hlc > s.contentHLC {
			s.contentHLC = o.hlc
		}
	}
	s.complete = set["hamlet_id"] && set["kind"] && set["occurred_at"]
	if s.outcome == "" {
		s.outcome = schema.OutcomeCompleted
	}
	if occurred != "" {
		t, err := time.Parse(time.RFC3339, occurred)
		if err != nil {
			w.t.Fatal(err)
		}
		s.phoneMS = t.UnixMilli()
		s.correctedMS = s.phoneMS - occOffset
	}
	if n := len(l.reviews); n > 0 && l.reviews[n-1].hlc >= s.contentHLC {
		s.review = l.reviews[n-1].status
	}
	return s
}

// states computes every log's state, with the once-per-person duplicates and statuses.
func (w *world) states() map[string]*mstate {
	out := map[string]*mstate{}
	type gk struct{ kind, ref string }
	groups := map[gk][]string{}
	for _, id := range w.order {
		s := w.state(w.logs[id])
		out[id] = &s
		if s.deleted || !s.complete || s.outcome != schema.OutcomeCompleted || s.review == schema.StatusRejected ||
			s.citizen == "" || !w.kinds[s.kind].OncePerPerson {
			continue
		}
		groups[gk{s.kind, s.citizen}] = append(groups[gk{s.kind, s.citizen}], id)
	}
	dup := map[string]bool{}
	for _, ids := range groups {
		sort.Slice(ids, func(i, j int) bool {
			a, b := out[ids[i]], out[ids[j]]
			if a.phoneMS != b.phoneMS {
				return a.phoneMS < b.phoneMS
			}
			return ids[i] < ids[j]
		})
		for _, id := range ids[1:] {
			dup[id] = true
		}
	}
	for id, s := range out {
		switch {
		case s.review == schema.StatusRejected:
			s.status = schema.StatusRejected
		case dup[id]:
			s.status = schema.StatusDuplicate
		case s.review == schema.StatusApproved:
			s.status = schema.StatusApproved
		default:
			s.status = schema.StatusPending
		}
	}
	return out
}

// under reports whether unit u is in the subtree of root.
func (w *world) under(u, root int64) bool {
	return strings.HasPrefix(w.units[u].path, w.units[root].path)
}

func vnDay(ms int64) string { return time.UnixMilli(ms).In(vn).Format(time.DateOnly) }
