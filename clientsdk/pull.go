package clientsdk

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"

	"github.com/cdtsync/cdtsync/schema"
	"github.com/cdtsync/cdtsync/sync/hlc"
)

// pull fetches the volunteer's changes page by page until the server has no more; each
// page and its cursor are applied in one transaction. It returns how many logs it
// re-offered to the server after a reset (see resetDone).
func (c *Client) pull(ctx context.Context, s *session, volunteer int64, rep *SyncReport) (int, error) {
	var cursor string
	if err := c.db.QueryRowContext(ctx, `SELECT cursor FROM volunteers WHERE id = ?`, volunteer).Scan(&cursor); err != nil {
		return 0, err
	}
	forceReset, done, reoffered := false, 0, 0
	for {
		var resp schema.PullResponse
		var ex exchange
		u := s.base + "/v1/sync/pull?limit=" + strconv.Itoa(c.opts.PullLimit)
		if cursor != "" {
			u += "&cursor=" + url.QueryEscape(cursor)
		}
		err := c.withRetry(ctx, "pull", func() error {
			return c.authorized(ctx, s, func(token string) error {
				resp = schema.PullResponse{}
				var err error
				ex, err = c.call(ctx, request{method: http.MethodGet, url: u, token: token}, &resp)
				return err
			})
		})
		var ae *APIError
		if errors.As(err, &ae) && ae.Status == http.StatusBadRequest && cursor != "" {
			// An unreadable cursor: start over, as after a reset.
			c.log.Warn("clientsdk: cursor refused; pulling again from the start", "volunteer_id", volunteer)
			cursor, forceReset = "", true
			continue
		}
		if err != nil {
			return reoffered, err
		}
		c.learnServerTime(ctx, resp.ServerTime, ex)
		for _, ch := range resp.Changes {
			if ch.Type == schema.ChangeLog && ch.Log != nil {
				if v, err := hlc.Parse(ch.Log.Version); err == nil {
					c.clock().Observe(v)
				}
			}
		}
		reset := resp.Reset || forceReset
		forceReset = false
		err = c.inTx(ctx, func(tx *sql.Tx) error {
			var resetting bool
			if err := tx.QueryRowContext(ctx, `SELECT resetting FROM volunteers WHERE id = ?`, volunteer).Scan(&resetting); err != nil {
				return err
			}
			if reset {
				if err := dropPulled(ctx, tx, volunteer); err != nil {
					return err
				}
				resetting = true
			}
			for _, ch := range resp.Changes {
				if err := c.applyChange(ctx, tx, volunteer, ch); err != nil {
					return err
				}
			}
			if !resp.HasMore && resetting {
				n, err := c.resetDone(ctx, tx, volunteer)
				if err != nil {
					return err
				}
				reoffered += n
				resetting = false
			}
			if _, err := tx.ExecContext(ctx, `UPDATE volunteers SET cursor = ?, resetting = ? WHERE id = ?`,
				resp.Cursor, resetting, volunteer); err != nil {
				return err
			}
			return c.saveClock(ctx, tx)
		})
		if err != nil {
			return reoffered, err
		}
		done += len(resp.Changes)
		rep.Pulled += len(resp.Changes)
		if c.opts.OnProgress != nil {
			c.opts.OnProgress(Progress{VolunteerID: volunteer, Phase: "pull", Done: done})
		}
		if !resp.HasMore {
			return reoffered, nil
		}
		cursor = resp.Cursor
	}
}

// applyChange applies one pulled change in tx.
func (c *Client) applyChange(ctx context.Context, tx *sql.Tx, volunteer int64, ch schema.Change) error {
	ref := func(typ, key string, v any) error {
		b, err := json.Marshal(v)
		if err != nil {
			return err
		}
		_, err = c.exec(ctx, tx, qUpsertRef, volunteer, typ, key, string(b))
		return err
	}
	switch {
	case ch.Type == schema.ChangeLog && ch.Log != nil:
		return c.applyLog(ctx, tx, volunteer, ch.Log)
	case ch.Type == schema.ChangeUnit && ch.Unit != nil:
		return ref("unit", itoa(ch.Unit.ID), ch.Unit)
	case ch.Type == schema.ChangeTeam && ch.Team != nil:
		return ref("team", itoa(ch.Team.ID), ch.Team)
	case ch.Type == schema.ChangeKind && ch.Kind != nil:
		return ref("kind", ch.Kind.Code, ch.Kind)
	case ch.Type == schema.ChangeTarget && ch.Target != nil:
		t := ch.Target
		b, err := json.Marshal(t)
		if err != nil {
			return err
		}
		// Targets are versioned: the newest version of a unit, metric and period counts.
		_, err = tx.ExecContext(ctx, `INSERT INTO reference (volunteer_id, type, key, data) VALUES (?, 'target', ?, ?)
			ON CONFLICT (volunteer_id, type, key) DO UPDATE SET data = excluded.data
			WHERE json_extract(excluded.data, '$.version') >= json_extract(reference.data, '$.version')`,
			volunteer, itoa(t.UnitID)+"/"+t.Metric+"/"+t.Period, string(b))
		return err
	}
	return nil // a change type this SDK does not know: newer servers may add some
}

