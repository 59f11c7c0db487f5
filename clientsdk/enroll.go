package clientsdk

import (
	"context"
	"database/sql"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/cdtsync/cdtsync/schema"
)

// Volunteer is a volunteer enrolled on this phone.
type Volunteer struct {
	ID     int64  `json:"id"` // the server's user id
	Name   string `json:"display_name"`
	TeamID int64  `json:"team_id"`
	UnitID int64  `json:"unit_id"`
	// DeviceRow is the server's id of this enrolment (one volunteer on this phone).
	DeviceRow  int64     `json:"device_row"`
	EnrolledAt time.Time `json:"enrolled_at"`
	Current    bool      `json:"current"`
	// NeedsEnrollment is set when the server refused the volunteer's credentials (the
	// device was revoked, or the refresh token was spent elsewhere): Sync skips them, and
	// their unsynced operations wait until Enroll with a new code.
	NeedsEnrollment bool `json:"needs_enrollment"`
}

// enrollResponse is the answer of POST /v1/enroll.
type enrollResponse struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	ExpiresIn    int    `json:"expires_in"`
	ServerTime   string `json:"server_time"`
	CitizenKey   string `json:"citizen_key"`
	Volunteer    struct {
		ID          int64  `json:"id"`
		DisplayName string `json:"display_name"`
		TeamID      int64  `json:"team_id"`
		UnitID      int64  `json:"unit_id"`
	} `json:"volunteer"`
	Device struct {
		ID int64 `json:"id"`
	} `json:"device"`
}

// tokenResponse is the answer of POST /v1/auth/refresh.
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	ExpiresIn    int    `json:"expires_in"`
	ServerTime   string `json:"server_time"`
}

// ParseEnrollmentQR reads the text of an enrolment QR code
// ("cdtsync://enroll?code=7KQ2M-XH4PA&server=https%3A%2F%2F…") and returns the server's
// URL (empty if the code carries none) and the code. Anything else is CodeInvalid.
func ParseEnrollmentQR(payload string) (serverURL, code string, err error) {
	u, perr := url.Parse(strings.TrimSpace(payload))
	if perr != nil || u.Scheme != "cdtsync" || (u.Host != "enroll" && u.Opaque != "enroll" && !strings.HasSuffix(u.Path, "enroll")) {
		return "", "", schema.Errorf(schema.CodeInvalid, "Mã QR không phải mã đăng ký cdtsync / not a cdtsync enrolment QR code")
	}
	code = u.Query().Get("code")
	if code == "" {
		return "", "", schema.Errorf(schema.CodeInvalid, "Mã QR không có mã đăng ký / the QR code carries no enrolment code")
	}
	return u.Query().Get("server"), code, nil
}

// normalServerURL checks and trims a server's base URL.
func normalServerURL(s string) (string, error) {
	s = strings.TrimRight(strings.TrimSpace(s), "/")
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", schema.Errorf(schema.CodeInvalid, "Địa chỉ máy chủ không hợp lệ: cần dạng https://… / invalid server URL: https://… expected")
	}
	return s, nil
}

