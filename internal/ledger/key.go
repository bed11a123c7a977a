package ledger

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"unicode"

	"golang.org/x/mod/sumdb/note"

	"github.com/trustward/trustward/internal/fault"
)

// OriginFor returns the checkpoint origin (and signer key name) of an
// organisation's access log: "trustward.example/<org-slug>/access-log".
// The origin names the log for ever: clients pin it with the verifier key.
func OriginFor(org string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(org) {
		if r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r)) {
			b.WriteRune(r)
			dash = false
		} else if b.Len() > 0 && !dash {
			b.WriteByte('-')
			dash = true
		}
	}
	slug := strings.TrimSuffix(b.String(), "-")
	if slug == "" {
		slug = "org"
	}
	return "trustward.example/" + slug + "/access-log"
}

// validOrigin applies the rules of note key names (no spaces, no '+') and
// of C2SP tlog-checkpoint origins (one non-empty line).
func validOrigin(origin string) error {
	if origin == "" || strings.ContainsAny(origin, "+\n") || strings.IndexFunc(origin, unicode.IsSpace) >= 0 {
		return fault.InvalidField("origin", "%q must be non-empty, without spaces or '+'", origin)
	}
	return nil
}

// signerKey is the log's private note key and its public verifier key.
type signerKey struct {
	signer   note.Signer
	verifier string
}

// loadOrCreateKey reads the signer key from path, or creates it when the
// file does not exist and create is set (a new log). The key file must be
// readable by its owner only.
func loadOrCreateKey(path, origin string, create bool) (signerKey, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		if !create {
			return signerKey{}, fault.New(fault.Unavailable,
				"the ledger exists but its signer key file %s is missing: restore it from backup (a new key would change the log's identity)", path)
		}
		return createKey(path, origin)
	}
	if err != nil {
		return signerKey{}, fault.Wrap(fault.Unavailable, err, "cannot read the ledger signer key file %s", path)
	}
	st, err := os.Stat(path)
	if err != nil {
		return signerKey{}, fault.Wrap(fault.Unavailable, err, "cannot read the ledger signer key file %s", path)
	}
	if perm := st.Mode().Perm(); perm&0o077 != 0 {
		return signerKey{}, fault.New(fault.Invalid, "ledger signer key file %s is readable by others (mode %o); run chmod 600 on it", path, perm)
	}
	skey := strings.TrimSpace(string(b))
	k, err := parseSignerKey(skey)
	if err != nil {
		return signerKey{}, fault.Wrap(fault.Invalid, err, "ledger signer key file %s does not hold a note signer key", path)
	}
	if k.signer.Name() != origin {
		return signerKey{}, fault.New(fault.Invalid, "ledger signer key file %s is for origin %q, not %q: the origin of a log cannot change", path, k.signer.Name(), origin)
	}
	return k, nil
}

func createKey(path, origin string) (signerKey, error) {
	skey, _, err := note.GenerateKey(rand.Reader, origin)
	if err != nil {
		return signerKey{}, fault.Wrap(fault.Invalid, err, "cannot create a signer key for origin %q", origin)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return signerKey{}, fault.Wrap(fault.Unavailable, err, "cannot create the folder of %s", path)
	}
	// O_EXCL: two processes starting together must not each write a key.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return signerKey{}, fault.Wrap(fault.Unavailable, err, "cannot create the ledger signer key file %s", path)
	}
	_, werr := f.WriteString(skey + "\n")
	serr := f.Sync()
	cerr := f.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		os.Remove(path)
		return signerKey{}, fault.Wrap(fault.Unavailable, err, "cannot write the ledger signer key file %s", path)
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		d.Sync()
		d.Close()
	}
	return parseSignerKey(skey)
}

// parseSignerKey opens a note signer key ("PRIVATE+KEY+name+hash+key") and
// derives its verifier key: note offers no function for that, so the
// Ed25519 seed is read from the signed-note key encoding (algorithm byte 1,
// then the 32-byte seed).
func parseSignerKey(skey string) (signerKey, error) {
	s, err := note.NewSigner(skey)
	if err != nil {
		return signerKey{}, err
	}
	// PRIVATE+KEY+<name>+<hash>+<base64 key>; the base64 may hold '+'.
	parts := strings.SplitN(skey, "+", 5)
	if len(parts) != 5 {
		return signerKey{}, fmt.Errorf("not a note signer key")
	}
	raw, err := base64.StdEncoding.DecodeString(parts[4])
	if err != nil || len(raw) != 1+ed25519.SeedSize || raw[0] != 1 {
		return signerKey{}, fmt.Errorf("not an Ed25519 note signer key")
	}
	pub := ed25519.NewKeyFromSeed(raw[1:]).Public().(ed25519.PublicKey)
	vkey, err := note.NewEd25519VerifierKey(s.Name(), pub)
	if err != nil {
		return signerKey{}, err
	}
	v, err := note.NewVerifier(vkey)
	if err != nil || v.KeyHash() != s.KeyHash() {
		return signerKey{}, fmt.Errorf("verifier key does not match the signer key")
	}
	return signerKey{signer: s, verifier: vkey}, nil
}
