package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// newTransport is one connection pool for the whole run, tuned so the generator reuses
// connections instead of paying a TCP handshake per push: keep-alive, enough idle
// connections for every concurrent phone, no HTTP/2 (cdtsync speaks HTTP/1.1 behind a
// proxy), and transparent gzip of responses only when the run uses gzip.
func newTransport(conns int, gz bool) *http.Transport {
	if conns < 16 {
		conns = 16
	}
	return &http.Transport{
		Proxy:                 nil, // 127.0.0.1 and benchmark hosts: never through a proxy
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:          conns,
		MaxIdleConnsPerHost:   conns,
		IdleConnTimeout:       90 * time.Second,
		ResponseHeaderTimeout: 0, // the client's Timeout bounds the whole request
		DisableCompression:    !gz,
		ForceAttemptHTTP2:     false,
		WriteBufferSize:       64 << 10,
		ReadBufferSize:        64 << 10,
	}
}

// apiError is an HTTP answer other than 2xx: its status, the error body's code and
// message, and Retry-After if the server sent one.
type apiError struct {
	Status     int
	Code       string
	Message    string
	RetryAfter time.Duration
	HasRetry   bool
}

func (e *apiError) Error() string {
	return fmt.Sprintf("HTTP %d %s: %s", e.Status, e.Code, e.Message)
}

// retryAfter reads a Retry-After header in seconds.
func retryAfter(h http.Header) (time.Duration, bool) {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0, false
	}
	s, err := strconv.Atoi(v)
	if err != nil || s < 0 {
		return 0, false
	}
	return time.Duration(s) * time.Second, true
}

func decodeAPIError(resp *http.Response, body []byte) *apiError {
	e := &apiError{Status: resp.StatusCode}
	var eb struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	}
	if json.Unmarshal(body, &eb) == nil {
		e.Code, e.Message = eb.Code, eb.Message
	}
	if e.Code == "" {
		e.Code = strings.ToLower(strings.ReplaceAll(http.StatusText(resp.StatusCode), " ", "_"))
	}
	e.RetryAfter, e.HasRetry = retryAfter(resp.Header)
	return e
}

// api is a staff session against the server, for the setup: sign-in, units, teams,
// volunteers, enrolment codes, and the phones' enrolments.
type api struct {
	base string
	hc   *http.Client

	mu             sync.Mutex
	access         string
	refresh        string
	throttled      atomic.Int64 // 429s honoured during setup
	throttleWaited atomic.Int64 // nanoseconds
}

// noToken marks a public route (sign-in, refresh, enrolment); an empty token means the
// staff session's.
const noToken = "-"

// call sends a JSON request and decodes a 2xx answer into out. A 429 or 503 with
// Retry-After is waited out and retried (sign-in and enrolment are throttled per address);
// a staff 401 refreshes the session once.
func (a *api) call(ctx context.Context, method, path, token string, hdr http.Header, in, out any) error {
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return err
		}
	}
	staff := token == ""
	refreshed := false
	for attempt := 0; ; attempt++ {
		if staff {
			a.mu.Lock()
			token = a.access
			a.mu.Unlock()
		}
		req, err := http.NewRequestWithContext(ctx, method, a.base+path, bytes.NewReader(body))
		if err != nil {
			return err
		}
		if in != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		for k, v := range hdr {
			req.Header[k] = v
		}
		if token != "" && token != noToken {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := a.hc.Do(req)
		if err != nil {
			if ctx.Err() != nil || attempt >= 5 {
				return fmt.Errorf("%s %s: %w", method, path, err)
			}
			sleepCtx(ctx, time.Duration(attempt+1)*200*time.Millisecond)
			continue
		}
		b, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
		resp.Body.Close()
		if err != nil {
			return fmt.Errorf("%s %s: %w", method, path, err)
		}
		if resp.StatusCode >= 200 && resp.StatusCode < 300 {
			if out != nil {
				if err := json.Unmarshal(b, out); err != nil {
					return fmt.Errorf("%s %s: decoding the answer: %w", method, path, err)
				}
			}
			return nil
		}
		e := decodeAPIError(resp, b)
		switch {
		case (e.Status == http.StatusTooManyRequests || e.Status == http.StatusServiceUnavailable) && e.HasRetry && attempt < 1000:
			a.throttled.Add(1)
			a.throttleWaited.Add(int64(e.RetryAfter))
			if !sleepCtx(ctx, e.RetryAfter) {
				return ctx.Err()
			}
			continue
		case e.Status == http.StatusUnauthorized && staff && !refreshed && path != "/v1/auth/login" && path != "/v1/auth/refresh":
			refreshed = true
			if err := a.refreshStaff(ctx); err != nil {
				return err
			}
			continue
		}
		return fmt.Errorf("%s %s: %w", method, path, e)
	}
}

type tokenPair struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	ServerTime   string `json:"server_time"`
}

func (a *api) login(ctx context.Context, user, password string) error {
	var tp tokenPair
	if err := a.call(ctx, http.MethodPost, "/v1/auth/login", noToken, nil,
		map[string]string{"username": user, "password": password}, &tp); err != nil {
		return err
	}
	a.mu.Lock()
	a.access, a.refresh = tp.AccessToken, tp.RefreshToken
	a.mu.Unlock()
	return nil
}

