package web

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
)

// Dashboard sessions.
//
// A session lives in the server's memory, keyed by the SHA-256 of a 256-bit random token
// that only the browser's cookie holds. The cookie has no Expires (it ends with the
// browser) and the server ends a session after sessionIdle without a request, or
// sessionMax after sign-in, or at sign-out. The user behind a session is checked against
// the database on every request (Accounts.ActorFor), so a revoked user is signed out at
// once. A restart of the server signs everyone out of the dashboard (not the API).
//
// Every session has its own CSRF token, put in every form (hidden field "csrf") and
// checked on every POST; the sign-in form, which comes before a session, uses a
// double-submitted token: a random cookie and the same value in the form.

const (
	sessionIdle = 8 * time.Hour
	sessionMax  = 7 * 24 * time.Hour
	// maxSessionsPerUser bounds one account's sessions; signing in once more ends the
	// oldest.
	maxSessionsPerUser = 20
	// maxFormBytes bounds a dashboard form (500 review decisions fit many times over).
	maxFormBytes = 256 << 10
)

// session is one signed-in browser.
type session struct {
	key      string // SHA-256 of the cookie token, hex
	userID   int64
	csrf     string
	created  time.Time
	lastSeen time.Time
	flash    []flash
	// codes are the enrolment codes issued in this session, by volunteer, kept so the
	// page that shows one can be reloaded (only by this session, only until it expires).
	codes map[int64]issuedCode
}

// issuedCode is an enrolment code as the code page shows it.
type issuedCode struct {
	Code, Payload   string
	ExpiresAt       time.Time
	Volunteer, Team string
}

// flash is a message shown once, on the next page the session sees.
type flash struct {
	Kind string // ok or error
	Text string
}

type sessions struct {
	mu    sync.Mutex
	now   func() time.Time
	byKey map[string]*session
}

func newSessions(now func() time.Time) *sessions {
	return &sessions{now: now, byKey: map[string]*session{}}
}

func randomToken() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func tokenKey(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

// start makes a session for a user and returns the cookie token.
func (s *sessions) start(userID int64) (string, *session) {
	token := randomToken()
	now := s.now()
	ss := &session{key: tokenKey(token), userID: userID, csrf: randomToken(), created: now, lastSeen: now}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pruneLocked(now)
	var mine []*session
	for _, o := range s.byKey {
		if o.userID == userID {
			mine = append(mine, o)
		}
	}
	if len(mine) >= maxSessionsPerUser {
		sort.Slice(mine, func(i, j int) bool { return mine[i].lastSeen.Before(mine[j].lastSeen) })
		for _, o := range mine[:len(mine)-maxSessionsPerUser+1] {
			delete(s.byKey, o.key)
		}
	}
	s.byKey[ss.key] = ss
	return token, ss
}

// get returns a copy of the live session of a cookie token, touching it, or nil.
func (s *sessions) get(token string) *session {
	if token == "" || len(token) > 100 {
		return nil
	}
	key := tokenKey(token)
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	ss := s.byKey[key]
	if ss == nil {
		return nil
	}
	if now.Sub(ss.lastSeen) > sessionIdle || now.Sub(ss.created) > sessionMax {
		delete(s.byKey, key)
		return nil
	}
	ss.lastSeen = now
	cp := *ss
	cp.flash, cp.codes = nil, nil
	return &cp
}

// end removes a session.
func (s *sessions) end(key string) {
	s.mu.Lock()
	delete(s.byKey, key)
	s.mu.Unlock()
}

// endUser removes every session of a user (the user was revoked).
func (s *sessions) endUser(userID int64) {
	s.mu.Lock()
	for k, ss := range s.byKey {
		if ss.userID == userID {
			delete(s.byKey, k)
		}
	}
	s.mu.Unlock()
}

// addFlash queues a message for the session's next page.
func (s *sessions) addFlash(key string, f flash) {
	s.mu.Lock()
	if ss := s.byKey[key]; ss != nil && len(ss.flash) < 10 {
		ss.flash = append(ss.flash, f)
	}
	s.mu.Unlock()
}

// takeFlash returns and clears the session's queued messages.
func (s *sessions) takeFlash(key string) []flash {
	s.mu.Lock()
	defer s.mu.Unlock()
	ss := s.byKey[key]
	if ss == nil {
		return nil
	}
	f := ss.flash
	ss.flash = nil
	return f
}

// putCode keeps an issued code for the session's code page.
func (s *sessions) putCode(key string, volunteerID int64, c issuedCode) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ss := s.byKey[key]
	if ss == nil {
		return
	}
	if ss.codes == nil {
		ss.codes = map[int64]issuedCode{}
	}
	now := s.now()
	for id, o := range ss.codes {
		if !o.ExpiresAt.After(now) {
			delete(ss.codes, id)
		}
	}
	if len(ss.codes) >= 50 {
		return
	}
	ss.codes[volunteerID] = c
}

