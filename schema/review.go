package schema

// ReviewFilter selects logs for the coordinator's review queue. Zero fields do not filter.
type ReviewFilter struct {
	Unit        *int64 // a unit in the caller's scope (its subtree); nil means the caller's own unit
	Status      string // pending, approved, rejected or duplicate
	Hamlet      *int64
	Volunteer   *int64
	Team        *int64
	Kind        string
	From, To    string // YYYY-MM-DD, inclusive, by corrected occurred_at in Asia/Ho_Chi_Minh
	Conflict    *bool  // had a conflict
	Duplicate   *bool  // is a duplicate (status duplicate)
	ID          string // one log
	DuplicateOf string // the duplicates of one canonical log
	Cursor      string // from the previous page's next_cursor
	Limit       int    // at most MaxReviewLimit; 0 means DefaultReviewLimit
}

// Review queue page sizes.
const (
	DefaultReviewLimit = 50
	MaxReviewLimit     = 500
)

// ReviewItem is a log in the review queue, with the names a coordinator reads. The
// resident's refs are not shown: duplicates are marked by the server (DuplicateOf).
type ReviewItem struct {
	Log
	VolunteerName string `json:"volunteer_name"`
	TeamName      string `json:"team_name"`
	HamletName    string `json:"hamlet_name"`
}

// ReviewPage is one page of the review queue.
type ReviewPage struct {
	Items      []ReviewItem `json:"items"`
	NextCursor string       `json:"next_cursor,omitempty"`
}

// HistoryItem is one superseded or losing value of a log's field, for explaining a
// conflict to a coordinator.
type HistoryItem struct {
	Field    string `json:"field"`
	Value    any    `json:"value"`
	HLC      string `json:"hlc"`
	DeviceID string `json:"device_id"`
	Won      bool   `json:"won"` // the value the log holds now
}