func (a *api) refreshStaff(ctx context.Context) error {
	a.mu.Lock()
	rt := a.refresh
	a.mu.Unlock()
	var tp tokenPair
	if err := a.call(ctx, http.MethodPost, "/v1/auth/refresh", noToken, nil, map[string]string{"refresh_token": rt}, &tp); err != nil {
		return err
	}
	a.mu.Lock()
	a.access, a.refresh = tp.AccessToken, tp.RefreshToken
	a.mu.Unlock()
	return nil
}

// The parts of the API's answers the setup reads.
type (
	apiUnit struct {
		ID       int64  `json:"id"`
		ParentID *int64 `json:"parent_id"`
		Level    string `json:"level"`
		Name     string `json:"name"`
	}
	apiTeam struct {
		ID     int64  `json:"id"`
		Name   string `json:"name"`
		UnitID int64  `json:"unit_id"`
	}
	apiUser struct {
		ID          int64  `json:"id"`
		Role        string `json:"role"`
		DisplayName string `json:"display_name"`
		UnitID      int64  `json:"unit_id"`
		TeamID      *int64 `json:"team_id"`
		RevokedAt   string `json:"revoked_at"`
	}
	apiMe struct {
		User apiUser `json:"user"`
		Unit apiUnit `json:"unit"`
	}
	apiEnrolment struct {
		Code string `json:"code"`
	}
	apiEnrolled struct {
		tokenPair
		CitizenKey string `json:"citizen_key"`
		Volunteer  struct {
			ID     int64 `json:"id"`
			TeamID int64 `json:"team_id"`
			UnitID int64 `json:"unit_id"`
		} `json:"volunteer"`
		Device struct {
			ID       int64  `json:"id"`
			DeviceID string `json:"device_id"`
		} `json:"device"`
	}
)

func (a *api) me(ctx context.Context) (apiMe, error) {
	var me apiMe
	err := a.call(ctx, http.MethodGet, "/v1/me", "", nil, nil, &me)
	return me, err
}

func (a *api) children(ctx context.Context, parent int64) ([]apiUnit, error) {
	var r struct {
		Units []apiUnit `json:"units"`
	}
	err := a.call(ctx, http.MethodGet, "/v1/units?parent="+strconv.FormatInt(parent, 10), "", nil, nil, &r)
	return r.Units, err
}

func (a *api) teams(ctx context.Context, unit int64) ([]apiTeam, error) {
	var r struct {
		Teams []apiTeam `json:"teams"`
	}
	err := a.call(ctx, http.MethodGet, "/v1/teams?unit="+strconv.FormatInt(unit, 10), "", nil, nil, &r)
	return r.Teams, err
}

func (a *api) createTeam(ctx context.Context, name string, unit int64) (apiTeam, error) {
	var t apiTeam
	err := a.call(ctx, http.MethodPost, "/v1/teams", "", nil, map[string]any{"name": name, "unit_id": unit}, &t)
	return t, err
}

func (a *api) volunteers(ctx context.Context, team int64) ([]apiUser, error) {
	var r struct {
		Users []apiUser `json:"users"`
	}
	err := a.call(ctx, http.MethodGet, "/v1/users?role=volunteer&team="+strconv.FormatInt(team, 10), "", nil, nil, &r)
	return r.Users, err
}

func (a *api) createVolunteer(ctx context.Context, name string, team int64) (apiUser, error) {
	var u apiUser
	err := a.call(ctx, http.MethodPost, "/v1/users", "", nil,
		map[string]any{"role": "volunteer", "display_name": name, "team_id": team}, &u)
	return u, err
}

func (a *api) enrolmentCode(ctx context.Context, volunteer int64) (string, error) {
	var e apiEnrolment
	err := a.call(ctx, http.MethodPost, "/v1/enrollments", "", nil, map[string]any{"volunteer_id": volunteer}, &e)
	return e.Code, err
}

// enroll redeems a code as a phone. addr goes in X-Forwarded-For: each simulated phone
// has its own address, as real phones do; a server behind a proxy (--trust-proxy)
// throttles enrolments per address, one without ignores the header.
func (a *api) enroll(ctx context.Context, code, deviceID, name, addr string) (apiEnrolled, error) {
	var e apiEnrolled
	err := a.call(ctx, http.MethodPost, "/v1/enroll", noToken, http.Header{"X-Forwarded-For": {addr}},
		map[string]string{"code": code, "device_id": deviceID, "device_name": name}, &e)
	return e, err
}

// refreshDevice rotates a phone's tokens.
func (a *api) refreshDevice(ctx context.Context, refresh string) (tokenPair, error) {
	var tp tokenPair
	err := a.call(ctx, http.MethodPost, "/v1/auth/refresh", noToken, nil, map[string]string{"refresh_token": refresh}, &tp)
	return tp, err
}

// sleepCtx sleeps for d or until ctx is done; it reports whether the whole time passed.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
