package server

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"image/png"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/makiuchi-d/gozxing"
	gozxingqr "github.com/makiuchi-d/gozxing/qrcode"

	"github.com/cdtsync/cdtsync/auth"
	"github.com/cdtsync/cdtsync/schema"
)

type tokenPair struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int    `json:"expires_in"`
	ServerTime   string `json:"server_time"`
}

type enrolled struct {
	tokenPair
	CitizenKey string `json:"citizen_key"`
	Volunteer  struct {
		ID          int64  `json:"id"`
		DisplayName string `json:"display_name"`
		TeamID      int64  `json:"team_id"`
		UnitID      int64  `json:"unit_id"`
	} `json:"volunteer"`
	Device struct {
		ID       int64  `json:"id"`
		DeviceID string `json:"device_id"`
	} `json:"device"`
}

type issuedCode struct {
	Code      string `json:"code"`
	ExpiresAt string `json:"expires_at"`
	QRPNG     string `json:"qr_png"`
	QRPayload string `json:"qr_payload"`
}

type meAnswer struct {
	schema.Profile
	ServerTime string `json:"server_time"`
}

// login signs a staff identity in over HTTP.
func (env *testEnv) login(id identity) tokenPair {
	env.t.Helper()
	var p tokenPair
	if status, code := env.do("POST", "/v1/auth/login", "", map[string]string{"username": id.Username, "password": id.Password}, &p); status != 200 {
		env.t.Fatalf("login %s: %d %s", id.Username, status, code)
	}
	return p
}

// issueCode asks for an enrolment code over HTTP.
func (env *testEnv) issueCode(token string, volunteer int64) issuedCode {
	env.t.Helper()
	var c issuedCode
	if status, code := env.do("POST", "/v1/enrollments", token, map[string]any{"volunteer_id": volunteer}, &c); status != http.StatusCreated {
		env.t.Fatalf("enrollments: %d %s", status, code)
	}
	return c
}

func TestLoginAndRefresh(t *testing.T) {
	env := newTestEnv(t)
	p := env.login(env.CoordSaDec)
	if p.TokenType != "Bearer" || p.ExpiresIn != int(auth.AccessTTL/time.Second) || p.RefreshToken == "" || p.ServerTime == "" {
		t.Fatalf("login answer %+v", p)
	}
	var me meAnswer
	if status, _ := env.do("GET", "/v1/me", p.AccessToken, nil, &me); status != 200 || me.User.ID != env.CoordSaDec.Actor.UserID ||
		me.Unit.Name != "Phường Sa Đéc" || me.User.Username != "lan.sadec" {
		t.Fatalf("me = %d %+v", status, me)
	}
	t.Run("CaseInsensitiveUsername", func(t *testing.T) {
		env.login(identity{Username: "LAN.SaDec", Password: staffPassword})
	})
	t.Run("Refresh", func(t *testing.T) {
		var p2 tokenPair
		if status, code := env.do("POST", "/v1/auth/refresh", "", map[string]string{"refresh_token": p.RefreshToken}, &p2); status != 200 {
			t.Fatalf("refresh: %d %s", status, code)
		}
		if p2.RefreshToken == p.RefreshToken || p2.AccessToken == "" {
			t.Fatal("refresh did not rotate")
		}
		if status, _ := env.do("GET", "/v1/me", p2.AccessToken, nil, nil); status != 200 {
			t.Fatalf("new access token refused: %d", status)
		}
	})
	t.Run("ErrReusedRefreshRevokesFamily", func(t *testing.T) {
		p := env.login(env.CoordSaDec)
		var p2 tokenPair
		env.do("POST", "/v1/auth/refresh", "", map[string]string{"refresh_token": p.RefreshToken}, &p2)
		env.Clock.Advance(auth.RefreshReuseGrace + time.Second)
		status, code := env.do("POST", "/v1/auth/refresh", "", map[string]string{"refresh_token": p.RefreshToken}, nil)
		if status != 401 || code != schema.CodeUnauthorized {
			t.Fatalf("reused refresh token: %d %s, want 401 unauthorized", status, code)
		}
		// The whole family is revoked: the legitimate successor is dead too.
		if status, _ := env.do("POST", "/v1/auth/refresh", "", map[string]string{"refresh_token": p2.RefreshToken}, nil); status != 401 {
			t.Fatalf("successor after reuse: %d, want 401", status)
		}
		if !strings.Contains(env.Logs.String(), `"event":"refresh_token_reused"`) {
			t.Error("refresh reuse not logged as a security event")
		}
	})
	t.Run("Logout", func(t *testing.T) {
		p := env.login(env.CoordSaDec)
		if status, _ := env.do("POST", "/v1/auth/logout", "", map[string]string{"refresh_token": p.RefreshToken}, nil); status != http.StatusNoContent {
			t.Fatalf("logout: %d", status)
		}
		if status, _ := env.do("POST", "/v1/auth/refresh", "", map[string]string{"refresh_token": p.RefreshToken}, nil); status != 401 {
			t.Fatalf("refresh after logout: %d, want 401", status)
		}
	})
	t.Run("ErrRefreshGarbage", func(t *testing.T) {
		for _, tok := range []string{"", "abc", p.AccessToken} {
			if status, code := env.do("POST", "/v1/auth/refresh", "", map[string]string{"refresh_token": tok}, nil); status != 401 || code != schema.CodeUnauthorized {
				t.Errorf("refresh %q: %d %s", tok, status, code)
			}
		}
	})
}

