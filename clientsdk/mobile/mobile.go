// Package mobile is the gomobile-bindable face of clientsdk for Android and iOS apps:
//
//	gomobile bind -target=android -o cdtsync.aar github.com/cdtsync/cdtsync/clientsdk/mobile
//	gomobile bind -target=ios -o Cdtsync.xcframework github.com/cdtsync/cdtsync/clientsdk/mobile
//
// It uses only types gomobile can bind: strings, numbers, booleans, byte slices, pointers
// to this package's structs, and interfaces. Lists and records cross the boundary as JSON
// strings with the wire names of docs/PROTOCOL.md (a test holds the API to these types).
//
// Errors: every error a method returns has as its message a JSON object
// {"code": "...", "message": "..."}: code is one of the protocol's stable codes
// (unauthorized, invalid_field, consent_required, unavailable, …); message is readable
// by the volunteer, Vietnamese first. On Android it arrives as the message of an
// Exception, on iOS as the NSError's localized description.
//
// Threads: every method blocks; call Sync (and Enroll) off the UI thread. Methods are safe
// to call from several threads at once.
package mobile

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"sync"
	"sync/atomic"

	"github.com/cdtsync/cdtsync/clientsdk"
	"github.com/cdtsync/cdtsync/schema"
)

// SecretStore is the platform's secure storage, implemented by the app (Android
// Keystore-backed EncryptedSharedPreferences, the iOS Keychain). Put must be durable when
// it returns. Get returns an empty value for a key that holds nothing.
type SecretStore interface {
	Get(key string) ([]byte, error)
	Put(key string, value []byte) error
	Delete(key string) error
}

// ProgressListener hears Sync's advance: phase is "push" (done of total operations) or
// "pull" (done changes; total 0). It is called on the thread running Sync.
type ProgressListener interface {
	OnProgress(volunteerID int64, phase string, done, total int64)
}

// Client is the SDK for one app. Create it with Open.
type Client struct {
	c        *clientsdk.Client
	listener atomic.Pointer[ProgressListener]

	mu     sync.Mutex
	cancel context.CancelFunc // of the running Sync
}

// secrets adapts the app's SecretStore.
type secrets struct{ s SecretStore }

func (a secrets) Get(key string) ([]byte, error) {
	v, err := a.s.Get(key)
	if err == nil && len(v) == 0 {
		return nil, clientsdk.ErrNoSecret
	}
	return v, err
}
func (a secrets) Put(key string, value []byte) error { return a.s.Put(key, value) }
func (a secrets) Delete(key string) error            { return a.s.Delete(key) }

var _ clientsdk.SecretStore = secrets{}

// Open opens the SDK's database at path, a file in the app's private storage. deviceID is
// the phone's stable id (empty: one is made and kept); deviceName is shown to
// coordinators; store keeps credentials (nil: a table of the database file, which an app
// should avoid).
func Open(path, deviceID, deviceName string, store SecretStore) (*Client, error) {
	m := &Client{}
	opts := clientsdk.Options{DeviceID: deviceID, DeviceName: deviceName, OnProgress: func(p clientsdk.Progress) {
		if l := m.listener.Load(); l != nil {
			(*l).OnProgress(p.VolunteerID, p.Phase, int64(p.Done), int64(p.Total))
		}
	}}
	if store != nil {
		opts.Secrets = secrets{store}
	}
	c, err := clientsdk.Open(context.Background(), path, opts)
	if err != nil {
		return nil, wrap(err)
	}
	m.c = c
	return m, nil
}

// SetProgressListener sets (nil clears) the listener of Sync's progress.
func (m *Client) SetProgressListener(l ProgressListener) {
	if l == nil {
		m.listener.Store(nil)
		return
	}
	m.listener.Store(&l)
}

// Close stops a running Sync and closes the database.
func (m *Client) Close() error { return wrap(m.c.Close()) }

// DeviceID returns the phone's own id.
func (m *Client) DeviceID() string { return m.c.DeviceID() }

// Enroll redeems an enrolment code (or the text of its QR code; serverURL may then be
// empty) and returns the volunteer as JSON: {"id", "display_name", "team_id", "unit_id",
// "current", …}.
func (m *Client) Enroll(serverURL, code string) (string, error) {
	v, err := m.c.Enroll(context.Background(), serverURL, code)
	return toJSON(v, err)
}

// Volunteers returns the volunteers enrolled on this phone as a JSON array.
func (m *Client) Volunteers() (string, error) {
	vs, err := m.c.Volunteers(context.Background())
	if vs == nil {
		vs = []clientsdk.Volunteer{}
	}
	return toJSON(vs, err)
}

// CurrentVolunteer returns the current volunteer's id, 0 with nobody enrolled.
func (m *Client) CurrentVolunteer() int64 {
	v, err := m.c.Current(context.Background())
	if err != nil {
		return 0
	}
	return v.ID
}

// SetCurrentVolunteer switches the phone to another enrolled volunteer; nothing of the
// others is lost.
func (m *Client) SetCurrentVolunteer(id int64) error {
	return wrap(m.c.SetCurrent(context.Background(), id))
}

