package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"strings"

	"github.com/cdtsync/cdtsync/schema"
	"github.com/cdtsync/cdtsync/schema/unitfile"
)

// UnitImport is what ImportUnits applies: one parsed unit file and, optionally, hamlet
// placements, applied after the file.
type UnitImport struct {
	File       *unitfile.File       // a code list, the 2025-07-01 mapping, hamlets or placements; may be nil with Placements
	Placements []unitfile.Placement // where hamlets of split communes go (a placement CSV)
	// PlacementFile names the placement CSV in messages.
	PlacementFile string
	// DryRun computes the report and changes nothing.
	DryRun bool
}

// ImportReport says what an import changed, level by level.
type ImportReport struct {
	Kind      unitfile.Kind
	CodeList  string // the code list imported (lists, the mapping's new list)
	Effective string // the date it took effect

	Provinces, Districts, Communes, Hamlets ImportCounts

	// Placed counts hamlets moved by placement rows (also in Hamlets.Moved).
	Placed int
	// NeedPlacement lists the hamlets still hanging under an ended commune: its commune
	// was split (partial links in the mapping), ended without a mapping, or its new
	// commune is not in the current list. Only a placement CSV moves them.
	NeedPlacement []PendingHamlet
	// UsersOnEnded and TeamsOnEnded count accounts (not revoked) and teams still attached
	// to ended units: an admin should attach them to current ones.
	UsersOnEnded, TeamsOnEnded int

	DryRun bool
}

// ImportCounts are the changes at one level. Every unit the file names is created,
// updated or unchanged; Moved (units given a new parent, also counted as updated) and
// Ended (units the import ended) count the import's effects beyond the file's rows.
type ImportCounts struct {
	Created, Updated, Unchanged, Ended, Moved int
}

func (c *ImportCounts) add(o ImportCounts) {
	c.Created += o.Created
	c.Updated += o.Updated
	c.Unchanged += o.Unchanged
	c.Ended += o.Ended
	c.Moved += o.Moved
}

// Total sums the four levels.
func (r ImportReport) Total() ImportCounts {
	var t ImportCounts
	for _, c := range []ImportCounts{r.Provinces, r.Districts, r.Communes, r.Hamlets} {
		t.add(c)
	}
	return t
}

// Changed reports whether the import changed anything.
func (r ImportReport) Changed() bool {
	t := r.Total()
	return t.Created+t.Updated+t.Ended+t.Moved > 0
}

// Why a hamlet needs placing.
const (
	PendingSplit         = "split"          // its old commune was split between new communes
	PendingNotInMapping  = "not_in_mapping" // its old commune is not in the mapping
	PendingNoDestination = "no_destination" // its new commune is not in the deployment's current list
	PendingEnded         = "ended"          // its commune ended (absent from a newer list)
)

// PendingHamlet is a hamlet under an ended commune that no rule could place.
type PendingHamlet struct {
	HamletID        int64
	Hamlet          string
	CommuneID       int64
	Commune         string
	CommuneCode     string
	CommuneCodeList string
	CommuneEnded    string // YYYY-MM-DD
	Reason          string // PendingSplit, PendingNotInMapping, PendingNoDestination or PendingEnded
	// Candidates are the new communes the mapping links the old one to.
	Candidates []Candidate
}

// Candidate is a new commune a hamlet may go under.
type Candidate struct {
	ID       int64 // 0 if the deployment does not have it
	Code     string
	CodeList string
	Name     string
}

var errDryRun = errors.New("dry run")

