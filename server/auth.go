package server

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/cdtsync/cdtsync/auth"
	"github.com/cdtsync/cdtsync/schema"
)

// Authentication and authorisation for every route but the public ones.
//
// A route that needs a signed-in caller is registered with s.auth(roles...):
//
//	e.POST("/v1/sync/push", s.push, s.auth(schema.RoleVolunteer))
//	e.GET("/v1/reviews", s.listReviews, s.auth(schema.RoleCoordinator))
//	e.GET("/v1/units", s.listUnits, s.auth()) // any signed-in caller
//
// and its handler gets the caller with actorOf(c), passing it to the store, which scopes
// every query by it. The actor is rebuilt from the database on each request (users,
// devices), so a revocation takes effect at once, not when the access token expires.
// server/scope_test.go walks every route of the router and fails for a route without a
// scoping case.

// actorKey is where the authenticated actor lives in the Echo context.
const actorKey = "cdtsync.actor"

// Authenticator rebuilds the caller of a request from the database: the user's role and
// unit as they are now, and for a phone its enrolment. It fails with CodeUnauthorized for
// a revoked or unknown user or device.
type Authenticator interface {
	ActorFor(ctx context.Context, userID, deviceRow int64) (schema.Actor, error)
}

// actorOf returns the authenticated caller of the request. It fails with CodeUnauthorized
// when the route was registered without s.auth, so a forgotten middleware refuses the
// request instead of running with an empty scope.
func actorOf(c echo.Context) (schema.Actor, error) {
	a, ok := c.Get(actorKey).(schema.Actor)
	if !ok || a.UserID == 0 {
		return schema.Actor{}, schema.Errorf(schema.CodeUnauthorized, "Chưa đăng nhập / not signed in")
	}
	return a, nil
}

// auth returns the middleware of a route for signed-in callers: it authenticates the
// bearer access token and, if roles are given, refuses (CodeForbidden) a caller whose
// role is not among them.
func (s *Server) auth(roles ...string) echo.MiddlewareFunc {
	check := requireRole(roles...)
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return s.authenticate(check(next))
	}
}

// authenticate verifies the bearer access token and puts the actor in the context.
func (s *Server) authenticate(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if s.acc.tokens == nil || s.cfg.Accounts == nil {
			return unavailable("xác thực / authentication")
		}
		// Answers that depend on who asks must not be cached by a proxy or the browser.
		c.Response().Header().Set("Cache-Control", "no-store")
		tok, ok := bearer(c.Request())
		if !ok {
			c.Response().Header().Set("WWW-Authenticate", `Bearer realm="cdtsync"`)
			return schema.Errorf(schema.CodeUnauthorized, "Cần đăng nhập / sign-in required (Authorization: Bearer <access token>)")
		}
		claims, err := s.acc.tokens.Verify(tok)
		if err != nil {
			c.Response().Header().Set("WWW-Authenticate", `Bearer realm="cdtsync", error="invalid_token"`)
			return err
		}
		p, err := claims.Principal()
		if err != nil {
			return schema.Errorf(schema.CodeUnauthorized, "Mã truy cập không hợp lệ / invalid access token")
		}
		a, err := s.cfg.Accounts.ActorFor(c.Request().Context(), p.UserID, p.DeviceRow)
		if err != nil {
			if schema.ErrorCode(err) == schema.CodeUnauthorized {
				s.security(c, slog.LevelInfo, "revoked_credentials_used", slog.Int64("user_id", p.UserID), slog.Int64("device_row", p.DeviceRow))
			}
			return err
		}
		if a.DeviceID != p.DeviceID {
			return schema.Errorf(schema.CodeUnauthorized, "Mã truy cập không hợp lệ / invalid access token")
		}
		c.Set(actorKey, a)
		return next(c)
	}
}

