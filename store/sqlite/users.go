package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"strings"

	sqlite3lib "modernc.org/sqlite/lib"

	"github.com/cdtsync/cdtsync/schema"
)

// Teams and users. Every method takes the acting user and works only inside its unit
// subtree: an id outside it answers CodeNotFound, exactly as an id that does not exist.

const teamColumns = `t.id, t.name, t.unit_id, t.created_at`

func scanTeam(r rowScanner) (schema.Team, error) {
	var t schema.Team
	err := r.Scan(&t.ID, &t.Name, &t.UnitID, &t.CreatedAt)
	return t, err
}

func teamNotFound(id int64) error {
	return schema.Errorf(schema.CodeNotFound, "Không tìm thấy tổ %d / team %d not found", id, id)
}

// teamInScope returns the team and its unit's path if sc covers the team's unit (nil sc:
// any team), CodeNotFound otherwise.
func teamInScope(ctx context.Context, q accessQuerier, sc *scope, id int64) (schema.Team, string, error) {
	var path string
	var t schema.Team
	err := q.QueryRowContext(ctx, `SELECT `+teamColumns+`, un.path FROM teams t JOIN units un ON un.id = t.unit_id
		WHERE t.id = ?`, id).Scan(&t.ID, &t.Name, &t.UnitID, &t.CreatedAt, &path)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && sc != nil && !sc.covers(path)) {
		return schema.Team{}, "", teamNotFound(id)
	}
	return t, path, err
}

// CreateTeam creates a team (Tổ CNSCĐ) attached to a unit in the actor's scope. Only
// coordinators and admins may (CodeForbidden); a unit outside the scope is CodeNotFound; a
// team of the same name in the same unit is CodeConflict; a bad name is CodeInvalid.
func (db *DB) CreateTeam(ctx context.Context, a schema.Actor, name string, unitID int64) (schema.Team, error) {
	sc, err := scopeOf(a)
	if err != nil {
		return schema.Team{}, err
	}
	if err := requireRole(a, schema.RoleCoordinator, schema.RoleAdmin); err != nil {
		return schema.Team{}, err
	}
	if name, err = cleanName(name, "tên tổ / team name"); err != nil {
		return schema.Team{}, err
	}
	var t schema.Team
	err = db.Write(ctx, 0, func(tx *Tx) error {
		if _, err := unitInScope(ctx, tx, &sc, unitID); err != nil {
			return err
		}
		now := accessTime(tx.Now)
		res, err := tx.ExecContext(ctx, `INSERT INTO teams (unit_id, name, created_at, seq) VALUES (?, ?, ?, ?)`,
			unitID, name, now, tx.NextSeq())
		if err != nil {
			if isConstraint(err, sqlite3lib.SQLITE_CONSTRAINT_UNIQUE) {
				return schema.Errorf(schema.CodeConflict, "Đơn vị này đã có tổ tên %q / this unit already has a team named %q", name, name)
			}
			return err
		}
		id, err := res.LastInsertId()
		t = schema.Team{ID: id, Name: name, UnitID: unitID, CreatedAt: now}
		return err
	})
	return t, err
}

