package schema

import (
	"errors"
	"fmt"
	"time"
)

// Error codes. They are stable: phones, the dashboard and outside tools match on them,
// so a code is never renamed or reused for another meaning. The server maps each code to
// an HTTP status in one table (server/errors.go); the client SDK maps responses back to
// *Error.
const (
	CodeInvalid         = "invalid"           // malformed or out-of-range input
	CodeNotFound        = "not_found"         // no such thing in the caller's scope
	CodeConflict        = "conflict"          // the request collides with current state
	CodeUnauthorized    = "unauthorized"      // missing, expired or revoked credentials
	CodeForbidden       = "forbidden"         // signed in, but not allowed to do this
	CodeTooLarge        = "too_large"         // body or batch over the advertised limit
	CodeTooManyRequests = "too_many_requests" // rate limited; retry later
	CodeUnavailable     = "unavailable"       // overloaded or storage not writable; retry later
	CodeStorageFull     = "storage_full"      // the disk is full; retry later
	CodeInternal        = "internal"          // a bug or an unexpected failure

	// Per-operation push result codes (see docs/PROTOCOL.md).
	CodeUnknownHamlet    = "unknown_hamlet"     // hamlet_id is not a hamlet in the volunteer's scope
	CodeUnknownKind      = "unknown_kind"       // kind is not in the activity-kind catalogue
	CodeInvalidField     = "invalid_field"      // a field has a bad value or is not a client field
	CodeNoteTooLong      = "note_too_long"      // note over MaxNoteRunes characters
	CodeConsentRequired  = "consent_required"   // a citizen or household ref without consent
	CodeClockAhead       = "clock_ahead"        // the op's HLC is too far ahead of server time
	CodeOccurredInFuture = "occurred_in_future" // occurred_at, corrected, is in the future
	CodeLogDeleted       = "log_deleted"        // the log was deleted; deletes win
	CodeNotOwner         = "not_owner"          // the log belongs to another volunteer
	CodeOpIDReused       = "op_id_reused"       // an op id sent again with different content
)

// Error is the one error type of cdtsync. Code is one of the Code constants; Message is
// readable by a person (Vietnamese first where a user will read it).
type Error struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	// RetryAfter, when set, is how long the client should wait before retrying; the server
	// sends it as the Retry-After header.
	RetryAfter time.Duration `json:"-"`
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of err if it is (or wraps) an *Error, CodeInternal otherwise,
// and "" for a nil error.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeInternal
}

// ErrorMessage returns the message of err if it is an *Error, or a generic message that
// reveals nothing of the underlying failure.
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "Lỗi hệ thống, vui lòng thử lại sau / Internal error, please retry later"
}
