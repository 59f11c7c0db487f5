package server

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/cdtsync/cdtsync/schema"
)

// Fuzz targets for every request decoder that reads network input, through the real
// router and handlers over a real SQLite deployment (newTestEnv): push bodies (gzipped or
// not), pull cursors and limits, sign-in, refresh, enrolment, sign-out, the staff JSON
// bodies, review decisions, and the query parameters of the reports, the review queue and
// the lists. Whatever the input: no 5xx, every error answer is {"code","message"} with
// the status of its code, and a 200 answer is well-formed JSON. Seed corpora are in
// testdata/fuzz/<target>/; make fuzz runs each target for FUZZTIME.

// fuzzEnv is a deployment for a fuzz target. Logs are dropped (a long run would fill
// memory); client addresses come from X-Forwarded-For so that each input gets its own
// address and the sign-in throttle does not stop every input before its decoder.
func fuzzEnv(f *testing.F) *testEnv {
	return newTestEnvWith(f, func(cfg *Config) {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
		cfg.TrustProxy = true
	})
}

var fuzzAddr atomic.Uint32

// serveFuzz runs one request through the router in-process and checks the answer.
func serveFuzz(t testing.TB, env *testEnv, req *http.Request) (*httptest.ResponseRecorder, []byte) {
	n := fuzzAddr.Add(1)
	req.Header.Set("X-Forwarded-For", fmt.Sprintf("10.%d.%d.%d", byte(n>>16), byte(n>>8), byte(n)))
	rec := httptest.NewRecorder()
	env.Srv.Handler().ServeHTTP(rec, req)
	body := rec.Body.Bytes()
	if rec.Header().Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			t.Fatalf("%s %s: gzip answer: %v", req.Method, req.URL, err)
		}
		body, _ = io.ReadAll(zr)
	}
	if rec.Code >= 500 {
		t.Fatalf("%s %s: %d %s", req.Method, req.URL, rec.Code, body)
	}
	if rec.Code >= 400 {
		var e schema.Error
		if err := json.Unmarshal(body, &e); err != nil || e.Code == "" || e.Message == "" {
			t.Fatalf("%s %s: error answer %d is not {code, message}: %s", req.Method, req.URL, rec.Code, body)
		}
		if want := HTTPStatus(e.Code); want != rec.Code && rec.Code != http.StatusMethodNotAllowed {
			t.Fatalf("%s %s: status %d for code %s (table: %d)", req.Method, req.URL, rec.Code, e.Code, want)
		}
	} else if strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") && !json.Valid(body) {
		t.Fatalf("%s %s: %d with invalid JSON: %.200s", req.Method, req.URL, rec.Code, body)
	}
	return rec, body
}

