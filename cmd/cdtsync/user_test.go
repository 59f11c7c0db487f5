package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cdtsync/cdtsync/schema"
	"github.com/cdtsync/cdtsync/store/sqlite"
)

// testMain returns a Main with its output captured and the given environment.
func testMain(env map[string]string) (*Main, *bytes.Buffer, *bytes.Buffer) {
	var out, errOut bytes.Buffer
	return &Main{Stdout: &out, Stderr: &errOut, Getenv: func(k string) string { return env[k] }, Now: time.Now}, &out, &errOut
}

// TestUserAddThenSignIn makes the first admin with "cdtsync user add" on a fresh data
// directory, starts the real server on :0, and signs in over HTTP.
func TestUserAddThenSignIn(t *testing.T) {
	ctx := context.Background()
	data := t.TempDir()
	db, err := sqlite.Open(ctx, data, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	province, err := db.CreateUnit(ctx, schema.Unit{Level: schema.LevelProvince, UnitType: "Tỉnh", Code: "82",
		CodeList: "vn-admin-2026-04-30", Name: "Tỉnh Đồng Tháp"}, "test/province/82")
	if err != nil {
		t.Fatal(err)
	}
	db.Close()

	const password = "Quản trị Đồng Tháp 2026"
	m, out, _ := testMain(map[string]string{"CDTSYNC_PASSWORD": password})
	err = m.Run(ctx, []string{"user", "add", "--data", data, "--role", "admin", "--username", "Admin.DongThap",
		"--unit", fmt.Sprint(province), "--name", "Quản trị viên tỉnh Đồng Tháp"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "admin.dongthap") {
		t.Errorf("output %q does not name the new user", out.String())
	}
	t.Run("ErrNoActorNeededButRulesHold", func(t *testing.T) {
		m, _, _ := testMain(nil)
		cases := [][]string{
			{"user", "add", "--data", data, "--role", "admin", "--username", "khac", "--password", "ngắn", "--unit", fmt.Sprint(province)},
			{"user", "add", "--data", data, "--role", "root", "--username", "khac", "--password", "đủ dài rồi đấy", "--unit", fmt.Sprint(province)},
			{"user", "add", "--data", data, "--role", "admin", "--username", "admin.dongthap", "--password", "đủ dài rồi đấy", "--unit", fmt.Sprint(province)},
			{"user", "add", "--data", data, "--role", "admin", "--username", "khac", "--password", "đủ dài rồi đấy", "--unit", "9999"},
			{"user", "list"},
		}
		for _, args := range cases {
			if err := m.Run(ctx, args); err == nil {
				t.Errorf("%v succeeded", args)
			}
		}
	})

	// The keys directory is made owner-only on first start.
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	m, _, _ = testMain(nil)
	addr := make(chan string, 1)
	m.Listening = func(a string) { addr <- a }
	done := make(chan error, 1)
	go func() { done <- m.Run(sctx, []string{"serve", "--addr", "127.0.0.1:0", "--data", data}) }()
	var base string
	select {
	case a := <-addr:
		base = "http://" + a
	case err := <-done:
		t.Fatalf("serve: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("server did not start")
	}
	st, err := os.Stat(filepath.Join(data, "keys"))
	if err != nil || st.Mode().Perm() != 0o700 {
		t.Fatalf("keys directory: %v %v", st, err)
	}
	client := &http.Client{Timeout: 30 * time.Second}
	body, _ := json.Marshal(map[string]string{"username": "admin.dongthap", "password": password})
	resp, err := client.Post(base+"/v1/auth/login", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	if resp.StatusCode != 200 || tok.AccessToken == "" {
		t.Fatalf("sign-in: %d", resp.StatusCode)
	}
	req, _ := http.NewRequest("GET", base+"/v1/units", nil)
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	resp, err = client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var units struct{ Units []schema.Unit }
	json.NewDecoder(resp.Body).Decode(&units)
	resp.Body.Close()
	if resp.StatusCode != 200 || len(units.Units) != 1 || units.Units[0].Name != "Tỉnh Đồng Tháp" {
		t.Fatalf("units: %d %+v", resp.StatusCode, units.Units)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("serve stopped with %v", err)
	}
}

func TestKeysRotate(t *testing.T) {
	data := t.TempDir()
	m, out, _ := testMain(nil)
	if err := m.Run(context.Background(), []string{"keys", "rotate", "--data", data}); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(data, "keys", "*.pem"))
	if len(files) != 2 { // the first key, made on load, and the rotated one
		t.Fatalf("%d key files after rotate, want 2 (%s)", len(files), out)
	}
	for _, f := range files {
		if st, _ := os.Stat(f); st.Mode().Perm() != 0o600 {
			t.Errorf("%s mode %o, want 600", f, st.Mode().Perm())
		}
	}
}
