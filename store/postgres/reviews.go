package postgres

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/cdtsync/cdtsync/schema"
)

// scopeRoot returns the path of the unit a scoped query starts from (see the SQLite store).
func (db *DB) scopeRoot(ctx context.Context, a schema.Actor, unit *int64) (string, error) {
	if a.UnitPath == "" {
		return "", schema.Errorf(schema.CodeForbidden, "Không có địa bàn / no unit in scope")
	}
	if unit == nil {
		return a.UnitPath, nil
	}
	u, err := db.Unit(ctx, *unit)
	if err != nil || !a.Covers(u.Path) {
		return "", schema.Errorf(schema.CodeNotFound, "Không tìm thấy đơn vị %d / unit %d not found", *unit, *unit)
	}
	return u.Path, nil
}

func dayOf(s, name string) (int, error) {
	t, err := time.Parse("2006-01-02", s)
	if err != nil {
		return 0, schema.Errorf(schema.CodeInvalid, "%s phải có dạng YYYY-MM-DD / %s must be YYYY-MM-DD", name, name)
	}
	return t.Year()*10000 + int(t.Month())*100 + t.Day(), nil
}

// ListReviews returns a page of the review queue, as the SQLite store's ListReviews does.
func (db *DB) ListReviews(ctx context.Context, a schema.Actor, f schema.ReviewFilter) (schema.ReviewPage, error) {
	root, err := db.scopeRoot(ctx, a, f.Unit)
	if err != nil {
		return schema.ReviewPage{}, err
	}
	lo, hi := subtreeRange(root)
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	where := []string{"u.path >= " + arg(lo), "u.path < " + arg(hi), "l.complete", "NOT l.deleted"}
	if f.Status != "" {
		switch f.Status {
		case schema.StatusPending, schema.StatusApproved, schema.StatusRejected, schema.StatusDuplicate:
		default:
			return schema.ReviewPage{}, schema.Errorf(schema.CodeInvalid, "status phải là pending, approved, rejected hoặc duplicate / status must be pending, approved, rejected or duplicate")
		}
		where = append(where, "l.status = "+arg(f.Status))
	}
	for _, c := range []struct {
		col string
		v   *int64
	}{{"l.hamlet_id", f.Hamlet}, {"l.volunteer_id", f.Volunteer}, {"l.team_id", f.Team}} {
		if c.v != nil {
			where = append(where, c.col+" = "+arg(*c.v))
		}
	}
	if f.Kind != "" {
		where = append(where, "l.kind = "+arg(f.Kind))
	}
	if f.ID != "" {
		where = append(where, "l.id::text = "+arg(strings.ToLower(f.ID)))
	}
	if f.DuplicateOf != "" {
		where = append(where, "l.duplicate_of::text = "+arg(strings.ToLower(f.DuplicateOf)))
	}
	if f.From != "" {
		d, err := dayOf(f.From, "from")
		if err != nil {
			return schema.ReviewPage{}, err
		}
		where = append(where, "l.day >= "+arg(d))
	}
	if f.To != "" {
		d, err := dayOf(f.To, "to")
		if err != nil {
			return schema.ReviewPage{}, err
		}
		where = append(where, "l.day <= "+arg(d))
	}
	if f.Conflict != nil {
		where = append(where, "l.had_conflict = "+arg(*f.Conflict))
	}
	if f.Duplicate != nil {
		op := "="
		if !*f.Duplicate {
			op = "<>"
		}
		where = append(where, "l.status "+op+" 'duplicate'")
	}
	if f.Cursor != "" {
		ms, id, err := parseReviewCursor(f.Cursor)
		if err != nil {
			return schema.ReviewPage{}, err
		}
		m, i := arg(ms), arg(id)
		where = append(where, "(l.corrected_ms < "+m+" OR (l.corrected_ms = "+m+" AND l.id::text < "+i+"))")
	}
	limit := f.Limit
	if limit <= 0 {
		limit = schema.DefaultReviewLimit
	}
	if limit > schema.MaxReviewLimit {
		limit = schema.MaxReviewLimit
	}
	rows, err := db.pool.Query(ctx, `SELECT `+prefixed("l.", logColumns)+`, us.display_name, t.name, u.name
		FROM logs l JOIN units u ON u.id = l.hamlet_id JOIN users us ON us.id = l.volunteer_id JOIN teams t ON t.id = l.team_id
		WHERE `+strings.Join(where, " AND ")+` ORDER BY l.corrected_ms DESC, l.id DESC LIMIT `+arg(limit+1), args...)
	if err != nil {
		return schema.ReviewPage{}, storageError(err)
	}
	defer rows.Close()
	page := schema.ReviewPage{Items: []schema.ReviewItem{}}
	for rows.Next() {
		var (
			r    logRow
			item schema.ReviewItem
		)
		if err := r.scan(tailScanner{rows, []any{&item.VolunteerName, &item.TeamName, &item.HamletName}}); err != nil {
			return schema.ReviewPage{}, err
		}
		if len(page.Items) == limit {
			last := page.Items[len(page.Items)-1]
			page.NextCursor = reviewCursor(last.Log)
			break
		}
		item.Log = r.wire()
		item.CitizenRef, item.HouseholdRef = nil, nil
		page.Items = append(page.Items, item)
	}
	return page, rows.Err()
}