func TestLoginRefused(t *testing.T) {
	env := newTestEnv(t)
	revoked := env.volunteerStaff(t, "Trương Văn Đức", "duc.sadec")
	if _, err := env.DB.RevokeUser(context.Background(), env.Admin.Actor, revoked.Actor.UserID); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		body   string
		status int
		code   string
	}{
		{"ErrWrongPassword", `{"username":"lan.sadec","password":"Sen trắng Sa Đéc 2026"}`, 401, schema.CodeUnauthorized},
		{"ErrUnknownUser", `{"username":"khong.co","password":"Sen hồng Sa Đéc 2026"}`, 401, schema.CodeUnauthorized},
		{"ErrRevoked", `{"username":"duc.sadec","password":"Sen hồng Sa Đéc 2026"}`, 401, schema.CodeUnauthorized},
		{"ErrMissingPassword", `{"username":"lan.sadec"}`, 400, schema.CodeInvalid},
		{"ErrUnknownField", `{"username":"lan.sadec","password":"x","role":"admin"}`, 400, schema.CodeInvalid},
		{"ErrNotJSON", `username=lan.sadec`, 400, schema.CodeInvalid},
		{"ErrTrailingData", `{"username":"lan.sadec","password":"x"} {}`, 400, schema.CodeInvalid},
		{"ErrTooLarge", `{"username":"lan.sadec","password":"` + strings.Repeat("a", 5000) + `"}`, 413, schema.CodeTooLarge},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest("POST", env.HTTP.URL+"/v1/auth/login", strings.NewReader(tc.body))
			req.Header.Set("Content-Type", "application/json")
			status, _, body := env.send(req)
			var e schema.Error
			if err := jsonUnmarshal(body, &e); err != nil || status != tc.status || e.Code != tc.code || e.Message == "" {
				t.Fatalf("%d %s, want %d %s", status, body, tc.status, tc.code)
			}
		})
	}
	// A wrong password and an unknown user read the same.
	_, _, a := env.send(env.request("POST", "/v1/auth/login", "", map[string]string{"username": "lan.sadec", "password": "Sen trắng Sa Đéc 2026"}))
	_, _, b := env.send(env.request("POST", "/v1/auth/login", "", map[string]string{"username": "khong.co", "password": "Sen trắng Sa Đéc 2026"}))
	if !bytes.Equal(a, b) {
		t.Errorf("wrong password %s and unknown user %s answer differently", a, b)
	}
}

// volunteerStaff adds a coordinator of Sa Đéc (a second one) for tests that revoke.
func (env *testEnv) volunteerStaff(t *testing.T, name, username string) identity {
	t.Helper()
	h, _ := auth.HashPassword(staffPassword, auth.TestParams)
	u, err := env.DB.CreateUser(context.Background(), env.Admin.Actor, schema.NewUser{Role: schema.RoleCoordinator, DisplayName: name,
		UnitID: env.SaDec, Username: username, PasswordHash: h})
	if err != nil {
		t.Fatal(err)
	}
	return env.identity(u.ID, 0, username)
}

