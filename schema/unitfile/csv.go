package unitfile

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"regexp"
	"strconv"
	"strings"

	"golang.org/x/text/unicode/norm"
)

// table reads one CSV file with a header row. Columns are found by name (case and
// surrounding space ignored), in any order; extra columns are allowed. A UTF-8 byte-order
// mark, as Excel writes, is skipped.
type table struct {
	file string
	r    *csv.Reader
	cols map[string]int
	errs Errors

	rec  []string
	line int
}

func openTable(fsys fs.FS, name string, required ...string) (*table, io.Closer, error) {
	f, err := fsys.Open(name)
	if err != nil {
		return nil, nil, err
	}
	br := bufio.NewReader(f)
	if b, err := br.Peek(3); err == nil && string(b) == "\ufeff" {
		br.Discard(3)
	}
	r := csv.NewReader(br)
	r.FieldsPerRecord = -1
	r.ReuseRecord = true
	t := &table{file: name, r: r, cols: map[string]int{}}
	head, err := r.Read()
	if err != nil {
		f.Close()
		if errors.Is(err, io.EOF) {
			return nil, nil, &Error{File: name, Msg: "tệp trống / empty file"}
		}
		return nil, nil, &Error{File: name, Line: 1, Msg: "không đọc được dòng tiêu đề / cannot read the header: " + err.Error()}
	}
	for i, h := range head {
		t.cols[strings.ToLower(strings.TrimSpace(h))] = i
	}
	var missing []string
	for _, c := range required {
		if _, ok := t.cols[c]; !ok {
			missing = append(missing, c)
		}
	}
	if len(missing) > 0 {
		f.Close()
		return nil, nil, &Error{File: name, Line: 1, Msg: fmt.Sprintf("thiếu cột %s / missing column(s) %s",
			strings.Join(missing, ", "), strings.Join(missing, ", "))}
	}
	return t, f, nil
}

// header returns the lower-cased column names of a CSV file.
func header(fsys fs.FS, name string) (map[string]int, error) {
	t, c, err := openTable(fsys, name)
	if err != nil {
		return nil, err
	}
	c.Close()
	return t.cols, nil
}

func has(cols map[string]int, names ...string) bool {
	for _, n := range names {
		if _, ok := cols[n]; !ok {
			return false
		}
	}
	return true
}

// next reads the next record; false at the end or after too many errors.
func (t *table) next() bool {
	if len(t.errs) >= maxErrors {
		return false
	}
	for {
		rec, err := t.r.Read()
		if errors.Is(err, io.EOF) {
			return false
		}
		if err != nil {
			line := 0
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				line = pe.Line
			}
			t.errs = append(t.errs, &Error{File: t.file, Line: line, Msg: "dòng CSV hỏng / malformed CSV: " + err.Error()})
			return false
		}
		t.line, _ = t.r.FieldPos(0)
		t.rec = rec
		blank := true
		for _, f := range rec {
			if strings.TrimSpace(f) != "" {
				blank = false
				break
			}
		}
		if !blank {
			return true
		}
	}
}

// get returns the trimmed, NFC value of column c in the current record ("" if absent).
func (t *table) get(c string) string {
	i, ok := t.cols[c]
	if !ok || i >= len(t.rec) {
		return ""
	}
	return strings.TrimSpace(norm.NFC.String(t.rec[i]))
}

// fail records a problem with the current record.
func (t *table) fail(format string, args ...any) {
	if len(t.errs) < maxErrors {
		t.errs = append(t.errs, &Error{File: t.file, Line: t.line, Msg: fmt.Sprintf(format, args...)})
	}
}

// err returns the problems found, or nil.
func (t *table) err() error {
	if len(t.errs) == 0 {
		return nil
	}
	return t.errs
}

var digits = regexp.MustCompile(`^[0-9]+$`)

// code reads a GSO code of exactly width digits from column c. Excel drops leading zeros
// ("00004" → "4"); with pad, a shorter code is padded back (commune codes in hamlet files,
// which admins edit in Excel); without it, the row is refused.
func (t *table) code(c string, width int, pad bool) (string, bool) {
	v := t.get(c)
	switch {
	case v == "":
		t.fail("thiếu mã ở cột %s / missing code in column %s", c, c)
		return "", false
	case !digits.MatchString(v):
		t.fail("mã %q ở cột %s không phải số / code %q in column %s is not a number", v, c, v, c)
		return "", false
	case len(v) < width && pad:
		return strings.Repeat("0", width-len(v)) + v, true
	case len(v) != width:
		t.fail("mã %q ở cột %s phải có %d chữ số / code %q in column %s must have %d digits", v, c, width, v, c, width)
		return "", false
	}
	return v, true
}

// name reads a required name from column c.
func (t *table) name(c string) (string, bool) {
	v := NormalizeName(t.get(c))
	if v == "" {
		t.fail("thiếu tên ở cột %s / missing name in column %s", c, c)
		return "", false
	}
	return v, true
}

var countRE = regexp.MustCompile(`^(\d{1,3}([., ]\d{3})+|\d+)$`)

// count reads an optional non-negative whole number from column c: "1284", or with
// thousands separated by dots, commas or spaces ("1.284", as Vietnamese write it).
func (t *table) count(c string) (*int64, bool) {
	v := t.get(c)
	if v == "" {
		return nil, true
	}
	if !countRE.MatchString(v) {
		t.fail("%q ở cột %s không phải số nguyên không âm / %q in column %s is not a whole number", v, c, v, c)
		return nil, false
	}
	n, err := strconv.ParseInt(strings.NewReplacer(".", "", ",", "", " ", "").Replace(v), 10, 64)
	if err != nil {
		t.fail("%q ở cột %s quá lớn / %q in column %s is too large", v, c, v, c)
		return nil, false
	}
	return &n, true
}
