package report

import (
	"testing"

	"github.com/cdtsync/cdtsync/schema"
)

// Reports list sibling units as officials' lists do: Vietnamese order, numbers as numbers
// (Khóm 2 before Khóm 10), each unit followed by its subtree.
func TestReportUnitOrder(t *testing.T) {
	us := map[string]*schema.Unit{}
	add := func(id int64, path, name string) { us[path] = &schema.Unit{ID: id, Path: path, Name: name} }
	add(1, "/1/", "Phường Sa Đéc")
	add(2, "/1/2/", "Khóm 10")
	add(3, "/1/3/", "Khóm 2")
	add(4, "/1/4/", "Ấp Đông Huệ")
	add(5, "/1/5/", "Khóm 1")
	add(6, "/6/", "Phường An Hòa")
	add(7, "/6/7/", "Ấp Tân Hòa")
	order := TreeOrder(us)
	want := []int64{6, 7, 1, 4, 5, 3, 2}
	for i, id := range want {
		if order[id] != i {
			t.Fatalf("unit %d at %d, want %d (order %v)", id, order[id], i, order)
		}
	}
}
