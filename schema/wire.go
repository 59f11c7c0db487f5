package schema

import "encoding/json"

// PushRequest is the body of POST /v1/sync/push.
type PushRequest struct {
	// DeviceTime is the phone's clock when it sent the push (RFC 3339). The server measures
	// the device's clock offset from it.
	DeviceTime string `json:"device_time"`
	// PendingOps and OldestPendingAt describe the phone's whole outbox for this volunteer
	// (not just this batch), so coordinators can see work stuck unsynced. Optional.
	PendingOps      *int   `json:"pending_ops,omitempty"`
	OldestPendingAt string `json:"oldest_pending_at,omitempty"`
	Ops             []Op   `json:"ops"`
}

// Op types.
const (
	OpUpsert = "upsert"
	OpDelete = "delete"
)

// Op is one change a phone made. OpID is its identity: the server applies each op once.
type Op struct {
	OpID string `json:"op_id"`
	Type string `json:"type"`
	ID   string `json:"id"`  // the log's id
	HLC  string `json:"hlc"` // 16 lowercase hex digits
	// Base is the log's version (its greatest HLC) as the phone knew it when it made the
	// edit; empty for a creation. It tells concurrent edits (conflicts) from sequential ones.
	Base   string                     `json:"base,omitempty"`
	Fields map[string]json.RawMessage `json:"fields,omitempty"`
}

// Op result statuses.
const (
	ResultApplied        = "applied"
	ResultAlreadyApplied = "already_applied"
	ResultRejected       = "rejected"
)

// OpResult is the server's answer for one op.
type OpResult struct {
	OpID    string `json:"op_id"`
	Status  string `json:"status"`
	Code    string `json:"code,omitempty"`
	Message string `json:"message,omitempty"`
}

// PushResponse is the body of a 200 answer to POST /v1/sync/push: one result per op, in
// the order of the request.
type PushResponse struct {
	Results    []OpResult `json:"results"`
	ServerTime string     `json:"server_time"`
}

// Change types in a pull.
const (
	ChangeLog    = "log"
	ChangeUnit   = "unit"
	ChangeTeam   = "team"
	ChangeKind   = "kind"
	ChangeTarget = "target"
)

// Change is one changed record in a pull page. Exactly one of the pointers is set, as
// Type says.
type Change struct {
	Type   string  `json:"type"`
	Log    *Log    `json:"log,omitempty"`
	Unit   *Unit   `json:"unit,omitempty"`
	Team   *Team   `json:"team,omitempty"`
	Kind   *Kind   `json:"kind,omitempty"`
	Target *Target `json:"target,omitempty"`
}

// PullResponse is the body of GET /v1/sync/pull.
type PullResponse struct {
	Changes []Change `json:"changes"`
	Cursor  string   `json:"cursor"`
	HasMore bool     `json:"has_more"`
	// Reset is true when the cursor given was from another database (a restored backup, a
	// new install): the phone must drop what it pulled before and apply this page as the
	// start of a full pull. Its own unsynced operations are kept and pushed as usual.
	Reset      bool   `json:"reset,omitempty"`
	ServerTime string `json:"server_time"`
}
