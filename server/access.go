package server

import (
	"context"
	"encoding/base64"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/cdtsync/cdtsync/auth"
	"github.com/cdtsync/cdtsync/schema"
)

// Accounts, devices and sign-in: POST /v1/auth/login, /refresh, /logout, POST /v1/enroll,
// POST /v1/enrollments, /v1/teams, /v1/users, /v1/devices, GET /v1/me.

// Sessions is what sign-in, refresh and enrolment need from the store.
type Sessions interface {
	StaffCredentials(ctx context.Context, username string) (schema.Credentials, error)
	SetPasswordHash(ctx context.Context, userID int64, hash string) error
	StartSession(ctx context.Context, userID int64, g schema.RefreshGrant) error
	RotateRefresh(ctx context.Context, r schema.RefreshRotation) (schema.Session, error)
	EndSession(ctx context.Context, refreshHash string) (schema.Session, bool, error)
	RedeemEnrollment(ctx context.Context, r schema.EnrollmentRedeem) (schema.Enrolled, error)
	CitizenKey(ctx context.Context) ([]byte, error)
}

// Directory is what the team, user and device routes need from the store. Every method
// takes the caller and works inside its unit subtree.
type Directory interface {
	CreateTeam(ctx context.Context, a schema.Actor, name string, unitID int64) (schema.Team, error)
	ListTeams(ctx context.Context, a schema.Actor, unitID *int64) ([]schema.Team, error)
	CreateUser(ctx context.Context, a schema.Actor, u schema.NewUser) (schema.User, error)
	ListUsers(ctx context.Context, a schema.Actor, f schema.UserFilter) ([]schema.User, error)
	RevokeUser(ctx context.Context, a schema.Actor, id int64) (schema.User, error)
	IssueEnrollment(ctx context.Context, a schema.Actor, volunteerID int64, codeHash string, expiresAt time.Time) (schema.IssuedEnrollment, error)
	ListDevices(ctx context.Context, a schema.Actor, f schema.DeviceFilter) ([]schema.Device, error)
	RevokeDevice(ctx context.Context, a schema.Actor, id int64) (schema.Device, error)
	Profile(ctx context.Context, a schema.Actor) (schema.Profile, error)
}

// AccountStore is everything the access routes need: the SQLite store implements it.
type AccountStore interface {
	Authenticator
	Sessions
	Directory
}

// maxAccessBody bounds the JSON body of every access route: they carry a few short fields.
const maxAccessBody = schema.MaxSmallBodyBytes

// tokenResponse answers a sign-in, a refresh or an enrolment.
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int    `json:"expires_in"` // seconds
	ServerTime   string `json:"server_time"`
}

func (s *Server) serverTime() string { return s.now().UTC().Format(time.RFC3339Nano) }

func (s *Server) tokenPair(p auth.Principal, refresh string) (tokenResponse, error) {
	at, ttl, err := s.acc.tokens.Issue(p)
	if err != nil {
		return tokenResponse{}, err
	}
	return tokenResponse{AccessToken: at, RefreshToken: refresh, TokenType: "Bearer", ExpiresIn: int(ttl / time.Second),
		ServerTime: s.serverTime()}, nil
}

func (s *Server) sessionsReady() error {
	if s.acc.tokens == nil || s.cfg.Accounts == nil {
		return unavailable("đăng nhập / sign-in")
	}
	return nil
}

type loginRequest struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

// errBadLogin is the one answer to a wrong username or password: it does not say which.
func errBadLogin() error {
	return schema.Errorf(schema.CodeUnauthorized, "Sai tên đăng nhập hoặc mật khẩu / wrong username or password")
}

