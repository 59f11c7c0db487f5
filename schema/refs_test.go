package schema

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"testing"
)

func TestCitizenRef(t *testing.T) {
	key := []byte("khoá triển khai Đồng Tháp 32 byte")
	want := func(msg string) string {
		m := hmac.New(sha256.New, key)
		m.Write([]byte(msg))
		return hex.EncodeToString(m.Sum(nil))
	}
	for _, typed := range []string{"087123456789", "087 123 456 789", "087.123.456.789", "087-123-456-789"} {
		got, err := CitizenRef(key, typed)
		if err != nil || got != want("citizen:087123456789") {
			t.Fatalf("%q: %s %v", typed, got, err)
		}
	}
	for _, bad := range []string{"", "08712345678", "0871234567890", "999123456789", "087123456a89", "０８７１２３４５６７８９"} {
		if _, err := CitizenRef(key, bad); ErrorCode(err) != CodeInvalid {
			t.Fatalf("%q accepted: %v", bad, err)
		}
	}
	h1, _ := HouseholdRef(key, " hk 0871 ")
	h2, _ := HouseholdRef(key, "HK0871")
	c, _ := CitizenRef(key, "087123456789")
	if h1 != h2 || h1 != want("household:HK0871") || h1 == c {
		t.Fatal("household refs: normalisation or domain separation")
	}
}
