package unitfile

import (
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// NormalizeName returns name as it should be stored and shown: Unicode NFC, no leading or
// trailing space, and every run of white space (including no-break spaces) as one space.
// It keeps the source's tone-mark placement ("Hoà" stays "Hoà"); compare names with
// NameKey.
func NormalizeName(name string) string {
	return strings.Join(strings.Fields(norm.NFC.String(name)), " ")
}

// NameKey returns the form in which two names are compared: NormalizeName, lower case,
// and one tone-mark placement. Sources disagree on where the tone goes in the open
// syllables oa, oe and uy ("Hoà" / "Hòa", "Khoẻ" / "Khỏe", "Thuỷ" / "Thủy"); the key
// always puts it on the first vowel, so both spellings give the same key. Spelling
// variants that are not tone placement ("Qui" / "Quy") stay different.
func NameKey(name string) string {
	words := strings.Fields(strings.ToLower(norm.NFC.String(name)))
	for i, w := range words {
		words[i] = canonicalTone(w)
	}
	return strings.Join(words, " ")
}

// Tone marks as combining characters (NFD): huyền, sắc, hỏi, ngã, nặng.
func isTone(r rune) bool {
	switch r {
	case '\u0300', '\u0301', '\u0309', '\u0303', '\u0323':
		return true
	}
	return false
}

// letter is one base letter with its combining marks (NFD).
type letter struct {
	base  rune
	marks []rune
}

func (l letter) hasQualityMark() bool {
	for _, m := range l.marks {
		if !isTone(m) {
			return true // circumflex, breve or horn: â ê ô ă ơ ư
		}
	}
	return false
}

// canonicalTone moves the tone of a word-final oa, oe or uy (not after q) to the first
// vowel. w is lower case.
func canonicalTone(w string) string {
	var ls []letter
	for _, r := range norm.NFD.String(w) {
		if unicode.Is(unicode.Mn, r) && len(ls) > 0 {
			ls[len(ls)-1].marks = append(ls[len(ls)-1].marks, r)
			continue
		}
		ls = append(ls, letter{base: r})
	}
	n := len(ls)
	if n < 2 {
		return norm.NFC.String(w)
	}
	a, b := &ls[n-2], &ls[n-1]
	pair := string([]rune{a.base, b.base})
	switch pair {
	case "oa", "oe":
	case "uy":
		if n >= 3 && ls[n-3].base == 'q' {
			return norm.NFC.String(w) // "quý": u belongs to the consonant qu
		}
	default:
		return norm.NFC.String(w)
	}
	if a.hasQualityMark() || b.hasQualityMark() {
		return norm.NFC.String(w)
	}
	// A third vowel before the pair (ngoắt, khuya …) is not one of these syllables.
	if n >= 3 && strings.ContainsRune("aeiouy", ls[n-3].base) {
		return norm.NFC.String(w)
	}
	var tone rune
	for _, l := range []*letter{a, b} {
		kept := l.marks[:0]
		for _, m := range l.marks {
			if isTone(m) {
				tone = m
			} else {
				kept = append(kept, m)
			}
		}
		l.marks = kept
	}
	if tone == 0 {
		return norm.NFC.String(w)
	}
	a.marks = append(a.marks, tone)
	var sb strings.Builder
	for _, l := range ls {
		sb.WriteRune(l.base)
		for _, m := range l.marks {
			sb.WriteRune(m)
		}
	}
	return norm.NFC.String(sb.String())
}

// HamletTypes are the kinds of hamlet-level units a hamlet file may name, in their
// canonical (lower-case) spelling. Their names vary by region: ấp and khóm in the Mekong
// delta, thôn and tổ dân phố in the north and centre, bản in the northern mountains, buôn,
// plei and bon in the Central Highlands, phum and sóc in Khmer communities.
var HamletTypes = []string{
	"ấp", "thôn", "khóm", "tổ dân phố", "bản", "buôn", "xóm", "làng", "khu phố", "khối phố",
	"khu", "tiểu khu", "phum", "sóc", "plei", "bon",
}

var hamletTypeByKey = func() map[string]string {
	m := make(map[string]string, len(HamletTypes))
	for _, t := range HamletTypes {
		m[NameKey(t)] = t
	}
	return m
}()

// HamletType returns the canonical spelling of a hamlet type ("Ấp", "Tổ Dân Phố" → "ấp",
// "tổ dân phố"), and false if it is not one of HamletTypes.
func HamletType(s string) (string, bool) {
	t, ok := hamletTypeByKey[NameKey(s)]
	return t, ok
}

// FullHamletName returns the hamlet's full name with its type in front ("ấp", "Đông Huề"
// → "Ấp Đông Huề"), leaving a name that already starts with its type as it is ("Ấp 1").
func FullHamletName(typ, name string) string {
	name = NormalizeName(name)
	k, tk := NameKey(name), NameKey(typ)
	if k == tk || strings.HasPrefix(k, tk+" ") {
		return upperFirst(name)
	}
	return upperFirst(typ) + " " + name
}

func upperFirst(s string) string {
	for i, r := range s {
		return string(unicode.ToUpper(r)) + s[i+len(string(r)):]
	}
	return s
}

// Unit types of provinces and communes as they begin a full name ("Phường Sa Đéc").
var (
	provinceTypes = []string{"Thành phố", "Tỉnh"}
	communeTypes  = []string{"Phường", "Xã", "Đặc khu", "Thị trấn"}
)

// typeFromName returns the unit type a full name begins with, from types.
func typeFromName(name string, types []string) (string, bool) {
	k := NameKey(name)
	for _, t := range types {
		if strings.HasPrefix(k, NameKey(t)+" ") {
			return t, true
		}
	}
	return "", false
}

// SameUnitName reports whether two names of a province, district or commune name the
// same unit: equal NameKeys, or equal once the unit type in front is dropped, since a
// unit may change type and keep its code ("Xã Đông Hòa" became "Phường Đông Hòa").
func SameUnitName(a, b string) bool {
	if a == b {
		return true
	}
	ka, kb := NameKey(a), NameKey(b)
	return ka == kb || stripType(ka) == stripType(kb)
}

var adminTypeKeys = func() []string {
	var ks []string
	for _, t := range []string{"Thành phố", "Tỉnh", "Quận", "Huyện", "Thị xã", "Phường", "Xã", "Thị trấn", "Đặc khu"} {
		ks = append(ks, NameKey(t)+" ")
	}
	return ks
}()

func stripType(k string) string {
	for _, t := range adminTypeKeys {
		if strings.HasPrefix(k, t) {
			return k[len(t):]
		}
	}
	return k
}