func fuzzPost(path, token string, body []byte) *http.Request {
	req := httptest.NewRequest("POST", path, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return req
}

func fuzzGet(path, rawQuery, token string) *http.Request {
	req := httptest.NewRequest("GET", path, nil)
	req.URL.RawQuery = rawQuery
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return req
}

// FuzzPushHTTP: push bodies through POST /v1/sync/push, plain or gzipped. An accepted
// push answers one result per op, each applied, already_applied or rejected with a code.
func FuzzPushHTTP(f *testing.F) {
	f.Add([]byte(`{"device_time":"2026-05-04T08:30:00+07:00","ops":[{"op_id":"01900000-0000-7000-9000-00000000f001","type":"upsert","id":"01900000-0000-7000-8000-00000000f001","hlc":"018f40a4a0c00000","fields":{"hamlet_id":4,"kind":"vneid_install","occurred_at":"2026-05-04T07:30:00+07:00","note":"Bà Sáu"}}]}`), false)
	f.Add([]byte(`{"device_time":"2026-05-04T01:30:00Z","pending_ops":3,"oldest_pending_at":"2026-05-03T01:30:00Z","ops":[{"op_id":"01900000-0000-7000-9000-00000000f002","type":"delete","id":"01900000-0000-7000-8000-00000000f001","hlc":"018f40a4a0c00001"}]}`), true)
	f.Add([]byte(`{"device_time":"x","ops":[{}]}`), false)
	f.Add([]byte{0x1f, 0x8b, 0x08}, true)
	env := fuzzEnv(f)
	f.Fuzz(func(t *testing.T, body []byte, gz bool) {
		sent := body
		if gz {
			var buf bytes.Buffer
			zw := gzip.NewWriter(&buf)
			zw.Write(body)
			zw.Close()
			sent = buf.Bytes()
		}
		req := fuzzPost("/v1/sync/push", env.VolSaDec.Token, sent)
		if gz {
			req.Header.Set("Content-Encoding", "gzip")
		}
		rec, out := serveFuzz(t, env, req)
		if rec.Code != http.StatusOK {
			return
		}
		var in schema.PushRequest
		var resp schema.PushResponse
		if err := json.Unmarshal(body, &in); err != nil {
			t.Fatalf("accepted a push that is not JSON: %v", err)
		}
		if err := json.Unmarshal(out, &resp); err != nil || len(resp.Results) != len(in.Ops) || resp.ServerTime == "" {
			t.Fatalf("%d ops, answer %s", len(in.Ops), out)
		}
		for i, r := range resp.Results {
			switch {
			case r.OpID != in.Ops[i].OpID:
				t.Fatalf("result %d is for op %q, not %q", i, r.OpID, in.Ops[i].OpID)
			case r.Status == schema.ResultRejected && (r.Code == "" || r.Message == ""):
				t.Fatalf("rejection without code or message: %+v", r)
			case r.Status != schema.ResultApplied && r.Status != schema.ResultAlreadyApplied && r.Status != schema.ResultRejected:
				t.Fatalf("result status %q", r.Status)
			}
		}
	})
}

// FuzzPullQuery: the query string of GET /v1/sync/pull (cursor, limit). A page is never
// longer than the limit asked for, nor than 1000.
func FuzzPullQuery(f *testing.F) {
	f.Add("limit=7")
	f.Add("cursor=djEuYTFiMmMzZDRlNWY2MDcwOC4xMi0zLjQy&limit=1000")
	f.Add("cursor=%25%25&limit=-1")
	f.Add("limit=99999999999999999999&cursor=")
	env := fuzzEnv(f)
	for _, ops := range [][]schema.Op{newOps(env, 12, "Hướng dẫn cài VNeID")} {
		rec, _ := serveFuzz(f, env, fuzzPost("/v1/sync/push", env.VolSaDec.Token, pushBody(env, ops)))
		if rec.Code != 200 {
			f.Fatalf("seed push: %d", rec.Code)
		}
	}
	f.Fuzz(func(t *testing.T, q string) {
		req := fuzzGet("/v1/sync/pull", q, env.VolSaDec.Token)
		rec, out := serveFuzz(t, env, req)
		if rec.Code != http.StatusOK {
			return
		}
		var page schema.PullResponse
		if err := json.Unmarshal(out, &page); err != nil || page.Cursor == "" {
			t.Fatalf("page %s: %v", out, err)
		}
		limit := schema.DefaultPullLimit
		if v := req.URL.Query().Get("limit"); v != "" {
			limit, _ = strconv.Atoi(v) // as the handler reads it
		}
		if limit > schema.MaxPullLimit {
			limit = schema.MaxPullLimit
		}
		if len(page.Changes) > limit {
			t.Fatalf("%d changes for limit %d", len(page.Changes), limit)
		}
	})
}

// FuzzLogin: POST /v1/auth/login bodies. Tokens come only for the right password.
func FuzzLogin(f *testing.F) {
	f.Add([]byte(`{"username":"lan.sadec","password":"Sen hồng Sa Đéc 2026"}`))
	f.Add([]byte(`{"username":"LAN.SADEC ","password":"sai mật khẩu"}`))
	f.Add([]byte(`{"username":"","password":""}`))
	f.Add([]byte(`{"username":"a","password":"b","extra":1}`))
	f.Add([]byte(`{"username":["x"]}`))
	env := fuzzEnv(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		rec, out := serveFuzz(t, env, fuzzPost("/v1/auth/login", "", body))
		if rec.Code == http.StatusOK {
			var req loginRequest
			json.Unmarshal(body, &req)
			if req.Password != staffPassword {
				t.Fatalf("signed in with password %q: %s", req.Password, out)
			}
		}
	})
}

// FuzzRefresh: POST /v1/auth/refresh bodies. A made-up token never gets a new pair.
func FuzzRefresh(f *testing.F) {
	f.Add([]byte(`{"refresh_token":"cdtr_0123456789abcdefghijklmnopqrstuvwxyzABCDEFGH"}`))
	f.Add([]byte(`{"refresh_token":""}`))
	f.Add([]byte(`{"refresh_token":null}`))
	f.Add([]byte(`{}`))
	env := fuzzEnv(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		if rec, out := serveFuzz(t, env, fuzzPost("/v1/auth/refresh", "", body)); rec.Code == http.StatusOK {
			t.Fatalf("a made-up refresh token was accepted: %s → %s", body, out)
		}
		serveFuzz(t, env, fuzzPost("/v1/auth/logout", "", body))
	})
}

