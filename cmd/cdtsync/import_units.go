package main

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/cdtsync/cdtsync/schema/unitfile"
	"github.com/cdtsync/cdtsync/store/sqlite"
)

const importUnitsUsage = `cdtsync import-units [--data DIR] [--code-list vn-admin-YYYY-MM-DD] [--placement FILE] [--pending FILE] [--dry-run] FILE|DIR

Nhập đơn vị hành chính: danh mục 3 cấp (provinces.csv, districts.csv, wards.csv), danh mục
2 cấp từ 01/07/2025 (provinces.csv, wards.csv), bảng chuyển đổi 2025-07-01
(new_ward_from_old_ward.csv …), tệp ấp/thôn, hoặc tệp xếp ấp/thôn. Nhập lại cùng tệp không
thay đổi gì. Ấp/thôn của xã cũ bị chia tách chỉ được chuyển theo tệp --placement.

Imports administrative units: a three-tier code list, a two-tier list (from 2025-07-01), the
2025-07-01 mapping, a hamlet CSV or a placement CSV. Importing the same file again changes
nothing. Hamlets of split communes move only as the --placement file says.
`

// importUnits runs "cdtsync import-units".
func (m *Main) importUnits(ctx context.Context, args []string) error {
	fs := m.flagSet("import-units")
	fs.Usage = func() { fmt.Fprint(m.Stderr, importUnitsUsage); fs.PrintDefaults() }
	data := m.dataFlag(fs)
	database := m.databaseFlag(fs)
	codeList := fs.String("code-list", "", "phiên bản danh mục, nếu SOURCE.txt không ghi ngày hiệu lực / the code list's version, if SOURCE.txt gives no effective date")
	placement := fs.String("placement", "", "tệp xếp ấp/thôn của xã bị chia tách / placement CSV for hamlets of split communes")
	pending := fs.String("pending", "", "ghi các ấp/thôn còn cần xếp ra tệp CSV này (mẫu cho --placement) / write the hamlets still needing placement to this CSV (a --placement template)")
	dryRun := fs.Bool("dry-run", false, "chỉ báo cáo, không thay đổi gì / report only, change nothing")
	// Flags may come before or after the file.
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return err
		}
		if args = fs.Args(); len(args) == 0 {
			break
		}
		pos, args = append(pos, args[0]), args[1:]
	}
	if len(pos) > 1 || (len(pos) == 0 && *placement == "") {
		fs.Usage()
		return errors.New("cần đúng một tệp hoặc thư mục / give exactly one file or folder")
	}

	in := sqlite.UnitImport{DryRun: *dryRun}
	source := ""
	if len(pos) == 1 {
		f, err := unitfile.Read(pos[0], unitfile.Options{CodeList: *codeList})
		if err != nil {
			return err
		}
		in.File, source = f, pos[0]
	}
	if *placement != "" {
		f, err := unitfile.Read(*placement, unitfile.Options{})
		if err != nil {
			return err
		}
		if f.Kind != unitfile.KindPlacement {
			return fmt.Errorf("%s không phải tệp xếp ấp/thôn (cần cột to_code_list, to_code) / %s is not a placement CSV (needs to_code_list, to_code)",
				*placement, *placement)
		}
		in.Placements, in.PlacementFile = f.Placements, *placement
		if source == "" {
			source = *placement
		}
	}

	db, err := m.openStore(ctx, *data, *database)
	if err != nil {
		return err
	}
	defer db.Close()
	start := time.Now()
	rep, err := db.ImportUnits(ctx, in)
	if err != nil {
		return err
	}
	writeImportReport(m.Stdout, rep, source, time.Since(start))
	if *pending != "" {
		if err := writePending(*pending, rep.NeedPlacement); err != nil {
			return err
		}
		fmt.Fprintf(m.Stdout, "\nĐã ghi %s ấp/thôn cần xếp vào %s / wrote %d hamlets needing placement to %s\n",
			viNumber(len(rep.NeedPlacement)), *pending, len(rep.NeedPlacement), *pending)
	}
	return nil
}

