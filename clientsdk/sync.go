package clientsdk

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/google/uuid"

	"github.com/cdtsync/cdtsync/schema"
	"github.com/cdtsync/cdtsync/sync/hlc"
)

// SyncReport says what one Sync did.
type SyncReport struct {
	Pushed   int `json:"pushed"`   // operations the server answered applied or already_applied
	Rejected int `json:"rejected"` // operations the server rejected (see Status)
	Pulled   int `json:"pulled"`   // changes pulled and applied
	// Synced counts the volunteers whose push and pull both completed.
	Synced int `json:"synced"`
}

// pushBody is schema.PushRequest with the operations as stored: each is sent byte for
// byte as it was made, on every attempt.
type pushBody struct {
	DeviceTime      string            `json:"device_time"`
	PendingOps      *int              `json:"pending_ops,omitempty"`
	OldestPendingAt string            `json:"oldest_pending_at,omitempty"`
	Ops             []json.RawMessage `json:"ops"`
}

// outboxOp is one row of an outbox.
type outboxOp struct {
	seq   int64
	opID  string
	logID string
	raw   string
	op    schema.Op
}

// Sync pushes every enrolled volunteer's outbox with their own credentials, in creation
// order and in batches, then pulls what changed for them, until the server has nothing
// more. The current volunteer goes first.
//
// Network failures, timeouts and 5xx/429 answers are retried with backoff (Options.Backoff)
// within the call; when the retries are spent Sync returns the error (a *NetworkError or
// an *APIError) and the next call resumes. A volunteer whose credentials the server
// refuses is marked NeedsEnrollment and skipped; the others are still synced; the error
// returned then joins each volunteer's error. Cancelling ctx, or Close, stops Sync at once
// with ctx's error: nothing is lost or applied twice, the next Sync resumes. Only one Sync
// runs at a time; a second call waits for the first.
func (c *Client) Sync(ctx context.Context) (SyncReport, error) {
	var rep SyncReport
	ctx, done, err := c.begin(ctx)
	if err != nil {
		return rep, err
	}
	defer done()
	select {
	case c.syncSem <- struct{}{}:
	case <-ctx.Done():
		return rep, ctx.Err()
	}
	defer func() { <-c.syncSem }()
	base, err := getMeta(ctx, c.db, "server_url")
	if err != nil {
		return rep, err
	}
	vols, err := c.volunteerRows(ctx)
	if err != nil {
		return rep, err
	}
	if len(vols) == 0 || base == "" {
		return rep, errNotEnrolled()
	}
	// The current volunteer first: they are the one holding the phone.
	for i, v := range vols {
		if v.Current {
			vols[0], vols[i] = vols[i], vols[0]
		}
	}
	var errs []error
	for _, v := range vols {
		if v.NeedsEnrollment {
			errs = append(errs, fmt.Errorf("%s (%d): %w", v.Name, v.ID, errReenrol(v.Name)))
			continue
		}
		err := c.syncVolunteer(ctx, base, v, &rep)
		if ctx.Err() != nil {
			return rep, ctx.Err()
		}
		c.noteSync(ctx, v.ID, err)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s (%d): %w", v.Name, v.ID, err))
			var ne *NetworkError
			if errors.As(err, &ne) {
				break // the network is down: the others would only wait for it too
			}
			continue
		}
		rep.Synced++
	}
	return rep, errors.Join(errs...)
}

// noteSync records the outcome of a volunteer's sync for Status.
func (c *Client) noteSync(ctx context.Context, volunteer int64, err error) {
	now := timeString(c.now())
	var xerr error
	if err == nil {
		_, xerr = c.db.ExecContext(ctx, `UPDATE volunteers SET last_sync_at = ?, last_attempt_at = ?, last_error_code = '', last_error = ''
			WHERE id = ?`, now, now, volunteer)
	} else {
		_, xerr = c.db.ExecContext(ctx, `UPDATE volunteers SET last_attempt_at = ?, last_error_code = ?, last_error = ? WHERE id = ?`,
			now, schema.ErrorCode(err), schema.ErrorMessage(err), volunteer)
	}
	if xerr != nil {
		c.log.Warn("clientsdk: saving sync status", "volunteer_id", volunteer, "err", xerr)
	}
}

