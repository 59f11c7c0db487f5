package schema

// Unit levels. The tree may skip the district level (two-tier units after 2025-07-01).
const (
	LevelProvince = "province"
	LevelDistrict = "district"
	LevelCommune  = "commune"
	LevelHamlet   = "hamlet"
)

// LevelRank orders levels from the top of the tree.
func LevelRank(level string) int {
	switch level {
	case LevelProvince:
		return 0
	case LevelDistrict:
		return 1
	case LevelCommune:
		return 2
	case LevelHamlet:
		return 3
	}
	return -1
}

// Unit is an administrative unit: province, district, commune/ward or hamlet.
type Unit struct {
	ID         int64  `json:"id"`
	ParentID   *int64 `json:"parent_id"`
	Level      string `json:"level"`
	UnitType   string `json:"unit_type"`           // Tỉnh, Thành phố, Huyện, Xã, Phường, Đặc khu, ấp, thôn, khóm …
	Code       string `json:"code,omitempty"`      // official GSO code, where one exists
	CodeList   string `json:"code_list,omitempty"` // the code list the code belongs to, e.g. vn-admin-2026-04-30
	Name       string `json:"name"`                // full name with the unit type: "Phường Sa Đéc", "Khóm Vĩnh Phước"
	NameEN     string `json:"name_en,omitempty"`
	Households *int64 `json:"households,omitempty"` // số hộ, where known
	Adults     *int64 `json:"adults,omitempty"`     // dân số trưởng thành, where known
	ValidFrom  string `json:"valid_from,omitempty"` // YYYY-MM-DD
	ValidTo    string `json:"valid_to,omitempty"`   // YYYY-MM-DD; set when the unit ended (merged, dissolved)
	Generated  bool   `json:"generated,omitempty"`  // demo data with a made-up name
	// FiguresGenerated: Households or Adults are made up or estimated (demo data), not
	// an official count.
	FiguresGenerated bool   `json:"figures_generated,omitempty"`
	Path             string `json:"-"`
}

// Target is a chỉ tiêu: a value for a unit, a metric and a period. Targets are versioned:
// importing a new value for the same unit, metric and period adds a version; the newest
// counts.
type Target struct {
	UnitID  int64   `json:"unit_id"`
	Metric  string  `json:"metric"` // an activity-kind code, or "people" / "households" (distinct reached, any kind)
	Period  string  `json:"period"` // "2026", "2026-Q4" or "2026-11"
	Value   float64 `json:"value"`
	Version int     `json:"version"`
}

// Target metrics that are not activity kinds.
const (
	MetricPeople     = "people"
	MetricHouseholds = "households"
)
