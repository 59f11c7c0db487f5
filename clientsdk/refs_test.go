package clientsdk_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cdtsync/cdtsync/clientsdk"
	"github.com/cdtsync/cdtsync/clientsdk/sdktest"
	"github.com/cdtsync/cdtsync/schema"
)

func TestNormalizeCCCD(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
	}{
		{"OK", "087123456789", "087123456789"},
		{"OKSpaces", " 087 123 456 789 ", "087123456789"},
		{"OKDotsAndDashes", "087.123-456.789", "087123456789"},
		{"OKHanoi", "001-0990-12345", "001099012345"},
		{"OKNoBreakSpace", "079\u00a0123\u00a0456\u00a0789", "079123456789"},
		{"ErrTooShort", "08712345678", ""},
		{"ErrTooLong", "0871234567890", ""},
		{"ErrLetter", "08712345678O", ""},
		{"ErrOldNineDigitCMND", "331234567", ""},
		{"ErrNoProvince003", "003123456789", ""},
		{"ErrNoProvince099", "099123456789", ""},
		{"ErrFullWidthDigits", "０８７１２３４５６７８９", ""},
		{"ErrEmpty", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := clientsdk.NormalizeCCCD(tc.in)
			if tc.want == "" {
				if schema.ErrorCode(err) != schema.CodeInvalidField {
					t.Fatalf("NormalizeCCCD(%q) = %q, %v; want invalid_field", tc.in, got, err)
				}
				if strings.Contains(err.Error(), strings.TrimSpace(tc.in)) && tc.in != "" {
					t.Errorf("the error repeats the number: %v", err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("NormalizeCCCD(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
			}
		})
	}
}

// TestCCCDProvinceCodes holds the SDK's province codes to the official code list of the
// 63 provinces in force before the 2025 mergers: a CCCD's first three digits are the
// province code with a leading zero.
func TestCCCDProvinceCodes(t *testing.T) {
	f, err := os.Open(filepath.Join("..", "testdata", "units", "vn-admin-2024-11-01", "provinces.csv"))
	if err != nil {
		t.Fatal(err) // the list is part of the repository
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	official := map[string]bool{}
	for _, r := range rows[1:] {
		official["0"+r[0]] = true
	}
	if len(official) != 63 {
		t.Fatalf("%d provinces in the code list", len(official))
	}
	for i := 0; i < 1000; i++ {
		code := strings.Repeat("0", 3-len(itoa3(i))) + itoa3(i)
		_, err := clientsdk.NormalizeCCCD(code + "123456789")
		if (err == nil) != official[code] {
			t.Errorf("code %s: accepted %v, official %v", code, err == nil, official[code])
		}
	}
}

func itoa3(i int) string {
	return strings.TrimLeft(string([]byte{byte('0' + i/100), byte('0' + i/10%10), byte('0' + i%10)}), "0")
}

// TestRefsFollowProtocol checks refs against docs/PROTOCOL.md §8 computed independently.
func TestRefsFollowProtocol(t *testing.T) {
	key := []byte("khóa-triển-khai-đồng-tháp-32byte")
	want := func(msg string) string {
		m := hmac.New(sha256.New, key)
		m.Write([]byte(msg))
		return hex.EncodeToString(m.Sum(nil))
	}
	got, err := clientsdk.CitizenRef(key, "087 123.456-789")
	if err != nil || got != want("citizen:087123456789") {
		t.Errorf("CitizenRef = %s, %v", got, err)
	}
	got, err = clientsdk.HouseholdRef(key, "  hk 0042 vĩnh phước ")
	if err != nil || got != want("household:HK0042VĨNHPHƯỚC") {
		t.Errorf("HouseholdRef = %s, %v", got, err)
	}
	if _, err := clientsdk.HouseholdRef(key, "   "); schema.ErrorCode(err) != schema.CodeInvalidField {
		t.Errorf("empty household: %v", err)
	}
}

// TestRawCCCDNeverStoredOrSent records with a CCCD: the phone's files and every request
// carry only the ref, which the server accepts and groups by (a second activation of the
// same person is a duplicate).
func TestRawCCCDNeverStoredOrSent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := sdktest.Start(t)
	hong := srv.Volunteer(t, "Nguyễn Thị Hồng", srv.TeamSaDec)
	p := newPhone(t, "android-hong-7f3a", clientsdk.Options{})
	p.enroll(srv, srv.TeamSaDec, hong)
	const cccd = "087 190 012 345"
	const digits = "087190012345"
	var sent sdktest.Buffer
	srv.Intercept(func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path == "/v1/sync/push" {
			b, _ := readGzip(r)
			sent.Write(b)
			r.Body = ioNopCloser(b)
			r.Header.Del("Content-Encoding")
		}
		return false
	})
	if _, err := p.Record(ctx, clientsdk.Entry{HamletID: srv.VinhPhuoc, Kind: "vneid_level2", CCCD: cccd}); schema.ErrorCode(err) != schema.CodeConsentRequired {
		t.Fatalf("a CCCD without consent: %v", err)
	}
	first := p.record(clientsdk.Entry{HamletID: srv.VinhPhuoc, Kind: "vneid_level2", CCCD: cccd, HouseholdID: "HK-0042", Consent: true,
		Note: "Ông Tư, 81 tuổi"})
	second := p.record(clientsdk.Entry{HamletID: srv.CaiSon, Kind: "vneid_level2", CCCD: digits, Consent: true})
	if first.CitizenRef == nil || *first.CitizenRef != *second.CitizenRef || len(*first.CitizenRef) != 64 {
		t.Fatalf("refs %v %v", deref(first.CitizenRef), deref(second.CitizenRef))
	}
	p.sync()
	server := srv.Logs(t, srv.TeamSaDec, hong)
	if s := server[second.ID]; s.Status != schema.StatusDuplicate || s.DuplicateOf != first.ID {
		t.Errorf("second activation of the same person: %+v", s)
	}
	if got := p.logs()[second.ID]; got.Status != schema.StatusDuplicate {
		t.Errorf("the phone shows status %q", got.Status)
	}
	if !strings.Contains(sent.String(), *first.CitizenRef) {
		t.Errorf("the ref was not sent")
	}
	p.Close()
	for _, suffix := range []string{"", "-wal"} {
		b, _ := os.ReadFile(p.path + suffix)
		for _, raw := range []string{digits, cccd, "087-190", "HK-0042"} {
			if bytes.Contains(b, []byte(raw)) {
				t.Errorf("the phone's file %s holds %q", filepath.Base(p.path+suffix), raw)
			}
		}
	}
	for _, raw := range []string{digits, cccd, "HK-0042"} {
		if strings.Contains(sent.String(), raw) {
			t.Errorf("a push carried %q", raw)
		}
		if strings.Contains(srv.Output.String(), raw) || strings.Contains(srv.Output.String(), *first.CitizenRef) {
			t.Errorf("the server logged a number or ref")
		}
	}
}

