package clientsdk

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"unicode"

	"github.com/cdtsync/cdtsync/schema"
)

// cccdProvinces are the codes a 12-digit citizen-ID number (CCCD) may start with: the
// three-digit code of the province or city of birth registration (Circular 07/2016/TT-BCA,
// later 59/2021/TT-BCA), the 63 provinces before the 2025 mergers. Numbers already issued
// keep their codes after 2025-07-01. A test checks the list against the GSO code list in
// testdata/units/vn-admin-2024-11-01/provinces.csv.
var cccdProvinces = func() map[string]bool {
	m := map[string]bool{}
	for _, c := range strings.Fields(`001 002 004 006 008 010 011 012 014 015 017 019 020 022 024
		025 026 027 030 031 033 034 035 036 037 038 040 042 044 045 046 048 049 051 052 054 056
		058 060 062 064 066 067 068 070 072 074 075 077 079 080 082 083 084 086 087 089 091 092
		093 094 095 096`) {
		m[c] = true
	}
	return m
}()

// NormalizeCCCD returns the 12 digits of a citizen-ID number as typed: spaces, dots and
// dashes are removed; anything else, a length other than 12, or a first three digits that
// are no province code is a CodeInvalidField error. The error never repeats the number.
func NormalizeCCCD(s string) (string, error) {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == '.' || r == '-' || unicode.IsSpace(r) || unicode.Is(unicode.Pd, r):
		default:
			return "", schema.Errorf(schema.CodeInvalidField,
				"Số CCCD chỉ gồm chữ số / a citizen-ID number (CCCD) has digits only")
		}
	}
	d := b.String()
	if len(d) != 12 {
		return "", schema.Errorf(schema.CodeInvalidField,
			"Số CCCD phải có đúng 12 chữ số (nhận được %d) / a citizen-ID number (CCCD) has exactly 12 digits (got %d)", len(d), len(d))
	}
	if !cccdProvinces[d[:3]] {
		return "", schema.Errorf(schema.CodeInvalidField,
			"Ba số đầu của CCCD không phải mã tỉnh / the first three digits of the CCCD are not a province code")
	}
	return d, nil
}

// NormalizeHouseholdID returns a household identifier as refs use it: every space
// removed, upper-cased. An empty identifier is a CodeInvalidField error.
func NormalizeHouseholdID(s string) (string, error) {
	n := strings.ToUpper(strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) {
			return -1
		}
		return r
	}, s))
	if n == "" {
		return "", schema.Errorf(schema.CodeInvalidField, "Mã hộ trống / the household identifier is empty")
	}
	return n, nil
}

// CitizenRef returns citizen_ref for a citizen-ID number: lowercase hex of
// HMAC-SHA-256(key, "citizen:" + the 12 digits), docs/PROTOCOL.md §8. key is the
// deployment's citizen key. The number is validated with NormalizeCCCD.
func CitizenRef(key []byte, cccd string) (string, error) {
	d, err := NormalizeCCCD(cccd)
	if err != nil {
		return "", err
	}
	return keyedRef(key, "citizen:"+d), nil
}

// HouseholdRef returns household_ref for a household identifier: lowercase hex of
// HMAC-SHA-256(key, "household:" + NormalizeHouseholdID(id)).
func HouseholdRef(key []byte, householdID string) (string, error) {
	n, err := NormalizeHouseholdID(householdID)
	if err != nil {
		return "", err
	}
	return keyedRef(key, "household:"+n), nil
}

func keyedRef(key []byte, msg string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(msg))
	return hex.EncodeToString(m.Sum(nil))
}
