package engine

import (
	"context"
	"strings"
	"unicode/utf8"

	"github.com/cdtsync/cdtsync/schema"
	"github.com/cdtsync/cdtsync/sync/merge"
)

// Decision is a coordinator's decision on one log.
type Decision struct {
	ID     string `json:"id"`
	Status string `json:"status"` // approved or rejected
	Note   string `json:"note"`   // the reason; required to reject
}

// DecisionResult answers one decision: ok, or the code and message of why not.
type DecisionResult struct {
	ID      string `json:"id"`
	OK      bool   `json:"ok"`
	Status  string `json:"status,omitempty"` // the log's status after the decision
	Code    string `json:"code,omitempty"`
	Message string `json:"message,omitempty"`
}

// MaxDecisions bounds the decisions of one review request.
const MaxDecisions = 500

// Review applies coordinators' decisions, each stamped with the server's HLC, and
// returns one result per decision. A decision on a log outside the actor's unit subtree
// answers not_found, as if the log did not exist. Decisions reach the volunteer's phones
// on their next pull. Review returns an error only when the whole request cannot be
// taken (CodeForbidden for a caller who is not a coordinator or admin, CodeTooLarge, or a
// storage failure).
func (e *Engine) Review(ctx context.Context, actor schema.Actor, decisions []Decision) ([]DecisionResult, error) {
	if actor.Role != schema.RoleCoordinator && actor.Role != schema.RoleAdmin {
		return nil, schema.Errorf(schema.CodeForbidden, "Chỉ cán bộ điều phối mới duyệt được / only coordinators review logs")
	}
	if len(decisions) > MaxDecisions {
		return nil, schema.Errorf(schema.CodeTooLarge, "Tối đa %d quyết định mỗi lần / at most %d decisions per request", MaxDecisions, MaxDecisions)
	}
	results := make([]DecisionResult, len(decisions))
	err := e.store.SyncWrite(ctx, len(decisions), func(tx Tx) error {
		// Once the writer runs this write it runs to the end: a caller giving up (a phone
		// hanging up, the server's push deadline) must not interrupt a statement of the
		// group-commit transaction, which would roll back the other writes sharing it and
		// make the writer run them again — under load, a cascade.
		ctx := context.WithoutCancel(ctx)
		kinds, err := tx.Kinds(ctx)
		if err != nil {
			return err
		}
		var ids []string
		for _, d := range decisions {
			if id, ok := canonicalUUID(d.ID); ok {
				ids = append(ids, id)
			}
		}
		logs, err := tx.Logs(ctx, ids)
		if err != nil {
			return err
		}
		ch := newChanges()
		before := map[string]merge.GroupKey{}
		paths := map[int64]string{}
		for i, d := range decisions {
			r := &results[i]
			*r = DecisionResult{ID: d.ID}
			fail := func(e *schema.Error) { r.Code, r.Message = e.Code, e.Message }
			id, ok := canonicalUUID(d.ID)
			if !ok {
				fail(schema.Errorf(schema.CodeInvalid, "id phải là UUID / id must be a UUID"))
				continue
			}
			if e := checkDecision(d); e != nil {
				fail(e)
				continue
			}
			l, ok := logs[id]
			inScope := false
			if ok && l.Content.HamletID != nil {
				h := *l.Content.HamletID
				path, seen := paths[h]
				if !seen {
					path, _, err = tx.Hamlet(ctx, h)
					if err != nil {
						return err
					}
					paths[h] = path
				}
				inScope = actor.Covers(path)
			}
			if !ok || !inScope {
				fail(schema.Errorf(schema.CodeNotFound, "Không tìm thấy nhật ký %s / log %s not found", d.ID, d.ID))
				continue
			}
			if _, touched := ch.Logs[id]; !touched {
				if k, ok := merge.KeyOf(l); ok {
					before[id] = k
				}
			}
			rv := merge.Review{Status: d.Status, Note: strings.TrimSpace(d.Note), By: actor.UserID, At: Time(tx.Now()), HLC: e.reviewStamp(l)}
			if err := merge.ApplyReview(l, rv); err != nil {
				fail(err.(*schema.Error))
				continue
			}
			ch.Logs[id] = l
			r.OK = true
		}
		if err := resolveGroups(ctx, tx, ch, before, oncePerPerson(kinds)); err != nil {
			return err
		}
		for i := range results {
			if results[i].OK {
				id, _ := canonicalUUID(results[i].ID)
				results[i].Status = ch.Logs[id].Status
			}
		}
		return tx.Save(ctx, ch)
	})
	return results, err
}

func checkDecision(d Decision) *schema.Error {
	switch d.Status {
	case schema.StatusApproved:
	case schema.StatusRejected:
		if strings.TrimSpace(d.Note) == "" {
			return schema.Errorf(schema.CodeInvalid, "Cần ghi lý do khi từ chối / a reason (note) is required to reject")
		}
	default:
		return schema.Errorf(schema.CodeInvalid, "status phải là approved hoặc rejected / status must be approved or rejected")
	}
	if n := utf8.RuneCountInString(d.Note); n > schema.MaxNoteRunes {
		return schema.Errorf(schema.CodeNoteTooLong, "Lý do dài %d ký tự, tối đa %d / reason is %d characters, at most %d", n, schema.MaxNoteRunes, n, schema.MaxNoteRunes)
	}
	return nil
}
