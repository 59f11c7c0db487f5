package sqlite_test

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cdtsync/cdtsync/report"
	"github.com/cdtsync/cdtsync/schema"
	"github.com/cdtsync/cdtsync/store/sqlite"
)

// real returns an instant in Vietnam time.
func real(y int, m time.Month, d, hh, mm, ss int) time.Time {
	return time.Date(y, m, d, hh, mm, ss, 0, vn)
}

// scenario builds the world's activity in two rounds with reviews between and after, and
// calls check after each step with a label.
func (w *world) scenario(check func(label string)) {
	h := func(name string) *wUnit { return w.byName[name] }
	hong, minh, mai, duc, lan, thu, yen :=
		w.vol("Nguyễn Thị Hồng"), w.vol("Trần Văn Minh"), w.vol("Lê Thị Mai"), w.vol("Phạm Văn Đức"),
		w.vol("Võ Thị Lan"), w.vol("Đặng Thị Thu"), w.vol("Bùi Thị Yến")
	hamletsOf := map[int64][]*wUnit{}
	for _, u := range w.units {
		if u.level == schema.LevelHamlet && !w.endedUnit(u) {
			hamletsOf[u.parent] = append(hamletsOf[u.parent], u)
		}
	}
	for _, hs := range hamletsOf {
		sort.Slice(hs, func(i, j int) bool { return hs[i].id < hs[j].id })
	}
	var allHamlets []*wUnit
	for _, c := range []string{"Phường 1", "Xã Tân Khánh Đông", "Xã Mỹ Tân"} {
		allHamlets = append(allHamlets, hamletsOf[w.byName[c].id]...)
	}
	// 70 residents with a home hamlet; two per household.
	const nPeople = 70
	home := make([]*wUnit, nPeople)
	for i := range home {
		home[i] = allHamlets[i%len(allHamlets)]
	}
	ref := func(p int, withHousehold bool) map[string]any {
		f := map[string]any{"citizen_ref": person(p), "consent": true}
		if withHousehold {
			f["household_ref"] = household(p / 2)
		}
		return f
	}
	kinds := []string{"vneid_install", "vneid_level2", "vneid_level2", "cashless_payment", "digital_signature",
		"online_public_service", "ecommerce", "digital_skills", "local_app", "other"}
	active := []*wVolunteer{hong, minh, mai, duc, lan, thu, yen}
	// random records n logs with real times between from and to (Vietnam dates).
	random := func(n int, from, to time.Time) []*wLog {
		var out []*wLog
		days := int(to.Sub(from).Hours()/24) + 1
		for i := 0; i < n; i++ {
			v := active[w.rnd.Intn(len(active))]
			d := v.devices[w.rnd.Intn(len(v.devices))]
			commune := v.team.unit.id
			p := w.rnd.Intn(nPeople)
			hamlet := home[p]
			if hamlet.parent != commune || w.rnd.Intn(5) == 0 { // met away from home, at the market
				hs := hamletsOf[commune]
				hamlet = hs[w.rnd.Intn(len(hs))]
			}
			day := from.AddDate(0, 0, w.rnd.Intn(days))
			t := day.Add(time.Duration(7*3600+w.rnd.Intn(14*3600)) * time.Second)
			if w.rnd.Intn(12) == 0 { // near midnight
				t = day.Add(24*time.Hour - time.Duration(1+w.rnd.Intn(600))*time.Second)
				if w.rnd.Intn(2) == 0 {
					t = day.Add(time.Duration(w.rnd.Intn(600)) * time.Second)
				}
			}
			kind := kinds[w.rnd.Intn(len(kinds))]
			extra := map[string]any{}
			if kind == "digital_skills" && w.rnd.Intn(2) == 0 {
				extra["attendees"] = int64(5 + w.rnd.Intn(36)) // a group session
			} else if w.rnd.Intn(7) != 0 {
				extra = ref(p, w.rnd.Intn(2) == 0)
			}
			if w.rnd.Intn(8) == 0 {
				extra["outcome"] = schema.OutcomeIncomplete
			}
			out = append(out, w.record(d, hamlet, kind, t, extra))
		}
		return out
	}

	// Round 1: late September to mid-November.
	r1 := random(180, real(2026, 9, 25, 0, 0, 0), real(2026, 11, 15, 0, 0, 0))
	// A resident reached in two hamlets of Phường 1 and in Tân Khánh Đông.
	w.record(hong.devices[0], h("Khóm Vĩnh Phước"), "vneid_install", real(2026, 10, 2, 9, 0, 0), ref(0, true))
	w.record(minh.devices[0], h("Khóm Cái Sơn"), "cashless_payment", real(2026, 10, 20, 15, 0, 0), ref(0, true))
	w.record(mai.devices[0], h("Ấp Đông Huề"), "online_public_service", real(2026, 11, 3, 10, 0, 0), ref(0, false))
	// Level-2 e-ID for person 1 twice: Hồng's phone 3 days behind says 7/11 for a visit on
	// 10/11; Minh's (right) clock says 8/11. The phone times decide the canonical log
	// (Hồng's), the corrected time the report period (10/11).
	dupHong := w.record(hong.devices[1], h("Khóm Vĩnh Phước"), "vneid_level2", real(2026, 11, 10, 9, 0, 0), ref(1, true))
	dupMinh := w.record(minh.devices[0], h("Khóm Cái Sơn"), "vneid_level2", real(2026, 11, 8, 14, 0, 0), ref(1, true))
	// Person 2: Mai's level-2 (canonical) will be rejected, Đức's takes over.
	canonMai := w.record(mai.devices[0], h("Ấp Đông Quới"), "vneid_level2", real(2026, 10, 5, 8, 0, 0), ref(2, false))
	w.record(duc.devices[0], h("Ấp Khánh Nhơn"), "vneid_level2", real(2026, 10, 20, 8, 0, 0), ref(2, false))
	// Person 3: Minh's digital signature (canonical) will be deleted, Thu's takes over.
	canonMinh := w.record(minh.devices[0], h("Khóm Sa Giang"), "digital_signature", real(2026, 10, 3, 16, 0, 0), ref(3, true))
	w.record(thu.devices[0], h("Khóm Vĩnh Phước"), "digital_signature", real(2026, 10, 9, 16, 0, 0), ref(3, true))
	// Clocks near midnight: Lan's phone, 40 minutes behind, says 30/9 23:40 for 1/10 00:20;
	// Mai's, 20 seconds ahead (treated as right), says 1/12 00:00:10 for 30/11 23:59:50;
	// Đức's, 5 hours ahead, says 1/1/2027 01:00 for 31/12 20:00.
	w.record(lan.devices[0], h("Ấp 1"), "vneid_install", real(2026, 10, 1, 0, 20, 0), ref(4, true))
	w.record(mai.devices[0], h("Ấp Đông Huề"), "cashless_payment", real(2026, 11, 30, 23, 59, 50), ref(5, true))
	w.record(lan.devices[0], h("Ấp 2"), "local_app", real(2026, 10, 31, 23, 59, 59), ref(6, false))
	w.record(hong.devices[0], h("Khóm Vĩnh Phước"), "other", real(2026, 11, 1, 0, 0, 0), ref(7, false))
	// A log in a hamlet that has since been merged away.
	w.record(lan.devices[0], h("Ấp 3 (đã sáp nhập)"), "vneid_install", real(2026, 9, 28, 10, 0, 0), ref(8, false))
	// Recording into another commune's hamlet is refused.
	bad := w.record(hong.devices[0], h("Ấp Đông Huề"), "vneid_install", real(2026, 10, 7, 9, 0, 0), ref(9, false))
	bad.ops[0].expectReject = schema.CodeUnknownHamlet
	// A move across midnight and months: 31/10 23:55 becomes 1/11 00:05.
	moved := w.record(minh.devices[0], h("Khóm Cái Sơn"), "vneid_install", real(2026, 10, 31, 23, 55, 0), ref(10, true))
	w.edit(moved, minh.devices[0], w.offlineHLC(), map[string]any{"occurred_at": real(2026, 11, 1, 0, 5, 0).Format(time.RFC3339)})
	// An incomplete attempt completed later; a consent withdrawn; a typo in the CCCD fixed.
	retry := w.record(duc.devices[0], h("Ấp Khánh Nhơn"), "vneid_level2", real(2026, 10, 12, 9, 0, 0),
		merge(ref(11, true), map[string]any{"outcome": schema.OutcomeIncomplete}))
	w.edit(retry, duc.devices[0], w.offlineHLC(), map[string]any{"outcome": schema.OutcomeCompleted})
	withdrawn := w.record(thu.devices[0], h("Khóm Sa Giang"), "ecommerce", real(2026, 10, 14, 11, 0, 0), ref(12, true))
	w.edit(withdrawn, thu.devices[0], w.offlineHLC(), map[string]any{"consent": false})
	typo := w.record(hong.devices[0], h("Khóm Cái Sơn"), "cashless_payment", real(2026, 10, 16, 11, 0, 0), ref(13, true))
	w.edit(typo, hong.devices[0], w.offlineHLC(), map[string]any{"citizen_ref": person(14), "consent": true})
	// An edit whose creation never arrives: the log stays incomplete and counts nowhere.
	lost := &wLog{id: w.newID(), vol: hong, team: hong.team}
	w.logs[lost.id], w.order = lost, append(w.order, lost.id)
	w.edit(lost, hong.devices[0], w.offlineHLC(), map[string]any{"note": "bổ sung ảnh"})
	// A delete that arrives before its creation: the creation is refused.
	early := &wLog{id: w.newID(), vol: mai, team: mai.team}
	w.logs[early.id], w.order = early, append(w.order, early.id)
	w.del(early, mai.devices[0], w.offlineHLC())
	w.sync()
	createEarly := w.queue(early, mai.devices[0], w.offlineHLC(), map[string]any{"hamlet_id": h("Ấp Đông Huề").id,
		"kind": "vneid_install", "occurred_at": real(2026, 10, 10, 9, 0, 0).Format(time.RFC3339)}, false)
	createEarly.expectReject = schema.CodeLogDeleted
	// An edit arriving before its creation.
	late := &wLog{id: w.newID(), vol: lan, team: lan.team}
	w.logs[late.id], w.order = late, append(w.order, late.id)
	createLate := map[string]any{"hamlet_id": h("Ấp 2").id, "kind": "digital_skills", "occurred_at": real(2026, 11, 12, 14, 0, 0).Add(-40 * time.Minute).Format(time.RFC3339)}
	hCreate := w.offlineHLC()
	w.edit(late, lan.devices[0], w.offlineHLC(), map[string]any{"attendees": int64(27)})
	w.sync()
	w.queue(late, lan.devices[0], hCreate, createLate, false)
	w.sync()
	check("round 1")

	// Reviews: each commune's coordinator approves about half of what it sees and rejects
	// some, with the canonical level-2 of person 2 rejected.
	st := w.states()
	for commune, coord := range w.coords {
		decisions := map[*wLog]string{}
		for _, id := range w.order {
			s := st[id]
			if !s.exists || s.deleted || !s.complete || !w.under(s.hamlet, commune) {
				continue
			}
			switch r := w.rnd.Intn(20); {
			case r < 9:
				decisions[w.logs[id]] = schema.StatusApproved
			case r < 11:
				decisions[w.logs[id]] = schema.StatusRejected
			}
		}
		if commune == w.byName["Xã Tân Khánh Đông"].id {
			decisions[canonMai] = schema.StatusRejected
		}
		if commune == w.byName["Phường 1"].id {
			decisions[dupHong], decisions[dupMinh] = schema.StatusApproved, schema.StatusApproved
		}
		w.review(coord, decisions)
	}
	check("reviews 1")

	// Round 2: Thu moves to Tân Khánh Đông's team; Yến is revoked after her last sync.
	w.move(thu, w.teams[1])
	random(170, real(2026, 11, 16, 0, 0, 0), real(2026, 12, 31, 0, 0, 0))
	w.record(duc.devices[0], h("Ấp Đông Quới"), "cashless_payment", real(2026, 12, 31, 20, 0, 0), ref(15, true))
	w.del(canonMinh, minh.devices[0], w.offlineHLC())
	// Edits of round-1 logs: moves to another hamlet of the commune, deletions, changes of
	// attendees; some made offline before the reviews (older HLCs: an approval stands),
	// some after (newer HLCs: back to pending).
	for i, l := range r1 {
		if l.vol == thu { // Thu's phones now work for another commune
			continue
		}
		d := l.vol.devices[0]
		stamp := w.offlineHLC()
		if i%3 == 0 {
			stamp = w.lateHLC()
		}
		switch r := w.rnd.Intn(100); {
		case r < 7:
			w.del(l, d, stamp)
		case r < 14:
			hs := hamletsOf[l.vol.team.unit.id]
			w.edit(l, d, stamp, map[string]any{"hamlet_id": hs[w.rnd.Intn(len(hs))].id})
		case r < 18:
			w.edit(l, d, stamp, map[string]any{"occurred_at": real(2026, 11, 1+w.rnd.Intn(28), 23, 58, 0).Add(d.offset).Format(time.RFC3339)})
		case r < 21:
			w.edit(l, d, stamp, map[string]any{"outcome": schema.OutcomeIncomplete})
		case r < 24:
			w.edit(l, d, stamp, map[string]any{"note": "đã kiểm tra lại"})
		}
	}
	w.sync()
	w.revoke(yen)
	check("round 2")

	st = w.states()
	for commune, coord := range w.coords {
		decisions := map[*wLog]string{}
		for _, id := range w.order {
			s := st[id]
			if !s.exists || s.deleted || !s.complete || !w.under(s.hamlet, commune) {
				continue
			}
			switch r := w.rnd.Intn(20); {
			case r < 6:
				decisions[w.logs[id]] = schema.StatusApproved
			case r < 7:
				decisions[w.logs[id]] = schema.StatusRejected
			}
		}
		w.review(coord, decisions)
	}
	check("reviews 2")
}

