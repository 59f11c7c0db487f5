package schema

import (
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
