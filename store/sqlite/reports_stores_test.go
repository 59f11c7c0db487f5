package sqlite_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/cdtsync/cdtsync/report"
	"github.com/cdtsync/cdtsync/schema"
	"github.com/cdtsync/cdtsync/store/postgres"
	"github.com/cdtsync/cdtsync/store/postgres/pgtest"
	"github.com/cdtsync/cdtsync/store/sqlite"
	"github.com/cdtsync/cdtsync/store/sqlite/sqlitetest"
	"github.com/cdtsync/cdtsync/store/storetest"
	"github.com/cdtsync/cdtsync/sync/engine"
)

// The report world runs on the store the tests run on (store/storetest): SQLite, or
// PostgreSQL with CDTSYNC_TEST_STORE=postgres, where TestReportsMatchModel is part of the
// conformance suite. The world reaches the store through worldDB, and writes the few rows
// no API makes (staff without a password check, phones without enrolment, a volunteer
// moved to another team) through worldAdmin.

// worldDB is what the report tests use of a store.
type worldDB interface {
	engine.Store
	CreateUnit(ctx context.Context, u schema.Unit, origin string) (int64, error)
	Unit(ctx context.Context, id int64) (schema.Unit, error)
	ImportTargets(ctx context.Context, rows []report.TargetRow, source string) (sqlite.TargetImportReport, error)
	Coverage(ctx context.Context, a schema.Actor, f schema.ReportFilter) (schema.CoverageReport, error)
	TeamOutput(ctx context.Context, a schema.Actor, f schema.ReportFilter) (schema.TeamReport, error)
	RebuildReports(ctx context.Context) error
	// Write runs SQLite statements: tests of the SQLite store's aggregates only.
	Write(ctx context.Context, weight int, fn func(*sqlite.Tx) error) error
}

// worldAdmin writes the world's rows directly.
type worldAdmin interface {
	endUnit(ctx context.Context, id int64, day string) error
	team(ctx context.Context, unit int64, name string) (int64, error)
	volunteer(ctx context.Context, name string, unit, team int64, deviceIDs []string) (id int64, rows []int64, err error)
	staff(ctx context.Context, role, name, username string, unit int64) (int64, error)
	moveVolunteer(ctx context.Context, id, team, unit int64) error
	revoke(ctx context.Context, id int64) error
	dumpReports(ctx context.Context) (string, error)
}

// openWorldStore opens the store of a new world.
func openWorldStore(t testing.TB) (worldDB, worldAdmin) {
	if storetest.Postgres() {
		db := pgtest.MustOpen(t, postgres.Options{CompactEvery: 50 * time.Millisecond})
		db.Now = func() time.Time { return worldNow }
		return pgWorld{db}, pgWorld{db}
	}
	db := sqlitetest.MustOpen(t)
	db.Now = func() time.Time { return worldNow }
	return db, sqliteWorld{db}
}

type sqliteWorld struct{ db *sqlite.DB }

func (s sqliteWorld) exec(ctx context.Context, q string, args ...any) (int64, error) {
	var id int64
	err := s.db.Write(ctx, 0, func(tx *sqlite.Tx) error {
		res, err := tx.ExecContext(ctx, q, args...)
		if err != nil {
			return err
		}
		id, err = res.LastInsertId()
		return err
	})
	return id, err
}

func (s sqliteWorld) endUnit(ctx context.Context, id int64, day string) error {
	_, err := s.exec(ctx, `UPDATE units SET valid_to = ? WHERE id = ?`, day, id)
	return err
}