// login signs staff in with a username and password.
func (s *Server) login(c echo.Context) error {
	if err := s.sessionsReady(); err != nil {
		return err
	}
	var req loginRequest
	if err := decodeJSON(c, maxAccessBody, &req); err != nil {
		return err
	}
	cred, err := s.checkStaffPassword(c, req.Username, req.Password, "api")
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	refresh, hash := auth.NewRefreshToken()
	family := auth.NewFamilyID()
	if err := s.cfg.Accounts.StartSession(ctx, cred.UserID, schema.RefreshGrant{Hash: hash, FamilyID: family,
		ExpiresAt: s.now().Add(auth.RefreshTTLStaff)}); err != nil {
		return err
	}
	resp, err := s.tokenPair(auth.Principal{UserID: cred.UserID, Role: cred.Role}, refresh)
	if err != nil {
		return err
	}
	s.security(c, slog.LevelInfo, "signed_in", slog.Int64("user_id", cred.UserID), slog.String("family", family))
	return c.JSON(http.StatusOK, resp)
}

// checkStaffPassword is the one password check of staff sign-in, for the API (login) and
// the dashboard: throttled per address and per account, the same answer and the same time
// for an unknown user and a wrong password, a revoked account refused, an old hash
// upgraded. via names the entry point in security events.
func (s *Server) checkStaffPassword(c echo.Context, username, password, via string) (schema.Credentials, error) {
	if strings.TrimSpace(username) == "" || password == "" {
		return schema.Credentials{}, schema.Errorf(schema.CodeInvalid, "Cần tên đăng nhập và mật khẩu / username and password are required")
	}
	if len(username) > 64 || len(password) > auth.MaxPasswordBytes {
		return schema.Credentials{}, errBadLogin()
	}
	v := slog.String("via", via)
	if ok, wait := s.acc.loginAddr.Allow(c.RealIP()); !ok {
		s.security(c, slog.LevelWarn, "sign_in_throttled", slog.String("by", "address"), v)
		return schema.Credentials{}, tooMany(wait)
	}
	account := strings.ToLower(strings.TrimSpace(username))
	if wait := s.acc.loginAccount.Wait(account); wait > 0 {
		s.security(c, slog.LevelWarn, "sign_in_throttled", slog.String("by", "account"), v)
		return schema.Credentials{}, tooMany(wait)
	}
	ctx := c.Request().Context()
	cred, err := s.cfg.Accounts.StaffCredentials(ctx, account)
	if schema.ErrorCode(err) == schema.CodeNotFound {
		// Spend the time a real check takes, so timing does not tell which usernames exist.
		if err := s.acc.withHashSlot(ctx, func() { auth.DummyVerify(password, s.acc.params) }); err != nil {
			return schema.Credentials{}, err
		}
		s.acc.loginAccount.Hit(account)
		s.security(c, slog.LevelWarn, "sign_in_failed", slog.String("reason", "unknown_user"), v)
		return schema.Credentials{}, errBadLogin()
	}
	if err != nil {
		return schema.Credentials{}, err
	}
	var ok, rehash bool
	var verr error
	if err := s.acc.withHashSlot(ctx, func() { ok, rehash, verr = auth.VerifyPassword(cred.PasswordHash, password, s.acc.params) }); err != nil {
		return schema.Credentials{}, err
	}
	if verr != nil {
		s.log.Error("stored password hash unreadable", "user_id", cred.UserID, "err", verr)
		return schema.Credentials{}, errBadLogin()
	}
	if !ok {
		s.acc.loginAccount.Hit(account)
		s.security(c, slog.LevelWarn, "sign_in_failed", slog.String("reason", "wrong_password"), slog.Int64("user_id", cred.UserID), v)
		return schema.Credentials{}, errBadLogin()
	}
	if cred.Revoked {
		s.security(c, slog.LevelWarn, "sign_in_failed", slog.String("reason", "revoked"), slog.Int64("user_id", cred.UserID), v)
		return schema.Credentials{}, schema.Errorf(schema.CodeUnauthorized, "Tài khoản đã bị thu hồi / the account was revoked")
	}
	if rehash {
		var h string
		var herr error
		if err := s.acc.withHashSlot(ctx, func() { h, herr = auth.HashPassword(password, s.acc.params) }); err == nil && herr == nil {
			if err := s.cfg.Accounts.SetPasswordHash(ctx, cred.UserID, h); err != nil {
				s.log.Warn("password rehash failed", "user_id", cred.UserID, "err", err)
			}
		}
	}
	return cred, nil
}