func merge(a, b map[string]any) map[string]any {
	for k, v := range b {
		a[k] = v
	}
	return a
}

// reportPeriods are the periods the test checks: aligned (a quarter, a month, the year)
// and not (ends mid-month, a single day near midnight, across a year).
var reportPeriods = [][2]string{
	{"2026-10-01", "2026-12-31"},
	{"2026-11-01", "2026-11-30"},
	{"2026-01-01", "2026-12-31"},
	{"2026-10-15", "2026-12-07"},
	{"2026-11-01", "2026-11-01"},
	{"2026-12-01", "2026-12-01"},
	{"2026-09-28", "2026-10-01"},
	{"2026-12-31", "2027-01-01"},
}

// TestReportsMatchModel generates a realistic dataset through the real sync engine —
// communes and hamlets with real names, volunteers on phones with wrong clocks, residents
// reached in several hamlets and communes, once-per-person duplicates, incomplete
// attempts, deletions, rejections, edits moving logs to other hamlets and across
// midnight, a volunteer who moves teams — and checks every number of the coverage and
// team reports, at every level, for several periods and both switches, against values
// computed from the raw operations in plain Go. After every round and every batch of
// reviews, and finally against aggregates rebuilt from scratch.
func TestReportsMatchModel(t *testing.T) {
	for _, seed := range []int64{1, 2} {
		t.Run(fmt.Sprint("seed ", seed), func(t *testing.T) {
			w := newWorld(t, seed)
			var targets []wTarget
			w.scenario(func(label string) {
				if label == "round 1" {
					targets = w.importTargets(t)
				}
				w.checkReports(t, label, targets, label == "reviews 2")
			})
			w.checkStatusesPulled(t)
			before, err := w.adm.dumpReports(w.ctx)
			if err != nil {
				t.Fatal(err)
			}
			if err := w.db.RebuildReports(w.ctx); err != nil {
				t.Fatal(err)
			}
			after, err := w.adm.dumpReports(w.ctx)
			if err != nil {
				t.Fatal(err)
			}
			if before != after {
				t.Errorf("aggregates kept up to date differ from aggregates rebuilt from the logs:\n%s", firstDiff(before, after))
			}
			w.checkReports(t, "rebuilt", targets, true)
		})
	}
}

