// Package ledger owns Trustward's transparency log: an append-only Merkle
// log (C2SP tlog-tiles) kept by Tessera's POSIX driver in a folder of its
// own, checkpoints (C2SP tlog-checkpoint) signed with an Ed25519 note key
// created on first start, inclusion and consistency proofs built from the
// tiles, read-only access to checkpoint, tiles and entry bundles for
// serving, and the verifying helpers (VerifyCheckpoint, VerifyInclusion,
// VerifyConsistency) that an independent client needs.
//
// It stores opaque leaves and must never see patient data: callers append
// commitments (audit.Leaf), never events. It must never serve HTTP itself
// (web does), never write the signer key anywhere but its 0600 key file,
// and never log a key.
package ledger
