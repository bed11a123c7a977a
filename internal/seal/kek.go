package seal

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/trustward/trustward/internal/fault"
)

// KeyEncrypter wraps and unwraps data keys. FileKEK implements it with keys
// from a local file; a KMS client can implement it instead.
type KeyEncrypter interface {
	// ActiveKeyID names the key that Wrap uses.
	ActiveKeyID() string
	Wrap(ctx context.Context, dek, aad []byte) (keyID string, wrapped []byte, err error)
	Unwrap(ctx context.Context, keyID string, wrapped, aad []byte) ([]byte, error)
	// HasKey reports whether keyID can be unwrapped.
	HasKey(keyID string) bool
}

// keyFile is the on-disk form of the key ring: every KEK ever made that has
// not been retired; the last one is active.
type keyFile struct {
	Warning string    `json:"warning"`
	Keys    []fileKey `json:"keys"`
}

type fileKey struct {
	ID      string    `json:"id"`
	Key     string    `json:"key"` // base64 of 32 bytes
	Created time.Time `json:"created"`
}

const keyFileWarning = "Trustward key-encryption keys. Losing this file makes every sealed record unreadable; anyone holding it and the database can read them. Production keys belong in a KMS or HSM."

// FileKEK is a key ring of AES-256 key-encryption keys kept in a file with
// mode 0600.
type FileKEK struct {
	path string
	mu   sync.RWMutex
	ids  []string
	aead map[string]cipher.AEAD
	raw  keyFile
}

// ErrNoKeyFile reports that the key file does not exist.
var ErrNoKeyFile = errors.New("key file does not exist")

// LoadFileKEK reads a key file. It refuses a file readable by others.
func LoadFileKEK(path string) (*FileKEK, error) {
	st, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrNoKeyFile
	}
	if err != nil {
		return nil, fault.Wrap(fault.Unavailable, err, "key file %s cannot be read", path)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, fault.New(fault.Invalid, "key file %s is readable by others (mode %o); run chmod 600 on it", path, st.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fault.Wrap(fault.Unavailable, err, "key file %s cannot be read", path)
	}
	var kf keyFile
	if err := json.Unmarshal(b, &kf); err != nil {
		return nil, fault.New(fault.Invalid, "key file %s is not a Trustward key file (%v)", path, err)
	}
	k := &FileKEK{path: path}
	if err := k.setKeys(kf); err != nil {
		return nil, fault.New(fault.Invalid, "key file %s: %v", path, err)
	}
	return k, nil
}

// CreateFileKEK makes a new key file with one fresh KEK. It fails if the
// file exists, so that a key is never overwritten.
func CreateFileKEK(path string, now time.Time) (*FileKEK, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fault.Wrap(fault.Unavailable, err, "cannot create folder for key file %s", path)
	}
	kf := keyFile{Warning: keyFileWarning, Keys: []fileKey{newFileKey(now)}}
	b, _ := json.MarshalIndent(kf, "", "  ")
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fault.Wrap(fault.Unavailable, err, "cannot create key file %s", path)
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return nil, fault.Wrap(fault.Unavailable, err, "cannot write key file %s", path)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, err
	}
	if err := f.Close(); err != nil {
		return nil, err
	}
	k := &FileKEK{path: path}
	if err := k.setKeys(kf); err != nil {
		return nil, err
	}
	return k, nil
}

func newFileKey(now time.Time) fileKey {
	key := make([]byte, 32)
	rand.Read(key)
	id := make([]byte, 6)
	rand.Read(id)
	return fileKey{ID: "kek-" + fmt.Sprintf("%x", id), Key: base64.StdEncoding.EncodeToString(key), Created: now.UTC()}
}

func (k *FileKEK) setKeys(kf keyFile) error {
	if len(kf.Keys) == 0 {
		return errors.New("no keys")
	}
	ids := make([]string, 0, len(kf.Keys))
	aeads := map[string]cipher.AEAD{}
	for _, fk := range kf.Keys {
		raw, err := base64.StdEncoding.DecodeString(fk.Key)
		if err != nil || len(raw) != 32 {
			return fmt.Errorf("key %q is not 32 bytes of base64", fk.ID)
		}
		if fk.ID == "" {
			return errors.New("a key has no id")
		}
		if _, dup := aeads[fk.ID]; dup {
			return fmt.Errorf("key id %q appears twice", fk.ID)
		}
		a, err := newAEAD(raw)
		if err != nil {
			return err
		}
		aeads[fk.ID] = a
		ids = append(ids, fk.ID)
	}
	k.mu.Lock()
	k.ids, k.aead, k.raw = ids, aeads, kf
	k.mu.Unlock()
	return nil
}

