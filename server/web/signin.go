package web

import (
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/cdtsync/cdtsync/schema"
)

// page wraps a dashboard handler: it requires a live session of a user who is still
// valid in the database (revoked: signed out at once), a role among roles (none: any
// staff), and on POST the session's CSRF token; it renders the handler's error as a page.
func (h *Handler) page(fn func(c echo.Context, r *req) error, roles ...string) echo.HandlerFunc {
	return func(c echo.Context) error {
		setPageHeaders(c)
		l := h.locOf(c)
		if h.cfg.Accounts == nil {
			return h.fail(c, l, nil, schema.Errorf(schema.CodeUnavailable, "dashboard"))
		}
		sess := h.sessionOf(c)
		if sess == nil {
			return h.signInPage(c, l, http.StatusUnauthorized, "msg_sign_in_first", "")
		}
		ctx := c.Request().Context()
		a, err := h.cfg.Accounts.ActorFor(ctx, sess.userID, 0)
		if err != nil {
			if schema.ErrorCode(err) != schema.CodeUnauthorized {
				return h.fail(c, l, nil, err)
			}
			// The user was revoked (or deleted): end every session they have.
			h.sessions.endUser(sess.userID)
			h.setCookie(c, cookieSession, "", -1)
			h.cfg.Security(c, slog.LevelInfo, "dashboard_session_ended", slog.Int64("user_id", sess.userID),
				slog.String("reason", "revoked"))
			return h.signInPage(c, l, http.StatusUnauthorized, "msg_session_ended", "")
		}
		if !a.IsStaff() {
			h.sessions.end(sess.key)
			return h.signInPage(c, l, http.StatusUnauthorized, "msg_volunteer_no_dashboard", "")
		}
		if c.Request().Method == http.MethodPost {
			if err := parseForm(c); err != nil {
				return h.fail(c, l, nil, schema.Errorf(schema.CodeTooLarge, "Biểu mẫu quá lớn / the form is too large"))
			}
			tok := c.Request().PostForm.Get("csrf")
			if tok == "" {
				tok = c.Request().Header.Get("X-CSRF-Token")
			}
			if crossSite(c) || !sameToken(tok, sess.csrf) {
				h.cfg.Security(c, slog.LevelWarn, "dashboard_csrf_refused", slog.Int64("user_id", a.UserID), slog.String("route", c.Path()))
				return h.csrfRefused(c, l)
			}
		}
		r := &req{c: c, actor: a, sess: sess, L: l}
		if r.prof, err = h.cfg.Accounts.Profile(ctx, a); err != nil {
			return h.fail(c, l, nil, err)
		}
		if len(roles) > 0 && !hasRole(a.Role, roles) {
			return h.fail(c, l, r, schema.Errorf(schema.CodeForbidden, "forbidden"))
		}
		if err := fn(c, r); err != nil {
			return h.fail(c, l, r, err)
		}
		return nil
	}
}

func hasRole(role string, roles []string) bool {
	for _, x := range roles {
		if x == role {
			return true
		}
	}
	return false
}

func (h *Handler) csrfRefused(c echo.Context, l loc) error {
	v := &view{L: l, Title: l.T("err_forbidden"), RequestID: requestID(c),
		Data: errorData{Heading: l.T("err_forbidden"), Message: l.T("err_csrf_msg")}}
	return h.render(c, http.StatusForbidden, "error", v)
}

// locOf is the request's language: the language cookie, Vietnamese by default.
func (h *Handler) locOf(c echo.Context) loc {
	return loc{EN: h.cookie(c, cookieLang) == "en"}
}

// loginData is the sign-in page's content.
type loginData struct {
	Notice   string // a message key: why the page is shown
	Error    string // a sign-in failure, in the page's language
	Username string
	Next     string
	Token    string // the double-submitted token of the form
}

// signInPage shows the sign-in form with the given status; next is where to go after
// signing in (the page asked for, for GETs).
func (h *Handler) signInPage(c echo.Context, l loc, status int, notice, errText string) error {
	next := ""
	if c.Request().Method == http.MethodGet && c.Path() != "/web/login" {
		next = c.Request().URL.RequestURI()
	}
	return h.renderSignIn(c, l, status, loginData{Notice: notice, Error: errText, Next: next})
}

func (h *Handler) renderSignIn(c echo.Context, l loc, status int, d loginData) error {
	tok := h.cookie(c, cookiePre)
	if len(tok) != 43 {
		tok = randomToken()
		h.setCookie(c, cookiePre, tok, 12*3600)
	}
	d.Token = tok
	d.Next = safeNext(d.Next)
	v := &view{L: l, Title: l.T("login_title"), RequestID: requestID(c), Here: c.Request().URL.RequestURI(), Data: d}
	return h.render(c, status, "login", v)
}

