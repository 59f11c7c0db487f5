package server

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// The dashboard's sign-in is the API's: the same throttles (failures on the dashboard
// count against the account for the API and the reverse), the same answer for an unknown
// username and a wrong password, revoked accounts refused, and security events logged
// without the password.
func TestDashboardSignInSharesTheAPIsChecks(t *testing.T) {
	env := newTestEnv(t)
	jarless := func(username, password string) (int, string) {
		t.Helper()
		fresh := env.webClient(t)
		status, body := fresh.get("/web/login")
		m := csrfField.FindStringSubmatch(body)
		if status != http.StatusOK || m == nil {
			t.Fatalf("GET /web/login: %d", status)
		}
		status, page, _ := fresh.post("/web/login", url.Values{"csrf": {m[1]}, "username": {username}, "password": {password}})
		return status, page
	}
	// Unknown user and wrong password: one answer.
	s1, p1 := jarless("khong.ton.tai", "mật khẩu bất kỳ 123")
	s2, p2 := jarless(env.CoordSaDec.Username, "mật khẩu sai 12345")
	const msg = "Sai tên đăng nhập hoặc mật khẩu"
	if s1 != http.StatusUnauthorized || s2 != http.StatusUnauthorized || !strings.Contains(p1, msg) || !strings.Contains(p2, msg) {
		t.Fatalf("unknown user: %d, wrong password: %d", s1, s2)
	}
	// Four more failures on the dashboard (five in all) …
	for i := 0; i < 4; i++ {
		jarless(env.CoordSaDec.Username, "mật khẩu sai 12345")
	}
	// … and the API refuses even the right password for a while.
	status, code := env.do("POST", "/v1/auth/login", "", map[string]string{"username": env.CoordSaDec.Username, "password": staffPassword}, nil)
	if status != http.StatusTooManyRequests {
		t.Errorf("API sign-in after five failures on the dashboard: %d %s, want 429", status, code)
	}
	// The dashboard too, with Retry-After.
	if status, page := jarless(env.CoordSaDec.Username, staffPassword); status != http.StatusTooManyRequests || !strings.Contains(page, "đợi") {
		t.Errorf("dashboard sign-in while throttled: %d", status)
	}
	// A revoked account cannot sign in to the dashboard.
	if status, _ := env.do("POST", fmt.Sprintf("/v1/users/%d/revoke", env.VolSaDec.Actor.UserID), env.Admin.Token, nil, nil); status != http.StatusOK {
		t.Fatalf("revoke: %d", status)
	}
	if status, _ := env.do("POST", fmt.Sprintf("/v1/users/%d/revoke", env.CoordMyTra.Actor.UserID), env.Admin.Token, nil, nil); status != http.StatusOK {
		t.Fatalf("revoke: %d", status)
	}
	if status, page := jarless(env.CoordMyTra.Username, staffPassword); status != http.StatusUnauthorized || !strings.Contains(page, "thu hồi") {
		t.Errorf("a revoked coordinator signing in to the dashboard: %d", status)
	}
	logs := env.Logs.String()
	if strings.Contains(logs, staffPassword) || strings.Contains(logs, "mật khẩu sai") {
		t.Error("a password reached the logs")
	}
	if !strings.Contains(logs, `"via":"dashboard"`) || !strings.Contains(logs, `"sign_in_failed"`) {
		t.Error("the dashboard's failed sign-ins are not logged as security events")
	}
}
