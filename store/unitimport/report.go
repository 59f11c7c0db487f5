// Package unitimport plans an import of administrative units (a code list, the
// 2025-07-01 mapping, a hamlet file or hamlet placements) in memory, the same way for
// every store. A store loads its units and moves into an Importer, then the Importer
// decides what changes and calls the store (through Store) to write it.
package unitimport

import "github.com/cdtsync/cdtsync/schema/unitfile"

// Input is what a store's ImportUnits applies: one parsed unit file and, optionally,
// hamlet placements, applied after the file.
type Input struct {
	File       *unitfile.File       // a code list, the 2025-07-01 mapping, hamlets or placements; may be nil with Placements
	Placements []unitfile.Placement // where hamlets of split communes go (a placement CSV)
	// PlacementFile names the placement CSV in messages.
	PlacementFile string
	// DryRun computes the report and changes nothing.
	DryRun bool
}

// Report says what an import changed, level by level.
type Report struct {
	Kind      unitfile.Kind
	CodeList  string // the code list imported (lists, the mapping's new list)
	Effective string // the date it took effect

	Provinces, Districts, Communes, Hamlets Counts

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

// Counts are the changes at one level. Every unit the file names is created,
// updated or unchanged; Moved (units given a new parent, also counted as updated) and
// Ended (units the import ended) count the import's effects beyond the file's rows.
type Counts struct {
	Created, Updated, Unchanged, Ended, Moved int
}

func (c *Counts) add(o Counts) {
	c.Created += o.Created
	c.Updated += o.Updated
	c.Unchanged += o.Unchanged
	c.Ended += o.Ended
	c.Moved += o.Moved
}

// Total sums the four levels.
func (r Report) Total() Counts {
	var t Counts
	for _, c := range []Counts{r.Provinces, r.Districts, r.Communes, r.Hamlets} {
		t.add(c)
	}
	return t
}

// Changed reports whether the import changed anything.
func (r Report) Changed() bool {
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
