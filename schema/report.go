package schema

// Reports: coverage per hamlet with rollups, team output, and what needs a coordinator's
// attention. The counting rules (docs/REPORTS.md):
//
//   - A counted log is complete, not deleted, outcome completed, and neither rejected nor a
//     duplicate (status pending or approved; approved only with ApprovedOnly).
//   - An incomplete attempt is a complete, not deleted log with outcome incomplete that is
//     not rejected (approved only with ApprovedOnly).
//   - People and households reached are distinct citizen_ref and household_ref values over
//     the counted logs, computed at every level (a person reached in two hamlets counts
//     once for their commune), never sums of the level below.
//   - The corrected occurred_at, as a calendar date in Asia/Ho_Chi_Minh, decides the period.

// ReportFilter selects a report's unit and period.
type ReportFilter struct {
	Unit         *int64 // a unit in the caller's subtree; nil means the caller's own unit
	From, To     string // YYYY-MM-DD, inclusive, calendar dates in Asia/Ho_Chi_Minh
	ApprovedOnly bool   // count approved logs only (coverage)
}

// Report limits.
const (
	// MaxReportDays bounds a report's period (from–to, inclusive).
	MaxReportDays = 3660
)

// KindFigures are one activity kind's figures for a unit, team or volunteer.
type KindFigures struct {
	Logs       int64 `json:"logs"`       // counted logs
	Attendees  int64 `json:"attendees"`  // attendees of the counted logs (1 for one-to-one help)
	Incomplete int64 `json:"incomplete"` // incomplete attempts
}

// TargetFigure is a target (chỉ tiêu) and how far the period's figure reached it.
type TargetFigure struct {
	Metric  string   `json:"metric"`  // people, households or an activity-kind code
	Period  string   `json:"period"`  // the target's period: "2026", "2026-Q4" or "2026-11"
	Value   float64  `json:"value"`   // the newest version's value
	Version int      `json:"version"` // the version that counts
	Reached int64    `json:"reached"` // people, households, or the kind's attendees, in the report's period
	Pct     *float64 `json:"pct"`     // Reached as a percentage of Value, one decimal; null for a zero target
}

// CoverageRow is one unit's coverage in a report period.
type CoverageRow struct {
	UnitID   int64  `json:"unit_id"`
	ParentID *int64 `json:"parent_id"`
	Level    string `json:"level"`
	UnitType string `json:"unit_type"`
	Code     string `json:"code,omitempty"`
	Name     string `json:"name"`

	People     int64 `json:"people"`     // distinct citizen_ref over counted logs
	Households int64 `json:"households"` // distinct household_ref over counted logs
	// The unit's denominators where known, and the shares reached (percent, one decimal).
	Adults          *int64   `json:"adults"`
	HouseholdsTotal *int64   `json:"households_total"`
	PeoplePct       *float64 `json:"people_pct_adults"`
	HouseholdsPct   *float64 `json:"households_pct"`
	FiguresEstimate bool     `json:"figures_estimate,omitempty"` // the denominators are estimates, not official counts

	Logs       int64 `json:"logs"`
	Attendees  int64 `json:"attendees"`
	Incomplete int64 `json:"incomplete"`
	// Kinds has every kind of the catalogue that had a log or attempt, by code.
	Kinds   map[string]KindFigures `json:"kinds"`
	Targets []TargetFigure         `json:"targets"`

	// ActiveVolunteers are the distinct volunteers with a counted log or an incomplete
	// attempt in the unit and period.
	ActiveVolunteers int64 `json:"active_volunteers"`
	// LastActivity is the latest corrected occurred_at of those logs (RFC 3339, Vietnam
	// time); null when none.
	LastActivity *string `json:"last_activity"`
}

// CoverageLevel is one level of a coverage report, top-down.
type CoverageLevel struct {
	Level string        `json:"level"`
	Rows  []CoverageRow `json:"rows"`
}

// ReportUnit names the unit a report is for.
type ReportUnit struct {
	ID    int64  `json:"id"`
	Level string `json:"level"`
	Name  string `json:"name"`
	Code  string `json:"code,omitempty"`
}

// CoverageReport is the answer of GET /v1/reports/coverage.
type CoverageReport struct {
	Unit         ReportUnit `json:"unit"`
	From         string     `json:"from"`
	To           string     `json:"to"`
	ApprovedOnly bool       `json:"approved_only"`
	GeneratedAt  string     `json:"generated_at"`
	// TargetPeriods are the target periods that may apply to the report's period, the
	// first found used per unit and metric: the month, quarter and year that contain the
	// whole period, in that order (none for a period across two years).
	TargetPeriods []string `json:"target_periods"`
	// Kinds is the activity-kind catalogue, in its order.
	Kinds  []Kind          `json:"kinds"`
	Levels []CoverageLevel `json:"levels"` // province first, hamlets last
}

// OutputFigures are a team's or a volunteer's output in a report period.
type OutputFigures struct {
	Logs       int64                  `json:"logs"`
	People     int64                  `json:"people"` // distinct citizen_ref over counted logs
	Attendees  int64                  `json:"attendees"`
	Incomplete int64                  `json:"incomplete"`
	Kinds      map[string]KindFigures `json:"kinds"`
	ActiveDays int64                  `json:"active_days"` // days with a counted log or an incomplete attempt
	// LastActivity is the latest corrected occurred_at (RFC 3339, Vietnam time), or null.
	LastActivity *string `json:"last_activity"`
}

// VolunteerOutput is one volunteer's output within a team.
type VolunteerOutput struct {
	VolunteerID int64  `json:"volunteer_id"`
	Name        string `json:"name"`
	Revoked     bool   `json:"revoked,omitempty"`
	OutputFigures
}

// TeamOutput is one team's output and its volunteers'. A volunteer who moved teams is
// shown under each team with the logs recorded for it.
type TeamOutput struct {
	TeamID   int64  `json:"team_id"`
	Name     string `json:"name"`
	UnitID   int64  `json:"unit_id"`
	UnitName string `json:"unit_name"`
	OutputFigures
	ActiveVolunteers int64             `json:"active_volunteers"`
	Volunteers       []VolunteerOutput `json:"volunteers"`
}

// TeamReport is the answer of GET /v1/reports/teams.
type TeamReport struct {
	Unit        ReportUnit   `json:"unit"`
	From        string       `json:"from"`
	To          string       `json:"to"`
	GeneratedAt string       `json:"generated_at"`
	Kinds       []Kind       `json:"kinds"`
	Teams       []TeamOutput `json:"teams"`
}

// AttentionDevice is a device a coordinator should look at: its clock is off, or its
// volunteer's outbox has held unsynced work for days.
type AttentionDevice struct {
	Device
	StuckDays *int `json:"stuck_days,omitempty"` // whole days since the oldest unsynced op, when stuck
}

// AttentionReport is the answer of GET /v1/reports/attention.
type AttentionReport struct {
	ServerTime          string            `json:"server_time"`
	ClockOffThresholdMS int64             `json:"clock_off_threshold_ms"`
	StuckAfterDays      int               `json:"stuck_after_days"`
	ClockOff            []AttentionDevice `json:"clock_off"`
	Stuck               []AttentionDevice `json:"stuck"`
}
