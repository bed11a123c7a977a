package ledger

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/transparency-dev/tessera"
	"github.com/transparency-dev/tessera/api"
	"github.com/transparency-dev/tessera/api/layout"
	"github.com/transparency-dev/tessera/client"
	"github.com/transparency-dev/tessera/storage/posix"

	"github.com/trustward/trustward/internal/fault"
)

// Log is the transparency log as the rest of Trustward uses it: our own
// small surface over Tessera, so that a driver for shared or object
// storage can take the POSIX driver's place.
type Log interface {
	// Append adds one leaf and returns its index once the leaf is
	// sequenced and integrated into the tree; a checkpoint that covers it
	// follows within the checkpoint interval.
	Append(ctx context.Context, leaf []byte) (uint64, error)
	// AppendBatch adds leaves in order and returns their indices, which
	// are consecutive when no one else appends at the same time.
	AppendBatch(ctx context.Context, leaves [][]byte) ([]uint64, error)
	// Size is the number of leaves integrated into the tree (possibly
	// more than the latest checkpoint commits to).
	Size(ctx context.Context) (uint64, error)
	// Leaves returns the leaves with indices in [start, end).
	Leaves(ctx context.Context, start, end uint64) ([][]byte, error)
	// Checkpoint returns the latest signed checkpoint note.
	Checkpoint(ctx context.Context) ([]byte, error)
	// InclusionProof proves the leaf at index in the tree of treeSize.
	InclusionProof(ctx context.Context, index, treeSize uint64) ([][]byte, error)
	// ConsistencyProof proves that the tree of size from is a prefix of
	// the tree of size to.
	ConsistencyProof(ctx context.Context, from, to uint64) ([][]byte, error)
	Close() error
}

// Defaults of Options.
const (
	DefaultCheckpointInterval = 200 * time.Millisecond
	// DefaultBatchMaxAge is how long Tessera holds a partial batch before
	// sequencing it. Our one appender (the audit integrator) hands over
	// whole batches at once, so a short wait costs no throughput.
	DefaultBatchMaxAge  = 2 * time.Millisecond
	DefaultBatchMaxSize = 1024
	// MinCheckpointInterval is the POSIX driver's lower bound.
	MinCheckpointInterval = 100 * time.Millisecond
)

// Options configure a POSIX log.
type Options struct {
	// Dir is the log's folder (the data folder's ledger/). Everything in it
	// is public: it can be served read-only as tlog-tiles.
	Dir string
	// KeyFile holds the checkpoint signer key (mode 0600). Empty means a
	// file next to Dir: "<Dir>.key", outside the public folder.
	KeyFile string
	// Origin names the log in checkpoints and is the signer key's name,
	// for example OriginFor(org).
	Origin string
	// CheckpointInterval is how often a new checkpoint is signed while
	// the log grows (default 200 ms, at least 100 ms).
	CheckpointInterval time.Duration
	// BatchMaxAge and BatchMaxSize bound Tessera's sequencing batches.
	BatchMaxAge  time.Duration
	BatchMaxSize uint
	// WitnessPolicy, when not empty, is a C2SP witness policy (see
	// witness.go): checkpoints are published only once its quorum of
	// witnesses has cosigned them.
	WitnessPolicy []byte
	// WitnessTimeout bounds one round of cosigning (default 5 s).
	WitnessTimeout time.Duration
	// ShutdownTimeout bounds how long Close waits for a checkpoint that
	// covers every leaf (default 30 s; with witnesses that refuse, none
	// comes).
	ShutdownTimeout time.Duration
	// WitnessTransport carries requests to witnesses (default
	// http.DefaultTransport).
	WitnessTransport http.RoundTripper
	Logger           *slog.Logger
}

// POSIXLog is a Log kept by Tessera's POSIX driver in a local (or shared
// POSIX) folder. Only one process may append to a folder at a time.
type POSIXLog struct {
	dir      string
	origin   string
	verifier string

	appender *tessera.Appender
	reader   tessera.LogReader
	shutdown func(context.Context) error
	cancel   context.CancelFunc
	interval time.Duration
	// witnesses watches the configured witnesses (nil without a policy).
	witnesses       *witnessWatch
	shutdownTimeout time.Duration

	// mu is held shared by appends and exclusively by Close, so that
	// Close waits for appends in flight before shutting Tessera down.
	mu     sync.RWMutex
	closed bool
}