func firstDiff(a, b string) string {
	la, lb := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := 0; i < len(la) && i < len(lb); i++ {
		if la[i] != lb[i] {
			return fmt.Sprintf("line %d:\n  kept:    %s\n  rebuilt: %s", i+1, la[i], lb[i])
		}
	}
	return fmt.Sprintf("lengths %d and %d", len(la), len(lb))
}

// importTargets imports targets, twice with a changed value and once unchanged, and
// returns them as the model sees them (every version, in order).
func (w *world) importTargets(t *testing.T) []wTarget {
	p, p1, tkd, vp := w.byName["Tỉnh Đồng Tháp"].id, w.byName["Phường 1"].id, w.byName["Xã Tân Khánh Đông"].id, w.byName["Khóm Vĩnh Phước"].id
	file1 := fmt.Sprintf("unit_id,code_list,code,metric,period,value\n"+
		",vn-admin-2025-03-01,87,people,2026,100\n"+
		"%d,,,people,2026-Q4,40\n"+
		"%d,,,households,2026,30\n"+
		"%d,,,vneid_level2,2026-11,10\n"+
		"%d,,,people,2026-12,5\n"+
		"%d,,,digital_skills,2026,200\n"+
		"%d,,,vneid_install,2026-q4,0\n", p1, p1, p1, vp, tkd, tkd)
	file2 := fmt.Sprintf("code_list;code;metric;period;value;note\n" +
		"vn-admin-2025-03-01;87;people;2026;1.500;Sở TT&TT giao\n" +
		"vn-admin-2025-03-01;29905;people;2026-Q4;40;không đổi\n")
	var model []wTarget
	for i, f := range []string{file1, file2, file2} {
		rows, err := report.ParseTargets(strings.NewReader(f), "")
		if err != nil {
			t.Fatalf("file %d: %v", i+1, err)
		}
		rep, err := w.db.ImportTargets(w.ctx, rows, fmt.Sprintf("chi-tieu-%d.csv", i+1))
		if err != nil {
			t.Fatalf("file %d: %v", i+1, err)
		}
		want := []sqlite.TargetImportReport{{Rows: 7, Added: 7}, {Rows: 2, Added: 1, Unchanged: 1}, {Rows: 2, Unchanged: 2}}[i]
		if rep != want {
			t.Errorf("import %d: %+v, want %+v", i+1, rep, want)
		}
	}
	model = append(model,
		wTarget{p, "people", "2026", 100}, wTarget{p1, "people", "2026-Q4", 40}, wTarget{p1, "households", "2026", 30},
		wTarget{p1, "vneid_level2", "2026-11", 10}, wTarget{vp, "people", "2026-12", 5}, wTarget{tkd, "digital_skills", "2026", 200},
		wTarget{tkd, "vneid_install", "2026-Q4", 0}, wTarget{p, "people", "2026", 1500})
	return model
}

