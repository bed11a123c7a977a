package ledger_test

import (
	"bufio"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	f_note "github.com/transparency-dev/formats/note"
	"golang.org/x/mod/sumdb/note"
	_ "modernc.org/sqlite"

	"github.com/trustward/trustward/internal/db/dbtest"
	"github.com/trustward/trustward/internal/ledger"
)

// litewitness is a running filippo.io/torchwood litewitness (a witness
// implementation we did not write), with its key in a dedicated ssh-agent
// as it is run in production.
type litewitness struct {
	url  string
	vkey string // cosignature/v1 verifier key
	db   string
}

// startLitewitness starts ssh-agent and litewitness in a temp dir.
// scripts/test.sh installs litewitness (go install
// filippo.io/torchwood/cmd/litewitness@v0.9.0) and openssh-client.
func startLitewitness(t *testing.T) *litewitness {
	t.Helper()
	bin, err := exec.LookPath("litewitness")
	if err != nil {
		dbtest.Missing(t, "litewitness", err)
	}
	for _, tool := range []string{"ssh-agent", "ssh-add", "ssh-keygen"} {
		if _, err := exec.LookPath(tool); err != nil {
			dbtest.Missing(t, "litewitness", fmt.Errorf("%s (openssh-client) is needed to hold the witness key: %w", tool, err))
		}
	}
	// Unix socket paths are limited to about 100 bytes: keep them short.
	dir, err := os.MkdirTemp("", "lw")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	key := filepath.Join(dir, "key")
	sock := filepath.Join(dir, "agent.sock")
	run(t, "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "witness", "-f", key)
	agent := exec.Command("ssh-agent", "-D", "-a", sock)
	if err := agent.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { agent.Process.Kill(); agent.Wait() })
	waitFor(t, func() bool { _, err := os.Stat(sock); return err == nil })
	add := exec.Command("ssh-add", key)
	add.Env = append(os.Environ(), "SSH_AUTH_SOCK="+sock)
	if out, err := add.CombinedOutput(); err != nil {
		t.Fatalf("ssh-add: %v: %s", err, out)
	}
	fp := strings.Fields(run(t, "ssh-keygen", "-l", "-E", "sha256", "-f", key+".pub"))
	if len(fp) < 2 || !strings.HasPrefix(fp[1], "SHA256:") {
		t.Fatalf("unexpected fingerprint %q", fp)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	lw := &litewitness{url: "http://" + addr + "/", db: filepath.Join(dir, "witness.db")}
	cmd := exec.Command(bin, "-db", lw.db, "-name", "witness.test/lw", "-ssh-agent", sock, "-key", fp[1], "-listen", addr)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	vkeys := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			if i := strings.Index(line, "vkey="); i >= 0 {
				select {
				case vkeys <- strings.Trim(strings.Fields(line[i+len("vkey="):])[0], `"`):
				default:
				}
			}
		}
	}()
	select {
	case lw.vkey = <-vkeys:
	case <-time.After(15 * time.Second):
		t.Fatal("litewitness did not print its verifier key")
	}
	waitFor(t, func() bool {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	return lw
}

// trust tells the witness about a log, as witnessctl add-log and add-key
// do (witnessctl itself does not build here: a dependency of it is refused
// by the module proxy).
func (lw *litewitness) trust(t *testing.T, origin, verifierKey string) {
	t.Helper()
	d, err := sql.Open("sqlite", lw.db)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	empty := sha256.Sum256(nil)
	if _, err := d.Exec(`INSERT INTO log (origin, tree_size, tree_hash) VALUES (?, 0, ?)`, origin, base64.StdEncoding.EncodeToString(empty[:])); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Exec(`INSERT INTO key (origin, key) VALUES (?, ?)`, origin, verifierKey); err != nil {
		t.Fatal(err)
	}
}

func (lw *litewitness) policy() []byte {
	return fmt.Appendf(nil, "witness lw %s %s\nquorum lw\n", lw.vkey, lw.url)
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v: %s", name, err, out)
	}
	return string(out)
}

