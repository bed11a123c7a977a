package proof_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/trustward/trustward/internal/audit"
	"github.com/trustward/trustward/internal/db"
	"github.com/trustward/trustward/internal/db/dbtest"
	"github.com/trustward/trustward/internal/ledger"
	"github.com/trustward/trustward/internal/proof"
	"github.com/trustward/trustward/internal/seal"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

const origin = "trustward.example/riverside-general-hospital/access-log"

// rig is the production pipeline: store, Recorder, integrator, log.
type rig struct {
	d   *db.DB
	rec *audit.Recorder
	in  *audit.Integrator
	log *ledger.POSIXLog
	dir string
}

func newRig(t testing.TB, d *db.DB) *rig {
	t.Helper()
	ctx := context.Background()
	clock := func() time.Time { return time.Now().UTC() }
	kek, err := seal.CreateFileKEK(filepath.Join(t.TempDir(), "kek.json"), clock())
	if err != nil {
		t.Fatal(err)
	}
	sl := seal.NewSealer(d, kek, clock)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	r := &rig{d: d, rec: audit.NewRecorder(d, sl, clock, quiet), dir: filepath.Join(t.TempDir(), "ledger")}
	t.Cleanup(r.rec.Close)
	if err := sl.EnsureKeys(ctx, []string{seal.PatientSubject("pt-1"), seal.PatientSubject("pt-2")}); err != nil {
		t.Fatal(err)
	}
	actors, err := sl.Pseudonymizer(ctx, audit.ActorPseudonymPurpose)
	if err != nil {
		t.Fatal(err)
	}
	if r.log, err = ledger.Open(ctx, ledger.Options{Dir: r.dir, Origin: origin, CheckpointInterval: ledger.MinCheckpointInterval, Logger: quiet}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.log.Close() })
	r.in = audit.NewIntegrator(d, r.log, sl, actors, clock, quiet, audit.IntegratorOptions{PollInterval: 10 * time.Millisecond})
	t.Cleanup(r.in.Close)
	return r
}

