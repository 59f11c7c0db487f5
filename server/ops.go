package server

import (
	"compress/gzip"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/cdtsync/cdtsync/schema"
)

// Operations: what keeps the server polite under bad input and overload — security
// headers on every answer, a body limit on every route, and admission control in front
// of the push handler so that a flood of large pushes cannot grow memory without bound.

// Timeouts bound what a slow or stalled client can hold. Zero fields take the defaults.
type Timeouts struct {
	// ReadHeader bounds reading a request's headers (slowloris); default 10 s.
	ReadHeader time.Duration
	// Read bounds reading a whole request, body included; default 60 s (a 4 MiB push,
	// gzipped to about 1 MiB, over slow 3G).
	Read time.Duration
	// Write bounds writing the answer, from the end of the request headers; default 120 s
	// (large exports).
	Write time.Duration
	// Idle bounds a kept-alive connection waiting for its next request; default 120 s.
	Idle time.Duration
	// PushWait bounds how long a push waits for admission and for the writer; past it the
	// push answers 503 with Retry-After (the phone resends the same ops). It is shorter
	// than the SDK's 60 s wait for an answer, so a phone hears 503 rather than timing out
	// while the server still works for it. Default 30 s.
	PushWait time.Duration
}

func (t Timeouts) withDefaults() Timeouts {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&t.ReadHeader, 10*time.Second)
	def(&t.Read, 60*time.Second)
	def(&t.Write, 120*time.Second)
	def(&t.Idle, 120*time.Second)
	def(&t.PushWait, 30*time.Second)
	return t
}

// DefaultPushMemory is Config.PushMemory's default: the request bodies of pushes being
// read, decoded and applied at once. A push body is at most schema.MaxBodyBytes (4 MiB),
// so 64 MiB admits 16 of the largest pushes, or hundreds of the SDK's usual ~100 KB ones.
const DefaultPushMemory = 64 << 20

// DefaultMaxPushes is Config.MaxPushes's default: pushes admitted at once, however small.
// Admitted pushes are decoded and queued for the writer, which takes up to 128 writes per
// group-commit transaction and queues 256 (store/sqlite); more admitted pushes would only
// fill its queue, where a push is refused at once with a 503 and resent 2 s later — in
// the storm, 78,080 such refusals, each read, decoded and authenticated again. Pushes
// beyond the bound wait for admission instead, holding only their connection.
const DefaultMaxPushes = 128

// DefaultMaxPushWaiting is Config.MaxPushWaiting's default: pushes waiting to be
// authenticated or admitted; past it a push is refused at once (503, Retry-After) instead of holding its connection
// — its goroutine, buffers and request, some 25 KB live and twice that in RSS — for up to
// PushWait only to be refused then. The writer drains roughly 60–140 storm pushes a second
// on the 2-core machine (docs/BENCHMARKS.md), so 1,000 waiting is 7–17 s of work, within
// PushWait. In the 10,000-phone storm, 4,000 waiting pushes took the server to 400 MB.
const DefaultMaxPushWaiting = 1000

// Body limits by route: every route has one, checked against Content-Length before the
// handler runs and enforced while the body is read (a chunked or lying body is cut).
const (
	// formBodyLimit bounds a dashboard form post (server/web's own limit is the same).
	formBodyLimit = 256 << 10
)

// bodyLimit returns the largest body the route method+path accepts.
func bodyLimit(method, route string) int64 {
	switch {
	case method == http.MethodPost && route == "/v1/sync/push":
		return schema.MaxBodyBytes
	case method == http.MethodPost && route == "/v1/reviews":
		return schema.MaxReviewBodyBytes
	case method == http.MethodPost && strings.HasPrefix(route, "/web/"):
		return formBodyLimit
	}
	return schema.MaxSmallBodyBytes
}

// limitBody refuses a body over the route's limit: at once when Content-Length says so,
// otherwise when the handler's reading passes it.
func (s *Server) limitBody(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		max := bodyLimit(r.Method, c.Path())
		if r.ContentLength > max {
			return tooLarge(max)
		}
		if r.Body != nil && r.Body != http.NoBody {
			r.Body = &limitedBody{rc: r.Body, left: max}
		}
		return next(c)
	}
}

// limitedBody reads at most left bytes, then fails with Echo's 413 error (which
// readBody reports as too_large with the limit).
type limitedBody struct {
	rc   io.ReadCloser
	left int64
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		// One byte more tells a body of exactly the limit from a longer one.
		var one [1]byte
		if n, _ := b.rc.Read(one[:]); n == 0 {
			return 0, io.EOF
		}
		return 0, echo.ErrStatusRequestEntityTooLarge
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.rc.Read(p)
	b.left -= int64(n)
	return n, err
}

