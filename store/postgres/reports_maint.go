package postgres

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/cdtsync/cdtsync/report"
	"github.com/cdtsync/cdtsync/schema"
	"github.com/cdtsync/cdtsync/sync/merge"
)

// Report aggregates, kept up to date in the transaction that changes logs, exactly as the
// SQLite store keeps them (store/sqlite/reports_maint.go: the same tables, contributions,
// pairs and cells). What concurrency changes:
//
//   - Whatever a change reads to compute its differences is locked first (class
//     lockMember, after the logs and groups): the people and households whose pairs it
//     recomputes, the volunteers whose active days it reads. A log's own contribution is
//     safe under the log's lock, or its group's for a status change of a log the
//     transaction did not lock.
//   - Team days are counted last (teamDayStep, class lockTeamDay): every phone of a team
//     pushing on one day meets on that team day, so its lock is taken after every other
//     write of the transaction and held only for one read, one batch and the commit —
//     not for the whole push.
//   - Cells are not read and rewritten: every transaction appends its cell deltas to
//     rpt_cell_deltas, which nobody else writes, so pushes of one province never queue
//     on that province's cell. Reports add the deltas to the cells; the compactor folds
//     them in (cells.go).
//   - Rebuilds take the reports lock exclusively; every maintenance takes it shared.

// reportsDisabled turns aggregate maintenance off, for benchmarks that measure its cost.
var reportsDisabled atomic.Bool

// SetReportsDisabled turns report maintenance off or on (benchmarks of push ingest;
// reports are wrong while it is off).
func SetReportsDisabled(off bool) { reportsDisabled.Store(off) }

// contrib is what one log contributes to the reports (see the SQLite store).
type contrib struct {
	id        [16]byte
	hamlet    int64
	team      int64
	volunteer int64
	day       report.Day
	ms        int64
	kind      string
	counted   bool
	approved  bool
	attendees int64
	person    string // citizen_ref as 32 raw bytes, counted logs only
	household string // household_ref as 32 raw bytes, counted logs only
}

func (c *contrib) equal(o *contrib) bool {
	if c == nil || o == nil {
		return c == o
	}
	return *c == *o
}

func contribOf(l *merge.Log) (*contrib, error) {
	if l.Deleted || !l.Complete() || (l.Status != schema.StatusPending && l.Status != schema.StatusApproved) {
		return nil, nil
	}
	ms, ok := l.CorrectedMillis()
	if !ok {
		return nil, nil
	}
	id, err := uuid.Parse(l.ID)
	if err != nil {
		return nil, fmt.Errorf("reports: log id %q: %w", l.ID, err)
	}
	c := &contrib{id: id, hamlet: *l.Content.HamletID, team: l.TeamID, volunteer: l.VolunteerID,
		day: report.DayOf(ms), ms: ms, kind: *l.Content.Kind, counted: l.Outcome() == schema.OutcomeCompleted,
		approved: l.Status == schema.StatusApproved, attendees: 1}
	if a := l.Content.Attendees; a != nil && *a > 0 {
		c.attendees = *a
	}
	if c.counted {
		if c.person, err = rawRef(l.Content.CitizenRef); err != nil {
			return nil, err
		}
		if c.household, err = rawRef(l.Content.HouseholdRef); err != nil {
			return nil, err
		}
	}
	return c, nil
}

func rawRef(s *string) (string, error) {
	if s == nil {
		return "", nil
	}
	b, err := hex.DecodeString(*s)
	if err != nil {
		return "", fmt.Errorf("reports: a ref is not hex: %w", err)
	}
	return string(b), nil
}

func (c *contrib) sums() report.Sums {
	if c.counted {
		return report.Sums{Logs: 1, Attendees: c.attendees}
	}
	return report.Sums{Incomplete: 1}
}

const contribColumns = `id, hamlet_id, team_id, volunteer_id, day, ms, kind, counted, approved, attendees, person, household`

func scanContrib(r pgx.Row) (*contrib, error) {
	var (
		c             contrib
		person, house []byte
		day           int64
	)
	if err := r.Scan(&c.id, &c.hamlet, &c.team, &c.volunteer, &day, &c.ms, &c.kind, &c.counted, &c.approved,
		&c.attendees, &person, &house); err != nil {
		return nil, err
	}
	c.day, c.person, c.household = report.Day(day), string(person), string(house)
	return &c, nil
}

func unitKey(path string) string { return "u" + path }

