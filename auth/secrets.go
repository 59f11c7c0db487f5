package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strings"
)

// refreshPrefix marks cdtsync refresh tokens, so secret scanners and people recognise one
// pasted where it should not be.
const refreshPrefix = "cdtr_"

// randomToken returns n random bytes, base64url without padding.
func randomToken(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// NewRefreshToken returns a new random refresh token (256 bits) and the hash to store.
// Only the hash is ever stored; the token goes to the client once.
func NewRefreshToken() (token, hash string) {
	token = refreshPrefix + randomToken(32)
	return token, HashSecret(token)
}

// NewFamilyID returns a random id for a refresh-token family (one sign-in or enrolment).
// It is not a secret and may be logged.
func NewFamilyID() string { return randomToken(12) }

// LooksLikeRefreshToken reports whether s has the shape of a refresh token, so garbage is
// refused before touching the database.
func LooksLikeRefreshToken(s string) bool {
	if !strings.HasPrefix(s, refreshPrefix) || len(s) != len(refreshPrefix)+43 {
		return false
	}
	_, err := base64.RawURLEncoding.DecodeString(s[len(refreshPrefix):])
	return err == nil
}

// HashSecret returns the SHA-256 of a high-entropy secret (a refresh token or a normalised
// enrolment code) in hex: the form in which the database keeps it. A stolen database does
// not yield usable refresh tokens.
func HashSecret(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}
