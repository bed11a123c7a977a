package ledger_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/trustward/trustward/internal/fault"
	"github.com/trustward/trustward/internal/ledger"
)

const origin = "trustward.example/riverside-general-hospital/access-log"

func openLog(t testing.TB, dir string) *ledger.POSIXLog {
	t.Helper()
	l, err := ledger.Open(context.Background(), ledger.Options{Dir: dir, Origin: origin, CheckpointInterval: ledger.MinCheckpointInterval})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func testLeaves(n, from int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		out[i] = fmt.Appendf(nil, "leaf %d of a test log", from+i)
	}
	return out
}

// hashes is an in-memory tlog.HashReader: the stored hashes of a tree,
// computed by golang.org/x/mod/sumdb/tlog independently of Tessera.
type hashes []tlog.Hash

func (h hashes) ReadHashes(idx []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(idx))
	for i, x := range idx {
		if x >= int64(len(h)) {
			return nil, fmt.Errorf("hash %d not stored", x)
		}
		out[i] = h[x]
	}
	return out, nil
}

func treeOf(t testing.TB, leaves [][]byte) hashes {
	t.Helper()
	var h hashes
	for i, leaf := range leaves {
		more, err := tlog.StoredHashes(int64(i), leaf, h)
		if err != nil {
			t.Fatal(err)
		}
		h = append(h, more...)
	}
	return h
}

func rootOf(t testing.TB, h hashes, size uint64) tlog.Hash {
	t.Helper()
	r, err := tlog.TreeHash(int64(size), h)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func toTlog(t testing.TB, proof [][]byte) []tlog.Hash {
	t.Helper()
	out := make([]tlog.Hash, len(proof))
	for i, p := range proof {
		if len(p) != 32 {
			t.Fatalf("proof hash %d has %d bytes", i, len(p))
		}
		copy(out[i][:], p)
	}
	return out
}

// appendAll appends leaves in batches and checks that indices follow on.
func appendAll(t testing.TB, l ledger.Log, leaves [][]byte, batch int, first uint64) {
	t.Helper()
	ctx := context.Background()
	for start := 0; start < len(leaves); start += batch {
		end := min(start+batch, len(leaves))
		idx, err := l.AppendBatch(ctx, leaves[start:end])
		if err != nil {
			t.Fatal(err)
		}
		for i, x := range idx {
			if want := first + uint64(start+i); x != want {
				t.Fatalf("leaf %d got index %d, want %d", start+i, x, want)
			}
		}
	}
}

func TestCheckpointSignedAndRootMatchesIndependentTree(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "ledger")
	l := openLog(t, dir)
	leaves := testLeaves(600, 0) // three entry bundles, the last partial
	appendAll(t, l, leaves, 250, 0)

	raw, _, err := l.AwaitCheckpoint(ctx, uint64(len(leaves)))
	if err != nil {
		t.Fatal(err)
	}
	// Open the note with x/mod/sumdb/note and the published verifier key.
	v, err := note.NewVerifier(l.VerifierKey())
	if err != nil {
		t.Fatal(err)
	}
	n, err := note.Open(raw, note.VerifierList(v))
	if err != nil {
		t.Fatalf("checkpoint does not verify with the log's key: %v\n%s", err, raw)
	}
	if len(n.Sigs) != 1 || n.Sigs[0].Name != origin {
		t.Fatalf("signatures = %+v, want one by %s", n.Sigs, origin)
	}
	// Parse the C2SP body by hand: origin, size, base64 root.
	lines := strings.Split(n.Text, "\n")
	if len(lines) != 4 || lines[0] != origin || lines[1] != "600" || lines[3] != "" {
		t.Fatalf("checkpoint body %q is not origin/size/hash", n.Text)
	}
	want := rootOf(t, treeOf(t, leaves), 600)
	if got := lines[2]; got != want.String() {
		t.Fatalf("root %s, want %s (tlog.TreeHash over the raw leaves)", got, want)
	}
	cp, err := ledger.VerifyCheckpoint(raw, l.VerifierKey())
	if err != nil || cp.Size != 600 || cp.Hash != want || cp.Origin != origin {
		t.Fatalf("VerifyCheckpoint = %+v, %v", cp, err)
	}
	// The leaves read back are the leaves appended.
	got, err := l.Leaves(ctx, 0, 600)
	if err != nil {
		t.Fatal(err)
	}
	for i := range leaves {
		if !bytes.Equal(got[i], leaves[i]) {
			t.Fatalf("leaf %d reads back as %q, want %q", i, got[i], leaves[i])
		}
	}
	if mid, err := l.Leaves(ctx, 255, 513); err != nil || len(mid) != 258 || !bytes.Equal(mid[0], leaves[255]) || !bytes.Equal(mid[257], leaves[512]) {
		t.Fatalf("Leaves(255, 513) = %d leaves, %v", len(mid), err)
	}
	if _, err := l.Leaves(ctx, 0, 601); !fault.Is(err, fault.Invalid) {
		t.Fatalf("Leaves beyond the log: %v, want invalid", err)
	}
}

