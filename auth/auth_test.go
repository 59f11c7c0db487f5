package auth

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/makiuchi-d/gozxing"
	gozxingqr "github.com/makiuchi-d/gozxing/qrcode"

	"github.com/cdtsync/cdtsync/schema"
)

// clock is a settable clock for tests.
type clock struct{ t time.Time }

func (c *clock) Now() time.Time          { return c.t }
func (c *clock) Advance(d time.Duration) { c.t = c.t.Add(d) }

func newClock() *clock { return &clock{t: time.Date(2026, 5, 4, 8, 30, 0, 0, time.UTC)} }

// MustKeys loads a fresh key set in a temporary directory.
func MustKeys(tb testing.TB, now func() time.Time) *KeySet {
	tb.Helper()
	ks, err := LoadKeys(filepath.Join(tb.TempDir(), KeyDir), now)
	if err != nil {
		tb.Fatal(err)
	}
	return ks
}

func TestPassword(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		h, err := HashPassword("Đồng Tháp 2026!", TestParams)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(h, "$argon2id$v=19$m=1024,t=1,p=1$") {
			t.Fatalf("hash %q does not carry its parameters", h)
		}
		ok, rehash, err := VerifyPassword(h, "Đồng Tháp 2026!", TestParams)
		if err != nil || !ok || rehash {
			t.Fatalf("verify = %v, %v, %v; want true, false, nil", ok, rehash, err)
		}
	})
	t.Run("ErrWrongPassword", func(t *testing.T) {
		h, _ := HashPassword("Đồng Tháp 2026!", TestParams)
		if ok, _, err := VerifyPassword(h, "Dong Thap 2026!", TestParams); ok || err != nil {
			t.Fatalf("wrong password verified: %v %v", ok, err)
		}
	})
	t.Run("RehashWhenParamsChange", func(t *testing.T) {
		h, _ := HashPassword("Đồng Tháp 2026!", TestParams)
		stronger := TestParams
		stronger.Time = 2
		ok, rehash, err := VerifyPassword(h, "Đồng Tháp 2026!", stronger)
		if !ok || !rehash || err != nil {
			t.Fatalf("verify with new params = %v, %v, %v; want true, true, nil", ok, rehash, err)
		}
	})
	t.Run("ErrMalformed", func(t *testing.T) {
		for _, h := range []string{"", "plain", "$2a$10$abc", "$argon2id$v=19$m=1024,t=1,p=1$c2FsdA$",
			"$argon2id$v=19$m=99999999,t=1,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA",
			"$argon2id$v=19$m=1024,t=1,p=1x$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA"} {
			if _, _, err := VerifyPassword(h, "x", TestParams); err != ErrMalformedHash {
				t.Errorf("VerifyPassword(%q) err = %v, want ErrMalformedHash", h, err)
			}
		}
	})
	t.Run("CheckPassword", func(t *testing.T) {
		if CheckPassword("ngắn") == nil {
			t.Error("a short password was accepted")
		}
		if CheckPassword(strings.Repeat("a", MaxPasswordBytes+1)) == nil {
			t.Error("an overlong password was accepted")
		}
		if err := CheckPassword("Sa Đéc mùa hoa"); err != nil {
			t.Error(err)
		}
	})
}