// ImportUnits applies a unit file to the deployment in one transaction and reports what
// changed. It is idempotent: importing the same file again changes nothing (no row, no
// change sequence number). Provinces, districts and communes are keyed by code system,
// level and GSO code (see unitfile.CodeSystem), hamlets by their home commune and name.
//
//   - A code list creates its units (valid_from: the list's date), updates names and
//     types, moves units whose parent changed, and ends (valid_to: the list's date) the
//     units of its code system and levels that it no longer has. An older list than
//     one already imported is refused (CodeConflict), and so is a list of the other
//     code system while that system's units are current: from a three-tier list, go to
//     the two-tier one through the 2025-07-01 mapping.
//   - The 2025-07-01 mapping creates the new provinces and communes, ends every old
//     province, district and commune on 2025-07-01, and moves the hamlets of each old
//     commune that went wholly into one new commune under it: a hamlet keeps its id (its
//     activity stays its own), gets a new path and change sequence number, and the move
//     is recorded in unit_moves. Hamlets of split communes stay where they are and are
//     listed in NeedPlacement; nothing guesses where they went.
//   - A hamlet file creates or updates hamlets under the communes its rows name; an
//     existing hamlet is never moved by it. A row whose commune is unknown, ended, or
//     named differently from the unit its code names is an error (unitfile.Errors, with
//     line numbers) and nothing is imported.
//   - Placements move the hamlets they name under the new commune they give.
//
// A bad file is a CodeInvalid or unitfile.Errors error; a storage failure fails the
// whole import; nothing is half-applied. The import holds the writer for its duration
// (about a second for 10,000 communes).
func (db *DB) ImportUnits(ctx context.Context, in UnitImport) (ImportReport, error) {
	var rep ImportReport
	if in.File == nil && len(in.Placements) == 0 {
		return rep, schema.Errorf(schema.CodeInvalid, "Không có gì để nhập / nothing to import")
	}
	err := db.Write(ctx, 0, func(tx *Tx) error {
		rep = ImportReport{DryRun: in.DryRun}
		im, err := newImporter(ctx, tx, &rep)
		if err != nil {
			return err
		}
		defer im.close()
		if f := in.File; f != nil {
			rep.Kind, rep.CodeList, rep.Effective = f.Kind, f.CodeList, f.Effective
			switch f.Kind {
			case unitfile.KindThreeTier, unitfile.KindTwoTier:
				err = im.importList(f)
			case unitfile.KindMapping:
				err = im.importMapping(f)
			case unitfile.KindHamlets:
				err = im.importHamlets(f)
			case unitfile.KindPlacement:
				err = im.place(f.Placements, f.Path)
			default:
				err = schema.Errorf(schema.CodeInvalid, "Định dạng %q không nhập được / cannot import format %q", f.Kind, f.Kind)
			}
			if err != nil {
				return err
			}
		}
		if len(in.Placements) > 0 {
			if rep.Kind == "" {
				rep.Kind = unitfile.KindPlacement
			}
			if err := im.place(in.Placements, in.PlacementFile); err != nil {
				return err
			}
		}
		if err := im.flush(); err != nil {
			return err
		}
		if err := im.report(); err != nil {
			return err
		}
		if in.DryRun {
			return errDryRun
		}
		return nil
	})
	if errors.Is(err, errDryRun) {
		err = nil
	}
	return rep, err
}

// urow is a unit as the importer holds it in memory.
type urow struct {
	id, parent                                             int64
	level, typ, code, codeList, origin, name, nameEN, path string
	hh, adults                                             *int64
	from, to                                               string
	generated, figGen                                      bool
	dirty                                                  bool // a column changed
	repathed                                               bool // parent and path changed (indexed columns)
}

func (r *urow) current() bool { return r.to == "" }

type moveRec struct {
	oldParent, newParent int64
	on                   string
}

// pendingWhy is what the mapping says about an old unit whose hamlets it cannot place.
type pendingWhy struct {
	reason     string
	candidates []Candidate
}

// importer is one import: every unit of the deployment in memory (tens of thousands of
// rows at most), changes made in memory and written once, with prepared statements.
type importer struct {
	ctx context.Context
	tx  *Tx
	rep *ImportReport

	rows     map[int64]*urow
	byOrigin map[string]*urow
	children map[int64][]*urow
	created  map[int64]bool
	moves    map[int64][]moveRec // unit id → its moves, oldest first
	why      map[int64]pendingWhy
	nextID   int64
	today    string

	insert, move *sql.Stmt
}

