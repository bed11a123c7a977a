package seal_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/trustward/trustward/internal/db"
	"github.com/trustward/trustward/internal/db/dbtest"
	"github.com/trustward/trustward/internal/fault"
	"github.com/trustward/trustward/internal/seal"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

func clock() time.Time { return time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC) }

func newSealer(t *testing.T, d *db.DB) (*seal.Sealer, *seal.FileKEK, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "kek.json")
	kek, err := seal.CreateFileKEK(path, clock())
	if err != nil {
		t.Fatal(err)
	}
	return seal.NewSealer(d, kek, clock), kek, path
}

func TestSealOpenAndBinding(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		s, _, _ := newSealer(t, d)
		plain := []byte(`{"name":"Ada Example"}`)
		ct, err := s.Seal(ctx, seal.PatientSubject("p1"), "Patient/p1", plain)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(ct, []byte("Ada")) {
			t.Fatal("ciphertext contains plaintext")
		}
		got, err := s.Open(ctx, seal.PatientSubject("p1"), "Patient/p1", ct)
		if err != nil || !bytes.Equal(got, plain) {
			t.Fatalf("Open = %q, %v", got, err)
		}
		// Associated data binds the value to its record and subject.
		if _, err := s.Open(ctx, seal.PatientSubject("p1"), "Patient/p2", ct); err == nil {
			t.Fatal("a value moved to another record opened")
		}
		if _, err := s.Seal(ctx, seal.PatientSubject("p2"), "Patient/p2", plain); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Open(ctx, seal.PatientSubject("p2"), "Patient/p1", ct); err == nil {
			t.Fatal("a value opened under another patient's key")
		}
		// A flipped bit is detected.
		bad := append([]byte(nil), ct...)
		bad[len(bad)-1] ^= 1
		if _, err := s.Open(ctx, seal.PatientSubject("p1"), "Patient/p1", bad); err == nil {
			t.Fatal("tampered value opened")
		}
	})
}

func TestShredMakesDataUnreadable(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		s, kek, _ := newSealer(t, d)
		a, _ := s.Seal(ctx, seal.PatientSubject("a"), "Patient/a", []byte("alpha"))
		b, _ := s.Seal(ctx, seal.PatientSubject("b"), "Patient/b", []byte("beta"))
		if err := s.Shred(ctx, seal.PatientSubject("a")); err != nil {
			t.Fatal(err)
		}
		// A fresh sealer (no cache) must not open it either.
		s2 := seal.NewSealer(d, kek, clock)
		for _, sl := range []*seal.Sealer{s, s2} {
			_, err := sl.Open(ctx, seal.PatientSubject("a"), "Patient/a", a)
			if !errors.Is(err, seal.ErrShredded) {
				t.Fatalf("open after shred: %v, want ErrShredded", err)
			}
			if got, err := sl.Open(ctx, seal.PatientSubject("b"), "Patient/b", b); err != nil || string(got) != "beta" {
				t.Fatalf("other patient: %q %v", got, err)
			}
		}
		if err := s.Shred(ctx, seal.PatientSubject("a")); !fault.Is(err, fault.NotFound) {
			t.Fatalf("second shred: %v", err)
		}
		// The key row stays (shredded), never re-created with a new key.
		if _, err := s2.Seal(ctx, seal.PatientSubject("a"), "Patient/a", []byte("x")); err == nil {
			t.Fatal("sealing under a shredded subject created a new key")
		}
	})
}

func TestRotateKEKKeepsData(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		s, kek, path := newSealer(t, d)
		var cts [][]byte
		for _, p := range []string{"a", "b", "c"} {
			ct, err := s.Seal(ctx, seal.PatientSubject(p), "Patient/"+p, []byte("data "+p))
			if err != nil {
				t.Fatal(err)
			}
			cts = append(cts, ct)
		}
		old := kek.ActiveKeyID()
		nid, err := kek.AddKey(clock())
		if err != nil {
			t.Fatal(err)
		}
		moved, err := s.Rewrap(ctx)
		if err != nil || moved != 3 {
			t.Fatalf("Rewrap = %d, %v; want 3", moved, err)
		}
		inUse, _ := s.KEKsInUse(ctx)
		if inUse[old] || !inUse[nid] {
			t.Fatalf("keys in use after rewrap: %v", inUse)
		}
		if err := kek.RetireKeys(inUse); err != nil {
			t.Fatal(err)
		}
		// Reload from the file: only the new key, and the old data opens.
		k2, err := seal.LoadFileKEK(path)
		if err != nil {
			t.Fatal(err)
		}
		if k2.HasKey(old) || !k2.HasKey(nid) {
			t.Fatalf("key file after retire: %v", k2.KeyIDs())
		}
		s2 := seal.NewSealer(d, k2, clock)
		if err := s2.CheckKeys(ctx); err != nil {
			t.Fatal(err)
		}
		for i, p := range []string{"a", "b", "c"} {
			got, err := s2.Open(ctx, seal.PatientSubject(p), "Patient/"+p, cts[i])
			if err != nil || string(got) != "data "+p {
				t.Fatalf("after rotation %s: %q %v", p, got, err)
			}
		}
	})
}

func TestWrongOrUnsafeKeyFile(t *testing.T) {
	d := dbtest.SQLite(t)
	ctx := context.Background()
	s, _, path := newSealer(t, d)
	if _, err := s.Seal(ctx, seal.PatientSubject("a"), "Patient/a", []byte("x")); err != nil {
		t.Fatal(err)
	}
	other, err := seal.CreateFileKEK(filepath.Join(t.TempDir(), "other.json"), clock())
	if err != nil {
		t.Fatal(err)
	}
	err = seal.NewSealer(d, other, clock).CheckKeys(ctx)
	if !fault.Is(err, fault.Unavailable) || !bytes.Contains([]byte(err.Error()), []byte("wrong key file")) {
		t.Fatalf("CheckKeys with another key file: %v", err)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := seal.LoadFileKEK(path); !fault.Is(err, fault.Invalid) {
		t.Fatalf("world-readable key file accepted: %v", err)
	}
	if _, err := seal.LoadFileKEK(filepath.Join(t.TempDir(), "none.json")); !errors.Is(err, seal.ErrNoKeyFile) {
		t.Fatalf("missing key file: %v", err)
	}
	garbage := filepath.Join(t.TempDir(), "garbage.json")
	os.WriteFile(garbage, []byte("not json"), 0o600)
	if _, err := seal.LoadFileKEK(garbage); !fault.Is(err, fault.Invalid) {
		t.Fatalf("garbage key file: %v", err)
	}
	if _, err := seal.CreateFileKEK(path, clock()); err == nil {
		t.Fatal("CreateFileKEK overwrote an existing key file")
	}
}

func TestPseudonymizerStable(t *testing.T) {
	d := dbtest.SQLite(t)
	ctx := context.Background()
	s, kek, _ := newSealer(t, d)
	p1, err := s.Pseudonymizer(ctx, "search")
	if err != nil {
		t.Fatal(err)
	}
	p2, err := seal.NewSealer(d, kek, clock).Pseudonymizer(ctx, "search")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(p1.Token("x"), p2.Token("x")) || bytes.Equal(p1.Token("x"), p1.Token("y")) {
		t.Fatal("tokens are not stable and distinct")
	}
	p3, _ := s.Pseudonymizer(ctx, "other")
	if bytes.Equal(p1.Token("x"), p3.Token("x")) {
		t.Fatal("two purposes share a key")
	}
}