// Enroll redeems a one-time enrolment code (typed as shown, "7KQ2M-XH4PA", or the text of
// its QR code) with the server at serverURL, and adds the code's volunteer to this phone:
// their credentials go to the SecretStore, the deployment's citizen key too. The first
// volunteer enrolled becomes the current one. Enrolling a volunteer again (after a
// revocation) keeps their unsynced operations and lets Sync push them.
//
// Errors: CodeInvalid for a malformed code or URL, or a server other than the one this
// phone is enrolled with; CodeUnauthorized for a code that is unknown, used or expired;
// CodeTooManyRequests after too many attempts; a *NetworkError when the server cannot be
// reached. A code the server redeemed but whose answer was lost is spent: ask the
// coordinator for a new one.
func (c *Client) Enroll(ctx context.Context, serverURL, code string) (Volunteer, error) {
	ctx, done, err := c.begin(ctx)
	if err != nil {
		return Volunteer{}, err
	}
	defer done()
	if strings.HasPrefix(strings.TrimSpace(code), "cdtsync:") {
		qrServer, qrCode, err := ParseEnrollmentQR(code)
		if err != nil {
			return Volunteer{}, err
		}
		if serverURL == "" {
			serverURL = qrServer
		}
		code = qrCode
	}
	if serverURL == "" {
		if serverURL, err = getMeta(ctx, c.db, "server_url"); err != nil {
			return Volunteer{}, err
		}
	}
	base, err := normalServerURL(serverURL)
	if err != nil {
		return Volunteer{}, err
	}
	known, err := getMeta(ctx, c.db, "server_url")
	if err != nil {
		return Volunteer{}, err
	}
	if known != "" && known != base {
		var n int
		if err := c.db.QueryRowContext(ctx, `SELECT count(*) FROM volunteers`).Scan(&n); err != nil {
			return Volunteer{}, err
		}
		if n > 0 {
			return Volunteer{}, schema.Errorf(schema.CodeInvalid,
				"Máy này đã đăng ký với máy chủ %s / this phone is enrolled with the server %s", known, known)
		}
	}
	var resp enrollResponse
	body := map[string]string{"code": code, "device_id": c.deviceID, "device_name": c.opts.DeviceName}
	// Not retried: the volunteer is waiting, and a lost answer may mean the one-time code
	// was spent. The error says what to do.
	received, err := c.call(ctx, request{method: http.MethodPost, url: base + "/v1/enroll", body: func() any { return body }}, &resp)
	if err != nil {
		return Volunteer{}, err
	}
	c.learnServerTime(ctx, resp.ServerTime, received)
	key, err := base64.StdEncoding.DecodeString(resp.CitizenKey)
	if err != nil || len(key) == 0 || resp.Volunteer.ID == 0 || resp.RefreshToken == "" {
		return Volunteer{}, schema.Errorf(schema.CodeInternal, "Máy chủ trả lời đăng ký không đầy đủ / incomplete enrolment answer from the server")
	}
	// Credentials first: if the app dies now, the phone has them; the volunteer row is
	// written next and a second Enroll with a new code repairs a half-done one.
	if err := c.secrets.Put(secretCitizenKey, key); err != nil {
		return Volunteer{}, err
	}
	t := tokens{Access: resp.AccessToken, Refresh: resp.RefreshToken,
		ExpiresAt: c.serverNow().Add(time.Duration(resp.ExpiresIn) * time.Second)}
	if err := c.saveTokens(resp.Volunteer.ID, t); err != nil {
		return Volunteer{}, err
	}
	enrolledAt := c.now()
	err = c.inTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO volunteers (id, display_name, unit_id, team_id, device_row, enrolled_at)
			VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT (id) DO UPDATE SET display_name = excluded.display_name, unit_id = excluded.unit_id,
				team_id = excluded.team_id, device_row = excluded.device_row, enrolled_at = excluded.enrolled_at,
				needs_enrollment = 0, last_error_code = '', last_error = ''`,
			resp.Volunteer.ID, resp.Volunteer.DisplayName, resp.Volunteer.UnitID, resp.Volunteer.TeamID, resp.Device.ID, timeString(enrolledAt))
		if err != nil {
			return err
		}
		if err := setMeta(ctx, tx, "server_url", base); err != nil {
			return err
		}
		cur, err := getMeta(ctx, tx, "current_volunteer")
		if err != nil {
			return err
		}
		if cur == "" {
			if err := setMeta(ctx, tx, "current_volunteer", itoa(resp.Volunteer.ID)); err != nil {
				return err
			}
		}
		return c.saveClock(ctx, tx)
	})
	if err != nil {
		return Volunteer{}, err
	}
	c.cur.CompareAndSwap(0, resp.Volunteer.ID)
	c.log.Info("clientsdk: enrolled", "volunteer_id", resp.Volunteer.ID, "device_row", resp.Device.ID)
	return c.Volunteer(ctx, resp.Volunteer.ID)
}

const volunteerColumns = `id, display_name, unit_id, team_id, device_row, enrolled_at, needs_enrollment,
	cursor, resetting, last_sync_at, last_attempt_at, last_error_code, last_error`

// volunteerRow is a volunteers row with its sync state.
type volunteerRow struct {
	Volunteer
	cursor        string
	resetting     bool
	lastSyncAt    string
	lastAttemptAt string
	lastErrorCode string
	lastError     string
}

func scanVolunteer(s interface{ Scan(...any) error }) (volunteerRow, error) {
	var (
		v  volunteerRow
		at string
	)
	err := s.Scan(&v.ID, &v.Name, &v.UnitID, &v.TeamID, &v.DeviceRow, &at, &v.NeedsEnrollment,
		&v.cursor, &v.resetting, &v.lastSyncAt, &v.lastAttemptAt, &v.lastErrorCode, &v.lastError)
	v.EnrolledAt = parseTime(at)
	return v, err
}

func (c *Client) volunteerRows(ctx context.Context) ([]volunteerRow, error) {
	cur, err := c.currentID(ctx)
	if err != nil {
		return nil, err
	}
	rows, err := c.db.QueryContext(ctx, `SELECT `+volunteerColumns+` FROM volunteers ORDER BY enrolled_at, id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []volunteerRow
	for rows.Next() {
		v, err := scanVolunteer(rows)
		if err != nil {
			return nil, err
		}
		v.Current = v.ID == cur
		out = append(out, v)
	}
	return out, rows.Err()
}

// Volunteers lists the volunteers enrolled on this phone, in enrolment order; Current
// marks the current one.
func (c *Client) Volunteers(ctx context.Context) ([]Volunteer, error) {
	rows, err := c.volunteerRows(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Volunteer, len(rows))
	for i, r := range rows {
		out[i] = r.Volunteer
	}
	return out, nil
}

