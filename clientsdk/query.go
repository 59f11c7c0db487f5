package clientsdk

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"strings"

	"github.com/cdtsync/cdtsync/schema"
)

// LogFilter narrows Logs. The zero value lists every log of the current volunteer that is
// not deleted, newest first.
type LogFilter struct {
	IncludeDeleted bool
	Unsynced       bool // only logs with pending operations, or that the server does not have
	Limit          int  // 0 means all
}

const logViewColumns = `l.id, l.volunteer_id, l.display, l.deleted, l.confirmed IS NOT NULL OR l.gone, l.server,
	l.version, l.recorded_at, l.reject_code, l.reject_message,
	(SELECT count(*) FROM outbox o WHERE o.log_id = l.id)`

func scanLogView(s interface{ Scan(...any) error }) (Log, error) {
	var (
		out        Log
		volunteer  int64
		display    string
		known      bool
		server     sql.NullString
		recordedAt string
	)
	err := s.Scan(&out.ID, &volunteer, &display, &out.Deleted, &known, &server, &out.Version, &recordedAt,
		&out.RejectedCode, &out.RejectedMessage, &out.PendingOps)
	if err != nil {
		return out, err
	}
	id, deleted, version := out.ID, out.Deleted, out.Version
	if server.Valid {
		if err := json.Unmarshal([]byte(server.String), &out.Log); err != nil {
			return out, err
		}
	}
	out.ID, out.Deleted, out.Version, out.VolunteerID = id, deleted, version, volunteer
	out.Content = schema.Content{}
	if err := json.Unmarshal([]byte(display), &out.Content); err != nil {
		return out, err
	}
	out.Complete = out.Content.SetMask()&schema.RequiredFields == schema.RequiredFields
	out.Synced = out.PendingOps == 0 && known
	out.RecordedAt = parseTime(recordedAt)
	return out, nil
}

var qLogView = stmt(`SELECT ` + logViewColumns + ` FROM logs l WHERE l.id = ? AND l.volunteer_id = ?`)

func (c *Client) logTx(ctx context.Context, q querier, volunteer int64, id string) (Log, error) {
	l, err := scanLogView(c.queryRow(ctx, q, qLogView, strings.ToLower(id), volunteer))
	if errors.Is(err, sql.ErrNoRows) {
		return Log{}, errNoLog(id)
	}
	return l, err
}

// Log returns one of the current volunteer's logs as the phone shows it (deleted ones
// too, with Deleted set). CodeNotFound for a log this volunteer does not have here.
func (c *Client) Log(ctx context.Context, id string) (Log, error) {
	vol, err := c.currentOrErr()
	if err != nil {
		return Log{}, err
	}
	return c.logTx(ctx, c.db, vol, id)
}

// Logs lists the current volunteer's logs as the phone shows them, newest first by
// occurred_at.
func (c *Client) Logs(ctx context.Context, f LogFilter) ([]Log, error) {
	vol, err := c.currentOrErr()
	if err != nil {
		return nil, err
	}
	return c.logsOf(ctx, vol, f)
}

func (c *Client) logsOf(ctx context.Context, volunteer int64, f LogFilter) ([]Log, error) {
	q := `SELECT ` + logViewColumns + ` FROM logs l WHERE l.volunteer_id = ?`
	if !f.IncludeDeleted {
		q += ` AND l.deleted = 0`
	}
	if f.Unsynced {
		q += ` AND (EXISTS (SELECT 1 FROM outbox o WHERE o.log_id = l.id) OR (l.confirmed IS NULL AND l.gone = 0))`
	}
	q += ` ORDER BY l.occurred_ms DESC, l.id DESC`
	if f.Limit > 0 {
		q += ` LIMIT ` + strconv.Itoa(f.Limit)
	}
	rows, err := c.db.QueryContext(ctx, q, volunteer)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Log
	for rows.Next() {
		l, err := scanLogView(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, l)
	}
	return out, rows.Err()
}

// reference returns the current volunteer's pulled reference data of a type, decoded.
func reference[T any](ctx context.Context, c *Client, typ string) ([]T, error) {
	vol, err := c.currentOrErr()
	if err != nil {
		return nil, err
	}
	rows, err := c.db.QueryContext(ctx, `SELECT data FROM reference WHERE volunteer_id = ? AND type = ?`, vol, typ)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		var b []byte
		if err := rows.Scan(&b); err != nil {
			return nil, err
		}
		var v T
		if err := json.Unmarshal(b, &v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// Units returns the administrative units of the current volunteer's scope as last pulled
// (their unit and its subtree), by level then name. Empty before the first Sync.
func (c *Client) Units(ctx context.Context) ([]schema.Unit, error) {
	us, err := reference[schema.Unit](ctx, c, "unit")
	col := schema.NewCollator() // "Khóm Cái Sơn" before "Khóm Đông", as readers expect
	slices.SortFunc(us, func(a, b schema.Unit) int {
		return cmp.Or(cmp.Compare(schema.LevelRank(a.Level), schema.LevelRank(b.Level)), col.CompareString(a.Name, b.Name), cmp.Compare(a.ID, b.ID))
	})
	return us, err
}

// Hamlets returns the pick-list of hamlets (ấp, thôn, khóm…) the current volunteer may
// record in: current hamlets of their scope, by name. Empty before the first Sync.
func (c *Client) Hamlets(ctx context.Context) ([]schema.Unit, error) {
	us, err := c.Units(ctx)
	if err != nil {
		return nil, err
	}
	var out []schema.Unit
	for _, u := range us {
		if u.Level == schema.LevelHamlet && u.ValidTo == "" {
			out = append(out, u)
		}
	}
	return out, nil
}

// Kinds returns the active activity kinds, in catalogue order. Empty before the first
// Sync.
func (c *Client) Kinds(ctx context.Context) ([]schema.Kind, error) {
	ks, err := reference[schema.Kind](ctx, c, "kind")
	if err != nil {
		return nil, err
	}
	ks = slices.DeleteFunc(ks, func(k schema.Kind) bool { return !k.Active })
	slices.SortFunc(ks, func(a, b schema.Kind) int {
		return cmp.Or(cmp.Compare(a.Sort, b.Sort), strings.Compare(a.Code, b.Code))
	})
	return ks, nil
}

// Team returns the current volunteer's team as last pulled; CodeNotFound before the first
// Sync.
func (c *Client) Team(ctx context.Context) (schema.Team, error) {
	ts, err := reference[schema.Team](ctx, c, "team")
	if err != nil {
		return schema.Team{}, err
	}
	if len(ts) == 0 {
		return schema.Team{}, schema.Errorf(schema.CodeNotFound, "Chưa đồng bộ thông tin tổ / the team is not synced yet")
	}
	return ts[0], nil
}

// Targets returns the targets (chỉ tiêu) of the current volunteer's units, newest version
// of each.
func (c *Client) Targets(ctx context.Context) ([]schema.Target, error) {
	ts, err := reference[schema.Target](ctx, c, "target")
	slices.SortFunc(ts, func(a, b schema.Target) int {
		return cmp.Or(cmp.Compare(a.UnitID, b.UnitID), strings.Compare(a.Metric, b.Metric), strings.Compare(a.Period, b.Period))
	})
	return ts, err
}

func itoa(v int64) string { return strconv.FormatInt(v, 10) }

func parseInt(s string) int64 {
	v, _ := strconv.ParseInt(s, 10, 64)
	return v
}
