package demo

import (
	"context"
	"embed"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"sort"

	"github.com/cdtsync/cdtsync/schema"
	"github.com/cdtsync/cdtsync/schema/unitfile"
	"github.com/cdtsync/cdtsync/store/sqlite"
)

// The real data the demo is built from, embedded in the binary: the 2026-04-30 two-tier
// code list and the curated hamlet names (see each folder's SOURCE.txt).
//
//go:embed data
var data embed.FS

// CodeList is the code list the demo deployment uses. Its SOURCE.txt gives no
// "effective" date, so the version is given here.
const CodeList = "vn-admin-2026-04-30"

// Codes of the demo's main units in CodeList.
const (
	CodeDongThap = "82"    // Tỉnh Đồng Tháp (merged with Tiền Giang on 2025-07-01)
	CodeSaDec    = "29905" // Phường Sa Đéc
)

// SaDecHamletCount is how many khóm and ấp Phường Sa Đéc has (HĐND phường Sa Đéc,
// resolution of 2025-07-22, cited in the curated file): the demo adds generated ones to
// the real names it knows until there are this many.
const SaDecHamletCount = 32

// generatedCommunes are the Đồng Tháp communes without known hamlet names that the demo
// gives plainly generated hamlets ("Khóm minh hoạ 3"), and how many.
var generatedCommunes = []struct {
	code, typ string
	n         int
}{
	{"29869", "khóm", 8},  // Phường Cao Lãnh
	{"28261", "khóm", 10}, // Phường Mỹ Tho
	{"30037", "ấp", 8},    // Xã Tháp Mười
}

// DemoUnits are the ids of the demo's units that the rest of the demo (teams, users,
// activity) builds on.
type DemoUnits struct {
	Province     int64   // Tỉnh Đồng Tháp
	SaDec        int64   // Phường Sa Đéc
	SaDecHamlets []int64 // its 32 khóm and ấp, in Vietnamese name order: 19 real names, 13 generated
	// Communes are the Đồng Tháp communes that have hamlets in the demo, by GSO code;
	// Hamlets their hamlets, in Vietnamese name order.
	Communes map[string]int64
	Hamlets  map[int64][]int64
	// Reports of the two imports (the code list, then the hamlets): on a second run
	// they show nothing changed.
	ListReport, HamletReport sqlite.ImportReport
}

// LoadUnits builds the demo's administrative units: the whole 2026-04-30 code list (34
// provinces, 3,321 communes), the curated real hamlets under their current communes
// (Phường Sa Đéc's khóm and ấp among them), and generated hamlets for a few more Đồng
// Tháp communes, with household and adult-population figures. It is idempotent: a
// second run changes nothing.
//
// Figures: households are real where the curated file gives them; everything else is
// generated (deterministically, from the hamlet's name) or estimated, and the hamlet is
// marked FiguresGenerated. Adults are never in the source: where a hamlet's total
// population is known they are estimated from it with the 2019 census share of people
// aged 15 and over; where the old commune's totals are known and its hamlet list is
// complete, the totals are shared out among its hamlets.
func LoadUnits(ctx context.Context, db Store) (DemoUnits, error) {
	var du DemoUnits
	list, err := unitfile.ReadFS(data, "data/vn-admin-2026-04-30", unitfile.Options{CodeList: CodeList})
	if err != nil {
		return du, fmt.Errorf("demo code list: %w", err)
	}
	if du.ListReport, err = db.ImportUnits(ctx, sqlite.UnitImport{File: list}); err != nil {
		return du, fmt.Errorf("demo code list: %w", err)
	}
	hamlets, err := demoHamlets(list)
	if err != nil {
		return du, err
	}
	if du.HamletReport, err = db.ImportUnits(ctx, sqlite.UnitImport{File: hamlets}); err != nil {
		return du, fmt.Errorf("demo hamlets: %w", err)
	}

	prov, err := db.UnitByCode(ctx, CodeList, CodeDongThap)
	if err != nil {
		return du, err
	}
	du.Province = prov.ID
	// An actor scoped to the province lists its units like an officer would.
	actor := schema.Actor{Role: schema.RoleAdmin, UnitID: prov.ID, UnitPath: prov.Path}
	du.Communes, du.Hamlets = map[string]int64{}, map[int64][]int64{}
	communes, err := db.ListUnits(ctx, actor, &prov.ID, false)
	if err != nil {
		return du, err
	}
	for _, c := range communes {
		hs, err := db.ListUnits(ctx, actor, &c.ID, false)
		if err != nil {
			return du, err
		}
		if len(hs) == 0 {
			continue
		}
		du.Communes[c.Code] = c.ID
		for _, h := range hs {
			du.Hamlets[c.ID] = append(du.Hamlets[c.ID], h.ID)
		}
		if c.Code == CodeSaDec {
			du.SaDec, du.SaDecHamlets = c.ID, du.Hamlets[c.ID]
		}
	}
	if du.SaDec == 0 || len(du.SaDecHamlets) != SaDecHamletCount {
		return du, fmt.Errorf("demo: Phường Sa Đéc has %d hamlets, want %d", len(du.SaDecHamlets), SaDecHamletCount)
	}
	return du, nil
}