// ListTeams lists the teams attached to units in the actor's scope, or in the subtree of
// unitID if given (CodeNotFound if that unit is outside the scope), sorted by Vietnamese
// name. A volunteer sees only its own team.
func (db *DB) ListTeams(ctx context.Context, a schema.Actor, unitID *int64) ([]schema.Team, error) {
	sc, err := scopeOf(a)
	if err != nil {
		return nil, err
	}
	if sc, err = subtreeFilter(ctx, db.read, sc, unitID); err != nil {
		return nil, err
	}
	q := `SELECT ` + teamColumns + ` FROM teams t JOIN units un ON un.id = t.unit_id WHERE un.path >= ? AND un.path < ?`
	args := []any{sc.lo, sc.hi}
	if a.Role == schema.RoleVolunteer {
		q += ` AND t.id = ?`
		args = append(args, a.TeamID)
	}
	rows, err := db.read.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	teams := []schema.Team{}
	for rows.Next() {
		t, err := scanTeam(rows)
		if err != nil {
			return nil, err
		}
		teams = append(teams, t)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	schema.SortByName(teams, func(t schema.Team) string { return t.Name })
	return teams, nil
}

const userColumns = `u.id, u.role, u.display_name, u.unit_id, u.team_id, u.username, u.created_at, u.revoked_at`

func scanUser(r rowScanner, extra ...any) (schema.User, error) {
	var (
		u                 schema.User
		team              sql.NullInt64
		username, revoked sql.NullString
	)
	err := r.Scan(append([]any{&u.ID, &u.Role, &u.DisplayName, &u.UnitID, &team, &username, &u.CreatedAt, &revoked}, extra...)...)
	if team.Valid {
		u.TeamID = &team.Int64
	}
	u.Username, u.RevokedAt = username.String, revoked.String
	return u, err
}

func userNotFound(id int64) error {
	return schema.Errorf(schema.CodeNotFound, "Không tìm thấy người dùng %d / user %d not found", id, id)
}

// userInScope returns the user and its unit's path if sc covers the user's unit (nil sc:
// any user), CodeNotFound otherwise.
func userInScope(ctx context.Context, q accessQuerier, sc *scope, id int64) (schema.User, string, error) {
	var path string
	u, err := scanUser(q.QueryRowContext(ctx, `SELECT `+userColumns+`, un.path FROM users u JOIN units un ON un.id = u.unit_id
		WHERE u.id = ?`, id), &path)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && sc != nil && !sc.covers(path)) {
		return schema.User{}, "", userNotFound(id)
	}
	return u, path, err
}

// CreateUser creates a user in the actor's scope. An admin creates any role; a coordinator
// creates volunteers only (CodeForbidden otherwise); other roles create nobody. A volunteer
// needs a team in the scope and a unit in the team's subtree (the team's unit if UnitID is
// 0), and has no username or password; staff need a username and an argon2id password
// hash, and no team. Units and teams outside the scope are CodeNotFound; a taken username
// is CodeConflict; bad input is CodeInvalid.
func (db *DB) CreateUser(ctx context.Context, a schema.Actor, nu schema.NewUser) (schema.User, error) {
	sc, err := scopeOf(a)
	if err != nil {
		return schema.User{}, err
	}
	switch a.Role {
	case schema.RoleAdmin:
	case schema.RoleCoordinator:
		if nu.Role != schema.RoleVolunteer {
			return schema.User{}, schema.Errorf(schema.CodeForbidden, "Cán bộ điều phối chỉ tạo được thành viên tổ / a coordinator creates volunteers only")
		}
	default:
		return schema.User{}, requireRole(a, schema.RoleCoordinator, schema.RoleAdmin)
	}
	var u schema.User
	err = db.Write(ctx, 0, func(tx *Tx) error {
		var err error
		u, err = createUser(ctx, tx, &sc, nu)
		return err
	})
	return u, err
}

// CreateUserUnscoped creates a user with no actor and no scope: for the admin command
// (cdtsync user add) that makes the first admin. Never call it from a request handler.
// Errors are those of CreateUser, without CodeForbidden.
func (db *DB) CreateUserUnscoped(ctx context.Context, nu schema.NewUser) (schema.User, error) {
	var u schema.User
	err := db.Write(ctx, 0, func(tx *Tx) error {
		var err error
		u, err = createUser(ctx, tx, nil, nu)
		return err
	})
	return u, err
}