// loginPage answers GET /web/login: the sign-in form, or the dashboard when signed in.
func (h *Handler) loginPage(c echo.Context) error {
	setPageHeaders(c)
	l := h.locOf(c)
	if s := h.sessionOf(c); s != nil && c.QueryParam("signed_out") == "" {
		return c.Redirect(http.StatusSeeOther, safeNext(c.QueryParam("next")))
	}
	notice := ""
	if c.QueryParam("signed_out") != "" {
		notice = "msg_signed_out"
	}
	return h.renderSignIn(c, l, http.StatusOK, loginData{Notice: notice, Next: c.QueryParam("next")})
}

// login answers POST /web/login: username, password, csrf (the double-submitted token)
// and next. It checks the password with the API's check and throttles (Config.SignIn),
// starts a new session (never reusing an old id) and goes to next.
func (h *Handler) login(c echo.Context) error {
	setPageHeaders(c)
	l := h.locOf(c)
	if h.cfg.SignIn == nil || h.cfg.Accounts == nil {
		return h.fail(c, l, nil, schema.Errorf(schema.CodeUnavailable, "sign-in"))
	}
	if err := parseForm(c); err != nil {
		return h.fail(c, l, nil, schema.Errorf(schema.CodeTooLarge, "Biểu mẫu quá lớn / the form is too large"))
	}
	f := c.Request().PostForm
	d := loginData{Username: strings.TrimSpace(f.Get("username")), Next: f.Get("next")}
	if crossSite(c) || !sameToken(f.Get("csrf"), h.cookie(c, cookiePre)) {
		h.setCookie(c, cookiePre, "", -1)
		c.Request().Header.Del("Cookie") // a fresh token for the form shown next
		d.Notice = "msg_form_expired"
		return h.renderSignIn(c, l, http.StatusForbidden, d)
	}
	userID, err := h.cfg.SignIn(c, d.Username, f.Get("password"))
	if err != nil {
		code := schema.ErrorCode(err)
		if code != schema.CodeUnauthorized && code != schema.CodeTooManyRequests && code != schema.CodeInvalid {
			return h.fail(c, l, nil, err)
		}
		var se *schema.Error
		msg := err.Error()
		if e, ok := err.(*schema.Error); ok {
			se, msg = e, e.Message
		}
		if se != nil && se.RetryAfter > 0 {
			c.Response().Header().Set("Retry-After", strconv.Itoa(int((se.RetryAfter+999999999)/1e9)))
		}
		d.Error = l.Message(msg)
		return h.renderSignIn(c, l, h.cfg.Status(code), d)
	}
	// Volunteers have no password, so SignIn never returns one; check anyway.
	a, err := h.cfg.Accounts.ActorFor(c.Request().Context(), userID, 0)
	if err != nil || !a.IsStaff() {
		d.Error = l.T("msg_volunteer_no_dashboard")
		return h.renderSignIn(c, l, http.StatusUnauthorized, d)
	}
	if old := h.sessionOf(c); old != nil {
		h.sessions.end(old.key)
	}
	token, _ := h.sessions.start(userID)
	h.setCookie(c, cookieSession, token, 0)
	h.setCookie(c, cookiePre, "", -1)
	h.cfg.Security(c, slog.LevelInfo, "dashboard_signed_in", slog.Int64("user_id", userID))
	return c.Redirect(http.StatusSeeOther, safeNext(d.Next))
}

// logout answers POST /web/logout: the session ends.
func (h *Handler) logout(c echo.Context, r *req) error {
	h.sessions.end(r.sess.key)
	h.setCookie(c, cookieSession, "", -1)
	h.cfg.Security(c, slog.LevelInfo, "dashboard_signed_out", slog.Int64("user_id", r.actor.UserID))
	return c.Redirect(http.StatusSeeOther, "/web/login?signed_out=1")
}

// setLang answers GET /web/lang?to=en|vi&next=: it sets the language cookie (a
// preference, not a credential) and goes back.
func (h *Handler) setLang(c echo.Context) error {
	switch c.QueryParam("to") {
	case "en":
		h.setCookie(c, cookieLang, "en", 365*24*3600)
	default:
		h.setCookie(c, cookieLang, "vi", 365*24*3600)
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.Redirect(http.StatusSeeOther, safeNext(c.QueryParam("next")))
}

// safeNext keeps a return address on the dashboard: a path under /web/, never another
// host ("//evil.example", "/\evil.example") — anything else is the overview.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/web/") || strings.HasPrefix(next, "/web//") || strings.ContainsAny(next, "\\\r\n") {
		return "/web/"
	}
	return next
}
