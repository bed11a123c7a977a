package proof_test

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/transparency-dev/tessera/api/layout"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/trustward/trustward/internal/ledger"
	"github.com/trustward/trustward/internal/proof"
)

// testLog builds a real Tessera log of n leaves in dir (and its key at
// dir.key) and closes it, so that the folder can be served and copied.
func testLog(t testing.TB, dir, keyFile string, n, from int) string {
	t.Helper()
	ctx := context.Background()
	l, err := ledger.Open(ctx, ledger.Options{Dir: dir, KeyFile: keyFile, Origin: origin, CheckpointInterval: ledger.MinCheckpointInterval,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	for done := 0; done < n; {
		k := min(4096, n-done)
		leaves := make([][]byte, k)
		for i := range leaves {
			leaves[i] = fmt.Appendf(nil, "leaf %d of a test log", from+done+i)
		}
		if _, err := l.AppendBatch(ctx, leaves); err != nil {
			t.Fatal(err)
		}
		done += k
	}
	actx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if _, _, err := l.AwaitCheckpoint(actx, uint64(n)); err != nil {
		t.Fatal(err)
	}
	key := l.VerifierKey()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return key
}

func serve(t testing.TB, dir string) string {
	srv := httptest.NewServer(http.FileServer(http.Dir(dir)))
	t.Cleanup(srv.Close)
	return srv.URL + "/"
}

func copyDir(t testing.TB, from, to string) {
	t.Helper()
	err := filepath.WalkDir(from, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(to, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(to, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// tileReader reads C2SP tiles over HTTP for x/mod's TileHashReader, which
// authenticates every tile against a tree root: the third-party check.
type tileReader struct{ base string }

func (r tileReader) Height() int { return 8 }
func (r tileReader) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(tiles))
	for i, t := range tiles {
		p := uint8(0)
		if t.W < 256 {
			p = uint8(t.W)
		}
		res, err := http.Get(r.base + layout.TilePath(uint64(t.L), uint64(t.N), p))
		if err != nil {
			return nil, err
		}
		out[i], err = io.ReadAll(res.Body)
		res.Body.Close()
		if err != nil || res.StatusCode != 200 {
			return nil, fmt.Errorf("tile %v: %d %v", t, res.StatusCode, err)
		}
	}
	return out, nil
}
func (r tileReader) SaveTiles([]tlog.Tile, [][]byte) {}

func TestVerifyLog(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	dir := filepath.Join(root, "log")
	const n = 70_000 // a full level-1 tile and partial tiles at levels 0-2
	key := testLog(t, dir, dir+".key", n, 0)
	base := serve(t, dir)

	res, err := proof.VerifyLog(ctx, httpFetch(base), key, proof.LogOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Checkpoint.Size != n || res.Tiles == 0 {
		t.Fatalf("verified %d leaves, %d tiles", res.Checkpoint.Size, res.Tiles)
	}
	// Third-party acceptance: x/mod's tile reader authenticates the served
	// tiles against the checkpoint's root while proving leaves.
	tree := tlog.Tree{N: int64(n), Hash: res.Checkpoint.Hash}
	thr := tlog.TileHashReader(tree, tileReader{base})
	for _, i := range []int64{0, 255, 256, 65535, 65536, n - 1} {
		p, err := tlog.ProveRecord(tree.N, i, thr)
		if err != nil {
			t.Fatalf("x/mod cannot prove leaf %d from the served tiles: %v", i, err)
		}
		leaf := fmt.Appendf(nil, "leaf %d of a test log", i)
		if err := tlog.CheckRecord(p, tree.N, tree.Hash, i, tlog.RecordHash(leaf)); err != nil {
			t.Fatalf("leaf %d: %v", i, err)
		}
	}
	state := res.State(time.Now())
	statePath := filepath.Join(root, "state")
	if err := state.Save(statePath); err != nil {
		t.Fatal(err)
	}
	loaded, err := proof.LoadState(statePath)
	if err != nil || loaded.Size != n {
		t.Fatalf("state %+v, %v", loaded, err)
	}

	// Tampered copies are rejected, each by the right check.
	tamper := func(name string, want proof.Check, f func(dir string)) {
		t.Run(name, func(t *testing.T) {
			c := filepath.Join(t.TempDir(), "log")
			copyDir(t, dir, c)
			f(c)
			_, err := proof.VerifyLog(ctx, httpFetch(serve(t, c)), key, proof.LogOptions{Previous: loaded})
			if proof.FailedCheck(err) != want {
				t.Fatalf("got %v, want the %s check to fail", err, want)
			}
			t.Logf("%s: %v", name, err)
			// x/mod's reader rejects tampered tiles too.
			if want == proof.CheckTile {
				thr := tlog.TileHashReader(tree, tileReader{serve(t, c)})
				bad := 0
				for i := int64(0); i < n; i += 251 {
					if _, err := tlog.ProveRecord(tree.N, i, thr); err != nil {
						bad++
					}
				}
				if bad == 0 {
					t.Fatal("x/mod's tile reader accepted the tampered tiles")
				}
			}
		})
	}
	flip := func(path string, at int) func(string) {
		return func(dir string) {
			p := filepath.Join(dir, path)
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			b[at%len(b)] ^= 0x01
			if err := os.WriteFile(p, b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	tamper("entry byte flipped", proof.CheckRoot, flip(layout.EntriesPath(100, 0), 500))
	tamper("partial entry bundle flipped", proof.CheckRoot, flip(layout.EntriesPath(n/256, layout.PartialTileSize(0, n/256, n)), 7))
	tamper("hash tile flipped", proof.CheckTile, flip(layout.TilePath(0, 3, 0), 64))
	tamper("level-1 tile flipped", proof.CheckTile, flip(layout.TilePath(1, 0, 0), 1000))
	tamper("tile missing", proof.CheckTile, func(d string) { os.Remove(filepath.Join(d, layout.TilePath(0, 7, 0))) })
	tamper("entry bundle missing", proof.CheckEntries, func(d string) { os.Remove(filepath.Join(d, layout.EntriesPath(9, 0))) })
	tamper("checkpoint flipped", proof.CheckSignature, flip(layout.CheckpointPath, 40))

	// A rollback: an older, smaller log under the same key.
	t.Run("rollback", func(t *testing.T) {
		small := filepath.Join(t.TempDir(), "log")
		copyKey(t, dir+".key", small+".key")
		testLog(t, small, small+".key", 1000, 0)
		_, err := proof.VerifyLog(ctx, httpFetch(serve(t, small)), key, proof.LogOptions{Previous: loaded})
		if proof.FailedCheck(err) != proof.CheckRollback {
			t.Fatalf("got %v, want a rollback", err)
		}
	})
	// Forks: another tree under the same key, of the same size and larger.
	t.Run("fork same size", func(t *testing.T) {
		f := filepath.Join(t.TempDir(), "log")
		copyKey(t, dir+".key", f+".key")
		testLog(t, f, f+".key", n, 1_000_000)
		_, err := proof.VerifyLog(ctx, httpFetch(serve(t, f)), key, proof.LogOptions{Previous: loaded})
		if proof.FailedCheck(err) != proof.CheckFork {
			t.Fatalf("got %v, want a fork", err)
		}
	})
	t.Run("fork larger", func(t *testing.T) {
		f := filepath.Join(t.TempDir(), "log")
		copyKey(t, dir+".key", f+".key")
		testLog(t, f, f+".key", n+300, 1_000_000)
		_, err := proof.VerifyLog(ctx, httpFetch(serve(t, f)), key, proof.LogOptions{Previous: loaded})
		if proof.FailedCheck(err) != proof.CheckFork {
			t.Fatalf("got %v, want a fork", err)
		}
	})
	t.Run("another key", func(t *testing.T) {
		other := filepath.Join(t.TempDir(), "log")
		k2 := testLog(t, other, other+".key", 10, 0)
		if _, err := proof.VerifyLog(ctx, httpFetch(base), k2, proof.LogOptions{}); proof.FailedCheck(err) != proof.CheckSignature {
			t.Fatalf("got %v", err)
		}
	})
}

func copyKey(t testing.TB, from, to string) {
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// BenchmarkVerifyLog measures full-log verification (download over
// loopback HTTP, every entry bundle and tile recomputed): the issue's
// target is at least 250,000 leaves/s.
func BenchmarkVerifyLog(b *testing.B) {
	dir := filepath.Join(b.TempDir(), "log")
	const n = 200_000
	key := testLog(b, dir, dir+".key", n, 0)
	base := serve(b, dir)
	for b.Loop() {
		if _, err := proof.VerifyLog(context.Background(), httpFetch(base), key, proof.LogOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "leaves/s")
}

// httpFetch reads a served log over HTTP (as cmd/trustward does).
type httpFetch string

func (base httpFetch) Fetch(ctx context.Context, path string, limit int64) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, string(base)+path, nil)
	if err != nil {
		return nil, err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	if res.StatusCode != 200 {
		return nil, fmt.Errorf("%s: HTTP %d", path, res.StatusCode)
	}
	b, err := io.ReadAll(io.LimitReader(res.Body, limit+1))
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s is too large", path)
	}
	return b, err
}
