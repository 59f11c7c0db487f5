package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cdtsync/cdtsync/schema/unitfile"
)

// TestImportUnitsCommand runs "cdtsync import-units" on the real 2026 list, twice, with
// the flags after the folder as an admin would type them.
func TestImportUnitsCommand(t *testing.T) {
	ctx := context.Background()
	data := t.TempDir()
	list := filepath.Join("..", "..", "demo", "data", "vn-admin-2026-04-30")
	args := []string{"import-units", list, "--data", data, "--code-list", "vn-admin-2026-04-30"}

	m, out, _ := testMain(nil)
	if err := m.Run(ctx, args); err != nil {
		t.Fatal(err)
	}
	// Vietnamese first, English second.
	vi, en := strings.Index(out.String(), "Xã/phường:"), strings.Index(out.String(), "Communes:")
	if vi < 0 || en < vi || !strings.Contains(out.String(), "3.321 thêm mới") || !strings.Contains(out.String(), "3321 created") {
		t.Errorf("output:\n%s", out)
	}

	m, out, _ = testMain(nil)
	if err := m.Run(ctx, args); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "Không có thay đổi nào.") || !strings.Contains(out.String(), "Nothing changed.") {
		t.Errorf("second import output:\n%s", out)
	}

	t.Run("ErrNoCodeList", func(t *testing.T) {
		m, _, _ := testMain(nil)
		err := m.Run(ctx, []string{"import-units", "--data", data, list})
		var e *unitfile.Error
		if !errors.As(err, &e) || !strings.Contains(e.Msg, "--code-list") {
			t.Fatalf("err = %v, want a hint to use --code-list", err)
		}
	})
	t.Run("ErrBadHamletRow", func(t *testing.T) {
		f := filepath.Join(t.TempDir(), "ap.csv")
		body := "commune_code_list,commune_code,hamlet_type,hamlet_name\nvn-admin-2026-04-30,29905,khóm,Vĩnh Phước\nvn-admin-2026-04-30,29905,village,Sa Giang\n"
		if err := os.WriteFile(f, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		m, _, _ := testMain(nil)
		err := m.Run(ctx, []string{"import-units", "--data", data, f})
		if err == nil || !strings.Contains(err.Error(), "ap.csv:3:") {
			t.Fatalf("err = %v, want a problem on line 3", err)
		}
	})
}

// TestDemoCommand loads the demo twice: the second run finds everything in place.
func TestDemoCommand(t *testing.T) {
	ctx := context.Background()
	data := t.TempDir()
	m, out1, _ := testMain(nil)
	if err := m.Run(ctx, []string{"demo", "--data", data}); err != nil {
		t.Fatal(err)
	}
	m, out2, _ := testMain(nil)
	if err := m.Run(ctx, []string{"demo", "--data", data}); err != nil {
		t.Fatal(err)
	}
	if out1.String() != out2.String() || !strings.Contains(out1.String(), "Phường Sa Đéc") {
		t.Errorf("demo output changed between runs:\n%s\n%s", out1, out2)
	}
}