// ActiveKeyID returns the newest key's id.
func (k *FileKEK) ActiveKeyID() string {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return k.ids[len(k.ids)-1]
}

// HasKey reports whether the ring holds keyID.
func (k *FileKEK) HasKey(id string) bool {
	k.mu.RLock()
	defer k.mu.RUnlock()
	_, ok := k.aead[id]
	return ok
}

// Wrap seals dek under the active KEK.
func (k *FileKEK) Wrap(_ context.Context, dek, aad []byte) (string, []byte, error) {
	k.mu.RLock()
	id := k.ids[len(k.ids)-1]
	a := k.aead[id]
	k.mu.RUnlock()
	return id, sealBytes(a, dek, aad), nil
}

// Unwrap opens a data key wrapped under keyID.
func (k *FileKEK) Unwrap(_ context.Context, id string, wrapped, aad []byte) ([]byte, error) {
	k.mu.RLock()
	a, ok := k.aead[id]
	k.mu.RUnlock()
	if !ok {
		return nil, fault.New(fault.Unavailable, "key-encryption key %s is not in the key file %s", id, k.path)
	}
	dek, err := openBytes(a, wrapped, aad)
	if err != nil {
		return nil, fault.Wrap(fault.Unavailable, err, "a data key wrapped by %s does not open with the key file %s: wrong key file?", id, k.path)
	}
	return dek, nil
}

// AddKey appends a fresh KEK, makes it active and rewrites the file
// atomically.
func (k *FileKEK) AddKey(now time.Time) (string, error) {
	k.mu.RLock()
	kf := keyFile{Warning: keyFileWarning, Keys: append([]fileKey(nil), k.raw.Keys...)}
	k.mu.RUnlock()
	nk := newFileKey(now)
	kf.Keys = append(kf.Keys, nk)
	if err := k.write(kf); err != nil {
		return "", err
	}
	return nk.ID, k.setKeys(kf)
}

// RetireKeys removes every key but those in keep from the file.
func (k *FileKEK) RetireKeys(keep map[string]bool) error {
	k.mu.RLock()
	var kf keyFile
	kf.Warning = keyFileWarning
	active := k.ids[len(k.ids)-1]
	for _, fk := range k.raw.Keys {
		if keep[fk.ID] || fk.ID == active {
			kf.Keys = append(kf.Keys, fk)
		}
	}
	k.mu.RUnlock()
	if err := k.write(kf); err != nil {
		return err
	}
	return k.setKeys(kf)
}

func (k *FileKEK) write(kf keyFile) error {
	b, _ := json.MarshalIndent(kf, "", "  ")
	tmp := k.path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fault.Wrap(fault.Unavailable, err, "cannot write key file")
	}
	f, err := os.Open(tmp)
	if err == nil {
		f.Sync()
		f.Close()
	}
	if err := os.Rename(tmp, k.path); err != nil {
		return fault.Wrap(fault.Unavailable, err, "cannot replace key file")
	}
	return nil
}

func newAEAD(key []byte) (cipher.AEAD, error) {
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}

// sealBytes returns nonce || ciphertext.
func sealBytes(a cipher.AEAD, plain, aad []byte) []byte {
	out := make([]byte, a.NonceSize(), a.NonceSize()+len(plain)+a.Overhead())
	rand.Read(out)
	return a.Seal(out, out, plain, aad)
}

func openBytes(a cipher.AEAD, sealed, aad []byte) ([]byte, error) {
	if len(sealed) < a.NonceSize()+a.Overhead() {
		return nil, errors.New("sealed data is too short")
	}
	return a.Open(nil, sealed[:a.NonceSize()], sealed[a.NonceSize():], aad)
}

// KeyIDs lists the ids of the keys in the ring, oldest first.
func (k *FileKEK) KeyIDs() []string {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return append([]string(nil), k.ids...)
}