func waitFor(t *testing.T, ok func() bool) {
	t.Helper()
	for range 300 {
		if ok() {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("timed out")
}

func TestWitnessCosignsCheckpoints(t *testing.T) {
	lw := startLitewitness(t)
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "ledger")
	// First start without witnesses creates the log and its key; the
	// witness is then told to trust that key.
	first := openLog(t, dir)
	vkey := first.VerifierKey()
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	lw.trust(t, origin, vkey)

	l, err := ledger.Open(ctx, ledger.Options{Dir: dir, Origin: origin, CheckpointInterval: ledger.MinCheckpointInterval,
		WitnessPolicy: lw.policy(), WitnessTimeout: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if _, err := l.AppendBatch(ctx, testLeaves(300, 0)); err != nil {
		t.Fatal(err)
	}
	actx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	signed, cp, err := l.AwaitCheckpoint(actx, 300)
	if err != nil {
		t.Fatalf("no witnessed checkpoint: %v (witnesses: %+v)", err, l.Witnesses())
	}
	if cp.Size < 300 {
		t.Fatalf("checkpoint size %d", cp.Size)
	}
	// Both signatures verify with third-party code: ours with x/mod's
	// note, the witness's cosignature with transparency-dev/formats.
	logV, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	witV, err := f_note.NewVerifierForCosignatureV1(lw.vkey)
	if err != nil {
		t.Fatal(err)
	}
	n, err := note.Open(signed, note.VerifierList(logV, witV))
	if err != nil {
		t.Fatalf("cosigned checkpoint does not verify: %v\n%s", err, signed)
	}
	if len(n.Sigs) != 2 {
		t.Fatalf("checkpoint carries %d verified signatures, want the log's and the witness's:\n%s", len(n.Sigs), signed)
	}
	if _, err := ledger.VerifyCheckpoint(signed, vkey); err != nil {
		t.Fatalf("our verifier rejects a cosigned checkpoint: %v", err)
	}
	ws := l.Witnesses()
	if len(ws) != 1 || ws[0].Name != "lw" || ws[0].LastCosigned.IsZero() || ws[0].Alert || ws[0].CosignedSize < 300 {
		t.Fatalf("witness status %+v", ws)
	}

	// A fork: a second log under the same key with other leaves. The
	// witness has cosigned the real log, so it refuses the fork's
	// checkpoints; they are never published, and the refusal raises an
	// alert.
	forkDir := filepath.Join(t.TempDir(), "fork")
	keyBytes, err := os.ReadFile(dir + ".key")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(forkDir+".key", keyBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	withWitness := ledger.Options{Dir: forkDir, Origin: origin, CheckpointInterval: ledger.MinCheckpointInterval,
		WitnessPolicy: lw.policy(), WitnessTimeout: 3 * time.Second, KeyFile: forkDir + ".key", ShutdownTimeout: time.Second}
	// A new log under a key the witness knows starts with an empty
	// checkpoint the witness refuses (it has cosigned 300 leaves): the
	// fork cannot even start.
	if _, err := ledger.Open(ctx, withWitness); err == nil || !strings.Contains(err.Error(), "witness") {
		t.Fatalf("a fork started despite the witness: %v", err)
	} else {
		t.Logf("fork refused at start: %v", err)
	}
	os.RemoveAll(forkDir)
	// Made without witnesses, then run with them: its next checkpoints
	// are refused, never published, and the refusal raises an alert.
	plain := withWitness
	plain.WitnessPolicy = nil
	fork, err := ledger.Open(ctx, plain)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fork.AppendBatch(ctx, testLeaves(400, 1000)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := fork.AwaitCheckpoint(ctx, 400); err != nil {
		t.Fatal(err)
	}
	if err := fork.Close(); err != nil {
		t.Fatal(err)
	}
	if fork, err = ledger.Open(ctx, withWitness); err != nil {
		t.Fatal(err)
	}
	go fork.AppendBatch(ctx, testLeaves(10, 5000))
	waitCtx, cancel2 := context.WithTimeout(ctx, 4*time.Second)
	defer cancel2()
	if _, cp, err := fork.AwaitCheckpoint(waitCtx, 410); err == nil {
		t.Fatalf("the fork published a checkpoint of size %d despite the witness", cp.Size)
	}
	fs := fork.Witnesses()
	if len(fs) != 1 || !fs[0].Alert {
		t.Fatalf("the fork's refusal raised no alert: %+v", fs)
	}
	t.Logf("refusal seen: HTTP %d, %s", fs[0].LastStatus, fs[0].Problem)
	// Closing waits for a covering checkpoint that will never come: bound it.
	done := make(chan struct{})
	go func() { fork.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		t.Fatal("closing the refused fork hung")
	}
}

func TestWitnessPolicyErrors(t *testing.T) {
	for _, p := range []string{
		"quorum nobody\n",
		"witness lw not-a-key http://127.0.0.1:1/\nquorum lw\n",
		"witness lw\n",
		"frobnicate\n",
	} {
		_, err := ledger.Open(context.Background(), ledger.Options{Dir: filepath.Join(t.TempDir(), "l"), Origin: origin, WitnessPolicy: []byte(p)})
		if err == nil || !strings.Contains(err.Error(), "witness policy") {
			t.Errorf("policy %q: got %v, want a witness policy error", p, err)
		}
	}
}