var kindNames = map[unitfile.Kind][2]string{
	unitfile.KindThreeTier: {"danh mục 3 cấp (tỉnh – huyện – xã)", "three-tier code list (province – district – commune)"},
	unitfile.KindTwoTier:   {"danh mục 2 cấp (tỉnh – xã)", "two-tier code list (province – commune)"},
	unitfile.KindMapping:   {"bảng chuyển đổi đơn vị hành chính", "administrative reorganisation mapping"},
	unitfile.KindHamlets:   {"danh sách ấp/thôn", "hamlet list"},
	unitfile.KindPlacement: {"tệp xếp ấp/thôn", "hamlet placements"},
}

var reasonNames = map[string][2]string{
	sqlite.PendingSplit:         {"xã cũ bị chia cho nhiều xã mới", "old commune split between new ones"},
	sqlite.PendingNotInMapping:  {"xã cũ không có trong bảng chuyển đổi", "old commune not in the mapping"},
	sqlite.PendingNoDestination: {"xã mới không có trong danh mục hiện hành", "new commune not in the current list"},
	sqlite.PendingEnded:         {"xã/phường đã kết thúc", "commune ended"},
}

// maxPendingShown bounds the hamlets listed on screen; --pending writes them all.
const maxPendingShown = 30

// writeImportReport prints what an import did, in Vietnamese, then in English.
func writeImportReport(w io.Writer, rep sqlite.ImportReport, source string, took time.Duration) {
	kind := kindNames[rep.Kind]
	levels := []struct {
		vi, en string
		c      sqlite.ImportCounts
	}{
		{"Tỉnh/thành phố", "Provinces", rep.Provinces},
		{"Quận/huyện", "Districts", rep.Districts},
		{"Xã/phường", "Communes", rep.Communes},
		{"Ấp/thôn", "Hamlets", rep.Hamlets},
	}
	for lang := 0; lang < 2; lang++ {
		vi := lang == 0
		if !vi {
			fmt.Fprintln(w)
		}
		what := kind[lang]
		if rep.CodeList != "" {
			if vi {
				what += fmt.Sprintf(" %s (hiệu lực %s)", rep.CodeList, viDate(rep.Effective))
			} else {
				what += fmt.Sprintf(" %s (effective %s)", rep.CodeList, rep.Effective)
			}
		}
		switch {
		case vi && rep.DryRun:
			fmt.Fprintf(w, "Chạy thử %s từ %s (không thay đổi gì), %s giây:\n", what, source, viSeconds(took))
		case vi:
			fmt.Fprintf(w, "Đã nhập %s từ %s trong %s giây:\n", what, source, viSeconds(took))
		case rep.DryRun:
			fmt.Fprintf(w, "Dry run of the %s from %s (nothing changed), %.1f s:\n", what, source, took.Seconds())
		default:
			fmt.Fprintf(w, "Imported the %s from %s in %.1f s:\n", what, source, took.Seconds())
		}
		for _, l := range levels {
			c := l.c
			if c == (sqlite.ImportCounts{}) {
				continue
			}
			if vi {
				line := fmt.Sprintf("  %-16s %s thêm mới · %s cập nhật · %s không đổi · %s kết thúc", l.vi+":",
					viNumber(c.Created), viNumber(c.Updated), viNumber(c.Unchanged), viNumber(c.Ended))
				if c.Moved > 0 {
					line += fmt.Sprintf(" · %s chuyển sang đơn vị cấp trên mới", viNumber(c.Moved))
				}
				fmt.Fprintln(w, line)
			} else {
				line := fmt.Sprintf("  %-16s %d created · %d updated · %d unchanged · %d ended", l.en+":",
					c.Created, c.Updated, c.Unchanged, c.Ended)
				if c.Moved > 0 {
					line += fmt.Sprintf(" · %d moved to a new parent", c.Moved)
				}
				fmt.Fprintln(w, line)
			}
		}
		if !rep.Changed() {
			fmt.Fprintln(w, [2]string{"  Không có thay đổi nào.", "  Nothing changed."}[lang])
		}
		if rep.Placed > 0 {
			fmt.Fprintln(w, [2]string{fmt.Sprintf("  Đã xếp %s ấp/thôn theo tệp xếp.", viNumber(rep.Placed)),
				fmt.Sprintf("  Placed %d hamlet(s) as the placement file says.", rep.Placed)}[lang])
		}
		if n := len(rep.NeedPlacement); n > 0 {
			if vi {
				fmt.Fprintf(w, "  %s ấp/thôn còn thuộc xã/phường đã kết thúc, cần chỉ định xã/phường mới (không tự đoán):\n", viNumber(n))
			} else {
				fmt.Fprintf(w, "  %d hamlet(s) still hang under an ended commune and need a new one (never guessed):\n", n)
			}
			for i, p := range rep.NeedPlacement {
				if i == maxPendingShown {
					fmt.Fprintln(w, [2]string{fmt.Sprintf("    … và %s ấp/thôn khác (--pending TỆP ghi đủ danh sách)", viNumber(n-i)),
						fmt.Sprintf("    … and %d more (--pending FILE writes them all)", n-i)}[lang])
					break
				}
				fmt.Fprintln(w, "    "+pendingLine(p, vi))
			}
			fmt.Fprintln(w, [2]string{"  Ghi xã/phường mới vào tệp xếp ấp/thôn (xem README) rồi chạy lại với --placement TỆP.",
				"  Put the new communes in a placement CSV (see the README) and run again with --placement FILE."}[lang])
		}
		if rep.UsersOnEnded+rep.TeamsOnEnded > 0 {
			fmt.Fprintln(w, [2]string{
				fmt.Sprintf("  %s tài khoản và %s tổ còn gắn với đơn vị đã kết thúc: hãy chuyển sang đơn vị hiện hành.",
					viNumber(rep.UsersOnEnded), viNumber(rep.TeamsOnEnded)),
				fmt.Sprintf("  %d accounts and %d teams are still attached to ended units: move them to current ones.",
					rep.UsersOnEnded, rep.TeamsOnEnded)}[lang])
		}
	}
}

