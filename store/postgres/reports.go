package postgres

import (
	"context"
	"errors"
	"sort"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cdtsync/cdtsync/report"
	"github.com/cdtsync/cdtsync/schema"
)

// Coverage and team reports, read from the cells that reports_maint.go keeps up to date:
// a report reads one cell per group and month of its period (plus day cells for the ends
// of a period that are not whole months), never a log.

// reportStart checks the caller and the filter: coordinators, officers and admins only
// (CodeForbidden), a unit in the caller's subtree (CodeNotFound otherwise, as if it did
// not exist), and a period of at most schema.MaxReportDays (CodeInvalid). It returns the
// report's unit and period; an empty period is the current year up to today.
func (db *DB) reportStart(ctx context.Context, a schema.Actor, f schema.ReportFilter) (schema.Unit, report.Day, report.Day, error) {
	sc, err := scopeOf(a)
	if err != nil {
		return schema.Unit{}, 0, 0, err
	}
	if err := requireRole(a, schema.RoleCoordinator, schema.RoleOfficer, schema.RoleAdmin); err != nil {
		return schema.Unit{}, 0, 0, err
	}
	id := a.UnitID
	if f.Unit != nil {
		id = *f.Unit
	}
	u, err := unitInScope(ctx, db.pool, &sc, id)
	if err != nil {
		return schema.Unit{}, 0, 0, err
	}
	today := report.DayOfTime(db.Now())
	from, to := report.Day(int32(today)/10000*10000+101), today
	if f.From != "" {
		if from, err = report.ParseDay(f.From); err != nil {
			return u, 0, 0, schema.Errorf(schema.CodeInvalid, "from phải có dạng YYYY-MM-DD / from must be YYYY-MM-DD")
		}
	}
	if f.To != "" {
		if to, err = report.ParseDay(f.To); err != nil {
			return u, 0, 0, schema.Errorf(schema.CodeInvalid, "to phải có dạng YYYY-MM-DD / to must be YYYY-MM-DD")
		}
	}
	if from > to {
		return u, 0, 0, schema.Errorf(schema.CodeInvalid, "Từ ngày phải trước hoặc bằng đến ngày / from must not be after to")
	}
	if report.Days(from, to) > schema.MaxReportDays {
		return u, 0, 0, schema.Errorf(schema.CodeInvalid, "Kỳ báo cáo tối đa %d ngày / a report period is at most %d days",
			schema.MaxReportDays, schema.MaxReportDays)
	}
	if err := db.EnsureReports(ctx); err != nil {
		return u, 0, 0, err
	}
	return u, from, to, nil
}

func reportKinds(ctx context.Context, tx querier) ([]schema.Kind, error) {
	m, err := queryKinds(ctx, tx)
	if err != nil {
		return nil, err
	}
	out := make([]schema.Kind, 0, len(m))
	for _, k := range m {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Sort != out[j].Sort {
			return out[i].Sort < out[j].Sort
		}
		return out[i].Code < out[j].Code
	})
	return out, nil
}

// Coverage returns the coverage report of a unit for a period: a row for every hamlet
// under the unit and for every commune, district and province above them up to the unit,
// with people and households reached counted distinct at each level. See
// schema.CoverageReport for the figures and docs/REPORTS.md for the rules.
//
// Coordinators, officers and admins may (CodeForbidden otherwise); a unit outside the
// caller's subtree is CodeNotFound; a bad period CodeInvalid.
func (db *DB) Coverage(ctx context.Context, a schema.Actor, f schema.ReportFilter) (schema.CoverageReport, error) {
	root, from, to, err := db.reportStart(ctx, a, f)
	if err != nil {
		return schema.CoverageReport{}, err
	}
	var out schema.CoverageReport
	err = db.reportRead(ctx, func(tx pgx.Tx) (err error) { // replica.go
		out, err = db.coverageIn(ctx, tx, root, from, to, f)
		return err
	})
	return out, err
}

