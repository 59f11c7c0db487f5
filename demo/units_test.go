package demo_test

import (
	"context"
	"testing"

	"github.com/cdtsync/cdtsync/demo"
	"github.com/cdtsync/cdtsync/schema"
	"github.com/cdtsync/cdtsync/store/sqlite"
)

func TestLoadUnits(t *testing.T) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, t.TempDir(), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	du, err := demo.LoadUnits(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	if du.ListReport.Provinces.Created != 34 || du.ListReport.Communes.Created != 3321 {
		t.Errorf("list report = %+v", du.ListReport)
	}
	// 65 curated hamlets, 13 generated for Sa Đéc, 26 for three more communes.
	if got := du.HamletReport.Hamlets.Created; got != 65+13+26 {
		t.Errorf("created %d hamlets, want %d", got, 65+13+26)
	}
	if len(du.SaDecHamlets) != demo.SaDecHamletCount {
		t.Fatalf("Sa Đéc has %d hamlets", len(du.SaDecHamlets))
	}
	sd, err := db.Unit(ctx, du.SaDec)
	if err != nil || sd.Name != "Phường Sa Đéc" || *sd.ParentID != du.Province {
		t.Fatalf("SaDec = %+v, %v", sd, err)
	}
	real, generated := 0, 0
	for _, id := range du.SaDecHamlets {
		h, err := db.Unit(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if h.Level != schema.LevelHamlet || *h.ParentID != du.SaDec || h.Households == nil || h.Adults == nil || !h.FiguresGenerated {
			t.Errorf("hamlet %+v", h)
		}
		if *h.Adults < *h.Households || *h.Adults > 4**h.Households {
			t.Errorf("%s: %d adults in %d households", h.Name, *h.Adults, *h.Households)
		}
		if h.Generated {
			generated++
		} else {
			real++
		}
	}
	if real != 19 || generated != 13 {
		t.Errorf("Sa Đéc: %d real and %d generated hamlets, want 19 and 13", real, generated)
	}
	vp, err := db.Unit(ctx, du.SaDecHamlets[len(du.SaDecHamlets)-1])
	if err != nil || vp.Name != "Khóm Vườn Hồng" || vp.Generated {
		t.Errorf("last Sa Đéc hamlet = %+v, %v", vp, err)
	}
	// Real households where the curated file has them (Thôn Phú Minh, 269).
	pm, err := db.UnitByCode(ctx, demo.CodeList, "16378")
	if err != nil {
		t.Fatal(err)
	}
	hs, err := db.ListUnits(ctx, schema.Actor{UnitID: pm.ID, UnitPath: pm.Path}, &pm.ID, false)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, h := range hs {
		if h.Name == "Thôn Phú Minh" {
			found = true
			if *h.Households != 269 || *h.Adults != 750 { // 991 people × 0.757
				t.Errorf("Thôn Phú Minh = %d households, %d adults", *h.Households, *h.Adults)
			}
		}
	}
	if !found {
		t.Error("Thôn Phú Minh is not under Phường Đông Sơn")
	}
	if len(du.Communes) != 7 || du.Communes[demo.CodeSaDec] != du.SaDec {
		t.Errorf("communes with hamlets = %v", du.Communes)
	}

	t.Run("Idempotent", func(t *testing.T) {
		var seq string
		if err := db.WriteDB().QueryRow(`SELECT value FROM meta WHERE key = 'seq'`).Scan(&seq); err != nil {
			t.Fatal(err)
		}
		again, err := demo.LoadUnits(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		if again.ListReport.Changed() || again.HamletReport.Changed() {
			t.Errorf("second load changed: %+v, %+v", again.ListReport.Total(), again.HamletReport.Total())
		}
		var seq2 string
		if err := db.WriteDB().QueryRow(`SELECT value FROM meta WHERE key = 'seq'`).Scan(&seq2); err != nil || seq2 != seq {
			t.Errorf("seq %s → %s", seq, seq2)
		}
		if again.SaDec != du.SaDec || len(again.SaDecHamlets) != len(du.SaDecHamlets) {
			t.Errorf("ids differ: %+v vs %+v", again, du)
		}
	})
}
