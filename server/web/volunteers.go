package web

import (
	"html/template"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	qrcode "github.com/skip2/go-qrcode"

	"github.com/labstack/echo/v4"

	"github.com/cdtsync/cdtsync/auth"
	"github.com/cdtsync/cdtsync/schema"
)

// Enrolling volunteers: create a volunteer in a team and issue a one-time enrolment code,
// shown as a QR code large enough to scan from a phone and as text to type. The code is
// known only to the session that issued it (the store keeps its hash); the code page
// shows it again on reload until it expires, then offers a new one.

type volunteersData struct {
	Teams      []option
	Volunteers []volunteerRow
	Name       string
}

type volunteerRow struct {
	schema.User
	Team    string
	Devices int
}

// volunteers answers GET /web/volunteers: the form to add a volunteer and the list of
// volunteers, each with a button to issue a code.
func (h *Handler) volunteers(c echo.Context, r *req) error {
	d := &volunteersData{}
	teams, err := h.cfg.Accounts.ListTeams(r.ctx(), r.actor, nil)
	if err != nil {
		return err
	}
	teamName := map[int64]string{}
	for _, t := range teams {
		teamName[t.ID] = t.Name
		d.Teams = append(d.Teams, option{Value: itoa(t.ID), Label: t.Name})
	}
	users, err := h.cfg.Accounts.ListUsers(r.ctx(), r.actor, schema.UserFilter{Role: schema.RoleVolunteer})
	if err != nil {
		return err
	}
	devices, err := h.cfg.Accounts.ListDevices(r.ctx(), r.actor, schema.DeviceFilter{})
	if err != nil {
		return err
	}
	perVolunteer := map[int64]int{}
	for _, dv := range devices {
		perVolunteer[dv.VolunteerID]++
	}
	for _, u := range users {
		row := volunteerRow{User: u, Devices: perVolunteer[u.ID]}
		if u.TeamID != nil {
			row.Team = teamName[*u.TeamID]
		}
		d.Volunteers = append(d.Volunteers, row)
	}
	return h.render(c, http.StatusOK, "volunteers", h.view(r, "volunteers", r.L.T("volunteers_title"), d))
}

// createVolunteer answers POST /web/volunteers (display_name, team_id): the volunteer is
// created, a code issued, and the browser sent to the code page (so a reload does not
// create the volunteer twice).
func (h *Handler) createVolunteer(c echo.Context, r *req) error {
	f := c.Request().PostForm
	team, err := strconv.ParseInt(f.Get("team_id"), 10, 64)
	if err != nil || team <= 0 {
		return schema.Errorf(schema.CodeInvalid, "Hãy chọn tổ / choose a team")
	}
	u, err := h.cfg.Accounts.CreateUser(r.ctx(), r.actor, schema.NewUser{Role: schema.RoleVolunteer,
		DisplayName: strings.TrimSpace(f.Get("display_name")), TeamID: &team})
	if err != nil {
		return err
	}
	h.cfg.Security(c, slog.LevelInfo, "user_created", slog.Int64("user_id", r.actor.UserID), slog.Int64("new_user_id", u.ID),
		slog.String("role", u.Role), slog.String("via", "dashboard"))
	h.sessions.addFlash(r.sess.key, flash{Kind: "ok", Text: r.L.Tf("msg_created", u.DisplayName)})
	return h.issue(c, r, u.ID)
}

// issueCode answers POST /web/volunteers/:id/code: a new code for a volunteer (the
// earlier unused code ends).
func (h *Handler) issueCode(c echo.Context, r *req) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	return h.issue(c, r, id)
}

