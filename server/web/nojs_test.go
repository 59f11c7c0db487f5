package web_test

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"
	"golang.org/x/net/html"

	"github.com/cdtsync/cdtsync/schema"
)

// The dashboard without JavaScript: a plain HTTP client reads the pages' tables and
// posts their forms with the CSRF token the page carries, as a browser with scripts off
// does. Also the session's rules: cookie flags, CSRF refusals, sign-out, a revoked user
// signed out at once, Secure cookies behind TLS, the language switch.

// plainClient is a browser without JavaScript: cookies, no automatic redirects.
type plainClient struct {
	t    testing.TB
	base string
	c    *http.Client
}

func newPlainClient(t testing.TB, base string) *plainClient {
	jar, _ := cookiejar.New(nil)
	return &plainClient{t: t, base: base, c: &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// page is an answer.
type page struct {
	Status int
	Header http.Header
	Body   string
	Doc    *html.Node
}

func (p *plainClient) do(req *http.Request) page {
	p.t.Helper()
	resp, err := p.c.Do(req)
	if err != nil {
		p.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	pg := page{Status: resp.StatusCode, Header: resp.Header, Body: string(b)}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		if pg.Doc, err = html.Parse(strings.NewReader(pg.Body)); err != nil {
			p.t.Fatal(err)
		}
	}
	return pg
}

func (p *plainClient) get(path string, header ...string) page {
	p.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, p.base+path, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return p.do(req)
}

func (p *plainClient) post(path string, form url.Values, header ...string) page {
	p.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, p.base+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return p.do(req)
}

// signIn signs in through the sign-in form and returns the session's CSRF token.
func (p *plainClient) signIn(username, password string) page {
	p.t.Helper()
	form := p.get("/web/login")
	tok := inputValue(form.Doc, "csrf")
	if form.Status != http.StatusOK || tok == "" {
		p.t.Fatalf("GET /web/login: %d, token %q", form.Status, tok)
	}
	return p.post("/web/login", url.Values{"csrf": {tok}, "username": {username}, "password": {password}, "next": {"/web/"}})
}

// --- reading HTML ---

func attr(n *html.Node, name string) string {
	for _, a := range n.Attr {
		if a.Key == name {
			return a.Val
		}
	}
	return ""
}

// find returns the elements for which match is true, in document order.
func find(n *html.Node, match func(*html.Node) bool) []*html.Node {
	var out []*html.Node
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode && match(n) {
			out = append(out, n)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	if n != nil {
		walk(n)
	}
	return out
}

func byAttr(tag, name, value string) func(*html.Node) bool {
	return func(n *html.Node) bool { return n.Data == tag && attr(n, name) == value }
}

// text is an element's text, spaces collapsed.
func text(n *html.Node) string {
	var b strings.Builder
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return strings.Join(strings.Fields(b.String()), " ")
}

func inputValue(doc *html.Node, name string) string {
	for _, n := range find(doc, byAttr("input", "name", name)) {
		return attr(n, "value")
	}
	return ""
}

// cells maps each row of a table (by the row's data attribute) to its cells' texts.
func cells(doc *html.Node, tableID, rowAttr string) map[string][]string {
	out := map[string][]string{}
	for _, tbl := range find(doc, byAttr("table", "id", tableID)) {
		for _, tr := range find(tbl, func(n *html.Node) bool { return n.Data == "tr" && attr(n, rowAttr) != "" }) {
			var cs []string
			for c := tr.FirstChild; c != nil; c = c.NextSibling {
				if c.Type == html.ElementNode && (c.Data == "td" || c.Data == "th") {
					cs = append(cs, text(c))
				}
			}
			out[attr(tr, rowAttr)] = cs
		}
	}
	return out
}

func cookieOf(h http.Header, name string) *http.Cookie {
	for _, c := range (&http.Response{Header: h}).Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

var refRE = regexp.MustCompile(`[0-9a-f]{64}`)

var flashRE = regexp.MustCompile(`class="flash (ok|error)"[^>]*>([^<]*)<`)

// TestPagesWithoutJavaScript reads the overview and the review queue as HTML tables,
// approves a log by posting the queue's form with its CSRF token, and checks the
// session's rules.
func TestPagesWithoutJavaScript(t *testing.T) {
	s := newSite(t, siteOptions{})
	ctx := context.Background()
	c := newPlainClient(t, s.URL)

	// Without a session: the sign-in page, 401, with the form.
	pg := c.get("/web/reviews")
	if pg.Status != http.StatusUnauthorized || len(find(pg.Doc, byAttr("form", "action", "/web/login"))) != 1 {
		t.Fatalf("GET /web/reviews without a session: %d", pg.Status)
	}
	if got := attr(find(pg.Doc, func(n *html.Node) bool { return n.Data == "html" })[0], "lang"); got != "vi" {
		t.Errorf("html lang = %q, want vi", got)
	}
	// A wrong password: the form again, 401, the API's message in Vietnamese.
	pg = c.signIn("lan.sadec", "sai mật khẩu rồi")
	if pg.Status != http.StatusUnauthorized || !strings.Contains(pg.Body, "Sai tên đăng nhập hoặc mật khẩu") {
		t.Fatalf("wrong password: %d", pg.Status)
	}
	// Signing in: a 303 to the dashboard and the session cookie.
	pg = c.signIn("lan.sadec", staffPassword)
	if pg.Status != http.StatusSeeOther || pg.Header.Get("Location") != "/web/" {
		t.Fatalf("sign in: %d → %q", pg.Status, pg.Header.Get("Location"))
	}
	ck := cookieOf(pg.Header, "cdtsync-session")
	if ck == nil || !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.Path != "/" || ck.Secure || len(ck.Value) < 40 {
		t.Fatalf("session cookie: %+v", ck)
	}

	// The overview, as a table.
	period := "from=01/11/2026&to=23/11/2026"
	pg = c.get("/web/?" + period)
	if pg.Status != http.StatusOK {
		t.Fatalf("GET /web/: %d", pg.Status)
	}
	if h := pg.Header.Get("Content-Security-Policy"); !strings.Contains(h, "default-src 'none'") || strings.Contains(h, "unsafe-inline") {
		t.Errorf("Content-Security-Policy = %q", h)
	}
	api := s.apiCoverage(t, s.apiToken(t, "lan.sadec"), fmt.Sprintf("unit=%d&from=2026-11-01&to=2026-11-23", s.SaDec))
	rows := cells(pg.Doc, "children", "data-unit")
	if len(rows) != 3+1 { // three hamlets and the commune's own row
		t.Fatalf("overview rows: %v", rows)
	}
	vp := rows[fmt.Sprint(s.VinhPhuoc)]
	want := row(t, api, s.VinhPhuoc)
	if want.People == want.Logs || want.People == want.Households {
		t.Fatalf("the fixture cannot tell people from logs or households: %+v", want)
	}
	if vp[0] != "Khóm Vĩnh Phước" || vp[1] != fmt.Sprint(want.People) || !strings.HasPrefix(vp[2], fmt.Sprint(want.Households)+" ") ||
		vp[3] != fmt.Sprint(want.Logs) {
		t.Errorf("Khóm Vĩnh Phước's row = %q; the API says people %d, households %d, logs %d", vp, want.People, want.Households, want.Logs)
	}

	// The chart lists the hamlets in Vietnamese order of their names, or by the figure.
	for q, want := range map[string]string{"": "Ấp Đông Huề, Khóm Cái Sơn, Khóm Vĩnh Phước",
		"&sort=reached": "Khóm Vĩnh Phước, Khóm Cái Sơn, Ấp Đông Huề", "&sort=pct": "Khóm Vĩnh Phước, Khóm Cái Sơn, Ấp Đông Huề"} {
		var names []string
		for _, a := range find(c.get("/web/?"+period+q).Doc, func(n *html.Node) bool { return n.Data == "a" && attr(n, "class") == "lbl" }) {
			names = append(names, text(a))
		}
		if got := strings.Join(names, ", "); got != want {
			t.Errorf("chart order with %q: %s, want %s", q, got, want)
		}
	}

	// The review queue, as a table: the pending logs of Khóm Vĩnh Phước.
	pg = c.get(fmt.Sprintf("/web/reviews?status=pending&unit=%d", s.VinhPhuoc))
	queue := cells(pg.Doc, "queue", "data-log")
	r, ok := queue[s.ToApprove]
	if pg.Status != http.StatusOK || !ok {
		t.Fatalf("GET /web/reviews: %d, the log to approve is not in %v", pg.Status, queue)
	}
	if !strings.Contains(strings.Join(r, " | "), toApproveNote) || !strings.Contains(strings.Join(r, " | "), "Chờ duyệt") {
		t.Errorf("the row reads %q", r)
	}
	form := find(pg.Doc, byAttr("form", "id", "review-form"))[0]
	csrf, back := inputValue(form, "csrf"), inputValue(form, "back")

	// Posting without the token, with another session's token, or from another site is
	// refused and changes nothing.
	other := newPlainClient(t, s.URL)
	other.signIn("lan.sadec", staffPassword)
	otherTok := inputValue(other.get("/web/reviews").Doc, "csrf")
	for name, f := range map[string]struct {
		form   url.Values
		header []string
	}{
		"no token":            {url.Values{"id": {s.ToApprove}, "action": {"approved"}}, nil},
		"another's token":     {url.Values{"csrf": {otherTok}, "id": {s.ToApprove}, "action": {"approved"}}, nil},
		"from another site":   {url.Values{"csrf": {csrf}, "id": {s.ToApprove}, "action": {"approved"}}, []string{"Sec-Fetch-Site", "cross-site"}},
		"a token one too few": {url.Values{"csrf": {csrf[:len(csrf)-1]}, "id": {s.ToApprove}, "action": {"approved"}}, nil},
	} {
		if pg := c.post("/web/reviews", f.form, f.header...); pg.Status != http.StatusForbidden {
			t.Errorf("%s: %d, want 403", name, pg.Status)
		}
	}
	if st := status(t, s, s.ToApprove); st != schema.StatusPending {
		t.Fatalf("a refused post changed the log: %s", st)
	}

	// Rejecting without a reason is refused with a message; approving works.
	pg = c.post("/web/reviews", url.Values{"csrf": {csrf}, "back": {back}, "id": {s.ToApprove}, "action": {"rejected"}})
	if pg.Status != http.StatusSeeOther {
		t.Fatalf("reject without a reason: %d", pg.Status)
	}
	if m := flashRE.FindStringSubmatch(c.get(pg.Header.Get("Location")).Body); m == nil || m[1] != "error" || !strings.Contains(m[2], "lý do") {
		t.Errorf("reject without a reason: message %q", m)
	}
	pg = c.post("/web/reviews", url.Values{"csrf": {csrf}, "back": {back}, "id": {s.ToApprove}, "action": {"approved"}})
	if pg.Status != http.StatusSeeOther || !strings.HasPrefix(pg.Header.Get("Location"), "/web/reviews?") {
		t.Fatalf("approve: %d → %q", pg.Status, pg.Header.Get("Location"))
	}
	next := c.get(pg.Header.Get("Location"))
	if m := flashRE.FindStringSubmatch(next.Body); m == nil || m[1] != "ok" || m[2] != "Đã duyệt 1 nhật ký." {
		t.Errorf("after approving: message %q", m)
	}
	if _, still := cells(next.Doc, "queue", "data-log")[s.ToApprove]; still {
		t.Error("the approved log is still in the pending queue")
	}
	if st := status(t, s, s.ToApprove); st != schema.StatusApproved {
		t.Fatalf("after posting the form the log is %s", st)
	}
	// Approving a duplicate leaves it a duplicate, and says so.
	pg = c.post("/web/reviews", url.Values{"csrf": {csrf}, "back": {back}, "one": {"approved:" + s.Duplicate}})
	if m := regexp.MustCompile(`class="flash info"[^>]*>([^<]*)<`).FindStringSubmatch(c.get(pg.Header.Get("Location")).Body); m == nil ||
		!strings.Contains(m[1], "vẫn là trùng lặp") {
		t.Errorf("approving a duplicate: message %q", m)
	}
	if st := status(t, s, s.Duplicate); st != schema.StatusDuplicate {
		t.Errorf("an approved duplicate is %s", st)
	}
	// The approved-only overview counts it.
	rows = cells(c.get("/web/?approved_only=1&"+period).Doc, "children", "data-unit")
	if got := rows[fmt.Sprint(s.VinhPhuoc)][1]; got != fmt.Sprint(s.approvedVinhPhuoc+1) {
		t.Errorf("approved-only people in Khóm Vĩnh Phước = %s, want %d", got, s.approvedVinhPhuoc+1)
	}

	// The queue's export: every log the filters select, without residents' refs.
	for _, format := range []string{"csv", "xlsx"} {
		pg = c.get(fmt.Sprintf("/web/reviews/export?format=%s&status=all&unit=%d", format, s.VinhPhuoc))
		if pg.Status != http.StatusOK || !strings.Contains(pg.Header.Get("Content-Disposition"), "attachment") {
			t.Fatalf("review export %s: %d %q", format, pg.Status, pg.Header.Get("Content-Disposition"))
		}
		var rows [][]string
		if format == "csv" {
			if !strings.HasPrefix(pg.Body, "\ufeff") {
				t.Error("the review CSV has no byte-order mark")
			}
			rows, _ = csv.NewReader(strings.NewReader(strings.TrimPrefix(pg.Body, "\ufeff"))).ReadAll()
		} else {
			f, err := excelize.OpenReader(strings.NewReader(pg.Body))
			if err != nil {
				t.Fatal(err)
			}
			rows, _ = f.GetRows(f.GetSheetList()[0])
			f.Close()
		}
		if len(rows) != 1+9 || rows[0][0] != "Mã nhật ký" { // header, Hồng's seven logs, the session, the duplicate
			t.Errorf("review export %s: %d rows, header %q", format, len(rows), rows[0])
		}
		if !csvHas(rows, s.Duplicate, s.Canon) || !csvHas(rows, s.ToApprove, "Đã duyệt") {
			t.Errorf("review export %s lacks the duplicate and its canonical log, or the approved log", format)
		}
		if refRE.MatchString(pg.Body) {
			t.Errorf("review export %s holds a 64-hex value (a resident's ref?)", format)
		}
	}

	// A log page: the conflict's two notes, the kept one and the replaced one.
	pg = c.get("/web/logs/" + s.Conflict)
	hist := find(pg.Doc, byAttr("table", "id", "history"))
	if pg.Status != http.StatusOK || len(hist) != 1 {
		t.Fatalf("GET /web/logs/<conflict>: %d", pg.Status)
	}
	h := text(hist[0])
	if !strings.Contains(h, "Cô Bảy đã kích hoạt định danh mức 2 (sửa)") || !strings.Contains(h, "Cô Bảy: đã kích hoạt, cần hướng dẫn thêm") ||
		!strings.Contains(h, "được giữ") || !strings.Contains(h, "bị thay") {
		t.Errorf("the conflict's history reads %q", h)
	}

	// English.
	pg = c.get("/web/lang?to=en&next=/web/reviews")
	if pg.Status != http.StatusSeeOther || pg.Header.Get("Location") != "/web/reviews" {
		t.Fatalf("language switch: %d → %q", pg.Status, pg.Header.Get("Location"))
	}
	if pg = c.get("/web/reviews"); !strings.Contains(pg.Body, "Review activity logs") || !strings.Contains(pg.Body, `lang="en"`) {
		t.Error("the English page is not in English")
	}
	if pg = c.get("/web/lang?to=en&next=//evil.example/"); pg.Header.Get("Location") != "/web/" {
		t.Errorf("the language switch redirects off the dashboard: %q", pg.Header.Get("Location"))
	}
	c.get("/web/lang?to=vi&next=/web/")

	// Sign-out ends the session: the old cookie no longer works.
	tok := inputValue(c.get("/web/").Doc, "csrf")
	if pg := c.post("/web/logout", url.Values{"csrf": {tok}}); pg.Status != http.StatusSeeOther {
		t.Fatalf("sign out: %d", pg.Status)
	}
	replay, _ := http.NewRequest(http.MethodGet, s.URL+"/web/", nil)
	replay.AddCookie(ck)
	if pg := c.do(replay); pg.Status != http.StatusUnauthorized {
		t.Errorf("the signed-out session's cookie still works: %d", pg.Status)
	}

	// Revoking a user signs their sessions out at once.
	if pg := other.get("/web/"); pg.Status != http.StatusOK {
		t.Fatalf("the other session: %d", pg.Status)
	}
	lan, err := s.DB.ActorFor(ctx, s.CoordSaDec.UserID, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.DB.RevokeUser(ctx, s.Admin, lan.UserID); err != nil {
		t.Fatal(err)
	}
	if pg := other.get("/web/"); pg.Status != http.StatusUnauthorized || !strings.Contains(pg.Body, "Phiên đăng nhập đã kết thúc") {
		t.Errorf("a revoked user's session: %d", pg.Status)
	}
	if pg := other.signIn("lan.sadec", staffPassword); pg.Status != http.StatusUnauthorized || !strings.Contains(pg.Body, "thu hồi") {
		t.Errorf("a revoked user signing in: %d", pg.Status)
	}
}

// status is a log's review status, read from the store as Sa Đéc's coordinator.
func status(t testing.TB, s *site, id string) string {
	t.Helper()
	page, err := s.DB.ListReviews(context.Background(), s.Admin, schema.ReviewFilter{Limit: schema.MaxReviewLimit})
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range page.Items {
		if it.ID == id {
			return it.Status
		}
	}
	t.Fatalf("log %s not found", id)
	return ""
}

// Behind a TLS-terminating proxy (trusted, X-Forwarded-Proto: https) the cookies are
// Secure and __Host- prefixed; a plain request to the same server gets neither.
func TestSessionCookieBehindTLS(t *testing.T) {
	s := newSite(t, siteOptions{TrustProxy: true})
	c := newPlainClient(t, s.URL)
	form := c.get("/web/login", "X-Forwarded-Proto", "https")
	pre := cookieOf(form.Header, "__Host-cdtsync-signin")
	if pre == nil || !pre.Secure || !pre.HttpOnly {
		t.Fatalf("sign-in form cookie behind TLS: %+v", form.Header["Set-Cookie"])
	}
	// The cookie jar does not send Secure cookies over http: hand it over as the
	// browser would over https.
	req, _ := http.NewRequest(http.MethodPost, s.URL+"/web/login", strings.NewReader(url.Values{"csrf": {pre.Value},
		"username": {"lan.sadec"}, "password": {staffPassword}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Forwarded-Proto", "https")
	req.AddCookie(&http.Cookie{Name: pre.Name, Value: pre.Value})
	pg := c.do(req)
	ck := cookieOf(pg.Header, "__Host-cdtsync-session")
	if pg.Status != http.StatusSeeOther || ck == nil || !ck.Secure || !ck.HttpOnly || ck.Path != "/" || ck.Domain != "" {
		t.Fatalf("sign in behind TLS: %d, cookie %+v", pg.Status, ck)
	}
	// Over plain HTTP, the same server sets an unprefixed, non-Secure cookie.
	if plain := cookieOf(newPlainClient(t, s.URL).get("/web/login").Header, "cdtsync-signin"); plain == nil || plain.Secure {
		t.Fatalf("sign-in form cookie over HTTP: %+v", plain)
	}
}
