package server

import (
	"crypto/rand"
	"encoding/hex"
)

// randomID returns 16 random hex characters.
func randomID() string {
	b := make([]byte, 8)
	rand.Read(b)
	return hex.EncodeToString(b)
}
