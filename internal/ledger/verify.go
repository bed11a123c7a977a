package ledger

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/trustward/trustward/internal/fault"
)

// These helpers verify what the log publishes with nothing but the
// verifier key: `trustward verify`, the patient portal and tests use them,
// and an independent client can do the same with golang.org/x/mod/sumdb.

// Checkpoint is the body of a C2SP tlog-checkpoint: the log's origin, its
// size and the RFC 6962 root hash of its first Size leaves.
type Checkpoint struct {
	Origin string
	Size   uint64
	Hash   tlog.Hash
	// Extensions are the optional lines after the root hash, verbatim.
	Extensions []string
}

// maxCheckpointSize bounds what ParseCheckpoint and VerifyCheckpoint read:
// a checkpoint with a few cosignatures is well under 1 KiB.
const maxCheckpointSize = 64 << 10

// ParseCheckpoint parses the text of a checkpoint (the note body, without
// signatures). It accepts exactly the C2SP form: an origin line, the size
// in decimal without leading zeros, the standard base64 of a 32-byte hash,
// then optional non-empty extension lines, every line ending in a newline.
func ParseCheckpoint(text []byte) (Checkpoint, error) {
	var cp Checkpoint
	if len(text) > maxCheckpointSize {
		return cp, fault.New(fault.TooLarge, "checkpoint is larger than 64 KiB")
	}
	if !bytes.HasSuffix(text, []byte("\n")) {
		return cp, fault.New(fault.Invalid, "checkpoint does not end with a newline")
	}
	lines := strings.Split(string(text[:len(text)-1]), "\n")
	if len(lines) < 3 {
		return cp, fault.New(fault.Invalid, "checkpoint has %d lines, want at least 3", len(lines))
	}
	cp.Origin = lines[0]
	if err := validOrigin(cp.Origin); err != nil {
		return Checkpoint{}, fault.New(fault.Invalid, "checkpoint origin %q is not valid", cp.Origin)
	}
	size := lines[1]
	n, err := strconv.ParseUint(size, 10, 64)
	if err != nil || (len(size) > 1 && size[0] == '0') || strings.TrimLeft(size, "0123456789") != "" {
		return Checkpoint{}, fault.New(fault.Invalid, "checkpoint size %q is not a decimal number", size)
	}
	if n > math.MaxInt64 {
		return Checkpoint{}, fault.New(fault.Invalid, "checkpoint size %d is too large", n)
	}
	cp.Size = n
	h, err := base64.StdEncoding.Strict().DecodeString(lines[2])
	if err != nil || len(h) != len(cp.Hash) || base64.StdEncoding.EncodeToString(h) != lines[2] {
		return Checkpoint{}, fault.New(fault.Invalid, "checkpoint root hash is not the base64 of 32 bytes")
	}
	copy(cp.Hash[:], h)
	for _, ext := range lines[3:] {
		if ext == "" {
			return Checkpoint{}, fault.New(fault.Invalid, "checkpoint has an empty extension line")
		}
		cp.Extensions = append(cp.Extensions, ext)
	}
	return cp, nil
}

// Marshal returns the checkpoint text (the note body).
func (c Checkpoint) Marshal() []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n%d\n%s\n", c.Origin, c.Size, base64.StdEncoding.EncodeToString(c.Hash[:]))
	for _, e := range c.Extensions {
		b.WriteString(e + "\n")
	}
	return []byte(b.String())
}

// ErrBadSignature reports a checkpoint that the expected key did not sign.
var ErrBadSignature = errors.New("the checkpoint is not signed by the log's key")

// ErrProof reports a proof that does not hold.
var ErrProof = errors.New("the proof does not hold")

