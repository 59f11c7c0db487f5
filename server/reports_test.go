package server

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/cdtsync/cdtsync/report"
	"github.com/cdtsync/cdtsync/schema"
	"github.com/cdtsync/cdtsync/store/sqlite"
	"github.com/cdtsync/cdtsync/sync/hlc"
)

// reportLog is a log a report test pushes.
type reportLog struct {
	id        string
	hamlet    int64
	kind      string
	ago       time.Duration // before the test clock
	person    int           // 0: no citizen_ref
	household int           // 0: no household_ref
	attendees int64
	outcome   string
}

// pushReportLogs pushes logs from a volunteer's phone and fails unless all are applied.
func pushReportLogs(t *testing.T, env *testEnv, who identity, logs ...reportLog) {
	t.Helper()
	now := env.Clock.Now()
	req := schema.PushRequest{DeviceTime: now.Format(time.RFC3339)}
	for i, l := range logs {
		f := map[string]any{"hamlet_id": l.hamlet, "kind": l.kind, "occurred_at": now.Add(-l.ago).In(report.Vietnam).Format(time.RFC3339)}
		if l.person != 0 {
			f["citizen_ref"], f["consent"] = fmt.Sprintf("%064x", 0xabc000+l.person), true
		}
		if l.household != 0 {
			f["household_ref"], f["consent"] = fmt.Sprintf("%064x", 0xdef000+l.household), true
		}
		if l.attendees != 0 {
			f["attendees"] = l.attendees
		}
		if l.outcome != "" {
			f["outcome"] = l.outcome
		}
		fields := map[string]json.RawMessage{}
		for k, v := range f {
			fields[k], _ = json.Marshal(v)
		}
		req.Ops = append(req.Ops, schema.Op{OpID: fmt.Sprintf("01900000-0000-7000-9000-%012x", now.UnixMilli()%1e9*100+int64(i)),
			Type: schema.OpUpsert, ID: l.id, HLC: hlc.FromTime(now.Add(-time.Minute).Add(time.Duration(i) * time.Millisecond)).String(), Fields: fields})
	}
	var resp schema.PushResponse
	if status, code := env.do("POST", "/v1/sync/push", who.Token, req, &resp); status != http.StatusOK {
		t.Fatalf("push: %d %s", status, code)
	}
	for i, r := range resp.Results {
		if r.Status != schema.ResultApplied {
			t.Fatalf("op %d: %s %s %s", i, r.Status, r.Code, r.Message)
		}
	}
}

// importTargets imports targets into whichever store the test server runs on.
func importTargets(env *testEnv, rows []report.TargetRow, source string) (sqlite.TargetImportReport, error) {
	st, ok := env.Store.(interface {
		ImportTargets(ctx context.Context, rows []report.TargetRow, source string) (sqlite.TargetImportReport, error)
	})
	if !ok {
		env.t.Fatalf("the store %T does not import targets", env.Store)
	}
	return st.ImportTargets(context.Background(), rows, source)
}

func logID(n int) string { return fmt.Sprintf("01900000-0000-7000-8000-%012d", n) }

// saDecActivity pushes a morning's work in Phường Sa Đéc and imports targets.
func saDecActivity(t *testing.T, env *testEnv) {
	t.Helper()
	pushReportLogs(t, env, env.VolSaDec,
		reportLog{id: logID(1), hamlet: env.VinhPhuoc, kind: "vneid_level2", ago: 2 * time.Hour, person: 1, household: 1},
		reportLog{id: logID(2), hamlet: env.VinhPhuoc, kind: "vneid_install", ago: 3 * time.Hour, person: 1, household: 1},
		reportLog{id: logID(3), hamlet: env.VinhPhuoc, kind: "cashless_payment", ago: 26 * time.Hour, person: 2, household: 1},
		reportLog{id: logID(4), hamlet: env.CaiSon, kind: "vneid_level2", ago: 30 * time.Hour, person: 3, household: 2},
		reportLog{id: logID(5), hamlet: env.CaiSon, kind: "vneid_level2", ago: 50 * time.Hour, person: 4, outcome: "incomplete"},
		reportLog{id: logID(6), hamlet: env.CaiSon, kind: "digital_skills", ago: 4 * 24 * time.Hour, attendees: 35},
		reportLog{id: logID(7), hamlet: env.CaiSon, kind: "cashless_payment", ago: 5 * time.Hour, person: 1, household: 1},
	)
	rows, err := report.ParseTargets(strings.NewReader(fmt.Sprintf(
		"unit_id,metric,period,value\n%d,people,2026,1284\n%d,vneid_level2,2026-Q2,10\n%d,people,2026-05,2\n",
		env.SaDec, env.SaDec, env.VinhPhuoc)), "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := importTargets(env, rows, "chi-tieu-sa-dec.csv"); err != nil {
		t.Fatal(err)
	}
}

