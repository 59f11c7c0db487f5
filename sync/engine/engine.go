// Package engine is the sync engine: push (apply phones' operations exactly once) and
// pull (hand each phone what changed in its scope), over a store.
//
// The engine decides; the store reads and writes. Everything a push does happens in one
// store transaction: the operations' effects, their results and the once-per-person
// duplicate choice commit together or not at all, and Push returns only after the commit
// is durable.
package engine

import (
	"context"
	"time"

	"github.com/cdtsync/cdtsync/schema"
	"github.com/cdtsync/cdtsync/sync/hlc"
	"github.com/cdtsync/cdtsync/sync/merge"
)

// Store runs the engine's transactions.
type Store interface {
	// SyncWrite runs fn in a write transaction and returns after it committed durably or
	// failed; weight is the number of operations it carries (for admission control). A
	// storage failure is returned as an error and nothing of fn's writes remains.
	SyncWrite(ctx context.Context, weight int, fn func(Tx) error) error
	// SyncRead runs fn on a consistent read snapshot.
	SyncRead(ctx context.Context, fn func(Reader) error) error
}

// Tx is what a push or review needs of a write transaction.
type Tx interface {
	// Now is the transaction's fixed time.
	Now() time.Time
	// OpResults returns the stored results of those of the given op ids that were received before.
	OpResults(ctx context.Context, opIDs []string) (map[string]StoredOp, error)
	// Logs loads the merge state of the logs with the given ids; unknown ids are absent.
	Logs(ctx context.Context, ids []string) (map[string]*merge.Log, error)
	// History returns a log's history entries.
	History(ctx context.Context, logID string) ([]merge.HistoryEntry, error)
	// Groups returns, for each key, every log (not deleted) with its kind and citizen_ref.
	Groups(ctx context.Context, keys []merge.GroupKey) (map[merge.GroupKey][]*merge.Log, error)
	// Hamlet returns the materialised path of the hamlet with the given id, and false if
	// there is no such hamlet.
	Hamlet(ctx context.Context, id int64) (path string, ok bool, err error)
	// Kinds returns the activity-kind catalogue by code.
	Kinds(ctx context.Context) (map[string]schema.Kind, error)
	// Save writes a unit of changes. Each saved log gets a new change sequence number.
	Save(ctx context.Context, c *Changes) error
}

// Reader is what a pull needs of a read snapshot.
type Reader interface {
	// Epoch returns the database's epoch (a new database, or a restored copy, has a new one).
	Epoch(ctx context.Context) (string, error)
	// Changes returns up to limit changes in the actor's scope after position `after`, in
	// position order, and whether more follow. Positions must be in commit order: a change
	// that commits later must never get a position before one already returned.
	Changes(ctx context.Context, actor schema.Actor, after Pos, limit int) ([]SeqChange, bool, error)
	// Frontier returns a position past every position this database's history has handed
	// out: a cursor at or past it was made by another history (the database was restored
	// to an earlier point, or copied, without a new epoch) or by no server at all.
	Frontier(ctx context.Context) (Pos, error)
	// Now is the snapshot's time.
	Now() time.Time
}

// Pos is a position in a store's stream of changes. A single-writer store (SQLite) uses
// Seq alone, a change sequence number handed out in commit order. A store with concurrent
// writers (PostgreSQL) uses Tx, the writing transaction, as the major key, and returns only
// changes of transactions older than every one still running, so a transaction that
// commits late is never skipped.
type Pos struct {
	Tx  int64
	Seq int64
}

// Less reports whether p comes before q.
func (p Pos) Less(q Pos) bool {
	if p.Tx != q.Tx {
		return p.Tx < q.Tx
	}
	return p.Seq < q.Seq
}

// SeqChange is a change with its position.
type SeqChange struct {
	Pos
	schema.Change
}

// StoredOp is an operation's stored result.
type StoredOp struct {
	OpID        string
	VolunteerID int64
	Hash        []byte
	Status      string // schema.ResultApplied or schema.ResultRejected
	Code        string
	Message     string
}

// Changes is what one push or review writes.
type Changes struct {
	// Logs are the logs whose state changed, keyed by id. New reports, for each, whether it
	// is new (not yet stored).
	Logs map[string]*merge.Log
	New  map[string]bool
	// History entries to add, by log id; DropHistory lists logs whose history goes
	// (deleted logs).
	History     map[string][]merge.HistoryEntry
	DropHistory []string
	Ops         []StoredOp
	// Device is the push's device report; nil for reviews.
	Device *DeviceReport
}

// DeviceReport is what a push tells of the device that sent it.
type DeviceReport struct {
	DeviceRow       int64
	ClockOffsetMS   int64 // device clock minus server clock
	PendingOps      *int
	OldestPendingAt string
}

// Engine applies pushes and serves pulls. Create it with New.
type Engine struct {
	store Store
	clock *hlc.Clock
	now   func() time.Time
	// MaxClockAhead bounds how far ahead of server time an operation's HLC may be.
	MaxClockAhead time.Duration
	// reviewStamp stamps a review decision on a log; reviewAfter unless a test sets it.
	reviewStamp func(l *merge.Log) hlc.Timestamp
}

// New returns an Engine over store. now is the server's clock (nil means time.Now).
func New(store Store, now func() time.Time) *Engine {
	if now == nil {
		now = time.Now
	}
	e := &Engine{store: store, clock: &hlc.Clock{Now: now}, now: now, MaxClockAhead: schema.MaxClockAhead}
	e.reviewStamp = e.reviewAfter
	return e
}

// reviewAfter stamps a review with the server clock, and always after the content the
// coordinator reviewed: after a restart the in-memory clock may be behind HLCs the server
// accepted (up to MaxClockAhead ahead of its wall clock), and a review older than the
// content it approves would not stand.
func (e *Engine) reviewAfter(l *merge.Log) hlc.Timestamp {
	if c := l.ContentHLC(); c >= e.clock.Last() {
		e.clock.Observe(c)
	}
	return e.clock.Tick()
}

// Clock returns the server's hybrid logical clock.
func (e *Engine) Clock() *hlc.Clock { return e.clock }

// oncePerPerson returns the catalogue's once-per-person test.
func oncePerPerson(kinds map[string]schema.Kind) func(string) bool {
	return func(k string) bool { return kinds[k].OncePerPerson }
}

// Time formats t as the protocol does: RFC 3339 in UTC with milliseconds.
func Time(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z07:00") }

// VietnamDay returns the calendar day, in Asia/Ho_Chi_Minh (UTC+7, no daylight saving),
// of a Unix-millisecond instant, as YYYYMMDD.
func VietnamDay(ms int64) int {
	t := time.UnixMilli(ms).In(vietnam)
	return t.Year()*10000 + int(t.Month())*100 + t.Day()
}

var vietnam = time.FixedZone("ICT", 7*3600)

// Vietnam is the time zone of reports: Asia/Ho_Chi_Minh, UTC+7 all year.
func Vietnam() *time.Location { return vietnam }
