// Package auth holds cdtsync's credentials: argon2id password hashes, Ed25519-signed access
// JWTs with rotating keys, random refresh tokens, one-time enrolment codes with their QR
// image, and an in-memory rate limiter. It imports no store: the server and the admin
// commands combine it with the store.
//
// Nothing here logs. Callers must never log a password, a token, an enrolment code or a
// hash of one of them; log user and device ids instead.
package auth

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"
)

// Params are argon2id's cost parameters. They are stored in every hash, so they can be
// raised later: old hashes still verify, and VerifyPassword reports that they should be
// rehashed.
type Params struct {
	Memory  uint32 // KiB
	Time    uint32 // passes
	Threads uint8
	SaltLen uint32 // bytes
	KeyLen  uint32 // bytes
}

// DefaultParams follow RFC 9106's second recommended option (64 MiB, 3 passes) with 2
// lanes: about 50–100 ms on a small server, which a sign-in can afford and an attacker
// with a stolen database cannot.
var DefaultParams = Params{Memory: 64 * 1024, Time: 3, Threads: 2, SaltLen: 16, KeyLen: 32}

// TestParams are cheap parameters for tests only; never use them in production.
var TestParams = Params{Memory: 1024, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

// Password limits. MaxPasswordBytes bounds the work an unauthenticated request can cause.
const (
	MinPasswordRunes = 10
	MaxPasswordBytes = 256
)

// ErrMalformedHash is returned by VerifyPassword for a stored value that is not an argon2id
// hash this package wrote.
var ErrMalformedHash = errors.New("auth: malformed password hash")

// CheckPassword reports whether pw is acceptable as a new password, with a message in
// Vietnamese and English if not.
func CheckPassword(pw string) error {
	switch {
	case !utf8.ValidString(pw):
		return errors.New("Mật khẩu không hợp lệ / password is not valid UTF-8")
	case utf8.RuneCountInString(pw) < MinPasswordRunes:
		return fmt.Errorf("Mật khẩu phải có ít nhất %d ký tự / password must have at least %d characters", MinPasswordRunes, MinPasswordRunes)
	case len(pw) > MaxPasswordBytes:
		return fmt.Errorf("Mật khẩu dài quá %d byte / password longer than %d bytes", MaxPasswordBytes, MaxPasswordBytes)
	}
	return nil
}

// HashPassword hashes pw with argon2id and a random salt, in the PHC string format:
// $argon2id$v=19$m=65536,t=3,p=2$<salt>$<hash> (unpadded standard base64). A zero p means
// DefaultParams.
func HashPassword(pw string, p Params) (string, error) {
	if p == (Params{}) {
		p = DefaultParams
	}
	if len(pw) > MaxPasswordBytes {
		return "", fmt.Errorf("auth: password longer than %d bytes", MaxPasswordBytes)
	}
	salt := make([]byte, p.SaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	key := argon2.IDKey([]byte(pw), salt, p.Time, p.Memory, p.Threads, p.KeyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.Memory, p.Time, p.Threads,
		b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// VerifyPassword reports whether pw matches the encoded hash, comparing in constant time.
// rehash is true when the hash was made with parameters other than want (zero: DefaultParams):
// the caller should store a new hash of pw. A hash this package cannot read is
// ErrMalformedHash.
func VerifyPassword(encoded, pw string, want Params) (ok, rehash bool, err error) {
	if want == (Params{}) {
		want = DefaultParams
	}
	p, salt, key, err := decodeHash(encoded)
	if err != nil {
		return false, false, err
	}
	if len(pw) > MaxPasswordBytes {
		return false, false, nil
	}
	got := argon2.IDKey([]byte(pw), salt, p.Time, p.Memory, p.Threads, uint32(len(key)))
	ok = subtle.ConstantTimeCompare(got, key) == 1
	rehash = p.Memory != want.Memory || p.Time != want.Time || p.Threads != want.Threads ||
		uint32(len(key)) != want.KeyLen || uint32(len(salt)) != want.SaltLen
	return ok, ok && rehash, nil
}

// DummyVerify spends the time of one verification with p. Call it when the account does
// not exist, so a sign-in's timing does not tell which usernames exist.
func DummyVerify(pw string, p Params) {
	if p == (Params{}) {
		p = DefaultParams
	}
	if len(pw) > MaxPasswordBytes {
		pw = pw[:MaxPasswordBytes]
	}
	argon2.IDKey([]byte(pw), make([]byte, p.SaltLen), p.Time, p.Memory, p.Threads, p.KeyLen)
}

func decodeHash(encoded string) (p Params, salt, key []byte, err error) {
	parts := strings.Split(encoded, "$")
	// "", "argon2id", "v=19", "m=..,t=..,p=..", salt, hash
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return p, nil, nil, ErrMalformedHash
	}
	var v int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &v); err != nil || v != argon2.Version {
		return p, nil, nil, ErrMalformedHash
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.Memory, &p.Time, &p.Threads); err != nil ||
		fmt.Sprintf("m=%d,t=%d,p=%d", p.Memory, p.Time, p.Threads) != parts[3] {
		return p, nil, nil, ErrMalformedHash
	}
	// Refuse absurd costs: a corrupted row must not make a sign-in allocate gigabytes.
	if p.Memory < 8 || p.Memory > 1<<21 || p.Time < 1 || p.Time > 100 || p.Threads < 1 {
		return p, nil, nil, ErrMalformedHash
	}
	b64 := base64.RawStdEncoding
	if salt, err = b64.DecodeString(parts[4]); err != nil || len(salt) < 8 {
		return p, nil, nil, ErrMalformedHash
	}
	if key, err = b64.DecodeString(parts[5]); err != nil || len(key) < 16 || len(key) > 64 {
		return p, nil, nil, ErrMalformedHash
	}
	p.SaltLen, p.KeyLen = uint32(len(salt)), uint32(len(key))
	return p, salt, key, nil
}
