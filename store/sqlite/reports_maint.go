package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/google/uuid"

	"github.com/cdtsync/cdtsync/report"
	"github.com/cdtsync/cdtsync/schema"
	"github.com/cdtsync/cdtsync/sync/merge"
)

// Report aggregates are kept up to date in the transaction that changes logs: Save calls
// maintainReports with every log whose state it writes. The tables (migration 0002) are
//
//   - rpt_contrib: what each log contributes now (the "before" state of its next change),
//   - rpt_vdays, rpt_tdays: volunteers' and teams' activity per day, as counts,
//   - rpt_cells: per group and day or month, the kinds' sums and the distinct-count pairs
//     (package report explains the pairs).
//
// A change to a log changes its own contribution; for its person, household and volunteer
// the pairs are recomputed from all of that member's contributions before and after the
// change (a person has a handful of logs; a volunteer's activity days are read from
// rpt_vdays), and only the differences are written. Cells take the sum of the changes of
// a whole push, so a push of 200 logs in one hamlet writes a few dozen cells.

// reportsDisabled turns aggregate maintenance off, for benchmarks that measure its cost on
// push ingest. Reports are wrong while it is set.
var reportsDisabled atomic.Bool

// contrib is what one log contributes to the reports. Only logs that count or are
// incomplete attempts have one: complete, not deleted, pending or approved.
type contrib struct {
	id        [16]byte
	hamlet    int64
	team      int64
	volunteer int64
	day       report.Day
	ms        int64
	kind      string
	counted   bool // outcome completed; otherwise an incomplete attempt
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

// contribOf returns what l contributes now, or nil.
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

// sums returns the contribution's kind sums.
func (c *contrib) sums() report.Sums {
	if c.counted {
		return report.Sums{Logs: 1, Attendees: c.attendees}
	}
	return report.Sums{Incomplete: 1}
}

const contribColumns = `id, hamlet_id, team_id, volunteer_id, day, ms, kind, counted, approved, attendees, person, household`

func scanContrib(r rowScanner) (*contrib, error) {
	var (
		c                 contrib
		id, person, house []byte
		day               int64
	)
	if err := r.Scan(&id, &c.hamlet, &c.team, &c.volunteer, &day, &c.ms, &c.kind, &c.counted, &c.approved,
		&c.attendees, &person, &house); err != nil {
		return nil, err
	}
	if len(id) != 16 {
		return nil, fmt.Errorf("reports: contribution id of %d bytes", len(id))
	}
	copy(c.id[:], id)
	c.day, c.person, c.household = report.Day(day), string(person), string(house)
	return &c, nil
}

// Group keys of rpt_cells (see migration 0002): a unit's subtree is a key range.
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

// maint is one maintenance pass: the changes of one Save, gathered before writing.
type maint struct {
	ctx    context.Context
	tx     *Tx
	cells  map[cellID]*report.Delta
	paths  map[int64]string // unit id → path, of hamlets and teams' units
	teamUP map[int64]int64  // team id → its unit's id
	// Group keys, built once per pass.
	hamletKeys map[int64][]string
	teamKeys   map[int64]string
	memberKeys map[[2]int64]string
}

// reportsFormat names the layout of the aggregates (cells, keys, tables): aggregates
// built by a cdtsync with another layout are rebuilt.
const reportsFormat = "3"

// reportsReady reports whether the aggregates may be maintained incrementally: they are
// built, in this format (not marked stale), and no unit they were built with has moved
// since. A moved unit or another format marks them stale; the next report, or the next
// start of the server, rebuilds them.
func reportsReady(ctx context.Context, tx *Tx) (bool, error) {
	var state, format, unitsSeq sql.NullString
	var maxSeq sql.NullInt64
	if err := tx.QueryRowContext(ctx, reportStateQuery).Scan(&state, &format, &unitsSeq, &maxSeq); err != nil {
		return false, err
	}
	if state.String == "stale" {
		return false, nil
	}
	stale := func() (bool, error) {
		_, err := tx.ExecContext(ctx, `INSERT INTO meta (key, value) VALUES ('rpt_state', 'stale')
			ON CONFLICT (key) DO UPDATE SET value = excluded.value`)
		return false, err
	}
	if format.String != reportsFormat {
		var any int
		err := tx.QueryRowContext(ctx, `SELECT 1 FROM rpt_cells LIMIT 1`).Scan(&any)
		if err == nil {
			return stale() // built by another version
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return false, err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO meta (key, value) VALUES ('rpt_format', ?)
			ON CONFLICT (key) DO UPDATE SET value = excluded.value`, reportsFormat); err != nil {
			return false, err
		}
	}
	cur := strconv.FormatInt(maxSeq.Int64, 10)
	if unitsSeq.String == cur {
		return true, nil
	}
	var moved int
	err := tx.QueryRowContext(ctx, `SELECT 1 FROM rpt_paths p JOIN units u ON u.id = p.unit_id WHERE u.path <> p.path LIMIT 1`).Scan(&moved)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		_, err = tx.ExecContext(ctx, `INSERT INTO meta (key, value) VALUES ('rpt_units_seq', ?)
			ON CONFLICT (key) DO UPDATE SET value = excluded.value`, cur)
		return err == nil, err
	case err != nil:
		return false, err
	}
	return stale()
}

const reportStateQuery = `SELECT (SELECT value FROM meta WHERE key = 'rpt_state'), (SELECT value FROM meta WHERE key = 'rpt_format'),
	(SELECT value FROM meta WHERE key = 'rpt_units_seq'), (SELECT MAX(seq) FROM units)`

// maintainReports updates the report aggregates for logs, the new states of the logs a
// Save writes; isNew marks those never stored before (they contribute nothing yet). It
// reads the logs' previous contributions from rpt_contrib, so it may run before or after
// the logs themselves are written.
func maintainReports(ctx context.Context, tx *Tx, logs map[string]*merge.Log, isNew map[string]bool) error {
	if reportsDisabled.Load() || len(logs) == 0 {
		return nil
	}
	ready, err := reportsReady(ctx, tx)
	if err != nil || !ready {
		return err
	}
	return applyContribs(ctx, tx, logs, isNew)
}

func applyContribs(ctx context.Context, tx *Tx, logs map[string]*merge.Log, isNew map[string]bool) error {
	after := make(map[[16]byte]*contrib, len(logs))
	ids := make([][16]byte, 0, len(logs))
	var stored [][16]byte // logs that may have a contribution already
	for _, l := range logs {
		c, err := contribOf(l)
		if err != nil {
			return err
		}
		id, err := uuid.Parse(l.ID)
		if err != nil {
			return fmt.Errorf("reports: log id %q: %w", l.ID, err)
		}
		after[id] = c
		ids = append(ids, id)
		if !isNew[l.ID] {
			stored = append(stored, id)
		}
	}
	sort.Slice(ids, func(i, j int) bool { return bytes.Compare(ids[i][:], ids[j][:]) < 0 })
	before, err := loadContribs(ctx, tx, idArgs(stored))
	if err != nil {
		return err
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
		return nil
	}
	m := &maint{ctx: ctx, tx: tx, cells: map[cellID]*report.Delta{}, paths: map[int64]string{}, teamUP: map[int64]int64{}}
	isChanged := make(map[[16]byte]bool, len(changed))
	var persons, households []any
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
	personRows, err := loadMembers(ctx, tx, false, persons)
	if err != nil {
		return err
	}
	householdRows, err := loadMembers(ctx, tx, true, households)
	if err != nil {
		return err
	}
	vdays, err := loadVdays(ctx, tx, vdelta)
	if err != nil {
		return err
	}
	// Paths of every hamlet and team the pairs are computed over.
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
		return err
	}

	// Sums of the kinds, in the hamlet's and the team member's cells.
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
	// People and households: each member's pairs before and after, from all its logs.
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
		ref := string(p.([]byte))
		rows := byPerson[ref]
		m.pairDiff(report.MemberPerson, m.presences(rows, true), m.presences(afterRows(rows, func(c *contrib) bool { return c.person == ref }), true))
	}
	byHousehold := groupRows(householdRows, func(c *contrib) string { return c.household })
	for _, h := range households {
		ref := string(h.([]byte))
		rows := byHousehold[ref]
		m.pairDiff(report.MemberHousehold, m.presences(rows, false), m.presences(afterRows(rows, func(c *contrib) bool { return c.household == ref }), false))
	}
	// Volunteers: presence in units, and active days within their team.
	if err := m.volunteers(vdays, vdelta); err != nil {
		return err
	}
	if err := m.teamDays(tdelta); err != nil {
		return err
	}
	if err := m.writeContribs(changed, byID, after); err != nil {
		return err
	}
	return m.writeCells()
}

// signed is a contribution to remove (−1) or add (+1).
type signed struct {
	sign int64
	c    *contrib
}

func idArgs(ids [][16]byte) []any {
	out := make([]any, len(ids))
	for i := range ids {
		out[i] = ids[i][:]
	}
	return out
}

func groupRows(rows []*contrib, key func(*contrib) string) map[string][]*contrib {
	out := map[string][]*contrib{}
	for _, c := range rows {
		out[key(c)] = append(out[key(c)], c)
	}
	return out
}

// loadMembers returns the contributions of the given people (or households), with only
// what their pairs need. A household's come from the covering index
// rpt_contrib_household. A person's are found through the logs' own index on
// citizen_ref (logs_group), which the push keeps anyway, and read from rpt_contrib by id:
// what the aggregates hold for those logs, the same as the logs themselves since both
// change in one transaction — one random index write per log fewer than an index of our
// own.
func loadMembers(ctx context.Context, tx *Tx, households bool, refs []any) ([]*contrib, error) {
	q := `SELECT c.id, c.person, c.hamlet_id, c.team_id, c.volunteer_id, c.day, c.approved
		FROM logs l JOIN rpt_contrib c ON c.id = unhex(replace(l.id, '-', ''))
		WHERE c.person IS NOT NULL AND l.citizen_ref IN (`
	if households {
		q = `SELECT id, household, hamlet_id, 0, 0, day, approved FROM rpt_contrib WHERE household IN (`
	}
	want := map[string]bool{}
	var out []*contrib
	for len(refs) > 0 {
		part := refs
		if len(part) > 500 {
			part = part[:500]
		}
		refs = refs[len(part):]
		args := part
		if !households {
			args = make([]any, len(part))
			for i, r := range part {
				want[string(r.([]byte))] = true
				args[i] = hex.EncodeToString(r.([]byte))
			}
		}
		rows, err := tx.QueryContext(ctx, q+placeholders(len(part))+`)`, args...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var (
				c       contrib
				id, ref []byte
				day     int64
			)
			if err := rows.Scan(&id, &ref, &c.hamlet, &c.team, &c.volunteer, &day, &c.approved); err != nil {
				rows.Close()
				return nil, err
			}
			copy(c.id[:], id)
			c.day, c.counted = report.Day(day), true
			if households {
				c.household = string(ref)
			} else if c.person = string(ref); !want[c.person] {
				continue // the aggregates hold another person for this log: not one of these
			}
			out = append(out, &c)
		}
		if err := rows.Close(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// loadContribs returns the contributions of the logs with the given ids.
func loadContribs(ctx context.Context, tx *Tx, vals []any) ([]*contrib, error) {
	var out []*contrib
	for len(vals) > 0 {
		part := vals
		if len(part) > 500 {
			part = part[:500]
		}
		vals = vals[len(part):]
		rows, err := tx.QueryContext(ctx, `SELECT `+contribColumns+` FROM rpt_contrib WHERE id IN (`+placeholders(len(part))+`)`, part...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			c, err := scanContrib(rows)
			if err != nil {
				rows.Close()
				return nil, err
			}
			out = append(out, c)
		}
		if err := rows.Close(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// loadVdays returns, for every volunteer with a change, all its rpt_vdays rows.
func loadVdays(ctx context.Context, tx *Tx, delta map[vdayKey][2]int64) (map[int64]map[vdayKey][2]int64, error) {
	out := map[int64]map[vdayKey][2]int64{}
	for k, d := range delta {
		if d != [2]int64{} {
			out[k.volunteer] = nil
		}
	}
	st, err := tx.stmt(ctx, `SELECT day, hamlet_id, team_id, n, n_approved FROM rpt_vdays WHERE volunteer_id = ?`)
	if err != nil {
		return nil, err
	}
	for v := range out {
		rows, err := st.QueryContext(ctx, v)
		if err != nil {
			return nil, err
		}
		m := map[vdayKey][2]int64{}
		for rows.Next() {
			var (
				k   = vdayKey{volunteer: v}
				day int64
				n   [2]int64
			)
			if err := rows.Scan(&day, &k.hamlet, &k.team, &n[0], &n[1]); err != nil {
				rows.Close()
				return nil, err
			}
			k.day = report.Day(day)
			m[k] = n
		}
		if err := rows.Close(); err != nil {
			return nil, err
		}
		out[v] = m
	}
	return out, nil
}

// loadPaths reads the paths of the hamlets and of the teams' units.
func (m *maint) loadPaths(hamlets, teams map[int64]bool) error {
	var tids []any
	for t := range teams {
		if _, ok := m.teamUP[t]; !ok {
			tids = append(tids, t)
		}
	}
	if len(tids) > 0 {
		rows, err := m.tx.QueryContext(m.ctx, `SELECT id, unit_id FROM teams WHERE id IN (`+placeholders(len(tids))+`)`, tids...)
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
		if err := rows.Close(); err != nil {
			return err
		}
	}
	var uids []any
	for u := range hamlets {
		if _, ok := m.paths[u]; !ok {
			uids = append(uids, u)
		}
	}
	if len(uids) > 0 {
		rows, err := m.tx.QueryContext(m.ctx, `SELECT id, path FROM units WHERE id IN (`+placeholders(len(uids))+`)`, uids...)
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
		if err := rows.Close(); err != nil {
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

func (m *maint) delta(period int32, key string) *report.Delta {
	id := cellID{period, key}
	d := m.cells[id]
	if d == nil {
		d = &report.Delta{}
		m.cells[id] = d
	}
	return d
}

// pair records a change of a pair count in the cells that count it.
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

// unitKeys returns the keys of a hamlet's unit and of every unit above it.
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

// presences lists where and when a person (withTeams) or a household was reached by rows.
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

// volunteers updates rpt_vdays and the pairs of the volunteers it changes: their presence
// in each unit above the hamlets they worked in, and their active days in their team.
func (m *maint) volunteers(rows map[int64]map[vdayKey][2]int64, delta map[vdayKey][2]int64) error {
	up, err := m.tx.stmt(m.ctx, `INSERT INTO rpt_vdays (volunteer_id, day, hamlet_id, team_id, n, n_approved) VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (volunteer_id, day, hamlet_id, team_id) DO UPDATE SET n = excluded.n, n_approved = excluded.n_approved`)
	if err != nil {
		return err
	}
	del, err := m.tx.stmt(m.ctx, `DELETE FROM rpt_vdays WHERE volunteer_id = ? AND day = ? AND hamlet_id = ? AND team_id = ?`)
	if err != nil {
		return err
	}
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
		// Active days within each team: each day is its own member, so a day that starts
		// or stops being active adds or removes the pair (day, 0).
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
		for _, k := range keys {
			n := next[k]
			if n[0] == 0 {
				if _, err := del.ExecContext(m.ctx, v, int64(k.day), k.hamlet, k.team); err != nil {
					return err
				}
				continue
			}
			if _, err := up.ExecContext(m.ctx, v, int64(k.day), k.hamlet, k.team, n[0], n[1]); err != nil {
				return err
			}
		}
	}
	return nil
}

// teamDays updates rpt_tdays and the teams' active days.
func (m *maint) teamDays(delta map[tdayKey]int64) error {
	get, err := m.tx.stmt(m.ctx, `SELECT n FROM rpt_tdays WHERE team_id = ? AND day = ?`)
	if err != nil {
		return err
	}
	for k, d := range delta {
		if d == 0 {
			continue
		}
		var n int64
		if err := get.QueryRowContext(m.ctx, k.team, int64(k.day)).Scan(&n); err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		next := n + d
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
			_, err = m.tx.ExecContext(m.ctx, `DELETE FROM rpt_tdays WHERE team_id = ? AND day = ?`, k.team, int64(k.day))
		} else {
			_, err = m.tx.ExecContext(m.ctx, `INSERT INTO rpt_tdays (team_id, day, n) VALUES (?, ?, ?)
				ON CONFLICT (team_id, day) DO UPDATE SET n = excluded.n`, k.team, int64(k.day), next)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (m *maint) writeContribs(changed [][16]byte, before, after map[[16]byte]*contrib) error {
	var dels, puts []any
	for _, id := range changed {
		c := after[id]
		if c == nil {
			if before[id] != nil {
				dels = append(dels, id[:])
			}
			continue
		}
		var person, household any
		if c.person != "" {
			person = []byte(c.person)
		}
		if c.household != "" {
			household = []byte(c.household)
		}
		puts = append(puts, id[:], c.hamlet, c.team, c.volunteer, int64(c.day), c.ms, c.kind, c.counted,
			c.approved, c.attendees, person, household)
	}
	if err := m.execRows(`DELETE FROM rpt_contrib WHERE id IN (`, `?`, `)`, 1, dels); err != nil {
		return err
	}
	return m.execRows(`INSERT OR REPLACE INTO rpt_contrib (`+contribColumns+`) VALUES `, `(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, ``, 12, puts)
}

// execRows runs a statement of many rows — head, then row (with width placeholders)
// repeated and comma separated, then tail — over args, up to 100 rows a statement:
// one statement instead of one per row.
func (m *maint) execRows(head, row, tail string, width int, args []any) error {
	const per = 100
	for len(args) > 0 {
		n := min(len(args)/width, per)
		st, err := m.tx.stmt(m.ctx, head+strings.TrimSuffix(strings.Repeat(row+",", n), ",")+tail)
		if err != nil {
			return err
		}
		if _, err := st.ExecContext(m.ctx, args[:n*width]...); err != nil {
			return err
		}
		args = args[n*width:]
	}
	return nil
}

// writeCells applies the gathered deltas to their cells: one read of all of them, then
// the new values written and the emptied ones deleted, many rows a statement.
func (m *maint) writeCells() error {
	ids := make([]cellID, 0, len(m.cells))
	for id, d := range m.cells {
		if !d.Empty() {
			ids = append(ids, id)
		}
	}
	sort.Slice(ids, func(i, j int) bool {
		if ids[i].period != ids[j].period {
			return ids[i].period < ids[j].period
		}
		return ids[i].key < ids[j].key
	})
	cur := make(map[cellID][]byte, len(ids))
	for i := 0; i < len(ids); i += 100 {
		part := ids[i:min(i+100, len(ids))]
		args := make([]any, 0, 2*len(part))
		for _, id := range part {
			args = append(args, id.period, id.key)
		}
		st, err := m.tx.stmt(m.ctx, `SELECT period, key, data FROM rpt_cells WHERE (period, key) IN (VALUES `+
			strings.TrimSuffix(strings.Repeat("(?, ?),", len(part)), ",")+`)`)
		if err != nil {
			return err
		}
		rows, err := st.QueryContext(m.ctx, args...)
		if err != nil {
			return err
		}
		for rows.Next() {
			var (
				id   cellID
				data []byte
			)
			if err := rows.Scan(&id.period, &id.key, &data); err != nil {
				rows.Close()
				return err
			}
			cur[id] = data
		}
		if err := rows.Close(); err != nil {
			return err
		}
	}
	var puts, dels []any
	for _, id := range ids {
		var c report.Cell
		if data, ok := cur[id]; ok {
			var err error
			if c, err = report.DecodeCell(data); err != nil {
				return fmt.Errorf("cell %d %s: %w", id.period, id.key, err)
			}
		}
		if err := c.Apply(m.cells[id]); err != nil {
			return fmt.Errorf("cell %d %s: %w", id.period, id.key, err)
		}
		if c.Empty() {
			dels = append(dels, id.period, id.key)
		} else {
			puts = append(puts, id.period, id.key, c.Encode())
		}
	}
	if err := m.execRows(`DELETE FROM rpt_cells WHERE (period, key) IN (VALUES `, `(?, ?)`, `)`, 2, dels); err != nil {
		return err
	}
	if err := m.execRows(`INSERT INTO rpt_cells (period, key, data) VALUES `, `(?, ?, ?)`,
		` ON CONFLICT (period, key) DO UPDATE SET data = excluded.data`, 3, puts); err != nil {
		return err
	}
	// Remember the paths the keys were built with.
	args := make([]any, 0, 2*len(m.paths))
	for u, p := range m.paths {
		args = append(args, u, p)
	}
	if len(args) == 0 {
		return nil
	}
	return m.execRows(`INSERT INTO rpt_paths (unit_id, path) VALUES `, `(?, ?)`, ` ON CONFLICT (unit_id) DO NOTHING`, 2, args)
}

// rebuildReports recomputes every aggregate from the logs, in tx. It runs the same
// maintenance as Save, a chunk of logs at a time, starting from empty tables.
func rebuildReports(ctx context.Context, tx *Tx) error {
	for _, t := range []string{"rpt_contrib", "rpt_vdays", "rpt_tdays", "rpt_cells", "rpt_paths"} {
		if _, err := tx.ExecContext(ctx, `DELETE FROM `+t); err != nil {
			return err
		}
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM meta WHERE key IN ('rpt_state', 'rpt_format', 'rpt_units_seq')`); err != nil {
		return err
	}
	if _, err := reportsReady(ctx, tx); err != nil {
		return err
	}
	last := ""
	for {
		rows, err := tx.QueryContext(ctx, `SELECT `+logColumns+` FROM logs WHERE id > ? AND complete = 1 AND deleted = 0
			AND status IN ('pending', 'approved') ORDER BY id LIMIT 2000`, last)
		if err != nil {
			return err
		}
		logs := map[string]*merge.Log{}
		for rows.Next() {
			var r logRow
			if err := r.scan(rows); err != nil {
				rows.Close()
				return err
			}
			l := r.l
			logs[l.ID] = &l
			if l.ID > last {
				last = l.ID
			}
		}
		if err := rows.Close(); err != nil {
			return err
		}
		if len(logs) == 0 {
			return nil
		}
		if err := applyContribs(ctx, tx, logs, nil); err != nil {
			return err
		}
	}
}

// RebuildReports recomputes the report aggregates from the logs, in one write
// transaction (pushes wait meanwhile). Reports call it themselves when the aggregates
// are stale (a database from before migration 2, or a unit moved since they were built).
func (db *DB) RebuildReports(ctx context.Context) error {
	return db.Write(ctx, 0, func(tx *Tx) error { return rebuildReports(ctx, tx) })
}

// EnsureReports rebuilds the report aggregates if they are stale, and otherwise does
// nothing. The server calls it at start, so the first report after an upgrade is fast.
func (db *DB) EnsureReports(ctx context.Context) error {
	var state, format, unitsSeq sql.NullString
	var maxSeq sql.NullInt64
	if err := db.read.QueryRowContext(ctx, reportStateQuery).Scan(&state, &format, &unitsSeq, &maxSeq); err != nil {
		return err
	}
	if state.String != "stale" && format.String == reportsFormat && unitsSeq.String == strconv.FormatInt(maxSeq.Int64, 10) {
		return nil
	}
	return db.Write(ctx, 0, func(tx *Tx) error {
		ok, err := reportsReady(ctx, tx)
		if err != nil || ok {
			return err
		}
		return rebuildReports(ctx, tx)
	})
}

// keyTeam splits a team or member cell key ("t/1/20/t7/" or "t/1/20/t7/v12/") into its
// team and volunteer (0 for a team's own cell).
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
