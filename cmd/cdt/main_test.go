package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cdtsync/cdtsync/clientsdk"
	"github.com/cdtsync/cdtsync/clientsdk/sdktest"
	"github.com/cdtsync/cdtsync/schema"
)

// cdt runs the program in-process and returns its stdout, stderr and error.
type cdt struct {
	t   *testing.T
	env map[string]string
}

func (c cdt) run(stdin string, args ...string) (string, string, error) {
	c.t.Helper()
	var out, errOut bytes.Buffer
	m := &Main{Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errOut, Getenv: func(k string) string { return c.env[k] }, Now: time.Now}
	err := m.Run(context.Background(), args)
	return out.String(), errOut.String(), err
}

// ok runs the program and fails the test on error.
func (c cdt) ok(args ...string) string {
	c.t.Helper()
	out, errOut, err := c.run("", args...)
	if err != nil {
		c.t.Fatalf("cdt %s: %v\n%s%s", strings.Join(args, " "), err, out, errOut)
	}
	return out
}

// TestFieldClient walks a volunteer's day with cdt against a real server: enrol, record
// offline (the CCCD hashed, never stored), sync with a progress bar, list, edit, delete,
// status, and a second volunteer on the same phone.
func TestFieldClient(t *testing.T) {
	srv := sdktest.Start(t)
	hong := srv.Volunteer(t, "Nguyễn Thị Hồng", srv.TeamSaDec)
	minh := srv.Volunteer(t, "Trần Văn Minh", srv.TeamSaDec)
	data := t.TempDir()
	c := cdt{t: t, env: map[string]string{"CDT_DATA": data, "CDT_SERVER": srv.URL}}

	if out := c.ok("status"); !strings.Contains(out, "Chưa có thành viên nào đăng ký") {
		t.Errorf("status before enrolment:\n%s", out)
	}
	if _, _, err := c.run("", "record", "--hamlet", "1", "--kind", "other"); schema.ErrorCode(err) != schema.CodeUnauthorized {
		t.Errorf("record before enrolment: %v", err)
	}
	out := c.ok("enroll", "--name", "Redmi của Hồng", srv.Code(t, srv.TeamSaDec, hong))
	if !strings.Contains(out, "Nguyễn Thị Hồng") {
		t.Errorf("enroll:\n%s", out)
	}
	// Offline, before the first sync: no pick-list, so the hamlet is given by id.
	if _, _, err := c.run("", "record", "--hamlet", "Khóm Vĩnh Phước", "--kind", "vneid_install"); err == nil || !strings.Contains(err.Error(), "cdt sync") {
		t.Errorf("hamlet by name without a pick-list: %v", err)
	}
	c.ok("record", "--hamlet", fmt.Sprint(srv.VinhPhuoc), "--kind", "vneid_install", "--note", "Ông Năm", "--age-band", "60_plus")
	c.ok("sync")
	if out := c.ok("hamlets"); !strings.Contains(out, "Khóm Cái Sơn") || !strings.Contains(out, "612") {
		t.Errorf("hamlets:\n%s", out)
	}
	if out := c.ok("kinds"); !strings.Contains(out, "Kích hoạt tài khoản định danh điện tử mức 2") {
		t.Errorf("kinds:\n%s", out)
	}

	// The CCCD from stdin, so it is in neither the shell history nor the process list.
	const cccd = "087190012345"
	out, errOut, err := c.run(cccd+"\n", "record", "--hamlet", "vĩnh phước", "--kind", "vneid_level2", "--cccd", "-", "--consent",
		"--at", "04/05/2026 09:30", "--note", "Bà Sáu, 78 tuổi", "--json")
	if err != nil {
		t.Fatalf("record with a CCCD: %v %s", err, errOut)
	}
	var l clientsdk.Log
	if err := json.Unmarshal([]byte(out), &l); err != nil || l.CitizenRef == nil || len(*l.CitizenRef) != 64 ||
		*l.OccurredAt != "2026-05-04T09:30:00+07:00" {
		t.Fatalf("recorded %s (%v)", out, err)
	}
	if _, _, err := c.run("", "record", "--hamlet", "Cái Sơn", "--kind", "vneid_level2", "--cccd", "087 190 012"); schema.ErrorCode(err) != schema.CodeConsentRequired {
		t.Errorf("a CCCD without consent: %v", err)
	}
	if _, _, err := c.run("", "record", "--hamlet", "Cái Sơn", "--kind", "vneid_level2", "--cccd", "087 190 012", "--consent"); schema.ErrorCode(err) != schema.CodeInvalidField {
		t.Errorf("a short CCCD: %v", err)
	}
	c.ok("edit", l.ID, "--note", "Bà Sáu, 78 tuổi, đã có ảnh", "--attendees", "2")
	gone := c.ok("record", "--hamlet", "Ấp Đông Huề", "--kind", "other", "--note", "Ghi nhầm", "--json")
	var g clientsdk.Log
	json.Unmarshal([]byte(gone), &g)
	c.ok("delete", g.ID)

	// A large outbox: the sync draws a progress bar.
	sdk, err := clientsdk.Open(context.Background(), filepath.Join(data, "cdt.db"), clientsdk.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 250; i++ {
		if _, err := sdk.Record(context.Background(), clientsdk.Entry{HamletID: srv.CaiSon, Kind: "digital_skills", Attendees: 12}); err != nil {
			t.Fatal(err)
		}
	}
	sdk.Close()
	out, errOut, err = c.run("", "sync")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(errOut, "[##############################] 254/254 thao tác / ops") {
		t.Errorf("no progress bar on stderr: %q", errOut)
	}
	if !strings.Contains(out, "Đã gửi / pushed: 254 thao tác") || !strings.Contains(out, "Đã đồng bộ / synced") {
		t.Errorf("sync:\n%s", out)
	}
	if n := srv.Count(t, `SELECT count(*) FROM logs WHERE volunteer_id = ? AND deleted = 0`, hong); n != 252 {
		t.Errorf("server holds %d live logs, want 252", n)
	}
	for _, suffix := range []string{"", "-wal"} {
		b, _ := os.ReadFile(filepath.Join(data, "cdt.db"+suffix))
		if bytes.Contains(b, []byte(cccd)) {
			t.Errorf("the phone's file holds the raw CCCD")
		}
	}

	var logs []clientsdk.Log
	if err := json.Unmarshal([]byte(c.ok("list", "--json")), &logs); err != nil || len(logs) != 252 {
		t.Fatalf("list --json: %d logs, %v", len(logs), err)
	}
	if out := c.ok("list", "--limit", "300"); !strings.Contains(out, "Khóm Vĩnh Phước") || !strings.Contains(out, "chờ duyệt / pending review") ||
		!strings.Contains(out, "04/05/2026 09:30") || !strings.Contains(out, "252 nhật ký") {
		t.Errorf("list:\n%s", out)
	}
	var st clientsdk.Status
	if err := json.Unmarshal([]byte(c.ok("status", "--json")), &st); err != nil || len(st.Volunteers) != 1 || st.Volunteers[0].PendingOps != 0 {
		t.Errorf("status --json: %+v %v", st, err)
	}

	// Minh shares the phone.
	out = c.ok("enroll", srv.Code(t, srv.TeamSaDec, minh))
	if !strings.Contains(out, fmt.Sprintf("cdt who %d", minh)) {
		t.Errorf("second enrolment:\n%s", out)
	}
	if out := c.ok("who", fmt.Sprint(minh)); !strings.Contains(out, "Đang dùng / now using: Trần Văn Minh") {
		t.Errorf("who:\n%s", out)
	}
	if out := c.ok("list"); !strings.Contains(out, "Chưa có nhật ký nào") {
		t.Errorf("Minh's list:\n%s", out)
	}
	c.ok("record", "--hamlet", fmt.Sprint(srv.DongHue), "--kind", "ecommerce", "--note", "Gian hàng bưởi Phong Điền")
	out = c.ok("status")
	if !strings.Contains(out, "* Trần Văn Minh") || !strings.Contains(out, "Chưa đồng bộ / not yet synced: 1 thao tác") ||
		!strings.Contains(out, "  Nguyễn Thị Hồng") {
		t.Errorf("status:\n%s", out)
	}
	c.ok("who", fmt.Sprint(hong))
	c.ok("sync")
	if n := srv.Count(t, `SELECT count(*) FROM logs WHERE volunteer_id = ?`, minh); n != 1 {
		t.Errorf("Minh has %d logs on the server", n)
	}
	if _, _, err := c.run("", "frobnicate"); err == nil {
		t.Errorf("an unknown command succeeded")
	}
}

// TestRejectedShownInStatus: an op the server refuses is listed by cdt status with the
// server's code and message.
func TestRejectedShownInStatus(t *testing.T) {
	srv := sdktest.Start(t)
	hong := srv.Volunteer(t, "Nguyễn Thị Hồng", srv.TeamSaDec)
	c := cdt{t: t, env: map[string]string{"CDT_DATA": t.TempDir(), "CDT_SERVER": srv.URL}}
	c.ok("enroll", srv.Code(t, srv.TeamSaDec, hong))
	c.ok("record", "--hamlet", fmt.Sprint(srv.MyThuong), "--kind", "vneid_install")
	if out := c.ok("sync"); !strings.Contains(out, "bị từ chối / rejected: 1") {
		t.Errorf("sync:\n%s", out)
	}
	out := c.ok("status")
	if !strings.Contains(out, "unknown_hamlet: Ấp/thôn") || !strings.Contains(out, "Bị máy chủ từ chối / refused by the server: 1") {
		t.Errorf("status:\n%s", out)
	}
	if out := c.ok("list"); !strings.Contains(out, "máy chủ từ chối / refused: unknown_hamlet") {
		t.Errorf("list:\n%s", out)
	}
}

func TestVietnameseFormats(t *testing.T) {
	for n, want := range map[int]string{0: "0", 999: "999", 1284: "1.284", 1000000: "1.000.000", -4500: "-4.500"} {
		if got := vnNumber(n); got != want {
			t.Errorf("vnNumber(%d) = %q, want %q", n, got, want)
		}
	}
	if got := vnTime(time.Date(2026, 11, 23, 2, 41, 0, 0, time.UTC)); got != "23/11/2026 09:41" {
		t.Errorf("vnTime = %q", got)
	}
	if got, err := parseWhen("23/11/2026 09:30"); err != nil || got.UTC() != time.Date(2026, 11, 23, 2, 30, 0, 0, time.UTC) {
		t.Errorf("parseWhen = %v %v", got, err)
	}
}