type refreshRequest struct {
	RefreshToken string `json:"refresh_token"`
}

// refresh rotates a refresh token: the old one stops working, a new pair is returned.
func (s *Server) refresh(c echo.Context) error {
	if err := s.sessionsReady(); err != nil {
		return err
	}
	var req refreshRequest
	if err := decodeJSON(c, maxAccessBody, &req); err != nil {
		return err
	}
	if !auth.LooksLikeRefreshToken(req.RefreshToken) {
		return schema.Errorf(schema.CodeUnauthorized, "Phiên đăng nhập không hợp lệ, hãy đăng nhập lại / invalid refresh token; sign in again")
	}
	next, nextHash := auth.NewRefreshToken()
	sess, err := s.cfg.Accounts.RotateRefresh(c.Request().Context(), schema.RefreshRotation{
		OldHash: auth.HashSecret(req.RefreshToken), NewHash: nextHash,
		StaffTTL: auth.RefreshTTLStaff, DeviceTTL: auth.RefreshTTLDevice, ReuseGrace: auth.RefreshReuseGrace,
	})
	var reuse *schema.RefreshReuse
	if errors.As(err, &reuse) {
		s.security(c, slog.LevelWarn, "refresh_token_reused", slog.Int64("user_id", reuse.Session.UserID),
			slog.Int64("device_row", reuse.Session.DeviceRow), slog.String("family", reuse.Session.FamilyID))
		return err
	}
	if err != nil {
		return err
	}
	resp, err := s.tokenPair(auth.Principal{UserID: sess.UserID, Role: sess.Role, DeviceRow: sess.DeviceRow, DeviceID: sess.DeviceID}, next)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, resp)
}

// logout ends the session (the refresh-token family) of the given refresh token. It
// answers 204 whether or not the token was known.
func (s *Server) logout(c echo.Context) error {
	if err := s.sessionsReady(); err != nil {
		return err
	}
	var req refreshRequest
	if err := decodeJSON(c, maxAccessBody, &req); err != nil {
		return err
	}
	if auth.LooksLikeRefreshToken(req.RefreshToken) {
		sess, found, err := s.cfg.Accounts.EndSession(c.Request().Context(), auth.HashSecret(req.RefreshToken))
		if err != nil {
			return err
		}
		if found {
			s.security(c, slog.LevelInfo, "signed_out", slog.Int64("user_id", sess.UserID), slog.Int64("device_row", sess.DeviceRow),
				slog.String("family", sess.FamilyID))
		}
	}
	return c.NoContent(http.StatusNoContent)
}

type enrollRequest struct {
	Code       string `json:"code"`
	DeviceID   string `json:"device_id"`
	DeviceName string `json:"device_name"`
}

type enrollVolunteer struct {
	ID          int64  `json:"id"`
	DisplayName string `json:"display_name"`
	TeamID      int64  `json:"team_id"`
	UnitID      int64  `json:"unit_id"`
}

type enrollDevice struct {
	ID       int64  `json:"id"`
	DeviceID string `json:"device_id"`
	Name     string `json:"name"`
}

type enrollResponse struct {
	tokenResponse
	CitizenKey string          `json:"citizen_key"` // base64
	Volunteer  enrollVolunteer `json:"volunteer"`
	Device     enrollDevice    `json:"device"`
}