// coverageIn reads a coverage report in tx's snapshot.
func (db *DB) coverageIn(ctx context.Context, tx pgx.Tx, root schema.Unit, from, to report.Day, f schema.ReportFilter) (schema.CoverageReport, error) {
	var err error
	out := schema.CoverageReport{
		Unit: schema.ReportUnit{ID: root.ID, Level: root.Level, Name: root.Name, Code: root.Code},
		From: from.String(), To: to.String(), ApprovedOnly: f.ApprovedOnly,
		GeneratedAt: time.Now().In(report.Vietnam).Format(time.RFC3339), TargetPeriods: report.TargetPeriods(from, to),
	}
	if db.Now != nil {
		out.GeneratedAt = db.Now().In(report.Vietnam).Format(time.RFC3339)
	}
	if out.Kinds, err = reportKinds(ctx, tx); err != nil {
		return out, err
	}
	// The units of the subtree.
	sc := scopeOfPath(root.Path)
	tree, err := subtreeUnits(ctx, tx, db, root.Path)
	if err != nil {
		return out, err
	}
	units := tree.units
	figs := make(map[string]*report.Figures, len(units))
	for p := range units {
		figs[p] = &report.Figures{}
	}
	v := report.All
	if f.ApprovedOnly {
		v = report.Approved
	}
	err = readCells(ctx, tx, unitKey(sc.lo), unitKey(sc.hi), from, to, func(key string, data []byte, r report.CellRead) error {
		path := key[1:]
		u := units[path]
		if u == nil {
			return nil
		}
		return figs[path].AddCell(data, r, v, from, u.Level == schema.LevelHamlet)
	})
	if err != nil {
		return out, err
	}
	// Last activity of each active hamlet, then sums and last activity up the tree.
	lo, hi := from.StartMS(), to.Next().StartMS()
	paths := tree.paths
	for _, p := range paths {
		u := units[p]
		if u.Level != schema.LevelHamlet || !figs[p].Active() {
			continue
		}
		var ms int64
		if err := tx.QueryRow(ctx, lastActivityQuery(f.ApprovedOnly), u.ID, lo, hi).Scan(&ms); err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return out, err
		}
		figs[p].LastMS = ms
		for _, anc := range ancestorPaths(p) {
			if anc != p && len(anc) >= len(root.Path) {
				if af := figs[anc]; af != nil {
					af.AddFigures(figs[p])
				}
			}
		}
	}
	targets, err := coverageTargets(ctx, tx, sc, out.TargetPeriods)
	if err != nil {
		return out, err
	}
	out.Levels = report.CoverageLevels(root, units, paths, tree.order, figs, targets)
	return out, nil
}

func lastActivityQuery(approvedOnly bool) string {
	if approvedOnly {
		return `SELECT ms FROM rpt_contrib WHERE hamlet_id = $1 AND approved AND ms >= $2 AND ms < $3 ORDER BY ms DESC LIMIT 1`
	}
	return `SELECT ms FROM rpt_contrib WHERE hamlet_id = $1 AND ms >= $2 AND ms < $3 ORDER BY ms DESC LIMIT 1`
}

