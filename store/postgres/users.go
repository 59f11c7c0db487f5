package postgres

import (
	"context"
	"errors"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/cdtsync/cdtsync/schema"
)

// Teams and users, with the SQLite store's contracts: every method takes the acting user
// and works only inside its unit subtree; an id outside it answers CodeNotFound.

const teamColumns = `t.id, t.name, t.unit_id, cdt_ts(t.created_at)`

func scanTeam(r pgx.Row) (schema.Team, error) {
	var t schema.Team
	err := r.Scan(&t.ID, &t.Name, &t.UnitID, &t.CreatedAt)
	return t, err
}

func teamNotFound(id int64) error {
	return schema.Errorf(schema.CodeNotFound, "Không tìm thấy tổ %d / team %d not found", id, id)
}

func teamInScope(ctx context.Context, q querier, sc *scope, id int64) (schema.Team, string, error) {
	var path string
	var t schema.Team
	err := q.QueryRow(ctx, `SELECT `+teamColumns+`, un.path FROM teams t JOIN units un ON un.id = t.unit_id
		WHERE t.id = $1`, id).Scan(&t.ID, &t.Name, &t.UnitID, &t.CreatedAt, &path)
	if errors.Is(err, pgx.ErrNoRows) || (err == nil && sc != nil && !sc.covers(path)) {
		return schema.Team{}, "", teamNotFound(id)
	}
	return t, path, err
}

// CreateTeam creates a team attached to a unit in the actor's scope (see the SQLite
// store's CreateTeam for the contract).
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
		var id int64
		err := tx.QueryRow(ctx, `INSERT INTO teams (unit_id, name, created_at) VALUES ($1, $2, $3)
			ON CONFLICT (unit_id, name) DO NOTHING RETURNING id`, unitID, name, now).Scan(&id)
		if errors.Is(err, pgx.ErrNoRows) {
			return schema.Errorf(schema.CodeConflict, "Đơn vị này đã có tổ tên %q / this unit already has a team named %q", name, name)
		}
		if err != nil {
			return err
		}
		t = schema.Team{ID: id, Name: name, UnitID: unitID, CreatedAt: stamp(now)}
		return nil
	})
	return t, err
}

// ListTeams lists the teams attached to units in the actor's scope (or unitID's subtree),
// sorted by Vietnamese name; a volunteer sees only its own team.
func (db *DB) ListTeams(ctx context.Context, a schema.Actor, unitID *int64) ([]schema.Team, error) {
	sc, err := scopeOf(a)
	if err != nil {
		return nil, err
	}
	if sc, err = subtreeFilter(ctx, db.pool, sc, unitID); err != nil {
		return nil, err
	}
	q := `SELECT ` + teamColumns + ` FROM teams t JOIN units un ON un.id = t.unit_id WHERE un.path >= $1 AND un.path < $2`
	args := []any{sc.lo, sc.hi}
	if a.Role == schema.RoleVolunteer {
		q += ` AND t.id = $3`
		args = append(args, a.TeamID)
	}
	rows, err := db.pool.Query(ctx, q, args...)
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

const userColumns = `u.id, u.role, u.display_name, u.unit_id, u.team_id, u.username, cdt_ts(u.created_at), cdt_ts(u.revoked_at)`

func scanUser(r pgx.Row, extra ...any) (schema.User, error) {
	var (
		u                 schema.User
		username, revoked *string
	)
	err := r.Scan(append([]any{&u.ID, &u.Role, &u.DisplayName, &u.UnitID, &u.TeamID, &username, &u.CreatedAt, &revoked}, extra...)...)
	u.Username, u.RevokedAt = deref(username), deref(revoked)
	return u, err
}

func userNotFound(id int64) error {
	return schema.Errorf(schema.CodeNotFound, "Không tìm thấy người dùng %d / user %d not found", id, id)
}

func userInScope(ctx context.Context, q querier, sc *scope, id int64) (schema.User, string, error) {
	var path string
	u, err := scanUser(q.QueryRow(ctx, `SELECT `+userColumns+`, un.path FROM users u JOIN units un ON un.id = u.unit_id
		WHERE u.id = $1`, id), &path)
	if errors.Is(err, pgx.ErrNoRows) || (err == nil && sc != nil && !sc.covers(path)) {
		return schema.User{}, "", userNotFound(id)
	}
	return u, path, err
}

// CreateUser creates a user in the actor's scope (see the SQLite store's CreateUser).
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
// that makes the first admin. Never call it from a request handler.
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
		if !strings.HasPrefix(nu.PasswordHash, "$argon2id$") {
			return schema.User{}, schema.Errorf(schema.CodeInvalid, "Cán bộ cần mật khẩu / staff need a password")
		}
		username, passHash = un, nu.PasswordHash
	}
	var id int64
	err = tx.QueryRow(ctx, `INSERT INTO users (role, display_name, unit_id, team_id, username, password_hash, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (username) DO NOTHING RETURNING id`,
		nu.Role, name, unitID, team, username, passHash, accessTime(tx.Now)).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return schema.User{}, schema.Errorf(schema.CodeConflict, "Tên đăng nhập đã được dùng / username already taken")
	}
	if err != nil {
		return schema.User{}, err
	}
	u, _, err := userInScope(ctx, tx, nil, id)
	return u, err
}

