package server

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cdtsync/cdtsync/auth"
	"github.com/cdtsync/cdtsync/schema"
	"github.com/cdtsync/cdtsync/store/postgres"
	"github.com/cdtsync/cdtsync/store/postgres/pgtest"
	"github.com/cdtsync/cdtsync/store/sqlite"
	"github.com/cdtsync/cdtsync/store/storetest"
	"github.com/cdtsync/cdtsync/sync/engine"
)

// testStore is what the test server and its fixture use of a store; SQLite's and
// PostgreSQL's both have it.
type testStore interface {
	AccountStore
	UnitLister
	Pinger
	Reporter
	ReviewLister
	engine.Store
	CreateUnit(ctx context.Context, u schema.Unit, origin string) (int64, error)
	CreateUserUnscoped(ctx context.Context, nu schema.NewUser) (schema.User, error)
}

// testClock is a clock tests move by hand, safe to read from handler goroutines.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// syncBuffer collects log output written from many goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// identity is a signed-in caller of a test: its actor, an access token minted for it, and
// for staff the password it signs in with.
type identity struct {
	Actor    schema.Actor
	Token    string
	Username string
	Password string
}

// testEnv is a real server over a real SQLite file in t.TempDir(), served over HTTP by
// httptest, with a deployment in Tỉnh Đồng Tháp: Phường Sa Đéc (Khóm Vĩnh Phước, Khóm Cái
// Sơn) and Phường Mỹ Trà (Khóm Mỹ Thượng), a team, a coordinator and a volunteer with an
// enrolled phone in each, and an admin and an officer of the province.
type testEnv struct {
	t testing.TB
	// Store is the store the server runs on: SQLite, or PostgreSQL with
	// CDTSYNC_TEST_STORE=postgres (store/storetest), where TestEveryRouteIsScoped is part
	// of the conformance suite. DB is the same SQLite store, nil on PostgreSQL: tests of
	// SQLite's own behaviour (its writer, its disk) use it.
	Store testStore
	DB    *sqlite.DB
	Srv   *Server
	HTTP  *httptest.Server
	Clock *testClock
	Keys  *auth.KeySet
	Logs  *syncBuffer

	Province, SaDec, MyTra      int64
	VinhPhuoc, CaiSon, MyThuong int64
	TeamSaDec, TeamMyTra        int64

	Admin, Officer, CoordSaDec, CoordMyTra, VolSaDec, VolMyTra identity
}

// staffPassword is every fixture staff member's password.
const staffPassword = "Sen hồng Sa Đéc 2026"

// The names and ids of Phường Sa Đéc's data: none may appear in an answer to a caller from
// elsewhere.
var saDecSecrets = []string{"Sa Đéc", "Vĩnh Phước", "Cái Sơn", "Phạm Thị Lan", "lan.sadec", "Nguyễn Thị Hồng",
	"android-hong-7f3a", "Redmi của Hồng", "Tổ CNSCĐ khóm Vĩnh Phước"}

// testEnvConfig lets other areas' test files wire their services into every test server
// (the sync engine, reports) from init, without editing this file:
//
//	func init() {
//		testEnvConfig = append(testEnvConfig, func(env *testEnv, cfg *Config) { cfg.Sync = … env.Store … })
//	}
var testEnvConfig []func(env *testEnv, cfg *Config)

// newTestEnv builds the deployment. The logger writes JSON to env.Logs at debug level.
func newTestEnv(t testing.TB) *testEnv {
	t.Helper()
	return newTestEnvWith(t, nil)
}