func createUser(ctx context.Context, tx *Tx, sc *scope, nu schema.NewUser) (schema.User, error) {
	if !schema.ValidRole(nu.Role) {
		return schema.User{}, schema.Errorf(schema.CodeInvalid, "Vai trò không hợp lệ %q: volunteer, coordinator, officer hoặc admin / "+
			"invalid role %q: volunteer, coordinator, officer or admin", nu.Role, nu.Role)
	}
	name, err := cleanName(nu.DisplayName, "họ tên / display_name")
	if err != nil {
		return schema.User{}, err
	}
	var (
		team               any
		username, passHash any
		unitID             = nu.UnitID
	)
	if nu.Role == schema.RoleVolunteer {
		if nu.TeamID == nil {
			return schema.User{}, schema.Errorf(schema.CodeInvalid, "Thành viên tổ cần team_id / a volunteer needs a team_id")
		}
		if nu.Username != "" || nu.PasswordHash != "" {
			return schema.User{}, schema.Errorf(schema.CodeInvalid, "Thành viên tổ không có tên đăng nhập hay mật khẩu: họ đăng ký điện thoại bằng mã / "+
				"volunteers have no username or password: they enrol a phone with a code")
		}
		t, teamPath, err := teamInScope(ctx, tx, sc, *nu.TeamID)
		if err != nil {
			return schema.User{}, err
		}
		if unitID == 0 {
			unitID = t.UnitID
		}
		un, err := unitInScope(ctx, tx, sc, unitID)
		if err != nil {
			return schema.User{}, err
		}
		if !strings.HasPrefix(un.Path, teamPath) {
			return schema.User{}, schema.Errorf(schema.CodeInvalid, "Đơn vị của thành viên phải thuộc địa bàn của tổ / a volunteer's unit must be in the team's unit")
		}
		team = t.ID
	} else {
		if nu.TeamID != nil {
			return schema.User{}, schema.Errorf(schema.CodeInvalid, "Chỉ thành viên tổ mới thuộc một tổ / only volunteers belong to a team")
		}
		if unitID == 0 {
			return schema.User{}, schema.Errorf(schema.CodeInvalid, "Thiếu unit_id / unit_id is required")
		}
		if _, err := unitInScope(ctx, tx, sc, unitID); err != nil {
			return schema.User{}, err
		}
		un, err := cleanUsername(nu.Username)
		if err != nil {
			return schema.User{}, err
		}
		// A plain password passed by mistake must never be stored.
		if !strings.HasPrefix(nu.PasswordHash, "$argon2id$") {
			return schema.User{}, schema.Errorf(schema.CodeInvalid, "Cán bộ cần mật khẩu / staff need a password")
		}
		username, passHash = un, nu.PasswordHash
	}
	now := accessTime(tx.Now)
	res, err := tx.ExecContext(ctx, `INSERT INTO users (role, display_name, unit_id, team_id, username, password_hash, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, nu.Role, name, unitID, team, username, passHash, now)
	if err != nil {
		if isConstraint(err, sqlite3lib.SQLITE_CONSTRAINT_UNIQUE) {
			return schema.User{}, schema.Errorf(schema.CodeConflict, "Tên đăng nhập đã được dùng / username already taken")
		}
		return schema.User{}, err
	}
	id, err := res.LastInsertId()
	if err != nil {
		return schema.User{}, err
	}
	u, _, err := userInScope(ctx, tx, nil, id)
	return u, err
}

// ListUsers lists the users whose unit is in the actor's scope (or in f.UnitID's subtree),
// sorted by Vietnamese name; revoked users only with f.IncludeRevoked. Volunteers may not
// list users (CodeForbidden); a unit or team outside the scope is CodeNotFound.
func (db *DB) ListUsers(ctx context.Context, a schema.Actor, f schema.UserFilter) ([]schema.User, error) {
	sc, err := scopeOf(a)
	if err != nil {
		return nil, err
	}
	if err := requireRole(a, schema.RoleCoordinator, schema.RoleOfficer, schema.RoleAdmin); err != nil {
		return nil, err
	}
	if f.Role != "" && !schema.ValidRole(f.Role) {
		return nil, schema.Errorf(schema.CodeInvalid, "Vai trò không hợp lệ / invalid role %q", f.Role)
	}
	under, err := subtreeFilter(ctx, db.read, sc, f.UnitID)
	if err != nil {
		return nil, err
	}
	q := `SELECT ` + userColumns + ` FROM users u JOIN units un ON un.id = u.unit_id WHERE un.path >= ? AND un.path < ?`
	args := []any{under.lo, under.hi}
	if f.TeamID != nil {
		if _, _, err := teamInScope(ctx, db.read, &sc, *f.TeamID); err != nil {
			return nil, err
		}
		q += ` AND u.team_id = ?`
		args = append(args, *f.TeamID)
	}
	if f.Role != "" {
		q += ` AND u.role = ?`
		args = append(args, f.Role)
	}
	if !f.IncludeRevoked {
		q += ` AND u.revoked_at IS NULL`
	}
	rows, err := db.read.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	users := []schema.User{}
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, err
		}
		users = append(users, u)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	schema.SortByName(users, func(u schema.User) string { return u.DisplayName })
	return users, nil
}

// RevokeUser revokes a user in the actor's scope: the account, its devices, its refresh
// tokens and its unused enrolment codes stop working at once. A coordinator revokes
// volunteers only and an admin anyone but itself (CodeForbidden); a user outside the scope
// is CodeNotFound. Revoking a revoked user changes nothing and returns it.
func (db *DB) RevokeUser(ctx context.Context, a schema.Actor, id int64) (schema.User, error) {
	sc, err := scopeOf(a)
	if err != nil {
		return schema.User{}, err
	}
	if err := requireRole(a, schema.RoleCoordinator, schema.RoleAdmin); err != nil {
		return schema.User{}, err
	}
	var u schema.User
	err = db.Write(ctx, 0, func(tx *Tx) error {
		var err error
		if u, _, err = userInScope(ctx, tx, &sc, id); err != nil {
			return err
		}
		if u.ID == a.UserID {
			return schema.Errorf(schema.CodeForbidden, "Không thể tự thu hồi tài khoản của mình / you cannot revoke your own account")
		}
		if a.Role == schema.RoleCoordinator && u.Role != schema.RoleVolunteer {
			return schema.Errorf(schema.CodeForbidden, "Cán bộ điều phối chỉ thu hồi được thành viên tổ / a coordinator revokes volunteers only")
		}
		if u.RevokedAt != "" {
			return nil
		}
		now := accessTime(tx.Now)
		for _, q := range []string{
			`UPDATE users SET revoked_at = ?1 WHERE id = ?2`,
			`UPDATE devices SET revoked_at = ?1 WHERE volunteer_id = ?2 AND revoked_at IS NULL`,
			`UPDATE refresh_tokens SET revoked_at = ?1 WHERE user_id = ?2 AND revoked_at IS NULL`,
			`UPDATE enrollment_codes SET expires_at = ?1 WHERE volunteer_id = ?2 AND used_at IS NULL AND expires_at > ?1`,
		} {
			if _, err := tx.ExecContext(ctx, q, now, id); err != nil {
				return err
			}
		}
		u.RevokedAt = now
		return nil
	})
	return u, err
}

// StaffCredentials returns what a sign-in checks for a username (case-insensitive):
// CodeNotFound if no staff user has it. Revoked users are returned with Revoked set.
func (db *DB) StaffCredentials(ctx context.Context, username string) (schema.Credentials, error) {
	var (
		c       schema.Credentials
		revoked sql.NullString
		hash    sql.NullString
	)
	err := db.read.QueryRowContext(ctx, `SELECT id, role, password_hash, revoked_at FROM users
		WHERE username = ? AND role <> 'volunteer'`, strings.ToLower(strings.TrimSpace(username))).
		Scan(&c.UserID, &c.Role, &hash, &revoked)
	if errors.Is(err, sql.ErrNoRows) {
		return c, schema.Errorf(schema.CodeNotFound, "Không có tài khoản này / no such account")
	}
	c.PasswordHash, c.Revoked = hash.String, revoked.Valid
	return c, err
}

// SetPasswordHash replaces a staff user's password hash (after a sign-in found the old
// hash's parameters outdated, or a password change). hash must be an argon2id hash.
func (db *DB) SetPasswordHash(ctx context.Context, userID int64, hash string) error {
	if !strings.HasPrefix(hash, "$argon2id$") {
		return schema.Errorf(schema.CodeInvalid, "not an argon2id hash")
	}
	return db.Write(ctx, 0, func(tx *Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE users SET password_hash = ? WHERE id = ? AND role <> 'volunteer'`, hash, userID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return userNotFound(userID)
		}
		return nil
	})
}

// Profile returns the actor's own account: user, unit, team (volunteers) and device
// (phones).
func (db *DB) Profile(ctx context.Context, a schema.Actor) (schema.Profile, error) {
	if _, err := scopeOf(a); err != nil {
		return schema.Profile{}, err
	}
	var p schema.Profile
	var err error
	if p.User, _, err = userInScope(ctx, db.read, nil, a.UserID); err != nil {
		return p, err
	}
	if p.Unit, err = unitInScope(ctx, db.read, nil, p.User.UnitID); err != nil {
		return p, err
	}
	if p.User.TeamID != nil {
		t, _, err := teamInScope(ctx, db.read, nil, *p.User.TeamID)
		if err != nil {
			return p, err
		}
		p.Team = &t
	}
	if a.DeviceRowID != 0 {
		d, _, err := deviceByRow(ctx, db.read, nil, a.DeviceRowID)
		if err != nil {
			return p, err
		}
		p.Device = &d
	}
	return p, nil
}
