package server

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cdtsync/cdtsync/auth"
	"github.com/cdtsync/cdtsync/schema"
)

// TestNoSecretsInLogs captures all log output of a full sign-in, user creation, enrolment,
// refresh, reuse, sign-out and revocation flow, and searches it for every password, token,
// enrolment code and the citizen key, in every form they travel in.
func TestNoSecretsInLogs(t *testing.T) {
	env := newTestEnv(t)
	var secrets []string
	keep := func(s ...string) { secrets = append(secrets, s...) }
	keepToken := func(tok string) {
		keep(tok, auth.HashSecret(tok))
		if parts := strings.Split(tok, "."); len(parts) == 3 {
			keep(parts[2]) // a JWT's signature alone is enough to replay it with the visible parts
		}
	}

	admin := env.login(env.Admin)
	keep(staffPassword)
	keepToken(admin.AccessToken)
	keepToken(admin.RefreshToken)

	const newPassword = "Làng hoa Tân Quy Đông 2026"
	keep(newPassword)
	var coordUser schema.User
	if status, code := env.do("POST", "/v1/users", admin.AccessToken, map[string]any{"role": "coordinator", "display_name": "Hồ Văn Lộc",
		"unit_id": env.SaDec, "username": "loc.sadec", "password": newPassword}, &coordUser); status != 201 {
		t.Fatalf("create coordinator: %d %s", status, code)
	}
	const wrong = "Mật khẩu sai bét 123"
	keep(wrong)
	env.do("POST", "/v1/auth/login", "", map[string]string{"username": "loc.sadec", "password": wrong}, nil)
	env.do("POST", "/v1/auth/login", "", map[string]string{"username": "nguoi.la", "password": wrong}, nil)
	coord := env.login(identity{Username: "loc.sadec", Password: newPassword})
	keepToken(coord.AccessToken)
	keepToken(coord.RefreshToken)

	var vol schema.User
	env.do("POST", "/v1/users", coord.AccessToken, map[string]any{"role": "volunteer", "display_name": "Trần Văn Minh", "team_id": env.TeamSaDec}, &vol)
	code := env.issueCode(coord.AccessToken, vol.ID)
	norm, _ := auth.NormalizeEnrollmentCode(code.Code)
	keep(code.Code, norm, strings.ToLower(norm), code.QRPayload, code.QRPNG[:64])
	if h, ok := auth.HashEnrollmentCode(code.Code); ok {
		keep(h)
	}
	// A wrong code, then the right one typed loosely.
	env.do("POST", "/v1/enroll", "", map[string]string{"code": "ZZZZZ-ZZZZZ", "device_id": "android-minh-01"}, nil)
	var phone enrolled
	if status, c := env.do("POST", "/v1/enroll", "", map[string]string{"code": strings.ToLower(code.Code), "device_id": "android-minh-01",
		"device_name": "Vivo Y17s"}, &phone); status != 200 {
		t.Fatalf("enroll: %d %s", status, c)
	}
	env.do("POST", "/v1/enroll", "", map[string]string{"code": code.Code, "device_id": "android-ke-gian"}, nil) // used twice
	keepToken(phone.AccessToken)
	keepToken(phone.RefreshToken)
	key, _ := env.DB.CitizenKey(context.Background())
	keep(phone.CitizenKey, base64.RawStdEncoding.EncodeToString(key), base64.URLEncoding.EncodeToString(key), hex.EncodeToString(key))

	var p2 tokenPair
	env.do("POST", "/v1/auth/refresh", "", map[string]string{"refresh_token": phone.RefreshToken}, &p2)
	keepToken(p2.AccessToken)
	keepToken(p2.RefreshToken)
	env.do("GET", "/v1/me", p2.AccessToken, nil, nil)
	env.Clock.Advance(auth.RefreshReuseGrace + time.Second)
	env.do("POST", "/v1/auth/refresh", "", map[string]string{"refresh_token": phone.RefreshToken}, nil) // reuse: family revoked
	var c2 tokenPair
	env.do("POST", "/v1/auth/refresh", "", map[string]string{"refresh_token": coord.RefreshToken}, &c2)
	keepToken(c2.AccessToken)
	keepToken(c2.RefreshToken)
	env.do("POST", fmt.Sprintf("/v1/devices/%d/revoke", phone.Device.ID), c2.AccessToken, nil, nil)
	env.do("GET", "/v1/me", phone.AccessToken, nil, nil) // a revoked device's token
	env.do("POST", "/v1/auth/logout", "", map[string]string{"refresh_token": c2.RefreshToken}, nil)

	logs := env.Logs.String()
	for _, ev := range []string{"signed_in", "sign_in_failed", "user_created", "enrolment_code_issued", "enrol_failed",
		"device_enrolled", "refresh_token_reused", "device_revoked", "revoked_credentials_used", "signed_out"} {
		if !strings.Contains(logs, `"event":"`+ev+`"`) {
			t.Errorf("security event %s not logged: the capture is not seeing the flow", ev)
		}
	}
	for _, s := range secrets {
		if s == "" {
			t.Fatal("an empty secret: the flow did not get what it expected")
		}
		if strings.Contains(logs, s) {
			t.Errorf("a secret (%.12s…) appears in the logs", s)
		}
	}
	// The unknown username is not logged either: people type passwords into it.
	if strings.Contains(logs, "nguoi.la") {
		t.Error("an unknown username appears in the logs")
	}
}
