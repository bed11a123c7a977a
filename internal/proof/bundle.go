// Package proof owns what lets a patient prove, offline and without
// trusting Trustward's code, that an access to their record is in the
// transparency log: the proof bundle (the event, its salt, the pseudonyms,
// the leaf, its inclusion proof and the signed checkpoint, in one JSON
// document specified in docs/ledger.md), its strict parser and verifier,
// and the verification of a whole log served in the C2SP tlog-tiles
// layout (logverify.go). It must never accept a bundle or a log that one
// check fails, and must say which check failed. It does no network access
// except VerifyLog's, to the URL it is given.
package proof

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/trustward/trustward/internal/audit"
	"github.com/trustward/trustward/internal/fault"
	"github.com/trustward/trustward/internal/ledger"
)

// Format is the format tag of a version 1 bundle.
const Format = "trustward-proof-bundle/v1"

// MaxBundleSize bounds what ParseBundle reads: a bundle is a few KiB.
const MaxBundleSize = 1 << 20

// maxProofHashes bounds the inclusion proof: 64 hashes cover any tree.
const maxProofHashes = 64

// Bundle is a proof that one access event is in the log.
type Bundle struct {
	Format string `json:"format"`
	// Origin is the log's name (the checkpoint's first line).
	Origin string `json:"origin"`
	// Event is the event's canonical JSON, byte for byte as committed.
	Event string `json:"event"`
	// Salt, PatientPseudonym and ActorPseudonym open the leaf's
	// commitment (32 bytes each, standard base64 in JSON).
	Salt             []byte `json:"salt"`
	PatientPseudonym []byte `json:"patientPseudonym"`
	ActorPseudonym   []byte `json:"actorPseudonym"`
	// Leaf is the leaf as in the log; LeafIndex its index.
	Leaf      []byte `json:"leaf"`
	LeafIndex uint64 `json:"leafIndex"`
	// TreeSize is the size of the checkpoint the proof is for.
	TreeSize uint64 `json:"treeSize"`
	// InclusionProof is the RFC 6962 audit path (32-byte hashes).
	InclusionProof [][]byte `json:"inclusionProof"`
	// Checkpoint is the signed checkpoint note, as served.
	Checkpoint string `json:"checkpoint"`
}

// Check names a verification step, so that a failure says which one.
type Check string

// The checks, in the order VerifyBundle makes them.
const (
	CheckFormat     Check = "format"
	CheckSignature  Check = "checkpoint signature"
	CheckOrigin     Check = "origin"
	CheckSize       Check = "tree size"
	CheckLeaf       Check = "leaf"
	CheckInclusion  Check = "inclusion proof"
	CheckRollback   Check = "rollback"
	CheckFork       Check = "fork"
	CheckTile       Check = "tile"
	CheckEntries    Check = "entries"
	CheckRoot       Check = "root"
	CheckConsistent Check = "consistency"
)

// Error is a failed check.
type Error struct {
	Check Check
	Err   error
}

func (e *Error) Error() string { return fmt.Sprintf("%s check failed: %v", e.Check, e.Err) }
func (e *Error) Unwrap() error { return e.Err }

func failed(c Check, format string, args ...any) error {
	return &Error{Check: c, Err: fault.New(fault.Invalid, format, args...)}
}

func failedErr(c Check, err error) error { return &Error{Check: c, Err: err} }

// FailedCheck returns the check an error from this package failed, or "".
func FailedCheck(err error) Check {
	var e *Error
	if errors.As(err, &e) {
		return e.Check
	}
	return ""
}

