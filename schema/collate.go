package schema

import (
	"bytes"
	"sort"

	"golang.org/x/text/collate"
	"golang.org/x/text/language"
)

// NewCollator returns the order in which cdtsync lists names of units and people:
// Vietnamese collation ("Đặng" after "Dương", "Ấp" with "Ap"), with numbers compared as
// numbers ("Khóm 2" before "Khóm 10", "Tổ 9" before "Tổ 12"), as on the lists officials
// keep. A Collator is not safe for concurrent use: make one per goroutine.
func NewCollator() *collate.Collator {
	return collate.New(language.Vietnamese, collate.Numeric)
}

// SortByName sorts items stably in NewCollator's order of name(item), computing each
// item's collation key once (a province report sorts 1,600 rows).
func SortByName[T any](items []T, name func(T) string) {
	SortWith(NewCollator(), items, name)
}

// SortWith is SortByName with a collator the caller reuses over many sorts.
func SortWith[T any](c *collate.Collator, items []T, name func(T) string) {
	var buf collate.Buffer
	type keyed struct {
		k []byte
		v T
	}
	ks := make([]keyed, len(items))
	for i, it := range items {
		ks[i] = keyed{append([]byte(nil), c.KeyFromString(&buf, name(it))...), it}
		buf.Reset()
	}
	sort.SliceStable(ks, func(i, j int) bool { return bytes.Compare(ks[i].k, ks[j].k) < 0 })
	for i := range ks {
		items[i] = ks[i].v
	}
}
