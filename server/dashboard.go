package server

import (
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/cdtsync/cdtsync/server/web"
)

// The web dashboard (package server/web) is served by the same router. It reads and
// writes through the same stores as the API, and its staff sign-in uses the same password
// check and throttles as POST /v1/auth/login (dashboardSignIn).

// dashboard builds the dashboard over the server's services.
func (s *Server) dashboard() *web.Handler {
	cfg := web.Config{
		Logger:    s.log,
		Now:       s.now,
		Units:     s.cfg.Units,
		Reviews:   s.cfg.Reviews,
		Reports:   s.cfg.Reports,
		SignIn:    s.dashboardSignIn,
		Status:    HTTPStatus,
		PublicURL: s.publicURL,
		Secure:    s.requestIsTLS,
		Security:  s.security,
	}
	// Interface values are copied only when set, so a missing service stays nil (its
	// pages answer 503) rather than a non-nil interface holding a nil.
	if s.cfg.Accounts != nil {
		cfg.Accounts = s.cfg.Accounts
	}
	if s.cfg.Sync != nil {
		cfg.Reviewer = s.cfg.Sync
	}
	return web.New(cfg)
}

// requestIsTLS reports whether the browser reached us over TLS: directly, or through a
// trusted reverse proxy that says so.
func (s *Server) requestIsTLS(c echo.Context) bool {
	if c.Request().TLS != nil {
		return true
	}
	return s.cfg.TrustProxy && strings.EqualFold(c.Request().Header.Get("X-Forwarded-Proto"), "https")
}

// dashboardSignIn checks a staff member's password for the dashboard with the checks of
// POST /v1/auth/login: the throttles per client address and per account (failures only),
// the same time spent for an unknown username as for a wrong password, the bounded
// hashing slots, the one message for both, revoked accounts refused, and old hashes
// re-hashed. It returns the user's id; the dashboard starts its own session.
func (s *Server) dashboardSignIn(c echo.Context, username, password string) (int64, error) {
	if s.cfg.Accounts == nil {
		return 0, unavailable("đăng nhập / sign-in")
	}
	cred, err := s.checkStaffPassword(c, username, password, "dashboard")
	return cred.UserID, err
}
