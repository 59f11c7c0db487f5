// Package web is cdtsync's dashboard for coordinators, district and province officers and
// admins: HTML pages in Vietnamese (English on request), rendered on the server, served by
// the same `cdtsync serve` under /web/ with every template, style sheet, script and font
// choice embedded in the binary — nothing is fetched from the internet at run time.
//
// The pages read and write through the same store methods as the JSON API, each given the
// signed-in caller (schema.Actor), so the dashboard is scoped exactly like the API: a unit
// or log outside the caller's subtree answers 404, like one that does not exist. The
// figures are the coverage and team reports' own (store.Coverage, store.TeamOutput), never
// recomputed here, so the dashboard shows what GET /v1/reports/coverage answers for the
// same query.
//
// Staff sign in with the password of their account (the same check, throttles and
// messages as POST /v1/auth/login, given by package server as Config.SignIn); a session
// cookie (HttpOnly, SameSite=Lax, Secure and __Host- behind TLS) carries an opaque id of a
// server-side session; every form carries the session's CSRF token. The caller is rebuilt
// from the database on every request, so revoking a user signs them out at once.
//
// Pages are plain HTML forms and tables: they read and post with JavaScript disabled; the
// one small script only adds conveniences (select all).
package web

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/cdtsync/cdtsync/schema"
	"github.com/cdtsync/cdtsync/sync/engine"
)

// Accounts is what the dashboard needs of the account store: who the caller is now, and
// the team, user and device routes' methods, each scoped to the caller.
type Accounts interface {
	ActorFor(ctx context.Context, userID, deviceRow int64) (schema.Actor, error)
	Profile(ctx context.Context, a schema.Actor) (schema.Profile, error)
	ListTeams(ctx context.Context, a schema.Actor, unitID *int64) ([]schema.Team, error)
	ListUsers(ctx context.Context, a schema.Actor, f schema.UserFilter) ([]schema.User, error)
	CreateUser(ctx context.Context, a schema.Actor, u schema.NewUser) (schema.User, error)
	IssueEnrollment(ctx context.Context, a schema.Actor, volunteerID int64, codeHash string, expiresAt time.Time) (schema.IssuedEnrollment, error)
	ListDevices(ctx context.Context, a schema.Actor, f schema.DeviceFilter) ([]schema.Device, error)
}

// Units lists administrative units in the caller's scope (see server.UnitLister).
type Units interface {
	ListUnits(ctx context.Context, actor schema.Actor, parent *int64, includeEnded bool) ([]schema.Unit, error)
}

// Reviews lists the review queue and a log's field history, scoped to the caller.
type Reviews interface {
	ListReviews(ctx context.Context, actor schema.Actor, f schema.ReviewFilter) (schema.ReviewPage, error)
	LogHistory(ctx context.Context, actor schema.Actor, id string) ([]schema.HistoryItem, error)
}

// Reviewer applies review decisions (the sync engine).
type Reviewer interface {
	Review(ctx context.Context, actor schema.Actor, decisions []engine.Decision) ([]engine.DecisionResult, error)
}

// Reports computes the coverage and team reports (the store methods behind
// GET /v1/reports/coverage and /teams).
type Reports interface {
	Coverage(ctx context.Context, actor schema.Actor, f schema.ReportFilter) (schema.CoverageReport, error)
	TeamOutput(ctx context.Context, actor schema.Actor, f schema.ReportFilter) (schema.TeamReport, error)
}

// Config is what the dashboard needs. Nil services leave their pages answering 503.
type Config struct {
	Logger *slog.Logger
	Now    func() time.Time

	Accounts Accounts
	Units    Units
	Reviews  Reviews
	Reviewer Reviewer
	Reports  Reports

	// SignIn checks a staff member's username and password, with the API's throttles,
	// and returns the user's id. Its errors are schema errors: CodeUnauthorized for a
	// wrong username or password or a revoked account, CodeTooManyRequests (with
	// RetryAfter) when throttled, CodeInvalid for empty fields.
	SignIn func(c echo.Context, username, password string) (int64, error)
	// Status maps an error code to its HTTP status (server.HTTPStatus).
	Status func(code string) int
	// PublicURL is the base URL phones reach the server at, put in enrolment QR codes.
	PublicURL func(c echo.Context) string
	// Secure reports whether the request reached cdtsync over TLS (directly, or through
	// a trusted reverse proxy): session cookies are then Secure and __Host- prefixed.
	Secure func(c echo.Context) bool
	// Security logs a security event (ids only, never secrets).
	Security func(c echo.Context, lvl slog.Level, event string, attrs ...slog.Attr)
}

// Handler serves the dashboard.
type Handler struct {
	cfg      Config
	log      *slog.Logger
	now      func() time.Time
	sessions *sessions
	pages    *pages
}

// New builds the dashboard. It panics if the embedded templates do not parse (a build
// defect caught by every test).
func New(cfg Config) *Handler {
	h := &Handler{cfg: cfg, log: cfg.Logger, now: cfg.Now}
	if h.log == nil {
		h.log = slog.Default()
	}
	if h.now == nil {
		h.now = time.Now
	}
	if h.cfg.Status == nil {
		h.cfg.Status = func(string) int { return http.StatusBadRequest }
	}
	if h.cfg.Security == nil {
		h.cfg.Security = func(echo.Context, slog.Level, string, ...slog.Attr) {}
	}
	if h.cfg.Secure == nil {
		h.cfg.Secure = func(c echo.Context) bool { return c.Request().TLS != nil }
	}
	h.sessions = newSessions(h.now)
	h.pages = mustParsePages()
	return h
}

// Roles that may use each part of the dashboard: the API's roles for the same data.
var (
	readers   = []string{schema.RoleCoordinator, schema.RoleOfficer, schema.RoleAdmin}
	reviewers = []string{schema.RoleCoordinator, schema.RoleAdmin}
)

// Register adds the dashboard's routes to e. Every route but the sign-in page, the
// language switch and the static assets needs a session; every POST needs the session's
// CSRF token.
func (h *Handler) Register(e *echo.Echo) {
	e.GET("/", h.root)
	e.GET("/web/static/:name", h.static)
	e.GET("/web/login", h.loginPage)
	e.POST("/web/login", h.login)
	e.GET("/web/lang", h.setLang)
	e.POST("/web/logout", h.page(h.logout))

	e.GET("/web/", h.page(h.overview, readers...))
	e.GET("/web/units/:id", h.page(h.overview, readers...))
	e.GET("/web/units/:id/export", h.page(h.overviewExport, readers...))
	e.GET("/web/teams", h.page(h.teams, readers...))
	e.GET("/web/teams/export", h.page(h.teamsExport, readers...))
	e.GET("/web/devices", h.page(h.devices, readers...))

	e.GET("/web/reviews", h.page(h.reviews, reviewers...))
	e.POST("/web/reviews", h.page(h.postReviews, reviewers...))
	e.GET("/web/reviews/export", h.page(h.reviewsExport, reviewers...))
	e.GET("/web/logs/:id", h.page(h.logPage, reviewers...))

	e.GET("/web/volunteers", h.page(h.volunteers, reviewers...))
	e.POST("/web/volunteers", h.page(h.createVolunteer, reviewers...))
	e.GET("/web/volunteers/:id/code", h.page(h.codePage, reviewers...))
	e.POST("/web/volunteers/:id/code", h.page(h.issueCode, reviewers...))
}

// root sends a browser opening the server's address to the dashboard.
func (h *Handler) root(c echo.Context) error {
	return c.Redirect(http.StatusSeeOther, "/web/")
}
