package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestImportTargetsCommand imports the 2026 code list, then targets by GSO code from a
// semicolon CSV as Excel saves it, three times: new, unchanged, changed.
func TestImportTargetsCommand(t *testing.T) {
	ctx := context.Background()
	data := t.TempDir()
	list := filepath.Join("..", "..", "demo", "data", "vn-admin-2026-04-30")
	m, _, _ := testMain(nil)
	if err := m.Run(ctx, []string{"import-units", list, "--data", data, "--code-list", "vn-admin-2026-04-30"}); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "chi-tieu-2026.csv")
	write := func(body string) {
		if err := os.WriteFile(file, []byte("\ufeff"+body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	run := func(args ...string) (string, error) {
		m, out, _ := testMain(nil)
		err := m.Run(ctx, append([]string{"import-targets", "--data", data}, args...))
		return out.String(), err
	}
	write("code;metric;period;value;name\n82;people;2026;1.284.000;Tỉnh Đồng Tháp\n29905;vneid_level2;2026-Q4;12.000;Phường Sa Đéc\n")
	for i, want := range []string{"2 chỉ tiêu mới hoặc thay đổi, 0 không đổi", "0 chỉ tiêu mới hoặc thay đổi, 2 không đổi"} {
		out, err := run(file, "--code-list", "vn-admin-2026-04-30")
		if err != nil || !strings.Contains(out, want) {
			t.Fatalf("import %d: %v\n%s", i+1, err, out)
		}
	}
	write("code_list,code,metric,period,value\nvn-admin-2026-04-30,29905,vneid_level2,2026-Q4,12500\n")
	if out, err := run(file); err != nil || !strings.Contains(out, "1 chỉ tiêu mới hoặc thay đổi") {
		t.Fatalf("changed value: %v\n%s", err, out)
	}
	t.Run("ErrBadRows", func(t *testing.T) {
		write("code_list,code,metric,period,value\nvn-admin-2026-04-30,29905,people,2026-Q5,10\nvn-admin-2026-04-30,99999,people,2026,10\nvn-admin-2026-04-30,29905,sleeping,2026,10\nvn-admin-2026-04-30,29905,people,2026,71.5\n")
		_, err := run(file)
		if err == nil || !strings.Contains(err.Error(), "line 2") || !strings.Contains(err.Error(), "line 5") {
			t.Fatalf("err = %v, want the bad period and value reported by line", err)
		}
		write("code_list,code,metric,period,value\nvn-admin-2026-04-30,99999,people,2026,10\nvn-admin-2026-04-30,29905,sleeping,2026,10\n")
		_, err = run(file)
		if err == nil || !strings.Contains(err.Error(), "line 2") || !strings.Contains(err.Error(), "line 3") {
			t.Fatalf("err = %v, want the unknown unit and metric reported by line", err)
		}
	})
}