// ListUsers lists the users whose unit is in the actor's scope (see the SQLite store).
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
	under, err := subtreeFilter(ctx, db.pool, sc, f.UnitID)
	if err != nil {
		return nil, err
	}
	q := `SELECT ` + userColumns + ` FROM users u JOIN units un ON un.id = u.unit_id WHERE un.path >= $1 AND un.path < $2`
	args := []any{under.lo, under.hi}
	if f.TeamID != nil {
		if _, _, err := teamInScope(ctx, db.pool, &sc, *f.TeamID); err != nil {
			return nil, err
		}
		args = append(args, *f.TeamID)
		q += ` AND u.team_id = $3`
	}
	if f.Role != "" {
		args = append(args, f.Role)
		q += ` AND u.role = $` + strconv.Itoa(len(args))
	}
	if !f.IncludeRevoked {
		q += ` AND u.revoked_at IS NULL`
	}
	rows, err := db.pool.Query(ctx, q, args...)
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

// RevokeUser revokes a user in the actor's scope (see the SQLite store).
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
		b := &pgx.Batch{}
		b.Queue(`UPDATE users SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL`, now, id)
		b.Queue(`UPDATE devices SET revoked_at = $1 WHERE volunteer_id = $2 AND revoked_at IS NULL`, now, id)
		b.Queue(`UPDATE refresh_tokens SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL`, now, id)
		b.Queue(`UPDATE enrollment_codes SET expires_at = $1 WHERE volunteer_id = $2 AND used_at IS NULL AND expires_at > $1`, now, id)
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return err
		}
		u.RevokedAt = stamp(now)
		return nil
	})
	return u, err
}

// StaffCredentials returns what a sign-in checks for a username (case-insensitive).
func (db *DB) StaffCredentials(ctx context.Context, username string) (schema.Credentials, error) {
	var (
		c    schema.Credentials
		hash *string
	)
	err := db.pool.QueryRow(ctx, `SELECT id, role, password_hash, revoked_at IS NOT NULL FROM users
		WHERE username = $1 AND role <> 'volunteer'`, strings.ToLower(strings.TrimSpace(username))).
		Scan(&c.UserID, &c.Role, &hash, &c.Revoked)
	if errors.Is(err, pgx.ErrNoRows) {
		return c, schema.Errorf(schema.CodeNotFound, "Không có tài khoản này / no such account")
	}
	c.PasswordHash = deref(hash)
	return c, storageError(err)
}

// SetPasswordHash replaces a staff user's password hash (an argon2id hash).
func (db *DB) SetPasswordHash(ctx context.Context, userID int64, hash string) error {
	if !strings.HasPrefix(hash, "$argon2id$") {
		return schema.Errorf(schema.CodeInvalid, "not an argon2id hash")
	}
	return db.Write(ctx, 0, func(tx *Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE users SET password_hash = $1 WHERE id = $2 AND role <> 'volunteer'`, hash, userID)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return userNotFound(userID)
		}
		return nil
	})
}

// Profile returns the actor's own account: user, unit, team and device.
func (db *DB) Profile(ctx context.Context, a schema.Actor) (schema.Profile, error) {
	if _, err := scopeOf(a); err != nil {
		return schema.Profile{}, err
	}
	var p schema.Profile
	var err error
	if p.User, _, err = userInScope(ctx, db.pool, nil, a.UserID); err != nil {
		return p, err
	}
	if p.Unit, err = unitInScope(ctx, db.pool, nil, p.User.UnitID); err != nil {
		return p, err
	}
	if p.User.TeamID != nil {
		t, _, err := teamInScope(ctx, db.pool, nil, *p.User.TeamID)
		if err != nil {
			return p, err
		}
		p.Team = &t
	}
	if a.DeviceRowID != 0 {
		d, _, err := deviceByRow(ctx, db.pool, nil, a.DeviceRowID)
		if err != nil {
			return p, err
		}
		p.Device = &d
	}
	return p, nil
}
