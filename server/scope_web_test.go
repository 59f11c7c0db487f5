package server

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/cdtsync/cdtsync/schema"
)

// Scope cases for the web dashboard (server/web). The walker's bearer tokens mean
// nothing to the dashboard, which signs staff in with a session cookie: without a session
// every dashboard route answers 401 with the sign-in page, and the walker checks that for
// no token and for each outsider's token. Each case's Check then does the real test with
// sessions: the coordinator of Phường Mỹ Trà signs in to the dashboard and makes the same
// request, which must be refused (403 or 404, or for a form, refused item by item with
// nothing changed) with no Sa Đéc data in the answer; the volunteer of Mỹ Trà's team has
// no password and no dashboard; and Sa Đéc's coordinator, signed in, gets the owner's
// status, so the refusal is the scope at work and not a malformed request.

// webClient is a browser without JavaScript: a cookie jar that does not follow redirects.
type webClient struct {
	t    testing.TB
	env  *testEnv
	http *http.Client
	csrf string
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// webClient is a new browser, signed in to nothing.
func (env *testEnv) webClient(t testing.TB) *webClient {
	jar, _ := cookiejar.New(nil)
	return &webClient{t: t, env: env, http: &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// webSignIn signs a staff member in to the dashboard.
func (env *testEnv) webSignIn(t testing.TB, username string) *webClient {
	t.Helper()
	w := env.webClient(t)
	status, body := w.get("/web/login")
	m := csrfField.FindStringSubmatch(body)
	if status != http.StatusOK || m == nil {
		t.Fatalf("GET /web/login: %d, no form token", status)
	}
	status, _, loc := w.post("/web/login", url.Values{"csrf": {m[1]}, "username": {username}, "password": {staffPassword}})
	if status != http.StatusSeeOther || loc != "/web/" {
		t.Fatalf("sign in %s: %d → %q", username, status, loc)
	}
	status, body = w.get("/web/")
	if m = csrfField.FindStringSubmatch(body); m == nil {
		t.Fatalf("GET /web/ after signing in: %d, no form token", status)
	}
	w.csrf = m[1]
	return w
}

func (w *webClient) do(req *http.Request) (int, string, string) {
	w.t.Helper()
	resp, err := w.http.Do(req)
	if err != nil {
		w.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header.Get("Location")
}

func (w *webClient) get(path string) (int, string) {
	w.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, w.env.HTTP.URL+path, nil)
	status, body, _ := w.do(req)
	return status, body
}

func (w *webClient) post(path string, form url.Values) (int, string, string) {
	w.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, w.env.HTTP.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return w.do(req)
}

// send replays a scope case's request (with its form, if any) with this session.
func (w *webClient) send(req *http.Request) (int, string, string) {
	w.t.Helper()
	r2, _ := http.NewRequest(req.Method, req.URL.String(), nil)
	if req.Method == http.MethodPost {
		form := url.Values{}
		if req.Body != nil {
			b, _ := io.ReadAll(req.Body)
			form, _ = url.ParseQuery(string(b))
		}
		form.Set("csrf", w.csrf)
		r2, _ = http.NewRequest(req.Method, req.URL.String(), strings.NewReader(form.Encode()))
		r2.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	return w.do(r2)
}

// webScope describes a dashboard route's scoping.
type webScope struct {
	Setup     func(t testing.TB, env *testEnv)
	Method    string
	Path      func(env *testEnv) string     // aimed at Sa Đéc's data
	Form      func(env *testEnv) url.Values // POST only, without csrf
	OwnStatus int                           // Sa Đéc's coordinator's answer
	// Outsider, if set, checks the Mỹ Trà coordinator's answer instead of "403 or 404"
	// (pages that show the caller's own data, forms refused item by item).
	Outsider func(t testing.TB, env *testEnv, status int, body string)
	// Also are more paths whose answers to Mỹ Trà's coordinator may succeed but must
	// hold no Sa Đéc data.
	Also []func(env *testEnv) string
}

func (ws webScope) scopeCase() scopeCase {
	request := func(env *testEnv) *http.Request {
		var body io.Reader
		if ws.Form != nil {
			body = strings.NewReader(ws.Form(env).Encode())
		}
		req, err := http.NewRequest(ws.Method, env.HTTP.URL+ws.Path(env), body)
		if err != nil {
			env.t.Fatal(err)
		}
		if body != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		return req
	}
	return scopeCase{
		Setup:   ws.Setup,
		Request: request,
		Check: func(t testing.TB, env *testEnv, who string, status int, body []byte) {
			// A bearer token is not a dashboard session: the sign-in page.
			if status != http.StatusUnauthorized || !strings.Contains(string(body), `action="/web/login"`) {
				t.Errorf("%s with a bearer token: %d, want 401 and the sign-in page", who, status)
			}
			if !strings.HasPrefix(who, "coordinator") {
				return // a volunteer has no password, so no dashboard session
			}
			w := env.webSignIn(t, env.CoordMyTra.Username)
			status, page, _ := w.send(request(env))
			if ws.Outsider != nil {
				ws.Outsider(t, env, status, page)
			} else if status != http.StatusNotFound && status != http.StatusForbidden {
				t.Errorf("%s signed in to the dashboard: %d, want 403 or 404", who, status)
			}
			if l := leaks([]byte(page)); len(l) > 0 {
				t.Errorf("%s signed in to the dashboard: the page holds Sa Đéc data %q", who, l)
			}
			for i, p := range ws.Also {
				status, page := w.get(p(env))
				if status >= 500 {
					t.Errorf("%s, also #%d %s: %d", who, i, p(env), status)
				}
				if l := leaks([]byte(page)); len(l) > 0 {
					t.Errorf("%s, also #%d %s: the page holds Sa Đéc data %q", who, i, p(env), l)
				}
			}
			// Sa Đéc's own coordinator gets the page: the refusal above is the scope.
			own := env.webSignIn(t, env.CoordSaDec.Username)
			if status, page, _ := own.send(request(env)); status != ws.OwnStatus {
				t.Errorf("Sa Đéc's coordinator signed in to the dashboard: %d, want %d\n%.400s", status, ws.OwnStatus, page)
			}
		},
	}
}

// ownPage accepts a 200 page of the caller's own data (the no-leak check still runs).
func ownPage(t testing.TB, env *testEnv, status int, body string) {
	if status != http.StatusOK {
		t.Errorf("coordinator of Mỹ Trà: %d, want 200 with its own data", status)
	}
}

func init() {
	// A log in Khóm Vĩnh Phước from a phone whose clock is two hours behind and whose
	// outbox has held work for a week: Sa Đéc has a log to review, figures, a device with
	// its clock off and stuck work.
	setup := func(t testing.TB, env *testEnv) {
		req := saDecPush(env, saDecLog, env.VinhPhuoc)
		now := env.Clock.Now()
		req.DeviceTime = now.Add(-2 * time.Hour).Format(time.RFC3339)
		req.Ops[0].Fields["occurred_at"], _ = json.Marshal(now.Add(-3 * time.Hour).Format(time.RFC3339)) // by the phone's clock
		pending := 4
		req.PendingOps, req.OldestPendingAt = &pending, now.Add(-7*24*time.Hour).Format(time.RFC3339)
		var resp schema.PushResponse
		status, code := env.do("POST", "/v1/sync/push", env.VolSaDec.Token, req, &resp)
		if status != http.StatusOK || resp.Results[0].Status != schema.ResultApplied {
			t.Fatalf("setup push: %d %s %+v", status, code, resp.Results)
		}
	}
	fixed := func(p string) func(*testEnv) string { return func(*testEnv) string { return p } }
	period := "from=2026-01-01&to=2026-12-31"
	unchanged := func(t testing.TB, env *testEnv, status int, body string) {
		if status != http.StatusSeeOther && status != http.StatusNotFound && status != http.StatusForbidden {
			t.Errorf("coordinator of Mỹ Trà: %d, want a refusal", status)
		}
		page, err := env.Store.ListReviews(context.Background(), env.CoordSaDec.Actor, schema.ReviewFilter{})
		if err != nil || len(page.Items) != 1 || page.Items[0].Status != schema.StatusPending {
			b, _ := json.Marshal(page.Items)
			t.Errorf("coordinator of Mỹ Trà changed Sa Đéc's log: %s %v", b, err)
		}
	}
	cases := map[string]webScope{
		"GET /web/": {Setup: setup, Method: "GET", Path: fixed("/web/?" + period), OwnStatus: http.StatusOK, Outsider: ownPage},
		"GET /web/units/:id": {Setup: setup, Method: "GET", OwnStatus: http.StatusOK,
			Path: func(env *testEnv) string { return fmt.Sprintf("/web/units/%d?%s", env.SaDec, period) },
			Also: []func(*testEnv) string{
				func(env *testEnv) string { return fmt.Sprintf("/web/units/%d?%s", env.Province, period) },
				func(env *testEnv) string { return fmt.Sprintf("/web/units/%d?%s", env.VinhPhuoc, period) },
				func(env *testEnv) string { return fmt.Sprintf("/web/units/%d?%s", env.MyTra, period) },
			}},
		"GET /web/units/:id/export": {Setup: setup, Method: "GET", OwnStatus: http.StatusOK,
			Path: func(env *testEnv) string {
				return fmt.Sprintf("/web/units/%d/export?format=xlsx&%s", env.SaDec, period)
			},
			Also: []func(*testEnv) string{
				func(env *testEnv) string { return fmt.Sprintf("/web/units/%d/export?format=csv&%s", env.SaDec, period) },
				func(env *testEnv) string {
					return fmt.Sprintf("/web/units/%d/export?format=csv&%s", env.Province, period)
				},
				func(env *testEnv) string { return fmt.Sprintf("/web/units/%d/export?format=csv&%s", env.MyTra, period) },
			}},
		"GET /web/teams": {Setup: setup, Method: "GET", OwnStatus: http.StatusOK,
			Path: func(env *testEnv) string { return fmt.Sprintf("/web/teams?unit=%d&%s", env.SaDec, period) },
			Also: []func(*testEnv) string{fixed("/web/teams?" + period)}},
		"GET /web/teams/export": {Setup: setup, Method: "GET", OwnStatus: http.StatusOK,
			Path: func(env *testEnv) string {
				return fmt.Sprintf("/web/teams/export?format=csv&unit=%d&%s", env.SaDec, period)
			},
			Also: []func(*testEnv) string{fixed("/web/teams/export?format=csv&" + period), fixed("/web/teams/export?format=xlsx&" + period)}},
		"GET /web/devices": {Setup: setup, Method: "GET", OwnStatus: http.StatusOK,
			Path: func(env *testEnv) string { return fmt.Sprintf("/web/devices?unit=%d", env.SaDec) },
			Also: []func(*testEnv) string{fixed("/web/devices"), fixed("/web/devices?stuck_days=1")}},
		"GET /web/reviews": {Setup: setup, Method: "GET", OwnStatus: http.StatusOK,
			Path: func(env *testEnv) string { return fmt.Sprintf("/web/reviews?unit=%d", env.VinhPhuoc) },
			Also: []func(*testEnv) string{
				fixed("/web/reviews"), fixed("/web/reviews?status=all"),
				func(env *testEnv) string {
					return fmt.Sprintf("/web/reviews?volunteer=%d&status=all", env.VolSaDec.Actor.UserID)
				},
			}},
		"GET /web/reviews/export": {Setup: setup, Method: "GET", OwnStatus: http.StatusOK,
			Path: func(env *testEnv) string {
				return fmt.Sprintf("/web/reviews/export?format=csv&status=all&unit=%d", env.VinhPhuoc)
			},
			Also: []func(*testEnv) string{
				fixed("/web/reviews/export?format=csv&status=all"), fixed("/web/reviews/export?format=xlsx&status=all"),
				func(env *testEnv) string {
					return fmt.Sprintf("/web/reviews/export?format=csv&status=all&volunteer=%d", env.VolSaDec.Actor.UserID)
				},
			}},
		"POST /web/reviews": {Setup: setup, Method: "POST", OwnStatus: http.StatusSeeOther, Outsider: unchanged,
			Path: fixed("/web/reviews"),
			Form: func(env *testEnv) url.Values {
				return url.Values{"id": {saDecLog}, "action": {"rejected"}, "reason": {"không hợp lệ"}}
			}},
		"GET /web/logs/:id":   {Setup: setup, Method: "GET", OwnStatus: http.StatusOK, Path: fixed("/web/logs/" + saDecLog)},
		"GET /web/volunteers": {Setup: setup, Method: "GET", OwnStatus: http.StatusOK, Outsider: ownPage, Path: fixed("/web/volunteers")},
		"POST /web/volunteers": {Method: "POST", OwnStatus: http.StatusSeeOther, Path: fixed("/web/volunteers"),
			Form: func(env *testEnv) url.Values {
				return url.Values{"display_name": {"Trần Văn Minh"}, "team_id": {fmt.Sprint(env.TeamSaDec)}}
			}},
		"GET /web/volunteers/:id/code": {Method: "GET", OwnStatus: http.StatusOK,
			Path: func(env *testEnv) string { return fmt.Sprintf("/web/volunteers/%d/code", env.VolSaDec.Actor.UserID) }},
		"POST /web/volunteers/:id/code": {Method: "POST", OwnStatus: http.StatusSeeOther,
			Path: func(env *testEnv) string { return fmt.Sprintf("/web/volunteers/%d/code", env.VolSaDec.Actor.UserID) },
			Form: func(*testEnv) url.Values { return url.Values{} }},
		// Signing out ends only the caller's own session.
		"POST /web/logout": {Method: "POST", OwnStatus: http.StatusSeeOther, Path: fixed("/web/logout"),
			Form: func(*testEnv) url.Values { return url.Values{} },
			Outsider: func(t testing.TB, env *testEnv, status int, body string) {
				if status != http.StatusSeeOther {
					t.Errorf("coordinator of Mỹ Trà signing out: %d", status)
				}
			}},
	}
	out := map[string]scopeCase{
		"GET /":                 {Public: "redirects to /web/; holds nothing"},
		"GET /web/static/:name": {Public: "the dashboard's embedded style sheet, script and icon, the same for everyone"},
		"GET /web/login":        {Public: "the dashboard's sign-in form"},
		"POST /web/login":       {Public: "how staff sign in to the dashboard: the password check and throttles of POST /v1/auth/login"},
		"GET /web/lang":         {Public: "sets the language preference cookie; holds nothing"},
	}
	for k, ws := range cases {
		out[k] = ws.scopeCase()
	}
	addScopeCases(out)
}
