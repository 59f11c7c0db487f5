package web

import (
	"fmt"
	"image"
	"image/color"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/makiuchi-d/gozxing"
	gozxingqr "github.com/makiuchi-d/gozxing/qrcode"
	"golang.org/x/text/unicode/norm"

	"github.com/cdtsync/cdtsync/schema"
)

func TestVietnameseNumbersAndDates(t *testing.T) {
	vi, en := loc{}, loc{EN: true}
	p := func(f float64) *float64 { return &f }
	for _, c := range []struct{ got, want string }{
		{vi.Int(0), "0"}, {vi.Int(999), "999"}, {vi.Int(1284), "1.284"}, {vi.Int(1284000), "1.284.000"}, {vi.Int(-12840), "-12.840"},
		{en.Int(1284), "1,284"},
		{vi.Pct(p(71.5)), "71,5 %"}, {en.Pct(p(71.5)), "71.5%"}, {vi.Pct(p(100)), "100 %"}, {vi.Pct(p(1284.25)), "1.284,3 %"},
		{vi.Pct(nil), "—"}, {vi.Dec(0.04), "0"}, {vi.Dec(30), "30"}, {vi.Dec(12.5), "12,5"},
		{vi.Date("2026-11-23"), "23/11/2026"}, {en.Date("2026-11-23"), "23/11/2026"}, {vi.Date(""), "—"},
		{vi.Date("2026-11-22T20:30:00Z"), "23/11/2026"}, // 03:30 on the 23rd in Vietnam
		{vi.DateTime("2026-11-23T03:05:00Z"), "10:05 23/11/2026"},
		{vi.DateIn("2026-01-05"), "05/01/2026"}, {vi.DateIn(""), ""},
		{vi.Duration(2*time.Hour + 5*time.Minute), "2 giờ 5 phút"}, {vi.Duration(-(3*24*time.Hour + 4*time.Hour)), "3 ngày 4 giờ"},
		{en.Duration(5 * time.Minute), "5 min"},
		{vi.TargetPeriod("2026"), "năm 2026"}, {vi.TargetPeriod("2026-Q4"), "quý 4/2026"}, {vi.TargetPeriod("2026-11"), "tháng 11/2026"},
		{vi.HLCTime(fmt.Sprintf("%016x", uint64(time.Date(2026, 11, 23, 3, 5, 0, 0, time.UTC).UnixMilli())<<16|7)), "10:05 23/11/2026"},
		{vi.Kind("vneid_level2"), "Kích hoạt tài khoản định danh điện tử mức 2"}, {en.Kind("vneid_level2"), "Level-2 e-ID activated"},
		{vi.Message("Không tìm thấy / not found"), "Không tìm thấy"}, {en.Message("Không tìm thấy / not found"), "not found"},
		{vi.Value("outcome", "incomplete"), "Chưa hoàn thành"}, {vi.Value("consent", true), "có"}, {vi.Value("attendees", 1284.0), "1.284"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}

// Every text the pages use exists in Vietnamese and English, in Unicode NFC.
func TestEveryMessageInBothLanguages(t *testing.T) {
	used := map[string]bool{}
	keyRE := regexp.MustCompile(`\bTf? "([a-z0-9_]+)"|\.Tf?\("([a-z0-9_]+)"|T\(key\)|addFlash`)
	scan := func(b []byte) {
		for _, m := range keyRE.FindAllSubmatch(b, -1) {
			for _, k := range m[1:] {
				if len(k) > 0 && !strings.HasSuffix(string(k), "_") { // a prefix: checked below
					used[string(k)] = true
				}
			}
		}
	}
	fs.WalkDir(templateFS, "templates", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			b, _ := templateFS.ReadFile(p)
			scan(b)
		}
		return nil
	})
	files, _ := filepath.Glob("*.go")
	for _, f := range files {
		if !strings.HasSuffix(f, "_test.go") {
			b, _ := os.ReadFile(f)
			scan(b)
		}
	}
	// Keys built at run time.
	for _, s := range []string{schema.StatusPending, schema.StatusApproved, schema.StatusRejected, schema.StatusDuplicate} {
		used["status_"+s] = true
	}
	for _, r := range []string{schema.RoleVolunteer, schema.RoleCoordinator, schema.RoleOfficer, schema.RoleAdmin} {
		used["role_"+r] = true
	}
	for f := schema.Field(0); f < schema.NumFields; f++ {
		if f != schema.FieldCitizenRef && f != schema.FieldHouseholdRef { // never shown
			used["field_"+f.String()] = true
		}
	}
	for _, l := range []string{schema.LevelProvince, schema.LevelDistrict, schema.LevelCommune, schema.LevelHamlet} {
		used["level_"+l] = true
	}
	used["outcome_"+schema.OutcomeCompleted], used["outcome_"+schema.OutcomeIncomplete] = true, true
	for _, k := range []string{"msg_approved", "msg_rejected", "msg_sign_in_first", "msg_session_ended", "msg_signed_out", "msg_form_expired"} {
		used[k] = true
	}
	if len(used) < 100 {
		t.Fatalf("found only %d message keys in use: the scan is broken", len(used))
	}
	for k := range used {
		m, ok := messages[k]
		if !ok {
			t.Errorf("message %q is used but not defined", k)
			continue
		}
		if m[0] == "" || m[1] == "" {
			t.Errorf("message %q lacks a language: %q", k, m)
		}
	}
	for k, m := range messages {
		for _, s := range m {
			if !norm.NFC.IsNormalString(s) {
				t.Errorf("message %q is not in Unicode NFC: %q", k, s)
			}
		}
		if strings.Count(m[0], "%") != strings.Count(m[1], "%") {
			t.Errorf("message %q has different arguments in its languages: %q", k, m)
		}
	}
}

