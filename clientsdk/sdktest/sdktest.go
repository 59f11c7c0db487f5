// Package sdktest runs a real cdtsync server in-process for tests of the SDK and of the
// tools built on it (cmd/cdt), and for the SDK's runnable examples: the server,
// sync engine and SQLite store wired as cmd/cdtsync's serve does, on 127.0.0.1:0, over a
// SQLite file in a temporary directory, with a small deployment in Tỉnh Đồng Tháp.
package sdktest

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cdtsync/cdtsync/auth"
	"github.com/cdtsync/cdtsync/schema"
	"github.com/cdtsync/cdtsync/server"
	"github.com/cdtsync/cdtsync/store/sqlite"
	"github.com/cdtsync/cdtsync/sync/engine"
)

// T is what the helpers need of a test: testing.TB, or Standalone for runnable examples.
type T interface {
	Helper()
	Fatal(args ...any)
	Fatalf(format string, args ...any)
	Cleanup(func())
	TempDir() string
}

// Standalone is a T outside a test (runnable examples): Fatal panics, Close runs the
// cleanups and removes the temporary directories.
type Standalone struct {
	mu       sync.Mutex
	cleanups []func()
}

var _ T = (*Standalone)(nil)

func (s *Standalone) Helper()                           {}
func (s *Standalone) Fatal(args ...any)                 { panic(fmt.Sprint(args...)) }
func (s *Standalone) Fatalf(format string, args ...any) { panic(fmt.Sprintf(format, args...)) }

// Cleanup registers fn to run at Close, last registered first.
func (s *Standalone) Cleanup(fn func()) {
	s.mu.Lock()
	s.cleanups = append(s.cleanups, fn)
	s.mu.Unlock()
}

// TempDir makes a directory removed at Close.
func (s *Standalone) TempDir() string {
	d, err := os.MkdirTemp("", "cdtsync-example-")
	if err != nil {
		panic(err)
	}
	s.Cleanup(func() { os.RemoveAll(d) })
	return d
}

// Close runs the cleanups.
func (s *Standalone) Close() {
	s.mu.Lock()
	fns := s.cleanups
	s.cleanups = nil
	s.mu.Unlock()
	for i := len(fns) - 1; i >= 0; i-- {
		fns[i]()
	}
}

// Clock is the server's clock: real time plus a shift tests move.
type Clock struct {
	mu    sync.Mutex
	shift time.Duration
}

// Now returns the server's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.shift)
}

// Advance moves the server's clock on.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.shift += d
	c.mu.Unlock()
}

// Interceptor may answer a request instead of the server (to inject 503s, 429s, 500s);
// it returns false to let the server answer.
type Interceptor func(w http.ResponseWriter, r *http.Request) bool

// Server is a running cdtsync server with a deployment:
//
//	Tỉnh Đồng Tháp
//	├── Phường Sa Đéc: Khóm Vĩnh Phước, Khóm Cái Sơn, Ấp Đông Huề — team "Tổ CNSCĐ khóm Vĩnh Phước", coordinator Phạm Thị Lan
//	└── Phường Mỹ Trà: Khóm Mỹ Thượng — team "Tổ CNSCĐ phường Mỹ Trà", coordinator Võ Văn Tùng
type Server struct {
	URL    string
	DB     *sqlite.DB
	Engine *engine.Engine
	Clock  *Clock
	Output *Buffer // the server's log output (JSON lines)
	// Handler is the server's own handler: an Interceptor may call it and then decide
	// what the client gets.
	Handler http.Handler

	Province, SaDec, MyTra        int64
	VinhPhuoc, CaiSon, DongHue    int64
	MyThuong                      int64
	TeamSaDec, TeamMyTra          int64
	Admin, CoordSaDec, CoordMyTra schema.Actor

	intercept atomic.Pointer[Interceptor]
	requests  atomic.Int64
	ro        *sql.DB
}