// coverageRows flattens a coverage report's rows by unit id.
func coverageRows(r schema.CoverageReport) map[int64]schema.CoverageRow {
	out := map[int64]schema.CoverageRow{}
	for _, l := range r.Levels {
		for _, row := range l.Rows {
			out[row.UnitID] = row
		}
	}
	return out
}

// coverageExpect is what every export must say for one unit's row: column header → the
// JSON's value.
func coverageExpect(r schema.CoverageReport, row schema.CoverageRow) map[string]any {
	m := map[string]any{
		"Mã đơn vị": float64(row.UnitID), "Tên đơn vị": row.Name, "Số người dân được hỗ trợ": float64(row.People),
		"Số hộ được hỗ trợ": float64(row.Households), "Số hoạt động": float64(row.Logs), "Số người tham dự": float64(row.Attendees),
		"Số lần chưa hoàn thành": float64(row.Incomplete), "Số thành viên tổ hoạt động": float64(row.ActiveVolunteers),
	}
	for _, k := range r.Kinds {
		m[k.NameVI+": số hoạt động"] = float64(row.Kinds[k.Code].Logs)
		m[k.NameVI+": số người tham dự"] = float64(row.Kinds[k.Code].Attendees)
		m[k.NameVI+": chưa hoàn thành"] = float64(row.Kinds[k.Code].Incomplete)
	}
	for _, tg := range row.Targets {
		name := "Người dân được hỗ trợ"
		if tg.Metric != schema.MetricPeople {
			for _, k := range r.Kinds {
				if k.Code == tg.Metric {
					name = k.NameVI
				}
			}
		}
		m["Chỉ tiêu: "+name] = tg.Value
		m["Kỳ chỉ tiêu: "+name] = tg.Period
		if tg.Pct != nil {
			m["Tỷ lệ đạt chỉ tiêu (%): "+name] = *tg.Pct
		}
	}
	return m
}

