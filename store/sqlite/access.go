package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/cdtsync/cdtsync/schema"
)

// This file holds what the access methods (users.go, devices.go, tokens.go) share: the
// unit-subtree scope of an actor, role checks, name rules and time stamps.

// accessTimeFormat is how access tables store instants: UTC with milliseconds, so that
// stored values compare as strings in time order.
const accessTimeFormat = "2006-01-02T15:04:05.000Z07:00"

func accessTime(t time.Time) string { return t.UTC().Format(accessTimeFormat) }

func parseAccessTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}
	}
	return t
}

// accessQuerier is what both the read pool and a write transaction offer.
type accessQuerier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// scope is an actor's unit subtree as a range of materialised paths: a unit is in it when
// lo <= path < hi, which is "path starts with lo" (paths are digits and '/', and '0'
// follows '/'), and lets SQLite use the unique index on units.path.
type scope struct{ lo, hi string }

// scopeOf returns the actor's scope. An actor without a user or a unit path (a zero
// Actor: a handler that forgot the auth middleware) is refused, never given everything.
func scopeOf(a schema.Actor) (scope, error) {
	p := a.UnitPath
	if a.UserID <= 0 || len(p) < 3 || p[0] != '/' || p[len(p)-1] != '/' {
		return scope{}, schema.Errorf(schema.CodeUnauthorized, "Chưa đăng nhập / not signed in")
	}
	return scopeOfPath(p), nil
}

func scopeOfPath(p string) scope { return scope{lo: p, hi: p[:len(p)-1] + "0"} }

func (s scope) covers(path string) bool { return strings.HasPrefix(path, s.lo) }

// requireRole refuses an actor whose role is not one of roles.
func requireRole(a schema.Actor, roles ...string) error {
	for _, r := range roles {
		if a.Role == r {
			return nil
		}
	}
	return schema.Errorf(schema.CodeForbidden, "Vai trò %s không được phép làm việc này / role %s may not do this", a.Role, a.Role)
}

func unitNotFound(id int64) error {
	return schema.Errorf(schema.CodeNotFound, "Không tìm thấy đơn vị %d / unit %d not found", id, id)
}

// unitInScope returns the unit if it exists and sc covers it (nil sc: any unit), and a
// CodeNotFound error otherwise: a unit outside the scope is indistinguishable from none.
func unitInScope(ctx context.Context, q accessQuerier, sc *scope, id int64) (schema.Unit, error) {
	u, err := scanUnit(q.QueryRowContext(ctx, `SELECT `+unitColumns+` FROM units WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) || (err == nil && sc != nil && !sc.covers(u.Path)) {
		return schema.Unit{}, unitNotFound(id)
	}
	return u, err
}

// subtreeFilter returns the scope to list under: the actor's, or the given unit's if it is
// in the actor's scope (CodeNotFound if not).
func subtreeFilter(ctx context.Context, q accessQuerier, sc scope, unitID *int64) (scope, error) {
	if unitID == nil {
		return sc, nil
	}
	u, err := unitInScope(ctx, q, &sc, *unitID)
	if err != nil {
		return scope{}, err
	}
	return scopeOfPath(u.Path), nil
}

const maxNameRunes = 100

// cleanName trims and NFC-normalises a person's or team's name and checks it: 1 to 100
// characters, no control characters. what names the field in the error.
func cleanName(s, what string) (string, error) {
	if !utf8.ValidString(s) {
		return "", schema.Errorf(schema.CodeInvalid, "%s không hợp lệ / %s is not valid UTF-8", what, what)
	}
	s = norm.NFC.String(strings.TrimSpace(s))
	n := utf8.RuneCountInString(s)
	if n == 0 {
		return "", schema.Errorf(schema.CodeInvalid, "Thiếu %s / %s is required", what, what)
	}
	if n > maxNameRunes {
		return "", schema.Errorf(schema.CodeInvalid, "%s dài quá %d ký tự / %s longer than %d characters", what, maxNameRunes, what, maxNameRunes)
	}
	if strings.IndexFunc(s, unicode.IsControl) >= 0 {
		return "", schema.Errorf(schema.CodeInvalid, "%s chứa ký tự điều khiển / %s contains control characters", what, what)
	}
	return s, nil
}

var usernameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._@-]{2,63}$`)

// cleanUsername lower-cases a username and checks it: 3 to 64 of a-z, 0-9, '.', '_',
// '@', '-' (so an e-mail address works).
func cleanUsername(s string) (string, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	if !usernameRE.MatchString(s) {
		return "", schema.Errorf(schema.CodeInvalid, "Tên đăng nhập phải có 3–64 ký tự a-z, 0-9, . _ @ - / "+
			"username must be 3–64 characters of a-z, 0-9, . _ @ -")
	}
	return s, nil
}

// ActorFor rebuilds the actor of a request from the database: the user's role, unit and
// team as they are now, and for a phone its enrolment. The server calls it on every
// request, so a revoked user or device is refused at once, not when its access token
// expires. It fails with CodeUnauthorized for an unknown or revoked user, a volunteer
// without a device, staff with one, or an unknown, revoked or foreign device row.
func (db *DB) ActorFor(ctx context.Context, userID, deviceRow int64) (schema.Actor, error) {
	var (
		a       = schema.Actor{UserID: userID}
		team    sql.NullInt64
		revoked sql.NullString
	)
	err := db.read.QueryRowContext(ctx, `SELECT u.role, u.unit_id, un.path, u.team_id, u.revoked_at
		FROM users u JOIN units un ON un.id = u.unit_id WHERE u.id = ?`, userID).
		Scan(&a.Role, &a.UnitID, &a.UnitPath, &team, &revoked)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && revoked.Valid) {
		return schema.Actor{}, schema.Errorf(schema.CodeUnauthorized, "Tài khoản không tồn tại hoặc đã bị thu hồi / the account does not exist or was revoked")
	}
	if err != nil {
		return schema.Actor{}, err
	}
	a.TeamID = team.Int64
	if a.Role != schema.RoleVolunteer {
		if deviceRow != 0 {
			return schema.Actor{}, schema.Errorf(schema.CodeUnauthorized, "Mã truy cập không hợp lệ / invalid access token")
		}
		return a, nil
	}
	var (
		vol        int64
		devRevoked sql.NullString
	)
	err = db.read.QueryRowContext(ctx, `SELECT device_id, volunteer_id, revoked_at FROM devices WHERE id = ?`, deviceRow).
		Scan(&a.DeviceID, &vol, &devRevoked)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && (vol != userID || devRevoked.Valid)) {
		return schema.Actor{}, schema.Errorf(schema.CodeUnauthorized, "Thiết bị đã bị thu hồi hoặc chưa đăng ký / the device was revoked or is not enrolled")
	}
	if err != nil {
		return schema.Actor{}, err
	}
	a.DeviceRowID = deviceRow
	return a, nil
}