func (b *limitedBody) Close() error { return b.rc.Close() }

// securityHeaders sets the headers every answer carries; pages that need more (the
// dashboard's own Content-Security-Policy) set theirs over these:
//   - X-Content-Type-Options: nosniff — a JSON or CSV answer is never run as script;
//   - Referrer-Policy: same-origin — no URL with ids or cursors leaks to other sites;
//   - X-Frame-Options: DENY and CSP frame-ancestors 'none' — no clickjacking;
//   - Content-Security-Policy for API answers: nothing may load (default-src 'none');
//   - Strict-Transport-Security only when the request came over TLS (directly or through
//     a trusted proxy): over plain HTTP it would be ignored, and it must never pin a
//     server to HTTPS by mistake;
//   - Cache-Control: no-store on the API and /metrics: answers hold scoped data, no shared
//     cache may keep them.
func (s *Server) securityHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Response().Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()")
		if s.requestIsTLS(c) {
			h.Set("Strict-Transport-Security", "max-age=31536000")
		}
		if p := c.Request().URL.Path; strings.HasPrefix(p, "/v1/") || p == "/metrics" || p == "/readyz" {
			h.Set("Cache-Control", "no-store")
		}
		return next(c)
	}
}

// gzipEstimate is how many times its gzipped size a push body is assumed to take once
// decompressed, for its admission share: phones' JSON compresses 4–5× (cdtload's storm
// pushes: 539 bytes per op, 134 gzipped). A body that decompresses to more asks for the
// rest while it is read (pushMeter).
const gzipEstimate = 8

// minPushShare is the least a push is charged: headers, the decoded request, the answer.
const minPushShare = 4 << 10

// pushAppliedKey marks in the echo.Context a push whose effects are on disk: from then on
// nothing may turn its answer into an error that says "not applied".
const pushAppliedKey = "cdtsync.push_applied"

// admitPush is the push route's admission control, before the body is read:
//
//   - memory: each push takes a share of Config.PushMemory and gives it back when
//     answered: its Content-Length (at least PushMemory/MaxPushes, so that no more than
//     MaxPushes are admitted at once); for a gzipped body, gzipEstimate times its
//     Content-Length (and if it decompresses to more, it gives its share back and waits
//     for the largest body's, see pushMeter); the largest body allowed when the length is
//     unknown. A push that cannot get its share within PushWait answers 503 with
//     Retry-After without its body having been read, so memory stays bounded by
//     PushMemory (times the decoding overhead) however many phones push at once. A
//     waiting push holds its connection's buffers and goroutine, a few tens of KB, and no
//     answer compressor (compressAnswers);
//   - waiting: when MaxPushes+MaxPushWaiting pushes are already in the server, a push
//     answers 503 with Retry-After at once (boundPushes, before authentication), so the
//     memory of waiting connections is bounded too;
//   - time: the push's context ends after PushWait; a push still waiting then (for
//     admission or in the writer's queue) answers 503 with Retry-After, and the writer
//     skips it. A push the writer has begun is never answered with an error for lack of
//     time: the writer runs it to its end and the push answers 200 with its results, even
//     past PushWait (store/sqlite's Write). Nothing is half-applied either way, and a push
//     whose answer was lost (the phone hung up) answers already_applied when resent;
//   - reading: the body's read deadline (Timeouts.Read) starts when the push is admitted,
//     so a long wait for admission does not eat the phone's time to send its body.
//
// A push whose phone hung up gets no answer (499 in the access log) and, if it had not
// reached the writer, is not applied.
func (s *Server) admitPush(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		need := int64(schema.MaxBodyBytes)
		gzipped := false
		switch strings.ToLower(strings.TrimSpace(r.Header.Get(echo.HeaderContentEncoding))) {
		case "", "identity":
			if r.ContentLength >= 0 && r.ContentLength < need {
				need = r.ContentLength
			}
		case "gzip":
			gzipped = true
			if r.ContentLength >= 0 && r.ContentLength < need/gzipEstimate {
				need = r.ContentLength * gzipEstimate
			}
		}
		if need < s.pushFloor {
			need = s.pushFloor // at most MaxPushes at once
		}
		ctx, cancel := context.WithTimeout(r.Context(), s.timeouts.PushWait)
		defer cancel()
		if err := s.pushMem.acquire(ctx, need); err != nil {
			s.m.admission.WithLabelValues("refused").Inc()
			return s.pushGaveUp(c, r.Context())
		}
		meter := &pushMeter{ctx: ctx, mem: s.pushMem, held: need}
		defer func() { s.pushMem.release(meter.held) }()
		s.m.admission.WithLabelValues("admitted").Inc()
		if r.Body != nil && r.Body != http.NoBody {
			_ = http.NewResponseController(c.Response().Writer).SetReadDeadline(time.Now().Add(s.timeouts.Read))
			if gzipped && need < schema.MaxBodyBytes {
				meter.ReadCloser = r.Body
				r.Body = meter
			}
		}
		c.SetRequest(r.WithContext(ctx))
		err := next(c)
		if err != nil && c.Get(pushAppliedKey) == nil && ctx.Err() != nil &&
			(errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)) {
			return s.pushGaveUp(c, r.Context())
		}
		return err
	}
}

