package proof

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/transparency-dev/tessera/api"
	"github.com/transparency-dev/tessera/api/layout"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/trustward/trustward/internal/fault"
	"github.com/trustward/trustward/internal/ledger"
)

// State is what a log verifier remembers between runs: the last checkpoint
// it accepted. A later run must see the same tree or a larger one that
// contains it.
type State struct {
	Origin string `json:"origin"`
	Size   uint64 `json:"size"`
	// Root is the RFC 6962 root of the first Size leaves.
	Root []byte `json:"root"`
	// Checkpoint is the signed note accepted.
	Checkpoint string    `json:"checkpoint"`
	Verified   time.Time `json:"verified"`
}

// DefaultStatePath is where `trustward verify log` keeps the state of a
// log: the user's config folder, one file per origin.
func DefaultStatePath(origin string) (string, error) {
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", err
	}
	h := sha256.Sum256([]byte(origin))
	return filepath.Join(dir, "trustward", "verify-"+hex.EncodeToString(h[:8])+".state"), nil
}

// LoadState reads a state file; a missing file is no state (nil).
func LoadState(path string) (*State, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var s State
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fault.Wrap(fault.Invalid, err, "the state file %s is not valid", path)
	}
	if len(s.Root) != 32 {
		return nil, fault.New(fault.Invalid, "the state file %s has a root of %d bytes", path, len(s.Root))
	}
	return &s, nil
}

// Save writes the state atomically.
func (s *State) Save(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// Fetcher reads one resource of a log by its path in the tlog-tiles layout
// ("checkpoint", "tile/0/000", ...), at most limit bytes (more is an
// error). cmd/trustward fetches over HTTP(S); tests may read a folder.
type Fetcher interface {
	Fetch(ctx context.Context, path string, limit int64) ([]byte, error)
}

// LogOptions tune VerifyLog.
type LogOptions struct {
	// Previous is the state of the last run, nil for none.
	Previous *State
	// Progress, when set, is called as leaves are read and checked.
	Progress func(done, total uint64)
}

// LogResult is what a full verification established.
type LogResult struct {
	Checkpoint ledger.Checkpoint
	// Signed is the checkpoint note as served.
	Signed []byte
	// Tiles is the number of hash tiles compared with the served ones.
	Tiles int
}

// State returns the state to keep after a successful verification.
func (r LogResult) State(now time.Time) *State {
	return &State{Origin: r.Checkpoint.Origin, Size: r.Checkpoint.Size, Root: r.Checkpoint.Hash[:], Checkpoint: string(r.Signed), Verified: now}
}

const (
	maxTileBytes   = 256 * 32
	maxBundleBytes = 256 * (2 + 1<<16)
)

// VerifyLog reads a whole log in the C2SP tlog-tiles layout through f,
// and checks: the checkpoint's
// signature under verifierKey; every entry bundle; every hash tile,
// recomputed from the leaves with x/mod's tlog and compared byte for byte
// with the one served; the root of the leaves against the checkpoint; and,
// given the previous state, that the log neither shrank (rollback) nor
// changed the tree it had (fork). The error names the failed check.
func VerifyLog(ctx context.Context, f Fetcher, verifierKey string, opts LogOptions) (LogResult, error) {
	var res LogResult
	signed, err := f.Fetch(ctx, layout.CheckpointPath, 64<<10)
	if err != nil {
		return res, err
	}
	cp, err := ledger.VerifyCheckpoint(signed, verifierKey)
	if err != nil {
		return res, failedErr(CheckSignature, err)
	}
	res.Checkpoint, res.Signed = cp, signed
	prev := opts.Previous
	if prev != nil {
		switch {
		case prev.Origin != cp.Origin:
			return res, failed(CheckOrigin, "the state is of log %q, the URL serves %q", prev.Origin, cp.Origin)
		case cp.Size < prev.Size:
			return res, failed(CheckRollback, "the log has %d leaves but %d were seen on %s: it was rolled back", cp.Size, prev.Size, prev.Verified.Format(time.RFC3339))
		case cp.Size == prev.Size && !bytes.Equal(cp.Hash[:], prev.Root):
			return res, failed(CheckFork, "the log has %d leaves as before but another root: it forked", cp.Size)
		}
	}

	// Leaves, one entry bundle at a time, into the stored hashes of the
	// tree (x/mod's layout: about two hashes per leaf).
	stored := make([]tlog.Hash, 0, 2*cp.Size)
	hr := tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(idx))
		for i, x := range idx {
			if x < 0 || x >= int64(len(stored)) {
				return nil, fmt.Errorf("hash %d not computed", x)
			}
			out[i] = stored[x]
		}
		return out, nil
	})
	for n := uint64(0); n*layout.EntryBundleWidth < cp.Size; n++ {
		p := layout.PartialTileSize(0, n, cp.Size)
		path := layout.EntriesPath(n, p)
		raw, err := f.Fetch(ctx, path, maxBundleBytes)
		if err != nil {
			return res, failedErr(CheckEntries, err)
		}
		var eb api.EntryBundle
		if err := eb.UnmarshalText(raw); err != nil {
			return res, failed(CheckEntries, "%s is not an entry bundle: %v", path, err)
		}
		want := uint64(p)
		if p == 0 {
			want = layout.EntryBundleWidth
		}
		if uint64(len(eb.Entries)) != want {
			return res, failed(CheckEntries, "%s holds %d entries, not %d", path, len(eb.Entries), want)
		}
		for i, e := range eb.Entries {
			idx := int64(n*layout.EntryBundleWidth) + int64(i)
			hs, err := tlog.StoredHashes(idx, e, hr)
			if err != nil {
				return res, failedErr(CheckEntries, err)
			}
			stored = append(stored, hs...)
		}
		if opts.Progress != nil {
			opts.Progress(min((n+1)*layout.EntryBundleWidth, cp.Size), cp.Size)
		}
	}
	root, err := tlog.TreeHash(int64(cp.Size), hr)
	if err != nil {
		return res, failedErr(CheckRoot, err)
	}
	if root != cp.Hash {
		return res, failed(CheckRoot, "the leaves hash to %s but the checkpoint says %s", root, cp.Hash)
	}
	if prev != nil && prev.Size > 0 && prev.Size < cp.Size {
		old, err := tlog.TreeHash(int64(prev.Size), hr)
		if err != nil {
			return res, failedErr(CheckConsistent, err)
		}
		if !bytes.Equal(old[:], prev.Root) {
			return res, failed(CheckFork, "the first %d leaves hash to %s, not to the root seen before (%x): the log was rewritten", prev.Size, old, prev.Root)
		}
	}
	// Every hash tile the log serves must be the one the leaves give.
	for _, t := range tlog.NewTiles(8, 0, int64(cp.Size)) {
		want, err := tlog.ReadTileData(t, hr)
		if err != nil {
			return res, failedErr(CheckTile, err)
		}
		p := uint8(0)
		if t.W < 256 {
			p = uint8(t.W)
		}
		path := layout.TilePath(uint64(t.L), uint64(t.N), p)
		got, err := f.Fetch(ctx, path, maxTileBytes)
		if err != nil {
			return res, failedErr(CheckTile, err)
		}
		if !bytes.Equal(got, want) {
			return res, failed(CheckTile, "%s is not the tile the leaves give", path)
		}
		res.Tiles++
	}
	return res, nil
}
