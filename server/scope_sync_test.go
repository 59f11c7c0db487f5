package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cdtsync/cdtsync/schema"
	"github.com/cdtsync/cdtsync/sync/engine"
	"github.com/cdtsync/cdtsync/sync/hlc"
)

// saDecLog is the id of the activity log the sync and review scope cases put in Khóm Vĩnh
// Phước. An answer may echo the id a caller sent; none may carry the log's content (its
// note is among the Sa Đéc secrets).
const saDecLog = "01900000-0000-7000-8000-5adec0000001"

func init() {
	saDecSecrets = append(saDecSecrets, "hướng dẫn bà Sáu ở Sa Đéc")
	testEnvConfig = append(testEnvConfig, func(env *testEnv, cfg *Config) {
		cfg.Sync = engine.New(env.Store, env.Clock.Now)
		cfg.Reviews = env.Store
	})
	pushSaDecLog := func(t testing.TB, env *testEnv) {
		var resp schema.PushResponse
		status, code := env.do("POST", "/v1/sync/push", env.VolSaDec.Token, saDecPush(env, saDecLog, env.VinhPhuoc), &resp)
		if status != http.StatusOK || resp.Results[0].Status != schema.ResultApplied {
			t.Fatalf("setup push: %d %s %+v", status, code, resp.Results)
		}
	}
	// onlyRejected accepts a refusal (403/404) or a 200 whose per-item results all refused.
	onlyRejected := func(field string) func(t testing.TB, env *testEnv, who string, status int, body []byte) {
		return func(t testing.TB, env *testEnv, who string, status int, body []byte) {
			if status == http.StatusForbidden || status == http.StatusNotFound {
				return
			}
			if status != http.StatusOK {
				t.Errorf("%s: %d %s", who, status, body)
				return
			}
			var out map[string]json.RawMessage
			var items []map[string]any
			if err := json.Unmarshal(body, &out); err != nil || json.Unmarshal(out[field], &items) != nil || len(items) == 0 {
				t.Errorf("%s: %s", who, body)
				return
			}
			for _, r := range items {
				if r["status"] == schema.ResultApplied || r["status"] == schema.ResultAlreadyApplied || r["ok"] == true {
					t.Errorf("%s: an item was accepted: %s", who, body)
				}
			}
		}
	}
	addScopeCases(map[string]scopeCase{
		"POST /v1/sync/push": {
			Owner: ownerVolunteer, OwnerStatus: http.StatusOK,
			Setup: pushSaDecLog,
			// Edit Sa Đéc's log, and record into a Sa Đéc hamlet.
			Request: func(env *testEnv) *http.Request {
				req := saDecPush(env, saDecLog, env.VinhPhuoc)
				req.Ops[0].HLC = hlc.FromTime(env.Clock.Now().Add(time.Second)).String()
				req.Ops[0].OpID = "01900000-0000-7000-8000-5adec0000002"
				other := saDecPush(env, "01900000-0000-7000-8000-5adec0000003", env.CaiSon).Ops[0]
				other.OpID = "01900000-0000-7000-8000-5adec0000004"
				req.Ops = append(req.Ops, other)
				return env.request("POST", "/v1/sync/push", "", req)
			},
			Check: onlyRejected("results"),
		},
		"GET /v1/sync/pull": {
			Owner: ownerVolunteer, OwnerStatus: http.StatusOK,
			Setup: pushSaDecLog,
			Request: func(env *testEnv) *http.Request {
				return env.request("GET", "/v1/sync/pull?limit=1000", "", nil)
			},
			// A volunteer pulls its own scope only: 200 for Mỹ Trà's volunteer, without Sa Đéc data.
			Check: func(t testing.TB, env *testEnv, who string, status int, body []byte) {
				if status != http.StatusOK && status != http.StatusForbidden {
					t.Errorf("%s: %d %s", who, status, body)
				}
			},
		},
		"GET /v1/reviews": {
			Owner: ownerCoordinator, OwnerStatus: http.StatusOK,
			Setup: pushSaDecLog,
			Request: func(env *testEnv) *http.Request {
				return env.request("GET", fmt.Sprintf("/v1/reviews?unit=%d", env.SaDec), "", nil)
			},
			Also: []func(*testEnv) *http.Request{
				func(env *testEnv) *http.Request { return env.request("GET", "/v1/reviews", "", nil) },
				func(env *testEnv) *http.Request {
					return env.request("GET", fmt.Sprintf("/v1/reviews?hamlet=%d", env.VinhPhuoc), "", nil)
				},
			},
		},
		"POST /v1/reviews": {
			Owner: ownerCoordinator, OwnerStatus: http.StatusOK,
			Setup: pushSaDecLog,
			Request: func(env *testEnv) *http.Request {
				return env.request("POST", "/v1/reviews", "", map[string]any{"decisions": []map[string]any{
					{"id": saDecLog, "status": "rejected", "note": "không hợp lệ"}}})
			},
			Check: func(t testing.TB, env *testEnv, who string, status int, body []byte) {
				onlyRejected("results")(t, env, who, status, body)
				page, err := env.Store.ListReviews(context.Background(), env.CoordSaDec.Actor, schema.ReviewFilter{})
				if err != nil || len(page.Items) != 1 || page.Items[0].Status != schema.StatusPending {
					t.Errorf("%s: the decision changed Sa Đéc's log: %+v %v", who, page.Items, err)
				}
			},
		},
		"GET /v1/logs/:id/history": {
			Owner: ownerCoordinator, OwnerStatus: http.StatusOK,
			Setup: pushSaDecLog,
			Request: func(env *testEnv) *http.Request {
				return env.request("GET", "/v1/logs/"+saDecLog+"/history", "", nil)
			},
		},
	})
}

// saDecPush is a push creating a log in a hamlet, dated at the test clock.
func saDecPush(env *testEnv, id string, hamlet int64) schema.PushRequest {
	now := env.Clock.Now()
	f := map[string]json.RawMessage{}
	for k, v := range map[string]any{"hamlet_id": hamlet, "kind": "vneid_install",
		"occurred_at": now.Add(-time.Hour).Format(time.RFC3339), "note": "hướng dẫn bà Sáu ở Sa Đéc"} {
		b, _ := json.Marshal(v)
		f[k] = b
	}
	return schema.PushRequest{DeviceTime: now.Format(time.RFC3339), Ops: []schema.Op{{
		OpID: strings.Replace(id, "5adec", "0bead", 1), Type: schema.OpUpsert, ID: id,
		HLC: hlc.FromTime(now).String(), Fields: f}}}
}