// Volunteer returns one enrolled volunteer; CodeNotFound if not enrolled here.
func (c *Client) Volunteer(ctx context.Context, id int64) (Volunteer, error) {
	cur, err := c.currentID(ctx)
	if err != nil {
		return Volunteer{}, err
	}
	v, err := scanVolunteer(c.db.QueryRowContext(ctx, `SELECT `+volunteerColumns+` FROM volunteers WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Volunteer{}, schema.Errorf(schema.CodeNotFound, "Thành viên %d chưa đăng ký trên máy này / volunteer %d is not enrolled on this phone", id, id)
	}
	v.Current = v.ID == cur
	return v.Volunteer, err
}

func (c *Client) currentID(ctx context.Context) (int64, error) {
	return c.cur.Load(), ctx.Err()
}

// currentOrErr returns the current volunteer's id, or CodeUnauthorized with nobody
// enrolled.
func (c *Client) currentOrErr() (int64, error) {
	if id := c.cur.Load(); id != 0 {
		return id, nil
	}
	return 0, errNotEnrolled()
}

// Current returns the current volunteer: the one Record, Edit, Delete and Logs act for.
// With nobody enrolled it fails with CodeUnauthorized.
func (c *Client) Current(ctx context.Context) (Volunteer, error) {
	id, err := c.currentID(ctx)
	if err != nil {
		return Volunteer{}, err
	}
	if id == 0 {
		return Volunteer{}, errNotEnrolled()
	}
	return c.Volunteer(ctx, id)
}

// SetCurrent makes an enrolled volunteer the current one (a sister borrows the phone).
// Nothing of the other volunteers is discarded: their logs, outboxes and credentials stay,
// and Sync keeps pushing them. CodeNotFound if the volunteer is not enrolled here.
func (c *Client) SetCurrent(ctx context.Context, id int64) error {
	if _, err := c.Volunteer(ctx, id); err != nil {
		return err
	}
	if err := setMeta(ctx, c.db, "current_volunteer", itoa(id)); err != nil {
		return err
	}
	c.cur.Store(id)
	return nil
}

// session is one volunteer's credentials during a Sync.
type session struct {
	volunteer int64
	base      string
	tok       tokens
}

// errReenrol is the error of a volunteer whose credentials the server refused for good.
func errReenrol(name string) *schema.Error {
	return schema.Errorf(schema.CodeUnauthorized,
		"Thiết bị của %s đã bị thu hồi hoặc hết hạn; cần mã đăng ký thiết bị mới / %s's enrolment on this phone was revoked or expired; a new enrolment code is needed", name, name)
}

// authorized runs fn with a valid access token: it refreshes an expired one first, and
// once more if the server answers 401.
func (c *Client) authorized(ctx context.Context, s *session, fn func(token string) error) error {
	if s.tok.Access == "" || !c.serverNow().Before(s.tok.ExpiresAt.Add(-30*time.Second)) {
		if err := c.refresh(ctx, s); err != nil {
			return err
		}
	}
	err := fn(s.tok.Access)
	var ae *APIError
	if errors.As(err, &ae) && ae.Status == http.StatusUnauthorized {
		if err := c.refresh(ctx, s); err != nil {
			return err
		}
		return fn(s.tok.Access)
	}
	return err
}

// refresh rotates the volunteer's refresh token. The new pair is stored durably before it
// is used: the old refresh token stops working on the server. A refused refresh marks the
// volunteer as needing a new enrolment.
func (c *Client) refresh(ctx context.Context, s *session) error {
	var resp tokenResponse
	received, err := c.call(ctx, request{method: http.MethodPost, url: s.base + "/v1/auth/refresh",
		body: func() any { return map[string]string{"refresh_token": s.tok.Refresh} }}, &resp)
	var ae *APIError
	if errors.As(err, &ae) && ae.Status == http.StatusUnauthorized {
		if _, xerr := c.db.ExecContext(ctx, `UPDATE volunteers SET needs_enrollment = 1 WHERE id = ?`, s.volunteer); xerr != nil {
			return xerr
		}
		v, _ := c.Volunteer(ctx, s.volunteer)
		c.log.Warn("clientsdk: refresh refused; the volunteer must enrol again", "volunteer_id", s.volunteer)
		return &APIError{Status: ae.Status, Err: errReenrol(v.Name)}
	}
	if err != nil {
		return err
	}
	c.learnServerTime(ctx, resp.ServerTime, received)
	t := tokens{Access: resp.AccessToken, Refresh: resp.RefreshToken,
		ExpiresAt: c.serverNow().Add(time.Duration(resp.ExpiresIn) * time.Second)}
	if err := c.saveTokens(s.volunteer, t); err != nil {
		return err
	}
	s.tok = t
	return nil
}
