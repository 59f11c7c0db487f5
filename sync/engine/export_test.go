package engine

import (
	"context"

	"github.com/cdtsync/cdtsync/schema"
	"github.com/cdtsync/cdtsync/sync/hlc"
	"github.com/cdtsync/cdtsync/sync/merge"
)

// ReviewAt is Review with the review stamps given, for property tests whose reviews must
// carry the same HLC in every order they are applied.
func (e *Engine) ReviewAt(ctx context.Context, actor schema.Actor, decisions []Decision, stamp hlc.Timestamp) ([]DecisionResult, error) {
	saved := e.reviewStamp
	e.reviewStamp = func(*merge.Log) hlc.Timestamp { return stamp }
	defer func() { e.reviewStamp = saved }()
	return e.Review(ctx, actor, decisions)
}
