package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/cdtsync/cdtsync/clientsdk"
	"github.com/cdtsync/cdtsync/schema"
)

// logFlags are the flags of a log's fields, shared by record and edit.
type logFlags struct {
	hamlet, kind, at, cccd, household string
	ageBand, gender, outcome, note    string
	consent                           bool
	attendees                         int64
	lat, lon, accuracy                float64
	clearLocation                     bool
}

func addLogFlags(fs *flag.FlagSet, edit bool) *logFlags {
	f := &logFlags{}
	fs.StringVar(&f.hamlet, "hamlet", "", "ấp/thôn: mã số hoặc tên (xem cdt hamlets) / hamlet id or name (see cdt hamlets)")
	fs.StringVar(&f.kind, "kind", "", "loại hoạt động (xem cdt kinds) / activity kind code (see cdt kinds)")
	fs.StringVar(&f.at, "at", "", "thời điểm: dd/mm/yyyy hh:mm hoặc RFC 3339; mặc định bây giờ / when: dd/mm/yyyy hh:mm or RFC 3339; default now")
	fs.StringVar(&f.cccd, "cccd", "", "số CCCD 12 số, được băm trên máy, không lưu; \"-\" đọc từ stdin / 12-digit citizen ID, hashed on the phone, never stored; \"-\" reads stdin")
	fs.StringVar(&f.household, "household", "", "mã hộ, được băm / household identifier, hashed")
	fs.BoolVar(&f.consent, "consent", false, "người dân đồng ý / the resident consented (needed with --cccd or --household)")
	fs.StringVar(&f.ageBand, "age-band", "", "nhóm tuổi / age band: "+strings.Join(schema.AgeBands, ", "))
	fs.StringVar(&f.gender, "gender", "", "giới tính / gender: "+strings.Join(schema.Genders, ", "))
	fs.Int64Var(&f.attendees, "attendees", 0, "số người tham dự (buổi tập huấn) / attendees of a group session")
	fs.StringVar(&f.outcome, "outcome", "", "kết quả / outcome: completed (hoàn thành), incomplete (chưa hoàn thành)")
	fs.StringVar(&f.note, "note", "", "ghi chú, tối đa 500 ký tự / note, at most 500 characters")
	fs.Float64Var(&f.lat, "lat", 0, "vĩ độ / latitude")
	fs.Float64Var(&f.lon, "lon", 0, "kinh độ / longitude")
	fs.Float64Var(&f.accuracy, "accuracy", 0, "sai số vị trí (m) / position accuracy in metres")
	if edit {
		fs.BoolVar(&f.clearLocation, "clear-location", false, "xoá vị trí / clear the position")
	}
	return f
}

// parseWhen reads --at: RFC 3339, or dd/mm/yyyy [hh:mm] in Vietnam time.
func parseWhen(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	for _, layout := range []string{"02/01/2006 15:04", "2/1/2006 15:04", "02/01/2006", "2/1/2006"} {
		if t, err := time.ParseInLocation(layout, strings.TrimSpace(s), vietnam); err == nil {
			return t, nil
		}
	}
	return time.Time{}, schema.Errorf(schema.CodeInvalidField, "--at: cần dd/mm/yyyy hh:mm hoặc RFC 3339 / dd/mm/yyyy hh:mm or RFC 3339 expected")
}

// readCCCD returns --cccd, reading it from stdin for "-" (so it is not in the shell's
// history or the process list).
func (m *Main) readCCCD(v string) (string, error) {
	if v != "-" {
		return v, nil
	}
	line, err := bufio.NewReader(m.Stdin).ReadString('\n')
	if err != nil && line == "" {
		return "", errors.New("không đọc được số CCCD từ stdin / cannot read the CCCD from stdin")
	}
	return strings.TrimSpace(line), nil
}

// hamletID resolves --hamlet: an id, or a name (or a unique part of one) from the pick-list.
func hamletID(ctx context.Context, sdk *clientsdk.Client, s string) (int64, error) {
	if id, err := strconv.ParseInt(s, 10, 64); err == nil {
		return id, nil
	}
	hs, err := sdk.Hamlets(ctx)
	if err != nil {
		return 0, err
	}
	if len(hs) == 0 {
		return 0, schema.Errorf(schema.CodeNotFound, "Chưa có danh mục ấp/thôn: chạy cdt sync, hoặc dùng mã số / no hamlet pick-list yet: run cdt sync, or give the id")
	}
	want := strings.ToLower(strings.TrimSpace(s))
	var found []schema.Unit
	for _, h := range hs {
		name := strings.ToLower(h.Name)
		if name == want {
			return h.ID, nil
		}
		if strings.Contains(name, want) {
			found = append(found, h)
		}
	}
	if len(found) == 1 {
		return found[0].ID, nil
	}
	if len(found) == 0 {
		return 0, schema.Errorf(schema.CodeUnknownHamlet, "Không có ấp/thôn %q trong danh mục (cdt hamlets) / no hamlet %q in the pick-list (cdt hamlets)", s, s)
	}
	return 0, schema.Errorf(schema.CodeInvalid, "%q khớp nhiều ấp/thôn; ghi rõ hơn / %q matches several hamlets; be more precise", s, s)
}

