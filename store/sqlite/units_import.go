package sqlite

import (
	"context"
	"database/sql"
	"errors"

	"github.com/cdtsync/cdtsync/schema"
	"github.com/cdtsync/cdtsync/store/unitimport"
)

// The import's input and report; the planning itself is in package unitimport, shared
// with the PostgreSQL store.
type (
	// UnitImport is what ImportUnits applies: one parsed unit file and, optionally,
	// hamlet placements, applied after the file.
	UnitImport = unitimport.Input
	// ImportReport says what an import changed, level by level.
	ImportReport = unitimport.Report
	// ImportCounts are the changes at one level.
	ImportCounts = unitimport.Counts
	// PendingHamlet is a hamlet under an ended commune that no rule could place.
	PendingHamlet = unitimport.PendingHamlet
	// Candidate is a new commune a hamlet may go under.
	Candidate = unitimport.Candidate
)

// Why a hamlet needs placing.
const (
	PendingSplit         = unitimport.PendingSplit         // its old commune was split between new communes
	PendingNotInMapping  = unitimport.PendingNotInMapping  // its old commune is not in the mapping
	PendingNoDestination = unitimport.PendingNoDestination // its new commune is not in the deployment's current list
	PendingEnded         = unitimport.PendingEnded         // its commune ended (absent from a newer list)
)

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
		im, w, err := newImporter(ctx, tx, &rep)
		if err != nil {
			return err
		}
		defer w.close()
		if err := im.Apply(in); err != nil {
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

// unitWriter is the import's unitimport.Store: it writes each insert and move at once,
// with prepared statements, and the changed units at Flush.
type unitWriter struct {
	ctx context.Context
	tx  *Tx

	insert, move *sql.Stmt
}

// newImporter loads every unit and move of the deployment into a new import.
func newImporter(ctx context.Context, tx *Tx, rep *ImportReport) (*unitimport.Importer, *unitWriter, error) {
	w := &unitWriter{ctx: ctx, tx: tx}
	im := unitimport.New(w, rep, vietnamDate(tx.Now), 0)
	rows, err := tx.QueryContext(ctx, `SELECT id, COALESCE(parent_id, 0), level, unit_type, COALESCE(code, ''),
		COALESCE(code_list, ''), origin, name, name_en, path, households, adults, COALESCE(valid_from, ''),
		COALESCE(valid_to, ''), generated, figures_generated FROM units ORDER BY id`)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	for rows.Next() {
		r := &unitimport.Unit{}
		var hh, ad sql.NullInt64
		if err := rows.Scan(&r.ID, &r.Parent, &r.Level, &r.Type, &r.Code, &r.CodeList, &r.Origin, &r.Name, &r.NameEN,
			&r.Path, &hh, &ad, &r.From, &r.To, &r.Generated, &r.FiguresGenerated); err != nil {
			return nil, nil, err
		}
		if hh.Valid {
			r.Households = &hh.Int64
		}
		if ad.Valid {
			r.Adults = &ad.Int64
		}
		im.AddUnit(r)
	}
	if err := rows.Err(); err != nil {
		return nil, nil, err
	}
	mrows, err := tx.QueryContext(ctx, `SELECT unit_id, old_parent, new_parent, moved_on FROM unit_moves ORDER BY unit_id, moved_on`)
	if err != nil {
		return nil, nil, err
	}
	defer mrows.Close()
	for mrows.Next() {
		var id int64
		var m unitimport.Move
		if err := mrows.Scan(&id, &m.OldParent, &m.NewParent, &m.On); err != nil {
			return nil, nil, err
		}
		im.AddMove(id, m)
	}
	if err := mrows.Err(); err != nil {
		return nil, nil, err
	}
	if w.insert, err = tx.PrepareContext(ctx, `INSERT INTO units (id, parent_id, level, unit_type, code, code_list, origin,
		name, name_en, path, households, adults, valid_from, valid_to, generated, figures_generated, seq)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`); err != nil {
		return nil, nil, err
	}
	// A second placement of a hamlet on the same day corrects the first: the move keeps
	// where the hamlet came from and takes the new destination.
	if w.move, err = tx.PrepareContext(ctx, `INSERT INTO unit_moves (unit_id, old_parent, new_parent, moved_on, source)
		VALUES (?, ?, ?, ?, ?) ON CONFLICT (unit_id, moved_on) DO UPDATE SET new_parent = excluded.new_parent, source = excluded.source`); err != nil {
		w.insert.Close()
		return nil, nil, err
	}
	return im, w, nil
}

func (w *unitWriter) close() {
	w.insert.Close()
	w.move.Close()
}

func nullID(id int64) any {
	if id == 0 {
		return nil
	}
	return id
}

func (w *unitWriter) Insert(r *unitimport.Unit) error {
	var code, list any
	if r.Code != "" {
		code, list = r.Code, r.CodeList
	}
	_, err := w.insert.ExecContext(w.ctx, r.ID, nullID(r.Parent), r.Level, r.Type, code, list, r.Origin, r.Name, r.NameEN,
		r.Path, r.Households, r.Adults, nullString(r.From), nullString(r.To), r.Generated, r.FiguresGenerated, w.tx.NextSeq())
	return err
}

func (w *unitWriter) Move(id, oldParent, newParent int64, on, source string) error {
	_, err := w.move.ExecContext(w.ctx, id, oldParent, newParent, on, source)
	return err
}

// Flush writes the changed units; the inserts and moves are written already.
func (w *unitWriter) Flush(dirty []*unitimport.Unit) error {
	if len(dirty) == 0 {
		return nil
	}
	// Most changed rows keep their parent (units ended by a reorganisation): their update
	// leaves the indexes on parent_id and path alone.
	moved, err := w.tx.PrepareContext(w.ctx, `UPDATE units SET parent_id = ?, path = ?, unit_type = ?, name = ?, name_en = ?,
		households = ?, adults = ?, valid_to = ?, generated = ?, figures_generated = ?, seq = ? WHERE id = ?`)
	if err != nil {
		return err
	}
	defer moved.Close()
	kept, err := w.tx.PrepareContext(w.ctx, `UPDATE units SET unit_type = ?, name = ?, name_en = ?,
		households = ?, adults = ?, valid_to = ?, generated = ?, figures_generated = ?, seq = ? WHERE id = ?`)
	if err != nil {
		return err
	}
	defer kept.Close()
	for _, r := range dirty {
		args := []any{r.Type, r.Name, r.NameEN, r.Households, r.Adults, nullString(r.To), r.Generated, r.FiguresGenerated, w.tx.NextSeq(), r.ID}
		st := kept
		if r.Repathed() {
			st, args = moved, append([]any{nullID(r.Parent), r.Path}, args...)
		}
		if _, err := st.ExecContext(w.ctx, args...); err != nil {
			return err
		}
	}
	return nil
}

func (w *unitWriter) OnEnded() (users, teams int, err error) {
	q := func(query string) (int, error) {
		var n int
		err := w.tx.QueryRowContext(w.ctx, query).Scan(&n)
		return n, err
	}
	if users, err = q(`SELECT COUNT(*) FROM users u JOIN units un ON un.id = u.unit_id
		WHERE un.valid_to IS NOT NULL AND u.revoked_at IS NULL`); err != nil {
		return users, 0, err
	}
	teams, err = q(`SELECT COUNT(*) FROM teams t JOIN units un ON un.id = t.unit_id WHERE un.valid_to IS NOT NULL`)
	return users, teams, err
}

// MetaValue and SetMeta read and write the meta table inside the import.
func (w *unitWriter) MetaValue(key string) (string, error) {
	var v string
	err := w.tx.QueryRowContext(w.ctx, `SELECT value FROM meta WHERE key = ?`, key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return v, err
}

func (w *unitWriter) SetMeta(key, value string) error {
	_, err := w.tx.ExecContext(w.ctx, `INSERT INTO meta (key, value) VALUES (?, ?)
		ON CONFLICT (key) DO UPDATE SET value = excluded.value WHERE value <> excluded.value`, key, value)
	return err
}