// boundPushes runs before authentication on the push route: when MaxPushes +
// MaxPushWaiting pushes are already in the server (being authenticated, waiting for
// admission, admitted), a push answers 503 with Retry-After at once, before anything is
// looked up or read for it. Under a storm the pushes waiting to be authenticated (a read
// of the account and device each) are as many as those waiting for admission: bounding
// only the latter left 3,000 pushes in the server and 257 MB of RSS.
func (s *Server) boundPushes(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		n := s.pushesIn.Add(1)
		defer s.pushesIn.Add(-1)
		if n > s.maxInServer {
			s.m.admission.WithLabelValues("refused").Inc()
			return s.pushGaveUp(c, c.Request().Context())
		}
		return next(c)
	}
}

// pushMeter is a gzipped push body admitted with an estimated share. readBody counts the
// decompressed bytes through it (decoded); past the share, the push gives its share back
// and waits, within its deadline, for the largest body's. Giving back before waiting means
// no push holds a share while it waits for more, so pushes that all decompress to more
// than estimated cannot block each other; what they have read meanwhile was admitted
// within PushMemory, and while they wait at the head of the FIFO nothing new is admitted.
type pushMeter struct {
	io.ReadCloser // the compressed body
	ctx           context.Context
	mem           *weighted
	held          int64 // the share held now
	read          int64 // decompressed bytes read
}

// decoded wraps the decompressed stream read from this body.
func (m *pushMeter) decoded(r io.Reader) io.Reader { return &meteredReader{m: m, r: r} }

type meteredReader struct {
	m *pushMeter
	r io.Reader
}

func (d *meteredReader) Read(p []byte) (int, error) {
	n, err := d.r.Read(p)
	m := d.m
	m.read += int64(n)
	if m.read > m.held && m.held < schema.MaxBodyBytes {
		m.mem.release(m.held)
		m.held = 0
		if werr := m.mem.acquire(m.ctx, schema.MaxBodyBytes); werr != nil {
			return n, werr // a context error: readBody passes it on, admitPush answers 503
		}
		m.held = schema.MaxBodyBytes
	}
	return n, err
}

// pushGaveUp answers a push that ran out of time: 503 with Retry-After, or nothing if
// the phone is gone.
func (s *Server) pushGaveUp(c echo.Context, client context.Context) error {
	if client.Err() != nil {
		return c.NoContent(499) // the phone hung up; nobody reads this
	}
	return &schema.Error{Code: schema.CodeUnavailable, RetryAfter: 5 * time.Second,
		Message: "Máy chủ đang bận, vui lòng gửi lại sau ít giây / the server is busy; resend the same batch in a few seconds"}
}

// weighted is a FIFO weighted semaphore: acquire(n) waits until n units are free and no
// earlier waiter is ahead.
type weighted struct {
	mu      sync.Mutex
	size    int64
	cur     int64
	waiters []*waiter
}

type waiter struct {
	n     int64
	ready chan struct{}
}

func newWeighted(size int64) *weighted { return &weighted{size: size} }

func (w *weighted) acquire(ctx context.Context, n int64) error {
	if n > w.size {
		n = w.size
	}
	w.mu.Lock()
	if w.size-w.cur >= n && len(w.waiters) == 0 {
		w.cur += n
		w.mu.Unlock()
		return nil
	}
	wt := &waiter{n: n, ready: make(chan struct{})}
	w.waiters = append(w.waiters, wt)
	w.mu.Unlock()
	select {
	case <-wt.ready:
		return nil
	case <-ctx.Done():
		w.mu.Lock()
		select {
		case <-wt.ready: // granted meanwhile: give it back
			w.cur -= n
			w.notify()
		default:
			for i, x := range w.waiters {
				if x == wt {
					w.waiters = append(w.waiters[:i], w.waiters[i+1:]...)
					break
				}
			}
			w.notify() // the head may have changed
		}
		w.mu.Unlock()
		return ctx.Err()
	}
}