// record records n events and waits until a checkpoint covers them all.
func (r *rig) record(t testing.TB, n int) []string {
	t.Helper()
	ctx := context.Background()
	ids := make([]string, n)
	for i := range n {
		ev := &audit.Event{Actor: audit.Actor{UserID: fmt.Sprintf("u-%d", i%3), Role: "clinician", Name: "Dr Test"},
			PatientID: []string{"pt-1", "pt-2", ""}[i%3], ResourceType: "Patient", ResourceID: "x",
			Action: audit.ActionRead, Subtype: "chart", Purpose: []string{"TREAT", "ETREAT", "free text"}[i%3], Basis: "care-team",
			Outcome: audit.OutcomeSuccess, Source: "test"}
		if err := r.rec.Record(ctx, ev); err != nil {
			t.Fatal(err)
		}
		ids[i] = ev.ID
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		lag, err := r.in.Lag(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if lag.Events == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("events not ledgered in 20 s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	size, err := r.log.Size(ctx)
	if err != nil {
		t.Fatal(err)
	}
	actx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if _, _, err := r.log.AwaitCheckpoint(actx, size); err != nil {
		t.Fatal(err)
	}
	return ids
}

func (r *rig) bundle(t testing.TB, id string) *proof.Bundle {
	t.Helper()
	o, err := r.in.Opening(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	b, err := proof.Build(context.Background(), o, r.log)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestBundleVerifies(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		r := newRig(t, d)
		ids := r.record(t, 40)
		for _, id := range ids {
			b := r.bundle(t, id)
			raw, err := b.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			parsed, err := proof.ParseBundle(raw)
			if err != nil {
				t.Fatal(err)
			}
			v, err := proof.VerifyBundle(parsed, r.log.VerifierKey())
			if err != nil {
				t.Fatalf("event %s: %v", id, err)
			}
			if v.Event.ID != id {
				t.Fatalf("bundle proves event %s, not %s", v.Event.ID, id)
			}
			independent(t, parsed, r.log.VerifierKey())
		}
	})
}

// independent checks a bundle with x/mod's note and tlog only.
func independent(t *testing.T, b *proof.Bundle, vkey string) {
	t.Helper()
	v, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	n, err := note.Open([]byte(b.Checkpoint), note.VerifierList(v))
	if err != nil {
		t.Fatalf("checkpoint: %v", err)
	}
	lines := strings.Split(n.Text, "\n")
	root, err := tlog.ParseHash(lines[2])
	if err != nil {
		t.Fatal(err)
	}
	var p tlog.RecordProof
	for _, h := range b.InclusionProof {
		p = append(p, tlog.Hash(h))
	}
	if err := tlog.CheckRecord(p, int64(b.TreeSize), root, int64(b.LeafIndex), tlog.RecordHash(b.Leaf)); err != nil {
		t.Fatalf("x/mod's tlog rejects the inclusion proof: %v", err)
	}
}

// Every single-bit change anywhere in a bundle's content is caught, and
// the error names the check.
func TestBundleFlippedBitsRejected(t *testing.T) {
	r := newRig(t, dbtest.SQLite(t))
	ids := r.record(t, 9)
	good := r.bundle(t, ids[4])
	key := r.log.VerifierKey()
	type field struct {
		name  string
		bytes func(b *proof.Bundle) []byte
		set   func(b *proof.Bundle, v []byte)
		want  []proof.Check
	}
	leafOrFormat := []proof.Check{proof.CheckLeaf, proof.CheckFormat}
	fields := []field{
		{"event", func(b *proof.Bundle) []byte { return []byte(b.Event) }, func(b *proof.Bundle, v []byte) { b.Event = string(v) }, leafOrFormat},
		{"salt", func(b *proof.Bundle) []byte { return b.Salt }, func(b *proof.Bundle, v []byte) { b.Salt = v }, leafOrFormat},
		{"patient", func(b *proof.Bundle) []byte { return b.PatientPseudonym }, func(b *proof.Bundle, v []byte) { b.PatientPseudonym = v }, leafOrFormat},
		{"actor", func(b *proof.Bundle) []byte { return b.ActorPseudonym }, func(b *proof.Bundle, v []byte) { b.ActorPseudonym = v }, leafOrFormat},
		{"leaf", func(b *proof.Bundle) []byte { return b.Leaf }, func(b *proof.Bundle, v []byte) { b.Leaf = v }, leafOrFormat},
		{"checkpoint", func(b *proof.Bundle) []byte { return []byte(b.Checkpoint) }, func(b *proof.Bundle, v []byte) { b.Checkpoint = string(v) },
			[]proof.Check{proof.CheckSignature, proof.CheckOrigin}},
	}
	for i := range good.InclusionProof {
		fields = append(fields, field{fmt.Sprintf("proof[%d]", i),
			func(b *proof.Bundle) []byte { return b.InclusionProof[i] },
			func(b *proof.Bundle, v []byte) { b.InclusionProof[i] = v }, []proof.Check{proof.CheckInclusion}})
	}
	tried := 0
	for _, f := range fields {
		orig := f.bytes(good)
		for pos := range orig {
			for bit := range 8 {
				b := clone(good)
				v := bytes.Clone(orig)
				v[pos] ^= 1 << bit
				f.set(b, v)
				_, err := proof.VerifyBundle(b, key)
				if err == nil {
					t.Fatalf("%s byte %d bit %d flipped: accepted", f.name, pos, bit)
				}
				if c := proof.FailedCheck(err); !contains(f.want, c) {
					t.Fatalf("%s byte %d bit %d flipped: failed check %q (%v), want one of %v", f.name, pos, bit, c, err, f.want)
				}
				tried++
			}
		}
	}
	for _, c := range []struct {
		name string
		mod  func(b *proof.Bundle)
		want proof.Check
	}{
		{"index moved", func(b *proof.Bundle) { b.LeafIndex ^= 1 }, proof.CheckInclusion},
		{"index outside tree", func(b *proof.Bundle) { b.LeafIndex = b.TreeSize }, proof.CheckSize},
		{"wrong size", func(b *proof.Bundle) { b.TreeSize++ }, proof.CheckSize},
		{"other origin", func(b *proof.Bundle) { b.Origin = "example.com/other" }, proof.CheckOrigin},
		{"proof cut short", func(b *proof.Bundle) { b.InclusionProof = b.InclusionProof[:len(b.InclusionProof)-1] }, proof.CheckInclusion},
	} {
		b := clone(good)
		c.mod(b)
		if _, err := proof.VerifyBundle(b, key); proof.FailedCheck(err) != c.want {
			t.Errorf("%s: %v, want the %s check to fail", c.name, err, c.want)
		}
	}
	// A checkpoint signed by another key.
	skey, vkey, err := note.GenerateKey(rand.Reader, origin)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := proof.VerifyBundle(good, vkey); proof.FailedCheck(err) != proof.CheckSignature {
		t.Errorf("another log's key: %v", err)
	}
	signer, _ := note.NewSigner(skey)
	n, _ := note.Open([]byte(good.Checkpoint), note.VerifierList(mustVerifier(t, key)))
	forged, err := note.Sign(&note.Note{Text: n.Text}, signer)
	if err != nil {
		t.Fatal(err)
	}
	b := clone(good)
	b.Checkpoint = string(forged)
	if _, err := proof.VerifyBundle(b, key); proof.FailedCheck(err) != proof.CheckSignature {
		t.Errorf("checkpoint re-signed by another key: %v", err)
	}
	t.Logf("%d flipped bits rejected", tried)
}

func TestParseBundleRejects(t *testing.T) {
	r := newRig(t, dbtest.SQLite(t))
	good, err := r.bundle(t, r.record(t, 1)[0]).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(good, &m); err != nil {
		t.Fatal(err)
	}
	mut := func(f func(m map[string]any)) []byte {
		c := map[string]any{}
		for k, v := range m {
			c[k] = v
		}
		f(c)
		out, _ := json.Marshal(c)
		return out
	}
	for name, in := range map[string][]byte{
		"empty":         nil,
		"not JSON":      []byte("hello"),
		"array":         []byte("[]"),
		"trailing":      append(bytes.Clone(good), []byte(" {}")...),
		"oversize":      bytes.Repeat([]byte(" "), proof.MaxBundleSize+1),
		"unknown field": mut(func(m map[string]any) { m["extra"] = 1 }),
		"format":        mut(func(m map[string]any) { m["format"] = "trustward-proof-bundle/v2" }),
		"bad base64":    mut(func(m map[string]any) { m["salt"] = "***" }),
		"short salt":    mut(func(m map[string]any) { m["salt"] = "AAAA" }),
		"long proof":    mut(func(m map[string]any) { m["inclusionProof"] = make([]string, 65) }),
		"no checkpoint": mut(func(m map[string]any) { delete(m, "checkpoint") }),
		"negative size": mut(func(m map[string]any) { m["treeSize"] = -1 }),
	} {
		if _, err := proof.ParseBundle(in); proof.FailedCheck(err) != proof.CheckFormat {
			t.Errorf("%s: %v, want a format error", name, err)
		}
	}
	if _, err := proof.ParseBundle(good); err != nil {
		t.Fatal(err)
	}
	if os.Getenv("TRUSTWARD_WRITE_PROOF_TESTDATA") != "" {
		os.WriteFile(filepath.Join("testdata", "bundle.json"), good, 0o644)
		os.WriteFile(filepath.Join("testdata", "bundle.key"), []byte(r.log.VerifierKey()+"\n"), 0o644)
	}
}

func clone(b *proof.Bundle) *proof.Bundle {
	raw, err := json.Marshal(b)
	if err != nil {
		panic(err)
	}
	var c proof.Bundle
	if err := json.Unmarshal(raw, &c); err != nil {
		panic(err)
	}
	return &c
}

func contains(cs []proof.Check, c proof.Check) bool {
	for _, x := range cs {
		if x == c {
			return true
		}
	}
	return false
}

func mustVerifier(t *testing.T, key string) note.Verifier {
	v, err := note.NewVerifier(key)
	if err != nil {
		t.Fatal(err)
	}
	return v
}