// TestRecordChecksFieldsOffline: mistakes are refused at once, offline, with the codes the
// server would answer.
func TestRecordChecksFieldsOffline(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := sdktest.Start(t)
	hong := srv.Volunteer(t, "Nguyễn Thị Hồng", srv.TeamSaDec)
	p := newPhone(t, "android-hong-7f3a", clientsdk.Options{})
	p.enroll(srv, srv.TeamSaDec, hong)
	p.sync() // the pick-lists
	long := strings.Repeat("ư", schema.MaxNoteRunes+1)
	lat := 91.0
	for _, tc := range []struct {
		name string
		e    clientsdk.Entry
		code string
	}{
		{"ErrNoHamlet", clientsdk.Entry{Kind: "other"}, schema.CodeInvalidField},
		{"ErrNoKind", clientsdk.Entry{HamletID: srv.VinhPhuoc}, schema.CodeInvalidField},
		{"ErrHamletOfAnotherWard", clientsdk.Entry{HamletID: srv.MyThuong, Kind: "other"}, schema.CodeUnknownHamlet},
		{"ErrCommuneIsNoHamlet", clientsdk.Entry{HamletID: srv.SaDec, Kind: "other"}, schema.CodeUnknownHamlet},
		{"ErrUnknownKind", clientsdk.Entry{HamletID: srv.VinhPhuoc, Kind: "vneid_level3"}, schema.CodeUnknownKind},
		{"ErrNoteTooLong", clientsdk.Entry{HamletID: srv.VinhPhuoc, Kind: "other", Note: long}, schema.CodeNoteTooLong},
		{"ErrAgeBand", clientsdk.Entry{HamletID: srv.VinhPhuoc, Kind: "other", AgeBand: "70_plus"}, schema.CodeInvalidField},
		{"ErrGender", clientsdk.Entry{HamletID: srv.VinhPhuoc, Kind: "other", Gender: "nu"}, schema.CodeInvalidField},
		{"ErrOutcome", clientsdk.Entry{HamletID: srv.VinhPhuoc, Kind: "other", Outcome: "done"}, schema.CodeInvalidField},
		{"ErrAttendees", clientsdk.Entry{HamletID: srv.VinhPhuoc, Kind: "digital_skills", Attendees: -3}, schema.CodeInvalidField},
		{"ErrLat", clientsdk.Entry{HamletID: srv.VinhPhuoc, Kind: "other", Lat: &lat}, schema.CodeInvalidField},
		{"ErrFuture", clientsdk.Entry{HamletID: srv.VinhPhuoc, Kind: "other", OccurredAt: time.Now().Add(2 * time.Hour)}, schema.CodeOccurredInFuture},
		{"ErrTooOld", clientsdk.Entry{HamletID: srv.VinhPhuoc, Kind: "other", OccurredAt: time.Date(2019, 12, 31, 0, 0, 0, 0, ict)}, schema.CodeInvalidField},
		{"ErrHouseholdWithoutConsent", clientsdk.Entry{HamletID: srv.VinhPhuoc, Kind: "other", HouseholdID: "HK-1"}, schema.CodeConsentRequired},
		{"ErrCCCDProvince", clientsdk.Entry{HamletID: srv.VinhPhuoc, Kind: "other", CCCD: "099123456789", Consent: true}, schema.CodeInvalidField},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := p.Record(ctx, tc.e); schema.ErrorCode(err) != tc.code {
				t.Errorf("Record: %v, want %s", err, tc.code)
			}
		})
	}
	if n := p.pending(); n != 0 {
		t.Errorf("%d ops queued by refused records", n)
	}
}