// code returns the live code the session issued for a volunteer.
func (s *sessions) code(key string, volunteerID int64) (issuedCode, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ss := s.byKey[key]
	if ss == nil {
		return issuedCode{}, false
	}
	c, ok := ss.codes[volunteerID]
	if !ok || !c.ExpiresAt.After(s.now()) {
		return issuedCode{}, false
	}
	return c, true
}

// pruneLocked drops expired sessions.
func (s *sessions) pruneLocked(now time.Time) {
	for k, ss := range s.byKey {
		if now.Sub(ss.lastSeen) > sessionIdle || now.Sub(ss.created) > sessionMax {
			delete(s.byKey, k)
		}
	}
}

// count returns the number of live sessions (tests).
func (s *sessions) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.byKey)
}

// Cookie names. Behind TLS the __Host- prefix makes the browser refuse the cookie unless
// it is Secure, for this host only and for the whole path: a sibling subdomain or a
// plain-HTTP page cannot plant or overwrite it.
func (h *Handler) cookieName(c echo.Context, base string) string {
	if h.cfg.Secure(c) {
		return "__Host-" + base
	}
	return base
}

const (
	cookieSession = "cdtsync-session"
	cookiePre     = "cdtsync-signin"
	cookieLang    = "cdtsync-lang"
)

// setCookie sets a dashboard cookie: HttpOnly, SameSite=Lax (a link from an e-mail opens
// the dashboard signed in; a form posted from another site carries no cookie), Path=/,
// Secure behind TLS. maxAge 0 leaves it a browser-session cookie; negative deletes it.
func (h *Handler) setCookie(c echo.Context, base, value string, maxAge int) {
	ck := &http.Cookie{Name: h.cookieName(c, base), Value: value, Path: "/", HttpOnly: true,
		SameSite: http.SameSiteLaxMode, Secure: h.cfg.Secure(c), MaxAge: maxAge}
	c.SetCookie(ck)
}

func (h *Handler) cookie(c echo.Context, base string) string {
	ck, err := c.Cookie(h.cookieName(c, base))
	if err != nil {
		return ""
	}
	return ck.Value
}

// sessionOf returns the request's live session, or nil.
func (h *Handler) sessionOf(c echo.Context) *session {
	return h.sessions.get(h.cookie(c, cookieSession))
}

// sameToken compares a submitted token with the expected one in constant time.
func sameToken(got, want string) bool {
	return want != "" && len(got) == len(want) && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// crossSite reports a request a browser says came from another site (Fetch Metadata):
// refused before any token is looked at.
func crossSite(c echo.Context) bool {
	return c.Request().Header.Get("Sec-Fetch-Site") == "cross-site"
}

// parseForm reads a posted form, bounded.
func parseForm(c echo.Context) error {
	r := c.Request()
	r.Body = http.MaxBytesReader(c.Response(), r.Body, maxFormBytes)
	return r.ParseForm()
}