func teamKey(unitPath string, team int64) string {
	return "t" + unitPath + "t" + strconv.FormatInt(team, 10) + "/"
}

func memberKey(teamKey string, volunteer int64) string {
	return teamKey + "v" + strconv.FormatInt(volunteer, 10) + "/"
}

// ancestorPaths returns the paths of a unit and of every unit above it, top first.
func ancestorPaths(path string) []string {
	var out []string
	for i := 1; i < len(path); i++ {
		if path[i] == '/' {
			out = append(out, path[:i+1])
		}
	}
	return out
}

type cellID struct {
	period int32
	key    string
}

type vdayKey struct {
	volunteer int64
	day       report.Day
	hamlet    int64
	team      int64
}

type tdayKey struct {
	team int64
	day  report.Day
}

type maint struct {
	ctx        context.Context
	tx         *Tx
	cells      map[cellID]*cellDelta
	paths      map[int64]string
	teamUP     map[int64]int64
	hamletKeys map[int64][]string
	teamKeys   map[int64]string
	memberKeys map[[2]int64]string
}

// reportsFormat names the layout of the aggregates (the SQLite store's).
const reportsFormat = "3"

// reportsReady reports whether the aggregates may be maintained incrementally (see the
// SQLite store): built, in this format, and no unit moved since. A build in progress
// (rebuild.go) is not ready.
func reportsReady(ctx context.Context, tx *Tx) (bool, error) {
	b := &pgx.Batch{}
	st := queueReportState(b)
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return false, err
	}
	mode, err := st.mode(ctx, tx)
	return mode == aggReady, err
}

// aggMode is the state of the aggregates for a transaction that changes logs.
type aggMode int

const (
	aggStale    aggMode = iota // to be built; changes leave them alone
	aggReady                   // kept up to date by every change
	aggBuilding                // being built: kept up to date for the logs already added
)

// reportState is what a mode is decided from, read by queueReportState.
type reportState struct {
	state, format, unitsSeq *string
	maxSeq                  *int64
}

func queueReportState(b *pgx.Batch) *reportState {
	st := &reportState{}
	b.Queue(reportStateQuery).QueryRow(func(r pgx.Row) error {
		return r.Scan(&st.state, &st.format, &st.unitsSeq, &st.maxSeq)
	})
	return st
}