func (c *Client) syncVolunteer(ctx context.Context, base string, v volunteerRow, rep *SyncReport) error {
	tok, err := c.loadTokens(v.ID)
	if errors.Is(err, ErrNoSecret) {
		if _, err := c.db.ExecContext(ctx, `UPDATE volunteers SET needs_enrollment = 1 WHERE id = ?`, v.ID); err != nil {
			return err
		}
		return errReenrol(v.Name)
	}
	if err != nil {
		return err
	}
	s := &session{volunteer: v.ID, base: base, tok: tok}
	// A pull that ends a reset may re-offer logs the server lost: push those too.
	for round := 0; round < 2; round++ {
		if err := c.push(ctx, s, v.ID, rep); err != nil {
			return err
		}
		reoffered, err := c.pull(ctx, s, v.ID, rep)
		if err != nil {
			return err
		}
		if reoffered == 0 {
			break
		}
	}
	return nil
}

// push sends the volunteer's outbox, as it is when push starts, in batches.
func (c *Client) push(ctx context.Context, s *session, volunteer int64, rep *SyncReport) error {
	var maxSeq int64
	var total int
	if err := c.db.QueryRowContext(ctx, `SELECT coalesce(max(seq), 0), count(*) FROM outbox WHERE volunteer_id = ?`,
		volunteer).Scan(&maxSeq, &total); err != nil {
		return err
	}
	var after int64
	batch, done := c.opts.PushBatch, 0
	for {
		ops, err := c.outboxBatch(ctx, volunteer, after, maxSeq, batch)
		if err != nil {
			return err
		}
		if len(ops) == 0 {
			return nil
		}
		// What the outbox will hold once this push is taken: the server records the report
		// only with the push, whose ops then all leave the outbox. So a phone that sent
		// everything reports 0, and a coordinator sees what is really still waiting.
		var pending int
		var oldest sql.NullString
		if err := c.db.QueryRowContext(ctx, `SELECT count(*), min(created_at) FROM outbox
			WHERE volunteer_id = ? AND NOT (seq > ? AND seq <= ?)`, volunteer, after, ops[len(ops)-1].seq).Scan(&pending, &oldest); err != nil {
			return err
		}
		raws := make([]json.RawMessage, len(ops))
		for i, o := range ops {
			raws[i] = json.RawMessage(o.raw)
		}
		body := func() any {
			b := pushBody{DeviceTime: c.now().Format(time.RFC3339Nano), PendingOps: &pending, Ops: raws}
			if oldest.Valid {
				b.OldestPendingAt = oldest.String
			}
			return b
		}
		var resp schema.PushResponse
		var ex exchange
		err = c.withRetry(ctx, "push", func() error {
			return c.authorized(ctx, s, func(token string) error {
				resp = schema.PushResponse{}
				var err error
				ex, err = c.call(ctx, request{method: http.MethodPost, url: s.base + "/v1/sync/push", token: token, body: body, gzip: true}, &resp)
				return err
			})
		})
		var ae *APIError
		if errors.As(err, &ae) && ae.Status == http.StatusRequestEntityTooLarge {
			if len(ops) > 1 {
				batch = len(ops) / 2
				continue
			}
			// One op over the server's limit can never be sent: it is rejected here, with
			// the server's message, like any rejection.
			resp = schema.PushResponse{Results: []schema.OpResult{{OpID: ops[0].opID, Status: schema.ResultRejected,
				Code: schema.CodeTooLarge, Message: ae.Err.Message}}}
			ex, err = exchange{}, nil
		}
		if err != nil {
			return err
		}
		c.learnServerTime(ctx, resp.ServerTime, ex) // not if the push was not answered
		pushed, rejected, reissued, err := c.applyResults(ctx, ops, resp.Results)
		if err != nil {
			return err
		}
		if reissued > 0 {
			// Re-stamped ops went to the end of the outbox: this push sends them too.
			if err := c.db.QueryRowContext(ctx, `SELECT coalesce(max(seq), 0) FROM outbox WHERE volunteer_id = ?`, volunteer).Scan(&maxSeq); err != nil {
				return err
			}
			total += reissued
		}
		rep.Pushed += pushed
		rep.Rejected += rejected
		done += pushed + rejected
		if pushed+rejected+reissued < len(ops) {
			// Ops the server did not answer (it should answer each) wait for the next Sync.
			c.log.Warn("clientsdk: push answered fewer ops than sent", "sent", len(ops), "answered", pushed+rejected)
		}
		after = ops[len(ops)-1].seq
		if c.opts.OnProgress != nil {
			c.opts.OnProgress(Progress{VolunteerID: volunteer, Phase: "push", Done: done, Total: total})
		}
	}
}

