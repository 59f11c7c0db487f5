package postgres

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"

	"github.com/cdtsync/cdtsync/schema"
	"github.com/cdtsync/cdtsync/store/unitimport"
)

// The import's input and report are the SQLite store's types (same method signature);
// the planning itself is in package unitimport, shared with the SQLite store.
type (
	UnitImport    = unitimport.Input
	ImportReport  = unitimport.Report
	ImportCounts  = unitimport.Counts
	PendingHamlet = unitimport.PendingHamlet
	Candidate     = unitimport.Candidate
)

// Why a hamlet needs placing (unitimport.Pending…).
const (
	PendingSplit         = unitimport.PendingSplit
	PendingNotInMapping  = unitimport.PendingNotInMapping
	PendingNoDestination = unitimport.PendingNoDestination
	PendingEnded         = unitimport.PendingEnded
)

var errDryRun = errors.New("dry run")

// ImportUnits applies a unit file to the deployment in one transaction and reports what
// changed, as sqlite.DB.ImportUnits does (see there what each kind of file does). It is
// idempotent. A bad file is a CodeInvalid or unitfile.Errors error; a storage failure
// fails the whole import; nothing is half-applied. Imports lock the units table against
// other imports and unit creations (SHARE ROW EXCLUSIVE); pushes and pulls, which only
// read units, go on.
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

// unitWriter is the import's unitimport.Store: it holds inserts, moves and updates in
// one batch, sent at Flush; meta is read and written at once.
type unitWriter struct {
	ctx    context.Context
	tx     *Tx
	batch  *pgx.Batch // inserts, moves and updates, sent at Flush
	lastID int64      // the id of the last unit inserted, 0 for none
}

// newImporter locks the units table and loads every unit and move of the deployment
// into a new import.
func newImporter(ctx context.Context, tx *Tx, rep *ImportReport) (*unitimport.Importer, error) {
	if _, err := tx.Exec(ctx, `LOCK TABLE units IN SHARE ROW EXCLUSIVE MODE`); err != nil {
		return nil, err
	}
	w := &unitWriter{ctx: ctx, tx: tx, batch: &pgx.Batch{}}
	var nextID int64
	if err := tx.QueryRow(ctx, `SELECT GREATEST((SELECT COALESCE(max(id), 0) FROM units),
		(SELECT last_value FROM units_id_seq WHERE is_called))`).Scan(&nextID); err != nil {
		return nil, err
	}
	im := unitimport.New(w, rep, vietnamDate(tx.Now), nextID)
	rows, err := tx.Query(ctx, `SELECT id, COALESCE(parent_id, 0), level, unit_type, COALESCE(code, ''),
		COALESCE(code_list, ''), origin, name, name_en, path, households, adults, COALESCE(to_char(valid_from, 'YYYY-MM-DD'), ''),
		COALESCE(to_char(valid_to, 'YYYY-MM-DD'), ''), generated, figures_generated FROM units ORDER BY id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		r := &unitimport.Unit{}
		if err := rows.Scan(&r.ID, &r.Parent, &r.Level, &r.Type, &r.Code, &r.CodeList, &r.Origin, &r.Name, &r.NameEN,
			&r.Path, &r.Households, &r.Adults, &r.From, &r.To, &r.Generated, &r.FiguresGenerated); err != nil {
			return nil, err
		}
		im.AddUnit(r)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	mrows, err := tx.Query(ctx, `SELECT unit_id, old_parent, new_parent, to_char(moved_on, 'YYYY-MM-DD') FROM unit_moves ORDER BY unit_id, moved_on`)
	if err != nil {
		return nil, err
	}
	defer mrows.Close()
	for mrows.Next() {
		var id int64
		var m unitimport.Move
		if err := mrows.Scan(&id, &m.OldParent, &m.NewParent, &m.On); err != nil {
			return nil, err
		}
		im.AddMove(id, m)
	}
	if err := mrows.Err(); err != nil {
		return nil, err
	}
	return im, nil
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
	w.batch.Queue(`INSERT INTO units (id, parent_id, level, unit_type, code, code_list, origin,
		name, name_en, path, households, adults, valid_from, valid_to, generated, figures_generated)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13::date, $14::date, $15, $16)`,
		r.ID, nullID(r.Parent), r.Level, r.Type, code, list, r.Origin, r.Name, r.NameEN,
		r.Path, r.Households, r.Adults, nullString(r.From), nullString(r.To), r.Generated, r.FiguresGenerated)
	w.lastID = r.ID
	return nil
}

func (w *unitWriter) Move(id, oldParent, newParent int64, on, source string) error {
	// A second placement of a hamlet on the same day corrects the first: the move keeps
	// where the hamlet came from and takes the new destination.
	w.batch.Queue(`INSERT INTO unit_moves (unit_id, old_parent, new_parent, moved_on, source)
		VALUES ($1, $2, $3, $4::date, $5) ON CONFLICT (unit_id, moved_on) DO UPDATE SET new_parent = excluded.new_parent, source = excluded.source`,
		id, oldParent, newParent, on, source)
	return nil
}

// Flush sends the batch: the inserts and moves, then the changed units, then the id
// sequence moved past the new units.
func (w *unitWriter) Flush(dirty []*unitimport.Unit) error {
	for _, r := range dirty {
		args := []any{r.Type, r.Name, r.NameEN, r.Households, r.Adults, nullString(r.To), r.Generated, r.FiguresGenerated, r.ID}
		if r.Repathed() {
			w.batch.Queue(`UPDATE units SET unit_type = $1, name = $2, name_en = $3, households = $4, adults = $5,
				valid_to = $6::date, generated = $7, figures_generated = $8, parent_id = $10, path = $11,
				tx = cdt_xid(), seq = nextval('change_seq') WHERE id = $9`, append(args, nullID(r.Parent), r.Path)...)
		} else {
			w.batch.Queue(`UPDATE units SET unit_type = $1, name = $2, name_en = $3, households = $4, adults = $5,
				valid_to = $6::date, generated = $7, figures_generated = $8,
				tx = cdt_xid(), seq = nextval('change_seq') WHERE id = $9`, args...)
		}
	}
	if w.lastID != 0 {
		w.batch.Queue(`SELECT setval(pg_get_serial_sequence('units', 'id'), $1)`, w.lastID)
	}
	b := w.batch
	w.batch = &pgx.Batch{}
	if b.Len() == 0 {
		return nil
	}
	return w.tx.SendBatch(w.ctx, b).Close()
}

func (w *unitWriter) OnEnded() (users, teams int, err error) {
	q := func(query string) (int, error) {
		var n int
		err := w.tx.QueryRow(w.ctx, query).Scan(&n)
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
	err := w.tx.QueryRow(w.ctx, `SELECT value FROM meta WHERE key = $1`, key).Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	return v, err
}

func (w *unitWriter) SetMeta(key, value string) error {
	_, err := w.tx.Exec(w.ctx, `INSERT INTO meta (key, value) VALUES ($1, $2)
		ON CONFLICT (key) DO UPDATE SET value = excluded.value WHERE meta.value <> excluded.value`, key, value)
	return err
}