func newImporter(ctx context.Context, tx *Tx, rep *ImportReport) (*importer, error) {
	im := &importer{ctx: ctx, tx: tx, rep: rep, rows: map[int64]*urow{}, byOrigin: map[string]*urow{},
		children: map[int64][]*urow{}, created: map[int64]bool{}, moves: map[int64][]moveRec{}, why: map[int64]pendingWhy{},
		today: vietnamDate(tx.Now)}
	rows, err := tx.QueryContext(ctx, `SELECT id, COALESCE(parent_id, 0), level, unit_type, COALESCE(code, ''),
		COALESCE(code_list, ''), origin, name, name_en, path, households, adults, COALESCE(valid_from, ''),
		COALESCE(valid_to, ''), generated, figures_generated FROM units ORDER BY id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		r := &urow{}
		var hh, ad sql.NullInt64
		if err := rows.Scan(&r.id, &r.parent, &r.level, &r.typ, &r.code, &r.codeList, &r.origin, &r.name, &r.nameEN,
			&r.path, &hh, &ad, &r.from, &r.to, &r.generated, &r.figGen); err != nil {
			return nil, err
		}
		if hh.Valid {
			r.hh = &hh.Int64
		}
		if ad.Valid {
			r.adults = &ad.Int64
		}
		im.rows[r.id] = r
		im.byOrigin[r.origin] = r
		if r.parent != 0 {
			im.children[r.parent] = append(im.children[r.parent], r)
		}
		im.nextID = max(im.nextID, r.id)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	mrows, err := tx.QueryContext(ctx, `SELECT unit_id, old_parent, new_parent, moved_on FROM unit_moves ORDER BY unit_id, moved_on`)
	if err != nil {
		return nil, err
	}
	defer mrows.Close()
	for mrows.Next() {
		var id int64
		var m moveRec
		if err := mrows.Scan(&id, &m.oldParent, &m.newParent, &m.on); err != nil {
			return nil, err
		}
		im.moves[id] = append(im.moves[id], m)
	}
	if err := mrows.Err(); err != nil {
		return nil, err
	}
	if im.insert, err = tx.PrepareContext(ctx, `INSERT INTO units (id, parent_id, level, unit_type, code, code_list, origin,
		name, name_en, path, households, adults, valid_from, valid_to, generated, figures_generated, seq)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`); err != nil {
		return nil, err
	}
	// A second placement of a hamlet on the same day corrects the first: the move keeps
	// where the hamlet came from and takes the new destination.
	if im.move, err = tx.PrepareContext(ctx, `INSERT INTO unit_moves (unit_id, old_parent, new_parent, moved_on, source)
		VALUES (?, ?, ?, ?, ?) ON CONFLICT (unit_id, moved_on) DO UPDATE SET new_parent = excluded.new_parent, source = excluded.source`); err != nil {
		im.insert.Close()
		return nil, err
	}
	return im, nil
}

func (im *importer) close() {
	im.insert.Close()
	im.move.Close()
}

func (im *importer) counts(level string) *ImportCounts {
	switch level {
	case schema.LevelProvince:
		return &im.rep.Provinces
	case schema.LevelDistrict:
		return &im.rep.Districts
	case schema.LevelCommune:
		return &im.rep.Communes
	}
	return &im.rep.Hamlets
}

func nullID(id int64) any {
	if id == 0 {
		return nil
	}
	return id
}

// create inserts r under r.parent with a new id and change sequence number.
func (im *importer) create(r *urow) error {
	im.nextID++
	r.id = im.nextID
	parentPath := "/"
	if r.parent != 0 {
		parentPath = im.rows[r.parent].path
	}
	r.path = fmt.Sprintf("%s%d/", parentPath, r.id)
	var code, list any
	if r.code != "" {
		code, list = r.code, r.codeList
	}
	if _, err := im.insert.ExecContext(im.ctx, r.id, nullID(r.parent), r.level, r.typ, code, list, r.origin, r.name, r.nameEN,
		r.path, r.hh, r.adults, nullString(r.from), nullString(r.to), r.generated, r.figGen, im.tx.NextSeq()); err != nil {
		return err
	}
	im.rows[r.id] = r
	im.byOrigin[r.origin] = r
	if r.parent != 0 {
		im.children[r.parent] = append(im.children[r.parent], r)
	}
	im.created[r.id] = true
	im.counts(r.level).Created++
	return nil
}

// setParent moves r (and its subtree) under np, recording the move.
func (im *importer) setParent(r, np *urow, on, source string) error {
	old := r.parent
	kids := im.children[old]
	for i, k := range kids {
		if k == r {
			im.children[old] = append(kids[:i:i], kids[i+1:]...)
			break
		}
	}
	im.children[np.id] = append(im.children[np.id], r)
	r.parent = np.id
	im.repath(r, fmt.Sprintf("%s%d/", np.path, r.id))
	if _, err := im.move.ExecContext(im.ctx, r.id, old, np.id, on, source); err != nil {
		return err
	}
	ms := im.moves[r.id]
	if n := len(ms); n > 0 && ms[n-1].on == on {
		ms[n-1].newParent = np.id
	} else {
		im.moves[r.id] = append(ms, moveRec{oldParent: old, newParent: np.id, on: on})
	}
	return nil
}

// repath gives r and its subtree paths under p. Each gets a new change sequence number
// at flush: a unit that enters someone's scope must reach their next pull.
func (im *importer) repath(r *urow, p string) {
	r.path = p
	r.dirty, r.repathed = true, true
	for _, c := range im.children[r.id] {
		im.repath(c, fmt.Sprintf("%s%d/", p, c.id))
	}
}

func (im *importer) end(r *urow, on string) {
	r.to = on
	r.dirty = true
	im.counts(r.level).Ended++
}

// flush writes every changed row, each with a new change sequence number.
func (im *importer) flush() error {
	var dirty []*urow
	for _, r := range im.rows {
		if r.dirty {
			dirty = append(dirty, r)
		}
	}
	if len(dirty) == 0 {
		return nil
	}
	sort.Slice(dirty, func(i, j int) bool { return dirty[i].id < dirty[j].id })
	// Most changed rows keep their parent (units ended by a reorganisation): their update
	// leaves the indexes on parent_id and path alone.
	moved, err := im.tx.PrepareContext(im.ctx, `UPDATE units SET parent_id = ?, path = ?, unit_type = ?, name = ?, name_en = ?,
		households = ?, adults = ?, valid_to = ?, generated = ?, figures_generated = ?, seq = ? WHERE id = ?`)
	if err != nil {
		return err
	}
	defer moved.Close()
	kept, err := im.tx.PrepareContext(im.ctx, `UPDATE units SET unit_type = ?, name = ?, name_en = ?,
		households = ?, adults = ?, valid_to = ?, generated = ?, figures_generated = ?, seq = ? WHERE id = ?`)
	if err != nil {
		return err
	}
	defer kept.Close()
	for _, r := range dirty {
		args := []any{r.typ, r.name, r.nameEN, r.hh, r.adults, nullString(r.to), r.generated, r.figGen, im.tx.NextSeq(), r.id}
		st := kept
		if r.repathed {
			st, args = moved, append([]any{nullID(r.parent), r.path}, args...)
		}
		if _, err := st.ExecContext(im.ctx, args...); err != nil {
			return err
		}
		r.dirty, r.repathed = false, false
	}
	return nil
}

// report fills in what the import leaves for an admin to do.
func (im *importer) report() error {
	var ids []int64
	for id, r := range im.rows {
		if r.level == schema.LevelHamlet && r.current() && r.parent != 0 && !im.rows[r.parent].current() {
			ids = append(ids, id)
		}
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	im.rep.NeedPlacement = nil
	for _, id := range ids {
		h := im.rows[id]
		p := im.rows[h.parent]
		ph := PendingHamlet{HamletID: h.id, Hamlet: h.name, CommuneID: p.id, Commune: p.name, CommuneCode: p.code,
			CommuneCodeList: p.codeList, CommuneEnded: p.to, Reason: PendingEnded}
		if w, ok := im.why[p.id]; ok {
			ph.Reason, ph.Candidates = w.reason, w.candidates
		}
		im.rep.NeedPlacement = append(im.rep.NeedPlacement, ph)
	}
	q := func(query string) (int, error) {
		var n int
		err := im.tx.QueryRowContext(im.ctx, query).Scan(&n)
		return n, err
	}
	var err error
	if im.rep.UsersOnEnded, err = q(`SELECT COUNT(*) FROM users u JOIN units un ON un.id = u.unit_id
		WHERE un.valid_to IS NOT NULL AND u.revoked_at IS NULL`); err != nil {
		return err
	}
	im.rep.TeamsOnEnded, err = q(`SELECT COUNT(*) FROM teams t JOIN units un ON un.id = t.unit_id WHERE un.valid_to IS NOT NULL`)
	return err
}

// metaValue and setMeta read and write the meta table inside the import.
func (im *importer) metaValue(key string) (string, error) {
	var v string
	err := im.tx.QueryRowContext(im.ctx, `SELECT value FROM meta WHERE key = ?`, key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return v, err
}

func (im *importer) setMeta(key, value string) error {
	_, err := im.tx.ExecContext(im.ctx, `INSERT INTO meta (key, value) VALUES (?, ?)
		ON CONFLICT (key) DO UPDATE SET value = excluded.value WHERE value <> excluded.value`, key, value)
	return err
}

// listKey is the meta key holding the newest code list imported for a code system.
func listKey(system string) string { return "units_list:" + system }

// sortedRows returns the rows matching keep, by id (changes are made in a fixed order).
func (im *importer) sortedRows(keep func(*urow) bool) []*urow {
	var out []*urow
	for _, r := range im.rows {
		if keep(r) {
			out = append(out, r)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].id < out[j].id })
	return out
}

func inSystem(r *urow, system string) bool { return strings.HasPrefix(r.origin, system+"/") }

// upsertAdmin creates the province, district or commune u under parent, or brings the
// existing one up to date: name (unless only its spelling differs, see
// unitfile.NameKey), English name, type, parent; an ended unit that is back in the list
// is current again.
func (im *importer) upsertAdmin(system string, u unitfile.Unit, parent *urow, codeList, effective, source string) (*urow, error) {
	origin := adminOrigin(system, u.Level, u.Code)
	c := im.counts(u.Level)
	r := im.byOrigin[origin]
	if r == nil {
		r = &urow{level: u.Level, typ: u.UnitType, code: u.Code, codeList: codeList, origin: origin, name: u.Name,
			nameEN: u.NameEN, from: effective}
		if parent != nil {
			r.parent = parent.id
		}
		return r, im.create(r)
	}
	changed := false
	if r.name != u.Name && unitfile.NameKey(r.name) != unitfile.NameKey(u.Name) {
		r.name, changed = u.Name, true
	}
	if u.NameEN != "" && r.nameEN != u.NameEN {
		r.nameEN, changed = u.NameEN, true
	}
	if u.UnitType != "" && r.typ != u.UnitType {
		r.typ, changed = u.UnitType, true
	}
	if !r.current() {
		r.to, changed = "", true
	}
	moved := false
	if parent != nil && r.parent != parent.id {
		if err := im.setParent(r, parent, effective, source); err != nil {
			return nil, err
		}
		moved = true
		c.Moved++
	}
	if changed {
		r.dirty = true
	}
	if changed || moved {
		c.Updated++
	} else {
		c.Unchanged++
	}
	return r, nil
}

// importList applies a two- or three-tier code list.
func (im *importer) importList(f *unitfile.File) error {
	system, err := unitfile.CodeSystem(f.CodeList)
	if err != nil {
		return schema.Errorf(schema.CodeInvalid, "%v", err)
	}
	other := unitfile.SystemQD19
	if system == unitfile.SystemQD19 {
		other = unitfile.SystemQD124
	}
	for _, r := range im.rows {
		if r.level != schema.LevelProvince || !r.current() || !inSystem(r, other) {
			continue
		}
		if system == unitfile.SystemQD124 {
			return schema.Errorf(schema.CodeConflict, "Hệ thống đã dùng danh mục từ 01/07/2025; không nhập được danh mục cũ %s / "+
				"the deployment already uses the lists from 2025-07-01; cannot import the older list %s", f.CodeList, f.CodeList)
		}
		return schema.Errorf(schema.CodeConflict, "Hệ thống còn đơn vị theo danh mục trước 01/07/2025: hãy nhập bảng chuyển đổi "+
			"2025-07-01 trước, để chuyển ấp/thôn sang xã/phường mới / the deployment still has units of a list before 2025-07-01: "+
			"import the 2025-07-01 mapping first, so that hamlets move to their new communes")
	}
	latest, err := im.metaValue(listKey(system))
	if err != nil {
		return err
	}
	if latest != "" {
		if d, err := unitfile.CodeListDate(latest); err == nil && d > f.Effective {
			return schema.Errorf(schema.CodeConflict, "Danh mục %s cũ hơn danh mục đã nhập %s / code list %s is older than %s, already imported",
				f.CodeList, latest, f.CodeList, latest)
		}
	}
	source := "list:" + f.CodeList
	seen := map[*urow]bool{}
	provinces := map[string]*urow{}
	districts := map[string]*urow{}
	for _, u := range f.Provinces {
		r, err := im.upsertAdmin(system, u, nil, f.CodeList, f.Effective, source)
		if err != nil {
			return err
		}
		seen[r], provinces[u.Code] = true, r
	}
	for _, u := range f.Districts {
		r, err := im.upsertAdmin(system, u, provinces[u.ParentCode], f.CodeList, f.Effective, source)
		if err != nil {
			return err
		}
		seen[r], districts[u.Code] = true, r
	}
	for _, u := range f.Communes {
		parent := provinces[u.ParentCode]
		if f.Kind == unitfile.KindThreeTier {
			parent = districts[u.ParentCode]
		}
		r, err := im.upsertAdmin(system, u, parent, f.CodeList, f.Effective, source)
		if err != nil {
			return err
		}
		seen[r] = true
	}
	// The units of this system and these levels that the list no longer has ended by its
	// date (at the latest).
	levels := map[string]bool{schema.LevelProvince: true, schema.LevelCommune: true, schema.LevelDistrict: f.Kind == unitfile.KindThreeTier}
	for _, r := range im.sortedRows(func(r *urow) bool {
		return levels[r.level] && r.current() && inSystem(r, system) && !seen[r]
	}) {
		im.end(r, f.Effective)
	}
	if latest != f.CodeList {
		return im.setMeta(listKey(system), f.CodeList)
	}
	return nil
}

// importMapping applies the 2025-07-01 reorganisation.
func (im *importer) importMapping(f *unitfile.File) error {
	newSys, oldSys := unitfile.SystemQD19, unitfile.SystemQD124
	latest, err := im.metaValue(listKey(newSys))
	if err != nil {
		return err
	}
	// If a newer list of the new system was imported, it decides which new units exist:
	// the mapping only finds them.
	createNew := true
	if latest != "" {
		if d, err := unitfile.CodeListDate(latest); err == nil && d > f.Effective {
			createNew = false
		}
	}
	source := "mapping:" + f.CodeList
	find := func(u unitfile.Unit, parent *urow) (*urow, error) {
		if createNew {
			return im.upsertAdmin(newSys, u, parent, f.CodeList, f.Effective, source)
		}
		r := im.byOrigin[adminOrigin(newSys, u.Level, u.Code)]
		if r != nil {
			im.counts(u.Level).Unchanged++
		}
		return r, nil
	}
	provinces := map[string]*urow{}
	for _, l := range f.ProvinceLinks {
		if _, done := provinces[l.NewCode]; done {
			continue
		}
		r, err := find(unitfile.Unit{Level: schema.LevelProvince, Code: l.NewCode, UnitType: l.NewType, Name: l.NewName}, nil)
		if err != nil {
			return err
		}
		provinces[l.NewCode] = r
	}
	communes := map[string]*urow{}
	for _, l := range f.CommuneLinks {
		if _, done := communes[l.NewCode]; done {
			continue
		}
		p := provinces[l.NewProvinceCode]
		if p == nil {
			communes[l.NewCode] = im.byOrigin[adminOrigin(newSys, schema.LevelCommune, l.NewCode)]
			continue
		}
		r, err := find(unitfile.Unit{Level: schema.LevelCommune, Code: l.NewCode, UnitType: l.NewType, Name: l.NewName}, p)
		if err != nil {
			return err
		}
		communes[l.NewCode] = r
	}

	links := map[string][]unitfile.CommuneLink{}
	for _, l := range f.CommuneLinks {
		links[l.OldCode] = append(links[l.OldCode], l)
	}
	candidate := func(l unitfile.CommuneLink) Candidate {
		c := Candidate{Code: l.NewCode, CodeList: f.CodeList, Name: l.NewName}
		if r := communes[l.NewCode]; r != nil {
			c.ID, c.CodeList = r.id, r.codeList
		}
		return c
	}
	// Hamlets of each old commune (or island district) go where the mapping says, if it
	// says one place.
	for _, old := range im.sortedRows(func(r *urow) bool {
		return inSystem(r, oldSys) && (r.level == schema.LevelCommune || r.level == schema.LevelDistrict)
	}) {
		var hamlets []*urow
		for _, c := range im.children[old.id] {
			if c.level == schema.LevelHamlet && c.current() {
				hamlets = append(hamlets, c)
			}
		}
		ls := links[old.code]
		var cands []Candidate
		for _, l := range ls {
			cands = append(cands, candidate(l))
		}
		switch {
		case len(ls) == 0:
			im.why[old.id] = pendingWhy{reason: PendingNotInMapping}
		case len(ls) > 1 || !ls[0].Full:
			im.why[old.id] = pendingWhy{reason: PendingSplit, candidates: cands}
		default:
			dest := communes[ls[0].NewCode]
			if dest == nil || !dest.current() {
				im.why[old.id] = pendingWhy{reason: PendingNoDestination, candidates: cands}
				continue
			}
			sort.Slice(hamlets, func(i, j int) bool { return hamlets[i].id < hamlets[j].id })
			for _, h := range hamlets {
				if err := im.setParent(h, dest, f.Effective, source); err != nil {
					return err
				}
				im.rep.Hamlets.Moved++
				im.rep.Hamlets.Updated++
			}
		}
	}
	// Every old province, district and commune ended on 2025-07-01.
	for _, r := range im.sortedRows(func(r *urow) bool {
		return inSystem(r, oldSys) && r.level != schema.LevelHamlet && r.current()
	}) {
		im.end(r, f.Effective)
	}
	if createNew && latest != f.CodeList {
		return im.setMeta(listKey(newSys), f.CodeList)
	}
	return nil
}

// communeFor finds the commune a reference names. It returns a *unitfile.Error-ready
// message when the reference names another unit than the file says.
func (im *importer) communeFor(ref unitfile.CommuneRef) (*urow, string) {
	system, err := unitfile.CodeSystem(ref.CodeList)
	if err != nil {
		return nil, err.Error()
	}
	r := im.byOrigin[adminOrigin(system, schema.LevelCommune, ref.Code)]
	if r == nil {
		return nil, ""
	}
	if ref.Name != "" && !unitfile.SameUnitName(r.name, ref.Name) {
		return nil, fmt.Sprintf("mã %s trong danh mục %s là %s, không phải %s: kiểm tra mã và phiên bản danh mục / "+
			"code %s in list %s is %s, not %s: check the code and the code list", ref.Code, ref.CodeList, r.name, ref.Name,
			ref.Code, ref.CodeList, r.name, ref.Name)
	}
	return r, ""
}

// hamletOrigin is a hamlet's stable import key: its home commune reference and its name.
func hamletOrigin(ref unitfile.CommuneRef, name string) string {
	return "hamlet/" + ref.CodeList + "/" + ref.Code + "/" + unitfile.NameKey(name)
}

// importHamlets applies a hamlet file.
func (im *importer) importHamlets(f *unitfile.File) error {
	var errs unitfile.Errors
	fail := func(line int, format string, args ...any) {
		if len(errs) < 50 {
			errs = append(errs, &unitfile.Error{File: f.Path, Line: line, Msg: fmt.Sprintf(format, args...)})
		}
	}
	for _, h := range f.Hamlets {
		var commune, ended *urow
		bad := false
		for _, ref := range h.Communes {
			r, msg := im.communeFor(ref)
			if msg != "" {
				fail(h.Line, "%s", msg)
				bad = true
				break
			}
			if r == nil {
				continue
			}
			if r.current() {
				commune = r
				break
			}
			ended = r
		}
		if bad {
			continue
		}
		if commune == nil {
			refs := make([]string, len(h.Communes))
			for i, ref := range h.Communes {
				refs[i] = ref.String()
			}
			if ended != nil {
				fail(h.Line, "%s đã kết thúc ngày %s; hãy ghi mã xã/phường hiện nay / %s ended on %s; give the current commune's code",
					ended.name, ended.to, ended.name, ended.to)
			} else {
				fail(h.Line, "không có xã/phường mã %s trong hệ thống: hãy nhập danh mục trước / no commune with code %s: import the code list first",
					strings.Join(refs, ", "), strings.Join(refs, ", "))
			}
			continue
		}
		if err := im.upsertHamlet(h, commune); err != nil {
			return err
		}
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

func (im *importer) upsertHamlet(h unitfile.Hamlet, commune *urow) error {
	var r *urow
	for _, ref := range h.Communes {
		if x := im.byOrigin[hamletOrigin(ref, h.Name)]; x != nil && x.level == schema.LevelHamlet {
			r = x
			break
		}
	}
	if r == nil {
		// The same hamlet from another file (or moved here by the mapping) under the
		// same commune and name; never one this import created, so that two hamlets
		// of one name in a file stay two.
		key := unitfile.NameKey(h.Name)
		for _, c := range im.children[commune.id] {
			if c.level == schema.LevelHamlet && c.current() && !im.created[c.id] && unitfile.NameKey(c.name) == key {
				r = c
				break
			}
		}
	}
	if r == nil {
		return im.create(&urow{parent: commune.id, level: schema.LevelHamlet, typ: h.Type, origin: hamletOrigin(h.Home(), h.Name),
			name: h.Name, hh: h.Households, adults: h.Adults, generated: h.Generated, figGen: h.FiguresGenerated})
	}
	changed := false
	if r.name != h.Name && unitfile.NameKey(r.name) != unitfile.NameKey(h.Name) {
		r.name, changed = h.Name, true
	}
	if h.Type != "" && r.typ != h.Type {
		r.typ, changed = h.Type, true
	}
	if r.generated != h.Generated {
		r.generated, changed = h.Generated, true
	}
	// A file without figures keeps the figures the hamlet has.
	if h.Households != nil && (r.hh == nil || *r.hh != *h.Households) {
		r.hh, changed = h.Households, true
	}
	if h.Adults != nil && (r.adults == nil || *r.adults != *h.Adults) {
		r.adults, changed = h.Adults, true
	}
	if h.Households != nil || h.Adults != nil {
		fg := h.FiguresGenerated || (r.figGen && (h.Households == nil || h.Adults == nil))
		if fg != r.figGen {
			r.figGen, changed = fg, true
		}
	}
	if changed {
		r.dirty = true
		im.rep.Hamlets.Updated++
	} else {
		im.rep.Hamlets.Unchanged++
	}
	return nil
}

// place applies placement rows.
func (im *importer) place(ps []unitfile.Placement, file string) error {
	file = filepath.Base(file)
	source := "placement:" + file
	var errs unitfile.Errors
	for _, p := range ps {
		h, msg := im.placedHamlet(p)
		if msg != "" {
			errs = append(errs, &unitfile.Error{File: file, Line: p.Line, Msg: msg})
			continue
		}
		to, msg := im.communeFor(p.To)
		if msg == "" && to == nil {
			msg = fmt.Sprintf("không có xã/phường mã %s / no commune with code %s", p.To, p.To)
		}
		if msg == "" && !to.current() {
			msg = fmt.Sprintf("%s đã kết thúc ngày %s; hãy chọn xã/phường hiện nay / %s ended on %s; choose a current commune",
				to.name, to.to, to.name, to.to)
		}
		if msg != "" {
			errs = append(errs, &unitfile.Error{File: file, Line: p.Line, Msg: msg})
			continue
		}
		if h.parent == to.id {
			im.rep.Hamlets.Unchanged++
			continue
		}
		// The move dates from the day the old commune ended; a second placement
		// corrects the first on the same date.
		on := im.today
		if from := im.rows[h.parent]; !from.current() {
			on = from.to
		} else if ms := im.moves[h.id]; len(ms) > 0 && ms[len(ms)-1].newParent == h.parent {
			on = ms[len(ms)-1].on
		}
		if err := im.setParent(h, to, on, source); err != nil {
			return err
		}
		im.rep.Placed++
		im.rep.Hamlets.Moved++
		im.rep.Hamlets.Updated++
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

// placedHamlet finds the hamlet a placement row names: by id, or by the commune it hung
// under (now or before a move) and its name.
func (im *importer) placedHamlet(p unitfile.Placement) (*urow, string) {
	var from *urow
	if p.From.Code != "" {
		var msg string
		if from, msg = im.communeFor(p.From); msg != "" {
			return nil, msg
		}
		if from == nil {
			return nil, fmt.Sprintf("không có xã/phường mã %s / no commune with code %s", p.From, p.From)
		}
	}
	hungUnder := func(h *urow) bool {
		if h.parent == from.id {
			return true
		}
		for _, m := range im.moves[h.id] {
			if m.oldParent == from.id {
				return true
			}
		}
		return false
	}
	if p.HamletID != 0 {
		h := im.rows[p.HamletID]
		if h == nil || h.level != schema.LevelHamlet {
			return nil, fmt.Sprintf("không có ấp/thôn số %d / no hamlet %d", p.HamletID, p.HamletID)
		}
		if from != nil && !hungUnder(h) {
			return nil, fmt.Sprintf("ấp/thôn %d (%s) không thuộc %s / hamlet %d (%s) is not of %s", h.id, h.name, from.name, h.id, h.name, from.name)
		}
		if p.HamletName != "" && !hamletNamed(h, p.HamletName) {
			return nil, fmt.Sprintf("ấp/thôn %d là %s, không phải %s / hamlet %d is %s, not %s", h.id, h.name, p.HamletName, h.id, h.name, p.HamletName)
		}
		return h, ""
	}
	// The hamlets under from now, and those moved away from it.
	cands := map[int64]*urow{}
	for _, h := range im.children[from.id] {
		cands[h.id] = h
	}
	for id, ms := range im.moves {
		for _, m := range ms {
			if m.oldParent == from.id {
				cands[id] = im.rows[id]
			}
		}
	}
	var found []*urow
	for _, h := range cands {
		if h != nil && h.level == schema.LevelHamlet && h.current() && hamletNamed(h, p.HamletName) {
			found = append(found, h)
		}
	}
	sort.Slice(found, func(i, j int) bool { return found[i].id < found[j].id })
	switch len(found) {
	case 0:
		return nil, fmt.Sprintf("%s không có ấp/thôn %s / %s has no hamlet %s", from.name, p.HamletName, from.name, p.HamletName)
	case 1:
		return found[0], ""
	}
	ids := make([]string, len(found))
	for i, h := range found {
		ids[i] = fmt.Sprint(h.id)
	}
	return nil, fmt.Sprintf("%s có %d ấp/thôn tên %s (số %s): hãy ghi hamlet_id / %s has %d hamlets named %s (ids %s): give hamlet_id",
		from.name, len(found), p.HamletName, strings.Join(ids, ", "), from.name, len(found), p.HamletName, strings.Join(ids, ", "))
}

// hamletNamed reports whether h is called name, with or without its type ("Đông Huề" or
// "Ấp Đông Huề").
func hamletNamed(h *urow, name string) bool {
	k := unitfile.NameKey(h.name)
	return k == unitfile.NameKey(name) || k == unitfile.NameKey(unitfile.FullHamletName(h.typ, name))
}