func (c *Client) outboxBatch(ctx context.Context, volunteer, after, maxSeq int64, n int) ([]outboxOp, error) {
	rows, err := c.db.QueryContext(ctx, `SELECT seq, op_id, log_id, op FROM outbox
		WHERE volunteer_id = ? AND seq > ? AND seq <= ? ORDER BY seq LIMIT ?`, volunteer, after, maxSeq, n)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []outboxOp
	for rows.Next() {
		var o outboxOp
		if err := rows.Scan(&o.seq, &o.opID, &o.logID, &o.raw); err != nil {
			return nil, err
		}
		if err := json.Unmarshal([]byte(o.raw), &o.op); err != nil {
			return nil, fmt.Errorf("clientsdk: outbox op %s: %w", o.opID, err)
		}
		out = append(out, o)
	}
	return out, rows.Err()
}

// applyResults takes the server's answers for a pushed batch in one transaction:
// answered ops leave the outbox, applied ones are known to be on the server, rejected
// ones go to the rejected list.
func (c *Client) applyResults(ctx context.Context, ops []outboxOp, results []schema.OpResult) (pushed, rejected, reissued int, err error) {
	byID := make(map[string]schema.OpResult, len(results))
	for _, r := range results {
		byID[r.OpID] = r
	}
	now := timeString(c.now())
	err = c.inTx(ctx, func(tx *sql.Tx) error {
		pushed, rejected, reissued = 0, 0, 0
		restamped := map[string]string{} // old stamp → new, for the bases of later re-stamped edits
		for _, o := range ops {
			r, ok := byID[o.opID]
			if !ok {
				continue
			}
			switch r.Status {
			case schema.ResultApplied, schema.ResultAlreadyApplied:
				if _, err := c.exec(ctx, tx, qDeleteOutbox, o.opID); err != nil {
					return err
				}
				if err := c.confirmOp(ctx, tx, &o.op); err != nil {
					return err
				}
				pushed++
			case schema.ResultRejected:
				if r.Code == schema.CodeClockAhead {
					ok, err := c.reissue(ctx, tx, o, restamped)
					if err != nil {
						return err
					}
					if ok {
						reissued++
						continue
					}
				}
				if err := c.rejectOp(ctx, tx, o, r, now); err != nil {
					return err
				}
				rejected++
			}
		}
		return c.saveClock(ctx, tx)
	})
	return pushed, rejected, reissued, err
}

