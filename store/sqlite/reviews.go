package sqlite

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

// scopeRoot returns the path of the unit a scoped query starts from: the filter's unit if
// it is in the actor's subtree (CodeNotFound otherwise, as if it did not exist), else the
// actor's own unit.
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

// dayOf parses a YYYY-MM-DD date into the YYYYMMDD integer logs are filed under.
func dayOf(s, name string) (int, error) {
	t, err := time.Parse("2006-01-02", s)
	if err != nil {
		return 0, schema.Errorf(schema.CodeInvalid, "%s phải có dạng YYYY-MM-DD / %s must be YYYY-MM-DD", name, name)
	}
	return t.Year()*10000 + int(t.Month())*100 + t.Day(), nil
}

// ListReviews returns a page of the review queue: complete, not deleted logs in the
// actor's subtree (or the filter's unit, which must be in it), newest first by corrected
// time. A unit outside the subtree is CodeNotFound; a bad filter value CodeInvalid.
func (db *DB) ListReviews(ctx context.Context, a schema.Actor, f schema.ReviewFilter) (schema.ReviewPage, error) {
	root, err := db.scopeRoot(ctx, a, f.Unit)
	if err != nil {
		return schema.ReviewPage{}, err
	}
	lo, hi := subtreeRange(root)
	where := []string{"u.path >= ?", "u.path < ?", "l.complete = 1", "l.deleted = 0"}
	args := []any{lo, hi}
	if f.Status != "" {
		switch f.Status {
		case schema.StatusPending, schema.StatusApproved, schema.StatusRejected, schema.StatusDuplicate:
		default:
			return schema.ReviewPage{}, schema.Errorf(schema.CodeInvalid, "status phải là pending, approved, rejected hoặc duplicate / status must be pending, approved, rejected or duplicate")
		}
		where, args = append(where, "l.status = ?"), append(args, f.Status)
	}
	for _, c := range []struct {
		col string
		v   *int64
	}{{"l.hamlet_id", f.Hamlet}, {"l.volunteer_id", f.Volunteer}, {"l.team_id", f.Team}} {
		if c.v != nil {
			where, args = append(where, c.col+" = ?"), append(args, *c.v)
		}
	}
	if f.Kind != "" {
		where, args = append(where, "l.kind = ?"), append(args, f.Kind)
	}
	if f.ID != "" {
		where, args = append(where, "l.id = ?"), append(args, f.ID)
	}
	if f.DuplicateOf != "" {
		where, args = append(where, "l.duplicate_of = ?"), append(args, f.DuplicateOf)
	}
	if f.From != "" {
		d, err := dayOf(f.From, "from")
		if err != nil {
			return schema.ReviewPage{}, err
		}
		where, args = append(where, "l.day >= ?"), append(args, d)
	}
	if f.To != "" {
		d, err := dayOf(f.To, "to")
		if err != nil {
			return schema.ReviewPage{}, err
		}
		where, args = append(where, "l.day <= ?"), append(args, d)
	}
	if f.Conflict != nil {
		where, args = append(where, "l.had_conflict = ?"), append(args, *f.Conflict)
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
		where, args = append(where, "(l.corrected_ms < ? OR (l.corrected_ms = ? AND l.id < ?))"), append(args, ms, ms, id)
	}
	limit := f.Limit
	if limit <= 0 {
		limit = schema.DefaultReviewLimit
	}
	if limit > schema.MaxReviewLimit {
		limit = schema.MaxReviewLimit
	}
	args = append(args, limit+1)
	rows, err := db.read.QueryContext(ctx, `SELECT `+prefixed("l.", logColumns)+`, us.display_name, t.name, u.name
		FROM logs l JOIN units u ON u.id = l.hamlet_id JOIN users us ON us.id = l.volunteer_id JOIN teams t ON t.id = l.team_id
		WHERE `+strings.Join(where, " AND ")+` ORDER BY l.corrected_ms DESC, l.id DESC LIMIT ?`, args...)
	if err != nil {
		return schema.ReviewPage{}, err
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
// that won, for a coordinator explaining a conflict. A log outside the actor's subtree is
// CodeNotFound. The resident's refs are never returned.
func (db *DB) LogHistory(ctx context.Context, a schema.Actor, id string) ([]schema.HistoryItem, error) {
	var (
		path string
		r    logRow
	)
	err := r.scan(tailScanner{db.read.QueryRowContext(ctx, `SELECT `+prefixed("l.", logColumns)+`, u.path
		FROM logs l JOIN units u ON u.id = l.hamlet_id WHERE l.id = ? AND l.deleted = 0`, id), []any{&path}})
	if err != nil || !a.Covers(path) {
		return nil, schema.Errorf(schema.CodeNotFound, "Không tìm thấy nhật ký %s / log %s not found", id, id)
	}
	l := &r.l
	rows, err := db.read.QueryContext(ctx, `SELECT field, value, hlc, device_id FROM log_history WHERE log_id = ? ORDER BY hlc, device_id`, id)
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

// prefixed qualifies every column of a column list with a table alias.
func prefixed(alias, cols string) string {
	parts := strings.Split(cols, ",")
	for i, p := range parts {
		parts[i] = alias + strings.TrimSpace(p)
	}
	return strings.Join(parts, ", ")
}

// tailScanner scans a row whose first columns a scan function reads, then extra columns.
type tailScanner struct {
	rows  interface{ Scan(...any) error }
	extra []any
}

func (s tailScanner) Scan(dest ...any) error { return s.rows.Scan(append(dest, s.extra...)...) }
