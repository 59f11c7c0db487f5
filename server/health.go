package server

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/cdtsync/cdtsync/schema"
)

// Pinger reports whether the database is open and writable.
type Pinger interface {
	Ping(ctx context.Context) error
}

func (s *Server) healthz(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
}

// readyz answers 200 when the database takes a write, 503 otherwise.
func (s *Server) readyz(c echo.Context) error {
	if s.cfg.Health == nil {
		return schema.Errorf(schema.CodeUnavailable, "Chưa sẵn sàng / not ready")
	}
	ctx, cancel := context.WithTimeout(c.Request().Context(), 3*time.Second)
	defer cancel()
	if err := s.cfg.Health.Ping(ctx); err != nil {
		s.log.Warn("readyz: database not writable", "err", err)
		msg := "Cơ sở dữ liệu không ghi được / database not writable"
		var se *schema.Error
		if errors.As(err, &se) { // the store's reason: full, read-only, locked
			msg += ": " + se.Message
		}
		return &schema.Error{Code: schema.CodeUnavailable, RetryAfter: 5 * time.Second, Message: msg}
	}
	return c.JSON(http.StatusOK, map[string]string{"status": "ready"})
}