// applyLog applies a pulled log: it becomes the server's content known to the phone, and
// the phone shows it with the outbox's operations for it laid over.
func (c *Client) applyLog(ctx context.Context, tx *sql.Tx, volunteer int64, l *schema.Log) error {
	if l.VolunteerID != 0 && l.VolunteerID != volunteer {
		return nil
	}
	var (
		owner     int64
		version   string
		needsFull bool
		pending   int
	)
	err := c.queryRow(ctx, tx, qLogState, l.ID).Scan(&owner, &version, &needsFull, &pending)
	exists := err == nil
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return err
	}
	if exists && owner != volunteer {
		return nil
	}
	// The base of the next edit: what the server sent, or the phone's own unsynced edit if
	// it is later.
	v := l.Version
	if pending > 0 && version > v {
		v = version
	}
	content := l.Content
	if l.Deleted {
		content = schema.Content{}
	}
	cb, _ := json.Marshal(&content)
	sb, _ := json.Marshal(l)
	whole := l.Complete || l.Deleted
	args := []any{l.ID, volunteer, string(cb), l.Deleted, string(cb), l.Deleted, string(sb), v, occurredMillis(&content), timeString(c.now()), whole}
	if pending == 0 && (!needsFull || whole) {
		// Nothing unsynced: the phone shows the server's log as it is.
		_, err := c.exec(ctx, tx, qUpsertPulledShown, args...)
		return err
	}
	if _, err := c.exec(ctx, tx, qUpsertPulled, args...); err != nil {
		return err
	}
	return c.recompute(ctx, tx, l.ID)
}

// dropPulled forgets what was pulled for a volunteer (logs' server state and reference
// data), keeping the outbox and what the phone shows, when a pull starts over.
func dropPulled(ctx context.Context, tx *sql.Tx, volunteer int64) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM reference WHERE volunteer_id = ?`, volunteer); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, `UPDATE logs SET server = NULL, confirmed = NULL, gone = 0 WHERE volunteer_id = ?`, volunteer)
	return err
}

// resetDone ends a pull that started over. Logs the phone knew but the server no longer
// has (it was restored from a backup older than them) are offered again: each becomes a
// new creation carrying all its fields, so nothing the volunteer recorded is lost to a
// restore. Deleted ones are simply forgotten. It returns the number re-offered.
func (c *Client) resetDone(ctx context.Context, tx *sql.Tx, volunteer int64) (int, error) {
	if _, err := tx.ExecContext(ctx, `DELETE FROM logs WHERE volunteer_id = ? AND server IS NULL AND deleted = 1
		AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.log_id = logs.id)`, volunteer); err != nil {
		return 0, err
	}
	// Logs with a creation waiting in the outbox will be created by it; the others (none
	// pending, or only edits) are offered whole.
	rows, err := tx.QueryContext(ctx, `SELECT id, display FROM logs WHERE volunteer_id = ? AND server IS NULL AND deleted = 0
		AND needs_full = 0 AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.log_id = logs.id
			AND json_extract(o.op, '$.fields.hamlet_id') IS NOT NULL AND json_extract(o.op, '$.fields.kind') IS NOT NULL
			AND json_extract(o.op, '$.fields.occurred_at') IS NOT NULL)`, volunteer)
	if err != nil {
		return 0, err
	}
	type lost struct {
		id string
		ct schema.Content
	}
	var all []lost
	for rows.Next() {
		var l lost
		var display string
		if err := rows.Scan(&l.id, &display); err != nil {
			rows.Close()
			return 0, err
		}
		if err := json.Unmarshal([]byte(display), &l.ct); err != nil {
			rows.Close()
			return 0, err
		}
		all = append(all, l)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	n := 0
	for _, l := range all {
		if l.ct.SetMask() == 0 {
			continue // nothing the phone knows to offer
		}
		n++
		op, err := c.newOp(schema.OpUpsert, l.id, "", &l.ct, l.ct.SetMask())
		if err != nil {
			return 0, err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE logs SET version = ? WHERE id = ?`, op.HLC, l.id); err != nil {
			return 0, err
		}
		if err := c.enqueue(ctx, tx, volunteer, op); err != nil {
			return 0, err
		}
	}
	if n > 0 {
		c.log.Warn("clientsdk: re-offering logs the server no longer has", "volunteer_id", volunteer, "logs", n)
	}
	return n, nil
}