// Record records an activity log for the current volunteer, offline. entryJSON holds the
// fields of clientsdk.Entry: {"hamlet_id": 1204, "kind": "vneid_level2", "occurred_at":
// "2026-11-23T09:30:00+07:00" (optional, default now), "cccd": "087…" (hashed on the
// phone, never stored), "household_id", "consent", "age_band", "gender", "attendees",
// "outcome", "note", "lat", "lon", "accuracy_m"}. It returns the log as JSON.
func (m *Client) Record(entryJSON string) (string, error) {
	var e clientsdk.Entry
	if err := strictJSON(entryJSON, &e); err != nil {
		return "", err
	}
	l, err := m.c.Record(context.Background(), e)
	return toJSON(l, err)
}

// Edit changes fields of one of the current volunteer's logs, offline. changesJSON holds
// the fields to change, as in Record ("" clears a text field, "cccd": "" clears the
// citizen ref, "clear_location": true clears the position). It returns the log as JSON.
func (m *Client) Edit(id, changesJSON string) (string, error) {
	var ch clientsdk.Changes
	if err := strictJSON(changesJSON, &ch); err != nil {
		return "", err
	}
	l, err := m.c.Edit(context.Background(), id, ch)
	return toJSON(l, err)
}

// Delete deletes one of the current volunteer's logs, offline.
func (m *Client) Delete(id string) error { return wrap(m.c.Delete(context.Background(), id)) }

// Log returns one of the current volunteer's logs as JSON.
func (m *Client) Log(id string) (string, error) {
	l, err := m.c.Log(context.Background(), id)
	return toJSON(l, err)
}

// Logs returns the current volunteer's logs, newest first, as a JSON array; deleted ones
// only if includeDeleted.
func (m *Client) Logs(includeDeleted bool) (string, error) {
	ls, err := m.c.Logs(context.Background(), clientsdk.LogFilter{IncludeDeleted: includeDeleted})
	if ls == nil {
		ls = []clientsdk.Log{}
	}
	return toJSON(ls, err)
}

// Hamlets returns the pick-list of hamlets as a JSON array of units.
func (m *Client) Hamlets() (string, error) {
	hs, err := m.c.Hamlets(context.Background())
	if hs == nil {
		hs = []schema.Unit{}
	}
	return toJSON(hs, err)
}

// Kinds returns the active activity kinds as a JSON array ({"code", "name_vi", "name_en", …}).
func (m *Client) Kinds() (string, error) {
	ks, err := m.c.Kinds(context.Background())
	if ks == nil {
		ks = []schema.Kind{}
	}
	return toJSON(ks, err)
}

// Team returns the current volunteer's team as JSON.
func (m *Client) Team() (string, error) {
	t, err := m.c.Team(context.Background())
	return toJSON(t, err)
}

// Targets returns the targets of the volunteer's units as a JSON array.
func (m *Client) Targets() (string, error) {
	ts, err := m.c.Targets(context.Background())
	if ts == nil {
		ts = []schema.Target{}
	}
	return toJSON(ts, err)
}

// Sync pushes every volunteer's unsynced operations and pulls what changed; it returns
// the report as JSON {"pushed", "rejected", "pulled", "synced"}. It blocks: call it from
// a background thread (WorkManager, BGTaskScheduler). CancelSync or Close stop it; the
// next Sync resumes.
func (m *Client) Sync() (string, error) {
	ctx, cancel := context.WithCancel(context.Background())
	m.mu.Lock()
	m.cancel = cancel
	m.mu.Unlock()
	defer func() {
		m.mu.Lock()
		m.cancel = nil
		m.mu.Unlock()
		cancel()
	}()
	rep, err := m.c.Sync(ctx)
	return toJSON(rep, err)
}

// CancelSync stops a running Sync (it returns an error); nothing is lost.
func (m *Client) CancelSync() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cancel != nil {
		m.cancel()
	}
}

// Status returns the sync status as JSON: per volunteer, pending operations, the age of
// the oldest, the last successful sync, and the rejected operations with the server's
// code and message.
func (m *Client) Status() (string, error) {
	st, err := m.c.Status(context.Background())
	return toJSON(st, err)
}

// DismissRejected removes a rejected operation from Status once the volunteer saw it.
func (m *Client) DismissRejected(opID string) error {
	return wrap(m.c.DismissRejected(context.Background(), opID))
}

// ValidateCCCD checks a citizen-ID number as it is typed, before Record: it fails
// (invalid_field) on a number that is not 12 digits with a province code.
func ValidateCCCD(cccd string) error {
	_, err := clientsdk.NormalizeCCCD(cccd)
	return wrap(err)
}

// Error is the error of every method: its message is JSON {"code", "message"}.
type Error struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (e *Error) Error() string {
	b, _ := json.Marshal(e)
	return string(b)
}

// wrap turns an SDK error into an *Error.
func wrap(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) {
		return &Error{Code: "canceled", Message: "Đã dừng đồng bộ / sync stopped"}
	}
	return &Error{Code: schema.ErrorCode(err), Message: schema.ErrorMessage(err)}
}

func toJSON(v any, err error) (string, error) {
	if err != nil {
		return "", wrap(err)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return "", wrap(err)
	}
	return string(b), nil
}

// strictJSON decodes an app's JSON, refusing unknown fields so a typo is not silently
// ignored.
func strictJSON(s string, v any) error {
	dec := json.NewDecoder(bytes.NewReader([]byte(s)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return &Error{Code: schema.CodeInvalid, Message: "JSON không hợp lệ / invalid JSON: " + err.Error()}
	}
	return nil
}