func TestProofsCheckWithTlog(t *testing.T) {
	ctx := context.Background()
	l := openLog(t, filepath.Join(t.TempDir(), "ledger"))
	leaves := testLeaves(700, 0)
	appendAll(t, l, leaves, 700, 0)
	tree := treeOf(t, leaves)

	sizes := []uint64{1, 2, 3, 7, 255, 256, 257, 511, 512, 513, 699, 700}
	for _, size := range sizes {
		root := rootOf(t, tree, size)
		for _, idx := range []uint64{0, 1, size / 2, size - 1} {
			if idx >= size {
				continue
			}
			p, err := l.InclusionProof(ctx, idx, size)
			if err != nil {
				t.Fatalf("InclusionProof(%d, %d): %v", idx, size, err)
			}
			if err := tlog.CheckRecord(toTlog(t, p), int64(size), root, int64(idx), tlog.RecordHash(leaves[idx])); err != nil {
				t.Fatalf("tlog.CheckRecord(%d in %d): %v", idx, size, err)
			}
			cp := ledger.Checkpoint{Origin: origin, Size: size, Hash: root}
			if err := ledger.VerifyInclusion(cp, idx, leaves[idx], p); err != nil {
				t.Fatalf("VerifyInclusion(%d in %d): %v", idx, size, err)
			}
		}
		for _, from := range []uint64{1, 3, 256, size - 1, size} {
			if from == 0 || from > size {
				continue
			}
			p, err := l.ConsistencyProof(ctx, from, size)
			if err != nil {
				t.Fatalf("ConsistencyProof(%d, %d): %v", from, size, err)
			}
			old := rootOf(t, tree, from)
			if err := tlog.CheckTree(toTlog(t, p), int64(size), root, int64(from), old); err != nil {
				t.Fatalf("tlog.CheckTree(%d -> %d): %v", from, size, err)
			}
			if err := ledger.VerifyConsistency(ledger.Checkpoint{Origin: origin, Size: from, Hash: old}, ledger.Checkpoint{Origin: origin, Size: size, Hash: root}, p); err != nil {
				t.Fatalf("VerifyConsistency(%d -> %d): %v", from, size, err)
			}
		}
	}
	// From the empty tree, the proof is empty.
	if p, err := l.ConsistencyProof(ctx, 0, 700); err != nil || len(p) != 0 {
		t.Fatalf("ConsistencyProof(0, 700) = %d hashes, %v", len(p), err)
	}
	empty := ledger.Checkpoint{Origin: origin, Size: 0, Hash: rootOf(t, tree, 0)}
	if err := ledger.VerifyConsistency(empty, ledger.Checkpoint{Origin: origin, Size: 700, Hash: rootOf(t, tree, 700)}, nil); err != nil {
		t.Fatal(err)
	}
}

