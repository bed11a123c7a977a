package proof_test

import (
	"os"
	"strings"
	"testing"

	"github.com/trustward/trustward/internal/proof"
)

// testdata/bundle.json is a real bundle and testdata/bundle.key its log's
// verifier key (written by TestParseBundleRejects with
// TRUSTWARD_WRITE_PROOF_TESTDATA=1).
func seedBundle(f *testing.F) ([]byte, string) {
	b, err := os.ReadFile("testdata/bundle.json")
	if err != nil {
		f.Fatal(err)
	}
	k, err := os.ReadFile("testdata/bundle.key")
	if err != nil {
		f.Fatal(err)
	}
	return b, strings.TrimSpace(string(k))
}

func TestSeedBundleVerifies(t *testing.T) {
	b, err := os.ReadFile("testdata/bundle.json")
	if err != nil {
		t.Fatal(err)
	}
	k, _ := os.ReadFile("testdata/bundle.key")
	p, err := proof.ParseBundle(b)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := proof.VerifyBundle(p, strings.TrimSpace(string(k))); err != nil {
		t.Fatal(err)
	}
}

func FuzzParseBundle(f *testing.F) {
	good, _ := seedBundle(f)
	f.Add(good)
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"format":"trustward-proof-bundle/v1"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := proof.ParseBundle(data)
		if err != nil {
			if proof.FailedCheck(err) != proof.CheckFormat {
				t.Fatalf("a parse error that is not a format error: %v", err)
			}
			return
		}
		out, err := b.Marshal()
		if err != nil {
			t.Fatalf("a parsed bundle does not marshal: %v", err)
		}
		if _, err := proof.ParseBundle(out); err != nil {
			t.Fatalf("a marshalled bundle does not parse: %v", err)
		}
	})
}

func FuzzVerifyBundle(f *testing.F) {
	good, key := seedBundle(f)
	f.Add(good)
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := proof.ParseBundle(data)
		if err != nil {
			return
		}
		v, err := proof.VerifyBundle(b, key)
		if err != nil {
			if proof.FailedCheck(err) == "" {
				t.Fatalf("an error without a check: %v", err)
			}
			return
		}
		// Whatever is accepted proves the event it carries at its index.
		if v.Event.ID == "" || v.LeafIndex != b.LeafIndex || v.Checkpoint.Size != b.TreeSize {
			t.Fatalf("accepted bundle proves %+v", v)
		}
	})
}

// BenchmarkVerifyBundle: the target is under 1 ms per bundle.
func BenchmarkVerifyBundle(b *testing.B) {
	raw, err := os.ReadFile("testdata/bundle.json")
	if err != nil {
		b.Fatal(err)
	}
	k, _ := os.ReadFile("testdata/bundle.key")
	key := strings.TrimSpace(string(k))
	for b.Loop() {
		p, err := proof.ParseBundle(raw)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := proof.VerifyBundle(p, key); err != nil {
			b.Fatal(err)
		}
	}
}