var _ Log = (*POSIXLog)(nil)

// ErrClosed reports use of a closed log.
var ErrClosed = errors.New("the ledger is closed")

// Open opens the log in opts.Dir, creating the log and its signer key on
// first start. A log whose key file is missing, is readable by others, or
// is for another origin does not open.
func Open(ctx context.Context, opts Options) (*POSIXLog, error) {
	if opts.Dir == "" {
		return nil, fault.InvalidField("dir", "the ledger folder is required")
	}
	if err := validOrigin(opts.Origin); err != nil {
		return nil, err
	}
	if opts.CheckpointInterval == 0 {
		opts.CheckpointInterval = DefaultCheckpointInterval
	}
	if opts.CheckpointInterval < MinCheckpointInterval {
		return nil, fault.InvalidField("checkpoint_interval", "%v is shorter than %v", opts.CheckpointInterval, MinCheckpointInterval)
	}
	if opts.ShutdownTimeout <= 0 {
		opts.ShutdownTimeout = 30 * time.Second
	}
	if opts.BatchMaxAge <= 0 {
		opts.BatchMaxAge = DefaultBatchMaxAge
	}
	if opts.BatchMaxSize == 0 {
		opts.BatchMaxSize = DefaultBatchMaxSize
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return nil, fault.Wrap(fault.Invalid, err, "ledger folder %s", opts.Dir)
	}
	keyFile := opts.KeyFile
	if keyFile == "" {
		keyFile = dir + ".key"
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fault.Wrap(fault.Unavailable, err, "cannot create the ledger folder %s", dir)
	}
	exists, err := logExists(dir)
	if err != nil {
		return nil, err
	}
	key, err := loadOrCreateKey(keyFile, opts.Origin, !exists)
	if err != nil {
		return nil, err
	}
	if exists {
		// A key that did not sign this log's checkpoint is the wrong key:
		// stop now rather than publish checkpoints no client accepts.
		cp, err := os.ReadFile(filepath.Join(dir, layout.CheckpointPath))
		if err == nil {
			if _, err := VerifyCheckpoint(cp, key.verifier); err != nil {
				return nil, fault.Wrap(fault.Invalid, err, "the ledger's checkpoint in %s is not signed by the key in %s", dir, keyFile)
			}
		} else if !errors.Is(err, fs.ErrNotExist) {
			return nil, fault.Wrap(fault.Unavailable, err, "cannot read the ledger's checkpoint")
		}
	} else {
		opts.Logger.Info("creating the ledger", "dir", dir, "origin", opts.Origin)
	}

	aopts := tessera.NewAppendOptions().
		WithCheckpointSigner(key.signer).
		WithCheckpointInterval(opts.CheckpointInterval).
		WithBatching(opts.BatchMaxSize, opts.BatchMaxAge).
		WithShutdownTimeout(opts.ShutdownTimeout)
	pcfg := posix.Config{Path: dir}
	var watch *witnessWatch
	if len(bytes.TrimSpace(opts.WitnessPolicy)) > 0 {
		group, names, err := parseWitnessPolicy(opts.WitnessPolicy)
		if err != nil {
			return nil, err
		}
		base := opts.WitnessTransport
		if base == nil {
			base = http.DefaultTransport
		}
		watch = newWitnessWatch(base, names, opts.Logger)
		timeout := opts.WitnessTimeout
		if timeout <= 0 {
			timeout = tessera.DefaultWitnessTimeout
		}
		pcfg.HTTPClient = &http.Client{Transport: watch, Timeout: timeout}
		aopts = aopts.WithWitnesses(group, &tessera.WitnessOptions{Timeout: timeout})
	}
	driver, err := posix.New(ctx, pcfg)
	if err != nil {
		return nil, fault.Wrap(fault.Unavailable, err, "cannot open the ledger in %s", dir)
	}
	// Tessera's background work (sequencing, checkpoints, garbage
	// collection) lives until Close, not until the caller's ctx ends.
	bg, cancel := context.WithCancel(context.WithoutCancel(ctx))
	appender, shutdown, reader, err := tessera.NewAppender(bg, driver, aopts)
	if err != nil && watch != nil && strings.Contains(err.Error(), "witness") {
		cancel()
		return nil, fault.Wrap(fault.Unavailable, err, "the witnesses did not cosign the ledger's first checkpoint; each witness must know this log (origin %s, verifier key %s) and must not have cosigned a different tree for it", opts.Origin, key.verifier)
	}
	if err != nil {
		cancel()
		return nil, fault.Wrap(fault.Unavailable, err, "cannot start the ledger in %s", dir)
	}
	return &POSIXLog{dir: dir, origin: opts.Origin, verifier: key.verifier,
		appender: appender, reader: reader, shutdown: shutdown, cancel: cancel,
		interval: opts.CheckpointInterval, witnesses: watch, shutdownTimeout: opts.ShutdownTimeout}, nil
}

