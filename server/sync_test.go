package server

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cdtsync/cdtsync/schema"
	"github.com/cdtsync/cdtsync/sync/hlc"
)

// pushOps builds a push of n new logs in Khóm Vĩnh Phước.
func pushOps(env *testEnv, n int) schema.PushRequest {
	req := saDecPush(env, "01900000-0000-7000-8000-000000000000", env.VinhPhuoc)
	base := req.Ops[0]
	req.Ops = make([]schema.Op, n)
	for i := range req.Ops {
		op := base
		op.ID = fmt.Sprintf("01900000-0000-7000-8000-%012d", i+1)
		op.OpID = fmt.Sprintf("01900000-0000-7000-9000-%012d", i+1)
		op.HLC = hlc.FromTime(env.Clock.Now()).String()
		req.Ops[i] = op
	}
	return req
}

func gzipped(t testing.TB, v any) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if err := json.NewEncoder(zw).Encode(v); err != nil {
		t.Fatal(err)
	}
	zw.Close()
	return buf.Bytes()
}

func TestPushHTTP(t *testing.T) {
	env := newTestEnv(t)
	tok := env.VolSaDec.Token

	t.Run("GzipBothWays", func(t *testing.T) {
		req, _ := http.NewRequest("POST", env.HTTP.URL+"/v1/sync/push", bytes.NewReader(gzipped(t, pushOps(env, 300))))
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Content-Encoding", "gzip")
		req.Header.Set("Accept-Encoding", "gzip")
		resp, err := (&http.Transport{DisableCompression: true}).RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != 200 || resp.Header.Get("Content-Encoding") != "gzip" {
			t.Fatalf("%d, Content-Encoding %q", resp.StatusCode, resp.Header.Get("Content-Encoding"))
		}
		zr, err := gzip.NewReader(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		var out schema.PushResponse
		if err := json.NewDecoder(zr).Decode(&out); err != nil || len(out.Results) != 300 || out.Results[299].Status != schema.ResultApplied {
			t.Fatalf("%v %d", err, len(out.Results))
		}
		if _, err := time.Parse(time.RFC3339, out.ServerTime); err != nil {
			t.Fatalf("server_time %q", out.ServerTime)
		}
	})

	t.Run("ErrTooManyOps", func(t *testing.T) {
		status, code := env.do("POST", "/v1/sync/push", tok, pushOps(env, schema.MaxOpsPerPush+1), nil)
		if status != http.StatusRequestEntityTooLarge || code != schema.CodeTooLarge {
			t.Fatalf("%d %s", status, code)
		}
	})

	t.Run("ErrBodyTooLarge", func(t *testing.T) {
		req := pushOps(env, 1)
		f := req.Ops[0].Fields
		f["note"], _ = json.Marshal(strings.Repeat("x", schema.MaxBodyBytes))
		var e schema.Error
		status, _, body := env.send(env.request("POST", "/v1/sync/push", tok, req))
		json.Unmarshal(body, &e)
		if status != http.StatusRequestEntityTooLarge || e.Code != schema.CodeTooLarge || !strings.Contains(e.Message, fmt.Sprint(schema.MaxBodyBytes)) {
			t.Fatalf("%d %+v", status, e)
		}
	})

	t.Run("ErrGzipBomb", func(t *testing.T) {
		// 64 MB of zeros compresses to ~64 KB: refused after 4 MiB of decompression.
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		zw.Write([]byte(`{"device_time":"2026-05-04T01:30:00Z","ops":[],"x":"`))
		zw.Write(make([]byte, 64<<20))
		zw.Close()
		req, _ := http.NewRequest("POST", env.HTTP.URL+"/v1/sync/push", &buf)
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Encoding", "gzip")
		status, _, body := env.send(req)
		if status != http.StatusRequestEntityTooLarge {
			t.Fatalf("%d %s", status, body)
		}
	})

	t.Run("ErrBadJSON", func(t *testing.T) {
		for _, body := range []string{`{`, `{"device_time":"2026-05-04T01:30:00Z","ops":[],"extra":1}`, `[]`, ``} {
			req, _ := http.NewRequest("POST", env.HTTP.URL+"/v1/sync/push", strings.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+tok)
			status, _, b := env.send(req)
			var e schema.Error
			if json.Unmarshal(b, &e); status != http.StatusBadRequest || e.Code != schema.CodeInvalid {
				t.Fatalf("%q: %d %s", body, status, b)
			}
		}
	})

	t.Run("ErrUnsupportedEncoding", func(t *testing.T) {
		req, _ := http.NewRequest("POST", env.HTTP.URL+"/v1/sync/push", strings.NewReader("x"))
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Encoding", "br")
		if status, _, b := env.send(req); status != http.StatusBadRequest {
			t.Fatalf("%d %s", status, b)
		}
	})

	t.Run("PullPaging", func(t *testing.T) {
		seen := map[string]bool{}
		cursor := ""
		for i := 0; ; i++ {
			var page schema.PullResponse
			if status, code := env.do("GET", "/v1/sync/pull?limit=7&cursor="+cursor, tok, nil, &page); status != 200 {
				t.Fatalf("%d %s", status, code)
			}
			for _, c := range page.Changes {
				if c.Type == schema.ChangeLog {
					seen[c.Log.ID] = true
				}
			}
			cursor = page.Cursor
			if !page.HasMore {
				break
			}
			if i > 1000 {
				t.Fatal("pull does not end")
			}
		}
		if len(seen) != 300 {
			t.Fatalf("pulled %d logs, pushed 300", len(seen))
		}
		if status, code := env.do("GET", "/v1/sync/pull?limit=x", tok, nil, nil); status != 400 || code != schema.CodeInvalid {
			t.Fatalf("bad limit: %d %s", status, code)
		}
		if status, code := env.do("GET", "/v1/sync/pull?cursor=%25%25", tok, nil, nil); status != 400 || code != schema.CodeInvalid {
			t.Fatalf("bad cursor: %d %s", status, code)
		}
	})
	_ = io.Discard
}
