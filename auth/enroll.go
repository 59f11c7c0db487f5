package auth

import (
	"crypto/rand"
	"errors"
	"net/url"
	"strings"

	qrcode "github.com/skip2/go-qrcode"
)

// Enrolment codes are 10 characters of Crockford's base 32 (no I, L, O, U), 50 random
// bits, shown as two groups of five ("7KQ2M-XH4PA") so they are easy to read off a screen
// and type on a phone. Reading is forgiving: case, spaces and dashes are ignored, and O, I
// and L are read as 0, 1 and 1. Rate limiting and the 24-hour expiry make 50 bits far more
// than guessing can reach.
const (
	codeAlphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
	CodeLen      = 10
)

// NewEnrollmentCode returns a new code in display form ("7KQ2M-XH4PA").
func NewEnrollmentCode() string {
	b := make([]byte, CodeLen)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	for i := range b {
		b[i] = codeAlphabet[b[i]&31] // 32 divides 256: no bias
	}
	return string(b[:5]) + "-" + string(b[5:])
}

// NormalizeEnrollmentCode returns the canonical form of a typed code (10 characters, no
// dash), or false if it cannot be a code.
func NormalizeEnrollmentCode(s string) (string, bool) {
	if len(s) > 32 {
		return "", false
	}
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '-' || r == ' ' || r == '\t':
			continue
		case r >= 'a' && r <= 'z':
			r -= 'a' - 'A'
		}
		switch r {
		case 'O':
			r = '0'
		case 'I', 'L':
			r = '1'
		}
		if r > 127 || strings.IndexByte(codeAlphabet, byte(r)) < 0 {
			return "", false
		}
		b.WriteRune(r)
	}
	if b.Len() != CodeLen {
		return "", false
	}
	return b.String(), true
}

// HashEnrollmentCode returns the hash under which a code is stored, for a code in any
// accepted typed form, or false if it cannot be a code.
func HashEnrollmentCode(code string) (string, bool) {
	n, ok := NormalizeEnrollmentCode(code)
	if !ok {
		return "", false
	}
	return HashSecret("enroll:" + n), true
}

// EnrollmentPayload is what the enrolment QR code holds: a URI with the code and, when
// known, the server's base URL, e.g.
// "cdtsync://enroll?code=7KQ2M-XH4PA&server=https%3A%2F%2Fcdt.dongthap.gov.vn".
func EnrollmentPayload(serverURL, code string) string {
	q := url.Values{}
	q.Set("code", code)
	if serverURL != "" {
		q.Set("server", serverURL)
	}
	return "cdtsync://enroll?" + q.Encode()
}

// ParseEnrollmentPayload reads a payload made by EnrollmentPayload.
func ParseEnrollmentPayload(s string) (serverURL, code string, err error) {
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "cdtsync" || u.Host != "enroll" {
		return "", "", errors.New("auth: not an enrolment payload")
	}
	q := u.Query()
	if _, ok := NormalizeEnrollmentCode(q.Get("code")); !ok {
		return "", "", errors.New("auth: enrolment payload without a valid code")
	}
	return q.Get("server"), q.Get("code"), nil
}

// EnrollmentQR renders payload as a PNG QR code, 256 pixels wide, with medium error
// correction (survives a scratched or glaring screen).
func EnrollmentQR(payload string) ([]byte, error) {
	return qrcode.Encode(payload, qrcode.Medium, 256)
}
