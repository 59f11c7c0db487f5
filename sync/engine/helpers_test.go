package engine_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/cdtsync/cdtsync/schema"
	"github.com/cdtsync/cdtsync/store/postgres"
	"github.com/cdtsync/cdtsync/store/postgres/pgtest"
	"github.com/cdtsync/cdtsync/store/sqlite/sqlitetest"
	"github.com/cdtsync/cdtsync/store/storetest"
	"github.com/cdtsync/cdtsync/sync/engine"
	"github.com/cdtsync/cdtsync/sync/hlc"
)

// now is the fixed server time of the tests: 23/11/2026 10:00 in Vietnam.
var now = time.Date(2026, 11, 23, 3, 0, 0, 0, time.UTC)

type env struct {
	t  testing.TB
	db store
	f  *sqlitetest.Fixture
	e  *engine.Engine
}

// store is what these tests use of a store; SQLite's and PostgreSQL's both have it.
type store interface {
	engine.Store
	ListReviews(ctx context.Context, a schema.Actor, f schema.ReviewFilter) (schema.ReviewPage, error)
	ListDevices(ctx context.Context, a schema.Actor, f schema.DeviceFilter) ([]schema.Device, error)
}

// newEnv opens the fixture on the store the tests run on (store/storetest: SQLite, or
// PostgreSQL with CDTSYNC_TEST_STORE=postgres).
func newEnv(t testing.TB) *env {
	t.Helper()
	if storetest.Postgres() {
		db := pgtest.MustOpen(t, postgres.Options{})
		f := pgtest.MustFixture(t, db)
		db.Now = func() time.Time { return now }
		return &env{t: t, db: db, f: f, e: engine.New(db, func() time.Time { return now })}
	}
	db := sqlitetest.MustOpen(t)
	f := sqlitetest.MustFixture(t, db)
	db.Now = func() time.Time { return now }
	return &env{t: t, db: db, f: f, e: engine.New(db, func() time.Time { return now })}
}

// fields builds an op's fields from Go values.
func fields(kv ...any) map[string]json.RawMessage {
	m := map[string]json.RawMessage{}
	for i := 0; i < len(kv); i += 2 {
		b, err := json.Marshal(kv[i+1])
		if err != nil {
			panic(err)
		}
		m[kv[i].(string)] = b
	}
	return m
}

// at returns an HLC at server time plus d.
func at(d time.Duration) hlc.Timestamp { return hlc.FromTime(now.Add(d)) }

func newID() string { return uuid.Must(uuid.NewV7()).String() }

func upsert(id string, h hlc.Timestamp, f map[string]json.RawMessage) schema.Op {
	return schema.Op{OpID: newID(), Type: schema.OpUpsert, ID: id, HLC: h.String(), Fields: f}
}

func del(id string, h hlc.Timestamp) schema.Op {
	return schema.Op{OpID: newID(), Type: schema.OpDelete, ID: id, HLC: h.String()}
}

// ref is a citizen_ref-shaped value for person n.
func ref(n int) string { return fmt.Sprintf("%064x", n+1000) }

// create returns a full creation op in the given hamlet.
func create(id string, h hlc.Timestamp, hamlet int64, kind string, occurred time.Time, extra ...any) schema.Op {
	kv := append([]any{"hamlet_id", hamlet, "kind", kind, "occurred_at", occurred.In(vn).Format(time.RFC3339)}, extra...)
	return upsert(id, h, fields(kv...))
}

var vn = time.FixedZone("ICT", 7*3600)

func (v *env) push(a schema.Actor, deviceTime time.Time, ops ...schema.Op) []schema.OpResult {
	v.t.Helper()
	resp, err := v.e.Push(context.Background(), a, schema.PushRequest{DeviceTime: deviceTime.Format(time.RFC3339Nano), Ops: ops})
	if err != nil {
		v.t.Fatalf("push: %v", err)
	}
	if len(resp.Results) != len(ops) {
		v.t.Fatalf("push: %d results for %d ops", len(resp.Results), len(ops))
	}
	return resp.Results
}

// pushOK pushes with a right clock and fails the test unless every op is applied.
func (v *env) pushOK(a schema.Actor, ops ...schema.Op) {
	v.t.Helper()
	for i, r := range v.push(a, now, ops...) {
		if r.Status != schema.ResultApplied {
			v.t.Fatalf("op %d: %s %s: %s", i, r.Status, r.Code, r.Message)
		}
	}
}

// pullAll pulls every page with the given limit and returns the logs by id (last wins).
func (v *env) pullAll(a schema.Actor, limit int) map[string]schema.Log {
	v.t.Helper()
	out := map[string]schema.Log{}
	cursor := ""
	for pages := 0; ; pages++ {
		resp, err := v.e.Pull(context.Background(), a, cursor, limit)
		if err != nil {
			v.t.Fatalf("pull: %v", err)
		}
		for _, c := range resp.Changes {
			if c.Type == schema.ChangeLog {
				out[c.Log.ID] = *c.Log
			}
		}
		cursor = resp.Cursor
		if !resp.HasMore {
			return out
		}
		if pages > 100000 {
			v.t.Fatal("pull does not end")
		}
	}
}

func (v *env) log(a schema.Actor, id string) schema.Log {
	v.t.Helper()
	l, ok := v.pullAll(a, 1000)[id]
	if !ok {
		v.t.Fatalf("log %s not pulled by volunteer %d", id, a.UserID)
	}
	return l
}

func str(p *string) string {
	if p == nil {
		return "<nil>"
	}
	return *p
}

func codes(rs []schema.OpResult) string {
	var b strings.Builder
	for _, r := range rs {
		b.WriteString(r.Status)
		if r.Code != "" {
			b.WriteString(":" + r.Code)
		}
		b.WriteString(" ")
	}
	return strings.TrimSpace(b.String())
}