// FuzzEnroll: POST /v1/enroll bodies. A made-up code never enrols a phone.
func FuzzEnroll(f *testing.F) {
	f.Add([]byte(`{"code":"7KQ2M-XH4PA","device_id":"android-hong-7f3a","device_name":"Redmi của Hồng"}`))
	f.Add([]byte(`{"code":"7kq2m xh4pa","device_id":"","device_name":""}`))
	f.Add([]byte(`{"code":"OIL00-00000","device_id":"a/b\u0000c"}`))
	env := fuzzEnv(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		if rec, out := serveFuzz(t, env, fuzzPost("/v1/enroll", "", body)); rec.Code == http.StatusOK {
			t.Fatalf("a made-up code enrolled a phone: %s → %s", body, out)
		}
	})
}

// FuzzStaffBodies: the JSON bodies of POST /v1/teams, /v1/users and /v1/enrollments from
// a coordinator: whatever they say, nothing is created outside Phường Sa Đéc.
func FuzzStaffBodies(f *testing.F) {
	f.Add(uint8(0), []byte(`{"name":"Tổ CNSCĐ khóm Cái Sơn","unit_id":5}`))
	f.Add(uint8(1), []byte(`{"role":"volunteer","display_name":"Trần Văn Minh","team_id":1}`))
	f.Add(uint8(1), []byte(`{"role":"admin","display_name":"x","unit_id":1,"username":"x","password":"0123456789"}`))
	f.Add(uint8(2), []byte(`{"volunteer_id":7}`))
	env := fuzzEnv(f)
	// Teams and users outside Sa Đéc's subtree, and staff accounts anywhere.
	outside := func() int {
		var n int
		env.DB.WriteDB().QueryRow(`SELECT (SELECT count(*) FROM teams t JOIN units u ON u.id = t.unit_id
				WHERE substr(u.path, 1, length(s.path)) <> s.path)
			+ (SELECT count(*) FROM users x JOIN units u ON u.id = x.unit_id WHERE substr(u.path, 1, length(s.path)) <> s.path)
			+ (SELECT count(*) FROM users WHERE role <> 'volunteer')
			FROM units s WHERE s.id = ?`, env.SaDec).Scan(&n)
		return n
	}
	before := outside()
	routes := []string{"/v1/teams", "/v1/users", "/v1/enrollments"}
	f.Fuzz(func(t *testing.T, route uint8, body []byte) {
		path := routes[int(route)%len(routes)]
		serveFuzz(t, env, fuzzPost(path, env.CoordSaDec.Token, body))
		if n := outside(); n != before {
			t.Fatalf("a coordinator of Sa Đéc created a team, a staff account or a user outside Sa Đéc: %s %s", path, body)
		}
	})
}

// FuzzReviewDecisions: POST /v1/reviews bodies from Sa Đéc's coordinator. One result per
// decision; Mỹ Trà's log is never decided.
func FuzzReviewDecisions(f *testing.F) {
	f.Add([]byte(`{"decisions":[{"id":"` + saDecLog + `","status":"approved","note":""}]}`))
	f.Add([]byte(`{"decisions":[{"id":"` + saDecLog + `","status":"rejected","note":""}]}`))
	f.Add([]byte(`{"decisions":[{"id":"01900000-0000-7000-8000-00000000aaaa","status":"rejected","note":"Trùng"}]}`))
	f.Add([]byte(`{"decisions":[]}`))
	f.Add([]byte(`{"decisions":[{"id":1}]}`))
	env := fuzzEnv(f)
	const myTraLog = "01900000-0000-7000-8000-00000000b0b0"
	for _, p := range []struct {
		who identity
		req schema.PushRequest
	}{{env.VolSaDec, saDecPush(env, saDecLog, env.VinhPhuoc)}, {env.VolMyTra, saDecPush(env, myTraLog, env.MyThuong)}} {
		b, _ := json.Marshal(p.req)
		if rec, _ := serveFuzz(f, env, fuzzPost("/v1/sync/push", p.who.Token, b)); rec.Code != 200 {
			f.Fatalf("seed push: %d", rec.Code)
		}
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		rec, out := serveFuzz(t, env, fuzzPost("/v1/reviews", env.CoordSaDec.Token, body))
		if rec.Code == http.StatusOK {
			var in reviewRequest
			var resp struct {
				Results []json.RawMessage `json:"results"`
			}
			json.Unmarshal(body, &in)
			if err := json.Unmarshal(out, &resp); err != nil || len(resp.Results) != len(in.Decisions) {
				t.Fatalf("%d decisions, answer %s", len(in.Decisions), out)
			}
		}
		var status string
		env.DB.WriteDB().QueryRow(`SELECT status FROM logs WHERE id = ?`, myTraLog).Scan(&status)
		if status != "pending" {
			t.Fatalf("Mỹ Trà's log was decided by Sa Đéc's coordinator: %s", status)
		}
	})
}

