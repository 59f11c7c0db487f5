package postgres

import (
	"context"
	"fmt"
	"hash/fnv"
	"slices"

	"github.com/jackc/pgx/v5"
)

// Advisory locks. A write transaction locks what it is about to read and change, so that
// a concurrent transaction changing the same things waits for it to commit and then reads
// its result (READ COMMITTED: every statement sees what committed before it began).
//
// Keys are 64-bit: a class in the top byte, a hash of the locked thing below. Classes are
// taken in ascending order within a transaction — all op ids, then all logs, then all
// groups, then all report members, each class at once and sorted — and a transaction
// never takes a lock of a lower class after a higher one (take refuses it). Since every
// transaction follows the one order, no two wait for each other in a cycle. A hash
// collision only makes two unrelated things share a lock.
//
// Report rebuilds take the reports lock exclusively; the maintenance of every write takes
// it shared, after its group locks and before its member locks (reports_maint.go). So a
// transaction holding it exclusively has the report members and team days to itself, and
// takes no lock of theirs: a rebuild goes through every log of the database in one
// transaction, and one lock per person, household and volunteer, held to its commit,
// filled PostgreSQL's lock table at 900,000 logs (BENCHMARKS.md → migrate-store).
type lockClass uint8

const (
	lockOp      lockClass = 1 // an op id: a re-sent op waits for the first send
	lockLog     lockClass = 2 // a log id: one writer of a log's content at a time
	lockGroup   lockClass = 3 // a once-per-person group (kind, citizen_ref)
	lockReports lockClass = 4 // the report aggregates as a whole (shared; rebuilds exclusive)
	lockMember  lockClass = 5 // a report member: person, household, volunteer
	lockTeamDay lockClass = 6 // a team's day, counted last in a transaction (reports_maint.go)
)

func lockKey(c lockClass, name string) int64 {
	h := fnv.New64a()
	h.Write([]byte(name))
	return int64(uint64(c)<<56 | h.Sum64()&(1<<56-1))
}

// lockState remembers the highest class a transaction has locked, and the class it holds
// exclusively (0: none).
type lockState struct {
	highest, exclusive lockClass
}

// take locks the named things of class c, in ascending key order. It fails (a bug, never
// a wait in a cycle) if the transaction already holds a lock of a higher class.
func (tx *Tx) take(ctx context.Context, c lockClass, names []string) error {
	b := &pgx.Batch{}
	if err := tx.queueTake(b, c, names); err != nil || b.Len() == 0 {
		return err
	}
	return tx.SendBatch(ctx, b).Close()
}

// queueTake queues take's statement in b: the reads queued after it run once the locks
// are held, in the same round trip (READ COMMITTED: each statement sees what committed
// before it began).
func (tx *Tx) queueTake(b *pgx.Batch, c lockClass, names []string) error {
	if len(names) == 0 {
		return nil
	}
	if c < tx.locks.highest {
		return fmt.Errorf("postgres: lock of class %d taken after class %d", c, tx.locks.highest)
	}
	tx.locks.highest = c
	if tx.locks.exclusive == lockReports && c > lockReports {
		return nil // every other taker of c holds the reports lock shared first
	}
	keys := make([]int64, len(names))
	for i, n := range names {
		keys[i] = lockKey(c, n)
	}
	slices.Sort(keys)
	keys = slices.Compact(keys)
	b.Queue(lockKeys, keys)
	return nil
}

// lockKeys locks the keys of an array in the array's order, which take sorts. It does what
// the schema's cdt_lock does, in the statement itself: the body of a SQL function is
// planned again at every call, and SQL function calls were a tenth of PostgreSQL's CPU at
// pushes of 20 operations (perf, BENCHMARKS.md → PostgreSQL). cdt_lock stays in the
// schema for servers of the previous version during an upgrade.
const lockKeys = `SELECT count(pg_advisory_xact_lock(k)) FROM unnest($1::bigint[]) AS k`

// takeShared takes the one shared lock of class c.
func (tx *Tx) takeShared(ctx context.Context, c lockClass) error {
	b := &pgx.Batch{}
	if err := tx.queueTakeShared(b, c); err != nil {
		return err
	}
	return tx.SendBatch(ctx, b).Close()
}

// queueTakeShared queues takeShared's statement in b (see queueTake).
func (tx *Tx) queueTakeShared(b *pgx.Batch, c lockClass) error {
	if c < tx.locks.highest {
		return fmt.Errorf("postgres: lock of class %d taken after class %d", c, tx.locks.highest)
	}
	tx.locks.highest = c
	b.Queue(`SELECT pg_advisory_xact_lock_shared($1)`, lockKey(c, ""))
	return nil
}

// takeExclusive takes the one exclusive lock of class c.
func (tx *Tx) takeExclusive(ctx context.Context, c lockClass) error {
	if c < tx.locks.highest {
		return fmt.Errorf("postgres: lock of class %d taken after class %d", c, tx.locks.highest)
	}
	tx.locks.highest = c
	_, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, lockKey(c, ""))
	if err == nil {
		tx.locks.exclusive = c
	}
	return err
}