func TestProofRequestsOutsideTheTreeAreRefused(t *testing.T) {
	ctx := context.Background()
	l := openLog(t, filepath.Join(t.TempDir(), "ledger"))
	appendAll(t, l, testLeaves(10, 0), 10, 0)
	for _, c := range []struct{ index, size uint64 }{{10, 10}, {0, 11}, {5, 0}} {
		if _, err := l.InclusionProof(ctx, c.index, c.size); !fault.Is(err, fault.Invalid) {
			t.Errorf("InclusionProof(%d, %d): %v, want invalid", c.index, c.size, err)
		}
	}
	for _, c := range []struct{ from, to uint64 }{{5, 4}, {1, 11}} {
		if _, err := l.ConsistencyProof(ctx, c.from, c.to); !fault.Is(err, fault.Invalid) {
			t.Errorf("ConsistencyProof(%d, %d): %v, want invalid", c.from, c.to, err)
		}
	}
	if _, err := l.Append(ctx, nil); !fault.Is(err, fault.Invalid) {
		t.Errorf("empty leaf: %v, want invalid", err)
	}
	if _, err := l.Append(ctx, make([]byte, 1<<16)); !fault.Is(err, fault.Invalid) {
		t.Errorf("64 KiB leaf: %v, want invalid", err)
	}
}