// enroll redeems a one-time enrolment code on a phone: the phone gets its credentials for
// the code's volunteer and the deployment's citizen key.
func (s *Server) enroll(c echo.Context) error {
	if err := s.sessionsReady(); err != nil {
		return err
	}
	var req enrollRequest
	if err := decodeJSON(c, maxAccessBody, &req); err != nil {
		return err
	}
	if ok, wait := s.acc.enrollAddr.Allow(c.RealIP()); !ok {
		s.security(c, slog.LevelWarn, "enrol_throttled", slog.String("by", "address"))
		return tooMany(wait)
	}
	phone := "phone:" + req.DeviceID
	if wait := s.acc.enrollPhone.Wait(phone); wait > 0 {
		s.security(c, slog.LevelWarn, "enrol_throttled", slog.String("by", "device"))
		return tooMany(wait)
	}
	codeHash, ok := auth.HashEnrollmentCode(req.Code)
	if !ok {
		s.acc.enrollPhone.Hit(phone)
		s.security(c, slog.LevelInfo, "enrol_failed", slog.String("reason", "malformed_code"))
		return schema.Errorf(schema.CodeInvalid, "Mã đăng ký thiết bị gồm 10 ký tự, ví dụ 7KQ2M-XH4PA / an enrolment code has 10 characters, e.g. 7KQ2M-XH4PA")
	}
	ctx := c.Request().Context()
	refresh, refreshHash := auth.NewRefreshToken()
	family := auth.NewFamilyID()
	got, err := s.cfg.Accounts.RedeemEnrollment(ctx, schema.EnrollmentRedeem{
		CodeHash: codeHash, DeviceID: req.DeviceID, DeviceName: req.DeviceName,
		Refresh:    schema.RefreshGrant{Hash: refreshHash, FamilyID: family, ExpiresAt: s.now().Add(auth.RefreshTTLDevice)},
		RetryGrace: auth.EnrollRetryGrace,
	})
	if err != nil {
		if schema.ErrorCode(err) == schema.CodeUnauthorized {
			s.acc.enrollPhone.Hit(phone)
			s.security(c, slog.LevelWarn, "enrol_failed", slog.String("reason", "code_refused"))
		}
		return err
	}
	key, err := s.cfg.Accounts.CitizenKey(ctx)
	if err != nil {
		return err
	}
	tokens, err := s.tokenPair(auth.Principal{UserID: got.Volunteer.ID, Role: schema.RoleVolunteer,
		DeviceRow: got.Device.ID, DeviceID: got.Device.DeviceID}, refresh)
	if err != nil {
		return err
	}
	resp := enrollResponse{tokenResponse: tokens, CitizenKey: base64.StdEncoding.EncodeToString(key),
		Volunteer: enrollVolunteer{ID: got.Volunteer.ID, DisplayName: got.Volunteer.DisplayName, UnitID: got.Volunteer.UnitID},
		Device:    enrollDevice{ID: got.Device.ID, DeviceID: got.Device.DeviceID, Name: got.Device.Name}}
	if got.Volunteer.TeamID != nil {
		resp.Volunteer.TeamID = *got.Volunteer.TeamID
	}
	s.security(c, slog.LevelInfo, "device_enrolled", slog.Int64("user_id", got.Volunteer.ID), slog.Int64("device_row", got.Device.ID),
		slog.String("family", family))
	return c.JSON(http.StatusOK, resp)
}

type enrollmentRequest struct {
	VolunteerID int64 `json:"volunteer_id"`
}

type enrollmentResponse struct {
	Code      string          `json:"code"`
	ExpiresAt string          `json:"expires_at"`
	QRPNG     string          `json:"qr_png"`     // base64 PNG
	QRPayload string          `json:"qr_payload"` // the text in the QR code
	Volunteer enrollVolunteer `json:"volunteer"`
}

// createEnrollment issues a one-time enrolment code for a volunteer, with its QR image.
func (s *Server) createEnrollment(c echo.Context) error {
	a, err := actorOf(c)
	if err != nil {
		return err
	}
	var req enrollmentRequest
	if err := decodeJSON(c, maxAccessBody, &req); err != nil {
		return err
	}
	if req.VolunteerID <= 0 {
		return schema.Errorf(schema.CodeInvalid, "Cần volunteer_id / volunteer_id is required")
	}
	code := auth.NewEnrollmentCode()
	hash, _ := auth.HashEnrollmentCode(code)
	issued, err := s.cfg.Accounts.IssueEnrollment(c.Request().Context(), a, req.VolunteerID, hash, s.now().Add(auth.EnrollmentTTL))
	if err != nil {
		return err
	}
	payload := auth.EnrollmentPayload(s.publicURL(c), code)
	png, err := auth.EnrollmentQR(payload)
	if err != nil {
		return err
	}
	s.security(c, slog.LevelInfo, "enrolment_code_issued", slog.Int64("user_id", a.UserID), slog.Int64("volunteer_id", req.VolunteerID))
	resp := enrollmentResponse{Code: code, ExpiresAt: issued.ExpiresAt.UTC().Format(time.RFC3339), QRPNG: base64.StdEncoding.EncodeToString(png),
		QRPayload: payload, Volunteer: enrollVolunteer{ID: issued.Volunteer.ID, DisplayName: issued.Volunteer.DisplayName, UnitID: issued.Volunteer.UnitID}}
	if issued.Volunteer.TeamID != nil {
		resp.Volunteer.TeamID = *issued.Volunteer.TeamID
	}
	return c.JSON(http.StatusCreated, resp)
}