func (s sqliteWorld) team(ctx context.Context, unit int64, name string) (int64, error) {
	var id int64
	err := s.db.Write(ctx, 0, func(tx *sqlite.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO teams (unit_id, name, created_at, seq) VALUES (?, ?, ?, ?)`,
			unit, name, worldNow.Format(time.RFC3339), tx.NextSeq())
		if err != nil {
			return err
		}
		id, err = res.LastInsertId()
		return err
	})
	return id, err
}

func (s sqliteWorld) volunteer(ctx context.Context, name string, unit, team int64, deviceIDs []string) (int64, []int64, error) {
	var (
		id   int64
		rows []int64
	)
	err := s.db.Write(ctx, 0, func(tx *sqlite.Tx) error {
		rows = nil
		res, err := tx.ExecContext(ctx, `INSERT INTO users (role, display_name, unit_id, team_id, created_at) VALUES ('volunteer', ?, ?, ?, ?)`,
			name, unit, team, worldNow.Format(time.RFC3339))
		if err != nil {
			return err
		}
		if id, err = res.LastInsertId(); err != nil {
			return err
		}
		for _, d := range deviceIDs {
			res, err := tx.ExecContext(ctx, `INSERT INTO devices (device_id, volunteer_id, name, enrolled_at) VALUES (?, ?, 'Samsung Galaxy A05', ?)`,
				fmt.Sprintf(d, id), id, worldNow.Format(time.RFC3339))
			if err != nil {
				return err
			}
			row, _ := res.LastInsertId()
			rows = append(rows, row)
		}
		return nil
	})
	return id, rows, err
}

func (s sqliteWorld) staff(ctx context.Context, role, name, username string, unit int64) (int64, error) {
	return s.exec(ctx, `INSERT INTO users (role, display_name, unit_id, username, password_hash, created_at) VALUES (?, ?, ?, ?, 'x', ?)`,
		role, name, unit, username, worldNow.Format(time.RFC3339))
}

func (s sqliteWorld) moveVolunteer(ctx context.Context, id, team, unit int64) error {
	_, err := s.exec(ctx, `UPDATE users SET team_id = ?, unit_id = ? WHERE id = ?`, team, unit, id)
	return err
}

func (s sqliteWorld) revoke(ctx context.Context, id int64) error {
	_, err := s.exec(ctx, `UPDATE users SET revoked_at = ? WHERE id = ?`, worldNow.Format(time.RFC3339), id)
	return err
}

func (s sqliteWorld) dumpReports(ctx context.Context) (string, error) {
	return sqlite.DumpReports(ctx, s.db)
}

type pgWorld struct{ *postgres.DB }

var errSQLiteOnly = errors.New("a SQLite statement on the PostgreSQL store")

func (p pgWorld) Write(ctx context.Context, weight int, fn func(*sqlite.Tx) error) error {
	return errSQLiteOnly
}

func (p pgWorld) id(ctx context.Context, q string, args ...any) (int64, error) {
	var id int64
	err := p.DB.Write(ctx, 0, func(tx *postgres.Tx) error {
		return tx.QueryRow(ctx, q, args...).Scan(&id)
	})
	return id, err
}

func (p pgWorld) exec(ctx context.Context, q string, args ...any) error {
	return p.DB.Write(ctx, 0, func(tx *postgres.Tx) error {
		_, err := tx.Exec(ctx, q, args...)
		return err
	})
}

func (p pgWorld) endUnit(ctx context.Context, id int64, day string) error {
	return p.exec(ctx, `UPDATE units SET valid_to = $1::date WHERE id = $2`, day, id)
}

func (p pgWorld) team(ctx context.Context, unit int64, name string) (int64, error) {
	return p.id(ctx, `INSERT INTO teams (unit_id, name, created_at) VALUES ($1, $2, $3) RETURNING id`, unit, name, worldNow)
}

func (p pgWorld) volunteer(ctx context.Context, name string, unit, team int64, deviceIDs []string) (int64, []int64, error) {
	var (
		id   int64
		rows []int64
	)
	err := p.DB.Write(ctx, 0, func(tx *postgres.Tx) error {
		rows = nil
		if err := tx.QueryRow(ctx, `INSERT INTO users (role, display_name, unit_id, team_id, created_at)
			VALUES ('volunteer', $1, $2, $3, $4) RETURNING id`, name, unit, team, worldNow).Scan(&id); err != nil {
			return err
		}
		for _, d := range deviceIDs {
			var row int64
			if err := tx.QueryRow(ctx, `INSERT INTO devices (device_id, volunteer_id, name, enrolled_at)
				VALUES ($1, $2, 'Samsung Galaxy A05', $3) RETURNING id`, fmt.Sprintf(d, id), id, worldNow).Scan(&row); err != nil {
				return err
			}
			rows = append(rows, row)
		}
		return nil
	})
	return id, rows, err
}

func (p pgWorld) staff(ctx context.Context, role, name, username string, unit int64) (int64, error) {
	return p.id(ctx, `INSERT INTO users (role, display_name, unit_id, username, password_hash, created_at)
		VALUES ($1, $2, $3, $4, 'x', $5) RETURNING id`, role, name, unit, username, worldNow)
}

func (p pgWorld) moveVolunteer(ctx context.Context, id, team, unit int64) error {
	return p.exec(ctx, `UPDATE users SET team_id = $1, unit_id = $2 WHERE id = $3`, team, unit, id)
}

func (p pgWorld) revoke(ctx context.Context, id int64) error {
	return p.exec(ctx, `UPDATE users SET revoked_at = $1 WHERE id = $2`, worldNow, id)
}

func (p pgWorld) dumpReports(ctx context.Context) (string, error) { return p.DB.DumpReports(ctx) }