// The CSV starts with a BOM, keeps the Vietnamese names, and says what the JSON says.
func TestCoverageCSV(t *testing.T) {
	env := newTestEnv(t)
	saDecActivity(t, env)
	var r schema.CoverageReport
	q := fmt.Sprintf("/v1/reports/coverage?unit=%d&from=2026-04-01&to=2026-06-30", env.SaDec)
	if status, code := env.do("GET", q, env.CoordSaDec.Token, nil, &r); status != http.StatusOK {
		t.Fatalf("json: %d %s", status, code)
	}
	status, h, body := env.send(env.request("GET", q+"&format=csv", env.CoordSaDec.Token, nil))
	if status != http.StatusOK || !strings.HasPrefix(h.Get("Content-Type"), "text/csv") {
		t.Fatalf("csv: %d %s", status, h.Get("Content-Type"))
	}
	if cd := h.Get("Content-Disposition"); !strings.Contains(cd, "attachment") || !strings.Contains(cd, "filename*=UTF-8''") {
		t.Errorf("Content-Disposition %q", cd)
	}
	if !bytes.HasPrefix(body, []byte("\xef\xbb\xbf")) {
		t.Fatalf("the CSV does not start with the UTF-8 BOM: % x", body[:8])
	}
	recs, err := csv.NewReader(bytes.NewReader(body[3:])).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	header := recs[0]
	col := map[string]int{}
	for i, name := range header {
		col[name] = i
	}
	for _, want := range []string{"Cấp", "Tên đơn vị", "Số người dân được hỗ trợ", "Tỷ lệ hộ được hỗ trợ (%)",
		"Kích hoạt tài khoản định danh điện tử mức 2: số hoạt động", "Hoạt động gần nhất"} {
		if _, ok := col[want]; !ok {
			t.Errorf("no column %q in %q", want, header)
		}
	}
	rows := coverageRows(r)
	if len(recs)-1 != len(rows) {
		t.Fatalf("%d CSV rows, JSON has %d", len(recs)-1, len(rows))
	}
	names := map[string]bool{}
	for _, rec := range recs[1:] {
		id, _ := strconv.ParseInt(rec[col["Mã đơn vị"]], 10, 64)
		row, ok := rows[id]
		if !ok {
			t.Fatalf("CSV row for unit %d not in the JSON", id)
		}
		names[rec[col["Tên đơn vị"]]] = true
		for name, want := range coverageExpect(r, row) {
			got := rec[col[name]]
			switch w := want.(type) {
			case string:
				if got != w {
					t.Errorf("%s, %s: %q, want %q", row.Name, name, got, w)
				}
			case float64:
				// Percentages have a decimal comma; counts none and no thousands separator.
				f, err := strconv.ParseFloat(strings.Replace(got, ",", ".", 1), 64)
				if err != nil || f != w {
					t.Errorf("%s, %s: %q, want %v", row.Name, name, got, w)
				}
			}
		}
		if row.LastActivity != nil {
			lt, _ := time.Parse(time.RFC3339, *row.LastActivity)
			if got := rec[col["Hoạt động gần nhất"]]; got != lt.In(report.Vietnam).Format("02/01/2006 15:04") {
				t.Errorf("%s last activity %q, JSON %s", row.Name, got, *row.LastActivity)
			}
		}
	}
	for _, n := range []string{"Phường Sa Đéc", "Khóm Vĩnh Phước", "Khóm Cái Sơn"} {
		if !names[n] {
			t.Errorf("the CSV lost the name %q: %v", n, names)
		}
	}
	// The team report's CSV too.
	status, _, body = env.send(env.request("GET", fmt.Sprintf("/v1/reports/teams?unit=%d&from=2026-04-01&to=2026-06-30&format=csv", env.SaDec), env.CoordSaDec.Token, nil))
	if status != http.StatusOK || !bytes.HasPrefix(body, []byte("\xef\xbb\xbfLoại,Mã tổ,Tên tổ")) || !bytes.Contains(body, []byte("Tổ CNSCĐ khóm Vĩnh Phước")) ||
		!bytes.Contains(body, []byte("Nguyễn Thị Hồng")) {
		t.Errorf("team CSV: %d %.300s", status, body)
	}
}