func TestKeys(t *testing.T) {
	t.Run("CreatedOwnerOnly", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), KeyDir)
		ks, err := LoadKeys(dir, newClock().Now)
		if err != nil {
			t.Fatal(err)
		}
		st, _ := os.Stat(dir)
		if st.Mode().Perm() != 0o700 {
			t.Errorf("key dir mode %o, want 700", st.Mode().Perm())
		}
		files, _ := filepath.Glob(filepath.Join(dir, "*.pem"))
		if len(files) != 1 {
			t.Fatalf("%d key files, want 1", len(files))
		}
		st, _ = os.Stat(files[0])
		if st.Mode().Perm() != 0o600 {
			t.Errorf("key file mode %o, want 600", st.Mode().Perm())
		}
		// Reloading finds the same key: tokens survive a restart.
		ks2, err := LoadKeys(dir, newClock().Now)
		if err != nil {
			t.Fatal(err)
		}
		if ks.SigningKeyID() != ks2.SigningKeyID() {
			t.Errorf("reload changed the signing key")
		}
	})
	t.Run("ErrLooseFileMode", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), KeyDir)
		if _, err := LoadKeys(dir, nil); err != nil {
			t.Fatal(err)
		}
		files, _ := filepath.Glob(filepath.Join(dir, "*.pem"))
		os.Chmod(files[0], 0o644)
		if _, err := LoadKeys(dir, nil); err == nil {
			t.Fatal("a world-readable key was accepted")
		}
	})
	t.Run("ErrLooseDirMode", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), KeyDir)
		os.MkdirAll(dir, 0o755)
		os.Chmod(dir, 0o755)
		if _, err := LoadKeys(dir, nil); err == nil {
			t.Fatal("a world-readable key directory was accepted")
		}
	})
	t.Run("RotateKeepsOldTokensValid", func(t *testing.T) {
		clk := newClock()
		dir := filepath.Join(t.TempDir(), KeyDir)
		ks, _ := LoadKeys(dir, clk.Now)
		tokens := NewTokens(ks, clk.Now)
		old, _, err := tokens.Issue(Principal{UserID: 7, Role: schema.RoleCoordinator})
		if err != nil {
			t.Fatal(err)
		}
		clk.Advance(time.Minute)
		k, err := ks.Rotate()
		if err != nil {
			t.Fatal(err)
		}
		if ks.SigningKeyID() != k.ID {
			t.Fatalf("signing key %s, want the new %s", ks.SigningKeyID(), k.ID)
		}
		if _, err := tokens.Verify(old); err != nil {
			t.Fatalf("token of the old key refused after rotation: %v", err)
		}
		fresh, _, _ := tokens.Issue(Principal{UserID: 7, Role: schema.RoleCoordinator})
		if kidOf(t, fresh) != k.ID {
			t.Errorf("new token not signed with the newest key")
		}
		// A restart picks the newest key by name.
		ks2, _ := LoadKeys(dir, clk.Now)
		if ks2.SigningKeyID() != k.ID || len(ks2.IDs()) != 2 {
			t.Errorf("reload: signing %s of %v, want %s of two", ks2.SigningKeyID(), ks2.IDs(), k.ID)
		}
	})
}

func kidOf(t *testing.T, tok string) string {
	t.Helper()
	parsed, _, err := jwt.NewParser().ParseUnverified(tok, &Claims{})
	if err != nil {
		t.Fatal(err)
	}
	kid, _ := parsed.Header["kid"].(string)
	return kid
}

