// Package server translates HTTP to cdtsync's services: the Echo router, the JSON error
// handler, authentication middleware and the dashboard. It holds no business rules and
// imports no store: cmd/cdtsync wires the store in through the small interfaces declared
// beside each handler.
package server

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/cdtsync/cdtsync/auth"
)

// Config holds what the server needs. Nil services leave their routes answering 503.
type Config struct {
	Logger *slog.Logger
	Now    func() time.Time
	// Registry receives the server's metrics; nil means a new registry.
	Registry *prometheus.Registry
	// MetricsToken, if set, restricts GET /metrics to requests with
	// "Authorization: Bearer <MetricsToken>".
	MetricsToken string

	Health Pinger

	// Access (server/access.go, server/auth.go). Keys signs and verifies access tokens;
	// Accounts holds users, teams, devices and sessions; Units lists administrative units.
	Keys     *auth.KeySet
	Accounts AccountStore
	Units    UnitLister
	// PublicURL is the base URL phones reach the server at, put in enrolment QR codes;
	// empty means the URL each request came to.
	PublicURL string
	// TrustProxy takes the client address from X-Forwarded-For (set it behind a reverse
	// proxy on loopback or a private network); otherwise the connection's address counts.
	TrustProxy bool
	// Sync is the sync engine (push, pull, review decisions); Reviews lists the review
	// queue (server/sync.go).
	Sync    Syncer
	Reviews ReviewLister
	// Reports computes coverage and team reports (server/reports.go).
	Reports Reporter

	// PasswordParams are the argon2id costs of new password hashes; zero means
	// auth.DefaultParams.
	PasswordParams auth.Params

	// Timeouts bound slow clients and waiting pushes (server/ops.go); zero fields take
	// the defaults.
	Timeouts Timeouts
	// PushMemory bounds the push bodies admitted at once, in bytes (server/ops.go); 0
	// means DefaultPushMemory.
	PushMemory int64
	// MaxPushes bounds the pushes admitted at once however small (server/ops.go): each
	// takes at least PushMemory/MaxPushes. 0 means DefaultMaxPushes.
	MaxPushes int
	// MaxPushWaiting bounds the pushes waiting to be authenticated or admitted
	// (server/ops.go): past MaxPushes+MaxPushWaiting pushes in the server, a push answers
	// 503 with Retry-After at once. 0 means DefaultMaxPushWaiting.
	MaxPushWaiting int
}

// Server is the HTTP server of cdtsync.
type Server struct {
	cfg  Config
	log  *slog.Logger
	now  func() time.Time
	echo *echo.Echo
	reg  *prometheus.Registry
	m    *metrics
	acc  *access

	timeouts    Timeouts
	pushMem     *weighted    // admission of push bodies (server/ops.go)
	pushFloor   int64        // the least share of pushMem a push takes
	pushesIn    atomic.Int64 // pushes in the server now (server/ops.go boundPushes)
	maxInServer int64
}

// New builds the server and its routes.
func New(cfg Config) *Server {
	s := &Server{cfg: cfg, log: cfg.Logger, now: cfg.Now, reg: cfg.Registry}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.reg == nil {
		s.reg = prometheus.NewRegistry()
	}
	s.timeouts = cfg.Timeouts.withDefaults()
	if cfg.PushMemory <= 0 {
		cfg.PushMemory = DefaultPushMemory
	}
	if cfg.MaxPushes <= 0 {
		cfg.MaxPushes = DefaultMaxPushes
	}
	s.pushMem = newWeighted(cfg.PushMemory)
	s.pushFloor = max(cfg.PushMemory/int64(cfg.MaxPushes), minPushShare)
	if cfg.MaxPushWaiting <= 0 {
		cfg.MaxPushWaiting = DefaultMaxPushWaiting
	}
	s.maxInServer = int64(cfg.MaxPushes + cfg.MaxPushWaiting)
	s.m = newMetrics(s.reg)
	s.m.registerAdmission(s.reg, s.pushMem)
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = s.errorHandler
	e.Use(middleware.RequestIDWithConfig(middleware.RequestIDConfig{
		Generator: func() string { return randomID() },
	}))
	e.Use(s.recoverMiddleware)
	e.Use(s.accessLog)
	e.Use(s.securityHeaders)
	// Every route's body is bounded (server/ops.go); handlers apply the same limits after
	// decompression.
	e.Use(s.limitBody)
	// Answers of 1 KiB or more are gzipped for clients that accept it; the compressor is
	// taken only when an answer is written (server/ops.go).
	e.Use(compressAnswers(1024))
	s.echo = e
	s.initAccess()
	s.routes()
	return s
}

// Handler returns the HTTP handler.
func (s *Server) Handler() http.Handler { return s.echo }

// Echo returns the router, for tests that walk every route.
func (s *Server) Echo() *echo.Echo { return s.echo }

// Serve serves on ln until ctx is cancelled, then shuts down gracefully: it stops
// accepting, lets in-flight requests finish (up to grace), and returns.
func (s *Server) Serve(ctx context.Context, ln net.Listener, grace time.Duration) error {
	hs := &http.Server{
		Handler:           s.echo,
		ReadHeaderTimeout: s.timeouts.ReadHeader, // a slow client cannot hold a connection by dribbling headers
		ReadTimeout:       s.timeouts.Read,       // a 4 MB push over slow 3G still fits
		WriteTimeout:      s.timeouts.Write,      // large exports stream within this
		IdleTimeout:       s.timeouts.Idle,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	err := hs.Shutdown(sctx)
	if e := <-errc; e != nil && !errors.Is(e, http.ErrServerClosed) && err == nil {
		err = e
	}
	return err
}

func (s *Server) recoverMiddleware(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) (err error) {
		defer func() {
			if r := recover(); r != nil {
				if r == http.ErrAbortHandler {
					panic(r)
				}
				s.log.Error("panic in handler", "request_id", requestID(c), "route", c.Path(), "panic", r)
				err = errors.New("panic")
			}
		}()
		return next(c)
	}
}

// accessLog logs one line per request: method, route pattern (not the raw URL, which may
// carry cursors), status, duration and request id. Never bodies, tokens or refs.
func (s *Server) accessLog(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		err := next(c)
		if err != nil {
			c.Error(err)
		}
		status := c.Response().Status
		d := time.Since(start)
		route := c.Path()
		if route == "" {
			route = "unmatched"
		}
		s.m.observeRequest(c.Request().Method, route, status, d)
		lvl := slog.LevelInfo
		if route == "/healthz" || route == "/readyz" || route == "/metrics" {
			lvl = slog.LevelDebug
		}
		s.log.Log(c.Request().Context(), lvl, "http", "method", c.Request().Method, "route", route,
			"status", status, "ms", d.Milliseconds(), "request_id", requestID(c), "bytes_out", c.Response().Size)
		return nil
	}
}
