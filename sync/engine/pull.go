package engine

import (
	"context"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/cdtsync/cdtsync/schema"
)

// Pull returns up to limit changes in the actor's scope after the cursor: the volunteer's
// own logs (from all of its phones) with their review state, and the reference data its
// phone needs (its hamlets, team, the activity kinds, targets). Pages follow the change
// sequence, so a cursor can be resumed after any interruption; a cursor is never a
// timestamp.
//
// An empty cursor starts from the beginning. A cursor from another database (a restored
// backup, a new install), from before the volunteer moved to another unit or team, or past
// everything this database has written (a database restored to an earlier point without
// a new epoch; Reader.Frontier) starts over too, with Reset set in the response. A cursor that is not one the server made is a
// CodeInvalid error.
func (e *Engine) Pull(ctx context.Context, actor schema.Actor, cursor string, limit int) (schema.PullResponse, error) {
	if actor.Role != schema.RoleVolunteer || actor.DeviceRowID == 0 {
		return schema.PullResponse{}, schema.Errorf(schema.CodeForbidden, "Chỉ thiết bị của thành viên tổ mới đồng bộ được / only a volunteer's enrolled device can pull")
	}
	if limit <= 0 {
		limit = schema.DefaultPullLimit
	}
	if limit > schema.MaxPullLimit {
		limit = schema.MaxPullLimit
	}
	var resp schema.PullResponse
	err := e.store.SyncRead(ctx, func(r Reader) error {
		epoch, err := r.Epoch(ctx)
		if err != nil {
			return err
		}
		scope := scopeKey(actor)
		var after Pos
		if cursor != "" {
			c, err := ParseCursor(cursor)
			if err != nil {
				return err
			}
			if c.Epoch == epoch && c.Scope == scope {
				after = c.Pos
				// A cursor from a history this database no longer has would wait at a
				// position the database has not reached, and then skip what it writes
				// meanwhile: the phone starts over, and re-offers what the server lost.
				front, err := r.Frontier(ctx)
				if err != nil {
					return err
				}
				if !after.Less(front) {
					after, resp.Reset = Pos{}, true
				}
			} else {
				resp.Reset = true
			}
		}
		changes, more, err := r.Changes(ctx, actor, after, limit)
		if err != nil {
			return err
		}
		resp.Changes = make([]schema.Change, len(changes))
		last := after
		for i, c := range changes {
			resp.Changes[i] = c.Change
			last = c.Pos
		}
		resp.Cursor = Cursor{Epoch: epoch, Scope: scope, Pos: last}.String()
		resp.HasMore = more
		return nil
	})
	if err != nil {
		return schema.PullResponse{}, err
	}
	if n, ok := e.store.(PullNoter); ok {
		n.NotePull(ctx, actor.DeviceRowID, e.now())
	}
	resp.ServerTime = Time(e.now())
	return resp, nil
}

// PullNoter is implemented by stores that record when each device last pulled (for the
// coordinators' device list). It is best effort: it never fails a pull.
type PullNoter interface {
	NotePull(ctx context.Context, deviceRow int64, at time.Time)
}

// scopeKey names what a volunteer's pulled reference data depends on: a volunteer moved
// to another unit or team starts a fresh pull.
func scopeKey(a schema.Actor) string {
	return strconv.FormatInt(a.UnitID, 10) + "-" + strconv.FormatInt(a.TeamID, 10)
}

// Cursor is a position in one database's change stream, for one scope.
type Cursor struct {
	Epoch string
	Scope string
	Pos
}

// String returns the opaque wire form.
func (c Cursor) String() string {
	return base64.RawURLEncoding.EncodeToString([]byte(fmt.Sprintf("v2.%s.%s.%d.%d", c.Epoch, c.Scope, c.Tx, c.Seq)))
}

// ParseCursor reads the wire form; anything the server did not make is a CodeInvalid error.
func ParseCursor(s string) (Cursor, error) {
	bad := schema.Errorf(schema.CodeInvalid, "cursor không hợp lệ; hãy kéo lại từ đầu với cursor rỗng / invalid cursor; pull again with an empty cursor")
	if len(s) > 200 {
		return Cursor{}, bad
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return Cursor{}, bad
	}
	parts := strings.Split(string(b), ".")
	if len(parts) != 5 || parts[0] != "v2" || parts[1] == "" || parts[2] == "" {
		return Cursor{}, bad
	}
	tx, err := strconv.ParseInt(parts[3], 10, 64)
	if err != nil || tx < 0 {
		return Cursor{}, bad
	}
	seq, err := strconv.ParseInt(parts[4], 10, 64)
	if err != nil || seq < 0 {
		return Cursor{}, bad
	}
	return Cursor{Epoch: parts[1], Scope: parts[2], Pos: Pos{Tx: tx, Seq: seq}}, nil
}