// newTestEnvWith is newTestEnv with configure applied to the server's Config last (the
// operations tests set timeouts and limits).
func newTestEnvWith(t testing.TB, configure func(*Config)) *testEnv {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	env := &testEnv{t: t, Clock: &testClock{t: time.Date(2026, 5, 4, 1, 30, 0, 0, time.UTC)}, Logs: &syncBuffer{}}
	var db testStore
	if storetest.Postgres() {
		pg := pgtest.MustOpen(t, postgres.Options{})
		pg.Now = env.Clock.Now
		db = pg
	} else {
		sq, err := sqlite.Open(ctx, dir, sqlite.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { sq.Close() })
		sq.Now = env.Clock.Now
		env.DB, db = sq, sq
	}
	env.Store = db
	var err error
	if env.Keys, err = auth.LoadKeys(filepath.Join(dir, auth.KeyDir), env.Clock.Now); err != nil {
		t.Fatal(err)
	}
	cfg := Config{
		Logger:         slog.New(slog.NewJSONHandler(env.Logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Now:            env.Clock.Now,
		Health:         db,
		Keys:           env.Keys,
		Accounts:       db,
		Units:          db,
		PasswordParams: auth.TestParams,
	}
	for _, fn := range testEnvConfig {
		fn(env, &cfg)
	}
	if configure != nil {
		configure(&cfg)
	}
	env.Srv = New(cfg)
	env.HTTP = httptest.NewServer(env.Srv.Handler())
	t.Cleanup(env.HTTP.Close)

	unit := func(parent *int64, level, typ, code, name string) int64 {
		u := schema.Unit{ParentID: parent, Level: level, UnitType: typ, Name: name}
		if code != "" {
			u.Code, u.CodeList = code, "vn-admin-2026-04-30"
		}
		id, err := db.CreateUnit(ctx, u, "test/"+level+"/"+name)
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	env.Province = unit(nil, schema.LevelProvince, "Tỉnh", "82", "Tỉnh Đồng Tháp")
	env.SaDec = unit(&env.Province, schema.LevelCommune, "Phường", "29905", "Phường Sa Đéc")
	env.MyTra = unit(&env.Province, schema.LevelCommune, "Phường", "29888", "Phường Mỹ Trà")
	env.VinhPhuoc = unit(&env.SaDec, schema.LevelHamlet, "khóm", "", "Khóm Vĩnh Phước")
	env.CaiSon = unit(&env.SaDec, schema.LevelHamlet, "khóm", "", "Khóm Cái Sơn")
	env.MyThuong = unit(&env.MyTra, schema.LevelHamlet, "khóm", "", "Khóm Mỹ Thượng")

	hash, err := auth.HashPassword(staffPassword, auth.TestParams)
	if err != nil {
		t.Fatal(err)
	}
	admin, err := db.CreateUserUnscoped(ctx, schema.NewUser{Role: schema.RoleAdmin, DisplayName: "Quản trị viên tỉnh",
		UnitID: env.Province, Username: "admin.dongthap", PasswordHash: hash})
	if err != nil {
		t.Fatal(err)
	}
	env.Admin = env.identity(admin.ID, 0, "admin.dongthap")
	staff := func(role, name, username string, unit int64) identity {
		u, err := db.CreateUser(ctx, env.Admin.Actor, schema.NewUser{Role: role, DisplayName: name, UnitID: unit,
			Username: username, PasswordHash: hash})
		if err != nil {
			t.Fatal(err)
		}
		return env.identity(u.ID, 0, username)
	}
	env.Officer = staff(schema.RoleOfficer, "Đặng Quốc Bảo", "bao.dongthap", env.Province)
	env.CoordSaDec = staff(schema.RoleCoordinator, "Phạm Thị Lan", "lan.sadec", env.SaDec)
	env.CoordMyTra = staff(schema.RoleCoordinator, "Võ Văn Tùng", "tung.mytra", env.MyTra)
	team := func(a schema.Actor, name string, unit int64) int64 {
		tm, err := db.CreateTeam(ctx, a, name, unit)
		if err != nil {
			t.Fatal(err)
		}
		return tm.ID
	}
	env.TeamSaDec = team(env.CoordSaDec.Actor, "Tổ CNSCĐ khóm Vĩnh Phước", env.SaDec)
	env.TeamMyTra = team(env.CoordMyTra.Actor, "Tổ CNSCĐ phường Mỹ Trà", env.MyTra)
	env.VolSaDec = env.volunteer(env.CoordSaDec.Actor, "Nguyễn Thị Hồng", env.TeamSaDec, "android-hong-7f3a", "Redmi của Hồng")
	env.VolMyTra = env.volunteer(env.CoordMyTra.Actor, "Lê Thị Mai", env.TeamMyTra, "android-mai-2c9d", "Oppo của Mai")
	return env
}

// identity rebuilds the actor from the database and mints an access token for it.
func (env *testEnv) identity(user, deviceRow int64, username string) identity {
	env.t.Helper()
	a, err := env.Store.ActorFor(context.Background(), user, deviceRow)
	if err != nil {
		env.t.Fatal(err)
	}
	id := identity{Actor: a, Token: env.mint(a), Username: username}
	if username != "" {
		id.Password = staffPassword
	}
	return id
}

// mint signs an access token for an actor with the server's keys and clock.
func (env *testEnv) mint(a schema.Actor) string {
	env.t.Helper()
	tok, _, err := env.Srv.acc.tokens.Issue(auth.Principal{UserID: a.UserID, Role: a.Role, DeviceRow: a.DeviceRowID, DeviceID: a.DeviceID})
	if err != nil {
		env.t.Fatal(err)
	}
	return tok
}

// volunteer creates a volunteer in a team and enrols a phone for it through the store.
func (env *testEnv) volunteer(by schema.Actor, name string, team int64, deviceID, deviceName string) identity {
	env.t.Helper()
	ctx := context.Background()
	u, err := env.Store.CreateUser(ctx, by, schema.NewUser{Role: schema.RoleVolunteer, DisplayName: name, TeamID: &team})
	if err != nil {
		env.t.Fatal(err)
	}
	code := auth.NewEnrollmentCode()
	h, _ := auth.HashEnrollmentCode(code)
	if _, err := env.Store.IssueEnrollment(ctx, by, u.ID, h, env.Clock.Now().Add(auth.EnrollmentTTL)); err != nil {
		env.t.Fatal(err)
	}
	_, rh := auth.NewRefreshToken()
	got, err := env.Store.RedeemEnrollment(ctx, schema.EnrollmentRedeem{CodeHash: h, DeviceID: deviceID, DeviceName: deviceName,
		Refresh: schema.RefreshGrant{Hash: rh, FamilyID: auth.NewFamilyID(), ExpiresAt: env.Clock.Now().Add(auth.RefreshTTLDevice)}})
	if err != nil {
		env.t.Fatal(err)
	}
	return env.identity(u.ID, got.Device.ID, "")
}

// request builds an HTTP request to the test server with a JSON body (nil: none).
func (env *testEnv) request(method, path, token string, body any) *http.Request {
	env.t.Helper()
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			env.t.Fatal(err)
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, env.HTTP.URL+path, r)
	if err != nil {
		env.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return req
}

// send sends a request and returns the status, headers and body.
func (env *testEnv) send(req *http.Request) (int, http.Header, []byte) {
	env.t.Helper()
	client := &http.Client{Timeout: 30 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		env.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		env.t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, b
}

// do sends a JSON request and decodes a JSON answer into out (if not nil); it returns the
// status and, for an error answer, its code.
func (env *testEnv) do(method, path, token string, body, out any) (int, string) {
	env.t.Helper()
	status, _, b := env.send(env.request(method, path, token, body))
	if status >= 400 {
		var e schema.Error
		if err := json.Unmarshal(b, &e); err != nil || e.Code == "" || e.Message == "" {
			env.t.Fatalf("%s %s: error answer %d is not {code, message}: %s", method, path, status, b)
		}
		return status, e.Code
	}
	if out != nil && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			env.t.Fatalf("%s %s: %v in %s", method, path, err, b)
		}
	}
	return status, ""
}

// leaks returns the Sa Đéc names and ids found in a body, looking at the raw bytes and at
// every string of the decoded JSON (so escaping cannot hide one).
func leaks(body []byte) []string {
	var texts []string
	texts = append(texts, string(body))
	var v any
	if json.Unmarshal(body, &v) == nil {
		var walk func(any)
		walk = func(x any) {
			switch x := x.(type) {
			case string:
				texts = append(texts, x)
			case []any:
				for _, e := range x {
					walk(e)
				}
			case map[string]any:
				for k, e := range x {
					texts = append(texts, k)
					walk(e)
				}
			}
		}
		walk(v)
	}
	var found []string
	for _, s := range saDecSecrets {
		for _, t := range texts {
			if strings.Contains(t, s) {
				found = append(found, s)
				break
			}
		}
	}
	return found
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
