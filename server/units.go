package server

import (
	"context"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/cdtsync/cdtsync/schema"
)

// UnitLister lists administrative units in the caller's scope: the children of parent
// (nil: the caller's own unit and what is below it, as the store defines), without units
// that ended unless includeEnded. A parent outside the scope is CodeNotFound.
type UnitLister interface {
	ListUnits(ctx context.Context, actor schema.Actor, parent *int64, includeEnded bool) ([]schema.Unit, error)
}

// listUnits answers GET /v1/units?parent=&include_ended=.
func (s *Server) listUnits(c echo.Context) error {
	a, err := actorOf(c)
	if err != nil {
		return err
	}
	if s.cfg.Units == nil {
		return unavailable("đơn vị hành chính / units")
	}
	parent, err := queryID(c, "parent")
	if err != nil {
		return err
	}
	ended, err := queryBool(c, "include_ended")
	if err != nil {
		return err
	}
	units, err := s.cfg.Units.ListUnits(c.Request().Context(), a, parent, ended)
	if err != nil {
		return err
	}
	if units == nil {
		units = []schema.Unit{}
	}
	return c.JSON(http.StatusOK, map[string]any{"units": units})
}