// The XLSX opens with excelize: a sheet per level with a styled header row, numbers as
// numbers, the same numbers as the JSON.
func TestCoverageXLSX(t *testing.T) {
	env := newTestEnv(t)
	saDecActivity(t, env)
	var r schema.CoverageReport
	q := fmt.Sprintf("/v1/reports/coverage?unit=%d&from=2026-04-01&to=2026-06-30", env.Province)
	if status, code := env.do("GET", q, env.Officer.Token, nil, &r); status != http.StatusOK {
		t.Fatalf("json: %d %s", status, code)
	}
	status, h, body := env.send(env.request("GET", q+"&format=xlsx", env.Officer.Token, nil))
	if status != http.StatusOK || h.Get("Content-Type") != mimeXLSX {
		t.Fatalf("xlsx: %d %s", status, h.Get("Content-Type"))
	}
	f, err := excelize.OpenReader(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("excelize cannot open the file: %v", err)
	}
	defer f.Close()
	wantSheets := []string{report.SheetInfo}
	for _, l := range r.Levels {
		wantSheets = append(wantSheets, report.SheetName(l.Level))
	}
	if got := f.GetSheetList(); strings.Join(got, "|") != strings.Join(wantSheets, "|") {
		t.Fatalf("sheets %v, want %v", got, wantSheets)
	}
	checked := 0
	for _, l := range r.Levels {
		sheet := report.SheetName(l.Level)
		rows, err := f.GetRows(sheet, excelize.Options{RawCellValue: true})
		if err != nil {
			t.Fatal(err)
		}
		if len(rows)-1 != len(l.Rows) {
			t.Fatalf("sheet %s: %d rows, JSON %d", sheet, len(rows)-1, len(l.Rows))
		}
		col := map[string]int{}
		for i, name := range rows[0] {
			col[name] = i
		}
		styleID, err := f.GetCellStyle(sheet, "A1")
		if err != nil {
			t.Fatal(err)
		}
		if st, err := f.GetStyle(styleID); err != nil || st.Font == nil || !st.Font.Bold || len(st.Fill.Color) == 0 {
			t.Errorf("sheet %s: the header row is not styled: %+v %v", sheet, st, err)
		}
		for i, row := range l.Rows {
			for name, want := range coverageExpect(r, row) {
				c, ok := col[name]
				if !ok {
					t.Fatalf("sheet %s has no column %q", sheet, name)
				}
				cell, _ := excelize.CoordinatesToCellName(c+1, i+2)
				got := ""
				if c < len(rows[i+1]) {
					got = rows[i+1][c]
				}
				switch w := want.(type) {
				case string:
					if got != w {
						t.Errorf("%s!%s %s: %q, want %q", sheet, cell, name, got, w)
					}
				case float64:
					typ, _ := f.GetCellType(sheet, cell)
					v, err := strconv.ParseFloat(got, 64)
					if err != nil || v != w || (typ != excelize.CellTypeNumber && typ != excelize.CellTypeUnset) {
						t.Errorf("%s!%s %s: %q (type %v), want the number %v", sheet, cell, name, got, typ, w)
					}
					checked++
				}
			}
		}
	}
	if checked < 100 {
		t.Errorf("only %d numbers compared", checked)
	}
	// The team report's workbook.
	status, _, body = env.send(env.request("GET", fmt.Sprintf("/v1/reports/teams?unit=%d&from=2026-04-01&to=2026-06-30&format=xlsx", env.Province), env.Officer.Token, nil))
	tf, err := excelize.OpenReader(bytes.NewReader(body))
	if status != http.StatusOK || err != nil {
		t.Fatalf("team xlsx: %d %v", status, err)
	}
	defer tf.Close()
	if got := tf.GetSheetList(); strings.Join(got, "|") != "Thông tin|Tổ|Thành viên" {
		t.Errorf("team sheets %v", got)
	}
	var tr schema.TeamReport
	env.do("GET", fmt.Sprintf("/v1/reports/teams?unit=%d&from=2026-04-01&to=2026-06-30", env.Province), env.Officer.Token, nil, &tr)
	vrows, _ := tf.GetRows(report.SheetVolunteers, excelize.Options{RawCellValue: true})
	found := false
	for _, tm := range tr.Teams {
		for _, v := range tm.Volunteers {
			for _, row := range vrows[1:] {
				if len(row) > 5 && row[4] == v.Name {
					found = true
					if row[5] != strconv.FormatInt(v.Logs, 10) || row[6] != strconv.FormatInt(v.People, 10) || row[9] != strconv.FormatInt(v.ActiveDays, 10) {
						t.Errorf("volunteer %s: %v, JSON logs %d people %d days %d", v.Name, row[:10], v.Logs, v.People, v.ActiveDays)
					}
				}
			}
		}
	}
	if !found {
		t.Errorf("no volunteer row matched: %v", vrows)
	}
}

