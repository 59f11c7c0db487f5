package schema

import "time"

// NewUser is a user to create. Staff (coordinator, officer, admin) have a username and a
// password hash; volunteers have a team and neither (they enrol phones).
type NewUser struct {
	Role        string
	DisplayName string
	UnitID      int64  // 0 for a volunteer means the team's unit
	TeamID      *int64 // volunteers only
	Username    string // staff only
	// PasswordHash is an encoded argon2id hash (package auth), never the password.
	PasswordHash string
}

// UserFilter narrows a list of users; zero fields do not filter.
type UserFilter struct {
	UnitID         *int64 // users whose unit is in this unit's subtree
	TeamID         *int64
	Role           string
	IncludeRevoked bool
}

// DeviceFilter narrows a list of devices; zero fields do not filter.
type DeviceFilter struct {
	UnitID         *int64 // devices of volunteers whose unit is in this unit's subtree
	TeamID         *int64
	VolunteerID    *int64
	IncludeRevoked bool
}

// Credentials are what a staff sign-in checks.
type Credentials struct {
	UserID       int64
	Role         string
	PasswordHash string
	Revoked      bool
}

// RefreshGrant is a new refresh token to store: only its hash.
type RefreshGrant struct {
	Hash      string // SHA-256 of the token (auth.HashSecret)
	FamilyID  string // the sign-in or enrolment the token belongs to
	ExpiresAt time.Time
}

// RefreshRotation asks the store to spend refresh token OldHash and store NewHash in its
// place, in the same family.
type RefreshRotation struct {
	OldHash, NewHash    string
	StaffTTL, DeviceTTL time.Duration // life of the new token, from now
	// ReuseGrace: a spent token presented again within this time after it was spent, while
	// the token it was rotated into is still unused, is a retry (the answer was lost), not
	// theft: the unused successor is revoked and a new one issued.
	ReuseGrace time.Duration
}

// Session is whom a refresh token speaks for.
type Session struct {
	UserID    int64
	Role      string
	DeviceRow int64  // 0 for staff
	DeviceID  string // the phone's own id, for devices
	FamilyID  string
	ExpiresAt time.Time // of the new token, after a rotation
}

// RefreshReuse is the error of a rotation that found a spent or revoked refresh token
// presented again: a sign that it was stolen. The whole family has been revoked. It wraps
// a CodeUnauthorized *Error; the server logs the event with the session's ids.
type RefreshReuse struct {
	Session Session
	Err     *Error
}

func (e *RefreshReuse) Error() string { return e.Err.Error() }
func (e *RefreshReuse) Unwrap() error { return e.Err }

// EnrollmentRedeem is a phone's redemption of an enrolment code.
type EnrollmentRedeem struct {
	CodeHash   string // auth.HashEnrollmentCode of the typed code
	DeviceID   string // the phone's own id
	DeviceName string
	Refresh    RefreshGrant // the first refresh token of the new device session
	// RetryGrace: the phone that redeemed the code may redeem it again within this time
	// (its answer was lost); the earlier session is revoked.
	RetryGrace time.Duration
}

// Enrolled is the result of a redeemed enrolment.
type Enrolled struct {
	Volunteer User
	Device    Device
}

// Profile is the caller's own account, for GET /v1/me.
type Profile struct {
	User   User    `json:"user"`
	Unit   Unit    `json:"unit"`
	Team   *Team   `json:"team,omitempty"`
	Device *Device `json:"device,omitempty"`
}

// IssuedEnrollment is an enrolment code issued for a volunteer (the code itself is only
// known to the caller).
type IssuedEnrollment struct {
	Volunteer User
	ExpiresAt time.Time
}
