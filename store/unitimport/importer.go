package unitimport

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"

	"github.com/cdtsync/cdtsync/schema"
	"github.com/cdtsync/cdtsync/schema/unitfile"
)

// Unit is a unit as the importer holds it in memory: a row of the units table. Dates
// are YYYY-MM-DD, "" for none; Parent is 0 for none, Code and CodeList "" for hamlets.
type Unit struct {
	ID, Parent                                              int64
	Level, Type, Code, CodeList, Origin, Name, NameEN, Path string
	Households, Adults                                      *int64
	From, To                                                string
	Generated, FiguresGenerated                             bool
	dirty                                                   bool // a column changed
	repathed                                                bool // parent and path changed (indexed columns)
}

func (r *Unit) current() bool { return r.To == "" }

// Repathed reports whether the unit's parent and path changed (indexed columns): a
// store's update of the unit then writes them too.
func (r *Unit) Repathed() bool { return r.repathed }

// Move is a row of unit_moves: a unit went from one parent to another on a date.
type Move struct {
	OldParent, NewParent int64
	On                   string // YYYY-MM-DD
}

// Store is what the importer needs from a store, inside the import's transaction. Each
// change may be written at once or held and written at Flush.
type Store interface {
	// Insert writes the new unit u (its id and path set) with a new change sequence
	// number.
	Insert(u *Unit) error
	// Move records that unit id moved from oldParent to newParent on the date on. A
	// second move of the unit on the same date corrects the first: the row keeps
	// oldParent and takes newParent and source.
	Move(id, oldParent, newParent int64, on, source string) error
	// Flush writes the changed units (by id), each with a new change sequence number,
	// and whatever the store still holds. It is called once, after every Insert and Move.
	Flush(changed []*Unit) error
	// MetaValue and SetMeta read and write the meta table ("" for a missing key).
	MetaValue(key string) (string, error)
	SetMeta(key, value string) error
	// OnEnded counts accounts (not revoked) and teams attached to ended units.
	OnEnded() (users, teams int, err error)
}

// pendingWhy is what the mapping says about an old unit whose hamlets it cannot place.
type pendingWhy struct {
	reason     string
	candidates []Candidate
}

// Importer is one import: every unit of the deployment in memory (tens of thousands of
// rows at most), changes made in memory and written once, through Store.
type Importer struct {
	st  Store
	rep *Report

	rows     map[int64]*Unit
	byOrigin map[string]*Unit
	children map[int64][]*Unit
	created  map[int64]bool
	moves    map[int64][]Move // unit id → its moves, oldest first
	why      map[int64]pendingWhy
	nextID   int64
	today    string
}

// New starts an import that writes through st and reports into rep. today is the date
// (YYYY-MM-DD, Vietnam) of the import; new units get ids above nextID and above every
// unit added with AddUnit.
func New(st Store, rep *Report, today string, nextID int64) *Importer {
	return &Importer{st: st, rep: rep, rows: map[int64]*Unit{}, byOrigin: map[string]*Unit{},
		children: map[int64][]*Unit{}, created: map[int64]bool{}, moves: map[int64][]Move{}, why: map[int64]pendingWhy{},
		nextID: nextID, today: today}
}

// AddUnit loads an existing unit; a store adds every unit, by id.
func (im *Importer) AddUnit(r *Unit) {
	im.rows[r.ID] = r
	im.byOrigin[r.Origin] = r
	if r.Parent != 0 {
		im.children[r.Parent] = append(im.children[r.Parent], r)
	}
	im.nextID = max(im.nextID, r.ID)
}

// AddMove loads an existing move of unit id; a store adds each unit's moves oldest first.
func (im *Importer) AddMove(id int64, m Move) { im.moves[id] = append(im.moves[id], m) }