// Review decisions change the report numbers as the rules say, and reach the phone on
// its next pull.
func TestReviewsChangeReportsAndReachPhone(t *testing.T) {
	env := newTestEnv(t)
	// Person 1's level-2 e-ID recorded twice: the earlier (in Vĩnh Phước) counts, the later
	// (in Cái Sơn) is a duplicate. Person 2 set up cashless payment in Cái Sơn.
	pushReportLogs(t, env, env.VolSaDec,
		reportLog{id: logID(11), hamlet: env.VinhPhuoc, kind: "vneid_level2", ago: 5 * time.Hour, person: 1},
		reportLog{id: logID(12), hamlet: env.CaiSon, kind: "vneid_level2", ago: 2 * time.Hour, person: 1},
		reportLog{id: logID(13), hamlet: env.CaiSon, kind: "cashless_payment", ago: 3 * time.Hour, person: 2},
	)
	coverage := func(approved bool) map[int64]schema.CoverageRow {
		t.Helper()
		var r schema.CoverageReport
		q := fmt.Sprintf("/v1/reports/coverage?unit=%d&from=2026-05-01&to=2026-05-31&approved_only=%v", env.SaDec, approved)
		if status, code := env.do("GET", q, env.CoordSaDec.Token, nil, &r); status != http.StatusOK {
			t.Fatalf("coverage: %d %s", status, code)
		}
		return coverageRows(r)
	}
	type fig struct{ people, level2, logs int64 }
	figOf := func(r schema.CoverageRow) fig { return fig{r.People, r.Kinds["vneid_level2"].Logs, r.Logs} }
	expect := func(step string, approved bool, want map[int64]fig) {
		t.Helper()
		rows := coverage(approved)
		for unit, w := range want {
			if got := figOf(rows[unit]); got != w {
				t.Errorf("%s (approved_only=%v): %s people/level-2/logs = %v, want %v", step, approved, rows[unit].Name, got, w)
			}
		}
	}
	expect("before review", false, map[int64]fig{env.SaDec: {2, 1, 2}, env.VinhPhuoc: {1, 1, 1}, env.CaiSon: {1, 0, 1}})
	expect("before review", true, map[int64]fig{env.SaDec: {0, 0, 0}})

	review := func(decisions ...map[string]string) {
		t.Helper()
		var out struct {
			Results []struct {
				OK bool `json:"ok"`
			} `json:"results"`
		}
		if status, code := env.do("POST", "/v1/reviews", env.CoordSaDec.Token, map[string]any{"decisions": decisions}, &out); status != http.StatusOK {
			t.Fatalf("review: %d %s", status, code)
		}
		for i, r := range out.Results {
			if !r.OK {
				t.Fatalf("decision %d not taken", i)
			}
		}
	}
	// Approving counts towards approved_only; the duplicate stays out even if approved.
	review(map[string]string{"id": logID(13), "status": "approved"}, map[string]string{"id": logID(11), "status": "approved"},
		map[string]string{"id": logID(12), "status": "approved"})
	expect("after approvals", true, map[int64]fig{env.SaDec: {2, 1, 2}, env.VinhPhuoc: {1, 1, 1}, env.CaiSon: {1, 0, 1}})
	// Rejecting the canonical log makes the next one canonical: the level-2 moves to Cái Sơn.
	review(map[string]string{"id": logID(11), "status": "rejected", "note": "CCCD không khớp ảnh"})
	expect("after rejection", false, map[int64]fig{env.SaDec: {2, 1, 2}, env.VinhPhuoc: {0, 0, 0}, env.CaiSon: {2, 1, 2}})
	expect("after rejection", true, map[int64]fig{env.SaDec: {2, 1, 2}, env.CaiSon: {2, 1, 2}})
	// Rejecting the cashless log takes person 2 out.
	review(map[string]string{"id": logID(13), "status": "rejected", "note": "ghi nhầm người"})
	expect("after second rejection", false, map[int64]fig{env.SaDec: {1, 1, 1}, env.CaiSon: {1, 1, 1}})

	// The phone pulls the decisions.
	var pulled schema.PullResponse
	if status, code := env.do("GET", "/v1/sync/pull?limit=1000", env.VolSaDec.Token, nil, &pulled); status != http.StatusOK {
		t.Fatalf("pull: %d %s", status, code)
	}
	got := map[string]schema.Log{}
	for _, c := range pulled.Changes {
		if c.Type == schema.ChangeLog {
			got[c.Log.ID] = *c.Log
		}
	}
	for id, want := range map[string]struct{ status, note string }{
		logID(11): {schema.StatusRejected, "CCCD không khớp ảnh"},
		logID(12): {schema.StatusApproved, ""},
		logID(13): {schema.StatusRejected, "ghi nhầm người"},
	} {
		if l := got[id]; l.Status != want.status || l.ReviewNote != want.note {
			t.Errorf("pulled %s: status %q note %q, want %q %q", id, l.Status, l.ReviewNote, want.status, want.note)
		}
	}
	// Targets reach phones too.
	rows, _ := report.ParseTargets(strings.NewReader(fmt.Sprintf("unit_id,metric,period,value\n%d,people,2026,120\n", env.VinhPhuoc)), "")
	if _, err := importTargets(env, rows, "t.csv"); err != nil {
		t.Fatal(err)
	}
	if status, _ := env.do("GET", "/v1/sync/pull?limit=1000&cursor="+pulled.Cursor, env.VolSaDec.Token, nil, &pulled); status != http.StatusOK ||
		len(pulled.Changes) != 1 || pulled.Changes[0].Target == nil || pulled.Changes[0].Target.Value != 120 {
		t.Errorf("the phone did not pull the new target: %+v", pulled.Changes)
	}
}

