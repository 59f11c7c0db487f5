package clientsdk_test

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/cdtsync/cdtsync/clientsdk"
	"github.com/cdtsync/cdtsync/clientsdk/sdktest"
	"github.com/cdtsync/cdtsync/schema"
)

// ict is Vietnam's time zone, the zone phones show.
var ict = time.FixedZone("ICT", 7*3600)

// phoneClock is a phone's clock: real time, off by Skew.
type phoneClock struct {
	mu   sync.Mutex
	skew time.Duration
}

func (p *phoneClock) Now() time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	return time.Now().Add(p.skew).In(ict)
}

func (p *phoneClock) Set(skew time.Duration) {
	p.mu.Lock()
	p.skew = skew
	p.mu.Unlock()
}

// fastBackoff keeps retries quick in tests.
var fastBackoff = clientsdk.Backoff{Initial: 2 * time.Millisecond, Max: 20 * time.Millisecond, Retries: 4}

// phone is a test phone: a Client over a database in a temporary directory.
type phone struct {
	*clientsdk.Client
	t     testing.TB
	path  string
	opts  clientsdk.Options
	clock *phoneClock
}

// newPhone opens a Client with the given device id (and options), closed at the end.
func newPhone(t testing.TB, deviceID string, opts clientsdk.Options) *phone {
	t.Helper()
	p := &phone{t: t, path: filepath.Join(t.TempDir(), "cdt.db"), clock: &phoneClock{}}
	opts.DeviceID = deviceID
	if opts.DeviceName == "" {
		opts.DeviceName = "Samsung Galaxy A05"
	}
	if opts.Now == nil {
		opts.Now = p.clock.Now
	}
	if opts.Backoff == (clientsdk.Backoff{}) {
		opts.Backoff = fastBackoff
	}
	p.opts = opts
	p.open()
	return p
}

func (p *phone) open() {
	p.t.Helper()
	c, err := clientsdk.Open(context.Background(), p.path, p.opts)
	if err != nil {
		p.t.Fatal(err)
	}
	p.Client = c
	p.t.Cleanup(func() { c.Close() })
}

// reopen closes the Client and opens the same database again (the app restarted).
func (p *phone) reopen() {
	p.t.Helper()
	if err := p.Close(); err != nil {
		p.t.Fatal(err)
	}
	p.open()
}

// enroll enrols a volunteer on the phone with a fresh code.
func (p *phone) enroll(srv *sdktest.Server, team, volunteer int64) clientsdk.Volunteer {
	p.t.Helper()
	v, err := p.Enroll(context.Background(), srv.URL, srv.Code(p.t, team, volunteer))
	if err != nil {
		p.t.Fatalf("enroll: %v", err)
	}
	return v
}

// record records a log, failing the test on error.
func (p *phone) record(e clientsdk.Entry) clientsdk.Log {
	p.t.Helper()
	l, err := p.Record(context.Background(), e)
	if err != nil {
		p.t.Fatalf("record: %v", err)
	}
	return l
}

// sync syncs until the phone has nothing pending, failing after tries attempts.
func (p *phone) sync() clientsdk.SyncReport {
	p.t.Helper()
	rep, err := p.Sync(context.Background())
	if err != nil {
		p.t.Fatalf("sync: %v", err)
	}
	return rep
}

func (p *phone) pending() int {
	p.t.Helper()
	st, err := p.Status(context.Background())
	if err != nil {
		p.t.Fatal(err)
	}
	n := 0
	for _, v := range st.Volunteers {
		n += v.PendingOps
	}
	return n
}

func (p *phone) logs() map[string]clientsdk.Log {
	p.t.Helper()
	ls, err := p.Logs(context.Background(), clientsdk.LogFilter{IncludeDeleted: true})
	if err != nil {
		p.t.Fatal(err)
	}
	out := map[string]clientsdk.Log{}
	for _, l := range ls {
		out[l.ID] = l
	}
	return out
}

// visit is a typical entry: Level-2 e-ID for an elderly resident of Khóm Vĩnh Phước.
func visit(srv *sdktest.Server, note string) clientsdk.Entry {
	return clientsdk.Entry{HamletID: srv.VinhPhuoc, Kind: "vneid_install", Note: note, AgeBand: "60_plus", Gender: "female"}
}

func str(s string) *string { return &s }
func i64(v int64) *int64   { return &v }

// sameContent compares the client fields of two logs.
func sameContent(a, b schema.Content) bool {
	for f := schema.Field(0); f < schema.NumFields; f++ {
		if string(a.FieldJSON(f)) != string(b.FieldJSON(f)) {
			return false
		}
	}
	return true
}

func deref[T any](p *T) any {
	if p == nil {
		return nil
	}
	return *p
}
