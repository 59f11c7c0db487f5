package schema

import "strings"

// Role names on the wire.
const (
	RoleVolunteer   = "volunteer"
	RoleCoordinator = "coordinator"
	RoleOfficer     = "officer"
	RoleAdmin       = "admin"
)

// ValidRole reports whether r is one of the four roles.
func ValidRole(r string) bool {
	switch r {
	case RoleVolunteer, RoleCoordinator, RoleOfficer, RoleAdmin:
		return true
	}
	return false
}

// Actor is the caller of a store method: who acts, with which role, on which unit subtree.
// Every scoped store method takes an Actor, so no query can forget the subtree filter.
// It is built by the server from verified credentials, never from a request body.
type Actor struct {
	UserID   int64
	Role     string
	UnitID   int64
	UnitPath string // materialised path of UnitID, e.g. "/1/20/"; the scope is every unit whose path starts with it
	TeamID   int64  // volunteers only

	// Devices only: the enrolment the request came through.
	DeviceRowID int64  // devices.id
	DeviceID    string // the phone's own id, used as the HLC tie-break
}

// Covers reports whether the unit with the given materialised path is in the actor's
// subtree.
func (a Actor) Covers(unitPath string) bool {
	return a.UnitPath != "" && strings.HasPrefix(unitPath, a.UnitPath)
}

// IsStaff reports whether the actor signs in with a password (not a phone).
func (a Actor) IsStaff() bool { return a.Role != RoleVolunteer }

// User is an account. Volunteers have no username or password: they enrol phones.
type User struct {
	ID          int64  `json:"id"`
	Role        string `json:"role"`
	DisplayName string `json:"display_name"`
	UnitID      int64  `json:"unit_id"`
	TeamID      *int64 `json:"team_id,omitempty"`
	Username    string `json:"username,omitempty"`
	CreatedAt   string `json:"created_at"`
	RevokedAt   string `json:"revoked_at,omitempty"`
}

// Team is a Tổ công nghệ số cộng đồng, attached to a unit (usually a commune or hamlet).
type Team struct {
	ID        int64  `json:"id"`
	Name      string `json:"name"`
	UnitID    int64  `json:"unit_id"`
	CreatedAt string `json:"created_at"`
}

// Device is one enrolment of a phone for one volunteer. One phone (DeviceID) may be
// enrolled for several volunteers.
type Device struct {
	ID            int64  `json:"id"`
	DeviceID      string `json:"device_id"`
	VolunteerID   int64  `json:"volunteer_id"`
	Name          string `json:"name"`
	EnrolledAt    string `json:"enrolled_at"`
	RevokedAt     string `json:"revoked_at,omitempty"`
	ClockOffsetMS *int64 `json:"clock_offset_ms,omitempty"` // device clock minus server clock at the last push
	LastPushAt    string `json:"last_push_at,omitempty"`
	LastPullAt    string `json:"last_pull_at,omitempty"`

	// For coordinators' device list: whose phone it is, whether its clock is off
	// (|offset| ≥ ClockOffThreshold: "đồng hồ thiết bị bị lệch"), and its reported outbox.
	VolunteerName   string `json:"volunteer_name,omitempty"`
	TeamID          int64  `json:"team_id,omitempty"`
	ClockOff        bool   `json:"clock_off"`
	ClockCheckedAt  string `json:"clock_checked_at,omitempty"`
	PendingOps      *int64 `json:"pending_ops,omitempty"`
	OldestPendingAt string `json:"oldest_pending_at,omitempty"`
}
