package auth

import (
	"errors"
	"strconv"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/cdtsync/cdtsync/schema"
)

// Lifetimes of credentials.
const (
	// AccessTTL is the life of an access token. It is short, but revocation does not wait
	// for it: the server checks the user and device in the database on every request.
	AccessTTL = 15 * time.Minute
	// RefreshTTLDevice is the life of a phone's refresh token, counted from its last use:
	// a phone may stay offline for months and must still sync when it comes back.
	RefreshTTLDevice = 365 * 24 * time.Hour
	// RefreshTTLStaff is the life of a staff member's refresh token, counted from its last
	// use.
	RefreshTTLStaff = 14 * 24 * time.Hour
	// RefreshReuseGrace is how long after a rotation the spent refresh token may be presented
	// again without being taken for theft, provided the token it was rotated into has never
	// been used: a phone on 3G whose refresh answer was lost retries with the same token.
	// The unused successor is revoked then, so at most one live token remains in the family.
	RefreshReuseGrace = 2 * time.Minute
	// EnrollmentTTL is the life of an enrolment code.
	EnrollmentTTL = 24 * time.Hour
	// EnrollRetryGrace is how long after an enrolment code was redeemed the same phone
	// (same device_id) may redeem it again: the answer may have been lost on 3G. The
	// repeat gets a new session and the first one's tokens are revoked.
	EnrollRetryGrace = 10 * time.Minute
)

// Issuer is the "iss" of cdtsync's access tokens; audience is their "aud".
const (
	Issuer   = "cdtsync"
	Audience = "cdtsync-api"
	// tokenType is the JOSE "typ" header of access tokens (RFC 9068), so no other JWT the
	// key might sign can pass for one.
	tokenType = "at+jwt"
)

// Principal is whom an access token speaks for.
type Principal struct {
	UserID    int64
	Role      string
	DeviceRow int64  // devices.id, for phones
	DeviceID  string // the phone's own id, for phones
}

// Claims are the claims of an access token. The subject is the user id in decimal.
type Claims struct {
	jwt.RegisteredClaims
	Role      string `json:"role"`
	DeviceRow int64  `json:"drow,omitempty"`
	DeviceID  string `json:"did,omitempty"`
}

// Principal returns whom the claims speak for.
func (c *Claims) Principal() (Principal, error) {
	id, err := strconv.ParseInt(c.Subject, 10, 64)
	if err != nil || id <= 0 {
		return Principal{}, errors.New("auth: bad subject")
	}
	return Principal{UserID: id, Role: c.Role, DeviceRow: c.DeviceRow, DeviceID: c.DeviceID}, nil
}

// Tokens signs and verifies access tokens.
type Tokens struct {
	Keys *KeySet
	Now  func() time.Time
	TTL  time.Duration // 0 means AccessTTL
}

// NewTokens returns Tokens over keys with the given clock.
func NewTokens(keys *KeySet, now func() time.Time) *Tokens {
	if now == nil {
		now = time.Now
	}
	return &Tokens{Keys: keys, Now: now}
}

func (t *Tokens) ttl() time.Duration {
	if t.TTL > 0 {
		return t.TTL
	}
	return AccessTTL
}

// Issue signs an access token for p with the newest key. It returns the token and its
// lifetime.
func (t *Tokens) Issue(p Principal) (string, time.Duration, error) {
	k := t.Keys.signing()
	if k.ID == "" {
		return "", 0, errNoKey
	}
	now := t.Now().UTC().Truncate(time.Second)
	claims := Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    Issuer,
			Subject:   strconv.FormatInt(p.UserID, 10),
			Audience:  jwt.ClaimStrings{Audience},
			IssuedAt:  jwt.NewNumericDate(now),
			NotBefore: jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(t.ttl())),
			ID:        randomToken(12),
		},
		Role: p.Role, DeviceRow: p.DeviceRow, DeviceID: p.DeviceID,
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, claims)
	tok.Header["kid"] = k.ID
	tok.Header["typ"] = tokenType
	s, err := tok.SignedString(k.Private)
	if err != nil {
		return "", 0, err
	}
	return s, t.ttl(), nil
}

// clockSkew is the leeway for nbf and iat: the server's own clock may step a little (NTP).
const clockSkew = 30 * time.Second

// Verify checks an access token: only EdDSA, a kid of the key set, a valid signature, the
// "at+jwt" type, our issuer and audience, and an expiry that has not passed. Any failure is
// a CodeUnauthorized *schema.Error whose message says nothing of the token.
func (t *Tokens) Verify(token string) (*Claims, error) {
	var claims Claims
	p := jwt.NewParser(
		jwt.WithValidMethods([]string{jwt.SigningMethodEdDSA.Alg()}),
		jwt.WithTimeFunc(t.Now),
		jwt.WithLeeway(clockSkew),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithIssuer(Issuer),
		jwt.WithAudience(Audience),
		jwt.WithStrictDecoding(),
	)
	_, err := p.ParseWithClaims(token, &claims, func(tok *jwt.Token) (any, error) {
		if typ, _ := tok.Header["typ"].(string); typ != tokenType {
			return nil, errors.New("auth: not an access token")
		}
		kid, _ := tok.Header["kid"].(string)
		pub, ok := t.Keys.public(kid)
		if !ok {
			return nil, errors.New("auth: unknown key id")
		}
		return pub, nil
	})
	if err != nil {
		if errors.Is(err, jwt.ErrTokenExpired) {
			return nil, schema.Errorf(schema.CodeUnauthorized, "Phiên đăng nhập đã hết hạn / access token expired")
		}
		return nil, schema.Errorf(schema.CodeUnauthorized, "Mã truy cập không hợp lệ / invalid access token")
	}
	if _, err := claims.Principal(); err != nil {
		return nil, schema.Errorf(schema.CodeUnauthorized, "Mã truy cập không hợp lệ / invalid access token")
	}
	return &claims, nil
}