func TestRateLimits(t *testing.T) {
	t.Run("LoginPerAccount", func(t *testing.T) {
		env := newTestEnv(t)
		bad := map[string]string{"username": "lan.sadec", "password": "Sen trắng Sa Đéc 2026"}
		for i := range loginAccountBurst {
			if status, _ := env.do("POST", "/v1/auth/login", "", bad, nil); status != 401 {
				t.Fatalf("attempt %d: %d, want 401", i+1, status)
			}
		}
		status, hdr, body := env.send(env.request("POST", "/v1/auth/login", "", bad))
		assertTooMany(t, status, hdr, body)
		// Even the right password waits: the account is throttled, not the guess.
		status, hdr, body = env.send(env.request("POST", "/v1/auth/login", "", map[string]string{"username": "lan.sadec", "password": staffPassword}))
		assertTooMany(t, status, hdr, body)
		// Other accounts are not affected.
		env.login(env.CoordMyTra)
		wait, _ := strconv.Atoi(hdr.Get("Retry-After"))
		env.Clock.Advance(time.Duration(wait) * time.Second)
		env.login(env.CoordSaDec)
	})
	t.Run("LoginPerAddress", func(t *testing.T) {
		env := newTestEnv(t)
		var status int
		var hdr http.Header
		var body []byte
		for i := range loginAddrBurst + 1 {
			// Different unknown accounts each time: only the address limit can stop this.
			status, hdr, body = env.send(env.request("POST", "/v1/auth/login", "", map[string]string{
				"username": fmt.Sprintf("khach.%d", i), "password": "đoán mò thôi"}))
		}
		assertTooMany(t, status, hdr, body)
	})
	t.Run("EnrollPerPhone", func(t *testing.T) {
		env := newTestEnv(t)
		for i := range enrollPhoneBurst {
			status, code := env.do("POST", "/v1/enroll", "", map[string]string{"code": fmt.Sprintf("0000%d-00000", i), "device_id": "android-doan-ma"}, nil)
			if status != 401 || code != schema.CodeUnauthorized {
				t.Fatalf("guess %d: %d %s", i+1, status, code)
			}
		}
		status, hdr, body := env.send(env.request("POST", "/v1/enroll", "", map[string]string{"code": "7KQ2M-XH4PA", "device_id": "android-doan-ma"}))
		assertTooMany(t, status, hdr, body)
	})
	t.Run("EnrollPerAddress", func(t *testing.T) {
		env := newTestEnv(t)
		var status int
		var hdr http.Header
		var body []byte
		for i := range enrollAddrBurst + 1 {
			status, hdr, body = env.send(env.request("POST", "/v1/enroll", "", map[string]string{"code": "7KQ2M-XH4PA", "device_id": fmt.Sprintf("android-%d", i)}))
		}
		assertTooMany(t, status, hdr, body)
	})
}

func assertTooMany(t *testing.T, status int, hdr http.Header, body []byte) {
	t.Helper()
	var e schema.Error
	jsonUnmarshal(body, &e)
	if status != http.StatusTooManyRequests || e.Code != schema.CodeTooManyRequests {
		t.Fatalf("%d %s, want 429 too_many_requests", status, body)
	}
	if s, err := strconv.Atoi(hdr.Get("Retry-After")); err != nil || s < 1 {
		t.Fatalf("Retry-After %q, want whole seconds ≥ 1", hdr.Get("Retry-After"))
	}
}

