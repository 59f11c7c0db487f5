package server

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/cdtsync/cdtsync/schema"
	"github.com/cdtsync/cdtsync/sync/engine"
)

// Syncer is the sync engine as the handlers need it.
type Syncer interface {
	Push(ctx context.Context, actor schema.Actor, req schema.PushRequest) (schema.PushResponse, error)
	Pull(ctx context.Context, actor schema.Actor, cursor string, limit int) (schema.PullResponse, error)
	Review(ctx context.Context, actor schema.Actor, decisions []engine.Decision) ([]engine.DecisionResult, error)
}

// ReviewLister lists the review queue and explains a log's history, scoped to the actor.
type ReviewLister interface {
	ListReviews(ctx context.Context, actor schema.Actor, f schema.ReviewFilter) (schema.ReviewPage, error)
	LogHistory(ctx context.Context, actor schema.Actor, id string) ([]schema.HistoryItem, error)
}

// push answers POST /v1/sync/push: 200 with one result per operation once the effects are
// on disk; 413 over the limits; 503 with Retry-After when the writer is full or the push
// waited past its deadline before the writer began it. An error answer always means
// nothing of the push was applied (PROTOCOL.md §4.3).
func (s *Server) push(c echo.Context) error {
	a, err := actorOf(c)
	if err != nil {
		return err
	}
	if s.cfg.Sync == nil {
		return unavailable("đồng bộ / sync")
	}
	var req schema.PushRequest
	if err := decodeJSON(c, schema.MaxBodyBytes, &req); err != nil {
		return err
	}
	resp, err := s.cfg.Sync.Push(c.Request().Context(), a, req)
	if err != nil {
		return err // nothing of the push was applied (engine.Push, store Write)
	}
	// The push is on disk. Its answer must not become an error now: admitPush sees the mark
	// and lets no deadline turn it into a 503, and the connection's write deadline
	// (Timeouts.Write, counted from the request's start) is moved past now, so that a push
	// the writer took long to commit still gets its results rather than a cut connection.
	c.Set(pushAppliedKey, true)
	_ = http.NewResponseController(c.Response().Writer).SetWriteDeadline(time.Now().Add(s.timeouts.Write))
	s.m.observePush(resp.Results)
	s.m.observeClock(req.DeviceTime, s.now())
	return c.JSON(http.StatusOK, resp)
}

// pull answers GET /v1/sync/pull?cursor=&limit=.
func (s *Server) pull(c echo.Context) error {
	a, err := actorOf(c)
	if err != nil {
		return err
	}
	if s.cfg.Sync == nil {
		return unavailable("đồng bộ / sync")
	}
	limit := 0
	if v := c.QueryParam("limit"); v != "" {
		if limit, err = strconv.Atoi(v); err != nil || limit < 1 {
			return schema.Errorf(schema.CodeInvalid, "limit phải là số nguyên dương / limit must be a positive integer")
		}
	}
	resp, err := s.cfg.Sync.Pull(c.Request().Context(), a, c.QueryParam("cursor"), limit)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, resp)
}

// listReviews answers GET /v1/reviews with the filters of schema.ReviewFilter.
func (s *Server) listReviews(c echo.Context) error {
	a, err := actorOf(c)
	if err != nil {
		return err
	}
	if s.cfg.Reviews == nil {
		return unavailable("duyệt / reviews")
	}
	f, err := reviewFilter(c)
	if err != nil {
		return err
	}
	page, err := s.cfg.Reviews.ListReviews(c.Request().Context(), a, f)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, page)
}

// reviewFilter reads the review queue's query parameters.
func reviewFilter(c echo.Context) (schema.ReviewFilter, error) {
	var (
		f   schema.ReviewFilter
		err error
	)
	if f.Unit, err = queryID(c, "unit"); err != nil {
		return f, err
	}
	if f.Hamlet, err = queryID(c, "hamlet"); err != nil {
		return f, err
	}
	if f.Volunteer, err = queryID(c, "volunteer"); err != nil {
		return f, err
	}
	if f.Team, err = queryID(c, "team"); err != nil {
		return f, err
	}
	for _, b := range []struct {
		name string
		dst  **bool
	}{{"conflict", &f.Conflict}, {"duplicate", &f.Duplicate}} {
		if c.QueryParam(b.name) == "" {
			continue
		}
		v, err := queryBool(c, b.name)
		if err != nil {
			return f, err
		}
		*b.dst = &v
	}
	f.Status, f.Kind, f.From, f.To, f.Cursor = c.QueryParam("status"), c.QueryParam("kind"), c.QueryParam("from"), c.QueryParam("to"), c.QueryParam("cursor")
	f.ID, f.DuplicateOf = c.QueryParam("id"), c.QueryParam("duplicate_of")
	if v := c.QueryParam("limit"); v != "" {
		if f.Limit, err = strconv.Atoi(v); err != nil || f.Limit < 1 {
			return f, schema.Errorf(schema.CodeInvalid, "limit phải là số nguyên dương / limit must be a positive integer")
		}
	}
	return f, nil
}

// reviewRequest is the body of POST /v1/reviews.
type reviewRequest struct {
	Decisions []engine.Decision `json:"decisions"`
}

// postReviews answers POST /v1/reviews: one result per decision.
func (s *Server) postReviews(c echo.Context) error {
	a, err := actorOf(c)
	if err != nil {
		return err
	}
	if s.cfg.Sync == nil {
		return unavailable("duyệt / reviews")
	}
	var req reviewRequest
	if err := decodeJSON(c, schema.MaxReviewBodyBytes, &req); err != nil {
		return err
	}
	if len(req.Decisions) == 0 {
		return schema.Errorf(schema.CodeInvalid, "Cần ít nhất một quyết định / at least one decision is required")
	}
	results, err := s.cfg.Sync.Review(c.Request().Context(), a, req.Decisions)
	if err != nil {
		return err
	}
	for _, r := range results {
		if r.OK {
			s.log.Info("review", "log_id", r.ID, "status", r.Status, "by", a.UserID)
		}
	}
	return c.JSON(http.StatusOK, map[string]any{"results": results})
}

// logHistory answers GET /v1/logs/:id/history: what each field held and which value won.
func (s *Server) logHistory(c echo.Context) error {
	a, err := actorOf(c)
	if err != nil {
		return err
	}
	if s.cfg.Reviews == nil {
		return unavailable("duyệt / reviews")
	}
	items, err := s.cfg.Reviews.LogHistory(c.Request().Context(), a, c.Param("id"))
	if err != nil {
		return err
	}
	if items == nil {
		items = []schema.HistoryItem{}
	}
	return c.JSON(http.StatusOK, map[string]any{"history": items})
}