// FuzzReportQuery: the query strings of the coverage, team and attention reports (unit,
// from, to, approved_only, format), asked by Mỹ Trà's coordinator: no answer holds Sa Đéc
// data.
func FuzzReportQuery(f *testing.F) {
	f.Add(uint8(0), "from=2026-05-01&to=2026-05-31&format=json")
	f.Add(uint8(0), "unit=2&from=2026-05-01&to=2026-05-31&approved_only=true&format=csv")
	f.Add(uint8(1), "from=2026-02-30&to=2025-01-01&format=xlsx")
	f.Add(uint8(2), "unit=-1&from=0000-01-01&to=9999-12-31")
	f.Add(uint8(1), "from=2016-01-01&to=2026-12-31&approved_only=maybe")
	env := fuzzEnv(f)
	b, _ := json.Marshal(saDecPush(env, saDecLog, env.VinhPhuoc))
	if rec, _ := serveFuzz(f, env, fuzzPost("/v1/sync/push", env.VolSaDec.Token, b)); rec.Code != 200 {
		f.Fatalf("seed push: %d", rec.Code)
	}
	routes := []string{"/v1/reports/coverage", "/v1/reports/teams", "/v1/reports/attention"}
	f.Fuzz(func(t *testing.T, route uint8, q string) {
		path := routes[int(route)%len(routes)]
		rec, out := serveFuzz(t, env, fuzzGet(path, q, env.CoordMyTra.Token))
		if strings.Contains(rec.Header().Get("Content-Type"), "spreadsheet") {
			return // XLSX is zipped; its JSON and CSV forms hold the same data
		}
		if l := leaks(out); len(l) > 0 {
			t.Fatalf("%s?%s: Mỹ Trà's coordinator got Sa Đéc data %q", path, q, l)
		}
	})
}

// FuzzListQuery: the query strings of the review queue and the lists (units, teams,
// users, devices) and the log-history path, asked by Mỹ Trà's coordinator: no answer holds
// Sa Đéc data.
func FuzzListQuery(f *testing.F) {
	f.Add(uint8(0), "parent=2")
	f.Add(uint8(1), "unit=2&status=pending&limit=5&conflict=true&duplicate=0&from=2026-05-01&to=2026-05-31")
	f.Add(uint8(1), "cursor=%ff&limit=0&hamlet=abc")
	f.Add(uint8(2), "unit=2")
	f.Add(uint8(3), "team=1&unit=1")
	f.Add(uint8(4), "volunteer=5")
	f.Add(uint8(5), saDecLog)
	env := fuzzEnv(f)
	b, _ := json.Marshal(saDecPush(env, saDecLog, env.VinhPhuoc))
	if rec, _ := serveFuzz(f, env, fuzzPost("/v1/sync/push", env.VolSaDec.Token, b)); rec.Code != 200 {
		f.Fatalf("seed push: %d", rec.Code)
	}
	routes := []string{"/v1/units", "/v1/reviews", "/v1/teams", "/v1/users", "/v1/devices"}
	f.Fuzz(func(t *testing.T, route uint8, q string) {
		var req *http.Request
		if i := int(route) % (len(routes) + 1); i < len(routes) {
			req = fuzzGet(routes[i], q, env.CoordMyTra.Token)
		} else {
			req = fuzzGet("/v1/logs/x/history", "", env.CoordMyTra.Token)
			req.URL.Path = "/v1/logs/" + q + "/history"
			req.URL.RawPath = ""
		}
		_, out := serveFuzz(t, env, req)
		if l := leaks(out); len(l) > 0 {
			t.Fatalf("%s: Mỹ Trà's coordinator got Sa Đéc data %q", req.URL, l)
		}
	})
}