// reissue handles an op refused as clock_ahead that this phone stamped while its clock
// was ahead of server time: now that the clock follows server time again
// (learnServerTime), the same change goes back in the outbox as a new op, with a new id
// and a stamp in server time. It was never applied, so nothing is doubled; and the
// volunteer's entry is not lost to a clock that jumped. It reports false when re-stamping
// would not help; the op is then rejected as usual.
func (c *Client) reissue(ctx context.Context, tx *sql.Tx, o outboxOp, restamped map[string]string) (bool, error) {
	old, err := hlc.Parse(o.op.HLC)
	if err != nil || old <= hlc.FromTime(c.serverNow().Add(schema.MaxClockAhead)) {
		return false, nil
	}
	stamp := c.clock().Tick()
	if stamp >= old {
		return false, nil
	}
	id, err := uuid.NewV7()
	if err != nil {
		return false, err
	}
	op := o.op
	op.OpID, op.HLC = id.String(), stamp.String()
	restamped[o.op.HLC] = op.HLC
	if nb, ok := restamped[op.Base]; ok {
		op.Base = nb // an edit of a change re-stamped just before
	}
	if op.Base >= op.HLC {
		op.Base = "" // the base was this phone's own stamp from ahead: nothing the server has
	}
	b, err := json.Marshal(op)
	if err != nil {
		return false, err
	}
	var volunteer int64
	var created string
	if err := tx.QueryRowContext(ctx, `DELETE FROM outbox WHERE op_id = ? RETURNING volunteer_id, created_at`, o.opID).Scan(&volunteer, &created); err != nil {
		return false, err
	}
	if _, err := c.exec(ctx, tx, qEnqueue, volunteer, op.OpID, op.ID, string(b), created); err != nil {
		return false, err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE logs SET version = ? WHERE id = ? AND version >= ?`, op.HLC, op.ID, op.HLC); err != nil {
		return false, err
	}
	c.log.Warn("clientsdk: re-stamped an op made while the phone's clock was ahead", "op_id", o.opID, "new_op_id", op.OpID)
	return true, nil
}

// rejectOp moves a rejected op from the outbox to the rejected list and shows the log
// without it.
func (c *Client) rejectOp(ctx context.Context, tx *sql.Tx, o outboxOp, r schema.OpResult, now string) error {
	var volunteer int64
	var created string
	if err := tx.QueryRowContext(ctx, `DELETE FROM outbox WHERE op_id = ? RETURNING volunteer_id, created_at`, o.opID).Scan(&volunteer, &created); err != nil {
		return err
	}
	code := r.Code
	if code == "" {
		code = schema.CodeInvalid
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO rejected (op_id, volunteer_id, log_id, op, code, message, created_at, rejected_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (op_id) DO NOTHING`,
		o.opID, volunteer, o.logID, o.raw, code, r.Message, created, now); err != nil {
		return err
	}
	// A rejected creation of a log the server is not known to hold whole: the next edit
	// must carry every field, or the server would only ever have an incomplete log.
	if _, err := tx.ExecContext(ctx, `UPDATE logs SET reject_code = ?, reject_message = ?,
		needs_full = CASE WHEN ? AND gone = 0 AND (confirmed IS NULL OR json_extract(confirmed, '$.hamlet_id') IS NULL
			OR json_extract(confirmed, '$.kind') IS NULL OR json_extract(confirmed, '$.occurred_at') IS NULL)
			THEN 1 ELSE needs_full END WHERE id = ?`,
		code, r.Message, creates(&o.op), o.logID); err != nil {
		return err
	}
	return c.recompute(ctx, tx, o.logID)
}

// creates reports whether an op carries the fields that create a log.
func creates(op *schema.Op) bool {
	if op.Type != schema.OpUpsert {
		return false
	}
	n := 0
	for name := range op.Fields {
		if f, ok := schema.FieldByName(name); ok && schema.RequiredFields.Has(f) {
			n++
		}
	}
	return n == 3
}

var emptyContent = func() string {
	b, _ := json.Marshal(schema.Content{})
	return string(b)
}()

// confirmOp records that the server applied op: its fields are now on the server (as far
// as this phone knows until the next pull brings the merged log).
func (c *Client) confirmOp(ctx context.Context, tx *sql.Tx, op *schema.Op) error {
	var confirmed sql.NullString
	var gone bool
	err := c.queryRow(ctx, tx, qConfirmed, op.ID).Scan(&confirmed, &gone)
	if errors.Is(err, sql.ErrNoRows) || gone {
		return nil
	}
	if err != nil {
		return err
	}
	if op.Type == schema.OpDelete {
		// A deleted log keeps no content on the phone either: the resident's refs and the
		// note are personal data with no further use.
		_, err := tx.ExecContext(ctx, `UPDATE logs SET gone = 1, confirmed = ?, display = ?, deleted = 1 WHERE id = ?`,
			emptyContent, emptyContent, op.ID)
		return err
	}
	var ct schema.Content
	if confirmed.Valid {
		if err := json.Unmarshal([]byte(confirmed.String), &ct); err != nil {
			return err
		}
	}
	applyOpFields(&ct, op)
	b, _ := json.Marshal(&ct)
	_, err = c.exec(ctx, tx, qSetConfirmed, string(b), creates(op), op.ID)
	return err
}

