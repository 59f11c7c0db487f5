package schema

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"unicode"
)

// cccdProvinces are the province codes a CCCD number starts with (the place of birth
// registration): 0 followed by one of the 63 pre-2025 GSO province codes.
var cccdProvinces = func() map[string]bool {
	m := map[string]bool{}
	for _, c := range strings.Fields(`01 02 04 06 08 10 11 12 14 15 17 19 20 22 24 25 26 27 30 31 33 34 35 36 37 38
		40 42 44 45 46 48 49 51 52 54 56 58 60 62 64 66 67 68 70 72 74 75 77 79 80 82 83 84 86 87 89 91 92 93 94 95 96`) {
		m["0"+c] = true
	}
	return m
}()

// NormalizeCCCD returns the 12 digits of a citizen ID number (căn cước công dân) typed
// with spaces, dots or dashes, or a CodeInvalid error if it is not one: not 12 digits, or
// not starting with a province code.
func NormalizeCCCD(s string) (string, error) {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == ' ' || r == '.' || r == '-' || unicode.IsSpace(r):
		default:
			return "", Errorf(CodeInvalid, "Số CCCD chỉ gồm chữ số / a CCCD number has digits only")
		}
	}
	d := b.String()
	if len(d) != 12 {
		return "", Errorf(CodeInvalid, "Số CCCD phải có 12 chữ số, nhận được %d / a CCCD number has 12 digits, got %d", len(d), len(d))
	}
	if !cccdProvinces[d[:3]] {
		return "", Errorf(CodeInvalid, "Số CCCD bắt đầu bằng mã tỉnh không hợp lệ %s / a CCCD number cannot start with %s", d[:3], d[:3])
	}
	return d, nil
}

// CitizenRef is the keyed hash a phone sends instead of a citizen ID number:
// hex(HMAC-SHA-256(key, "citizen:" + the 12 digits)). key is the deployment's citizen key.
func CitizenRef(key []byte, cccd string) (string, error) {
	d, err := NormalizeCCCD(cccd)
	if err != nil {
		return "", err
	}
	return keyedRef(key, "citizen:"+d), nil
}

// HouseholdRef is the keyed hash of a household identifier: trimmed, inner spaces
// removed, upper-cased, then hex(HMAC-SHA-256(key, "household:" + id)).
func HouseholdRef(key []byte, household string) (string, error) {
	id := strings.ToUpper(strings.Join(strings.Fields(household), ""))
	if id == "" {
		return "", Errorf(CodeInvalid, "Thiếu mã hộ / household id is empty")
	}
	return keyedRef(key, "household:"+id), nil
}

func keyedRef(key []byte, msg string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(msg))
	return hex.EncodeToString(m.Sum(nil))
}