func pendingLine(p sqlite.PendingHamlet, vi bool) string {
	reason := reasonNames[p.Reason]
	var cands []string
	for _, c := range p.Candidates {
		cands = append(cands, fmt.Sprintf("%s (%s)", c.Name, c.Code))
	}
	if vi {
		s := fmt.Sprintf("[số %d] %s — %s (mã %s, %s), %s", p.HamletID, p.Hamlet, p.Commune, p.CommuneCode, p.CommuneCodeList, reason[0])
		if len(cands) > 0 {
			s += "; có thể về: " + strings.Join(cands, ", ")
		}
		return s
	}
	s := fmt.Sprintf("[id %d] %s — %s (code %s, %s), %s", p.HamletID, p.Hamlet, p.Commune, p.CommuneCode, p.CommuneCodeList, reason[1])
	if len(cands) > 0 {
		s += "; candidates: " + strings.Join(cands, ", ")
	}
	return s
}

// writePending writes the hamlets needing placement as a placement CSV to fill in: the
// admin writes to_code (and to_code_list) on the rows decided; rows left without a
// to_code are skipped on import. UTF-8 with a byte-order mark, so Excel shows the
// diacritics.
func writePending(name string, ps []sqlite.PendingHamlet) error {
	f, err := os.Create(name)
	if err != nil {
		return err
	}
	if _, err := f.WriteString("\ufeff"); err != nil {
		f.Close()
		return err
	}
	w := csv.NewWriter(f)
	w.Write([]string{"hamlet_id", "hamlet_name", "from_code_list", "from_code", "from_name", "reason", "candidates",
		"to_code_list", "to_code", "to_name"})
	for _, p := range ps {
		var cands []string
		lists := map[string]bool{}
		for _, c := range p.Candidates {
			cands = append(cands, c.Code+" "+c.Name)
			lists[c.CodeList] = true
		}
		toList := ""
		if len(lists) == 1 {
			toList = p.Candidates[0].CodeList
		}
		w.Write([]string{strconv.FormatInt(p.HamletID, 10), p.Hamlet, p.CommuneCodeList, p.CommuneCode, p.Commune,
			reasonNames[p.Reason][0], strings.Join(cands, "; "), toList, "", ""})
	}
	w.Flush()
	if err := w.Error(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// viNumber formats n the Vietnamese way: dots between thousands (10.035).
func viNumber(n int) string {
	s := strconv.Itoa(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte('.')
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// viSeconds formats a duration in seconds with a decimal comma (0,3).
func viSeconds(d time.Duration) string {
	return strings.Replace(strconv.FormatFloat(d.Seconds(), 'f', 1, 64), ".", ",", 1)
}

// viDate turns YYYY-MM-DD into dd/mm/yyyy.
func viDate(d string) string {
	t, err := time.Parse(time.DateOnly, d)
	if err != nil {
		return d
	}
	return t.Format("02/01/2006")
}