// publicURL is the base URL phones reach the server at: Config.PublicURL, or the one the
// request came to.
func (s *Server) publicURL(c echo.Context) string {
	if s.cfg.PublicURL != "" {
		return strings.TrimRight(s.cfg.PublicURL, "/")
	}
	scheme := "http"
	if c.Request().TLS != nil {
		scheme = "https"
	} else if s.cfg.TrustProxy && c.Request().Header.Get("X-Forwarded-Proto") == "https" {
		scheme = "https"
	}
	return scheme + "://" + c.Request().Host
}

type teamRequest struct {
	Name   string `json:"name"`
	UnitID int64  `json:"unit_id"`
}

func (s *Server) createTeam(c echo.Context) error {
	a, err := actorOf(c)
	if err != nil {
		return err
	}
	var req teamRequest
	if err := decodeJSON(c, maxAccessBody, &req); err != nil {
		return err
	}
	if req.UnitID <= 0 {
		return schema.Errorf(schema.CodeInvalid, "Cần unit_id / unit_id is required")
	}
	t, err := s.cfg.Accounts.CreateTeam(c.Request().Context(), a, req.Name, req.UnitID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, t)
}

func (s *Server) listTeams(c echo.Context) error {
	a, err := actorOf(c)
	if err != nil {
		return err
	}
	unit, err := queryID(c, "unit")
	if err != nil {
		return err
	}
	teams, err := s.cfg.Accounts.ListTeams(c.Request().Context(), a, unit)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"teams": teams})
}

type userRequest struct {
	Role        string `json:"role"`
	DisplayName string `json:"display_name"`
	UnitID      int64  `json:"unit_id"`
	TeamID      *int64 `json:"team_id"`
	Username    string `json:"username"`
	Password    string `json:"password"`
}

func (s *Server) createUser(c echo.Context) error {
	a, err := actorOf(c)
	if err != nil {
		return err
	}
	var req userRequest
	if err := decodeJSON(c, maxAccessBody, &req); err != nil {
		return err
	}
	nu := schema.NewUser{Role: req.Role, DisplayName: req.DisplayName, UnitID: req.UnitID, TeamID: req.TeamID, Username: req.Username}
	if req.Role != schema.RoleVolunteer && schema.ValidRole(req.Role) {
		// Refuse before spending a password hash on a request that cannot succeed.
		if a.Role != schema.RoleAdmin {
			return schema.Errorf(schema.CodeForbidden, "Cán bộ điều phối chỉ tạo được thành viên tổ / a coordinator creates volunteers only")
		}
		if err := auth.CheckPassword(req.Password); err != nil {
			return schema.Errorf(schema.CodeInvalid, "%s", err.Error())
		}
		var herr error
		if err := s.acc.withHashSlot(c.Request().Context(), func() { nu.PasswordHash, herr = auth.HashPassword(req.Password, s.acc.params) }); err != nil {
			return err
		}
		if herr != nil {
			return herr
		}
	} else if req.Password != "" {
		return schema.Errorf(schema.CodeInvalid, "Thành viên tổ không có mật khẩu: họ đăng ký điện thoại bằng mã / volunteers have no password: they enrol a phone with a code")
	}
	u, err := s.cfg.Accounts.CreateUser(c.Request().Context(), a, nu)
	if err != nil {
		return err
	}
	s.security(c, slog.LevelInfo, "user_created", slog.Int64("user_id", a.UserID), slog.Int64("new_user_id", u.ID), slog.String("role", u.Role))
	return c.JSON(http.StatusCreated, u)
}