// adultShare is the share of Vietnam's population aged 15 and over (2019 census:
// 24.3 % were under 15), used to estimate adults from a total population.
const adultShare = 0.757

// personsPerHousehold is Vietnam's average household size (2019 census: 3.5).
const personsPerHousehold = 3.5

// demoHamlets returns the curated hamlets with demo figures, and the generated ones.
func demoHamlets(list *unitfile.File) (*unitfile.File, error) {
	curated, err := unitfile.ReadFS(data, "data/vn-hamlets-curated/hamlets_curated.csv", unitfile.Options{})
	if err != nil {
		return nil, fmt.Errorf("demo hamlets: %w", err)
	}
	out := &unitfile.File{Kind: unitfile.KindHamlets, Path: "demo"}

	// Old communes whose totals are known and whose hamlet list is complete: share the
	// totals among their hamlets.
	figures := map[string]unitfile.CommuneFigures{}
	for _, f := range curated.CommuneFigures {
		if f.Complete {
			figures[f.Commune.Code] = f
		}
	}
	byOld := map[string][]int{}
	for i, h := range curated.Hamlets {
		byOld[h.Home().Code] = append(byOld[h.Home().Code], i)
	}
	for old, idx := range byOld {
		f, ok := figures[old]
		if !ok {
			continue
		}
		weights := make([]float64, len(idx))
		var sum float64
		for k, i := range idx {
			weights[k] = 0.75 + 0.5*rng(curated.Hamlets[i].Name, old).Float64()
			sum += weights[k]
		}
		for k, i := range idx {
			h := &curated.Hamlets[i]
			share := weights[k] / sum
			if h.Households == nil && f.Households != nil {
				h.Households = ptr(round(float64(*f.Households) * share))
			}
			if h.Adults == nil && h.Population == nil && f.Population != nil {
				h.Adults = ptr(round(float64(*f.Population) * share * adultShare))
			}
		}
	}
	for _, h := range curated.Hamlets {
		r := rng(h.Name, h.Home().Code)
		if h.Adults == nil && h.Population != nil {
			h.Adults = ptr(round(float64(*h.Population) * adultShare))
		}
		if h.Households == nil {
			h.Households = ptr(households(r, h.Type))
		}
		if h.Adults == nil {
			h.Adults = ptr(adults(r, *h.Households))
		}
		// Adults are always estimated or generated here, so the figures are marked.
		h.FiguresGenerated = true
		out.Hamlets = append(out.Hamlets, h)
	}

	// Generated hamlets: Sa Đéc up to its real count, and a few more communes.
	names := map[string]string{}
	for _, u := range list.Communes {
		names[u.Code] = u.Name
	}
	real := 0
	for _, h := range curated.Hamlets {
		for _, ref := range h.Communes {
			if ref.CodeList == CodeList && ref.Code == CodeSaDec {
				real++
			}
		}
	}
	gen := append([]struct {
		code, typ string
		n         int
	}{{CodeSaDec, "khóm", SaDecHamletCount - real}}, generatedCommunes...)
	for _, g := range gen {
		name, ok := names[g.code]
		if !ok {
			return nil, fmt.Errorf("demo: commune %s is not in %s", g.code, CodeList)
		}
		for i := 1; i <= g.n; i++ {
			h := unitfile.Hamlet{
				Communes: []unitfile.CommuneRef{{CodeList: CodeList, Code: g.code, Name: name}},
				Type:     g.typ,
				// Plainly made up: "minh hoạ" (illustration) says so to anyone reading it.
				Name:             unitfile.FullHamletName(g.typ, fmt.Sprintf("minh hoạ %d", i)),
				Generated:        true,
				FiguresGenerated: true,
				Source:           "cdtsync demo (generated)",
			}
			r := rng(h.Name, g.code)
			h.Households = ptr(households(r, g.typ))
			h.Adults = ptr(adults(r, *h.Households))
			out.Hamlets = append(out.Hamlets, h)
		}
	}
	sort.SliceStable(out.Hamlets, func(i, j int) bool { return out.Hamlets[i].Home().Code < out.Hamlets[j].Home().Code })
	return out, nil
}

// rng is a random source seeded by a hamlet's name and commune, so that every run of the
// demo generates the same figures (and a second run changes nothing).
func rng(name, commune string) *rand.Rand {
	h := fnv.New64a()
	h.Write([]byte(commune + "/" + name))
	s := h.Sum64()
	return rand.New(rand.NewPCG(s, s^0x9e3779b97f4a7c15))
}

// households generates a plausible household count: urban khóm and tổ dân phố are
// larger than rural ấp, thôn and bản.
func households(r *rand.Rand, typ string) int64 {
	lo, hi := 250, 650
	switch typ {
	case "khóm", "tổ dân phố", "khu phố":
		lo, hi = 350, 900
	case "thôn", "bản", "buôn", "xóm", "làng":
		lo, hi = 150, 400
	}
	return int64(lo + r.IntN(hi-lo+1))
}

// adults generates an adult population for a household count.
func adults(r *rand.Rand, households int64) int64 {
	size := personsPerHousehold + (r.Float64()-0.5)*0.6
	return round(float64(households) * size * adultShare)
}

func round(f float64) int64 { return int64(math.Round(f)) }

func ptr(v int64) *int64 { return &v }
