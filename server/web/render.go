package web

import (
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"html/template"
	"io/fs"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"path"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/cdtsync/cdtsync/schema"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// assetVersion holds a short hash of each static file, put in its URL so browsers may
// cache assets for a long time and still get a changed file after an upgrade.
var assetVersion = func() map[string]string {
	v := map[string]string{}
	fs.WalkDir(staticFS, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := staticFS.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		v[strings.TrimPrefix(p, "static/")] = hex.EncodeToString(sum[:6])
		return nil
	})
	return v
}()

// pages are the parsed templates: each page is the layout plus its own file.
type pages struct {
	byName map[string]*template.Template
}

// pageNames are the templates under templates/, without .html.
var pageNames = []string{"login", "overview", "reviews", "log", "teams", "devices", "volunteers", "code", "error"}

var templateFuncs = template.FuncMap{
	// asset is a static file's URL with its version.
	"asset": func(name string) string { return "/web/static/" + name + "?v=" + assetVersion[name] },
	// link builds a URL from a path and name/value pairs, leaving out empty values.
	"link": func(p string, kv ...any) string { return link(p, kv...) },
	"add":  func(a, b int) int { return a + b },
}

func mustParsePages() *pages {
	p := &pages{byName: map[string]*template.Template{}}
	for _, name := range pageNames {
		t := template.Must(template.New("layout.html").Funcs(templateFuncs).
			ParseFS(templateFS, "templates/layout.html", "templates/"+name+".html"))
		p.byName[name] = t
	}
	return p
}

// link builds path?name=value&…, leaving out empty values (and false, nil and 0).
func link(p string, kv ...any) string {
	q := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		k, _ := kv[i].(string)
		switch v := kv[i+1].(type) {
		case string:
			if v != "" {
				q.Set(k, v)
			}
		case bool:
			if v {
				q.Set(k, "1")
			}
		case int64:
			if v != 0 {
				q.Set(k, itoa(v))
			}
		case *int64:
			if v != nil {
				q.Set(k, itoa(*v))
			}
		case int:
			if v != 0 {
				q.Set(k, itoa(int64(v)))
			}
		}
	}
	if len(q) == 0 {
		return p
	}
	return p + "?" + q.Encode()
}

// view is what every page template gets.
type view struct {
	L         loc
	Title     string
	Nav       string // the active menu entry
	User      *viewUser
	CSRF      string
	Flash     []flash
	Here      string // this page's URL, for the language switch to come back to
	RequestID string
	Data      any
}

// viewUser is the signed-in user as the header shows them.
type viewUser struct {
	Name, Role, Unit string
	CanReview        bool // review queue and enrolment (coordinators, admins)
}

// req is a dashboard request of a signed-in user.
type req struct {
	c     echo.Context
	actor schema.Actor
	sess  *session
	L     loc
	prof  schema.Profile
}

func (r *req) ctx() context.Context { return r.c.Request().Context() }

// view starts a page's data.
func (h *Handler) view(r *req, nav, title string, data any) *view {
	v := &view{L: r.L, Title: title, Nav: nav, CSRF: r.sess.csrf, Here: r.c.Request().URL.RequestURI(),
		RequestID: requestID(r.c), Data: data,
		User: &viewUser{Name: r.prof.User.DisplayName, Role: r.L.Role(r.actor.Role), Unit: r.prof.Unit.Name,
			CanReview: r.actor.Role == schema.RoleCoordinator || r.actor.Role == schema.RoleAdmin}}
	v.Flash = h.sessions.takeFlash(r.sess.key)
	return v
}

// setPageHeaders sets the headers of every dashboard answer: nothing cached (pages hold
// scoped data), a Content-Security-Policy that allows only this server's own styles and
// script (no inline script or style, no other origin), no framing, no sniffing.
func setPageHeaders(c echo.Context) {
	hd := c.Response().Header()
	hd.Set("Cache-Control", "no-store")
	hd.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; "+
		"form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Referrer-Policy", "same-origin")
}

// render writes a page.
func (h *Handler) render(c echo.Context, status int, name string, v *view) error {
	t := h.pages.byName[name]
	var buf bytes.Buffer
	if err := t.Execute(&buf, v); err != nil {
		h.log.Error("dashboard template failed", "page", name, "request_id", requestID(c), "err", err)
		return c.String(http.StatusInternalServerError, "template error")
	}
	setPageHeaders(c)
	return c.HTMLBlob(status, buf.Bytes())
}

// errorData is the error page's content.
type errorData struct {
	Heading, Message string
}

// fail renders an error page for err: the store's 404 (a unit or log that does not exist
// or is outside the caller's scope, the same for both) as "not found", 403, 400 with the
// store's message in the page's language, 503, and anything else as a 500 that is logged
// with the request id and says nothing more.
func (h *Handler) fail(c echo.Context, l loc, r *req, err error) error {
	code := schema.ErrorCode(err)
	var se *schema.Error
	if !errors.As(err, &se) {
		code = schema.CodeInternal
	}
	status := h.cfg.Status(code)
	d := errorData{Heading: l.T("err_title")}
	switch code {
	case schema.CodeNotFound:
		d.Heading, d.Message = l.T("err_not_found"), l.T("err_not_found_msg")
	case schema.CodeForbidden:
		d.Heading, d.Message = l.T("err_forbidden"), l.T("err_forbidden_msg")
	case schema.CodeUnavailable:
		d.Message = l.T("err_unavailable")
	case schema.CodeInternal:
		status = http.StatusInternalServerError
		h.log.Error("dashboard request failed", "request_id", requestID(c), "method", c.Request().Method,
			"route", c.Path(), "err", err)
		d.Message = l.Tf("err_internal", requestID(c))
	default:
		if status >= 500 {
			h.log.Error("dashboard request failed", "request_id", requestID(c), "route", c.Path(), "err", err)
		}
		d.Heading, d.Message = l.T("err_invalid"), l.Message(se.Message)
	}
	if code == schema.CodeTooManyRequests || code == schema.CodeUnavailable {
		if se != nil && se.RetryAfter > 0 {
			c.Response().Header().Set("Retry-After", itoa(int64((se.RetryAfter+999999999)/1e9)))
		}
	}
	v := &view{L: l, Title: d.Heading, RequestID: requestID(c), Here: c.Request().URL.RequestURI(), Data: d}
	if r != nil {
		v = h.view(r, "", d.Heading, d)
	}
	return h.render(c, status, "error", v)
}

// static serves the embedded style sheet, script and icons.
func (h *Handler) static(c echo.Context) error {
	name := path.Clean("/" + c.Param("name"))[1:]
	b, err := staticFS.ReadFile("static/" + name)
	if err != nil || name == "" {
		return echo.NewHTTPError(http.StatusNotFound)
	}
	hd := c.Response().Header()
	hd.Set("X-Content-Type-Options", "nosniff")
	if c.QueryParam("v") != "" && c.QueryParam("v") == assetVersion[name] {
		hd.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		hd.Set("Cache-Control", "no-cache")
	}
	ct := mime.TypeByExtension(path.Ext(name))
	if ct == "" {
		ct = "application/octet-stream"
	}
	return c.Blob(http.StatusOK, ct, b)
}

func requestID(c echo.Context) string {
	return c.Response().Header().Get(echo.HeaderXRequestID)
}

// logErr logs a failure that the page can live with.
func (h *Handler) logErr(c echo.Context, msg string, err error) {
	h.log.LogAttrs(c.Request().Context(), slog.LevelWarn, msg, slog.String("request_id", requestID(c)), slog.Any("err", err))
}
