package auth

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"
)

// KeyDir is the folder of signing keys inside the data directory.
const KeyDir = "keys"

// A Key is one Ed25519 signing key. Its ID (the JWT "kid") is its file name without
// ".pem": the UTC creation time then a thumbprint of the public key, so names sort by age.
type Key struct {
	ID      string
	Private ed25519.PrivateKey
	Public  ed25519.PublicKey
}

// KeySet holds the server's signing keys. Tokens are signed with the newest key and
// verified with any key of the set, so a key can be rotated without signing anyone out:
// add a new key (Rotate), and remove the old file once its tokens have expired (after
// AccessTTL). A KeySet is safe for concurrent use.
type KeySet struct {
	dir string
	now func() time.Time

	mu   sync.RWMutex
	keys map[string]Key
	sign Key
}

// LoadKeys loads the keys in dir (normally <data>/keys), creating dir (mode 0700) and a
// first key (mode 0600) if there is none. It refuses a directory or key file that group or
// others can read or write: the keys let anyone sign in as anyone.
func LoadKeys(dir string, now func() time.Time) (*KeySet, error) {
	if now == nil {
		now = time.Now
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("auth: create key directory: %w", err)
	}
	if err := checkPrivate(dir); err != nil {
		return nil, err
	}
	ks := &KeySet{dir: dir, now: now, keys: map[string]Key{}}
	if err := ks.load(); err != nil {
		return nil, err
	}
	if len(ks.keys) == 0 {
		if _, err := ks.Rotate(); err != nil {
			return nil, err
		}
	}
	return ks, nil
}

// checkPrivate refuses a path whose mode lets group or others in.
func checkPrivate(path string) error {
	st, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("auth: %w", err)
	}
	if st.Mode().Perm()&0o077 != 0 {
		want := "600"
		if st.IsDir() {
			want = "700"
		}
		return fmt.Errorf("auth: %s có quyền truy cập %o, chỉ chủ sở hữu được đọc: chạy chmod %s / %s has mode %o; "+
			"only its owner may read it: run chmod %s", path, st.Mode().Perm(), want, path, st.Mode().Perm(), want)
	}
	return nil
}

func (ks *KeySet) load() error {
	entries, err := os.ReadDir(ks.dir)
	if err != nil {
		return fmt.Errorf("auth: read key directory: %w", err)
	}
	var names []string
	for _, e := range entries {
		if !e.IsDir() && strings.HasSuffix(e.Name(), ".pem") {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	for _, name := range names {
		path := filepath.Join(ks.dir, name)
		if err := checkPrivate(path); err != nil {
			return err
		}
		k, err := readKey(path)
		if err != nil {
			return err
		}
		ks.keys[k.ID] = k
		ks.sign = k // names sort by creation time: the last is the newest
	}
	return nil
}

func readKey(path string) (Key, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Key{}, fmt.Errorf("auth: %w", err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "PRIVATE KEY" {
		return Key{}, fmt.Errorf("auth: %s is not a PEM private key", path)
	}
	pk, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return Key{}, fmt.Errorf("auth: %s: %w", path, err)
	}
	priv, ok := pk.(ed25519.PrivateKey)
	if !ok {
		return Key{}, fmt.Errorf("auth: %s is not an Ed25519 key", path)
	}
	return Key{ID: strings.TrimSuffix(filepath.Base(path), ".pem"), Private: priv, Public: priv.Public().(ed25519.PublicKey)}, nil
}

// Rotate creates a new key, writes it to the key directory (mode 0600) and makes it the
// signing key. Tokens signed with older keys stay valid until they expire.
func (ks *KeySet) Rotate() (Key, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return Key{}, err
	}
	sum := sha256.Sum256(pub)
	id := ks.now().UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(sum[:6])
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return Key{}, err
	}
	path := filepath.Join(ks.dir, id+".pem")
	// O_EXCL: never overwrite a key; 0600 from the start, so the key is never readable by others.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return Key{}, fmt.Errorf("auth: write key: %w", err)
	}
	if err := pem.Encode(f, &pem.Block{Type: "PRIVATE KEY", Bytes: der}); err != nil {
		f.Close()
		os.Remove(path)
		return Key{}, fmt.Errorf("auth: write key: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(path)
		return Key{}, fmt.Errorf("auth: write key: %w", err)
	}
	if err := f.Close(); err != nil {
		os.Remove(path)
		return Key{}, fmt.Errorf("auth: write key: %w", err)
	}
	if d, err := os.Open(ks.dir); err == nil { // make the new name durable too
		d.Sync()
		d.Close()
	}
	k := Key{ID: id, Private: priv, Public: pub}
	ks.mu.Lock()
	ks.keys[id] = k
	if ks.sign.ID == "" || id > ks.sign.ID {
		ks.sign = k
	}
	ks.mu.Unlock()
	return k, nil
}

// signing returns the newest key.
func (ks *KeySet) signing() Key {
	ks.mu.RLock()
	defer ks.mu.RUnlock()
	return ks.sign
}

// public returns the public key with the given id.
func (ks *KeySet) public(id string) (ed25519.PublicKey, bool) {
	ks.mu.RLock()
	defer ks.mu.RUnlock()
	k, ok := ks.keys[id]
	return k.Public, ok
}

// IDs returns the ids of the keys in the set, oldest first.
func (ks *KeySet) IDs() []string {
	ks.mu.RLock()
	defer ks.mu.RUnlock()
	ids := make([]string, 0, len(ks.keys))
	for id := range ks.keys {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// SigningKeyID returns the id of the key new tokens are signed with.
func (ks *KeySet) SigningKeyID() string { return ks.signing().ID }

// PublicKey returns the public key with the given id, for tests and for publishing a key
// set to other verifiers.
func (ks *KeySet) PublicKey(id string) (ed25519.PublicKey, bool) { return ks.public(id) }

var errNoKey = errors.New("auth: no signing key")
