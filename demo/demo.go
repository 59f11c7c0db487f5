// Package demo builds a realistic demonstration deployment, the one `make run` and
// `cdtsync demo` load: the real 2026 administrative units of Vietnam, Đồng Tháp's Phường
// Sa Đéc with its real khóm and ấp names, more communes with hamlets (real names where
// the curated list has them, plainly generated names marked as such where not), and
// household and adult-population figures.
//
// Every step is idempotent: loading the demo into a database that already has it
// changes nothing, so the server can load it at every start.
//
// The data comes from the repository (demo/data, embedded in the binary); nothing is
// read from outside it.
package demo

import (
	"context"
	"time"

	"github.com/cdtsync/cdtsync/schema"
	"github.com/cdtsync/cdtsync/store/sqlite"
	"github.com/cdtsync/cdtsync/sync/engine"
)

// Store is what the demo needs of a store: the SQLite store and the PostgreSQL store
// (store/postgres) both have it.
type Store interface {
	engine.Store
	ImportUnits(ctx context.Context, in sqlite.UnitImport) (sqlite.ImportReport, error)
	UnitByCode(ctx context.Context, codeList, code string) (schema.Unit, error)
	ListUnits(ctx context.Context, actor schema.Actor, parent *int64, includeEnded bool) ([]schema.Unit, error)
	Unit(ctx context.Context, id int64) (schema.Unit, error)
	CitizenKey(ctx context.Context) ([]byte, error)
	ListReviews(ctx context.Context, a schema.Actor, f schema.ReviewFilter) (schema.ReviewPage, error)
	StaffCredentials(ctx context.Context, username string) (schema.Credentials, error)
	CreateUserUnscoped(ctx context.Context, nu schema.NewUser) (schema.User, error)
	CreateUser(ctx context.Context, a schema.Actor, nu schema.NewUser) (schema.User, error)
	CreateTeam(ctx context.Context, a schema.Actor, name string, unitID int64) (schema.Team, error)
	ActorFor(ctx context.Context, userID, deviceRow int64) (schema.Actor, error)
	IssueEnrollment(ctx context.Context, a schema.Actor, volunteerID int64, codeHash string, expiresAt time.Time) (schema.IssuedEnrollment, error)
	RedeemEnrollment(ctx context.Context, r schema.EnrollmentRedeem) (schema.Enrolled, error)
}

// Deployment is what the demo built: the ids a caller (the server's start-up message,
// tests) needs to find its way around.
type Deployment struct {
	Units DemoUnits
	// People are the teams, staff sign-ins and volunteers with enrolled phones
	// (people.go); nil when they were loaded by an earlier run.
	People *People
	// Activity is the month of logs recorded through the sync engine (activity.go).
	Activity Activity
}

// Load builds the whole demo deployment in db, in order: units first, then what stands
// on them.
func Load(ctx context.Context, db *sqlite.DB) (*Deployment, error) {
	return LoadStore(ctx, db, db.Now)
}

// LoadStore is Load for any store, with its clock.
func LoadStore(ctx context.Context, db Store, now func() time.Time) (*Deployment, error) {
	d := &Deployment{}
	var err error
	if d.Units, err = LoadUnits(ctx, db); err != nil {
		return nil, err
	}
	// Teams (Sa Đéc: 46 teams, 352 members), staff and volunteers, then a month of
	// activity through the sync engine; both only on the first run.
	if d.People, err = loadPeople(ctx, db, d.Units, now); err != nil || d.People == nil {
		return d, err
	}
	if d.Activity, err = loadActivity(ctx, db, d.Units, d.People, now()); err != nil {
		return d, err
	}
	return d, nil
}