func TestTemplatesRender(t *testing.T) {
	p := mustParsePages()
	if len(p.byName) != len(pageNames) {
		t.Fatalf("%d pages parsed", len(p.byName))
	}
}

func TestISODate(t *testing.T) {
	for in, want := range map[string]string{"": "", "23/11/2026": "2026-11-23", "2026-11-23": "2026-11-23", "1/2/2026": "2026-02-01",
		"01.02.2026": "2026-02-01", " 23-11-2026 ": "2026-11-23"} {
		if got, err := isoDate(in); err != nil || got != want {
			t.Errorf("isoDate(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"31/02/2026", "11/23/2026x", "hôm qua", "2026/11/23"} {
		if got, err := isoDate(in); schema.ErrorCode(err) != schema.CodeInvalid {
			t.Errorf("isoDate(%q) = %q, %v; want invalid", in, got, err)
		}
	}
}

func TestSafeNext(t *testing.T) {
	for in, want := range map[string]string{"/web/reviews?status=all": "/web/reviews?status=all", "": "/web/", "/": "/web/",
		"//evil.example/web/": "/web/", "/web//evil.example": "/web/", "https://evil.example/web/": "/web/",
		"/web/\\evil": "/web/", "/v1/reports/coverage": "/web/", "/web/x\r\nSet-Cookie: a=b": "/web/"} {
		if got := safeNext(in); got != want {
			t.Errorf("safeNext(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestSessionsExpireAndAreBounded(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2026, 11, 23, 3, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	s := newSessions(clock)
	tok, _ := s.start(7)
	if got := s.get(tok); got == nil || got.userID != 7 || len(got.csrf) != 43 {
		t.Fatalf("get = %+v", got)
	}
	if s.get(tok+"x") != nil || s.get("") != nil {
		t.Fatal("an unknown token found a session")
	}
	// Used within the idle time, a session lives up to its maximum age.
	for el := time.Duration(0); el < sessionMax-sessionIdle; el += sessionIdle - time.Minute {
		advance(sessionIdle - time.Minute)
		if s.get(tok) == nil {
			t.Fatalf("session ended after %v of use", el)
		}
	}
	advance(sessionIdle)
	if s.get(tok) != nil {
		t.Fatal("a session outlived its maximum age")
	}
	// Idle too long: ended.
	tok, _ = s.start(7)
	advance(sessionIdle + time.Second)
	if s.get(tok) != nil {
		t.Fatal("an idle session lived on")
	}
	// One account has at most maxSessionsPerUser; the oldest goes first.
	first, _ := s.start(8)
	advance(time.Second)
	for i := 0; i < maxSessionsPerUser; i++ {
		s.start(8)
	}
	if s.get(first) != nil {
		t.Fatal("the oldest session survived the cap")
	}
	other, _ := s.start(9)
	s.endUser(8)
	if s.count() != 1 || s.get(other) == nil {
		t.Fatalf("endUser left %d sessions", s.count())
	}
}

// The QR code's SVG path, drawn back as pixels, reads as its payload.
func TestQRSVG(t *testing.T) {
	payload := "cdtsync://enroll?code=7KQ2M-XH4PA&server=https%3A%2F%2Fcdt.dongthap.gov.vn"
	svg, err := qrSVG(payload, "Mã QR")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`viewBox="0 0 (\d+) \d+" width="(\d+)"`).FindStringSubmatch(string(svg))
	if m == nil {
		t.Fatalf("no viewBox and width in %.200s", svg)
	}
	n, _ := strconv.Atoi(m[1])
	px, _ := strconv.Atoi(m[2])
	if px%n != 0 || px < 280 {
		t.Errorf("%d modules drawn %d pixels wide: not a whole number of pixels each, or too small", n, px)
	}
	const scale = 6
	img := image.NewGray(image.Rect(0, 0, n*scale, n*scale))
	for i := range img.Pix {
		img.Pix[i] = 255
	}
	for _, r := range regexp.MustCompile(`M(\d+) (\d+)h(\d+)v1h-\d+z`).FindAllStringSubmatch(string(svg), -1) {
		x, _ := strconv.Atoi(r[1])
		y, _ := strconv.Atoi(r[2])
		w, _ := strconv.Atoi(r[3])
		for yy := y * scale; yy < (y+1)*scale; yy++ {
			for xx := x * scale; xx < (x+w)*scale; xx++ {
				img.SetGray(xx, yy, color.Gray{})
			}
		}
	}
	bmp, _ := gozxing.NewBinaryBitmapFromImage(img)
	res, err := gozxingqr.NewQRCodeReader().Decode(bmp, nil)
	if err != nil || res.GetText() != payload {
		t.Fatalf("decoded %v, %v", res, err)
	}
}

func TestLink(t *testing.T) {
	id := int64(5)
	for _, c := range []struct{ got, want string }{
		{link("/web/"), "/web/"},
		{link("/web/units/3", "from", "2026-11-01", "to", "", "approved_only", true, "unit", &id), "/web/units/3?approved_only=1&from=2026-11-01&unit=5"},
		{link("/web/teams", "approved_only", false, "unit", (*int64)(nil), "n", int64(0)), "/web/teams"},
	} {
		if c.got != c.want {
			t.Errorf("link = %q, want %q", c.got, c.want)
		}
	}
}
