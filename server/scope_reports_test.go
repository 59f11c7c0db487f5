package server

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/cdtsync/cdtsync/schema"
)

func init() {
	testEnvConfig = append(testEnvConfig, func(env *testEnv, cfg *Config) {
		cfg.Reports = env.Store
	})
	// A log in Khóm Vĩnh Phước, pushed from a phone whose clock is two hours behind and
	// whose outbox has held work for a week: Sa Đéc has figures, a clock off and stuck work.
	setup := func(t testing.TB, env *testEnv) {
		req := saDecPush(env, "01900000-0000-7000-8000-5adec0000091", env.VinhPhuoc)
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
	get := func(path func(env *testEnv) string) func(env *testEnv) *http.Request {
		return func(env *testEnv) *http.Request { return env.request("GET", path(env), "", nil) }
	}
	period := "from=2026-01-01&to=2026-12-31"
	for _, route := range []string{"/v1/reports/coverage", "/v1/reports/teams"} {
		route := route
		addScopeCases(map[string]scopeCase{
			"GET " + route: {
				Owner: ownerCoordinator, OwnerStatus: http.StatusOK,
				Setup: setup,
				Request: get(func(env *testEnv) string {
					return fmt.Sprintf("%s?unit=%d&%s", route, env.SaDec, period)
				}),
				Also: []func(*testEnv) *http.Request{
					// The caller's own unit: 200 for Mỹ Trà's coordinator, nothing of Sa Đéc.
					get(func(env *testEnv) string { return route + "?" + period }),
					get(func(env *testEnv) string { return route + "?format=csv&" + period }),
					// The province above, a hamlet of Sa Đéc, the exports: refused.
					get(func(env *testEnv) string { return fmt.Sprintf("%s?unit=%d&%s", route, env.Province, period) }),
					get(func(env *testEnv) string { return fmt.Sprintf("%s?unit=%d&%s", route, env.VinhPhuoc, period) }),
					get(func(env *testEnv) string { return fmt.Sprintf("%s?unit=%d&format=csv&%s", route, env.SaDec, period) }),
					get(func(env *testEnv) string { return fmt.Sprintf("%s?unit=%d&format=xlsx&%s", route, env.SaDec, period) }),
				},
			},
		})
	}
	addScopeCases(map[string]scopeCase{
		"GET /v1/reports/attention": {
			Owner: ownerCoordinator, OwnerStatus: http.StatusOK,
			Setup: setup,
			Request: get(func(env *testEnv) string {
				return fmt.Sprintf("/v1/reports/attention?unit=%d", env.SaDec)
			}),
			Also: []func(*testEnv) *http.Request{
				get(func(env *testEnv) string { return "/v1/reports/attention" }),
				get(func(env *testEnv) string { return "/v1/reports/attention?stuck_days=1" }),
				get(func(env *testEnv) string { return fmt.Sprintf("/v1/reports/attention?team=%d", env.TeamSaDec) }),
			},
		},
	})
}
