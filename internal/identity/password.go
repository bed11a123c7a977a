package identity

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
	"golang.org/x/text/unicode/norm"

	"github.com/trustward/trustward/internal/fault"
)

// Argon2Params are the argon2id cost parameters.
type Argon2Params struct {
	Memory  uint32 // KiB
	Time    uint32
	Threads uint8
}

// DefaultArgon2 follows OWASP's argon2id baseline (19 MiB, 2 passes), which
// costs about 30-50 ms on one core of the target machine.
var DefaultArgon2 = Argon2Params{Memory: 19 * 1024, Time: 2, Threads: 1}

// Hasher hashes and verifies passwords; a semaphore bounds concurrent
// hashing so that a burst of sign-ins cannot starve other requests of CPU
// and memory.
type Hasher struct {
	params Argon2Params
	sem    chan struct{}
}

// NewHasher returns a Hasher running at most concurrency hashes at once.
func NewHasher(p Argon2Params, concurrency int) *Hasher {
	return &Hasher{params: p, sem: make(chan struct{}, max(1, concurrency))}
}

// MaxPasswordBytes bounds what is hashed (NIST asks to accept at least 64
// characters; we accept up to 256 bytes after normalisation).
const MaxPasswordBytes = 256

// normalisePassword applies NFKC, as NIST SP 800-63B asks for Unicode
// passwords, so that the same password typed on two keyboards matches.
func normalisePassword(pw string) string { return norm.NFKC.String(pw) }

// Hash returns a PHC-format argon2id hash of pw.
func (h *Hasher) Hash(ctx context.Context, pw string) (string, error) {
	pw = normalisePassword(pw)
	if len(pw) > MaxPasswordBytes {
		return "", fault.InvalidField("password", "is longer than %d bytes", MaxPasswordBytes)
	}
	if err := h.acquire(ctx); err != nil {
		return "", err
	}
	defer h.release()
	salt := make([]byte, 16)
	rand.Read(salt)
	key := argon2.IDKey([]byte(pw), salt, h.params.Time, h.params.Memory, h.params.Threads, 32)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, h.params.Memory, h.params.Time, h.params.Threads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key)), nil
}

// Verify reports whether pw matches the encoded hash, and whether the hash
// should be recomputed because its parameters differ from the current ones.
func (h *Hasher) Verify(ctx context.Context, encoded, pw string) (ok, rehash bool, err error) {
	pw = normalisePassword(pw)
	if len(pw) > MaxPasswordBytes {
		return false, false, nil
	}
	p, salt, key, err := decodeHash(encoded)
	if err != nil {
		return false, false, err
	}
	if err := h.acquire(ctx); err != nil {
		return false, false, err
	}
	defer h.release()
	got := argon2.IDKey([]byte(pw), salt, p.Time, p.Memory, p.Threads, uint32(len(key)))
	ok = subtle.ConstantTimeCompare(got, key) == 1
	return ok, ok && p != h.params, nil
}

func (h *Hasher) acquire(ctx context.Context) error {
	select {
	case h.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fault.Wrap(fault.Unavailable, ctx.Err(), "the server is busy; try again")
	}
}

func (h *Hasher) release() { <-h.sem }

func decodeHash(s string) (Argon2Params, []byte, []byte, error) {
	var p Argon2Params
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return p, nil, nil, fmt.Errorf("not an argon2id hash")
	}
	var v int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &v); err != nil || v != argon2.Version {
		return p, nil, nil, fmt.Errorf("unsupported argon2 version")
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.Memory, &p.Time, &p.Threads); err != nil {
		return p, nil, nil, fmt.Errorf("bad argon2 parameters")
	}
	if p.Memory > 1<<22 || p.Time > 16 || p.Time == 0 || p.Threads == 0 {
		return p, nil, nil, fmt.Errorf("argon2 parameters out of range")
	}
	salt, err1 := base64.RawStdEncoding.DecodeString(parts[4])
	key, err2 := base64.RawStdEncoding.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(key) < 16 || len(key) > 64 {
		return p, nil, nil, fmt.Errorf("bad argon2 salt or key")
	}
	return p, salt, key, nil
}