// Buffer collects log output written from many goroutines.
type Buffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns what was written.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Start starts a server for the test; it stops when the test ends.
func Start(tb T) *Server {
	tb.Helper()
	ctx := context.Background()
	dir := tb.TempDir()
	db, err := sqlite.Open(ctx, dir, sqlite.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	s := &Server{DB: db, Clock: &Clock{}, Output: &Buffer{}}
	db.Now = s.Clock.Now
	keys, err := auth.LoadKeys(filepath.Join(dir, auth.KeyDir), s.Clock.Now)
	if err != nil {
		tb.Fatal(err)
	}
	s.Engine = engine.New(db, s.Clock.Now)
	srv := server.New(server.Config{
		Logger:         slog.New(slog.NewJSONHandler(s.Output, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Now:            s.Clock.Now,
		Health:         db,
		Keys:           keys,
		Accounts:       db,
		Units:          db,
		Sync:           s.Engine,
		Reviews:        db,
		PasswordParams: auth.TestParams,
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	h := srv.Handler()
	s.Handler = h
	hs := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			s.requests.Add(1)
			if f := s.intercept.Load(); f != nil && (*f)(w, r) {
				return
			}
			h.ServeHTTP(w, r)
		}),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(slog.NewTextHandler(s.Output, nil), slog.LevelWarn),
	}
	served := make(chan struct{})
	go func() { hs.Serve(ln); close(served) }()
	tb.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		hs.Shutdown(sctx)
		<-served
	})
	s.URL = "http://" + ln.Addr().String()
	s.ro, err = sql.Open("sqlite", "file:"+db.Path()+"?mode=ro&_pragma=busy_timeout(10000)")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.ro.Close() })
	s.deployment(tb)
	return s
}

// Intercept sets (nil clears) a function that may answer requests instead of the server.
func (s *Server) Intercept(f Interceptor) {
	if f == nil {
		s.intercept.Store(nil)
		return
	}
	s.intercept.Store(&f)
}

// Requests returns the number of HTTP requests the server received.
func (s *Server) Requests() int64 { return s.requests.Load() }

func (s *Server) deployment(tb T) {
	tb.Helper()
	ctx := context.Background()
	unit := func(parent *int64, level, typ, code, name string, households int64) int64 {
		u := schema.Unit{ParentID: parent, Level: level, UnitType: typ, Name: name}
		if code != "" {
			u.Code, u.CodeList = code, "vn-admin-2026-04-30"
		}
		if households > 0 {
			u.Households = &households
		}
		id, err := s.DB.CreateUnit(ctx, u, "sdktest/"+level+"/"+name)
		if err != nil {
			tb.Fatal(err)
		}
		return id
	}
	s.Province = unit(nil, schema.LevelProvince, "Tỉnh", "82", "Tỉnh Đồng Tháp", 0)
	s.SaDec = unit(&s.Province, schema.LevelCommune, "Phường", "29905", "Phường Sa Đéc", 0)
	s.MyTra = unit(&s.Province, schema.LevelCommune, "Phường", "29888", "Phường Mỹ Trà", 0)
	s.VinhPhuoc = unit(&s.SaDec, schema.LevelHamlet, "khóm", "", "Khóm Vĩnh Phước", 612)
	s.CaiSon = unit(&s.SaDec, schema.LevelHamlet, "khóm", "", "Khóm Cái Sơn", 540)
	s.DongHue = unit(&s.SaDec, schema.LevelHamlet, "ấp", "", "Ấp Đông Huề", 388)
	s.MyThuong = unit(&s.MyTra, schema.LevelHamlet, "khóm", "", "Khóm Mỹ Thượng", 475)

	hash, err := auth.HashPassword("Sen hồng Sa Đéc 2026", auth.TestParams)
	if err != nil {
		tb.Fatal(err)
	}
	admin, err := s.DB.CreateUserUnscoped(ctx, schema.NewUser{Role: schema.RoleAdmin, DisplayName: "Quản trị viên tỉnh",
		UnitID: s.Province, Username: "admin.dongthap", PasswordHash: hash})
	if err != nil {
		tb.Fatal(err)
	}
	s.Admin = s.actor(tb, admin.ID, 0)
	coord := func(name, username string, unit int64) schema.Actor {
		u, err := s.DB.CreateUser(ctx, s.Admin, schema.NewUser{Role: schema.RoleCoordinator, DisplayName: name, UnitID: unit,
			Username: username, PasswordHash: hash})
		if err != nil {
			tb.Fatal(err)
		}
		return s.actor(tb, u.ID, 0)
	}
	s.CoordSaDec = coord("Phạm Thị Lan", "lan.sadec", s.SaDec)
	s.CoordMyTra = coord("Võ Văn Tùng", "tung.mytra", s.MyTra)
	team := func(by schema.Actor, name string, unit int64) int64 {
		t, err := s.DB.CreateTeam(ctx, by, name, unit)
		if err != nil {
			tb.Fatal(err)
		}
		return t.ID
	}
	s.TeamSaDec = team(s.CoordSaDec, "Tổ CNSCĐ khóm Vĩnh Phước", s.SaDec)
	s.TeamMyTra = team(s.CoordMyTra, "Tổ CNSCĐ phường Mỹ Trà", s.MyTra)
}

