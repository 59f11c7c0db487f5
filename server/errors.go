package server

import (
	"errors"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/cdtsync/cdtsync/schema"
)

// statusOf is the one table from error codes to HTTP statuses.
var statusOf = map[string]int{
	schema.CodeInvalid:         http.StatusBadRequest,
	schema.CodeInvalidField:    http.StatusBadRequest,
	schema.CodeNotFound:        http.StatusNotFound,
	schema.CodeConflict:        http.StatusConflict,
	schema.CodeUnauthorized:    http.StatusUnauthorized,
	schema.CodeForbidden:       http.StatusForbidden,
	schema.CodeTooLarge:        http.StatusRequestEntityTooLarge,
	schema.CodeTooManyRequests: http.StatusTooManyRequests,
	schema.CodeUnavailable:     http.StatusServiceUnavailable,
	schema.CodeStorageFull:     http.StatusInsufficientStorage,
	schema.CodeInternal:        http.StatusInternalServerError,
}

// HTTPStatus returns the HTTP status for an error code.
func HTTPStatus(code string) int {
	if s, ok := statusOf[code]; ok {
		return s
	}
	return http.StatusBadRequest
}

// codeOfStatus names Echo's own errors (unknown route, wrong method, body limit).
func codeOfStatus(status int) string {
	switch status {
	case http.StatusNotFound:
		return schema.CodeNotFound
	case http.StatusMethodNotAllowed:
		return schema.CodeInvalid
	case http.StatusRequestEntityTooLarge:
		return schema.CodeTooLarge
	case http.StatusUnauthorized:
		return schema.CodeUnauthorized
	case http.StatusForbidden:
		return schema.CodeForbidden
	case http.StatusTooManyRequests:
		return schema.CodeTooManyRequests
	case http.StatusServiceUnavailable:
		return schema.CodeUnavailable
	}
	if status >= 500 {
		return schema.CodeInternal
	}
	return schema.CodeInvalid
}

// errorHandler writes every error as JSON {code, message}. Unknown errors are 500 with a
// generic message, and logged with the request id.
func (s *Server) errorHandler(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	var (
		body   schema.Error
		status int
		se     *schema.Error
		he     *echo.HTTPError
	)
	switch {
	case errors.As(err, &se):
		body, status = *se, HTTPStatus(se.Code)
	case errors.As(err, &he):
		status = he.Code
		body.Code = codeOfStatus(status)
		switch status {
		case http.StatusNotFound:
			body.Message = "Không tìm thấy / not found"
		case http.StatusMethodNotAllowed:
			body.Message = "Phương thức không được hỗ trợ / method not allowed"
		case http.StatusRequestEntityTooLarge:
			body.Message = "Yêu cầu quá lớn / request body too large"
		default:
			body.Message = http.StatusText(status)
		}
	default:
		status = http.StatusInternalServerError
		body.Code, body.Message = schema.CodeInternal, schema.ErrorMessage(err)
	}
	if status >= 500 {
		s.log.Error("request failed", "request_id", requestID(c), "method", c.Request().Method,
			"route", c.Path(), "status", status, "err", err)
	}
	if se != nil && se.RetryAfter > 0 {
		c.Response().Header().Set("Retry-After", strconv.Itoa(int((se.RetryAfter+999999999)/1e9)))
	}
	if c.Request().Method == http.MethodHead {
		c.NoContent(status)
		return
	}
	if err := c.JSON(status, body); err != nil {
		s.log.Warn("writing error response", "request_id", requestID(c), "err", err)
	}
}

func requestID(c echo.Context) string {
	return c.Response().Header().Get(echo.HeaderXRequestID)
}

// logAttrs keeps secrets out of logs: only ids.
var _ = slog.String