// ParseBundle reads a bundle strictly: one JSON object with exactly the
// fields above, at most MaxBundleSize bytes, hashes and pseudonyms of 32
// bytes. It does not verify anything cryptographic; VerifyBundle does.
func ParseBundle(data []byte) (*Bundle, error) {
	if len(data) > MaxBundleSize {
		return nil, failed(CheckFormat, "the bundle has %d bytes, more than %d", len(data), MaxBundleSize)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var b Bundle
	if err := dec.Decode(&b); err != nil {
		return nil, failed(CheckFormat, "the bundle is not valid JSON of the documented shape: %v", err)
	}
	if dec.More() {
		return nil, failed(CheckFormat, "the bundle has data after its JSON object")
	}
	if err := b.validate(); err != nil {
		return nil, err
	}
	return &b, nil
}

func (b *Bundle) validate() error {
	switch {
	case b.Format != Format:
		return failed(CheckFormat, "format is %q, not %q", b.Format, Format)
	case b.Origin == "":
		return failed(CheckFormat, "origin is missing")
	case b.Event == "":
		return failed(CheckFormat, "event is missing")
	case len(b.Salt) != 32:
		return failed(CheckFormat, "salt has %d bytes, not 32", len(b.Salt))
	case len(b.PatientPseudonym) != 32:
		return failed(CheckFormat, "patientPseudonym has %d bytes, not 32", len(b.PatientPseudonym))
	case len(b.ActorPseudonym) != 32:
		return failed(CheckFormat, "actorPseudonym has %d bytes, not 32", len(b.ActorPseudonym))
	case len(b.Leaf) == 0:
		return failed(CheckFormat, "leaf is missing")
	case b.Checkpoint == "":
		return failed(CheckFormat, "checkpoint is missing")
	case len(b.InclusionProof) > maxProofHashes:
		return failed(CheckFormat, "the inclusion proof has %d hashes, more than %d", len(b.InclusionProof), maxProofHashes)
	}
	for i, h := range b.InclusionProof {
		if len(h) != 32 {
			return failed(CheckFormat, "inclusion proof hash %d has %d bytes, not 32", i, len(h))
		}
	}
	return nil
}

// Marshal encodes the bundle as indented JSON.
func (b *Bundle) Marshal() ([]byte, error) {
	if err := b.validate(); err != nil {
		return nil, err
	}
	return json.MarshalIndent(b, "", "  ")
}

// Verified is what a valid bundle proves.
type Verified struct {
	Checkpoint ledger.Checkpoint
	Event      audit.Event
	LeafIndex  uint64
}

// VerifyBundle checks a bundle against the log's verifier key, in order:
// the checkpoint's signature (x/mod's note) and origin, the tree size, the
// leaf recomputed from the event, salt and pseudonyms, and the leaf's
// inclusion in the checkpoint's tree (x/mod's tlog). The error says which
// check failed (FailedCheck).
func VerifyBundle(b *Bundle, verifierKey string) (Verified, error) {
	var v Verified
	if err := b.validate(); err != nil {
		return v, err
	}
	cp, err := ledger.VerifyCheckpoint([]byte(b.Checkpoint), verifierKey)
	if err != nil {
		if errors.Is(err, ledger.ErrBadSignature) && strings.Contains(err.Error(), "origin") {
			return v, failedErr(CheckOrigin, err)
		}
		return v, failedErr(CheckSignature, err)
	}
	if cp.Origin != b.Origin {
		return v, failed(CheckOrigin, "the bundle names log %q but the checkpoint is of %q", b.Origin, cp.Origin)
	}
	if cp.Size != b.TreeSize {
		return v, failed(CheckSize, "the proof is for a tree of %d leaves but the checkpoint has %d", b.TreeSize, cp.Size)
	}
	if b.LeafIndex >= cp.Size {
		return v, failed(CheckSize, "leaf %d is outside a tree of %d leaves", b.LeafIndex, cp.Size)
	}
	ev, err := audit.ParseCanonical([]byte(b.Event))
	if err != nil {
		return v, failedErr(CheckLeaf, err)
	}
	l, err := audit.NewLeaf([]byte(b.Event), b.Salt, [32]byte(b.PatientPseudonym), [32]byte(b.ActorPseudonym))
	if err != nil {
		return v, failedErr(CheckLeaf, err)
	}
	leaf, err := l.Marshal()
	if err != nil {
		return v, failedErr(CheckLeaf, err)
	}
	if !bytes.Equal(leaf, b.Leaf) {
		return v, failed(CheckLeaf, "the event, salt and pseudonyms do not recompute the leaf")
	}
	if err := ledger.VerifyInclusion(cp, b.LeafIndex, b.Leaf, b.InclusionProof); err != nil {
		return v, failedErr(CheckInclusion, err)
	}
	return Verified{Checkpoint: cp, Event: ev, LeafIndex: b.LeafIndex}, nil
}

// Log is what Build needs of the ledger.
type Log interface {
	Checkpoint(ctx context.Context) ([]byte, error)
	InclusionProof(ctx context.Context, index, treeSize uint64) ([][]byte, error)
	VerifierKey() string
}

// Build makes the bundle of an opened event against the log's current
// checkpoint. An event not yet in the log, or not yet covered by a
// published checkpoint, is Unavailable: try again in a moment.
func Build(ctx context.Context, o audit.LeafOpening, log Log) (*Bundle, error) {
	if o.LedgerIndex < 0 {
		return nil, fault.New(fault.Unavailable, "the access is not in the log yet; try again in a moment")
	}
	text, err := log.Checkpoint(ctx)
	if err != nil {
		return nil, err
	}
	cp, err := ledger.VerifyCheckpoint(text, log.VerifierKey())
	if err != nil {
		return nil, fault.Wrap(fault.Internal, err, "the log's own checkpoint does not verify")
	}
	if uint64(o.LedgerIndex) >= cp.Size {
		return nil, fault.New(fault.Unavailable, "the access is not covered by a published checkpoint yet; try again in a moment")
	}
	p, err := log.InclusionProof(ctx, uint64(o.LedgerIndex), cp.Size)
	if err != nil {
		return nil, err
	}
	b := &Bundle{Format: Format, Origin: cp.Origin, Event: string(o.Canonical), Salt: o.Salt,
		PatientPseudonym: o.Patient[:], ActorPseudonym: o.Actor[:], Leaf: o.Leaf, LeafIndex: uint64(o.LedgerIndex),
		TreeSize: cp.Size, InclusionProof: p, Checkpoint: string(text)}
	if _, err := VerifyBundle(b, log.VerifierKey()); err != nil {
		return nil, fault.Wrap(fault.Internal, err, "the bundle built for event does not verify")
	}
	return b, nil
}