// checkReports compares the store's reports with the model's for several roots, periods
// and both switches: every period when full, a quarter, a mid-month period and a day near
// midnight otherwise.
func (w *world) checkReports(t *testing.T, label string, targets []wTarget, full bool) {
	t.Helper()
	st := w.states()
	periods := reportPeriods
	if !full {
		periods = [][2]string{reportPeriods[0], reportPeriods[3], reportPeriods[5]}
	}
	roots := []schema.Actor{w.admin}
	for _, name := range []string{"Thành phố Sa Đéc", "Phường 1", "Xã Mỹ Tân", "Khóm Vĩnh Phước"} {
		a := w.admin
		u := w.byName[name].id
		a.UnitID = u // the admin asks for the unit with ?unit=
		roots = append(roots, a)
	}
	for _, period := range periods {
		for ri, a := range roots {
			root := w.byName["Tỉnh Đồng Tháp"].id
			var unit *int64
			if ri > 0 {
				root = a.UnitID
				unit = &root
			}
			for _, approved := range []bool{false, true} {
				f := schema.ReportFilter{Unit: unit, From: period[0], To: period[1], ApprovedOnly: approved}
				got, err := w.db.Coverage(w.ctx, w.admin, f)
				if err != nil {
					t.Fatalf("%s: coverage %+v: %v", label, f, err)
				}
				got = roundTrip(t, got)
				want := w.modelCoverage(st, targets, root, period[0], period[1], approved)
				w.compareCoverage(t, fmt.Sprintf("%s, coverage of %s %s–%s approved_only=%v", label, w.units[root].name, period[0], period[1], approved), got, want)
			}
			teams, err := w.db.TeamOutput(w.ctx, w.admin, schema.ReportFilter{Unit: unit, From: period[0], To: period[1]})
			if err != nil {
				t.Fatalf("%s: teams: %v", label, err)
			}
			w.compareTeams(t, fmt.Sprintf("%s, teams of %s %s–%s", label, w.units[root].name, period[0], period[1]), roundTripTeams(t, teams),
				w.modelTeams(st, root, period[0], period[1]))
		}
	}
	// A coordinator without ?unit= gets its own commune.
	p1 := w.byName["Phường 1"].id
	got, err := w.db.Coverage(w.ctx, w.coords[p1], schema.ReportFilter{From: "2026-10-01", To: "2026-12-31"})
	if err != nil {
		t.Fatal(err)
	}
	w.compareCoverage(t, label+", Phường 1's coordinator", got, w.modelCoverage(st, targets, p1, "2026-10-01", "2026-12-31", false))
}

