package engine

import (
	"bytes"
	"context"
	"sort"
	"time"

	"github.com/cdtsync/cdtsync/schema"
	"github.com/cdtsync/cdtsync/sync/hlc"
	"github.com/cdtsync/cdtsync/sync/merge"
)

// Push applies a phone's batch of operations, each exactly once, and returns one result
// per operation in request order. It returns only after the effects are durable.
//
// One bad operation is rejected with a code and message and the rest are applied: per-
// operation results are data, not errors. Push returns an error (and changes nothing)
// only when the whole request cannot be taken: the caller is not a volunteer's device
// (CodeForbidden), the batch is too large (CodeTooLarge), device_time is missing
// (CodeInvalid), the writer is overloaded (CodeUnavailable with RetryAfter) or storage
// failed (CodeStorageFull, CodeUnavailable or an internal error). If ctx is cancelled
// while the push waits, it may still have been applied; re-sending it is safe.
func (e *Engine) Push(ctx context.Context, actor schema.Actor, req schema.PushRequest) (schema.PushResponse, error) {
	if actor.Role != schema.RoleVolunteer || actor.DeviceRowID == 0 {
		return schema.PushResponse{}, schema.Errorf(schema.CodeForbidden, "Chỉ thiết bị của thành viên tổ mới đồng bộ được / only a volunteer's enrolled device can push")
	}
	if len(req.Ops) > schema.MaxOpsPerPush {
		return schema.PushResponse{}, schema.Errorf(schema.CodeTooLarge,
			"Tối đa %d thao tác mỗi lần gửi, nhận được %d / at most %d operations per push, got %d",
			schema.MaxOpsPerPush, len(req.Ops), schema.MaxOpsPerPush, len(req.Ops))
	}
	deviceTime, err := time.Parse(time.RFC3339Nano, req.DeviceTime)
	if err != nil {
		return schema.PushResponse{}, schema.Errorf(schema.CodeInvalid, "device_time phải theo RFC 3339 / device_time must be RFC 3339")
	}
	var oldest string
	if req.OldestPendingAt != "" {
		t, err := time.Parse(time.RFC3339Nano, req.OldestPendingAt)
		if err != nil {
			return schema.PushResponse{}, schema.Errorf(schema.CodeInvalid, "oldest_pending_at phải theo RFC 3339 / oldest_pending_at must be RFC 3339")
		}
		oldest = Time(t)
	}
	now := e.now()
	offset := clockOffset(deviceTime, now)
	parsed := make([]*parsedOp, len(req.Ops))
	for i, op := range req.Ops {
		parsed[i] = parseOp(op, now, offset, e.MaxClockAhead)
	}
	results := make([]schema.OpResult, len(parsed))
	var applied []hlc.Timestamp
	err = e.store.SyncWrite(ctx, len(parsed), func(tx Tx) error {
		// Once the writer runs this write it runs to the end: a caller giving up (a phone
		// hanging up, the server's push deadline) must not interrupt a statement of the
		// group-commit transaction, which would roll back the other writes sharing it and
		// make the writer run them again — under load, a cascade.
		ctx := context.WithoutCancel(ctx)
		applied = applied[:0]
		p := &pushTx{e: e, tx: tx, actor: actor, offset: offset, ch: newChanges(), before: map[string]merge.GroupKey{}}
		if err := p.apply(ctx, parsed, results, &applied); err != nil {
			return err
		}
		p.ch.Device = &DeviceReport{DeviceRow: actor.DeviceRowID, ClockOffsetMS: offset.Milliseconds(),
			PendingOps: req.PendingOps, OldestPendingAt: oldest}
		return tx.Save(ctx, p.ch)
	})
	if err != nil {
		return schema.PushResponse{}, err
	}
	for _, h := range applied {
		e.clock.Observe(h)
	}
	return schema.PushResponse{Results: results, ServerTime: Time(e.now())}, nil
}

// clockOffset is the device clock minus the server clock; offsets within ClockNoise are
// network transit, not a wrong clock, and count as zero.
func clockOffset(device, server time.Time) time.Duration {
	d := device.Sub(server)
	if d < schema.ClockNoise && d > -schema.ClockNoise {
		return 0
	}
	return d.Round(time.Millisecond)
}

func newChanges() *Changes {
	return &Changes{Logs: map[string]*merge.Log{}, New: map[string]bool{}, History: map[string][]merge.HistoryEntry{}}
}

