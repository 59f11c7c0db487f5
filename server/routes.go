package server

import "github.com/cdtsync/cdtsync/schema"

// routes registers every route. Each area's routes are listed here, in one place, so a
// reader sees the whole API; the OpenAPI test walks the same router.
func (s *Server) routes() {
	e := s.echo
	e.GET("/healthz", s.healthz)
	e.GET("/readyz", s.readyz)
	e.GET("/metrics", s.metricsHandler())
	e.GET("/openapi.json", s.openapiHandler())

	// Accounts, devices and access (server/access.go). Sign-in, refresh, sign-out and
	// enrolment are public: they are how a caller gets credentials.
	e.POST("/v1/auth/login", s.login)
	e.POST("/v1/auth/refresh", s.refresh)
	e.POST("/v1/auth/logout", s.logout)
	e.POST("/v1/enroll", s.enroll)
	e.GET("/v1/me", s.me, s.auth())
	e.GET("/v1/units", s.listUnits, s.auth())
	e.GET("/v1/teams", s.listTeams, s.auth(schema.RoleCoordinator, schema.RoleOfficer, schema.RoleAdmin))
	e.POST("/v1/teams", s.createTeam, s.auth(schema.RoleCoordinator, schema.RoleAdmin))
	e.GET("/v1/users", s.listUsers, s.auth(schema.RoleCoordinator, schema.RoleOfficer, schema.RoleAdmin))
	e.POST("/v1/users", s.createUser, s.auth(schema.RoleCoordinator, schema.RoleAdmin))
	e.POST("/v1/users/:id/revoke", s.revokeUser, s.auth(schema.RoleCoordinator, schema.RoleAdmin))
	e.POST("/v1/enrollments", s.createEnrollment, s.auth(schema.RoleCoordinator, schema.RoleAdmin))
	e.GET("/v1/devices", s.listDevices, s.auth(schema.RoleCoordinator, schema.RoleOfficer, schema.RoleAdmin))
	e.POST("/v1/devices/:id/revoke", s.revokeDevice, s.auth(schema.RoleCoordinator, schema.RoleAdmin))

	// Sync and review (server/sync.go).
	e.POST("/v1/sync/push", s.push, s.boundPushes, s.auth(schema.RoleVolunteer), s.admitPush) // bound, admission: server/ops.go
	e.GET("/v1/sync/pull", s.pull, s.auth(schema.RoleVolunteer))
	e.GET("/v1/reviews", s.listReviews, s.auth(schema.RoleCoordinator, schema.RoleAdmin))
	e.POST("/v1/reviews", s.postReviews, s.auth(schema.RoleCoordinator, schema.RoleAdmin))
	e.GET("/v1/logs/:id/history", s.logHistory, s.auth(schema.RoleCoordinator, schema.RoleAdmin))

	// Reports (server/reports.go).
	e.GET("/v1/reports/coverage", s.coverage, s.auth(schema.RoleCoordinator, schema.RoleOfficer, schema.RoleAdmin))
	e.GET("/v1/reports/teams", s.teamsReport, s.auth(schema.RoleCoordinator, schema.RoleOfficer, schema.RoleAdmin))
	e.GET("/v1/reports/attention", s.attention, s.auth(schema.RoleCoordinator, schema.RoleOfficer, schema.RoleAdmin))

	// The web dashboard (server/web, wired in server/dashboard.go): HTML pages under /web/
	// with their own session-cookie sign-in, listed in web.Handler.Register.
	s.dashboard().Register(e)
}