func TestVerifiersRejectBadInput(t *testing.T) {
	ctx := context.Background()
	l := openLog(t, filepath.Join(t.TempDir(), "ledger"))
	leaves := testLeaves(300, 0)
	appendAll(t, l, leaves, 300, 0)
	raw, cp, err := l.AwaitCheckpoint(ctx, 300)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("checkpoint signed by another key", func(t *testing.T) {
		skey, vkey, err := note.GenerateKey(rand.Reader, origin)
		if err != nil {
			t.Fatal(err)
		}
		s, _ := note.NewSigner(skey)
		forged, err := note.Sign(&note.Note{Text: string(cp.Marshal())}, s)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ledger.VerifyCheckpoint(forged, l.VerifierKey()); !errors.Is(err, ledger.ErrBadSignature) {
			t.Fatalf("forged checkpoint: %v, want ErrBadSignature", err)
		}
		// And the real checkpoint does not verify with the other key.
		if _, err := ledger.VerifyCheckpoint(raw, vkey); !errors.Is(err, ledger.ErrBadSignature) {
			t.Fatalf("real checkpoint with another key: %v, want ErrBadSignature", err)
		}
	})
	t.Run("checkpoint of another origin under the same name", func(t *testing.T) {
		other := ledger.Checkpoint{Origin: "trustward.example/other/access-log", Size: cp.Size, Hash: cp.Hash}
		skey, vkey, _ := note.GenerateKey(rand.Reader, origin)
		s, _ := note.NewSigner(skey)
		signed, _ := note.Sign(&note.Note{Text: string(other.Marshal())}, s)
		if _, err := ledger.VerifyCheckpoint(signed, vkey); !errors.Is(err, ledger.ErrBadSignature) {
			t.Fatalf("origin mismatch: %v, want ErrBadSignature", err)
		}
	})
	t.Run("tampered checkpoint", func(t *testing.T) {
		bad := bytes.Replace(raw, []byte("\n300\n"), []byte("\n301\n"), 1)
		if _, err := ledger.VerifyCheckpoint(bad, l.VerifierKey()); err == nil {
			t.Fatal("a checkpoint with a changed size verifies")
		}
	})
	t.Run("not a verifier key", func(t *testing.T) {
		if _, err := ledger.VerifyCheckpoint(raw, "nonsense"); !fault.Is(err, fault.Invalid) {
			t.Fatalf("bad key: %v", err)
		}
	})

	p, err := l.InclusionProof(ctx, 42, 300)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("inclusion proof for the wrong size", func(t *testing.T) {
		p299, err := l.InclusionProof(ctx, 42, 299)
		if err != nil {
			t.Fatal(err)
		}
		if err := ledger.VerifyInclusion(cp, 42, leaves[42], p299); !errors.Is(err, ledger.ErrProof) {
			t.Fatalf("proof for size 299 against checkpoint 300: %v, want ErrProof", err)
		}
		smaller := ledger.Checkpoint{Origin: origin, Size: 299, Hash: rootOf(t, treeOf(t, leaves), 299)}
		if err := ledger.VerifyInclusion(smaller, 42, leaves[42], p); !errors.Is(err, ledger.ErrProof) {
			t.Fatalf("proof for 300 against size 299: %v, want ErrProof", err)
		}
	})
	t.Run("inclusion of another leaf or index", func(t *testing.T) {
		if err := ledger.VerifyInclusion(cp, 42, leaves[43], p); !errors.Is(err, ledger.ErrProof) {
			t.Fatalf("wrong leaf: %v", err)
		}
		if err := ledger.VerifyInclusion(cp, 43, leaves[42], p); !errors.Is(err, ledger.ErrProof) {
			t.Fatalf("wrong index: %v", err)
		}
		if err := ledger.VerifyInclusion(cp, 300, leaves[42], p); !errors.Is(err, ledger.ErrProof) {
			t.Fatalf("index beyond the tree: %v", err)
		}
		short := append([][]byte{}, p...)
		short[0] = short[0][:31]
		if err := ledger.VerifyInclusion(cp, 42, leaves[42], short); !errors.Is(err, ledger.ErrProof) {
			t.Fatalf("short hash: %v", err)
		}
		if err := ledger.VerifyInclusion(cp, 42, leaves[42], p[:len(p)-1]); !errors.Is(err, ledger.ErrProof) {
			t.Fatalf("truncated proof: %v", err)
		}
	})
	t.Run("consistency proof for the wrong sizes", func(t *testing.T) {
		tree := treeOf(t, leaves)
		c100 := ledger.Checkpoint{Origin: origin, Size: 100, Hash: rootOf(t, tree, 100)}
		c101 := ledger.Checkpoint{Origin: origin, Size: 101, Hash: rootOf(t, tree, 101)}
		p, err := l.ConsistencyProof(ctx, 100, 300)
		if err != nil {
			t.Fatal(err)
		}
		if err := ledger.VerifyConsistency(c100, cp, p); err != nil {
			t.Fatal(err)
		}
		if err := ledger.VerifyConsistency(c101, cp, p); !errors.Is(err, ledger.ErrProof) {
			t.Fatalf("proof from 100 checked from 101: %v", err)
		}
		if err := ledger.VerifyConsistency(cp, c100, p); !errors.Is(err, ledger.ErrProof) {
			t.Fatalf("sizes swapped: %v", err)
		}
		forked := c100
		forked.Hash[0] ^= 1
		if err := ledger.VerifyConsistency(forked, cp, p); !errors.Is(err, ledger.ErrProof) {
			t.Fatalf("a fork verifies: %v", err)
		}
		if err := ledger.VerifyConsistency(ledger.Checkpoint{Origin: origin}, cp, p); !errors.Is(err, ledger.ErrProof) {
			t.Fatalf("non-empty proof from the empty tree: %v", err)
		}
	})
}

func TestReopenKeepsTheLogAndItsKey(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "ledger")
	l := openLog(t, dir)
	first := testLeaves(5, 0)
	appendAll(t, l, first, 5, 0)
	key := l.VerifierKey()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Append(ctx, []byte("after close")); err == nil {
		t.Fatal("append after Close succeeded")
	}
	st, err := os.Stat(dir + ".key")
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v, mode %v; want 0600", err, st.Mode())
	}
	if _, err := os.Stat(filepath.Join(dir, "checkpoint")); err != nil {
		t.Fatalf("no checkpoint in the public folder: %v", err)
	}

	l2 := openLog(t, dir)
	if l2.VerifierKey() != key {
		t.Fatal("reopening changed the verifier key")
	}
	second := testLeaves(5, 5)
	appendAll(t, l2, second, 5, 5)
	_, cp, err := l2.AwaitCheckpoint(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	if want := rootOf(t, treeOf(t, append(first, second...)), 10); cp.Hash != want {
		t.Fatal("root after reopening does not cover both sessions' leaves")
	}
}