// forge signs claims with any method and key, with the given header fields.
func forge(t *testing.T, m jwt.SigningMethod, key any, header map[string]any, c Claims) string {
	t.Helper()
	tok := jwt.NewWithClaims(m, c)
	for k, v := range header {
		tok.Header[k] = v
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestVerify(t *testing.T) {
	clk := newClock()
	ks := MustKeys(t, clk.Now)
	tokens := NewTokens(ks, clk.Now)
	kid := ks.SigningKeyID()
	pub, _ := ks.PublicKey(kid)
	good := func() Claims {
		now := clk.Now()
		return Claims{RegisteredClaims: jwt.RegisteredClaims{Issuer: Issuer, Subject: "42",
			Audience: jwt.ClaimStrings{Audience}, IssuedAt: jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(AccessTTL))}, Role: schema.RoleVolunteer, DeviceRow: 3, DeviceID: "android-5b1f"}
	}
	hdr := map[string]any{"kid": kid, "typ": "at+jwt"}
	_, otherKey, _ := ed25519.GenerateKey(rand.Reader)

	t.Run("OK", func(t *testing.T) {
		tok, ttl, err := tokens.Issue(Principal{UserID: 42, Role: schema.RoleVolunteer, DeviceRow: 3, DeviceID: "android-5b1f"})
		if err != nil || ttl != AccessTTL {
			t.Fatal(err, ttl)
		}
		c, err := tokens.Verify(tok)
		if err != nil {
			t.Fatal(err)
		}
		p, _ := c.Principal()
		if p != (Principal{UserID: 42, Role: schema.RoleVolunteer, DeviceRow: 3, DeviceID: "android-5b1f"}) {
			t.Errorf("principal %+v", p)
		}
	})
	cases := []struct {
		name  string
		token func() string
	}{
		{"ErrAlgNone", func() string {
			return forge(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, hdr, good())
		}},
		{"ErrHS256WithPublicKey", func() string {
			// The classic confusion attack: HMAC keyed with the public key material.
			return forge(t, jwt.SigningMethodHS256, []byte(pub), hdr, good())
		}},
		{"ErrWrongKey", func() string {
			return forge(t, jwt.SigningMethodEdDSA, otherKey, hdr, good())
		}},
		{"ErrUnknownKid", func() string {
			return forge(t, jwt.SigningMethodEdDSA, otherKey, map[string]any{"kid": "20990101T000000Z-abcdef", "typ": "at+jwt"}, good())
		}},
		{"ErrNoKid", func() string {
			return forge(t, jwt.SigningMethodEdDSA, otherKey, map[string]any{"typ": "at+jwt"}, good())
		}},
		{"ErrNotAnAccessToken", func() string {
			k := ks.signing()
			return forge(t, jwt.SigningMethodEdDSA, k.Private, map[string]any{"kid": kid}, good())
		}},
		{"ErrExpired", func() string {
			c := good()
			c.IssuedAt = jwt.NewNumericDate(clk.Now().Add(-time.Hour))
			c.ExpiresAt = jwt.NewNumericDate(clk.Now().Add(-time.Hour + AccessTTL))
			return forge(t, jwt.SigningMethodEdDSA, ks.signing().Private, hdr, c)
		}},
		{"ErrNoExpiry", func() string {
			c := good()
			c.ExpiresAt = nil
			return forge(t, jwt.SigningMethodEdDSA, ks.signing().Private, hdr, c)
		}},
		{"ErrOtherIssuer", func() string {
			c := good()
			c.Issuer = "someone-else"
			return forge(t, jwt.SigningMethodEdDSA, ks.signing().Private, hdr, c)
		}},
		{"ErrOtherAudience", func() string {
			c := good()
			c.Audience = jwt.ClaimStrings{"dashboard"}
			return forge(t, jwt.SigningMethodEdDSA, ks.signing().Private, hdr, c)
		}},
		{"ErrBadSubject", func() string {
			c := good()
			c.Subject = "admin"
			return forge(t, jwt.SigningMethodEdDSA, ks.signing().Private, hdr, c)
		}},
		{"ErrGarbage", func() string { return "not.a.jwt" }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tokens.Verify(tc.token())
			if schema.ErrorCode(err) != schema.CodeUnauthorized {
				t.Fatalf("err = %v, want unauthorized", err)
			}
		})
	}
	t.Run("ExpiresAfterTTL", func(t *testing.T) {
		c := newClock()
		tk := NewTokens(ks, c.Now)
		tok, _, _ := tk.Issue(Principal{UserID: 1, Role: schema.RoleAdmin})
		c.Advance(AccessTTL + clockSkew + time.Second)
		if _, err := tk.Verify(tok); schema.ErrorCode(err) != schema.CodeUnauthorized {
			t.Fatalf("a token past its TTL verified: %v", err)
		}
	})
}