// pushTx is one push inside its transaction.
type pushTx struct {
	e       *Engine
	tx      Tx
	actor   schema.Actor
	offset  time.Duration
	ch      *Changes
	kinds   map[string]schema.Kind
	logs    map[string]*merge.Log
	before  map[string]merge.GroupKey // each touched log's group key before this push
	hamlets map[int64]bool
}

func (p *pushTx) apply(ctx context.Context, parsed []*parsedOp, results []schema.OpResult, applied *[]hlc.Timestamp) error {
	var err error
	if p.kinds, err = p.tx.Kinds(ctx); err != nil {
		return err
	}
	var opIDs, logIDs []string
	for _, op := range parsed {
		if op.opID != "" {
			opIDs = append(opIDs, op.opID)
		}
		if op.err == nil {
			logIDs = append(logIDs, op.logID)
		}
	}
	stored, err := p.tx.OpResults(ctx, opIDs)
	if err != nil {
		return err
	}
	if p.logs, err = p.tx.Logs(ctx, logIDs); err != nil {
		return err
	}
	p.hamlets = map[int64]bool{}
	inBatch := map[string]int{}
	for i, op := range parsed {
		r := &results[i]
		*r = schema.OpResult{OpID: op.sentID}
		if op.opID == "" { // no identity: cannot be stored
			r.Status, r.Code, r.Message = schema.ResultRejected, op.err.Code, op.err.Message
			continue
		}
		if j, ok := inBatch[op.opID]; ok { // the same op twice in one batch
			*r = again(results[j], op.sentID)
			if !bytes.Equal(parsed[j].hash, op.hash) {
				*r = reused(op.sentID)
			}
			continue
		}
		if s, ok := stored[op.opID]; ok {
			if s.VolunteerID != p.actor.UserID || !bytes.Equal(s.Hash, op.hash) {
				*r = reused(op.sentID)
				continue
			}
			*r = again(schema.OpResult{Status: s.Status, Code: s.Code, Message: s.Message}, op.sentID)
			continue
		}
		rej := op.err
		if rej == nil {
			if rej, err = p.applyOp(ctx, op); err != nil {
				return err
			}
		}
		so := StoredOp{OpID: op.opID, VolunteerID: p.actor.UserID, Hash: op.hash, Status: schema.ResultApplied}
		r.Status = schema.ResultApplied
		if rej != nil {
			so.Status, so.Code, so.Message = schema.ResultRejected, rej.Code, rej.Message
			r.Status, r.Code, r.Message = schema.ResultRejected, rej.Code, rej.Message
		} else {
			*applied = append(*applied, op.hlc)
		}
		p.ch.Ops = append(p.ch.Ops, so)
		inBatch[op.opID] = i
	}
	return resolveGroups(ctx, p.tx, p.ch, p.before, oncePerPerson(p.kinds))
}

// again is the answer to an op received before: already_applied, or the same rejection.
func again(first schema.OpResult, sentID string) schema.OpResult {
	r := schema.OpResult{OpID: sentID, Status: first.Status, Code: first.Code, Message: first.Message}
	if r.Status == schema.ResultApplied {
		r.Status = schema.ResultAlreadyApplied
	}
	return r
}

func reused(sentID string) schema.OpResult {
	return schema.OpResult{OpID: sentID, Status: schema.ResultRejected, Code: schema.CodeOpIDReused,
		Message: "op_id này đã dùng cho một thao tác khác / this op_id was already used for a different operation"}
}

