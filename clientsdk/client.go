package clientsdk

import (
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/cdtsync/cdtsync/schema"
	"github.com/cdtsync/cdtsync/sync/hlc"
)

// Options configure a Client. The zero value is what a phone uses.
type Options struct {
	// DeviceID is the phone's own stable id, sent at enrolment and the tie-break of
	// conflicts. Empty means a random UUID made at the first Open and kept in the database.
	// A given id is kept too: the id of an existing database never changes.
	DeviceID string
	// DeviceName is shown to coordinators ("Redmi của Hồng"). Empty means "cdtsync".
	DeviceName string
	// Now is the phone's clock; nil means time.Now. Tests inject a wrong one.
	Now func() time.Time
	// Secrets keeps credentials; nil means a table of the database file.
	Secrets SecretStore
	// HTTPClient sends requests; nil means NewHTTPClient(). Never http.DefaultClient:
	// it has no timeouts.
	HTTPClient *http.Client
	// Backoff tunes retries of one request within a Sync.
	Backoff Backoff
	// PushBatch is the number of operations per push; 0 means schema.DefaultPushBatch.
	PushBatch int
	// PullLimit is the page size of a pull; 0 means schema.DefaultPullLimit.
	PullLimit int
	// OnProgress, if set, is called during Sync after each pushed batch and pulled page,
	// from the goroutine running Sync.
	OnProgress func(Progress)
	// Logger receives debug and warning events (ids and counts only, never tokens, refs
	// or notes); nil discards them.
	Logger *slog.Logger
}

// Backoff tunes the retries of a request within one Sync: exponential backoff with full
// jitter (a random wait between 0 and Initial·2^attempt, capped at Max), or the server's
// Retry-After when it gives one (capped at Max too).
type Backoff struct {
	Initial time.Duration // 0 means 1 s
	Max     time.Duration // 0 means 5 min
	// Retries is how many times one request is retried before Sync gives up and returns
	// the error (the next Sync starts again); 0 means 6, negative means none.
	Retries int
}

func (b Backoff) withDefaults() Backoff {
	if b.Initial <= 0 {
		b.Initial = time.Second
	}
	if b.Max <= 0 {
		b.Max = 5 * time.Minute
	}
	if b.Retries == 0 {
		b.Retries = 6
	}
	if b.Retries < 0 {
		b.Retries = 0
	}
	return b
}

// Progress reports Sync's advance for one volunteer.
type Progress struct {
	VolunteerID int64
	Phase       string // "push" or "pull"
	// Done and Total count operations answered and operations to push (push), or changes
	// applied (pull: Total is 0, unknown).
	Done, Total int
}