// TestDuplicateResolvesOnThePhone: a second level-2 activation of the same person is a
// duplicate; when the first is deleted, the second becomes canonical, and the phone that
// holds it learns so on its next pull.
func TestDuplicateResolvesOnThePhone(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := sdktest.Start(t)
	hong := srv.Volunteer(t, "Nguyễn Thị Hồng", srv.TeamSaDec)
	minh := srv.Volunteer(t, "Trần Văn Minh", srv.TeamSaDec)
	ph := newPhone(t, "android-hong-7f3a", clientsdk.Options{})
	pm := newPhone(t, "android-minh-11b0", clientsdk.Options{})
	ph.enroll(srv, srv.TeamSaDec, hong)
	pm.enroll(srv, srv.TeamSaDec, minh)
	first := ph.record(clientsdk.Entry{HamletID: srv.VinhPhuoc, Kind: "vneid_level2", CCCD: "087190012345", Consent: true,
		OccurredAt: time.Now().Add(-2 * time.Hour)})
	second := pm.record(clientsdk.Entry{HamletID: srv.CaiSon, Kind: "vneid_level2", CCCD: "087 190 012 345", Consent: true})
	ph.sync()
	pm.sync()
	if got, _ := pm.Log(ctx, second.ID); got.Status != schema.StatusDuplicate || got.DuplicateOf != first.ID {
		t.Fatalf("Minh's log: status %q duplicate_of %q", got.Status, got.DuplicateOf)
	}
	if err := ph.Delete(ctx, first.ID); err != nil {
		t.Fatal(err)
	}
	ph.sync()
	pm.sync()
	if got, _ := pm.Log(ctx, second.ID); got.Status != schema.StatusPending || got.DuplicateOf != "" {
		t.Errorf("after the canonical log was deleted, Minh's phone shows %q (duplicate of %q)", got.Status, got.DuplicateOf)
	}
}