// logExists reports whether dir already holds a log (Tessera's tree state
// or a published checkpoint).
func logExists(dir string) (bool, error) {
	for _, p := range []string{filepath.Join(dir, ".state", "treeState"), filepath.Join(dir, layout.CheckpointPath)} {
		_, err := os.Stat(p)
		if err == nil {
			return true, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return false, fault.Wrap(fault.Unavailable, err, "cannot read the ledger folder %s", dir)
		}
	}
	return false, nil
}

// Origin is the log's name in its checkpoints.
func (l *POSIXLog) Origin() string { return l.origin }

// VerifierKey is the note verifier key ("origin+hash+base64 key") that
// checks the log's checkpoints; publish it, clients pin it.
func (l *POSIXLog) VerifierKey() string { return l.verifier }

// Dir is the log's public folder.
func (l *POSIXLog) Dir() string { return l.dir }

// Append adds one leaf; see AppendBatch.
func (l *POSIXLog) Append(ctx context.Context, leaf []byte) (uint64, error) {
	idx, err := l.AppendBatch(ctx, [][]byte{leaf})
	if err != nil {
		return 0, err
	}
	return idx[0], nil
}

// AppendBatch hands the leaves to Tessera in order and returns their
// indices once all are sequenced and integrated (the POSIX driver
// integrates as it sequences, durably: files written with O_SYNC and
// renamed into place).
//
// Once the leaves are handed over, AppendBatch waits for every one of them
// even if ctx ends, so that a caller never loses track of a leaf that may
// still enter the log; the wait is bounded by one sequencing round. On
// error, some leaves may be in the log: read it back (Size, Leaves) before
// appending them again.
func (l *POSIXLog) AppendBatch(ctx context.Context, leaves [][]byte) ([]uint64, error) {
	for i, leaf := range leaves {
		if len(leaf) == 0 || len(leaf) > tessera.DefaultEntrySizeLimit {
			return nil, fault.New(fault.Invalid, "leaf %d has %d bytes, want 1 to %d", i, len(leaf), tessera.DefaultEntrySizeLimit)
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, fault.Wrap(fault.Unavailable, err, "the ledger append was cancelled")
	}
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.closed {
		return nil, fault.Wrap(fault.Unavailable, ErrClosed, "the ledger is closed")
	}
	futures := make([]tessera.IndexFuture, len(leaves))
	for i, leaf := range leaves {
		// Add returns at once; successive Adds from one goroutine keep
		// their order in the log.
		futures[i] = l.appender.Add(ctx, tessera.NewEntry(leaf))
	}
	out := make([]uint64, len(leaves))
	var errs []error
	for i, f := range futures {
		idx, err := f()
		if err != nil {
			errs = append(errs, fmt.Errorf("leaf %d: %w", i, err))
			continue
		}
		out[i] = idx.Index
	}
	if len(errs) > 0 {
		return nil, fault.Wrap(fault.Unavailable, errors.Join(errs...), "the ledger could not append %d of %d leaves", len(errs), len(leaves))
	}
	return out, nil
}

// Size returns the number of leaves integrated into the tree.
func (l *POSIXLog) Size(ctx context.Context) (uint64, error) {
	n, err := l.reader.IntegratedSize(ctx)
	if err != nil {
		return 0, fault.Wrap(fault.Unavailable, err, "cannot read the ledger's size")
	}
	return n, nil
}

// Leaves returns the leaves with indices in [start, end), read from the
// entry bundles.
func (l *POSIXLog) Leaves(ctx context.Context, start, end uint64) ([][]byte, error) {
	size, err := l.Size(ctx)
	if err != nil {
		return nil, err
	}
	if start > end || end > size {
		return nil, fault.New(fault.Invalid, "leaves [%d, %d) are not in a log of size %d", start, end, size)
	}
	out := make([][]byte, 0, end-start)
	for ri := range layout.Range(start, end-start, size) {
		raw, err := l.reader.ReadEntryBundle(ctx, ri.Index, ri.Partial)
		if err != nil {
			return nil, fault.Wrap(fault.Unavailable, err, "cannot read entry bundle %d", ri.Index)
		}
		var b api.EntryBundle
		if err := b.UnmarshalText(raw); err != nil {
			return nil, fault.Wrap(fault.Internal, err, "entry bundle %d is corrupt", ri.Index)
		}
		if uint(len(b.Entries)) < ri.First+ri.N {
			return nil, fault.New(fault.Internal, "entry bundle %d has %d entries, want at least %d", ri.Index, len(b.Entries), ri.First+ri.N)
		}
		out = append(out, b.Entries[ri.First:ri.First+ri.N]...)
	}
	return out, nil
}

// Checkpoint returns the latest signed checkpoint note (C2SP
// tlog-checkpoint), exactly as published.
func (l *POSIXLog) Checkpoint(ctx context.Context) ([]byte, error) {
	cp, err := l.reader.ReadCheckpoint(ctx)
	if err != nil {
		return nil, fault.Wrap(fault.Unavailable, err, "cannot read the ledger's checkpoint")
	}
	return cp, nil
}

// AwaitCheckpoint waits until a checkpoint commits to at least size leaves
// and returns it (verified with the log's own key).
func (l *POSIXLog) AwaitCheckpoint(ctx context.Context, size uint64) ([]byte, Checkpoint, error) {
	poll := time.NewTicker(max(l.interval/8, 5*time.Millisecond))
	defer poll.Stop()
	for {
		raw, err := l.reader.ReadCheckpoint(ctx)
		if err == nil {
			cp, err := VerifyCheckpoint(raw, l.verifier)
			if err != nil {
				return nil, Checkpoint{}, err
			}
			if cp.Size >= size {
				return raw, cp, nil
			}
		} else if !errors.Is(err, os.ErrNotExist) {
			return nil, Checkpoint{}, fault.Wrap(fault.Unavailable, err, "cannot read the ledger's checkpoint")
		}
		select {
		case <-ctx.Done():
			return nil, Checkpoint{}, fault.Wrap(fault.Unavailable, ctx.Err(), "no checkpoint of size %d yet", size)
		case <-poll.C:
		}
	}
}

// checkTreeSize refuses proofs about trees the log has not built.
func (l *POSIXLog) checkTreeSize(ctx context.Context, treeSize uint64) error {
	size, err := l.Size(ctx)
	if err != nil {
		return err
	}
	if treeSize > size {
		return fault.New(fault.Invalid, "tree size %d is larger than the log (%d)", treeSize, size)
	}
	if treeSize > math.MaxInt64 {
		return fault.New(fault.Invalid, "tree size %d is too large", treeSize)
	}
	return nil
}

// proofTiles fetches tiles for proofs about any tree size up to the
// current one. Tessera writes the partial tiles of the sizes it integrated
// (one per sequencing batch), so a tree size inside a batch has none; the
// right-hand tile of the current tree then serves, cut to the width asked
// for: tiles only ever grow at their end, so its prefix is that tile.
func (l *POSIXLog) proofTiles() client.TileFetcherFunc {
	return func(ctx context.Context, level, index uint64, p uint8) ([]byte, error) {
		t, err := l.reader.ReadTile(ctx, level, index, p)
		if err == nil || p == 0 || !errors.Is(err, fs.ErrNotExist) {
			return t, err
		}
		size, serr := l.Size(ctx)
		if serr != nil {
			return nil, err
		}
		cur := layout.PartialTileSize(level, index, size)
		if cur <= p {
			return nil, err
		}
		wide, werr := l.reader.ReadTile(ctx, level, index, cur)
		if werr != nil || len(wide) < int(p)*sha256.Size {
			return nil, err
		}
		return wide[:int(p)*sha256.Size], nil
	}
}

// InclusionProof returns the RFC 6962 audit path of the leaf at index in
// the tree of treeSize, built from the tiles.
func (l *POSIXLog) InclusionProof(ctx context.Context, index, treeSize uint64) ([][]byte, error) {
	if index >= treeSize {
		return nil, fault.New(fault.Invalid, "index %d is not in a tree of size %d", index, treeSize)
	}
	if err := l.checkTreeSize(ctx, treeSize); err != nil {
		return nil, err
	}
	pb, err := client.NewProofBuilder(ctx, treeSize, l.proofTiles())
	if err != nil {
		return nil, fault.Wrap(fault.Unavailable, err, "cannot build a proof")
	}
	p, err := pb.InclusionProof(ctx, index)
	if err != nil {
		return nil, fault.Wrap(fault.Unavailable, err, "cannot build the inclusion proof of %d in %d", index, treeSize)
	}
	return p, nil
}

// ConsistencyProof returns the RFC 6962 consistency proof from the tree of
// size from to the tree of size to.
func (l *POSIXLog) ConsistencyProof(ctx context.Context, from, to uint64) ([][]byte, error) {
	if from > to {
		return nil, fault.New(fault.Invalid, "tree size %d is larger than %d", from, to)
	}
	if err := l.checkTreeSize(ctx, to); err != nil {
		return nil, err
	}
	if from == 0 || from == to {
		return [][]byte{}, nil
	}
	pb, err := client.NewProofBuilder(ctx, to, l.proofTiles())
	if err != nil {
		return nil, fault.Wrap(fault.Unavailable, err, "cannot build a proof")
	}
	p, err := pb.ConsistencyProof(ctx, from, to)
	if err != nil {
		return nil, fault.Wrap(fault.Unavailable, err, "cannot build the consistency proof from %d to %d", from, to)
	}
	return p, nil
}

// ReadCheckpoint, ReadTile and ReadEntryBundle give the published
// resources of C2SP tlog-tiles (/checkpoint, /tile/<L>/<N>[.p/<W>],
// /tile/entries/<N>[.p/<W>]) to a read-only server. A missing resource is
// an error that wraps fs.ErrNotExist; p is the partial width, 0 for full.

// ReadCheckpoint returns the published checkpoint.
func (l *POSIXLog) ReadCheckpoint(ctx context.Context) ([]byte, error) {
	return l.reader.ReadCheckpoint(ctx)
}

// ReadTile returns the hash tile at level and index (partial width p).
func (l *POSIXLog) ReadTile(ctx context.Context, level, index uint64, p uint8) ([]byte, error) {
	return l.reader.ReadTile(ctx, level, index, p)
}

// Witnesses reports the configured witnesses' status, sorted by name (nil
// when no witness policy is configured).
func (l *POSIXLog) Witnesses() []WitnessStatus {
	if l.witnesses == nil {
		return nil
	}
	return l.witnesses.snapshot()
}

// ReadEntryBundle returns the entry bundle at index (partial width p).
func (l *POSIXLog) ReadEntryBundle(ctx context.Context, index uint64, p uint8) ([]byte, error) {
	return l.reader.ReadEntryBundle(ctx, index, p)
}

// Close waits for appends in flight, lets Tessera publish a checkpoint
// that covers every appended leaf, and stops its background work.
func (l *POSIXLog) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	l.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), l.shutdownTimeout+5*time.Second)
	defer cancel()
	err := l.shutdown(ctx)
	l.cancel()
	if err != nil {
		return fault.Wrap(fault.Unavailable, err, "the ledger did not shut down cleanly")
	}
	return nil
}