// record: cdt record --hamlet H --kind K [fields…]
func (m *Main) record(ctx context.Context, args []string) error {
	fs, c := m.flags("record")
	f := addLogFlags(fs, false)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("thừa đối số / unexpected arguments: %v", fs.Args())
	}
	sdk, err := m.open(ctx, c, clientsdk.Options{})
	if err != nil {
		return err
	}
	defer sdk.Close()
	if f.hamlet == "" || f.kind == "" {
		return errors.New("cần --hamlet và --kind / --hamlet and --kind are required")
	}
	e := clientsdk.Entry{Kind: f.kind, HouseholdID: f.household, Consent: f.consent, AgeBand: f.ageBand,
		Gender: f.gender, Attendees: f.attendees, Outcome: f.outcome, Note: f.note}
	if e.HamletID, err = hamletID(ctx, sdk, f.hamlet); err != nil {
		return err
	}
	if f.at != "" {
		if e.OccurredAt, err = parseWhen(f.at); err != nil {
			return err
		}
	}
	if e.CCCD, err = m.readCCCD(f.cccd); err != nil {
		return err
	}
	fs.Visit(func(fl *flag.Flag) {
		switch fl.Name {
		case "lat":
			e.Lat = &f.lat
		case "lon":
			e.Lon = &f.lon
		case "accuracy":
			e.AccuracyM = &f.accuracy
		}
	})
	l, err := sdk.Record(ctx, e)
	e.CCCD = ""
	if err != nil {
		return err
	}
	if c.json {
		return m.printJSON(l)
	}
	fmt.Fprintf(m.Stdout, "Đã ghi nhận / recorded: %s (chưa đồng bộ / not yet synced)\n", l.ID)
	return nil
}

// edit: cdt edit ID [fields…]; only the flags given change.
func (m *Main) edit(ctx context.Context, args []string) error {
	fs, c := m.flags("edit")
	f := addLogFlags(fs, true)
	id, rest := leadingArg(args)
	if err := fs.Parse(rest); err != nil {
		return err
	}
	if id == "" && fs.NArg() == 1 {
		id = fs.Arg(0)
	}
	if id == "" {
		return errors.New("cần mã nhật ký / a log id is needed: cdt edit ID --note …")
	}
	sdk, err := m.open(ctx, c, clientsdk.Options{})
	if err != nil {
		return err
	}
	defer sdk.Close()
	var ch clientsdk.Changes
	var ferr error
	fs.Visit(func(fl *flag.Flag) {
		switch fl.Name {
		case "hamlet":
			h, err := hamletID(ctx, sdk, f.hamlet)
			ch.HamletID, ferr = &h, errors.Join(ferr, err)
		case "kind":
			ch.Kind = &f.kind
		case "at":
			t, err := parseWhen(f.at)
			ch.OccurredAt, ferr = &t, errors.Join(ferr, err)
		case "cccd":
			v, err := m.readCCCD(f.cccd)
			ch.CCCD, ferr = &v, errors.Join(ferr, err)
		case "household":
			ch.HouseholdID = &f.household
		case "consent":
			ch.Consent = &f.consent
		case "age-band":
			ch.AgeBand = &f.ageBand
		case "gender":
			ch.Gender = &f.gender
		case "attendees":
			ch.Attendees = &f.attendees
		case "outcome":
			ch.Outcome = &f.outcome
		case "note":
			ch.Note = &f.note
		case "lat":
			ch.Lat = &f.lat
		case "lon":
			ch.Lon = &f.lon
		case "accuracy":
			ch.AccuracyM = &f.accuracy
		case "clear-location":
			ch.ClearLocation = f.clearLocation
		}
	})
	if ferr != nil {
		return ferr
	}
	l, err := sdk.Edit(ctx, id, ch)
	if err != nil {
		return err
	}
	if c.json {
		return m.printJSON(l)
	}
	fmt.Fprintf(m.Stdout, "Đã sửa / edited: %s (chưa đồng bộ / not yet synced)\n", l.ID)
	return nil
}

// delete: cdt delete ID
func (m *Main) delete(ctx context.Context, args []string) error {
	fs, c := m.flags("delete")
	id, rest := leadingArg(args)
	if err := fs.Parse(rest); err != nil {
		return err
	}
	if id == "" && fs.NArg() == 1 {
		id = fs.Arg(0)
	}
	if id == "" {
		return errors.New("cần mã nhật ký / a log id is needed: cdt delete ID")
	}
	sdk, err := m.open(ctx, c, clientsdk.Options{})
	if err != nil {
		return err
	}
	defer sdk.Close()
	if err := sdk.Delete(ctx, id); err != nil {
		return err
	}
	if c.json {
		return m.printJSON(map[string]any{"id": id, "deleted": true})
	}
	fmt.Fprintf(m.Stdout, "Đã xoá / deleted: %s\n", id)
	return nil
}

// leadingArg splits off a first argument that is not a flag (cdt edit ID --note …).
func leadingArg(args []string) (string, []string) {
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		return args[0], args[1:]
	}
	return "", args
}