func (s *Server) listUsers(c echo.Context) error {
	a, err := actorOf(c)
	if err != nil {
		return err
	}
	var f schema.UserFilter
	if f.UnitID, err = queryID(c, "unit"); err != nil {
		return err
	}
	if f.TeamID, err = queryID(c, "team"); err != nil {
		return err
	}
	f.Role = c.QueryParam("role")
	if f.IncludeRevoked, err = queryBool(c, "include_revoked"); err != nil {
		return err
	}
	users, err := s.cfg.Accounts.ListUsers(c.Request().Context(), a, f)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"users": users})
}

func (s *Server) revokeUser(c echo.Context) error {
	a, err := actorOf(c)
	if err != nil {
		return err
	}
	id, err := pathID(c)
	if err != nil {
		return err
	}
	u, err := s.cfg.Accounts.RevokeUser(c.Request().Context(), a, id)
	if err != nil {
		return err
	}
	s.security(c, slog.LevelWarn, "user_revoked", slog.Int64("user_id", a.UserID), slog.Int64("revoked_user_id", id))
	return c.JSON(http.StatusOK, u)
}

func (s *Server) listDevices(c echo.Context) error {
	a, err := actorOf(c)
	if err != nil {
		return err
	}
	var f schema.DeviceFilter
	if f.UnitID, err = queryID(c, "unit"); err != nil {
		return err
	}
	if f.TeamID, err = queryID(c, "team"); err != nil {
		return err
	}
	if f.VolunteerID, err = queryID(c, "volunteer"); err != nil {
		return err
	}
	if f.IncludeRevoked, err = queryBool(c, "include_revoked"); err != nil {
		return err
	}
	devices, err := s.cfg.Accounts.ListDevices(c.Request().Context(), a, f)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"devices": devices, "server_time": s.serverTime(),
		"clock_off_threshold_ms": schema.ClockOffThreshold.Milliseconds()})
}

func (s *Server) revokeDevice(c echo.Context) error {
	a, err := actorOf(c)
	if err != nil {
		return err
	}
	id, err := pathID(c)
	if err != nil {
		return err
	}
	d, err := s.cfg.Accounts.RevokeDevice(c.Request().Context(), a, id)
	if err != nil {
		return err
	}
	s.security(c, slog.LevelWarn, "device_revoked", slog.Int64("user_id", a.UserID), slog.Int64("device_row", id),
		slog.Int64("volunteer_id", d.VolunteerID))
	return c.JSON(http.StatusOK, d)
}

type meResponse struct {
	schema.Profile
	ServerTime string `json:"server_time"`
}

func (s *Server) me(c echo.Context) error {
	a, err := actorOf(c)
	if err != nil {
		return err
	}
	p, err := s.cfg.Accounts.Profile(c.Request().Context(), a)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, meResponse{Profile: p, ServerTime: s.serverTime()})
}

// queryID reads an optional positive integer query parameter.
func queryID(c echo.Context, name string) (*int64, error) {
	v := c.QueryParam(name)
	if v == "" {
		return nil, nil
	}
	id, err := strconv.ParseInt(v, 10, 64)
	if err != nil || id <= 0 {
		return nil, schema.Errorf(schema.CodeInvalid, "Tham số %s phải là số nguyên dương / query parameter %s must be a positive integer", name, name)
	}
	return &id, nil
}

// queryBool reads an optional boolean query parameter (true/false/1/0).
func queryBool(c echo.Context, name string) (bool, error) {
	v := c.QueryParam(name)
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, schema.Errorf(schema.CodeInvalid, "Tham số %s phải là true hoặc false / query parameter %s must be true or false", name, name)
	}
	return b, nil
}

// pathID reads the :id path parameter.
func pathID(c echo.Context) (int64, error) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, schema.Errorf(schema.CodeInvalid, "Mã số trong đường dẫn phải là số nguyên dương / the id in the path must be a positive integer")
	}
	return id, nil
}