// forged signs claims with any method and key, for the rejection tests.
func forged(t *testing.T, m jwt.SigningMethod, key any, header map[string]any, c auth.Claims) string {
	t.Helper()
	tok := jwt.NewWithClaims(m, c)
	for k, v := range header {
		tok.Header[k] = v
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestAccessTokenRejected(t *testing.T) {
	env := newTestEnv(t)
	kid := env.Keys.SigningKeyID()
	pub, _ := env.Keys.PublicKey(kid)
	_, otherKey, _ := ed25519.GenerateKey(rand.Reader)
	// An admin's claims: a forgery would be worth the most.
	claims := func(issued time.Time) auth.Claims {
		return auth.Claims{RegisteredClaims: jwt.RegisteredClaims{Issuer: auth.Issuer, Subject: strconv.FormatInt(env.Admin.Actor.UserID, 10),
			Audience: jwt.ClaimStrings{auth.Audience}, IssuedAt: jwt.NewNumericDate(issued),
			ExpiresAt: jwt.NewNumericDate(issued.Add(auth.AccessTTL))}, Role: schema.RoleAdmin}
	}
	hdr := map[string]any{"kid": kid, "typ": "at+jwt"}
	now := env.Clock.Now()
	cases := map[string]string{
		"ErrAlgNone":            forged(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, hdr, claims(now)),
		"ErrHS256WithPublicKey": forged(t, jwt.SigningMethodHS256, []byte(pub), hdr, claims(now)),
		"ErrHS256WithPEM": forged(t, jwt.SigningMethodHS256, []byte("-----BEGIN PUBLIC KEY-----\n"+
			base64.StdEncoding.EncodeToString(pub)+"\n-----END PUBLIC KEY-----\n"), hdr, claims(now)),
		"ErrWrongKey":    forged(t, jwt.SigningMethodEdDSA, otherKey, hdr, claims(now)),
		"ErrExpired":     expiredToken(t, env),
		"ErrUnknownKid":  forged(t, jwt.SigningMethodEdDSA, otherKey, map[string]any{"kid": "x", "typ": "at+jwt"}, claims(now)),
		"ErrNotAToken":   "Sa.Đéc.token",
		"ErrRefreshUsed": env.login(env.CoordSaDec).RefreshToken,
	}
	for name, tok := range cases {
		t.Run(name, func(t *testing.T) {
			status, hdr, body := env.send(env.request("GET", "/v1/me", tok, nil))
			var e schema.Error
			jsonUnmarshal(body, &e)
			if status != 401 || e.Code != schema.CodeUnauthorized {
				t.Fatalf("%d %s, want 401 unauthorized", status, body)
			}
			if !strings.HasPrefix(hdr.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("no WWW-Authenticate: Bearer challenge")
			}
		})
	}
	t.Run("ExpiresWithTheClock", func(t *testing.T) {
		tok := env.mint(env.CoordSaDec.Actor)
		if status, _ := env.do("GET", "/v1/me", tok, nil, nil); status != 200 {
			t.Fatalf("fresh token: %d", status)
		}
		env.Clock.Advance(auth.AccessTTL + time.Minute)
		if status, _ := env.do("GET", "/v1/me", tok, nil, nil); status != 401 {
			t.Fatalf("token past its 15 minutes: %d, want 401", status)
		}
	})
	t.Run("ErrNoToken", func(t *testing.T) {
		status, hdr, _ := env.send(env.request("GET", "/v1/teams", "", nil))
		if status != 401 || hdr.Get("WWW-Authenticate") == "" {
			t.Fatalf("%d %v", status, hdr)
		}
	})
}

// expiredToken is a token the server itself signed an hour ago, for the coordinator.
func expiredToken(t *testing.T, env *testEnv) string {
	t.Helper()
	past := env.Clock.Now().Add(-time.Hour)
	tok, _, err := auth.NewTokens(env.Keys, func() time.Time { return past }).Issue(auth.Principal{
		UserID: env.CoordSaDec.Actor.UserID, Role: schema.RoleCoordinator})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestEnrollFlow(t *testing.T) {
	env := newTestEnv(t)
	coord := env.login(env.CoordSaDec)
	var vol schema.User
	if status, code := env.do("POST", "/v1/users", coord.AccessToken, map[string]any{"role": "volunteer",
		"display_name": "Trần Văn Minh", "team_id": env.TeamSaDec, "unit_id": env.VinhPhuoc}, &vol); status != 201 {
		t.Fatalf("create volunteer: %d %s", status, code)
	}
	code := env.issueCode(coord.AccessToken, vol.ID)
	exp, err := time.Parse(time.RFC3339, code.ExpiresAt)
	if err != nil || !exp.Equal(env.Clock.Now().Add(auth.EnrollmentTTL)) {
		t.Fatalf("expires_at %q, want 24 h from now", code.ExpiresAt)
	}
	t.Run("QRDecodesToPayload", func(t *testing.T) {
		raw, err := base64.StdEncoding.DecodeString(code.QRPNG)
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(bytes.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		bmp, err := gozxing.NewBinaryBitmapFromImage(img)
		if err != nil {
			t.Fatal(err)
		}
		res, err := gozxingqr.NewQRCodeReader().Decode(bmp, nil)
		if err != nil {
			t.Fatal(err)
		}
		if res.GetText() != code.QRPayload {
			t.Fatalf("QR holds %q, want %q", res.GetText(), code.QRPayload)
		}
		server, c, err := auth.ParseEnrollmentPayload(res.GetText())
		if err != nil || c != code.Code || server != env.HTTP.URL {
			t.Fatalf("payload: server %q code %q err %v; want %q %q", server, c, err, env.HTTP.URL, code.Code)
		}
	})
	var got enrolled
	t.Run("OK", func(t *testing.T) {
		// Typed on a phone: lower case, a space instead of the dash.
		typed := strings.ToLower(strings.Replace(code.Code, "-", " ", 1))
		if status, c := env.do("POST", "/v1/enroll", "", map[string]string{"code": typed, "device_id": "android-minh-01",
			"device_name": "Vivo Y17s"}, &got); status != 200 {
			t.Fatalf("enroll: %d %s", status, c)
		}
		key, _ := env.DB.CitizenKey(context.Background())
		if got.CitizenKey != base64.StdEncoding.EncodeToString(key) || len(key) != 32 {
			t.Fatal("citizen_key is not the deployment's key")
		}
		if got.Volunteer.ID != vol.ID || got.Volunteer.TeamID != env.TeamSaDec || got.Volunteer.UnitID != env.VinhPhuoc ||
			got.Volunteer.DisplayName != "Trần Văn Minh" || got.Device.DeviceID != "android-minh-01" || got.ServerTime == "" {
			t.Fatalf("enrol answer %+v", got)
		}
		var me meAnswer
		if status, _ := env.do("GET", "/v1/me", got.AccessToken, nil, &me); status != 200 || me.User.ID != vol.ID ||
			me.Device == nil || me.Device.DeviceID != "android-minh-01" || me.Team == nil || me.Team.ID != env.TeamSaDec {
			t.Fatalf("me: %d %+v", status, me)
		}
		// A phone is not staff.
		if status, code := env.do("GET", "/v1/teams", got.AccessToken, nil, nil); status != 403 || code != schema.CodeForbidden {
			t.Fatalf("volunteer lists teams: %d %s", status, code)
		}
	})
	t.Run("ErrCodeUsedTwice", func(t *testing.T) {
		status, c := env.do("POST", "/v1/enroll", "", map[string]string{"code": code.Code, "device_id": "android-ke-gian"}, nil)
		if status != 401 || c != schema.CodeUnauthorized {
			t.Fatalf("second use: %d %s, want 401", status, c)
		}
	})
	t.Run("ErrCodeExpired", func(t *testing.T) {
		c2 := env.issueCode(coord.AccessToken, vol.ID)
		env.Clock.Advance(auth.EnrollmentTTL + time.Second)
		status, c := env.do("POST", "/v1/enroll", "", map[string]string{"code": c2.Code, "device_id": "android-minh-02"}, nil)
		if status != 401 || c != schema.CodeUnauthorized {
			t.Fatalf("expired code: %d %s, want 401", status, c)
		}
	})
	t.Run("ErrMalformedCode", func(t *testing.T) {
		status, c := env.do("POST", "/v1/enroll", "", map[string]string{"code": "Sa Đéc", "device_id": "android-minh-03"}, nil)
		if status != 400 || c != schema.CodeInvalid {
			t.Fatalf("%d %s", status, c)
		}
	})
	t.Run("PhoneRefreshLivesAYear", func(t *testing.T) {
		// Offline for eleven months, then back: the refresh token still works.
		env.Clock.Advance(330 * 24 * time.Hour)
		var p tokenPair
		if status, c := env.do("POST", "/v1/auth/refresh", "", map[string]string{"refresh_token": got.RefreshToken}, &p); status != 200 {
			t.Fatalf("refresh after 11 months: %d %s", status, c)
		}
		if status, _ := env.do("GET", "/v1/me", p.AccessToken, nil, nil); status != 200 {
			t.Fatalf("access after refresh: %d", status)
		}
	})
}

func TestSharedPhone(t *testing.T) {
	env := newTestEnv(t)
	coord := env.login(env.CoordSaDec)
	var tokens []string
	for _, name := range []string{"Nguyễn Văn Tư", "Nguyễn Thị Năm"} {
		var u schema.User
		env.do("POST", "/v1/users", coord.AccessToken, map[string]any{"role": "volunteer", "display_name": name, "team_id": env.TeamSaDec}, &u)
		c := env.issueCode(coord.AccessToken, u.ID)
		var e enrolled
		if status, code := env.do("POST", "/v1/enroll", "", map[string]string{"code": c.Code, "device_id": "android-gia-dinh"}, &e); status != 200 {
			t.Fatalf("enrol %s: %d %s", name, status, code)
		}
		tokens = append(tokens, e.AccessToken)
	}
	var a, b meAnswer
	env.do("GET", "/v1/me", tokens[0], nil, &a)
	env.do("GET", "/v1/me", tokens[1], nil, &b)
	if a.User.DisplayName != "Nguyễn Văn Tư" || b.User.DisplayName != "Nguyễn Thị Năm" || a.Device.ID == b.Device.ID ||
		a.Device.DeviceID != b.Device.DeviceID {
		t.Fatalf("shared phone: %+v / %+v", a, b)
	}
	// Revoking one volunteer's enrolment leaves the other's working.
	if status, _ := env.do("POST", fmt.Sprintf("/v1/devices/%d/revoke", a.Device.ID), coord.AccessToken, nil, nil); status != 200 {
		t.Fatal(status)
	}
	if status, _ := env.do("GET", "/v1/me", tokens[0], nil, nil); status != 401 {
		t.Fatalf("revoked enrolment: %d", status)
	}
	if status, _ := env.do("GET", "/v1/me", tokens[1], nil, nil); status != 200 {
		t.Fatalf("the other volunteer on the same phone: %d", status)
	}
}

func TestRevocationIsImmediate(t *testing.T) {
	t.Run("Device", func(t *testing.T) {
		env := newTestEnv(t)
		coord := env.login(env.CoordSaDec)
		c := env.issueCode(coord.AccessToken, env.VolSaDec.Actor.UserID)
		var e enrolled
		env.do("POST", "/v1/enroll", "", map[string]string{"code": c.Code, "device_id": "android-mat-cap"}, &e)
		if status, _ := env.do("GET", "/v1/units", e.AccessToken, nil, nil); status != 200 {
			t.Fatalf("before revocation: %d", status)
		}
		var d schema.Device
		if status, _ := env.do("POST", fmt.Sprintf("/v1/devices/%d/revoke", e.Device.ID), coord.AccessToken, nil, &d); status != 200 || d.RevokedAt == "" {
			t.Fatalf("revoke: %d %+v", status, d)
		}
		// Same instant: the access token has 15 minutes left, and is refused anyway.
		if status, code := env.do("GET", "/v1/units", e.AccessToken, nil, nil); status != 401 || code != schema.CodeUnauthorized {
			t.Fatalf("token of a revoked device: %d %s, want 401", status, code)
		}
		if status, _ := env.do("POST", "/v1/auth/refresh", "", map[string]string{"refresh_token": e.RefreshToken}, nil); status != 401 {
			t.Fatalf("refresh of a revoked device: %d, want 401", status)
		}
		// The volunteer's other phone still works.
		if status, _ := env.do("GET", "/v1/me", env.VolSaDec.Token, nil, nil); status != 200 {
			t.Fatalf("other phone: %d", status)
		}
		var list struct{ Devices []schema.Device }
		env.do("GET", "/v1/devices?include_revoked=true", coord.AccessToken, nil, &list)
		if len(list.Devices) != 2 {
			t.Fatalf("devices %+v", list.Devices)
		}
	})
	t.Run("User", func(t *testing.T) {
		env := newTestEnv(t)
		coord := env.login(env.CoordSaDec)
		if status, _ := env.do("POST", fmt.Sprintf("/v1/users/%d/revoke", env.VolSaDec.Actor.UserID), coord.AccessToken, nil, nil); status != 200 {
			t.Fatal(status)
		}
		if status, _ := env.do("GET", "/v1/me", env.VolSaDec.Token, nil, nil); status != 401 {
			t.Fatalf("token of a revoked user's phone: %d, want 401", status)
		}
		// Staff too: an admin revokes a coordinator, whose live token stops at once.
		if status, _ := env.do("POST", fmt.Sprintf("/v1/users/%d/revoke", env.CoordSaDec.Actor.UserID), env.Admin.Token, nil, nil); status != 200 {
			t.Fatal(status)
		}
		if status, _ := env.do("GET", "/v1/me", coord.AccessToken, nil, nil); status != 401 {
			t.Fatalf("token of a revoked coordinator: %d, want 401", status)
		}
		if status, _ := env.do("POST", "/v1/auth/refresh", "", map[string]string{"refresh_token": coord.RefreshToken}, nil); status != 401 {
			t.Fatalf("refresh of a revoked coordinator: %d, want 401", status)
		}
		if status, _ := env.do("POST", "/v1/auth/login", "", map[string]string{"username": "lan.sadec", "password": staffPassword}, nil); status != 401 {
			t.Fatalf("sign-in of a revoked coordinator: %d, want 401", status)
		}
	})
}

func TestCreateUserAndTeam(t *testing.T) {
	env := newTestEnv(t)
	coord := env.login(env.CoordSaDec)
	cases := []struct {
		name   string
		token  string
		body   map[string]any
		status int
		code   string
	}{
		{"OKVolunteer", coord.AccessToken, map[string]any{"role": "volunteer", "display_name": "Lâm Thị Thảo", "team_id": env.TeamSaDec}, 201, ""},
		{"OKAdminCreatesCoordinator", env.Admin.Token, map[string]any{"role": "coordinator", "display_name": "Hồ Văn Lộc", "unit_id": env.SaDec,
			"username": "loc.sadec", "password": "Hoa kiểng Sa Đéc"}, 201, ""},
		{"ErrCoordinatorCreatesCoordinator", coord.AccessToken, map[string]any{"role": "coordinator", "display_name": "Hồ Văn Lộc", "unit_id": env.SaDec,
			"username": "loc2.sadec", "password": "Hoa kiểng Sa Đéc"}, 403, schema.CodeForbidden},
		{"ErrShortPassword", env.Admin.Token, map[string]any{"role": "officer", "display_name": "Hồ Văn Lộc", "unit_id": env.SaDec,
			"username": "loc3.sadec", "password": "ngắn"}, 400, schema.CodeInvalid},
		{"ErrVolunteerPassword", coord.AccessToken, map[string]any{"role": "volunteer", "display_name": "Lâm Thị Thảo", "team_id": env.TeamSaDec,
			"password": "Hoa kiểng Sa Đéc"}, 400, schema.CodeInvalid},
		{"ErrOfficerCreates", env.Officer.Token, map[string]any{"role": "volunteer", "display_name": "Lâm Thị Thảo", "team_id": env.TeamSaDec}, 403, schema.CodeForbidden},
		{"ErrVolunteerCreates", env.VolSaDec.Token, map[string]any{"role": "volunteer", "display_name": "Lâm Thị Thảo", "team_id": env.TeamSaDec}, 403, schema.CodeForbidden},
		{"ErrClientSetsServerField", coord.AccessToken, map[string]any{"role": "volunteer", "display_name": "Lâm Thị Thảo", "team_id": env.TeamSaDec, "id": 1}, 400, schema.CodeInvalid},
		{"ErrWrongType", coord.AccessToken, map[string]any{"role": "volunteer", "display_name": "Lâm Thị Thảo", "team_id": "một"}, 400, schema.CodeInvalid},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, code := env.do("POST", "/v1/users", tc.token, tc.body, nil)
			if status != tc.status || code != tc.code {
				t.Fatalf("%d %s, want %d %s", status, code, tc.status, tc.code)
			}
		})
	}
	t.Run("NewCoordinatorSignsIn", func(t *testing.T) {
		env.login(identity{Username: "loc.sadec", Password: "Hoa kiểng Sa Đéc"})
	})
	t.Run("Teams", func(t *testing.T) {
		var tm schema.Team
		if status, code := env.do("POST", "/v1/teams", coord.AccessToken, map[string]any{"name": "Tổ CNSCĐ khóm Cái Sơn", "unit_id": env.CaiSon}, &tm); status != 201 {
			t.Fatalf("%d %s", status, code)
		}
		if status, code := env.do("POST", "/v1/teams", coord.AccessToken, map[string]any{"name": "Tổ CNSCĐ khóm Cái Sơn", "unit_id": env.CaiSon}, nil); status != 409 || code != schema.CodeConflict {
			t.Fatalf("duplicate team: %d %s", status, code)
		}
		var list struct{ Teams []schema.Team }
		env.do("GET", fmt.Sprintf("/v1/teams?unit=%d", env.CaiSon), env.Officer.Token, nil, &list)
		if len(list.Teams) != 1 || list.Teams[0].ID != tm.ID {
			t.Fatalf("teams of Khóm Cái Sơn: %+v", list.Teams)
		}
		if status, code := env.do("GET", "/v1/teams?unit=abc", coord.AccessToken, nil, nil); status != 400 || code != schema.CodeInvalid {
			t.Fatalf("bad query: %d %s", status, code)
		}
	})
}