// mode decides the aggregates' mode, and marks them stale when their format changed or a
// unit moved since they were built.
func (st *reportState) mode(ctx context.Context, tx *Tx) (aggMode, error) {
	state, format, unitsSeq, maxSeq := st.state, st.format, st.unitsSeq, st.maxSeq
	if deref(state) == "stale" {
		return aggStale, nil
	}
	current := aggReady
	if deref(state) == "building" {
		current = aggBuilding
	}
	stale := func() (aggMode, error) {
		_, err := tx.Exec(ctx, `INSERT INTO meta (key, value) VALUES ('rpt_state', 'stale')
			ON CONFLICT (key) DO UPDATE SET value = excluded.value`)
		return aggStale, err
	}
	if deref(format) != reportsFormat {
		var any int
		err := tx.QueryRow(ctx, `SELECT 1 FROM rpt_cells LIMIT 1`).Scan(&any)
		if err == nil {
			return stale()
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return aggStale, err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO meta (key, value) VALUES ('rpt_format', $1)
			ON CONFLICT (key) DO UPDATE SET value = excluded.value`, reportsFormat); err != nil {
			return aggStale, err
		}
	}
	cur := strconv.FormatInt(deref(maxSeq), 10)
	if deref(unitsSeq) == cur {
		return current, nil
	}
	var moved int
	err := tx.QueryRow(ctx, `SELECT 1 FROM rpt_paths p JOIN units u ON u.id = p.unit_id WHERE u.path <> p.path LIMIT 1`).Scan(&moved)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		_, err = tx.Exec(ctx, `INSERT INTO meta (key, value) VALUES ('rpt_units_seq', $1)
			ON CONFLICT (key) DO UPDATE SET value = excluded.value`, cur)
		return current, err
	case err != nil:
		return aggStale, err
	}
	return stale()
}

const reportStateQuery = `SELECT (SELECT value FROM meta WHERE key = 'rpt_state'), (SELECT value FROM meta WHERE key = 'rpt_format'),
	(SELECT value FROM meta WHERE key = 'rpt_units_seq'), (SELECT max(seq) FROM units)`

// maintainReports updates the report aggregates for logs, the new states of the logs a
// Save writes; isNew marks those never stored before. The team days it returns are to be
// counted last in the transaction (teamDayStep.run; nil: none).
func maintainReports(ctx context.Context, tx *Tx, logs map[string]*merge.Log, isNew map[string]bool) (*teamDayStep, error) {
	if reportsDisabled.Load() || len(logs) == 0 {
		return nil, nil
	}
	b := &pgx.Batch{}
	if err := tx.queueTakeShared(b, lockReports); err != nil {
		return nil, err
	}
	st := queueReportState(b)
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return nil, err
	}
	mode, err := st.mode(ctx, tx)
	if err != nil || mode == aggStale {
		return nil, err
	}
	// While the aggregates are being built, a push keeps them up to date for its logs as
	// when they are ready: the build leaves out the logs written after it began
	// (rebuild.go).
	return applyContribs(ctx, tx, logs, isNew)
}

// teamDayStep is the last part of a maintenance: the team days whose log counts change,
// and the pairs of those that start or stop being active days.
type teamDayStep struct {
	m      *maint
	delta  map[tdayKey]int64
	writes *pgx.Batch // the maintenance's other writes, not yet sent (takeWrites)
}

// takeWrites returns the maintenance's other writes, not yet sent, so that the caller
// sends them with its own in one round trip (a new batch if there are none), and forgets
// them.
func (s *teamDayStep) takeWrites() *pgx.Batch {
	if s == nil || s.writes == nil {
		return &pgx.Batch{}
	}
	b := s.writes
	s.writes = nil
	return b
}

// run locks the team days and reads their counts in one round trip, then writes the new
// ones with their pairs.
func (s *teamDayStep) run(ctx context.Context) error {
	if s == nil {
		return nil
	}
	var names []string
	for k, d := range s.delta {
		if d != 0 {
			names = append(names, "t"+strconv.FormatInt(k.team, 10)+"/"+strconv.Itoa(int(k.day)))
		}
	}
	if len(names) == 0 {
		return nil
	}
	b := s.takeWrites()
	if err := s.m.tx.queueTake(b, lockTeamDay, names); err != nil {
		return err
	}
	return s.applyAfter(ctx, b)
}

// apply reads the team days' counts and writes the new ones with their pairs; the caller
// holds their locks (run), or the reports lock exclusively (a rebuild).
func (s *teamDayStep) apply(ctx context.Context) error {
	if s == nil {
		return nil
	}
	return s.applyAfter(ctx, s.takeWrites())
}

// applyAfter is apply with the read sent after what first holds already.
func (s *teamDayStep) applyAfter(ctx context.Context, first *pgx.Batch) error {
	m := s.m
	m.cells = map[cellID]*cellDelta{} // the others' were written
	keys, cur := queueTeamDays(first, s.delta)
	if first.Len() > 0 {
		if err := m.tx.SendBatch(ctx, first).Close(); err != nil {
			return err
		}
	}
	b := &pgx.Batch{}
	if err := m.teamDays(b, keys, cur, s.delta); err != nil {
		return err
	}
	m.writeCellDeltas(b)
	return m.tx.SendBatch(ctx, b).Close()
}

func applyContribs(ctx context.Context, tx *Tx, logs map[string]*merge.Log, isNew map[string]bool) (*teamDayStep, error) {
	after := make(map[[16]byte]*contrib, len(logs))
	ids := make([][16]byte, 0, len(logs))
	var stored [][16]byte
	for _, l := range logs {
		c, err := contribOf(l)
		if err != nil {
			return nil, err
		}
		id, err := uuid.Parse(l.ID)
		if err != nil {
			return nil, fmt.Errorf("reports: log id %q: %w", l.ID, err)
		}
		after[id] = c
		ids = append(ids, id)
		if !isNew[l.ID] {
			stored = append(stored, id)
		}
	}
	sort.Slice(ids, func(i, j int) bool { return bytes.Compare(ids[i][:], ids[j][:]) < 0 })
	before, err := loadContribs(ctx, tx, stored)
	if err != nil {
		return nil, err
	}
	byID := map[[16]byte]*contrib{}
	for _, c := range before {
		byID[c.id] = c
	}
	var changed [][16]byte
	for _, id := range ids {
		if !byID[id].equal(after[id]) {
			changed = append(changed, id)
		}
	}
	if len(changed) == 0 {
		return nil, nil
	}
	m := &maint{ctx: ctx, tx: tx, cells: map[cellID]*cellDelta{}, paths: map[int64]string{}, teamUP: map[int64]int64{}}
	isChanged := make(map[[16]byte]bool, len(changed))
	var persons, households [][]byte
	seenP, seenH := map[string]bool{}, map[string]bool{}
	vdelta := map[vdayKey][2]int64{}
	tdelta := map[tdayKey]int64{}
	for _, id := range changed {
		isChanged[id] = true
		for _, sc := range [2]signed{{-1, byID[id]}, {+1, after[id]}} {
			sign, c := sc.sign, sc.c
			if c == nil {
				continue
			}
			if c.person != "" && !seenP[c.person] {
				seenP[c.person] = true
				persons = append(persons, []byte(c.person))
			}
			if c.household != "" && !seenH[c.household] {
				seenH[c.household] = true
				households = append(households, []byte(c.household))
			}
			k := vdayKey{c.volunteer, c.day, c.hamlet, c.team}
			d := vdelta[k]
			d[report.All] += sign
			if c.approved {
				d[report.Approved] += sign
			}
			vdelta[k] = d
			tdelta[tdayKey{c.team, c.day}] += sign
		}
	}
	// Lock every member whose state the differences are computed from, then read them.
	var names []string
	for _, p := range persons {
		names = append(names, "p"+string(p))
	}
	for _, h := range households {
		names = append(names, "h"+string(h))
	}
	for k, d := range vdelta {
		if d != [2]int64{} {
			names = append(names, "v"+strconv.FormatInt(k.volunteer, 10))
		}
	}
	// The locks and the reads of what they protect, in one round trip.
	b := &pgx.Batch{}
	if err := tx.queueTake(b, lockMember, names); err != nil {
		return nil, err
	}
	var personRows, householdRows []*contrib
	queueMembers(b, false, persons, &personRows)
	queueMembers(b, true, households, &householdRows)
	vdays := queueVdays(b, vdelta)
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return nil, err
	}
	hamlets, teams := map[int64]bool{}, map[int64]bool{}
	note := func(c *contrib) {
		if c != nil {
			hamlets[c.hamlet], teams[c.team] = true, true
		}
	}
	for _, id := range changed {
		note(byID[id])
		note(after[id])
	}
	for _, c := range personRows {
		note(c)
	}
	for _, c := range householdRows {
		hamlets[c.hamlet] = true
	}
	for _, rows := range vdays {
		for k := range rows {
			hamlets[k.hamlet], teams[k.team] = true, true
		}
	}
	if err := m.loadPaths(hamlets, teams); err != nil {
		return nil, err
	}
	for _, id := range changed {
		for _, sc := range [2]signed{{-1, byID[id]}, {+1, after[id]}} {
			sign, c := sc.sign, sc.c
			if c == nil {
				continue
			}
			s := c.sums()
			ks := m.unitKeys(c.hamlet)
			for _, g := range []string{ks[len(ks)-1], m.memberKey(c.team, c.volunteer)} {
				for _, p := range report.SumCells(c.day) {
					d := m.delta(p, g)
					d.AddSums(c.kind, report.All, s, sign)
					if c.approved {
						d.AddSums(c.kind, report.Approved, s, sign)
					}
				}
			}
		}
	}
	afterRows := func(rows []*contrib, same func(*contrib) bool) []*contrib {
		var out []*contrib
		for _, c := range rows {
			if !isChanged[c.id] {
				out = append(out, c)
			}
		}
		for _, id := range changed {
			if c := after[id]; c != nil && same(c) {
				out = append(out, c)
			}
		}
		return out
	}
	byPerson := groupRows(personRows, func(c *contrib) string { return c.person })
	for _, p := range persons {
		ref := string(p)
		rows := byPerson[ref]
		m.pairDiff(report.MemberPerson, m.presences(rows, true), m.presences(afterRows(rows, func(c *contrib) bool { return c.person == ref }), true))
	}
	byHousehold := groupRows(householdRows, func(c *contrib) string { return c.household })
	for _, h := range households {
		ref := string(h)
		rows := byHousehold[ref]
		m.pairDiff(report.MemberHousehold, m.presences(rows, false), m.presences(afterRows(rows, func(c *contrib) bool { return c.household == ref }), false))
	}
	b = &pgx.Batch{}
	if err := m.volunteers(b, vdays, vdelta); err != nil {
		return nil, err
	}
	m.writeContribs(b, changed, byID, after)
	m.writeCellDeltas(b)
	m.writePaths(b)
	return &teamDayStep{m: m, delta: tdelta, writes: b}, nil
}

type signed struct {
	sign int64
	c    *contrib
}

func groupRows(rows []*contrib, key func(*contrib) string) map[string][]*contrib {
	out := map[string][]*contrib{}
	for _, c := range rows {
		out[key(c)] = append(out[key(c)], c)
	}
	return out
}

// The contributions of people and of households, each through its own index on
// rpt_contrib. (The SQLite store reaches people through the logs' index on citizen_ref;
// PostgreSQL planned that join as a scan of every contribution: TestPushQueriesUseIndexes.)
const (
	personContribsQuery    = `SELECT id, person, hamlet_id, team_id, volunteer_id, day, approved FROM rpt_contrib WHERE person = ANY($1::bytea[])`
	householdContribsQuery = `SELECT id, household, hamlet_id, 0::bigint, 0::bigint, day, approved FROM rpt_contrib WHERE household = ANY($1::bytea[])`
)

// queueMembers queues the read of the contributions of the given people or households
// into *out.
func queueMembers(b *pgx.Batch, households bool, refs [][]byte, out *[]*contrib) {
	if len(refs) == 0 {
		return
	}
	q := personContribsQuery
	if households {
		q = householdContribsQuery
	}
	b.Queue(q, refs).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			var (
				c   contrib
				ref []byte
				day int64
			)
			if err := rows.Scan(&c.id, &ref, &c.hamlet, &c.team, &c.volunteer, &day, &c.approved); err != nil {
				return err
			}
			c.day, c.counted = report.Day(day), true
			if households {
				c.household = string(ref)
			} else {
				c.person = string(ref)
			}
			*out = append(*out, &c)
		}
		return rows.Err()
	})
}

func loadContribs(ctx context.Context, tx *Tx, ids [][16]byte) ([]*contrib, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	rows, err := tx.Query(ctx, `SELECT `+contribColumns+` FROM rpt_contrib WHERE id = ANY($1::uuid[])`, ids)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*contrib
	for rows.Next() {
		c, err := scanContrib(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// queueVdays queues the read of every rpt_vdays row of each volunteer with a change; the
// map it returns is filled when b has been sent.
func queueVdays(b *pgx.Batch, delta map[vdayKey][2]int64) map[int64]map[vdayKey][2]int64 {
	out := map[int64]map[vdayKey][2]int64{}
	var vols []int64
	for k, d := range delta {
		if d != [2]int64{} {
			if _, ok := out[k.volunteer]; !ok {
				vols = append(vols, k.volunteer)
			}
			out[k.volunteer] = map[vdayKey][2]int64{}
		}
	}
	if len(vols) == 0 {
		return out
	}
	b.Queue(`SELECT volunteer_id, day, hamlet_id, team_id, n, n_approved FROM rpt_vdays WHERE volunteer_id = ANY($1)`, vols).
		Query(func(rows pgx.Rows) error {
			for rows.Next() {
				var (
					k   vdayKey
					day int64
					n   [2]int64
				)
				if err := rows.Scan(&k.volunteer, &day, &k.hamlet, &k.team, &n[0], &n[1]); err != nil {
					return err
				}
				k.day = report.Day(day)
				out[k.volunteer][k] = n
			}
			return rows.Err()
		})
	return out
}

func (m *maint) loadPaths(hamlets, teams map[int64]bool) error {
	var tids []int64
	for t := range teams {
		if _, ok := m.teamUP[t]; !ok {
			tids = append(tids, t)
		}
	}
	if len(tids) > 0 {
		rows, err := m.tx.Query(m.ctx, `SELECT id, unit_id FROM teams WHERE id = ANY($1)`, tids)
		if err != nil {
			return err
		}
		for rows.Next() {
			var t, u int64
			if err := rows.Scan(&t, &u); err != nil {
				rows.Close()
				return err
			}
			m.teamUP[t] = u
			hamlets[u] = true
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
	}
	var uids []int64
	for u := range hamlets {
		if _, ok := m.paths[u]; !ok {
			uids = append(uids, u)
		}
	}
	if len(uids) > 0 {
		rows, err := m.tx.Query(m.ctx, `SELECT id, path FROM units WHERE id = ANY($1)`, uids)
		if err != nil {
			return err
		}
		for rows.Next() {
			var (
				u int64
				p string
			)
			if err := rows.Scan(&u, &p); err != nil {
				rows.Close()
				return err
			}
			m.paths[u] = p
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
	}
	for u := range hamlets {
		if m.paths[u] == "" {
			return fmt.Errorf("reports: unit %d has no path", u)
		}
	}
	return nil
}

func (m *maint) teamKey(team int64) string {
	if k, ok := m.teamKeys[team]; ok {
		return k
	}
	k := teamKey(m.paths[m.teamUP[team]], team)
	if m.teamKeys == nil {
		m.teamKeys = map[int64]string{}
	}
	m.teamKeys[team] = k
	return k
}

func (m *maint) memberKey(team, volunteer int64) string {
	id := [2]int64{team, volunteer}
	if k, ok := m.memberKeys[id]; ok {
		return k
	}
	k := memberKey(m.teamKey(team), volunteer)
	if m.memberKeys == nil {
		m.memberKeys = map[[2]int64]string{}
	}
	m.memberKeys[id] = k
	return k
}

func (m *maint) delta(period int32, key string) *cellDelta {
	id := cellID{period, key}
	d := m.cells[id]
	if d == nil {
		d = &cellDelta{}
		m.cells[id] = d
	}
	return d
}

func (m *maint) pair(key string, member, v int, day, prev report.Day, n int64) {
	for _, c := range report.PairCells(day, prev) {
		m.delta(c.Period, key).AddPair(member, v, c.Prev, n)
	}
}

func (m *maint) pairDiff(member int, before, after []report.Presence) {
	report.PairDiff(before, after, func(group string, v int, day, prev report.Day, n int64) {
		m.pair(group, member, v, day, prev, n)
	})
}

func (m *maint) unitKeys(hamlet int64) []string {
	if ks, ok := m.hamletKeys[hamlet]; ok {
		return ks
	}
	ks := ancestorPaths(m.paths[hamlet])
	for i, p := range ks {
		ks[i] = unitKey(p)
	}
	if m.hamletKeys == nil {
		m.hamletKeys = map[int64][]string{}
	}
	m.hamletKeys[hamlet] = ks
	return ks
}

func (m *maint) presences(rows []*contrib, withTeams bool) []report.Presence {
	var out []report.Presence
	var groups []string
	for _, c := range rows {
		groups = append(groups[:0], m.unitKeys(c.hamlet)...)
		if withTeams {
			tk := m.teamKey(c.team)
			groups = append(groups, tk, m.memberKey(c.team, c.volunteer))
		}
		for _, g := range groups {
			out = append(out, report.Presence{Group: g, Var: report.All, Day: c.day})
			if c.approved {
				out = append(out, report.Presence{Group: g, Var: report.Approved, Day: c.day})
			}
		}
	}
	return out
}

// volunteers queues the rpt_vdays changes and computes the volunteers' pairs.
func (m *maint) volunteers(b *pgx.Batch, rows map[int64]map[vdayKey][2]int64, delta map[vdayKey][2]int64) error {
	vols := make([]int64, 0, len(rows))
	for v := range rows {
		vols = append(vols, v)
	}
	sort.Slice(vols, func(i, j int) bool { return vols[i] < vols[j] })
	for _, v := range vols {
		cur := rows[v]
		next := make(map[vdayKey][2]int64, len(cur))
		for k, n := range cur {
			next[k] = n
		}
		var keys []vdayKey
		for k, d := range delta {
			if k.volunteer != v || d == [2]int64{} {
				continue
			}
			n := next[k]
			n[0] += d[0]
			n[1] += d[1]
			if n[0] < 0 || n[1] < 0 || n[1] > n[0] {
				return fmt.Errorf("%w: volunteer %d day %d", report.ErrNegative, v, k.day)
			}
			next[k] = n
			keys = append(keys, k)
		}
		unitPres := func(ns map[vdayKey][2]int64) []report.Presence {
			var out []report.Presence
			for k, n := range ns {
				for _, g := range m.unitKeys(k.hamlet) {
					if n[0] > 0 {
						out = append(out, report.Presence{Group: g, Var: report.All, Day: k.day})
					}
					if n[1] > 0 {
						out = append(out, report.Presence{Group: g, Var: report.Approved, Day: k.day})
					}
				}
			}
			return out
		}
		m.pairDiff(report.MemberVolunteer, unitPres(cur), unitPres(next))
		type td struct {
			team int64
			day  report.Day
		}
		active := func(ns map[vdayKey][2]int64) map[td]bool {
			out := map[td]bool{}
			for k, n := range ns {
				if n[0] > 0 {
					out[td{k.team, k.day}] = true
				}
			}
			return out
		}
		was, is := active(cur), active(next)
		for k := range was {
			if !is[k] {
				m.pair(m.memberKey(k.team, v), report.MemberDay, report.All, k.day, 0, -1)
			}
		}
		for k := range is {
			if !was[k] {
				m.pair(m.memberKey(k.team, v), report.MemberDay, report.All, k.day, 0, +1)
			}
		}
		sort.Slice(keys, func(i, j int) bool {
			a, b := keys[i], keys[j]
			if a.day != b.day {
				return a.day < b.day
			}
			if a.hamlet != b.hamlet {
				return a.hamlet < b.hamlet
			}
			return a.team < b.team
		})
		for _, k := range keys {
			n := next[k]
			if n[0] == 0 {
				b.Queue(`DELETE FROM rpt_vdays WHERE volunteer_id = $1 AND day = $2 AND hamlet_id = $3 AND team_id = $4`,
					v, int64(k.day), k.hamlet, k.team)
				continue
			}
			b.Queue(`INSERT INTO rpt_vdays (volunteer_id, day, hamlet_id, team_id, n, n_approved) VALUES ($1, $2, $3, $4, $5, $6)
				ON CONFLICT (volunteer_id, day, hamlet_id, team_id) DO UPDATE SET n = excluded.n, n_approved = excluded.n_approved`,
				v, int64(k.day), k.hamlet, k.team, n[0], n[1])
		}
	}
	return nil
}

// teamDays reads the team days changed, queues their new counts and adds their pairs.
// queueTeamDays queues the read of the counts of the team days whose count changes; cur
// is filled when b has been sent.
func queueTeamDays(b *pgx.Batch, delta map[tdayKey]int64) (keys []tdayKey, cur map[tdayKey]int64) {
	for k, d := range delta {
		if d != 0 {
			keys = append(keys, k)
		}
	}
	cur = map[tdayKey]int64{}
	if len(keys) == 0 {
		return nil, cur
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].team != keys[j].team {
			return keys[i].team < keys[j].team
		}
		return keys[i].day < keys[j].day
	})
	teams := make([]int64, len(keys))
	days := make([]int64, len(keys))
	for i, k := range keys {
		teams[i], days[i] = k.team, int64(k.day)
	}
	b.Queue(`SELECT t.team_id, t.day, t.n FROM rpt_tdays t
		JOIN unnest($1::bigint[], $2::integer[]) AS k(team, day) ON k.team = t.team_id AND k.day = t.day`, teams, days).
		Query(func(rows pgx.Rows) error {
			for rows.Next() {
				var (
					k      tdayKey
					day, n int64
				)
				if err := rows.Scan(&k.team, &day, &n); err != nil {
					return err
				}
				k.day = report.Day(day)
				cur[k] = n
			}
			return rows.Err()
		})
	return keys, cur
}

// teamDays queues the new counts of the team days (keys, read into cur) and computes their
// pairs.
func (m *maint) teamDays(b *pgx.Batch, keys []tdayKey, cur map[tdayKey]int64, delta map[tdayKey]int64) error {
	for _, k := range keys {
		n := cur[k]
		next := n + delta[k]
		if next < 0 {
			return fmt.Errorf("%w: team %d day %d", report.ErrNegative, k.team, k.day)
		}
		switch {
		case n == 0 && next > 0:
			m.pair(m.teamKey(k.team), report.MemberDay, report.All, k.day, 0, +1)
		case n > 0 && next == 0:
			m.pair(m.teamKey(k.team), report.MemberDay, report.All, k.day, 0, -1)
		}
		if next == 0 {
			b.Queue(`DELETE FROM rpt_tdays WHERE team_id = $1 AND day = $2`, k.team, int64(k.day))
		} else {
			b.Queue(`INSERT INTO rpt_tdays (team_id, day, n) VALUES ($1, $2, $3)
				ON CONFLICT (team_id, day) DO UPDATE SET n = excluded.n`, k.team, int64(k.day), next)
		}
	}
	return nil
}

func (m *maint) writeContribs(b *pgx.Batch, changed [][16]byte, before, after map[[16]byte]*contrib) {
	var dels [][16]byte
	var (
		ids                           [][16]byte
		hamlets, teams, vols, ms, att []int64
		days                          []int64
		kinds                         []string
		counted, approved             []bool
		persons, households           [][]byte
	)
	for _, id := range changed {
		c := after[id]
		if c == nil {
			if before[id] != nil {
				dels = append(dels, id)
			}
			continue
		}
		var person, household []byte
		if c.person != "" {
			person = []byte(c.person)
		}
		if c.household != "" {
			household = []byte(c.household)
		}
		ids = append(ids, id)
		hamlets, teams, vols = append(hamlets, c.hamlet), append(teams, c.team), append(vols, c.volunteer)
		days, ms, kinds = append(days, int64(c.day)), append(ms, c.ms), append(kinds, c.kind)
		counted, approved, att = append(counted, c.counted), append(approved, c.approved), append(att, c.attendees)
		persons, households = append(persons, person), append(households, household)
	}
	if len(dels) > 0 {
		b.Queue(`DELETE FROM rpt_contrib WHERE id = ANY($1::uuid[])`, dels)
	}
	if len(ids) > 0 {
		b.Queue(`INSERT INTO rpt_contrib (`+contribColumns+`)
			SELECT * FROM unnest($1::uuid[], $2::bigint[], $3::bigint[], $4::bigint[], $5::integer[], $6::bigint[], $7::text[],
				$8::boolean[], $9::boolean[], $10::bigint[], $11::bytea[], $12::bytea[])
			ON CONFLICT (id) DO UPDATE SET hamlet_id = excluded.hamlet_id, team_id = excluded.team_id,
				volunteer_id = excluded.volunteer_id, day = excluded.day, ms = excluded.ms, kind = excluded.kind,
				counted = excluded.counted, approved = excluded.approved, attendees = excluded.attendees,
				person = excluded.person, household = excluded.household`,
			ids, hamlets, teams, vols, days, ms, kinds, counted, approved, att, persons, households)
	}
}

// writeCellDeltas queues the deltas gathered so far as rows of rpt_cell_deltas.
func (m *maint) writeCellDeltas(b *pgx.Batch) {
	ids := make([]cellID, 0, len(m.cells))
	for id, d := range m.cells {
		if !d.Empty() {
			ids = append(ids, id)
		}
	}
	if len(ids) > 0 {
		sort.Slice(ids, func(i, j int) bool {
			if ids[i].period != ids[j].period {
				return ids[i].period < ids[j].period
			}
			return ids[i].key < ids[j].key
		})
		periods := make([]int32, len(ids))
		keys := make([]string, len(ids))
		data := make([][]byte, len(ids))
		for i, id := range ids {
			c := m.cells[id].Cell()
			periods[i], keys[i], data[i] = id.period, id.key, c.Encode()
		}
		b.Queue(`INSERT INTO rpt_cell_deltas (period, key, data) SELECT * FROM unnest($1::integer[], $2::text[], $3::bytea[])`,
			periods, keys, data)
	}
}

// writePaths queues the unit paths the cell keys were built with.
func (m *maint) writePaths(b *pgx.Batch) {
	if len(m.paths) == 0 {
		return
	}
	units := make([]int64, 0, len(m.paths))
	for u := range m.paths {
		units = append(units, u)
	}
	sort.Slice(units, func(i, j int) bool { return units[i] < units[j] })
	paths := make([]string, len(units))
	for i, u := range units {
		paths[i] = m.paths[u]
	}
	b.Queue(`INSERT INTO rpt_paths (unit_id, path) SELECT * FROM unnest($1::bigint[], $2::text[]) ON CONFLICT (unit_id) DO NOTHING`,
		units, paths)
}

// keyTeam splits a team or member cell key into its team and volunteer.
func keyTeam(key string) (team, volunteer int64, ok bool) {
	if !strings.HasPrefix(key, "t/") {
		return 0, 0, false
	}
	i := strings.LastIndex(key, "/t")
	if i < 0 {
		return 0, 0, false
	}
	rest := key[i+2:]
	ts, rest, found := strings.Cut(rest, "/")
	if !found {
		return 0, 0, false
	}
	t, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return 0, 0, false
	}
	if rest == "" {
		return t, 0, true
	}
	if !strings.HasPrefix(rest, "v") || !strings.HasSuffix(rest, "/") {
		return 0, 0, false
	}
	v, err := strconv.ParseInt(rest[1:len(rest)-1], 10, 64)
	if err != nil {
		return 0, 0, false
	}
	return t, v, true
}
