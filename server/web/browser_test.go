package web_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"image"
	_ "image/png"

	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/makiuchi-d/gozxing"
	gozxingqr "github.com/makiuchi-d/gozxing/qrcode"
	"github.com/xuri/excelize/v2"

	"github.com/cdtsync/cdtsync/auth"
	"github.com/cdtsync/cdtsync/schema"
)

// TestDashboardInChromium drives the dashboard in headless Chromium against a real
// server over real SQLite: a coordinator signs in and sees the overview, whose figures
// are those of GET /v1/reports/coverage; approves a pending log in the review queue and
// sees the coverage change; reads a conflict's and a duplicate's explanations; enrols a
// volunteer and reads the QR code back off the screen, then redeems it as a phone would;
// downloads the CSV and XLSX of the view; switches to English; posts the review form with
// JavaScript disabled; and the coordinator of another commune, editing URLs, reaches
// none of it. Screenshots of the overview and the review queue at phone and desktop
// width are saved under .artifacts/screenshots/.
//
// One browser serves every step; each signed-in user has a tab of their own browser
// context (their own cookies).
func TestDashboardInChromium(t *testing.T) {
	b := startBrowser(t)
	s := newSite(t, siteOptions{})
	token := s.apiToken(t, "lan.sadec")
	const period = "from=01/11/2026&to=23/11/2026"
	const apiPeriod = "from=2026-11-01&to=2026-11-23"

	tab := b.newTab(t, 3*time.Minute)
	do := func(t *testing.T, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(tab, steps...); err != nil {
			t.Fatal(err)
		}
	}
	txt := func(t *testing.T, sel string) string {
		t.Helper()
		v, err := chromedp.Run(tab, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("text of %s: %v", sel, err)
		}
		return strings.TrimSpace(v)
	}
	// cell reads a figure of a unit's row of the overview table, as a number.
	cell := func(t *testing.T, unit int64, col string) int64 {
		t.Helper()
		return vnInt(t, txt(t, fmt.Sprintf(`#children tr[data-unit="%d"] td[data-col="%s"]`, unit, col)))
	}

	t.Run("SignInAndOverview", func(t *testing.T) {
		do(t, viewport(1366, 768, false), chromedp.Navigate(s.URL+"/web/?"+period),
			chromedp.WaitVisible(chromedp.CSS(`form[action="/web/login"]`)))
		signIn(t, tab, "lan.sadec")
		if got := txt(t, "#unit-name"); got != "Phường Sa Đéc" {
			t.Fatalf("heading %q", got)
		}
		if got := txt(t, "#period-line"); got != "Từ 01/11/2026 đến 23/11/2026" {
			t.Errorf("period %q", got)
		}
		// Every figure of every row is the coverage API's for the same query.
		for _, approved := range []bool{false, true} {
			q := period
			if approved {
				q += "&approved_only=1"
			}
			do(t, chromedp.Navigate(s.URL+"/web/?"+q), chromedp.WaitVisible(chromedp.ID("children")))
			api := s.apiCoverage(t, token, fmt.Sprintf("unit=%d&%s&approved_only=%t", s.SaDec, apiPeriod, approved))
			for _, u := range []int64{s.VinhPhuoc, s.CaiSon, s.DongHue} {
				want := row(t, api, u)
				for col, n := range map[string]int64{"people": want.People, "households": want.Households, "logs": want.Logs,
					"incomplete": want.Incomplete, "active": want.ActiveVolunteers} {
					if got := cell(t, u, col); got != n {
						t.Errorf("approved_only=%t, %s, %s: the page says %d, the API %d", approved, want.Name, col, got, n)
					}
				}
				tg := txt(t, fmt.Sprintf(`#children tr[data-unit="%d"] td[data-col="pct"]`, u))
				if len(want.Targets) == 0 || tg != vnPct(want.Targets[0].Pct) {
					t.Errorf("approved_only=%t, %s: %% of target %q, the API %+v", approved, want.Name, tg, want.Targets)
				}
			}
			if got, want := vnInt(t, txt(t, "#total-people")), row(t, api, s.SaDec).People; got != want {
				t.Errorf("approved_only=%t: the commune's people %d, the API %d", approved, got, want)
			}
		}
		// The chart has a bar per hamlet, with a target mark.
		bars, err := chromedp.Run(tab, chromedp.Nodes(chromedp.CSSAll(`#chart li`)))
		if err != nil || len(bars) != 3 {
			t.Fatalf("chart bars: %d %v", len(bars), err)
		}
		if marks, err := chromedp.Run(tab, chromedp.Nodes(chromedp.CSSAll(`#chart line.mark`))); err != nil || len(marks) != 3 {
			t.Errorf("target marks: %d %v", len(marks), err)
		}
		// Drill down: the hamlet's page, with its kinds and its targets.
		do(t, chromedp.Click(chromedp.CSS(fmt.Sprintf(`#children tr[data-unit="%d"] a`, s.VinhPhuoc))),
			chromedp.WaitVisible(chromedp.ID("kinds")))
		if got := txt(t, "#unit-name"); got != "Khóm Vĩnh Phước" {
			t.Errorf("drill-down heading %q", got)
		}
		if got := txt(t, ".crumbs"); !strings.Contains(got, "Phường Sa Đéc") {
			t.Errorf("breadcrumb %q", got)
		}
		if got := txt(t, `#kinds tr[data-kind="vneid_level2"]`); !strings.Contains(got, "Kích hoạt tài khoản định danh điện tử mức 2") {
			t.Errorf("kinds row %q", got)
		}
		do(t, chromedp.Navigate(s.URL+"/web/?"+period), chromedp.WaitVisible(chromedp.ID("chart")))
		shots(t, tab, "overview")
	})

	t.Run("ApproveChangesCoverage", func(t *testing.T) {
		do(t, chromedp.Navigate(s.URL+"/web/?approved_only=1&"+period), chromedp.WaitVisible(chromedp.ID("children")))
		before := cell(t, s.VinhPhuoc, "people")
		if before != int64(s.approvedVinhPhuoc) {
			t.Fatalf("approved-only people in Khóm Vĩnh Phước before: %d", before)
		}
		do(t, chromedp.Navigate(fmt.Sprintf("%s/web/reviews?status=pending&unit=%d", s.URL, s.VinhPhuoc)),
			chromedp.WaitVisible(chromedp.ID("queue")))
		logRow := fmt.Sprintf(`#queue tr[data-log="%s"]`, s.ToApprove)
		if got := txt(t, logRow); !strings.Contains(got, toApproveNote) || !strings.Contains(got, "Chờ duyệt") {
			t.Fatalf("the row reads %q", got)
		}
		// Progressive enhancement: with JavaScript, "select all" appears and works.
		do(t, chromedp.Click(chromedp.CSS(`input.select-all`)))
		if n := checked(t, tab); n < 2 {
			t.Errorf("select all checked %d boxes", n)
		}
		do(t, chromedp.Click(chromedp.CSS(`input.select-all`)))
		if n := checked(t, tab); n != 0 {
			t.Errorf("select none left %d boxes checked", n)
		}
		do(t, chromedp.Click(chromedp.CSS(logRow+` input[name="id"]`)), chromedp.Click(chromedp.ID("approve-selected")),
			chromedp.WaitVisible(chromedp.CSS(".flash.ok")))
		if got := txt(t, ".flash.ok"); got != "Đã duyệt 1 nhật ký." {
			t.Errorf("message %q", got)
		}
		do(t, chromedp.Navigate(s.URL+"/web/?approved_only=1&"+period), chromedp.WaitVisible(chromedp.ID("children")))
		after := cell(t, s.VinhPhuoc, "people")
		if after != before+1 {
			t.Errorf("approved-only people in Khóm Vĩnh Phước: %d before approving, %d after", before, after)
		}
		api := s.apiCoverage(t, token, fmt.Sprintf("unit=%d&%s&approved_only=true", s.SaDec, apiPeriod))
		if want := row(t, api, s.VinhPhuoc).People; after != want {
			t.Errorf("after approving the page says %d, the API %d", after, want)
		}
	})

	t.Run("ConflictAndDuplicateExplained", func(t *testing.T) {
		do(t, chromedp.Navigate(fmt.Sprintf("%s/web/reviews?status=all&unit=%d", s.URL, s.VinhPhuoc)),
			chromedp.WaitVisible(chromedp.ID("queue")))
		conflict := fmt.Sprintf(`#queue tr[data-log="%s"]`, s.Conflict)
		do(t, chromedp.WaitVisible(chromedp.CSS(conflict+` ul.hist`))) // explained without a click
		if got := txt(t, conflict+` details.conflict`); !strings.Contains(got, "Xung đột") ||
			!strings.Contains(got, "«Cô Bảy: đã kích hoạt, cần hướng dẫn thêm» (bị thay)") ||
			!strings.Contains(got, "«Cô Bảy đã kích hoạt định danh mức 2 (sửa)» (được giữ)") || !strings.Contains(got, "android-hong-b210") {
			t.Errorf("the conflict is explained as %q", got)
		}
		dup := fmt.Sprintf(`#queue tr[data-log="%s"]`, s.Duplicate)
		if got := txt(t, dup+` .badge.s-duplicate`); got != "Trùng lặp" {
			t.Errorf("the duplicate's status reads %q", got)
		}
		if got := txt(t, dup+` .explain.dup`); !strings.Contains(got, "chỉ nhật ký sớm nhất được tính") ||
			!strings.Contains(got, "02/11/2026 · Khóm Vĩnh Phước") {
			t.Errorf("the duplicate is explained as %q", got)
		}
		shots(t, tab, "reviews")
		// The log that counts, and the duplicate listed under it.
		do(t, chromedp.Click(chromedp.CSS(dup+` a.canonical`)), chromedp.WaitVisible(chromedp.ID("log-facts")))
		if got, err := chromedp.Run(tab, chromedp.Location()); err != nil || !strings.HasSuffix(got, "/web/logs/"+s.Canon) {
			t.Errorf("the canonical link goes to %s (%v)", got, err)
		}
		if got := txt(t, "#dups"); !strings.Contains(got, "Trần Văn Minh") {
			t.Errorf("duplicates listed: %q", got)
		}
	})

	t.Run("EnrolVolunteerAndReadQR", func(t *testing.T) {
		do(t, viewport(390, 844, true), chromedp.Navigate(s.URL+"/web/volunteers"), chromedp.WaitVisible(chromedp.ID("new-volunteer")),
			chromedp.SendKeys(chromedp.ID("v-name"), "Huỳnh Thị Thu Trang"),
			chromedp.SetValue(chromedp.ID("v-team"), strconv.FormatInt(s.TeamDongHue, 10)),
			chromedp.Submit(chromedp.ID("v-name")), chromedp.WaitVisible(chromedp.ID("qr")))
		if got := txt(t, "#code-for"); got != "Cho Huỳnh Thị Thu Trang (Tổ CNSCĐ ấp Đông Huề)" {
			t.Errorf("code page for %q", got)
		}
		typed := txt(t, "#typed-code")
		if _, ok := auth.NormalizeEnrollmentCode(typed); !ok {
			t.Fatalf("typed code %q", typed)
		}
		// Large enough to scan from a phone held at arm's length.
		box, err := chromedp.Run(tab, chromedp.Dimensions(chromedp.ID("qr")))
		if err != nil {
			t.Fatal(err)
		}
		if w := box.Width; w < 280 {
			t.Errorf("the QR code is %d CSS pixels wide on a phone", w)
		}
		png, err := chromedp.Run(tab, chromedp.Screenshot(chromedp.ID("qr")))
		if err != nil {
			t.Fatal(err)
		}
		payload := decodeQR(t, png)
		server, code, err := auth.ParseEnrollmentPayload(payload)
		if err != nil || code != typed || server != s.URL {
			t.Fatalf("the QR code reads %q: server %q code %q (typed %q) %v", payload, server, code, typed, err)
		}
		shot(t, tab, "enrolment-code-phone")
		// A phone redeems it.
		body, _ := json.Marshal(map[string]string{"code": code, "device_id": "android-trang-91e4", "device_name": "Vivo của Trang"})
		resp, err := http.Post(s.URL+"/v1/enroll", "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		var enrolled struct {
			Volunteer struct {
				DisplayName string `json:"display_name"`
			} `json:"volunteer"`
		}
		json.NewDecoder(resp.Body).Decode(&enrolled)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || enrolled.Volunteer.DisplayName != "Huỳnh Thị Thu Trang" {
			t.Errorf("redeeming the code read off the screen: %d %+v", resp.StatusCode, enrolled)
		}
		do(t, viewport(1366, 768, false))
	})

	t.Run("ExportCSVAndXLSX", func(t *testing.T) {
		dir := t.TempDir()
		do(t, chromedp.Navigate(s.URL+"/web/?approved_only=1&"+period), chromedp.WaitVisible(chromedp.ID("export-csv")))
		api := s.apiCoverage(t, token, fmt.Sprintf("unit=%d&%s&approved_only=true", s.SaDec, apiPeriod))
		want := row(t, api, s.VinhPhuoc)

		csvFile := download(t, tab, dir, "#export-csv")
		if !bytes.HasPrefix(csvFile, []byte("\ufeff")) {
			t.Error("the CSV has no byte-order mark (Excel would garble the diacritics)")
		}
		recs, err := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(csvFile, []byte("\ufeff")))).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		if !csvHas(recs, "Khóm Vĩnh Phước", strconv.FormatInt(want.People, 10)) {
			t.Errorf("the CSV has no row for Khóm Vĩnh Phước with %d people:\n%s", want.People, csvFile)
		}
		xlsxFile := download(t, tab, dir, "#export-xlsx")
		f, err := excelize.OpenReader(bytes.NewReader(xlsxFile))
		if err != nil {
			t.Fatalf("the XLSX does not open: %v", err)
		}
		defer f.Close()
		found := false
		for _, sheet := range f.GetSheetList() {
			rows, _ := f.GetRows(sheet)
			if csvHas(rows, "Khóm Vĩnh Phước", strconv.FormatInt(want.People, 10)) {
				found = true
			}
		}
		if !found {
			t.Errorf("the XLSX (sheets %v) has no row for Khóm Vĩnh Phước with %d people", f.GetSheetList(), want.People)
		}
	})

	t.Run("English", func(t *testing.T) {
		do(t, chromedp.Navigate(s.URL+"/web/?"+period), chromedp.WaitVisible(chromedp.ID("children")),
			chromedp.Click(chromedp.CSS("a.lang")), chromedp.WaitVisible(chromedp.CSS(`html[lang="en"]`)))
		if got := txt(t, "#period-line"); got != "From 01/11/2026 to 23/11/2026" {
			t.Errorf("English period %q", got)
		}
		if got := txt(t, `.nav a[aria-current="page"]`); got != "Overview" {
			t.Errorf("English menu %q", got)
		}
		do(t, chromedp.Click(chromedp.CSS("a.lang")), chromedp.WaitVisible(chromedp.CSS(`html[lang="vi"]`)))
	})

	t.Run("ReviewWithJavaScriptDisabled", func(t *testing.T) {
		if _, err := chromedp.Call(tab, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true}); err != nil {
			t.Fatal(err)
		}
		defer chromedp.Call(tab, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: false})
		do(t, chromedp.Navigate(fmt.Sprintf("%s/web/reviews?status=pending&unit=%d", s.URL, s.CaiSon)), chromedp.WaitVisible(chromedp.ID("queue")))
		// The script did not run: "select all" stays hidden; the table reads as it is.
		if a, err := chromedp.Run(tab, chromedp.AttributeValue(chromedp.CSS("input.select-all"), "hidden")); err != nil || !a.Exists {
			t.Errorf("select all is shown without JavaScript (%v)", err)
		}
		rows, err := chromedp.Run(tab, chromedp.Nodes(chromedp.CSSAll(`#queue tbody tr`)))
		if err != nil || len(rows) != 4 {
			t.Fatalf("Cái Sơn's pending logs: %d %v", len(rows), err)
		}
		id, _ := chromedp.Run(tab, chromedp.AttributeValue(chromedp.CSS(`#queue tbody tr`), "data-log"))
		do(t, chromedp.SendKeys(chromedp.ID("reason"), "Thiếu ảnh minh chứng"),
			chromedp.Click(chromedp.CSS(fmt.Sprintf(`#queue tr[data-log="%s"] button[value="rejected:%s"]`, id.Value, id.Value))),
			chromedp.WaitVisible(chromedp.CSS(".flash.ok")))
		if got := txt(t, ".flash.ok"); got != "Đã từ chối 1 nhật ký." {
			t.Errorf("message %q", got)
		}
		if st := status(t, s, id.Value); st != schema.StatusRejected {
			t.Errorf("the log is %s", st)
		}
	})

	t.Run("OtherCommuneCannotReach", func(t *testing.T) {
		other := b.newTab(t, time.Minute)
		if err := chromedp.Do(other, viewport(1366, 768, false), chromedp.Navigate(s.URL+"/web/")); err != nil {
			t.Fatal(err)
		}
		signIn(t, other, "tung.tanduong")
		own, err := chromedp.Run(other, chromedp.Text(chromedp.CSS("main")))
		if err != nil || !strings.Contains(own, "Xã Tân Dương") || !strings.Contains(own, "Ấp Hậu Thành") {
			t.Fatalf("Tân Dương's own overview: %v", err)
		}
		for _, path := range []string{
			fmt.Sprintf("/web/units/%d?%s", s.SaDec, period),
			fmt.Sprintf("/web/units/%d", s.VinhPhuoc),
			fmt.Sprintf("/web/units/%d", s.Province),
			fmt.Sprintf("/web/units/%d/export?format=csv&%s", s.SaDec, period),
			fmt.Sprintf("/web/reviews?unit=%d", s.VinhPhuoc),
			fmt.Sprintf("/web/teams?unit=%d", s.SaDec),
			fmt.Sprintf("/web/devices?unit=%d", s.SaDec),
			"/web/logs/" + s.ToApprove,
			fmt.Sprintf("/web/volunteers/%d/code", s.HongA.UserID),
		} {
			resp, err := chromedp.Run(other, chromedp.NavigateResponse(s.URL+path))
			if err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			body, _ := chromedp.Run(other, chromedp.Text(chromedp.CSS("body")))
			if resp.Status != http.StatusNotFound || !strings.Contains(body, "Không tìm thấy") {
				t.Errorf("%s: %d %q, want 404 Không tìm thấy", path, resp.Status, firstLine(body))
			}
			for _, secret := range []string{"Sa Đéc", "Vĩnh Phước", "Cái Sơn", "Đông Huề", "Nguyễn Thị Hồng", "Trần Văn Minh", "Bà Năm"} {
				if strings.Contains(body, secret) {
					t.Errorf("%s shows %q to Tân Dương's coordinator", path, secret)
				}
			}
		}
		// And the pages without ids show Tân Dương only.
		for _, path := range []string{"/web/", "/web/reviews?status=all", "/web/teams", "/web/devices", "/web/volunteers"} {
			if err := chromedp.Do(other, chromedp.Navigate(s.URL+path)); err != nil {
				t.Fatal(err)
			}
			body, _ := chromedp.Run(other, chromedp.Text(chromedp.CSS("body")))
			for _, secret := range []string{"Sa Đéc", "Vĩnh Phước", "Nguyễn Thị Hồng", "Trần Văn Minh"} {
				if strings.Contains(body, secret) {
					t.Errorf("%s shows %q to Tân Dương's coordinator", path, secret)
				}
			}
		}
	})
}