// LogHistory returns the superseded and losing values of a log's fields, and the values
// that won (see the SQLite store).
func (db *DB) LogHistory(ctx context.Context, a schema.Actor, id string) ([]schema.HistoryItem, error) {
	var (
		path string
		r    logRow
	)
	err := r.scan(tailScanner{db.pool.QueryRow(ctx, `SELECT `+prefixed("l.", logColumns)+`, u.path
		FROM logs l JOIN units u ON u.id = l.hamlet_id WHERE l.id::text = $1 AND NOT l.deleted`, strings.ToLower(id)), []any{&path}})
	if err != nil || !a.Covers(path) {
		return nil, schema.Errorf(schema.CodeNotFound, "Không tìm thấy nhật ký %s / log %s not found", id, id)
	}
	l := &r.l
	rows, err := db.pool.Query(ctx, `SELECT field, value, hlc, device_id FROM log_history WHERE log_id = $1::uuid ORDER BY hlc, device_id`, l.ID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []schema.HistoryItem
	for rows.Next() {
		var (
			h     schema.HistoryItem
			value string
			ts    int64
		)
		if err := rows.Scan(&h.Field, &value, &ts, &h.DeviceID); err != nil {
			return nil, err
		}
		if h.Field == "citizen_ref" || h.Field == "household_ref" {
			continue
		}
		json.Unmarshal([]byte(value), &h.Value)
		h.HLC = hlcOf(ts).String()
		out = append(out, h)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for f, s := range l.Stamps {
		field := schema.Field(f)
		if s.IsZero() || field == schema.FieldCitizenRef || field == schema.FieldHouseholdRef {
			continue
		}
		var v any
		json.Unmarshal(l.Content.FieldJSON(field), &v)
		out = append(out, schema.HistoryItem{Field: field.String(), Value: v, HLC: s.HLC.String(), DeviceID: s.Device, Won: true})
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Field != out[j].Field {
			return out[i].Field < out[j].Field
		}
		return out[i].HLC < out[j].HLC
	})
	return out, nil
}

func reviewCursor(l schema.Log) string {
	ms := int64(0)
	if l.OccurredAtCorrected != nil {
		if t, err := time.Parse(time.RFC3339Nano, *l.OccurredAtCorrected); err == nil {
			ms = t.UnixMilli()
		}
	}
	return base64.RawURLEncoding.EncodeToString([]byte(fmt.Sprintf("r1.%d.%s", ms, l.ID)))
}

func parseReviewCursor(s string) (int64, string, error) {
	bad := schema.Errorf(schema.CodeInvalid, "cursor không hợp lệ / invalid cursor")
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return 0, "", bad
	}
	parts := strings.SplitN(string(b), ".", 3)
	if len(parts) != 3 || parts[0] != "r1" {
		return 0, "", bad
	}
	ms, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil {
		return 0, "", bad
	}
	return ms, parts[2], nil
}

// tailScanner scans a row whose first columns a scan function reads, then extra columns.
type tailScanner struct {
	rows  interface{ Scan(...any) error }
	extra []any
}

func (s tailScanner) Scan(dest ...any) error { return s.rows.Scan(append(dest, s.extra...)...) }