// applyOp applies one new, well-formed op to the in-memory state. It returns the op's
// rejection, if any, or an error if the store failed.
func (p *pushTx) applyOp(ctx context.Context, op *parsedOp) (*schema.Error, error) {
	l, exists := p.logs[op.logID]
	if exists && l.VolunteerID != p.actor.UserID {
		return rejectf(schema.CodeNotOwner, "Nhật ký này thuộc về thành viên khác / this log belongs to another volunteer"), nil
	}
	stamp := merge.Stamp{HLC: op.hlc, Device: p.actor.DeviceID, OpID: op.opID, Base: op.base}
	if op.typ == schema.OpDelete {
		if !exists {
			// A delete before its create: keep a tombstone so the create cannot bring it back.
			l = p.newLog(op.logID)
		}
		p.touch(l)
		merge.ApplyDelete(l, stamp)
		if !p.ch.New[l.ID] {
			p.ch.DropHistory = append(p.ch.DropHistory, l.ID)
		}
		delete(p.ch.History, l.ID)
		return nil, nil
	}
	if exists && l.Deleted {
		return rejectf(schema.CodeLogDeleted, "Nhật ký đã bị xoá; thao tác xoá luôn được ưu tiên / the log was deleted; deletes win"), nil
	}
	if op.mask.Has(schema.FieldHamletID) {
		ok, err := p.hamletInScope(ctx, *op.content.HamletID)
		if err != nil {
			return nil, err
		}
		if !ok {
			return rejectf(schema.CodeUnknownHamlet, "Ấp/thôn %d không thuộc địa bàn của bạn / hamlet %d is not a hamlet in your area", *op.content.HamletID, *op.content.HamletID), nil
		}
	}
	if op.mask.Has(schema.FieldKind) {
		if k, ok := p.kinds[*op.content.Kind]; !ok || !k.Active {
			return rejectf(schema.CodeUnknownKind, "Loại hoạt động %q không có trong danh mục / activity kind %q is not in the catalogue", *op.content.Kind, *op.content.Kind), nil
		}
	}
	var hist []merge.HistoryEntry
	if !exists {
		l = p.newLog(op.logID)
	} else if !p.ch.New[l.ID] {
		var err error
		if hist, err = p.tx.History(ctx, l.ID); err != nil {
			return nil, err
		}
	}
	hist = append(hist, p.ch.History[l.ID]...)
	p.touch(l)
	w := merge.Write{Stamp: stamp, Mask: op.mask, Content: op.content, OffsetMS: p.offset.Milliseconds()}
	added, err := merge.ApplyUpsert(l, w, hist)
	if err != nil {
		return nil, err
	}
	p.ch.History[l.ID] = append(p.ch.History[l.ID], added...)
	return nil, nil
}

func (p *pushTx) newLog(id string) *merge.Log {
	l := &merge.Log{ID: id, VolunteerID: p.actor.UserID, TeamID: p.actor.TeamID}
	p.logs[id] = l
	p.ch.New[id] = true
	return l
}

// touch marks l changed, remembering its group key before the first change.
func (p *pushTx) touch(l *merge.Log) {
	if _, ok := p.ch.Logs[l.ID]; ok {
		return
	}
	p.ch.Logs[l.ID] = l
	if k, ok := merge.KeyOf(l); ok && !p.ch.New[l.ID] {
		p.before[l.ID] = k
	}
}

func (p *pushTx) hamletInScope(ctx context.Context, id int64) (bool, error) {
	if ok, seen := p.hamlets[id]; seen {
		return ok, nil
	}
	path, found, err := p.tx.Hamlet(ctx, id)
	if err != nil {
		return false, err
	}
	ok := found && p.actor.Covers(path)
	p.hamlets[id] = ok
	return ok, nil
}

// resolveGroups recomputes the once-per-person groups the changed logs were in or are in
// now, and derives the status of every changed log. Logs of a group whose status changes
// are added to ch.Logs, so their owners' phones pull the change.
func resolveGroups(ctx context.Context, tx Tx, ch *Changes, before map[string]merge.GroupKey, once func(string) bool) error {
	// The changed logs by their group key now, and the keys of every group to recompute:
	// the ones they are in, and the ones they left.
	current := map[merge.GroupKey][]*merge.Log{}
	keys := map[merge.GroupKey]bool{}
	for id, l := range ch.Logs {
		if k, ok := before[id]; ok && once(k.Kind) {
			keys[k] = true
		}
		if k, ok := merge.KeyOf(l); ok && once(k.Kind) {
			keys[k] = true
			current[k] = append(current[k], l)
		}
	}
	sorted := make([]merge.GroupKey, 0, len(keys))
	for k := range keys {
		sorted = append(sorted, k)
	}
	sort.Slice(sorted, func(i, j int) bool {
		if sorted[i].Kind != sorted[j].Kind {
			return sorted[i].Kind < sorted[j].Kind
		}
		return sorted[i].CitizenRef < sorted[j].CitizenRef
	})
	derived := make(map[string]bool, len(ch.Logs))
	groups, err := tx.Groups(ctx, sorted)
	if err != nil {
		return err
	}
	for _, k := range sorted {
		// The stored members, except those this push changed: their new state is in current.
		members := current[k]
		for _, l := range groups[k] {
			if _, changed := ch.Logs[l.ID]; !changed {
				members = append(members, l)
			}
		}
		canonical := merge.Canonical(members, once)
		for _, m := range members {
			derived[m.ID] = true
			if merge.Derive(m, canonical, once) {
				ch.Logs[m.ID] = m
			}
		}
	}
	for id, l := range ch.Logs {
		if !derived[id] {
			merge.Derive(l, nil, once)
		}
	}
	return nil
}