func (w *weighted) release(n int64) {
	if n > w.size {
		n = w.size
	}
	w.mu.Lock()
	w.cur -= n
	w.notify()
	w.mu.Unlock()
}

// notify grants waiters in order while they fit. Call with mu held.
func (w *weighted) notify() {
	for len(w.waiters) > 0 {
		wt := w.waiters[0]
		if w.size-w.cur < wt.n {
			return
		}
		w.cur += wt.n
		w.waiters = w.waiters[1:]
		close(wt.ready)
	}
}

// waiting returns how many acquire calls wait now.
func (w *weighted) waiting() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.waiters)
}

// inUse returns the units held now.
func (w *weighted) inUse() int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.cur
}

// compressAnswers gzips answers of minLength bytes or more for clients that accept gzip,
// as Echo's Gzip middleware does, but takes a compressor from its pool only when an
// answer's body is written, and gives it back when the answer ends. Echo's takes one when
// the request arrives: a compressor at the default level holds about 1 MB of flate state,
// so every push waiting for admission or for the writer held one — 4 GB with 4,000 pushes
// waiting in the evening storm (docs/BENCHMARKS.md).
func compressAnswers(minLength int) echo.MiddlewareFunc {
	pool := &sync.Pool{New: func() any { return gzip.NewWriter(io.Discard) }}
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			res := c.Response()
			res.Header().Add(echo.HeaderVary, echo.HeaderAcceptEncoding)
			if !strings.Contains(c.Request().Header.Get(echo.HeaderAcceptEncoding), "gzip") {
				return next(c)
			}
			rw := res.Writer
			w := &lazyGzip{ResponseWriter: rw, pool: pool, min: minLength}
			res.Writer = w
			defer w.finish(res, rw)
			return next(c)
		}
	}
}

// lazyGzip holds an answer's start until it reaches min bytes (then compresses it) or
// ends (then sends it as is).
type lazyGzip struct {
	http.ResponseWriter
	pool        *sync.Pool
	min         int
	buf         []byte
	code        int
	wroteHeader bool
	gz          *gzip.Writer // from pool once the answer is compressed
}

func (w *lazyGzip) WriteHeader(code int) {
	w.Header().Del(echo.HeaderContentLength)
	w.wroteHeader, w.code = true, code
}

func (w *lazyGzip) Write(b []byte) (int, error) {
	if w.gz != nil {
		return w.gz.Write(b)
	}
	if w.Header().Get(echo.HeaderContentType) == "" {
		w.Header().Set(echo.HeaderContentType, http.DetectContentType(b))
	}
	if len(w.buf)+len(b) < w.min {
		w.buf = append(w.buf, b...)
		return len(b), nil
	}
	if err := w.start(); err != nil {
		return 0, err
	}
	return w.gz.Write(b)
}

// start begins the compressed answer with what was held back.
func (w *lazyGzip) start() error {
	h := w.Header()
	h.Set(echo.HeaderContentEncoding, "gzip")
	h.Del(echo.HeaderContentLength)
	if w.wroteHeader {
		w.ResponseWriter.WriteHeader(w.code)
	}
	w.gz = w.pool.Get().(*gzip.Writer)
	w.gz.Reset(w.ResponseWriter)
	buf := w.buf
	w.buf = nil
	if len(buf) > 0 {
		if _, err := w.gz.Write(buf); err != nil {
			return err
		}
	}
	return nil
}

// Flush sends what is written so far: the answer is compressed from then on, since how
// much more follows is unknown.
func (w *lazyGzip) Flush() {
	if w.gz == nil {
		if err := w.start(); err != nil {
			return
		}
	}
	w.gz.Flush()
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

func (w *lazyGzip) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// finish ends the answer: closes the gzip stream and returns the compressor to the pool,
// or sends the short answer held back. The response writer is put back, so that an error
// answered after the handler returned (the error handler runs later) goes out plain.
func (w *lazyGzip) finish(res *echo.Response, rw http.ResponseWriter) {
	res.Writer = rw
	if w.gz != nil {
		w.gz.Close()
		w.gz.Reset(io.Discard)
		w.pool.Put(w.gz)
		w.gz = nil
		return
	}
	if w.wroteHeader {
		rw.WriteHeader(w.code)
	}
	if len(w.buf) > 0 {
		rw.Write(w.buf)
	}
}