// Coordinators see devices whose clocks are off and work stuck unsynced for days.
func TestAttention(t *testing.T) {
	env := newTestEnv(t)
	now := env.Clock.Now()
	pending := 4
	req := schema.PushRequest{DeviceTime: now.Add(-3 * time.Hour).Format(time.RFC3339), PendingOps: &pending,
		OldestPendingAt: now.Add(-6*24*time.Hour - time.Hour).Format(time.RFC3339)}
	var resp schema.PushResponse
	if status, code := env.do("POST", "/v1/sync/push", env.VolSaDec.Token, req, &resp); status != http.StatusOK {
		t.Fatalf("push: %d %s", status, code)
	}
	get := func(who identity, q string) schema.AttentionReport {
		t.Helper()
		var r schema.AttentionReport
		if status, code := env.do("GET", "/v1/reports/attention"+q, who.Token, nil, &r); status != http.StatusOK {
			t.Fatalf("attention%s: %d %s", q, status, code)
		}
		return r
	}
	r := get(env.CoordSaDec, "")
	if len(r.ClockOff) != 1 || r.ClockOff[0].DeviceID != "android-hong-7f3a" || *r.ClockOff[0].ClockOffsetMS != -3*3600*1000 {
		t.Errorf("clock off: %+v", r.ClockOff)
	}
	if len(r.Stuck) != 1 || *r.Stuck[0].StuckDays != 6 || *r.Stuck[0].PendingOps != 4 || r.StuckAfterDays != report.DefaultStuckDays {
		t.Errorf("stuck: %+v", r.Stuck)
	}
	if r := get(env.CoordSaDec, "?stuck_days=7"); len(r.Stuck) != 0 || len(r.ClockOff) != 1 {
		t.Errorf("stuck_days=7: %+v", r)
	}
	if r := get(env.Officer, fmt.Sprintf("?unit=%d", env.SaDec)); len(r.Stuck) != 1 {
		t.Errorf("officer: %+v", r)
	}
	if r := get(env.CoordMyTra, ""); len(r.ClockOff)+len(r.Stuck) != 0 {
		t.Errorf("Mỹ Trà's coordinator sees Sa Đéc's devices: %+v", r)
	}
	// A push with the outbox emptied and the clock fixed clears both.
	zero := 0
	req = schema.PushRequest{DeviceTime: env.Clock.Now().Format(time.RFC3339), PendingOps: &zero}
	env.do("POST", "/v1/sync/push", env.VolSaDec.Token, req, &resp)
	if r := get(env.CoordSaDec, ""); len(r.ClockOff)+len(r.Stuck) != 0 {
		t.Errorf("after a clean push: %+v", r)
	}
}

func TestReportErrors(t *testing.T) {
	env := newTestEnv(t)
	for _, c := range []struct {
		name   string
		who    identity
		path   string
		status int
		code   string
	}{
		{"ErrFormat", env.CoordSaDec, "/v1/reports/coverage?format=pdf", 400, schema.CodeInvalid},
		{"ErrFromAfterTo", env.CoordSaDec, "/v1/reports/coverage?from=2026-06-01&to=2026-05-01", 400, schema.CodeInvalid},
		{"ErrDate", env.CoordSaDec, "/v1/reports/teams?from=01/05/2026", 400, schema.CodeInvalid},
		{"ErrTooLong", env.Officer, "/v1/reports/coverage?from=2000-01-01&to=2026-05-01", 400, schema.CodeInvalid},
		{"ErrApprovedOnly", env.CoordSaDec, "/v1/reports/coverage?approved_only=maybe", 400, schema.CodeInvalid},
		{"ErrStuckDays", env.CoordSaDec, "/v1/reports/attention?stuck_days=0", 400, schema.CodeInvalid},
		{"ErrVolunteer", env.VolSaDec, "/v1/reports/coverage", 403, schema.CodeForbidden},
		{"ErrOtherCommune", env.CoordSaDec, fmt.Sprintf("/v1/reports/coverage?unit=%d", env.MyTra), 404, schema.CodeNotFound},
		{"ErrUnknownUnit", env.Admin, "/v1/reports/teams?unit=999999", 404, schema.CodeNotFound},
	} {
		t.Run(c.name, func(t *testing.T) {
			if status, code := env.do("GET", c.path, c.who.Token, nil, nil); status != c.status || code != c.code {
				t.Errorf("%d %s, want %d %s", status, code, c.status, c.code)
			}
		})
	}
	t.Run("OKDefaultPeriod", func(t *testing.T) {
		var r schema.CoverageReport
		if status, _ := env.do("GET", "/v1/reports/coverage", env.CoordSaDec.Token, nil, &r); status != 200 || r.From != "2026-01-01" || r.To != "2026-05-04" {
			t.Errorf("%d %s–%s, want 2026-01-01–2026-05-04", status, r.From, r.To)
		}
	})
}