func (s *Server) actor(tb T, user, deviceRow int64) schema.Actor {
	tb.Helper()
	a, err := s.DB.ActorFor(context.Background(), user, deviceRow)
	if err != nil {
		tb.Fatal(err)
	}
	return a
}

// Coordinator returns the coordinator of a team's commune.
func (s *Server) Coordinator(team int64) schema.Actor {
	if team == s.TeamMyTra {
		return s.CoordMyTra
	}
	return s.CoordSaDec
}

// Volunteer creates a volunteer in a team through the store, as the team's coordinator.
func (s *Server) Volunteer(tb T, name string, team int64) int64 {
	tb.Helper()
	u, err := s.DB.CreateUser(context.Background(), s.Coordinator(team), schema.NewUser{Role: schema.RoleVolunteer, DisplayName: name, TeamID: &team})
	if err != nil {
		tb.Fatal(err)
	}
	return u.ID
}

// Code issues a one-time enrolment code for a volunteer, as the coordinator would.
func (s *Server) Code(tb T, team, volunteer int64) string {
	tb.Helper()
	code := auth.NewEnrollmentCode()
	h, _ := auth.HashEnrollmentCode(code)
	if _, err := s.DB.IssueEnrollment(context.Background(), s.Coordinator(team), volunteer, h, s.Clock.Now().Add(auth.EnrollmentTTL)); err != nil {
		tb.Fatal(err)
	}
	return code
}

// Devices lists a volunteer's enrolments.
func (s *Server) Devices(tb T, team, volunteer int64) []schema.Device {
	tb.Helper()
	ds, err := s.DB.ListDevices(context.Background(), s.Coordinator(team), schema.DeviceFilter{VolunteerID: &volunteer, IncludeRevoked: true})
	if err != nil {
		tb.Fatal(err)
	}
	return ds
}

// RevokeDevice revokes one enrolment (a volunteer on a phone).
func (s *Server) RevokeDevice(tb T, team, deviceRow int64) {
	tb.Helper()
	if _, err := s.DB.RevokeDevice(context.Background(), s.Coordinator(team), deviceRow); err != nil {
		tb.Fatal(err)
	}
}

// Logs returns a volunteer's logs as the server holds them (what a pull gives), by id.
// The volunteer must have an enrolled device.
func (s *Server) Logs(tb T, team, volunteer int64) map[string]schema.Log {
	tb.Helper()
	ctx := context.Background()
	var row int64
	for _, d := range s.Devices(tb, team, volunteer) {
		row = d.ID
		if d.RevokedAt == "" {
			break
		}
	}
	if row == 0 {
		tb.Fatalf("volunteer %d has no device", volunteer)
	}
	a, err := s.DB.ActorFor(ctx, volunteer, row)
	if err != nil {
		tb.Fatalf("volunteer %d: %v", volunteer, err)
	}
	out := map[string]schema.Log{}
	cursor := ""
	for {
		resp, err := s.Engine.Pull(ctx, a, cursor, schema.MaxPullLimit)
		if err != nil {
			tb.Fatal(err)
		}
		for _, c := range resp.Changes {
			if c.Type == schema.ChangeLog {
				out[c.Log.ID] = *c.Log
			}
		}
		if !resp.HasMore {
			return out
		}
		cursor = resp.Cursor
	}
}

// Count runs a counting query on the server's database (read-only).
func (s *Server) Count(tb T, query string, args ...any) int64 {
	tb.Helper()
	var n int64
	if err := s.ro.QueryRow(query, args...).Scan(&n); err != nil {
		tb.Fatal(err)
	}
	return n
}

// Write runs fn in a write transaction of the server's store (tests simulate a restore
// or damage with it).
func (s *Server) Write(tb T, fn func(tx *sqlite.Tx) error) {
	tb.Helper()
	if err := s.DB.Write(context.Background(), 0, fn); err != nil {
		tb.Fatal(err)
	}
}

// Review records a coordinator's decision on a log.
func (s *Server) Review(tb T, team int64, id, status, note string) {
	tb.Helper()
	res, err := s.Engine.Review(context.Background(), s.Coordinator(team), []engine.Decision{{ID: id, Status: status, Note: note}})
	if err != nil {
		tb.Fatal(err)
	}
	if !res[0].OK {
		tb.Fatalf("review %s: %s %s", id, res[0].Code, res[0].Message)
	}
}