func TestKeyFileIsGuarded(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	dir := filepath.Join(root, "ledger")
	l := openLog(t, dir)
	appendAll(t, l, testLeaves(1, 0), 1, 0)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	keyFile := dir + ".key"

	if err := os.Chmod(keyFile, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ledger.Open(ctx, ledger.Options{Dir: dir, Origin: origin}); !fault.Is(err, fault.Invalid) || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("world-readable key: %v", err)
	}
	os.Chmod(keyFile, 0o600)

	if _, err := ledger.Open(ctx, ledger.Options{Dir: dir, Origin: "trustward.example/other/access-log"}); !fault.Is(err, fault.Invalid) {
		t.Fatalf("another origin: %v", err)
	}

	// A different key for an existing log is refused: its checkpoints
	// would not verify with the published key.
	other := filepath.Join(root, "other.key")
	skey, _, _ := note.GenerateKey(rand.Reader, origin)
	os.WriteFile(other, []byte(skey+"\n"), 0o600)
	if _, err := ledger.Open(ctx, ledger.Options{Dir: dir, Origin: origin, KeyFile: other}); !fault.Is(err, fault.Invalid) {
		t.Fatalf("wrong key for the log: %v", err)
	}

	// A missing key for an existing log is refused, not replaced.
	if err := os.Remove(keyFile); err != nil {
		t.Fatal(err)
	}
	if _, err := ledger.Open(ctx, ledger.Options{Dir: dir, Origin: origin}); !fault.Is(err, fault.Unavailable) {
		t.Fatalf("missing key: %v", err)
	}
	if _, err := os.Stat(keyFile); err == nil {
		t.Fatal("a new key was written for an existing log")
	}

	if _, err := ledger.Open(ctx, ledger.Options{Dir: filepath.Join(root, "x"), Origin: "has space"}); !fault.Is(err, fault.Invalid) {
		t.Fatalf("bad origin: %v", err)
	}
	if _, err := ledger.Open(ctx, ledger.Options{Dir: filepath.Join(root, "y"), Origin: origin, CheckpointInterval: 10 * time.Millisecond}); !fault.Is(err, fault.Invalid) {
		t.Fatalf("short interval: %v", err)
	}
}

func TestConcurrentAppendsGetDistinctIndices(t *testing.T) {
	ctx := context.Background()
	l := openLog(t, filepath.Join(t.TempDir(), "ledger"))
	const workers, each = 8, 50
	var wg sync.WaitGroup
	var mu sync.Mutex
	byIndex := map[uint64][]byte{}
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				leaf := fmt.Appendf(nil, "worker %d leaf %d", w, i)
				idx, err := l.Append(ctx, leaf)
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				if _, dup := byIndex[idx]; dup {
					errs <- fmt.Errorf("index %d given twice", idx)
				}
				byIndex[idx] = leaf
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	got, err := l.Leaves(ctx, 0, workers*each)
	if err != nil {
		t.Fatal(err)
	}
	for i, leaf := range got {
		if !bytes.Equal(leaf, byIndex[uint64(i)]) {
			t.Fatalf("leaf %d is %q, Append said %q", i, leaf, byIndex[uint64(i)])
		}
	}
}

func TestOriginFor(t *testing.T) {
	for org, want := range map[string]string{
		"Riverside General Hospital": "trustward.example/riverside-general-hospital/access-log",
		"  St. Mary's + Co.  ":       "trustward.example/st-mary-s-co/access-log",
		"Zürich Spital":              "trustward.example/z-rich-spital/access-log",
		"":                           "trustward.example/org/access-log",
	} {
		got := ledger.OriginFor(org)
		if got != want {
			t.Errorf("OriginFor(%q) = %q, want %q", org, got, want)
		}
		if _, _, err := note.GenerateKey(rand.Reader, got); err != nil {
			t.Errorf("OriginFor(%q) is not a valid key name: %v", org, err)
		}
	}
}