// Apply plans and writes the import of in: its file, then its placements (see the
// stores' ImportUnits for what each kind of file does). It fills in the report,
// including what is left for an admin to do.
func (im *Importer) Apply(in Input) error {
	rep := im.rep
	if f := in.File; f != nil {
		rep.Kind, rep.CodeList, rep.Effective = f.Kind, f.CodeList, f.Effective
		var err error
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
	return im.report()
}

func (im *Importer) counts(level string) *Counts {
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

// create inserts r under r.Parent with a new id and change sequence number.
func (im *Importer) create(r *Unit) error {
	im.nextID++
	r.ID = im.nextID
	parentPath := "/"
	if r.Parent != 0 {
		parentPath = im.rows[r.Parent].Path
	}
	r.Path = fmt.Sprintf("%s%d/", parentPath, r.ID)
	if err := im.st.Insert(r); err != nil {
		return err
	}
	im.rows[r.ID] = r
	im.byOrigin[r.Origin] = r
	if r.Parent != 0 {
		im.children[r.Parent] = append(im.children[r.Parent], r)
	}
	im.created[r.ID] = true
	im.counts(r.Level).Created++
	return nil
}

// setParent moves r (and its subtree) under np, recording the move.
func (im *Importer) setParent(r, np *Unit, on, source string) error {
	old := r.Parent
	kids := im.children[old]
	for i, k := range kids {
		if k == r {
			im.children[old] = append(kids[:i:i], kids[i+1:]...)
			break
		}
	}
	im.children[np.ID] = append(im.children[np.ID], r)
	r.Parent = np.ID
	im.repath(r, fmt.Sprintf("%s%d/", np.Path, r.ID))
	if err := im.st.Move(r.ID, old, np.ID, on, source); err != nil {
		return err
	}
	ms := im.moves[r.ID]
	if n := len(ms); n > 0 && ms[n-1].On == on {
		ms[n-1].NewParent = np.ID
	} else {
		im.moves[r.ID] = append(ms, Move{OldParent: old, NewParent: np.ID, On: on})
	}
	return nil
}

// repath gives r and its subtree paths under p. Each gets a new change sequence number
// at flush: a unit that enters someone's scope must reach their next pull.
func (im *Importer) repath(r *Unit, p string) {
	r.Path = p
	r.dirty, r.repathed = true, true
	for _, c := range im.children[r.ID] {
		im.repath(c, fmt.Sprintf("%s%d/", p, c.ID))
	}
}

func (im *Importer) end(r *Unit, on string) {
	r.To = on
	r.dirty = true
	im.counts(r.Level).Ended++
}

// flush writes every changed row, each with a new change sequence number.
func (im *Importer) flush() error {
	var dirty []*Unit
	for _, r := range im.rows {
		if r.dirty {
			dirty = append(dirty, r)
		}
	}
	sort.Slice(dirty, func(i, j int) bool { return dirty[i].ID < dirty[j].ID })
	if err := im.st.Flush(dirty); err != nil {
		return err
	}
	for _, r := range dirty {
		r.dirty, r.repathed = false, false
	}
	return nil
}

// report fills in what the import leaves for an admin to do.
func (im *Importer) report() error {
	var ids []int64
	for id, r := range im.rows {
		if r.Level == schema.LevelHamlet && r.current() && r.Parent != 0 && !im.rows[r.Parent].current() {
			ids = append(ids, id)
		}
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	im.rep.NeedPlacement = nil
	for _, id := range ids {
		h := im.rows[id]
		p := im.rows[h.Parent]
		ph := PendingHamlet{HamletID: h.ID, Hamlet: h.Name, CommuneID: p.ID, Commune: p.Name, CommuneCode: p.Code,
			CommuneCodeList: p.CodeList, CommuneEnded: p.To, Reason: PendingEnded}
		if w, ok := im.why[p.ID]; ok {
			ph.Reason, ph.Candidates = w.reason, w.candidates
		}
		im.rep.NeedPlacement = append(im.rep.NeedPlacement, ph)
	}
	var err error
	im.rep.UsersOnEnded, im.rep.TeamsOnEnded, err = im.st.OnEnded()
	return err
}

// listKey is the meta key holding the newest code list imported for a code system.
func listKey(system string) string { return "units_list:" + system }

// sortedRows returns the rows matching keep, by id (changes are made in a fixed order).
func (im *Importer) sortedRows(keep func(*Unit) bool) []*Unit {
	var out []*Unit
	for _, r := range im.rows {
		if keep(r) {
			out = append(out, r)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

func inSystem(r *Unit, system string) bool { return strings.HasPrefix(r.Origin, system+"/") }

// upsertAdmin creates the province, district or commune u under parent, or brings the
// existing one up to date: name (unless only its spelling differs, see
// unitfile.NameKey), English name, type, parent; an ended unit that is back in the list
// is current again.
func (im *Importer) upsertAdmin(system string, u unitfile.Unit, parent *Unit, codeList, effective, source string) (*Unit, error) {
	origin := AdminOrigin(system, u.Level, u.Code)
	c := im.counts(u.Level)
	r := im.byOrigin[origin]
	if r == nil {
		r = &Unit{Level: u.Level, Type: u.UnitType, Code: u.Code, CodeList: codeList, Origin: origin, Name: u.Name,
			NameEN: u.NameEN, From: effective}
		if parent != nil {
			r.Parent = parent.ID
		}
		return r, im.create(r)
	}
	changed := false
	if r.Name != u.Name && unitfile.NameKey(r.Name) != unitfile.NameKey(u.Name) {
		r.Name, changed = u.Name, true
	}
	if u.NameEN != "" && r.NameEN != u.NameEN {
		r.NameEN, changed = u.NameEN, true
	}
	if u.UnitType != "" && r.Type != u.UnitType {
		r.Type, changed = u.UnitType, true
	}
	if !r.current() {
		r.To, changed = "", true
	}
	moved := false
	if parent != nil && r.Parent != parent.ID {
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
func (im *Importer) importList(f *unitfile.File) error {
	system, err := unitfile.CodeSystem(f.CodeList)
	if err != nil {
		return schema.Errorf(schema.CodeInvalid, "%v", err)
	}
	other := unitfile.SystemQD19
	if system == unitfile.SystemQD19 {
		other = unitfile.SystemQD124
	}
	for _, r := range im.rows {
		if r.Level != schema.LevelProvince || !r.current() || !inSystem(r, other) {
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
	latest, err := im.st.MetaValue(listKey(system))
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
	seen := map[*Unit]bool{}
	provinces := map[string]*Unit{}
	districts := map[string]*Unit{}
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
	for _, r := range im.sortedRows(func(r *Unit) bool {
		return levels[r.Level] && r.current() && inSystem(r, system) && !seen[r]
	}) {
		im.end(r, f.Effective)
	}
	if latest != f.CodeList {
		return im.st.SetMeta(listKey(system), f.CodeList)
	}
	return nil
}

// importMapping applies the 2025-07-01 reorganisation.
func (im *Importer) importMapping(f *unitfile.File) error {
	newSys, oldSys := unitfile.SystemQD19, unitfile.SystemQD124
	latest, err := im.st.MetaValue(listKey(newSys))
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
	find := func(u unitfile.Unit, parent *Unit) (*Unit, error) {
		if createNew {
			return im.upsertAdmin(newSys, u, parent, f.CodeList, f.Effective, source)
		}
		r := im.byOrigin[AdminOrigin(newSys, u.Level, u.Code)]
		if r != nil {
			im.counts(u.Level).Unchanged++
		}
		return r, nil
	}
	provinces := map[string]*Unit{}
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
	communes := map[string]*Unit{}
	for _, l := range f.CommuneLinks {
		if _, done := communes[l.NewCode]; done {
			continue
		}
		p := provinces[l.NewProvinceCode]
		if p == nil {
			communes[l.NewCode] = im.byOrigin[AdminOrigin(newSys, schema.LevelCommune, l.NewCode)]
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
			c.ID, c.CodeList = r.ID, r.CodeList
		}
		return c
	}
	// Hamlets of each old commune (or island district) go where the mapping says, if it
	// says one place.
	for _, old := range im.sortedRows(func(r *Unit) bool {
		return inSystem(r, oldSys) && (r.Level == schema.LevelCommune || r.Level == schema.LevelDistrict)
	}) {
		var hamlets []*Unit
		for _, c := range im.children[old.ID] {
			if c.Level == schema.LevelHamlet && c.current() {
				hamlets = append(hamlets, c)
			}
		}
		ls := links[old.Code]
		var cands []Candidate
		for _, l := range ls {
			cands = append(cands, candidate(l))
		}
		switch {
		case len(ls) == 0:
			im.why[old.ID] = pendingWhy{reason: PendingNotInMapping}
		case len(ls) > 1 || !ls[0].Full:
			im.why[old.ID] = pendingWhy{reason: PendingSplit, candidates: cands}
		default:
			dest := communes[ls[0].NewCode]
			if dest == nil || !dest.current() {
				im.why[old.ID] = pendingWhy{reason: PendingNoDestination, candidates: cands}
				continue
			}
			sort.Slice(hamlets, func(i, j int) bool { return hamlets[i].ID < hamlets[j].ID })
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
	for _, r := range im.sortedRows(func(r *Unit) bool {
		return inSystem(r, oldSys) && r.Level != schema.LevelHamlet && r.current()
	}) {
		im.end(r, f.Effective)
	}
	if createNew && latest != f.CodeList {
		return im.st.SetMeta(listKey(newSys), f.CodeList)
	}
	return nil
}

// communeFor finds the commune a reference names. It returns a *unitfile.Error-ready
// message when the reference names another unit than the file says.
func (im *Importer) communeFor(ref unitfile.CommuneRef) (*Unit, string) {
	system, err := unitfile.CodeSystem(ref.CodeList)
	if err != nil {
		return nil, err.Error()
	}
	r := im.byOrigin[AdminOrigin(system, schema.LevelCommune, ref.Code)]
	if r == nil {
		return nil, ""
	}
	if ref.Name != "" && !unitfile.SameUnitName(r.Name, ref.Name) {
		return nil, fmt.Sprintf("mã %s trong danh mục %s là %s, không phải %s: kiểm tra mã và phiên bản danh mục / "+
			"code %s in list %s is %s, not %s: check the code and the code list", ref.Code, ref.CodeList, r.Name, ref.Name,
			ref.Code, ref.CodeList, r.Name, ref.Name)
	}
	return r, ""
}

// hamletOrigin is a hamlet's stable import key: its home commune reference and its name.
func hamletOrigin(ref unitfile.CommuneRef, name string) string {
	return "hamlet/" + ref.CodeList + "/" + ref.Code + "/" + unitfile.NameKey(name)
}

// importHamlets applies a hamlet file.
func (im *Importer) importHamlets(f *unitfile.File) error {
	var errs unitfile.Errors
	fail := func(line int, format string, args ...any) {
		if len(errs) < 50 {
			errs = append(errs, &unitfile.Error{File: f.Path, Line: line, Msg: fmt.Sprintf(format, args...)})
		}
	}
	for _, h := range f.Hamlets {
		var commune, ended *Unit
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
					ended.Name, ended.To, ended.Name, ended.To)
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

func (im *Importer) upsertHamlet(h unitfile.Hamlet, commune *Unit) error {
	var r *Unit
	for _, ref := range h.Communes {
		if x := im.byOrigin[hamletOrigin(ref, h.Name)]; x != nil && x.Level == schema.LevelHamlet {
			r = x
			break
		}
	}
	if r == nil {
		// The same hamlet from another file (or moved here by the mapping) under the
		// same commune and name; never one this import created, so that two hamlets
		// of one name in a file stay two.
		key := unitfile.NameKey(h.Name)
		for _, c := range im.children[commune.ID] {
			if c.Level == schema.LevelHamlet && c.current() && !im.created[c.ID] && unitfile.NameKey(c.Name) == key {
				r = c
				break
			}
		}
	}
	if r == nil {
		return im.create(&Unit{Parent: commune.ID, Level: schema.LevelHamlet, Type: h.Type, Origin: hamletOrigin(h.Home(), h.Name),
			Name: h.Name, Households: h.Households, Adults: h.Adults, Generated: h.Generated, FiguresGenerated: h.FiguresGenerated})
	}
	changed := false
	if r.Name != h.Name && unitfile.NameKey(r.Name) != unitfile.NameKey(h.Name) {
		r.Name, changed = h.Name, true
	}
	if h.Type != "" && r.Type != h.Type {
		r.Type, changed = h.Type, true
	}
	if r.Generated != h.Generated {
		r.Generated, changed = h.Generated, true
	}
	// A file without figures keeps the figures the hamlet has.
	if h.Households != nil && (r.Households == nil || *r.Households != *h.Households) {
		r.Households, changed = h.Households, true
	}
	if h.Adults != nil && (r.Adults == nil || *r.Adults != *h.Adults) {
		r.Adults, changed = h.Adults, true
	}
	if h.Households != nil || h.Adults != nil {
		fg := h.FiguresGenerated || (r.FiguresGenerated && (h.Households == nil || h.Adults == nil))
		if fg != r.FiguresGenerated {
			r.FiguresGenerated, changed = fg, true
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
func (im *Importer) place(ps []unitfile.Placement, file string) error {
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
				to.Name, to.To, to.Name, to.To)
		}
		if msg != "" {
			errs = append(errs, &unitfile.Error{File: file, Line: p.Line, Msg: msg})
			continue
		}
		if h.Parent == to.ID {
			im.rep.Hamlets.Unchanged++
			continue
		}
		// The move dates from the day the old commune ended; a second placement
		// corrects the first on the same date.
		on := im.today
		if from := im.rows[h.Parent]; !from.current() {
			on = from.To
		} else if ms := im.moves[h.ID]; len(ms) > 0 && ms[len(ms)-1].NewParent == h.Parent {
			on = ms[len(ms)-1].On
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
func (im *Importer) placedHamlet(p unitfile.Placement) (*Unit, string) {
	var from *Unit
	if p.From.Code != "" {
		var msg string
		if from, msg = im.communeFor(p.From); msg != "" {
			return nil, msg
		}
		if from == nil {
			return nil, fmt.Sprintf("không có xã/phường mã %s / no commune with code %s", p.From, p.From)
		}
	}
	hungUnder := func(h *Unit) bool {
		if h.Parent == from.ID {
			return true
		}
		for _, m := range im.moves[h.ID] {
			if m.OldParent == from.ID {
				return true
			}
		}
		return false
	}
	if p.HamletID != 0 {
		h := im.rows[p.HamletID]
		if h == nil || h.Level != schema.LevelHamlet {
			return nil, fmt.Sprintf("không có ấp/thôn số %d / no hamlet %d", p.HamletID, p.HamletID)
		}
		if from != nil && !hungUnder(h) {
			return nil, fmt.Sprintf("ấp/thôn %d (%s) không thuộc %s / hamlet %d (%s) is not of %s", h.ID, h.Name, from.Name, h.ID, h.Name, from.Name)
		}
		if p.HamletName != "" && !hamletNamed(h, p.HamletName) {
			return nil, fmt.Sprintf("ấp/thôn %d là %s, không phải %s / hamlet %d is %s, not %s", h.ID, h.Name, p.HamletName, h.ID, h.Name, p.HamletName)
		}
		return h, ""
	}
	// The hamlets under from now, and those moved away from it.
	cands := map[int64]*Unit{}
	for _, h := range im.children[from.ID] {
		cands[h.ID] = h
	}
	for id, ms := range im.moves {
		for _, m := range ms {
			if m.OldParent == from.ID {
				cands[id] = im.rows[id]
			}
		}
	}
	var found []*Unit
	for _, h := range cands {
		if h != nil && h.Level == schema.LevelHamlet && h.current() && hamletNamed(h, p.HamletName) {
			found = append(found, h)
		}
	}
	sort.Slice(found, func(i, j int) bool { return found[i].ID < found[j].ID })
	switch len(found) {
	case 0:
		return nil, fmt.Sprintf("%s không có ấp/thôn %s / %s has no hamlet %s", from.Name, p.HamletName, from.Name, p.HamletName)
	case 1:
		return found[0], ""
	}
	ids := make([]string, len(found))
	for i, h := range found {
		ids[i] = fmt.Sprint(h.ID)
	}
	return nil, fmt.Sprintf("%s có %d ấp/thôn tên %s (số %s): hãy ghi hamlet_id / %s has %d hamlets named %s (ids %s): give hamlet_id",
		from.Name, len(found), p.HamletName, strings.Join(ids, ", "), from.Name, len(found), p.HamletName, strings.Join(ids, ", "))
}

// hamletNamed reports whether h is called name, with or without its type ("Đông Huề" or
// "Ấp Đông Huề").
func hamletNamed(h *Unit, name string) bool {
	k := unitfile.NameKey(h.Name)
	return k == unitfile.NameKey(name) || k == unitfile.NameKey(unitfile.FullHamletName(h.Type, name))
}

// AdminOrigin is the origin (stable import key) of a province, district or commune: its
// code system, level and code. Codes name one unit within a code system, so a unit
// keeps its row across the lists of its system.
func AdminOrigin(system, level, code string) string { return system + "/" + level + "/" + code }
