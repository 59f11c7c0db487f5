package clientsdk

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"strconv"
	"time"
)

// SecretStore keeps the phone's credentials: each volunteer's access and refresh tokens and
// the deployment's citizen key. The default keeps them in a table of the Client's
// database file (created 0600); a phone app should pass its platform's secure storage
// (Android Keystore-backed EncryptedSharedPreferences, the iOS Keychain).
//
// Put must be durable when it returns: the SDK stores a rotated refresh token with Put
// before it uses it, and the old one stops working on the server.
type SecretStore interface {
	// Get returns the value stored under key, or ErrNoSecret.
	Get(key string) ([]byte, error)
	// Put stores value under key, replacing any earlier value, durably.
	Put(key string, value []byte) error
	// Delete removes key; deleting a missing key is not an error.
	Delete(key string) error
}

// ErrNoSecret is returned by SecretStore.Get for a key that holds nothing.
var ErrNoSecret = errors.New("clientsdk: no such secret")

// dbSecrets is the default SecretStore: the secrets table of the Client's database.
type dbSecrets struct{ db *sql.DB }

var _ SecretStore = (*dbSecrets)(nil)

func (s *dbSecrets) Get(key string) ([]byte, error) {
	var v []byte
	err := s.db.QueryRow(`SELECT value FROM secrets WHERE key = ?`, key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNoSecret
	}
	return v, err
}

func (s *dbSecrets) Put(key string, value []byte) error {
	_, err := s.db.Exec(`INSERT INTO secrets (key, value) VALUES (?, ?)
		ON CONFLICT (key) DO UPDATE SET value = excluded.value`, key, value)
	return err
}

func (s *dbSecrets) Delete(key string) error {
	_, err := s.db.Exec(`DELETE FROM secrets WHERE key = ?`, key)
	return err
}

// Secret keys.
const secretCitizenKey = "citizen_key"

func secretTokensKey(volunteer int64) string {
	return "tokens/" + strconv.FormatInt(volunteer, 10)
}

// tokens are one volunteer's credentials on this phone.
type tokens struct {
	Access    string    `json:"access_token"`
	ExpiresAt time.Time `json:"access_expires_at"` // in server time
	Refresh   string    `json:"refresh_token"`
}

func (c *Client) loadTokens(volunteer int64) (tokens, error) {
	var t tokens
	b, err := c.secrets.Get(secretTokensKey(volunteer))
	if err != nil {
		return t, err
	}
	err = json.Unmarshal(b, &t)
	return t, err
}

func (c *Client) saveTokens(volunteer int64, t tokens) error {
	b, err := json.Marshal(t)
	if err != nil {
		return err
	}
	return c.secrets.Put(secretTokensKey(volunteer), b)
}

// citizenKey returns the deployment's key for citizen and household refs.
func (c *Client) citizenKey(ctx context.Context) ([]byte, error) {
	_ = ctx
	k, err := c.secrets.Get(secretCitizenKey)
	if errors.Is(err, ErrNoSecret) || (err == nil && len(k) == 0) {
		return nil, errNotEnrolled()
	}
	return k, err
}