func (h *Handler) issue(c echo.Context, r *req, volunteerID int64) error {
	code := auth.NewEnrollmentCode()
	hash, _ := auth.HashEnrollmentCode(code)
	issued, err := h.cfg.Accounts.IssueEnrollment(r.ctx(), r.actor, volunteerID, hash, h.now().Add(auth.EnrollmentTTL))
	if err != nil {
		return err
	}
	ic := issuedCode{Code: code, ExpiresAt: issued.ExpiresAt, Volunteer: issued.Volunteer.DisplayName}
	if h.cfg.PublicURL != nil {
		ic.Payload = auth.EnrollmentPayload(h.cfg.PublicURL(c), code)
	} else {
		ic.Payload = auth.EnrollmentPayload("", code)
	}
	if issued.Volunteer.TeamID != nil {
		teams, err := h.cfg.Accounts.ListTeams(r.ctx(), r.actor, nil)
		if err == nil {
			for _, t := range teams {
				if t.ID == *issued.Volunteer.TeamID {
					ic.Team = t.Name
				}
			}
		}
	}
	h.sessions.putCode(r.sess.key, volunteerID, ic)
	h.cfg.Security(c, slog.LevelInfo, "enrolment_code_issued", slog.Int64("user_id", r.actor.UserID),
		slog.Int64("volunteer_id", volunteerID), slog.String("via", "dashboard"))
	return c.Redirect(http.StatusSeeOther, "/web/volunteers/"+itoa(volunteerID)+"/code")
}

type codeData struct {
	VolunteerID int64
	Code        *issuedCode
	QR          template.HTML
	Expires     string
	Devices     []schema.Device
}

// codePage answers GET /web/volunteers/:id/code: the code this session issued for the
// volunteer, as a QR code and as text. A volunteer outside the caller's scope is 404.
func (h *Handler) codePage(c echo.Context, r *req) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	// The device list checks that the volunteer is in the caller's scope (404 if not)
	// and shows the phones already enrolled.
	devices, err := h.cfg.Accounts.ListDevices(r.ctx(), r.actor, schema.DeviceFilter{VolunteerID: &id})
	if err != nil {
		return err
	}
	d := &codeData{VolunteerID: id, Devices: devices}
	if ic, ok := h.sessions.code(r.sess.key, id); ok {
		d.Code = &ic
		d.Expires = r.L.When(ic.ExpiresAt)
		svg, err := qrSVG(ic.Payload, r.L.T("qr_alt"))
		if err != nil {
			return err
		}
		d.QR = svg
	}
	return h.render(c, http.StatusOK, "code", h.view(r, "volunteers", r.L.T("code_title"), d))
}

// qrPixels is about how wide the QR code is drawn, in CSS pixels.
const qrPixels = 320

// qrSVG draws a QR code as inline SVG: one path of dark modules on a white square with
// the standard quiet zone, crisp at any size.
func qrSVG(payload, label string) (template.HTML, error) {
	q, err := qrcode.New(payload, qrcode.Medium)
	if err != nil {
		return "", err
	}
	bm := q.Bitmap() // with a 4-module quiet zone
	n := len(bm)
	var p strings.Builder
	for y, row := range bm {
		for x := 0; x < len(row); {
			if !row[x] {
				x++
				continue
			}
			start := x
			for x < len(row) && row[x] {
				x++
			}
			p.WriteString("M" + strconv.Itoa(start) + " " + strconv.Itoa(y) + "h" + strconv.Itoa(x-start) + "v1h-" + strconv.Itoa(x-start) + "z")
		}
	}
	size := strconv.Itoa(n)
	// A whole number of CSS pixels per module, about 320 pixels in all: every module is
	// the same size on screen, which cameras read best.
	px := strconv.Itoa(n * max(4, qrPixels/n))
	svg := `<svg xmlns="http://www.w3.org/2000/svg" class="qr" id="qr" viewBox="0 0 ` + size + " " + size +
		`" width="` + px + `" height="` + px + `" shape-rendering="crispEdges" role="img" aria-label="` + template.HTMLEscapeString(label) + `">` +
		`<rect width="` + size + `" height="` + size + `" fill="#fff"/><path fill="#000" d="` + p.String() + `"/></svg>`
	return template.HTML(svg), nil
}