// VerifyCheckpoint opens a signed checkpoint note with the log's verifier
// key (a note verifier key, "origin+hash+key") and parses it. It fails
// unless that key signed it and the checkpoint's origin is the key's name.
// Signatures by other keys (witness cosignatures) are allowed and ignored.
func VerifyCheckpoint(signed []byte, verifierKey string) (Checkpoint, error) {
	if len(signed) > maxCheckpointSize {
		return Checkpoint{}, fault.New(fault.TooLarge, "signed checkpoint is larger than 64 KiB")
	}
	v, err := note.NewVerifier(verifierKey)
	if err != nil {
		return Checkpoint{}, fault.Wrap(fault.Invalid, err, "the verifier key is not a note verifier key")
	}
	n, err := note.Open(signed, note.VerifierList(v))
	if err != nil {
		return Checkpoint{}, fault.Wrap(fault.Invalid, errors.Join(ErrBadSignature, err), "the checkpoint does not verify")
	}
	// note.Open decodes signatures with lenient base64, which ignores the
	// unused low bits of the last character: two spellings of one
	// signature would both verify. Only the canonical one is accepted, so
	// that no bit of a checkpoint can change unnoticed.
	for _, line := range strings.Split(strings.TrimSuffix(string(signed[len(n.Text)+1:]), "\n"), "\n") {
		f := strings.Fields(line)
		if len(f) == 3 {
			if _, err := base64.StdEncoding.Strict().DecodeString(f[2]); err != nil {
				return Checkpoint{}, fault.Wrap(fault.Invalid, errors.Join(ErrBadSignature, err), "a signature of the checkpoint is not canonical base64")
			}
		}
	}
	cp, err := ParseCheckpoint([]byte(n.Text))
	if err != nil {
		return Checkpoint{}, err
	}
	if cp.Origin != v.Name() {
		return Checkpoint{}, fault.Wrap(fault.Invalid, ErrBadSignature, "the checkpoint's origin %q is not the key's name %q", cp.Origin, v.Name())
	}
	return cp, nil
}

// LeafHash is the RFC 6962 hash of a leaf: SHA-256(0x00 || leaf).
func LeafHash(leaf []byte) tlog.Hash { return tlog.RecordHash(leaf) }

func toHashes(proof [][]byte) ([]tlog.Hash, error) {
	if len(proof) > 64 {
		return nil, fault.Wrap(fault.Invalid, ErrProof, "a proof has at most 64 hashes, not %d", len(proof))
	}
	out := make([]tlog.Hash, len(proof))
	for i, h := range proof {
		if len(h) != len(tlog.Hash{}) {
			return nil, fault.Wrap(fault.Invalid, ErrProof, "proof hash %d has %d bytes, want 32", i, len(h))
		}
		copy(out[i][:], h)
	}
	return out, nil
}

// VerifyInclusion checks that leaf is the entry at index of the tree the
// checkpoint commits to, using an inclusion proof (RFC 6962 audit path).
func VerifyInclusion(cp Checkpoint, index uint64, leaf []byte, proof [][]byte) error {
	if index >= cp.Size {
		return fault.Wrap(fault.Invalid, ErrProof, "index %d is not in a tree of size %d", index, cp.Size)
	}
	p, err := toHashes(proof)
	if err != nil {
		return err
	}
	if err := tlog.CheckRecord(p, int64(cp.Size), cp.Hash, int64(index), LeafHash(leaf)); err != nil {
		return fault.Wrap(fault.Invalid, errors.Join(ErrProof, err), "leaf %d is not proven in the tree of size %d", index, cp.Size)
	}
	return nil
}

// VerifyConsistency checks that the tree of older is a prefix of the tree
// of newer (the log only grew), using a consistency proof.
func VerifyConsistency(older, newer Checkpoint, proof [][]byte) error {
	if older.Origin != newer.Origin {
		return fault.Wrap(fault.Invalid, ErrProof, "checkpoints of two logs (%q, %q)", older.Origin, newer.Origin)
	}
	if older.Size > newer.Size {
		return fault.Wrap(fault.Invalid, ErrProof, "the older tree (%d) is larger than the newer (%d)", older.Size, newer.Size)
	}
	if older.Size == 0 {
		// The empty tree is a prefix of every tree; RFC 9162 proves it
		// with an empty proof.
		if len(proof) != 0 {
			return fault.Wrap(fault.Invalid, ErrProof, "a proof from the empty tree must be empty")
		}
		if older.Hash != tlog.Hash(sha256.Sum256(nil)) {
			return fault.Wrap(fault.Invalid, ErrProof, "the empty tree's root is not SHA-256 of nothing")
		}
		return nil
	}
	p, err := toHashes(proof)
	if err != nil {
		return err
	}
	if err := tlog.CheckTree(p, int64(newer.Size), newer.Hash, int64(older.Size), older.Hash); err != nil {
		return fault.Wrap(fault.Invalid, errors.Join(ErrProof, err), "the tree of size %d is not a prefix of the tree of size %d", older.Size, newer.Size)
	}
	return nil
}