// NewHTTPClient returns an HTTP client with timeouts suited to 3G: generous enough for a
// 200-operation push on a slow link, short enough that a dead connection is noticed and
// retried. Responses are gzip-compressed (the transport asks for it).
func NewHTTPClient() *http.Client {
	return &http.Client{
		Timeout: 90 * time.Second, // a whole request, body included
		Transport: &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           (&net.Dialer{Timeout: 20 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			TLSHandshakeTimeout:   20 * time.Second,
			ResponseHeaderTimeout: 60 * time.Second, // after the body is sent: the server's fsync, a busy writer
			IdleConnTimeout:       60 * time.Second,
			MaxIdleConnsPerHost:   2,
			ForceAttemptHTTP2:     true,
		},
		// Redirects would drop the Authorization header or resend a push elsewhere.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// Client is the phone-side SDK over one local database file. Create it with Open and
// Close it when the app stops. Its methods are safe for concurrent use.
type Client struct {
	db       *sql.DB
	opts     Options
	now      func() time.Time
	clk      atomic.Pointer[hlc.Clock] // replaced when it ran ahead of server time (clockRanAhead)
	secrets  SecretStore
	hc       *http.Client
	backoff  Backoff
	log      *slog.Logger
	deviceID string
	stmts    map[string]*sql.Stmt
	cur      atomic.Int64 // the current volunteer; 0 with nobody enrolled

	syncSem chan struct{} // one Sync at a time

	mu      sync.Mutex
	closed  bool
	running sync.WaitGroup
	stop    context.Context // cancelled by Close: running Syncs end
	cancel  context.CancelFunc
}

// Open opens (creating if needed) the SDK's database at path, a file in the app's private
// storage. It restores the clock's last reading and offset, so HLCs keep increasing across
// restarts even if the phone's clock went back.
func Open(ctx context.Context, path string, opts Options) (*Client, error) {
	db, err := openLocal(ctx, path)
	if err != nil {
		return nil, err
	}
	c := &Client{db: db, opts: opts, now: opts.Now, secrets: opts.Secrets, hc: opts.HTTPClient,
		backoff: opts.Backoff.withDefaults(), log: opts.Logger, syncSem: make(chan struct{}, 1)}
	if c.now == nil {
		c.now = time.Now
	}
	if c.secrets == nil {
		c.secrets = &dbSecrets{db: db}
	}
	if c.hc == nil {
		c.hc = NewHTTPClient()
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if c.opts.PushBatch <= 0 || c.opts.PushBatch > schema.MaxOpsPerPush {
		c.opts.PushBatch = schema.DefaultPushBatch
	}
	if c.opts.PullLimit <= 0 || c.opts.PullLimit > schema.MaxPullLimit {
		c.opts.PullLimit = schema.DefaultPullLimit
	}
	if c.opts.DeviceName == "" {
		c.opts.DeviceName = "cdtsync"
	}
	c.clk.Store(&hlc.Clock{Now: c.now})
	err = c.inTx(ctx, func(tx *sql.Tx) error {
		id, err := getMeta(ctx, tx, "device_id")
		if err != nil {
			return err
		}
		if id == "" {
			id = opts.DeviceID
			if id == "" {
				id = uuid.NewString()
			}
			if err := setMeta(ctx, tx, "device_id", id); err != nil {
				return err
			}
		}
		c.deviceID = id
		if v, err := getMeta(ctx, tx, "hlc_last"); err != nil {
			return err
		} else if v != "" {
			if t, err := hlc.Parse(v); err == nil {
				c.clock().Observe(t)
			}
		}
		if v, err := getMeta(ctx, tx, "clock_offset_ms"); err != nil {
			return err
		} else if ms, err := strconv.ParseInt(v, 10, 64); err == nil {
			c.clock().SetOffset(time.Duration(ms) * time.Millisecond)
		}
		cur, err := getMeta(ctx, tx, "current_volunteer")
		c.cur.Store(parseInt(cur))
		return err
	})
	if err == nil {
		err = c.prepareAll(ctx)
	}
	if err != nil {
		db.Close()
		return nil, err
	}
	c.stop, c.cancel = context.WithCancel(context.Background())
	return c, nil
}

// Close stops a running Sync (it returns context.Canceled; what it had not finished is
// resumed by the next Sync after Open), waits for it, and closes the database.
// Operations recorded before are on disk. Close is idempotent.
func (c *Client) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	c.mu.Unlock()
	c.cancel()
	c.running.Wait()
	return c.db.Close()
}

// begin registers a long-running call (Sync, Enroll) so Close waits for it, and returns
// its context, cancelled by Close as well as by ctx.
func (c *Client) begin(ctx context.Context) (context.Context, func(), error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, nil, errClosed
	}
	c.running.Add(1)
	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(c.stop, cancel)
	return ctx, func() { stop(); cancel(); c.running.Done() }, nil
}

var errClosed = errors.New("clientsdk: client closed")

// DeviceID returns the phone's own id.
func (c *Client) DeviceID() string { return c.deviceID }

// ClockOffset returns the correction the clock applies to the phone's clock (server time
// minus phone time), as learned from the last server response.
func (c *Client) ClockOffset() time.Duration { return c.clock().Offset() }

// serverNow is the phone's clock corrected by the learned offset: the server's time as
// well as the phone knows it.
func (c *Client) serverNow() time.Time { return c.now().Add(c.clock().Offset()) }

// clock returns the Client's hybrid logical clock.
func (c *Client) clock() *hlc.Clock { return c.clk.Load() }

// learnServerTime sets the clock's offset from a response's server_time. The server
// stamped it between the request leaving and the answer arriving, so the phone's clock
// mid-way is the best reading to compare it with, good to half the round trip: a
// measurement that agrees with the offset in use within that margin changes nothing, so
// transit jitter does not move the clock (two phones of a team keep the order in which
// their volunteers recorded). If the clock had run ahead of server time (the phone's
// clock jumped forward while offline, so its stamps would be refused as clock_ahead, and
// every later stamp with them), it starts a new clock at server time, after every stamp
// the server may have accepted.
func (c *Client) learnServerTime(ctx context.Context, serverTime string, ex exchange) {
	st, err := time.Parse(time.RFC3339Nano, serverTime)
	if err != nil || ex.received.IsZero() {
		return
	}
	half := ex.received.Sub(ex.sent) / 2
	measured := st.Sub(ex.sent.Add(half))
	cl := c.clock()
	if d := measured - cl.Offset(); d > half+time.Millisecond || d < -half-time.Millisecond {
		cl.SetOffset(measured.Round(time.Millisecond))
	}
	offset := cl.Offset()
	limit := hlc.FromTime(st.Add(schema.MaxClockAhead / 2))
	if cl.Last() <= limit {
		return
	}
	// The server refuses stamps more than MaxClockAhead ahead, so none it holds is after
	// st + MaxClockAhead; observe the greatest version the phone knows below that.
	accepted := hlc.FromTime(st.Add(schema.MaxClockAhead))
	var v sql.NullString
	if err := c.db.QueryRowContext(ctx, `SELECT max(version) FROM logs WHERE version <> '' AND version <= ?`, accepted.String()).Scan(&v); err != nil {
		c.log.Warn("clientsdk: resetting a clock that ran ahead", "err", err)
		return
	}
	fresh := &hlc.Clock{Now: c.now}
	fresh.SetOffset(offset)
	if t, err := hlc.Parse(v.String); err == nil {
		fresh.Observe(t)
	}
	if c.clk.CompareAndSwap(cl, fresh) {
		c.log.Warn("clientsdk: the clock ran ahead of server time; restarted at server time", "ahead_ms", cl.Last().Millis()-hlc.FromTime(st).Millis())
	}
}

// saveClock persists the clock's last reading and offset in tx, so a restart continues
// from them.
func (c *Client) saveClock(ctx context.Context, tx *sql.Tx) error {
	_, err := c.exec(ctx, tx, qSaveClock, c.clock().Last().String(), strconv.FormatInt(c.clock().Offset().Milliseconds(), 10))
	return err
}

var qSaveClock = stmt(`INSERT INTO meta (key, value) VALUES ('hlc_last', ?), ('clock_offset_ms', ?)
	ON CONFLICT (key) DO UPDATE SET value = excluded.value`)

func errNotEnrolled() *schema.Error {
	return schema.Errorf(schema.CodeUnauthorized,
		"Chưa có thành viên tổ nào đăng ký trên máy này; hãy nhập mã đăng ký thiết bị / no volunteer is enrolled on this phone; enter an enrolment code")
}

func timeString(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func parseTime(s string) time.Time {
	t, _ := time.Parse(time.RFC3339Nano, s)
	return t
}
