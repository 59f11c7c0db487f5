package schema

import (
	"slices"
	"testing"
)

func TestNewCollatorOrdersNamesAsOfficialsDo(t *testing.T) {
	got := []string{"Khóm 10", "Ấp Đông Huệ", "Khóm 2", "Ấp An Hòa", "Khóm 1", "Dương Văn Ba", "Đặng Thị Tư", "Tổ 12", "Tổ 9"}
	want := []string{"Ấp An Hòa", "Ấp Đông Huệ", "Dương Văn Ba", "Đặng Thị Tư", "Khóm 1", "Khóm 2", "Khóm 10", "Tổ 9", "Tổ 12"}
	c := NewCollator()
	slices.SortFunc(got, c.CompareString)
	if !slices.Equal(got, want) {
		t.Fatalf("order:\n got %q\nwant %q", got, want)
	}
}