// signIn fills and posts the sign-in form shown in the tab, and waits for the overview.
func signIn(t *testing.T, tab context.Context, username string) {
	t.Helper()
	if err := chromedp.Do(tab,
		chromedp.WaitVisible(chromedp.CSS(`input[name="username"]`)),
		chromedp.SendKeys(chromedp.CSS(`input[name="username"]`), username),
		chromedp.SendKeys(chromedp.CSS(`input[name="password"]`), staffPassword),
		chromedp.Click(chromedp.CSS(`form[action="/web/login"] button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.ID("unit-name")),
	); err != nil {
		t.Fatalf("sign in as %s: %v", username, err)
	}
}

// checked counts the checked boxes of the review queue.
func checked(t *testing.T, tab context.Context) int {
	t.Helper()
	n, err := chromedp.Run(tab, chromedp.Evaluate[int](`document.querySelectorAll('#queue tbody input[name=id]:checked').length`))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// shots saves full-page screenshots of the tab's page at desktop and phone width.
func shots(t *testing.T, tab context.Context, name string) {
	t.Helper()
	for _, v := range []struct {
		suffix string
		w, h   int64
		phone  bool
	}{{"desktop", 1366, 768, false}, {"phone", 390, 844, true}} {
		here, err := chromedp.Run(tab, chromedp.Location())
		if err != nil {
			t.Fatal(err)
		}
		// A new navigation, not a reload: a reload keeps the scroll position.
		if err := chromedp.Do(tab, viewport(v.w, v.h, v.phone), chromedp.Navigate(here), chromedp.WaitVisible(chromedp.CSS("footer"))); err != nil {
			t.Fatal(err)
		}
		shot(t, tab, name+"-"+v.suffix)
	}
	if err := chromedp.Do(tab, viewport(1366, 768, false)); err != nil {
		t.Fatal(err)
	}
}

func shot(t *testing.T, tab context.Context, name string) {
	t.Helper()
	screenshot(t, tab, name)
}

// download clicks a download link and returns the file the browser saved.
func download(t *testing.T, tab context.Context, dir, sel string) []byte {
	t.Helper()
	c := chromedp.FromContext(tab)
	if _, err := chromedp.CallBrowser(tab, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
		Behavior: browser.SetDownloadBehaviorBehaviorAllowAndName, BrowserContextID: c.BrowserContextID,
		DownloadPath: dir, EventsEnabled: new(true)}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(tab, 30*time.Second)
	defer cancel()
	events := chromedp.BrowserEvents(ctx, browser.DownloadProgress)
	if err := chromedp.Do(tab, chromedp.Click(chromedp.CSS(sel))); err != nil {
		t.Fatal(err)
	}
	for ev, err := range events {
		if err != nil {
			t.Fatalf("download of %s: %v", sel, err)
		}
		switch ev.State {
		case browser.DownloadProgressStateCompleted:
			b, err := os.ReadFile(filepath.Join(dir, ev.GUID))
			if err != nil {
				t.Fatal(err)
			}
			return b
		case browser.DownloadProgressStateCanceled:
			t.Fatalf("download of %s cancelled", sel)
		}
	}
	t.Fatalf("download of %s did not finish", sel)
	return nil
}

// decodeQR reads a QR code from a PNG screenshot.
func decodeQR(t *testing.T, png []byte) string {
	t.Helper()
	text, err := tryDecode(png)
	if err != nil {
		p := filepath.Join(repoRoot(t), ".artifacts", "screenshots", "qr-unreadable.png")
		os.WriteFile(p, png, 0o644)
		t.Fatalf("the QR code on screen does not decode (%s): %v", p, err)
	}
	return text
}

func tryDecode(png []byte) (string, error) {
	img, _, err := image.Decode(bytes.NewReader(png))
	if err != nil {
		return "", err
	}
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		return "", err
	}
	res, err := gozxingqr.NewQRCodeReader().Decode(bmp, map[gozxing.DecodeHintType]any{gozxing.DecodeHintType_TRY_HARDER: true})
	if err != nil {
		return "", err
	}
	return res.GetText(), nil
}

// vnInt reads a whole number written the Vietnamese way (1.284).
func vnInt(t testing.TB, s string) int64 {
	t.Helper()
	f := strings.Fields(s)
	if len(f) == 0 {
		t.Fatalf("no number in %q", s)
	}
	n, err := strconv.ParseInt(strings.ReplaceAll(f[0], ".", ""), 10, 64)
	if err != nil {
		t.Fatalf("not a number: %q", s)
	}
	return n
}

// vnPct writes a percentage the Vietnamese way (71,5 %).
func vnPct(p *float64) string {
	if p == nil {
		return "—"
	}
	s := strconv.FormatFloat(*p, 'f', 1, 64)
	s = strings.TrimSuffix(s, ".0")
	return strings.Replace(s, ".", ",", 1) + " %"
}

// csvHas reports a row holding both values.
func csvHas(rows [][]string, a, b string) bool {
	for _, r := range rows {
		var ha, hb bool
		for _, c := range r {
			ha = ha || c == a
			hb = hb || c == b
		}
		if ha && hb {
			return true
		}
	}
	return false
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}
