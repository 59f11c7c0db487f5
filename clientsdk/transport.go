package clientsdk

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/cdtsync/cdtsync/schema"
)

// maxResponseBytes bounds a response body: a pull page of 1000 logs is well under it.
const maxResponseBytes = 32 << 20

// request is one HTTP call to the server.
type request struct {
	method, url string
	token       string
	body        func() any // built on each attempt (a push's device_time is fresh)
	gzip        bool
}

// APIError is a whole request refused by the server: its HTTP status and the error it
// answered. It unwraps to the *schema.Error, so schema.ErrorCode works on it.
type APIError struct {
	Status int
	Err    *schema.Error
}

func (e *APIError) Error() string { return fmt.Sprintf("HTTP %d %s", e.Status, e.Err.Error()) }
func (e *APIError) Unwrap() error { return e.Err }

// NetworkError is a request that got no usable answer: no connection, a timeout, a
// dropped connection, a truncated body. The request may or may not have been applied;
// resending it is safe. It unwraps to a CodeUnavailable *schema.Error and to its cause.
type NetworkError struct {
	Cause error
}

var errUnreachable = &schema.Error{Code: schema.CodeUnavailable,
	Message: "Không kết nối được máy chủ, sẽ thử lại khi có mạng / cannot reach the server; will retry when online"}

func (e *NetworkError) Error() string   { return errUnreachable.Message + ": " + e.Cause.Error() }
func (e *NetworkError) Unwrap() []error { return []error{errUnreachable, e.Cause} }

// exchange is when a request left and when its answer arrived, by the phone's clock.
type exchange struct{ sent, received time.Time }

// call sends one request and decodes a 2xx JSON answer into out. It returns when the
// request left and its answer arrived (zero if it was not sent). Errors are
// *NetworkError, *APIError or the context's error.
func (c *Client) call(ctx context.Context, r request, out any) (exchange, error) {
	var body io.Reader
	var raw []byte
	if r.body != nil {
		b, err := json.Marshal(r.body())
		if err != nil {
			return exchange{}, err
		}
		if r.gzip {
			var buf bytes.Buffer
			zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
			zw.Write(b)
			zw.Close()
			b = buf.Bytes()
		}
		raw = b
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, r.url, body)
	if err != nil {
		return exchange{}, err
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "cdtsync-clientsdk/1")
	if raw != nil {
		req.Header.Set("Content-Type", "application/json")
		if r.gzip {
			req.Header.Set("Content-Encoding", "gzip")
		}
	}
	if r.token != "" {
		req.Header.Set("Authorization", "Bearer "+r.token)
	}
	sent := c.now()
	resp, err := c.hc.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return exchange{}, ctx.Err()
		}
		return exchange{}, &NetworkError{Cause: err}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes+1))
	ex := exchange{sent: sent, received: c.now()}
	if err != nil {
		if ctx.Err() != nil {
			return ex, ctx.Err()
		}
		return ex, &NetworkError{Cause: err}
	}
	if len(b) > maxResponseBytes {
		return ex, &NetworkError{Cause: errors.New("response too large")}
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		if out != nil {
			if err := json.Unmarshal(b, out); err != nil {
				// A 2xx with an unreadable body: a proxy in the way or a cut connection.
				return ex, &NetworkError{Cause: fmt.Errorf("decode answer: %w", err)}
			}
		}
		return ex, nil
	}
	return ex, apiError(resp, b)
}

// apiError builds the *APIError of an error answer.
func apiError(resp *http.Response, body []byte) *APIError {
	e := &schema.Error{}
	if json.Unmarshal(body, e) != nil || e.Code == "" {
		e = &schema.Error{Code: codeOfStatus(resp.StatusCode), Message: fmt.Sprintf("HTTP %d %s", resp.StatusCode, http.StatusText(resp.StatusCode))}
	}
	e.RetryAfter = retryAfter(resp.Header.Get("Retry-After"), time.Now())
	return &APIError{Status: resp.StatusCode, Err: e}
}

// codeOfStatus names an error answer without a JSON body (a proxy's page).
func codeOfStatus(status int) string {
	switch status {
	case http.StatusUnauthorized:
		return schema.CodeUnauthorized
	case http.StatusForbidden:
		return schema.CodeForbidden
	case http.StatusNotFound:
		return schema.CodeNotFound
	case http.StatusRequestEntityTooLarge:
		return schema.CodeTooLarge
	case http.StatusTooManyRequests:
		return schema.CodeTooManyRequests
	case http.StatusServiceUnavailable, http.StatusBadGateway, http.StatusGatewayTimeout:
		return schema.CodeUnavailable
	case http.StatusInsufficientStorage:
		return schema.CodeStorageFull
	}
	if status >= 500 {
		return schema.CodeInternal
	}
	return schema.CodeInvalid
}

// retryAfter reads a Retry-After header: seconds or an HTTP date.
func retryAfter(h string, now time.Time) time.Duration {
	h = strings.TrimSpace(h)
	if h == "" {
		return 0
	}
	if s, err := strconv.Atoi(h); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(h); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// retryable reports whether a failed request should be sent again: no answer, or an
// answer saying nothing was applied and to come back later.
func retryable(err error) bool {
	var ne *NetworkError
	if errors.As(err, &ne) {
		return true
	}
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.Status == http.StatusTooManyRequests || ae.Status >= 500
	}
	return false
}

// withRetry runs fn until it succeeds, fails with an error that is not worth retrying,
// the retries are spent, or ctx ends.
func (c *Client) withRetry(ctx context.Context, what string, fn func() error) error {
	for attempt := 0; ; attempt++ {
		err := fn()
		if err == nil || !retryable(err) || attempt >= c.backoff.Retries {
			return err
		}
		wait := c.delay(attempt, err)
		c.log.Debug("clientsdk: retrying", "what", what, "attempt", attempt+1, "wait_ms", wait.Milliseconds(), "code", schema.ErrorCode(err))
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// delay is the wait before retry number attempt+1: the server's Retry-After if it gave
// one, else exponential backoff with full jitter. Both are capped at Backoff.Max.
func (c *Client) delay(attempt int, err error) time.Duration {
	var ae *APIError
	if errors.As(err, &ae) && ae.Err.RetryAfter > 0 {
		d := ae.Err.RetryAfter + rand.N(ae.Err.RetryAfter/10+time.Millisecond) // spread a herd a little
		return min(d, c.backoff.Max)
	}
	ceil := c.backoff.Initial
	for i := 0; i < attempt && ceil < c.backoff.Max; i++ {
		ceil *= 2
	}
	ceil = min(ceil, c.backoff.Max)
	return rand.N(ceil + 1)
}