func roundTrip(t *testing.T, r schema.CoverageReport) schema.CoverageReport {
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var out schema.CoverageReport
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func roundTripTeams(t *testing.T, r schema.TeamReport) schema.TeamReport {
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var out schema.TeamReport
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func (w *world) compareCoverage(t *testing.T, what string, got schema.CoverageReport, want map[string]map[int64]schema.CoverageRow) {
	t.Helper()
	var levels []string
	for _, l := range got.Levels {
		levels = append(levels, l.Level)
	}
	var wantLevels []string
	for _, l := range []string{schema.LevelProvince, schema.LevelDistrict, schema.LevelCommune, schema.LevelHamlet} {
		if len(want[l]) > 0 {
			wantLevels = append(wantLevels, l)
		}
	}
	if !reflect.DeepEqual(levels, wantLevels) {
		t.Fatalf("%s: levels %v, want %v", what, levels, wantLevels)
	}
	for _, l := range got.Levels {
		if len(l.Rows) != len(want[l.Level]) {
			t.Errorf("%s: %d %s rows, want %d", what, len(l.Rows), l.Level, len(want[l.Level]))
		}
		for _, row := range l.Rows {
			wr, ok := want[l.Level][row.UnitID]
			if !ok {
				t.Errorf("%s: unexpected row %s", what, row.Name)
				continue
			}
			row.UnitType, wr.UnitType = "", ""
			if !reflect.DeepEqual(row, wr) {
				gb, _ := json.Marshal(row)
				wb, _ := json.Marshal(wr)
				t.Errorf("%s: %s\n got: %s\nwant: %s", what, row.Name, gb, wb)
			}
		}
	}
}

func (w *world) compareTeams(t *testing.T, what string, got schema.TeamReport, want map[int64]schema.TeamOutput) {
	t.Helper()
	if len(got.Teams) != len(want) {
		t.Errorf("%s: %d teams, want %d", what, len(got.Teams), len(want))
	}
	for _, tm := range got.Teams {
		wt, ok := want[tm.TeamID]
		if !ok {
			t.Errorf("%s: unexpected team %s", what, tm.Name)
			continue
		}
		sort.Slice(tm.Volunteers, func(i, j int) bool { return tm.Volunteers[i].VolunteerID < tm.Volunteers[j].VolunteerID })
		if !reflect.DeepEqual(tm, wt) {
			gb, _ := json.MarshalIndent(tm, "", " ")
			wb, _ := json.MarshalIndent(wt, "", " ")
			t.Errorf("%s: %s\n got: %s\nwant: %s", what, tm.Name, gb, wb)
		}
	}
}

// checkStatusesPulled checks that every volunteer's phones pull their logs with the
// statuses the model expects: review decisions and duplicates reach the phones.
func (w *world) checkStatusesPulled(t *testing.T) {
	t.Helper()
	st := w.states()
	for _, v := range w.vols {
		for _, d := range v.devices {
			pulled := map[string]schema.Log{}
			cursor := ""
			for {
				resp, err := w.e.Pull(w.ctx, d.actor, cursor, 500)
				if err != nil {
					t.Fatal(err)
				}
				for _, c := range resp.Changes {
					if c.Type == schema.ChangeLog {
						pulled[c.Log.ID] = *c.Log
					}
				}
				cursor = resp.Cursor
				if !resp.HasMore {
					break
				}
			}
			for _, id := range w.order {
				l, s := w.logs[id], st[id]
				if l.vol != v || !s.exists {
					continue
				}
				p, ok := pulled[id]
				if !ok {
					t.Errorf("%s's phone %s did not pull log %s", v.name, d.actor.DeviceID, id)
					continue
				}
				if p.Deleted != s.deleted || (!s.deleted && s.complete && p.Status != s.status) {
					t.Errorf("%s pulled log %s deleted=%v status %s, model says deleted=%v status %s", v.name, id, p.Deleted, p.Status, s.deleted, s.status)
				}
			}
		}
	}
}

// Aggregates are rebuilt when they no longer fit: built by a cdtsync with another layout
// (here: without year cells), or with unit paths that changed because a hamlet moved to
// another commune (an import re-parents it). Reports follow the new tree; pushes in
// between go through.
func TestReportsRebuiltWhenStale(t *testing.T) {
	w := newWorld(t, 3)
	w.scenario(func(string) {})
	targets := w.importTargets(t)
	t.Run("AnotherFormat", func(t *testing.T) {
		if err := w.db.Write(w.ctx, 0, func(tx *sqlite.Tx) error {
			if _, err := tx.ExecContext(w.ctx, `DELETE FROM rpt_cells WHERE period < 10000`); err != nil {
				return err
			}
			_, err := tx.ExecContext(w.ctx, `UPDATE meta SET value = '2' WHERE key = 'rpt_format'`)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		w.checkReports(t, "another format", targets, false)
	})
	t.Run("HamletMoved", func(t *testing.T) {
		// Ấp Đông Quới moves from Xã Tân Khánh Đông to Phường 1.
		h, p1 := w.byName["Ấp Đông Quới"], w.byName["Phường 1"]
		newPath := p1.path + strconv.FormatInt(h.id, 10) + "/"
		if err := w.db.Write(w.ctx, 0, func(tx *sqlite.Tx) error {
			_, err := tx.ExecContext(w.ctx, `UPDATE units SET parent_id = ?, path = ?, seq = ? WHERE id = ?`, p1.id, newPath, tx.NextSeq(), h.id)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		h.parent, h.path = p1.id, newPath
		// A push after the move (Mai's team still works in Tân Khánh Đông's other hamlets).
		w.record(w.vol("Lê Thị Mai").devices[0], w.byName["Ấp Đông Huề"], "vneid_install", real(2026, 12, 20, 9, 0, 0), map[string]any{})
		w.sync()
		w.checkReports(t, "after the move", targets, false)
	})
}
