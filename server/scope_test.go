package server

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/cdtsync/cdtsync/schema"
)

// TestEveryRouteIsScoped walks every route registered in the router — not a hand-kept
// list — and for each shows that callers from elsewhere cannot reach Phường Sa Đéc's data:
// the coordinator of Phường Mỹ Trà and a volunteer of Mỹ Trà's team get 403 or 404 (or, for
// routes that answer only with the caller's own data, a check of their own), and no
// answer to them holds any Sa Đéc name or id. The same request made by Sa Đéc's rightful
// caller succeeds, so the refusal is the scope at work, not a malformed request.
//
// A route without an entry in scopeCases fails the test.
//
// Adding cases for a new area (the lead's /v1/sync/*, /v1/reviews, /v1/reports/*): in a
// new test file of package server, register them from init, e.g.
//
//	// server/scope_sync_test.go
//	func init() {
//		addScopeCases(map[string]scopeCase{
//			"GET /v1/reviews": {
//				Owner: ownerCoordinator, OwnerStatus: http.StatusOK,
//				Setup: func(t testing.TB, env *testEnv) { /* push a log to Khóm Vĩnh Phước as env.VolSaDec */ },
//				Request: func(env *testEnv) *http.Request {
//					return env.request("GET", fmt.Sprintf("/v1/reviews?unit=%d", env.SaDec), "", nil)
//				},
//				Also: []func(*testEnv) *http.Request{ /* the same without ?unit=: 200, but nothing of Sa Đéc */ },
//			},
//			"POST /v1/sync/push": {
//				Owner: ownerVolunteer, OwnerStatus: http.StatusOK,
//				Request: func(env *testEnv) *http.Request { /* an op for a log in Khóm Vĩnh Phước */ },
//				// A push answers 200 with per-op results: check the op was rejected instead.
//				Check: func(t testing.TB, env *testEnv, who string, status int, body []byte) { … },
//			},
//		})
//	}
//
// Each route runs against a fresh deployment (newTestEnv), so a case may change data.
func TestEveryRouteIsScoped(t *testing.T) {
	probe := newTestEnv(t)
	routes := probe.Srv.Echo().Routes()
	if len(routes) == 0 {
		t.Fatal("the router has no routes")
	}
	seen := map[string]bool{}
	var keys []string
	for _, r := range routes {
		k := r.Method + " " + r.Path
		if !seen[k] {
			seen[k] = true
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range missingScopeCases(routes) {
		t.Errorf("route %s has no scoping case: add one to scopeCases (see the doc comment of TestEveryRouteIsScoped), "+
			"or list it as public with the reason it needs no credentials", k)
	}
	for _, k := range keys {
		c, ok := scopeCases[k]
		if !ok || c.Public != "" {
			continue
		}
		t.Run(k, func(t *testing.T) {
			t.Parallel()
			env := newTestEnv(t)
			if c.Setup != nil {
				c.Setup(t, env)
			}
			// Without credentials: 401.
			if status, _, body := env.send(c.Request(env)); status != http.StatusUnauthorized {
				t.Errorf("without a token: %d %s, want 401", status, body)
			}
			for _, o := range []struct {
				who string
				id  identity
			}{{"coordinator of Phường Mỹ Trà", env.CoordMyTra}, {"volunteer of Mỹ Trà's team", env.VolMyTra}} {
				req := c.Request(env)
				req.Header.Set("Authorization", "Bearer "+o.id.Token)
				status, _, body := env.send(req)
				if c.Check != nil {
					c.Check(t, env, o.who, status, body)
				} else if status != http.StatusForbidden && status != http.StatusNotFound {
					t.Errorf("%s: %d %s, want 403 or 404", o.who, status, body)
				}
				if l := leaks(body); len(l) > 0 {
					t.Errorf("%s: the answer holds Sa Đéc data %q: %s", o.who, l, body)
				}
				for i, also := range c.Also {
					req := also(env)
					req.Header.Set("Authorization", "Bearer "+o.id.Token)
					status, _, body := env.send(req)
					if status >= 500 {
						t.Errorf("%s, also #%d: %d %s", o.who, i, status, body)
					}
					if l := leaks(body); len(l) > 0 {
						t.Errorf("%s, also #%d: the answer holds Sa Đéc data %q: %s", o.who, i, l, body)
					}
				}
			}
			if c.Owner == nil {
				return
			}
			req := c.Request(env)
			req.Header.Set("Authorization", "Bearer "+c.Owner(env).Token)
			if status, _, body := env.send(req); status != c.OwnerStatus {
				t.Errorf("Sa Đéc's own caller: %d %s, want %d (the request must reach real data for the refusals to mean anything)",
					status, body, c.OwnerStatus)
			}
		})
	}
}

// missingScopeCases returns the routes ("METHOD /path") without a scoping case.
func missingScopeCases(routes []*echo.Route) []string {
	var missing []string
	for _, r := range routes {
		k := r.Method + " " + r.Path
		if _, ok := scopeCases[k]; !ok {
			missing = append(missing, k)
		}
	}
	sort.Strings(missing)
	return missing
}

// A route added without a scoping case is caught.
func TestScopeWalkerCatchesNewRoute(t *testing.T) {
	env := newTestEnv(t)
	if m := missingScopeCases(env.Srv.Echo().Routes()); len(m) != 0 {
		t.Fatalf("routes without a case: %v", m)
	}
	env.Srv.Echo().GET("/v1/households", func(c echo.Context) error { return c.NoContent(http.StatusOK) })
	if m := missingScopeCases(env.Srv.Echo().Routes()); len(m) != 1 || m[0] != "GET /v1/households" {
		t.Fatalf("missing = %v, want [GET /v1/households]", m)
	}
}

// scopeCase says how to show one route's scoping.
type scopeCase struct {
	// Public, if set, says why the route takes no credentials and holds no scoped data;
	// the route is then not probed.
	Public string
	// Setup, if set, prepares data (e.g. logs in Sa Đéc) in the fresh deployment.
	Setup func(t testing.TB, env *testEnv)
	// Request builds a request aimed at Phường Sa Đéc's data, without credentials; the
	// walker adds each caller's token.
	Request func(env *testEnv) *http.Request
	// Check, if set, replaces the default check (403 or 404) of the outsiders' answers:
	// for routes that answer 200 with only the caller's own data (GET /v1/me) or with
	// per-item results (POST /v1/sync/push). The no-Sa-Đéc-data check still runs.
	Check func(t testing.TB, env *testEnv, who string, status int, body []byte)
	// Also are more requests whose answers to outsiders may succeed but must hold no Sa
	// Đéc data (unfiltered lists).
	Also []func(env *testEnv) *http.Request
	// Owner is Sa Đéc's rightful caller, for whom Request succeeds with OwnerStatus.
	Owner       func(env *testEnv) identity
	OwnerStatus int
}

// Owners for scopeCase.Owner.
var (
	ownerCoordinator = func(env *testEnv) identity { return env.CoordSaDec }
	ownerVolunteer   = func(env *testEnv) identity { return env.VolSaDec }
)

// scopeCases holds a case for every route, keyed "METHOD /path" as Echo lists it.
var scopeCases = map[string]scopeCase{}

// addScopeCases registers cases; call it from init in any test file of package server.
func addScopeCases(cases map[string]scopeCase) {
	for k, c := range cases {
		if _, dup := scopeCases[k]; dup {
			panic("scope case registered twice: " + k)
		}
		if c.Public == "" && c.Request == nil {
			panic("scope case without a request: " + k)
		}
		scopeCases[k] = c
	}
}

// selfOnly checks an answer that must be 200 with the caller's own data.
func selfOnly(t testing.TB, env *testEnv, who string, status int, body []byte) {
	if status != http.StatusOK {
		t.Errorf("%s: %d %s, want 200 with its own data", who, status, body)
	}
}

func init() {
	get := func(path func(env *testEnv) string) func(env *testEnv) *http.Request {
		return func(env *testEnv) *http.Request { return env.request("GET", path(env), "", nil) }
	}
	post := func(path func(env *testEnv) string, body func(env *testEnv) any) func(env *testEnv) *http.Request {
		return func(env *testEnv) *http.Request { return env.request("POST", path(env), "", body(env)) }
	}
	fixed := func(p string) func(env *testEnv) string { return func(*testEnv) string { return p } }
	addScopeCases(map[string]scopeCase{
		"GET /healthz":          {Public: "liveness for load balancers; says only that the process answers"},
		"GET /readyz":           {Public: "readiness for load balancers; says only whether the database is writable"},
		"GET /metrics":          {Public: "operators' Prometheus metrics; aggregate counters only, no unit data; --metrics-token restricts it"},
		"GET /openapi.json":     {Public: "the API's description, the same for everyone"},
		"POST /v1/auth/login":   {Public: "how staff get credentials; throttled per account and address"},
		"POST /v1/auth/refresh": {Public: "authenticated by the refresh token in the body, not a bearer token"},
		"POST /v1/auth/logout":  {Public: "authenticated by the refresh token in the body; ends only that token's session"},
		"POST /v1/enroll":       {Public: "how a phone gets credentials, with a one-time code; throttled per phone and address"},

		"GET /v1/me": {
			Request: get(fixed("/v1/me")),
			Check: func(t testing.TB, env *testEnv, who string, status int, body []byte) {
				selfOnly(t, env, who, status, body)
				var p schema.Profile
				json.Unmarshal(body, &p)
				if p.User.ID == env.CoordSaDec.Actor.UserID || p.User.ID == env.VolSaDec.Actor.UserID {
					t.Errorf("%s got a Sa Đéc user: %s", who, body)
				}
			},
			Owner: ownerCoordinator, OwnerStatus: http.StatusOK,
		},
		"GET /v1/units": {
			Request: get(func(env *testEnv) string { return fmt.Sprintf("/v1/units?parent=%d", env.SaDec) }),
			Also: []func(*testEnv) *http.Request{
				get(fixed("/v1/units")),
				get(func(env *testEnv) string { return fmt.Sprintf("/v1/units?parent=%d", env.Province) }),
			},
			Owner: ownerVolunteer, OwnerStatus: http.StatusOK,
		},
		"GET /v1/teams": {
			Request: get(func(env *testEnv) string { return fmt.Sprintf("/v1/teams?unit=%d", env.SaDec) }),
			Also:    []func(*testEnv) *http.Request{get(fixed("/v1/teams"))},
			Owner:   ownerCoordinator, OwnerStatus: http.StatusOK,
		},
		"POST /v1/teams": {
			Request: post(fixed("/v1/teams"), func(env *testEnv) any {
				return map[string]any{"name": "Tổ CNSCĐ khóm Cái Sơn", "unit_id": env.CaiSon}
			}),
			Owner: ownerCoordinator, OwnerStatus: http.StatusCreated,
		},
		"GET /v1/users": {
			Request: get(func(env *testEnv) string { return fmt.Sprintf("/v1/users?unit=%d", env.SaDec) }),
			Also: []func(*testEnv) *http.Request{
				get(fixed("/v1/users")),
				get(func(env *testEnv) string { return fmt.Sprintf("/v1/users?team=%d", env.TeamSaDec) }),
			},
			Owner: ownerCoordinator, OwnerStatus: http.StatusOK,
		},
		"POST /v1/users": {
			Request: post(fixed("/v1/users"), func(env *testEnv) any {
				return map[string]any{"role": "volunteer", "display_name": "Trần Văn Minh", "team_id": env.TeamSaDec}
			}),
			Owner: ownerCoordinator, OwnerStatus: http.StatusCreated,
		},
		"POST /v1/users/:id/revoke": {
			Request: post(func(env *testEnv) string { return fmt.Sprintf("/v1/users/%d/revoke", env.VolSaDec.Actor.UserID) },
				func(*testEnv) any { return nil }),
			Owner: ownerCoordinator, OwnerStatus: http.StatusOK,
		},
		"POST /v1/enrollments": {
			Request: post(fixed("/v1/enrollments"), func(env *testEnv) any {
				return map[string]any{"volunteer_id": env.VolSaDec.Actor.UserID}
			}),
			Owner: ownerCoordinator, OwnerStatus: http.StatusCreated,
		},
		"GET /v1/devices": {
			Request: get(func(env *testEnv) string { return fmt.Sprintf("/v1/devices?volunteer=%d", env.VolSaDec.Actor.UserID) }),
			Also: []func(*testEnv) *http.Request{
				get(fixed("/v1/devices")),
				get(func(env *testEnv) string { return fmt.Sprintf("/v1/devices?unit=%d", env.SaDec) }),
			},
			Owner: ownerCoordinator, OwnerStatus: http.StatusOK,
		},
		"POST /v1/devices/:id/revoke": {
			Request: post(func(env *testEnv) string { return fmt.Sprintf("/v1/devices/%d/revoke", env.VolSaDec.Actor.DeviceRowID) },
				func(*testEnv) any { return nil }),
			Owner: ownerCoordinator, OwnerStatus: http.StatusOK,
		},
	})
}
