package clientsdk

import (
	"context"
	"database/sql"
	"encoding/json"
	"time"

	"github.com/cdtsync/cdtsync/schema"
)

// Status is what a volunteer and a coordinator need to trust that nothing is stuck.
type Status struct {
	DeviceID string `json:"device_id"`
	Server   string `json:"server"`
	// ClockOffset is server time minus the phone's clock, as last learned: a phone whose
	// clock is off shows it here ("đồng hồ thiết bị bị lệch").
	ClockOffset time.Duration     `json:"clock_offset_ns"`
	Volunteers  []VolunteerStatus `json:"volunteers"`
}

// VolunteerStatus is one enrolled volunteer's sync state on this phone.
type VolunteerStatus struct {
	Volunteer
	PendingOps int `json:"pending_ops"` // operations not yet answered by the server
	// OldestPendingAt is when the oldest of them was made (server time); zero with none.
	// OldestPendingAge is how long ago that was.
	OldestPendingAt  time.Time     `json:"oldest_pending_at,omitzero"`
	OldestPendingAge time.Duration `json:"oldest_pending_age_ns"`
	// LastSyncAt is the end of the last Sync that pushed and pulled everything (phone
	// clock); zero if never.
	LastSyncAt time.Time `json:"last_sync_at,omitzero"`
	// LastAttemptAt, LastErrorCode and LastError describe the last Sync that failed for
	// this volunteer; cleared by a successful one.
	LastAttemptAt time.Time `json:"last_attempt_at,omitzero"`
	LastErrorCode string    `json:"last_error_code,omitempty"`
	LastError     string    `json:"last_error,omitempty"`
	// Rejected lists the operations the server rejected, newest first, until dismissed.
	Rejected []RejectedOp `json:"rejected"`
}

// RejectedOp is an operation the server rejected: never applied, and re-sending it would
// be rejected again. A fix is a new edit (Edit), or a new record.
type RejectedOp struct {
	OpID       string          `json:"op_id"`
	LogID      string          `json:"log_id"`
	Type       string          `json:"type"`
	Code       string          `json:"code"`    // the server's code, e.g. unknown_hamlet
	Message    string          `json:"message"` // the server's message, Vietnamese first
	Fields     json.RawMessage `json:"fields,omitempty"`
	CreatedAt  time.Time       `json:"created_at"`
	RejectedAt time.Time       `json:"rejected_at"`
}

// Status returns the sync state of every volunteer enrolled on this phone.
func (c *Client) Status(ctx context.Context) (Status, error) {
	st := Status{DeviceID: c.deviceID, ClockOffset: c.clock().Offset()}
	var err error
	if st.Server, err = getMeta(ctx, c.db, "server_url"); err != nil {
		return st, err
	}
	vols, err := c.volunteerRows(ctx)
	if err != nil {
		return st, err
	}
	now := c.serverNow()
	for _, v := range vols {
		vs := VolunteerStatus{Volunteer: v.Volunteer, LastSyncAt: parseTime(v.lastSyncAt), LastAttemptAt: parseTime(v.lastAttemptAt),
			LastErrorCode: v.lastErrorCode, LastError: v.lastError, Rejected: []RejectedOp{}}
		if vs.LastErrorCode == "" {
			vs.LastAttemptAt = time.Time{}
		}
		var oldest sql.NullString
		if err := c.db.QueryRowContext(ctx, `SELECT count(*), min(created_at) FROM outbox WHERE volunteer_id = ?`, v.ID).Scan(&vs.PendingOps, &oldest); err != nil {
			return st, err
		}
		if oldest.Valid {
			vs.OldestPendingAt = parseTime(oldest.String)
			vs.OldestPendingAge = max(now.Sub(vs.OldestPendingAt), 0)
		}
		if vs.Rejected, err = c.rejected(ctx, v.ID); err != nil {
			return st, err
		}
		st.Volunteers = append(st.Volunteers, vs)
	}
	return st, nil
}

func (c *Client) rejected(ctx context.Context, volunteer int64) ([]RejectedOp, error) {
	rows, err := c.db.QueryContext(ctx, `SELECT op_id, log_id, op, code, message, created_at, rejected_at FROM rejected
		WHERE volunteer_id = ? ORDER BY rejected_at DESC, op_id DESC`, volunteer)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []RejectedOp{}
	for rows.Next() {
		var (
			r                 RejectedOp
			raw, created, rej string
			op                schema.Op
		)
		if err := rows.Scan(&r.OpID, &r.LogID, &raw, &r.Code, &r.Message, &created, &rej); err != nil {
			return nil, err
		}
		if json.Unmarshal([]byte(raw), &op) == nil {
			r.Type = op.Type
			if len(op.Fields) > 0 {
				r.Fields, _ = json.Marshal(op.Fields)
			}
		}
		r.CreatedAt, r.RejectedAt = parseTime(created), parseTime(rej)
		out = append(out, r)
	}
	return out, rows.Err()
}

// DismissRejected removes a rejected operation from the list once the volunteer has seen
// it (and fixed the log with a new edit, or decided not to). CodeNotFound if there is no
// such rejected operation.
func (c *Client) DismissRejected(ctx context.Context, opID string) error {
	res, err := c.db.ExecContext(ctx, `DELETE FROM rejected WHERE op_id = ?`, opID)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return schema.Errorf(schema.CodeNotFound, "Không có thao tác bị từ chối %s / no rejected operation %s", opID, opID)
	}
	return nil
}