// coverageTargets returns, per unit of the subtree, the targets that apply: for each
// metric the newest version of the first of periods that has one.
func coverageTargets(ctx context.Context, tx querier, sc scope, periods []string) (map[int64][]schema.TargetFigure, error) {
	out := map[int64][]schema.TargetFigure{}
	if len(periods) == 0 {
		return out, nil
	}
	rows, err := tx.Query(ctx, `SELECT t.unit_id, t.metric, t.period, t.value, t.version
		FROM targets t JOIN units u ON u.id = t.unit_id
		WHERE u.path >= $1 AND u.path < $2 AND t.period = ANY($3::text[])
		AND t.version = (SELECT max(version) FROM targets t2 WHERE t2.unit_id = t.unit_id AND t2.metric = t.metric AND t2.period = t.period)`,
		sc.lo, sc.hi, periods)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	rank := map[string]int{}
	for i, p := range periods {
		rank[p] = i
	}
	type um struct {
		unit   int64
		metric string
	}
	best := map[um]schema.TargetFigure{}
	for rows.Next() {
		var (
			t    schema.TargetFigure
			unit int64
		)
		if err := rows.Scan(&unit, &t.Metric, &t.Period, &t.Value, &t.Version); err != nil {
			return nil, err
		}
		k := um{unit, t.Metric}
		if b, ok := best[k]; !ok || rank[t.Period] < rank[b.Period] {
			best[k] = t
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for k, t := range best {
		out[k.unit] = append(out[k.unit], t)
	}
	for _, ts := range out {
		sort.Slice(ts, func(i, j int) bool { return report.MetricOrder(ts[i].Metric) < report.MetricOrder(ts[j].Metric) })
	}
	return out, nil
}

// TeamOutput returns the output of the teams of a unit's subtree for a period, and of
// each of their volunteers. Rules, roles and errors as for Coverage.
func (db *DB) TeamOutput(ctx context.Context, a schema.Actor, f schema.ReportFilter) (schema.TeamReport, error) {
	root, from, to, err := db.reportStart(ctx, a, f)
	if err != nil {
		return schema.TeamReport{}, err
	}
	var out schema.TeamReport
	err = db.reportRead(ctx, func(tx pgx.Tx) (err error) { // replica.go
		out, err = db.teamOutputIn(ctx, tx, root, from, to)
		return err
	})
	return out, err
}

// teamOutputIn reads a team output report in tx's snapshot.
func (db *DB) teamOutputIn(ctx context.Context, tx pgx.Tx, root schema.Unit, from, to report.Day) (schema.TeamReport, error) {
	var err error
	out := schema.TeamReport{
		Unit: schema.ReportUnit{ID: root.ID, Level: root.Level, Name: root.Name, Code: root.Code},
		From: from.String(), To: to.String(), GeneratedAt: db.Now().In(report.Vietnam).Format(time.RFC3339),
		Teams: []schema.TeamOutput{},
	}
	if out.Kinds, err = reportKinds(ctx, tx); err != nil {
		return out, err
	}
	sc := scopeOfPath(root.Path)
	type teamAcc struct {
		t       schema.TeamOutput
		fig     report.Figures
		members map[int64]*report.Figures
	}
	teams := map[int64]*teamAcc{}
	rows, err := tx.Query(ctx, `SELECT t.id, t.name, t.unit_id, u.name FROM teams t JOIN units u ON u.id = t.unit_id
		WHERE u.path >= $1 AND u.path < $2`, sc.lo, sc.hi)
	if err != nil {
		return out, err
	}
	for rows.Next() {
		ta := &teamAcc{members: map[int64]*report.Figures{}}
		if err := rows.Scan(&ta.t.TeamID, &ta.t.Name, &ta.t.UnitID, &ta.t.UnitName); err != nil {
			rows.Close()
			return out, err
		}
		teams[ta.t.TeamID] = ta
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return out, err
	}
	// Current members, active or not.
	names := map[int64]string{}
	revoked := map[int64]bool{}
	rows, err = tx.Query(ctx, `SELECT us.id, us.display_name, us.team_id, us.revoked_at IS NOT NULL FROM users us
		JOIN teams t ON t.id = us.team_id JOIN units u ON u.id = t.unit_id
		WHERE us.role = 'volunteer' AND u.path >= $1 AND u.path < $2`, sc.lo, sc.hi)
	if err != nil {
		return out, err
	}
	for rows.Next() {
		var (
			id, team int64
			name     string
			rev      bool
		)
		if err := rows.Scan(&id, &name, &team, &rev); err != nil {
			rows.Close()
			return out, err
		}
		names[id], revoked[id] = name, rev
		if ta := teams[team]; ta != nil && !rev {
			ta.members[id] = &report.Figures{}
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return out, err
	}
	err = readCells(ctx, tx, "t"+sc.lo, "t"+sc.hi, from, to, func(key string, data []byte, r report.CellRead) error {
		team, vol, ok := keyTeam(key)
		ta := teams[team]
		if !ok || ta == nil {
			return nil
		}
		if vol == 0 {
			return ta.fig.AddCell(data, r, report.All, from, false)
		}
		mf := ta.members[vol]
		if mf == nil {
			mf = &report.Figures{}
			ta.members[vol] = mf
		}
		return mf.AddCell(data, r, report.All, from, true)
	})
	if err != nil {
		return out, err
	}
	const lastQuery = `SELECT ms FROM rpt_contrib WHERE team_id = $1 AND volunteer_id = $2 AND ms >= $3 AND ms < $4
		ORDER BY ms DESC LIMIT 1`
	lo, hi := from.StartMS(), to.Next().StartMS()
	for _, ta := range teams {
		var vols []schema.VolunteerOutput
		for id, mf := range ta.members {
			if mf.Active() {
				if err := tx.QueryRow(ctx, lastQuery, ta.t.TeamID, id, lo, hi).Scan(&mf.LastMS); err != nil && !errors.Is(err, pgx.ErrNoRows) {
					return out, err
				}
				ta.fig.AddFigures(mf)
				ta.t.ActiveVolunteers++
			} else if revoked[id] {
				continue
			}
			if _, ok := names[id]; !ok {
				var n string
				if err := tx.QueryRow(ctx, `SELECT display_name FROM users WHERE id = $1`, id).Scan(&n); err != nil {
					return out, err
				}
				names[id] = n
			}
			vols = append(vols, schema.VolunteerOutput{VolunteerID: id, Name: names[id], Revoked: revoked[id], OutputFigures: mf.Output()})
		}
		// Namesakes in id order (the members come from a map).
		sort.Slice(vols, func(i, j int) bool { return vols[i].VolunteerID < vols[j].VolunteerID })
		schema.SortByName(vols, func(v schema.VolunteerOutput) string { return v.Name })
		if vols == nil {
			vols = []schema.VolunteerOutput{}
		}
		ta.t.OutputFigures = ta.fig.Output()
		ta.t.Volunteers = vols
		out.Teams = append(out.Teams, ta.t)
	}
	sort.Slice(out.Teams, func(i, j int) bool { return out.Teams[i].TeamID < out.Teams[j].TeamID })
	schema.SortByName(out.Teams, func(t schema.TeamOutput) string { return t.UnitName + "\x00" + t.Name })
	return out, nil
}

// unitTree is a subtree's units, read once and kept while no unit changes: a province
// report would otherwise spend a good part of its time reading and ordering 1,600 units.
type unitTree struct {
	units map[string]*schema.Unit // by path; shared, read only
	paths []string                // sorted
	order map[int64]int           // report.TreeOrder
}

var unitTrees struct {
	sync.Mutex
	m map[*DB]map[string]unitTreeEntry
}

type unitTreeEntry struct {
	seq  int64
	tree *unitTree
}

// subtreeUnits returns the units of the subtree at path, as of tx's snapshot.
func subtreeUnits(ctx context.Context, tx querier, db *DB, path string) (*unitTree, error) {
	var seq *int64
	if err := tx.QueryRow(ctx, `SELECT max(seq) FROM units`).Scan(&seq); err != nil {
		return nil, err
	}
	unitTrees.Lock()
	e, ok := unitTrees.m[db][path]
	unitTrees.Unlock()
	if ok && e.seq == deref(seq) {
		return e.tree, nil
	}
	sc := scopeOfPath(path)
	rows, err := tx.Query(ctx, `SELECT `+unitColumns+` FROM units WHERE path >= $1 AND path < $2`, sc.lo, sc.hi)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	t := &unitTree{units: map[string]*schema.Unit{}}
	for rows.Next() {
		u, err := scanUnit(rows)
		if err != nil {
			return nil, err
		}
		t.units[u.Path] = &u
		t.paths = append(t.paths, u.Path)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	sort.Strings(t.paths)
	t.order = report.TreeOrder(t.units)
	unitTrees.Lock()
	defer unitTrees.Unlock()
	if unitTrees.m == nil {
		unitTrees.m = map[*DB]map[string]unitTreeEntry{}
	}
	if len(unitTrees.m) > 16 { // databases opened and closed (tests): start afresh
		unitTrees.m = map[*DB]map[string]unitTreeEntry{}
	}
	if unitTrees.m[db] == nil || len(unitTrees.m[db]) > 64 {
		unitTrees.m[db] = map[string]unitTreeEntry{}
	}
	unitTrees.m[db][path] = unitTreeEntry{deref(seq), t}
	return t, nil
}