// requireRole refuses (CodeForbidden) a caller whose role is not one of roles; no roles
// lets any signed-in caller through. It must run after authentication (s.auth does both).
func requireRole(roles ...string) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			a, err := actorOf(c)
			if err != nil {
				return err
			}
			if len(roles) == 0 {
				return next(c)
			}
			for _, r := range roles {
				if a.Role == r {
					return next(c)
				}
			}
			return schema.Errorf(schema.CodeForbidden, "Vai trò %s không được dùng chức năng này / role %s may not use this", a.Role, a.Role)
		}
	}
}

// bearer returns the token of an "Authorization: Bearer" header.
func bearer(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	const p = "bearer "
	if len(h) <= len(p) || !strings.EqualFold(h[:len(p)], p) {
		return "", false
	}
	tok := strings.TrimSpace(h[len(p):])
	return tok, tok != ""
}

// security logs a security event with ids only: never a password, token, enrolment code,
// citizen key or ref. The client address is logged for throttling and abuse reports.
func (s *Server) security(c echo.Context, lvl slog.Level, event string, attrs ...slog.Attr) {
	attrs = append([]slog.Attr{slog.String("event", event), slog.String("request_id", requestID(c)),
		slog.String("addr", c.RealIP())}, attrs...)
	s.log.LogAttrs(c.Request().Context(), lvl, "security", attrs...)
}

func unavailable(what string) error {
	return &schema.Error{Code: schema.CodeUnavailable, RetryAfter: 30 * time.Second,
		Message: "Chức năng " + what + " chưa được cấu hình / " + what + " is not configured on this server"}
}

// tooMany is the error of a throttled request.
func tooMany(wait time.Duration) error {
	if wait < time.Second {
		wait = time.Second
	}
	return &schema.Error{Code: schema.CodeTooManyRequests, RetryAfter: wait,
		Message: "Thử quá nhiều lần, vui lòng đợi rồi thử lại / too many attempts; wait and retry"}
}

// access is the state of the access routes: token signing, throttles, and a bound on
// concurrent password hashing (each argon2id run takes 64 MiB).
type access struct {
	tokens   *auth.Tokens
	params   auth.Params
	hashSlot chan struct{}

	loginAddr, loginAccount *auth.Limiter
	enrollAddr, enrollPhone *auth.Limiter
}

// Throttles. Addresses get generous limits (a commune office or a mobile carrier puts many
// people behind one address); accounts and phones are charged for failures only, so an
// attacker cannot lock a coordinator out for long, and guessing stays hopeless.
const (
	loginAddrEvery, loginAddrBurst       = 3 * time.Second, 20
	loginAccountEvery, loginAccountBurst = time.Minute, 5
	enrollAddrEvery, enrollAddrBurst     = 3 * time.Second, 20
	enrollPhoneEvery, enrollPhoneBurst   = time.Minute, 5
	maxConcurrentHashes                  = 4
)

func (s *Server) initAccess() {
	if s.cfg.TrustProxy {
		// Behind a reverse proxy on loopback or a private network: the client is in
		// X-Forwarded-For. Otherwise that header is the client's word and ignored.
		s.echo.IPExtractor = echo.ExtractIPFromXFFHeader()
	} else {
		s.echo.IPExtractor = echo.ExtractIPDirect()
	}
	a := &access{params: s.cfg.PasswordParams, hashSlot: make(chan struct{}, maxConcurrentHashes)}
	if s.cfg.Keys != nil {
		a.tokens = auth.NewTokens(s.cfg.Keys, s.now)
	}
	a.loginAddr = auth.NewLimiter(loginAddrEvery, loginAddrBurst, s.now)
	a.loginAccount = auth.NewLimiter(loginAccountEvery, loginAccountBurst, s.now)
	a.enrollAddr = auth.NewLimiter(enrollAddrEvery, enrollAddrBurst, s.now)
	a.enrollPhone = auth.NewLimiter(enrollPhoneEvery, enrollPhoneBurst, s.now)
	s.acc = a
}

// withHashSlot runs fn (a password hash or verification) when one of the few hashing
// slots is free, so a burst of sign-ins cannot exhaust memory.
func (a *access) withHashSlot(ctx context.Context, fn func()) error {
	select {
	case a.hashSlot <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-a.hashSlot }()
	fn()
	return nil
}