var (
	qDeleteOutbox   = stmt(`DELETE FROM outbox WHERE op_id = ?`)
	qConfirmed      = stmt(`SELECT confirmed, gone FROM logs WHERE id = ?`)
	qRecomputeState = stmt(`SELECT confirmed, gone, needs_full FROM logs WHERE id = ?`)
	qSetConfirmed   = stmt(`UPDATE logs SET confirmed = ?, needs_full = CASE WHEN ? THEN 0 ELSE needs_full END WHERE id = ?`)
	qLogOps         = stmt(`SELECT op FROM outbox WHERE log_id = ? ORDER BY seq`)
	qSetDisplay     = stmt(`UPDATE logs SET display = ?, deleted = ?, occurred_ms = ? WHERE id = ?`)
	qLogState       = stmt(`SELECT volunteer_id, version, needs_full, (SELECT count(*) FROM outbox WHERE log_id = logs.id) FROM logs WHERE id = ?`)
	// ?11 is true when the pulled log is whole (complete or deleted): then the phone no
	// longer needs to send every field of it.
	qUpsertPulled = stmt(`INSERT INTO logs (id, volunteer_id, display, deleted, confirmed, gone, server, version, occurred_ms, recorded_at)
		VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
		ON CONFLICT (id) DO UPDATE SET confirmed = excluded.confirmed, gone = excluded.gone, server = excluded.server,
			version = excluded.version, needs_full = CASE WHEN ?11 THEN 0 ELSE needs_full END`)
	qUpsertPulledShown = stmt(`INSERT INTO logs (id, volunteer_id, display, deleted, confirmed, gone, server, version, occurred_ms, recorded_at)
		VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
		ON CONFLICT (id) DO UPDATE SET display = excluded.display, deleted = excluded.deleted, confirmed = excluded.confirmed,
			gone = excluded.gone, server = excluded.server, version = excluded.version, occurred_ms = excluded.occurred_ms,
			needs_full = CASE WHEN ?11 THEN 0 ELSE needs_full END`)
	qUpsertRef = stmt(`INSERT INTO reference (volunteer_id, type, key, data) VALUES (?, ?, ?, ?)
		ON CONFLICT (volunteer_id, type, key) DO UPDATE SET data = excluded.data`)
)

// recompute shows a log as the server's content known to the phone with the outbox's
// operations laid over it, in order. A log the server has never confirmed keeps what the
// volunteer typed.
func (c *Client) recompute(ctx context.Context, tx *sql.Tx, id string) error {
	var confirmed sql.NullString
	var gone, needsFull bool
	err := c.queryRow(ctx, tx, qRecomputeState, id).Scan(&confirmed, &gone, &needsFull)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return err
	}
	if (!confirmed.Valid || needsFull) && !gone {
		// The server does not hold the log whole (its creation was refused, or is still on
		// its way): what the volunteer typed is the truth to show.
		return nil
	}
	var ct schema.Content
	if confirmed.Valid && !gone {
		if err := json.Unmarshal([]byte(confirmed.String), &ct); err != nil {
			return err
		}
	}
	deleted := gone
	rows, err := c.query(ctx, tx, qLogOps, id)
	if err != nil {
		return err
	}
	var ops []schema.Op
	for rows.Next() {
		var raw string
		var op schema.Op
		if err := rows.Scan(&raw); err != nil {
			rows.Close()
			return err
		}
		if err := json.Unmarshal([]byte(raw), &op); err != nil {
			rows.Close()
			return err
		}
		ops = append(ops, op)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for i := range ops {
		if ops[i].Type == schema.OpDelete {
			deleted = true
		} else if !gone {
			applyOpFields(&ct, &ops[i])
		}
	}
	b, _ := json.Marshal(&ct)
	_, err = c.exec(ctx, tx, qSetDisplay, string(b), deleted, occurredMillis(&ct), id)
	return err
}