func TestEnrollmentCode(t *testing.T) {
	seen := map[string]bool{}
	for range 200 {
		c := NewEnrollmentCode()
		if len(c) != 11 || c[5] != '-' {
			t.Fatalf("code %q is not two groups of five", c)
		}
		n, ok := NormalizeEnrollmentCode(c)
		if !ok || n != strings.ReplaceAll(c, "-", "") {
			t.Fatalf("normalise(%q) = %q, %v", c, n, ok)
		}
		if seen[n] {
			t.Fatalf("code %q repeated", c)
		}
		seen[n] = true
	}
	t.Run("ForgivingInput", func(t *testing.T) {
		a, _ := HashEnrollmentCode("7KQ2M-XH4PA")
		for _, typed := range []string{"7kq2m xh4pa", "7KQ2MXH4PA", " 7kq2m-xh4pa "} {
			if h, ok := HashEnrollmentCode(typed); !ok || h != a {
				t.Errorf("%q not read as 7KQ2M-XH4PA", typed)
			}
		}
		b, _ := HashEnrollmentCode("10000-00000")
		if h, _ := HashEnrollmentCode("lO000-oooOO"); h != b {
			t.Errorf("O, I and L not read as 0, 1 and 1")
		}
	})
	t.Run("ErrNotACode", func(t *testing.T) {
		for _, s := range []string{"", "7KQ2M", "7KQ2M-XH4PAU", "7KQ2M-XH4PÁ", "7KQ2U-XH4PA", strings.Repeat("A", 100)} {
			if _, ok := NormalizeEnrollmentCode(s); ok {
				t.Errorf("%q accepted", s)
			}
		}
	})
}

// decodeQR reads the text of a QR code in a PNG.
func decodeQR(t *testing.T, pngBytes []byte) string {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(pngBytes))
	if err != nil {
		t.Fatal(err)
	}
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		t.Fatal(err)
	}
	res, err := gozxingqr.NewQRCodeReader().Decode(bmp, nil)
	if err != nil {
		t.Fatal(err)
	}
	return res.GetText()
}

func TestEnrollmentQRRoundTrip(t *testing.T) {
	code := NewEnrollmentCode()
	payload := EnrollmentPayload("https://cdt.dongthap.gov.vn", code)
	img, err := EnrollmentQR(payload)
	if err != nil {
		t.Fatal(err)
	}
	got := decodeQR(t, img)
	if got != payload {
		t.Fatalf("QR holds %q, want %q", got, payload)
	}
	server, c, err := ParseEnrollmentPayload(got)
	if err != nil || server != "https://cdt.dongthap.gov.vn" || c != code {
		t.Fatalf("parse = %q, %q, %v", server, c, err)
	}
}

func TestRefreshToken(t *testing.T) {
	tok, hash := NewRefreshToken()
	if !LooksLikeRefreshToken(tok) {
		t.Fatalf("%q does not look like a refresh token", tok)
	}
	if hash != HashSecret(tok) || strings.Contains(hash, tok) {
		t.Fatal("hash is not the token's SHA-256")
	}
	tok2, _ := NewRefreshToken()
	if tok == tok2 {
		t.Fatal("two refresh tokens are equal")
	}
	for _, s := range []string{"", "cdtr_", "cdtr_short", tok + "x", "Bearer " + tok} {
		if LooksLikeRefreshToken(s) {
			t.Errorf("%q looks like a refresh token", s)
		}
	}
}

func TestLimiter(t *testing.T) {
	clk := newClock()
	l := NewLimiter(time.Minute, 3, clk.Now)
	for i := range 3 {
		if ok, _ := l.Allow("login:nguyen.lan"); !ok {
			t.Fatalf("attempt %d refused within the burst", i+1)
		}
	}
	ok, wait := l.Allow("login:nguyen.lan")
	if ok || wait <= 0 || wait > time.Minute {
		t.Fatalf("4th attempt: ok=%v wait=%v; want refused with a wait up to a minute", ok, wait)
	}
	if ok, _ := l.Allow("login:tran.binh"); !ok {
		t.Fatal("another key was limited")
	}
	clk.Advance(wait)
	if ok, _ := l.Allow("login:nguyen.lan"); !ok {
		t.Fatal("refused after waiting the advertised time")
	}
	if w := l.Wait("login:nguyen.lan"); w <= 0 {
		t.Fatal("Wait after spending the earned attempt is 0")
	}
	clk.Advance(time.Hour)
	l.sweep(clk.Now())
	if len(l.tat) != 0 {
		t.Errorf("%d keys kept after their burst was earned back", len(l.tat))
	}
}
