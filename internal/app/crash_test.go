package app_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/trustward/trustward/internal/app"
	"github.com/trustward/trustward/internal/audit"
	"github.com/trustward/trustward/internal/config"
	"github.com/trustward/trustward/internal/db/dbtest"
	"github.com/trustward/trustward/internal/ledger"
	"github.com/trustward/trustward/internal/seal"
)

// The kill -9 test: a real Trustward process (this test binary, re-run as
// a child) records access events as fast as it can through the production
// path (Recorder, then integrator and Tessera) and prints the id of every
// event whose Record call returned — an acknowledged event. The parent
// kills it with SIGKILL at random moments, over and over, then lets a last
// child drain the backlog and stop cleanly. Every acknowledged event must
// be in the store with a leaf index, the log must hold exactly one leaf per
// stored event, and the log must check out with x/mod's tlog and note, not
// only with our own code.

const crashChildEnv = "TRUSTWARD_CRASH_CHILD"

func TestMain(m *testing.M) {
	if mode := os.Getenv(crashChildEnv); mode != "" {
		os.Exit(crashChild(mode, os.Getenv("TRUSTWARD_CRASH_DATA")))
	}
	dbtest.Main(m)
}

func crashConfig(dir string) config.Config {
	cfg := config.Default()
	cfg.DataDir = dir
	cfg.Org = "Crash General"
	return cfg
}

// crashChild is the child process: "record" records until killed; "drain"
// waits until every event is ledgered and a checkpoint covers the log,
// then closes cleanly.
func crashChild(mode, dir string) int {
	ctx := context.Background()
	// Info to stderr: the parent reads what reconcile settled.
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	a, err := app.Open(ctx, crashConfig(dir), logger)
	if err != nil {
		fmt.Fprintln(os.Stderr, "open:", err)
		return 1
	}
	defer a.Close()
	patients := []string{"pt-a", "pt-b", "pt-c", "pt-d"}
	subjects := make([]string, len(patients))
	for i, p := range patients {
		subjects[i] = seal.PatientSubject(p)
	}
	if err := a.Sealer.EnsureKeys(ctx, subjects); err != nil {
		fmt.Fprintln(os.Stderr, "keys:", err)
		return 1
	}
	if mode == "drain" {
		deadline := time.Now().Add(60 * time.Second)
		for time.Now().Before(deadline) {
			lag, err := a.Integrator.Lag(ctx)
			if err == nil && lag.Events == 0 {
				size, err := a.Ledger.Size(ctx)
				if err == nil {
					if _, _, err := a.Ledger.AwaitCheckpoint(ctx, size); err == nil {
						fmt.Println("DRAINED", size)
						return 0
					}
				}
			}
			a.Integrator.Notify()
			time.Sleep(20 * time.Millisecond)
		}
		fmt.Fprintln(os.Stderr, "drain: timed out")
		return 1
	}
	out := bufio.NewWriter(os.Stdout)
	var mu sync.Mutex
	fmt.Fprintln(out, "READY")
	out.Flush()
	var wg sync.WaitGroup
	for w := range 32 {
		wg.Go(func() {
			for i := 0; ; i++ {
				ev := &audit.Event{Actor: audit.Actor{UserID: fmt.Sprintf("u-%d", w), Role: "clinician", Name: "Dr Crash"},
					PatientID: patients[(w+i)%len(patients)], ResourceType: "Patient", ResourceID: "x",
					Action: audit.ActionRead, Subtype: "chart", Purpose: "TREAT", Basis: "care-team",
					Outcome: audit.OutcomeSuccess, Source: "crash-test"}
				if err := a.Recorder.Record(ctx, ev); err != nil {
					fmt.Fprintln(os.Stderr, "record:", err)
					return
				}
				mu.Lock()
				fmt.Fprintln(out, "ACK", ev.ID)
				out.Flush()
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return 1
}

func TestKill9LosesNothingAndDuplicatesNothing(t *testing.T) {
	dir := t.TempDir()
	rounds := 12
	if testing.Short() {
		rounds = 3
	}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	acked := map[string]bool{}
	for round := range rounds {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), crashChildEnv+"=record", "TRUSTWARD_CRASH_DATA="+dir)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := make(chan string, 1024)
		go func() {
			defer close(lines)
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				lines <- sc.Text()
			}
		}()
		// Kill at a random moment after the child is ready: sometimes at
		// once (during the integrator's first reconcile), mostly while
		// events and rounds are in flight.
		var kill <-chan time.Time
		n := 0
	read:
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatalf("round %d: the child stopped by itself: %s", round, stderr.String())
				}
				switch {
				case l == "READY":
					kill = time.After(time.Duration(rng.IntN(600)) * time.Millisecond)
				case strings.HasPrefix(l, "ACK "):
					acked[strings.TrimPrefix(l, "ACK ")] = true
					n++
				}
			case <-kill:
				break read
			case <-time.After(60 * time.Second):
				t.Fatalf("round %d: no word from the child in 60 s: %s", round, stderr.String())
			}
		}
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		// What the child printed before it died is acknowledged too.
		for l := range lines {
			if strings.HasPrefix(l, "ACK ") {
				acked[strings.TrimPrefix(l, "ACK ")] = true
				n++
			}
		}
		cmd.Wait()
		t.Logf("round %d: killed after %d acknowledged events; %s", round, n, reconciled(stderr.String()))
	}
	if len(acked) == 0 {
		t.Fatal("no event was acknowledged in any round")
	}

	drain := exec.Command(os.Args[0], "-test.run=^$")
	drain.Env = append(os.Environ(), crashChildEnv+"=drain", "TRUSTWARD_CRASH_DATA="+dir)
	out, err := drain.CombinedOutput()
	if err != nil {
		t.Fatalf("drain: %v: %s", err, out)
	}
	t.Logf("drain: %s", reconciled(string(out)))

	ctx := context.Background()
	a, err := app.Open(ctx, crashConfig(dir), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	rows, err := a.DB.Query(ctx, `SELECT id, ledger_index FROM audit_events`)
	if err != nil {
		t.Fatal(err)
	}
	byIndex := map[int64]string{}
	stored := map[string]bool{}
	for rows.Next() {
		var id string
		var idx *int64
		if err := rows.Scan(&id, &idx); err != nil {
			t.Fatal(err)
		}
		if idx == nil {
			t.Fatalf("event %s has no leaf after the drain", id)
		}
		if other, dup := byIndex[*idx]; dup {
			t.Fatalf("events %s and %s share leaf %d", other, id, *idx)
		}
		byIndex[*idx] = id
		stored[id] = true
	}
	rows.Close()
	for id := range acked {
		if !stored[id] {
			t.Fatalf("acknowledged event %s was lost", id)
		}
	}
	size, err := a.Ledger.Size(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if size != uint64(len(stored)) {
		t.Fatalf("the log has %d leaves for %d stored events", size, len(stored))
	}
	leaves, err := a.Ledger.Leaves(ctx, 0, size)
	if err != nil {
		t.Fatal(err)
	}
	distinct := map[string]bool{}
	for i, l := range leaves {
		if distinct[string(l)] {
			t.Fatalf("leaf %d is in the log twice", i)
		}
		distinct[string(l)] = true
	}
	// Spot-check that leaves belong to their events: the opening of an
	// event recomputes exactly the leaf at its index.
	for i := int64(0); i < int64(size); i += max(1, int64(size)/50) {
		o, err := a.Integrator.Opening(ctx, byIndex[i])
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(o.Leaf, leaves[i]) {
			t.Fatalf("leaf %d is not the leaf of event %s", i, byIndex[i])
		}
	}
	// Independent check of the signed checkpoint and the tree.
	text, err := a.Ledger.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	v, err := note.NewVerifier(a.Ledger.VerifierKey())
	if err != nil {
		t.Fatal(err)
	}
	n, err := note.Open(text, note.VerifierList(v))
	if err != nil {
		t.Fatalf("checkpoint does not verify: %v", err)
	}
	parts := strings.SplitN(n.Text, "\n", 4)
	if len(parts) < 3 || parts[1] != fmt.Sprint(size) {
		t.Fatalf("checkpoint %q does not cover the %d leaves", n.Text, size)
	}
	root, err := tlog.TreeHash(int64(size), hashReader(leaves))
	if err != nil {
		t.Fatal(err)
	}
	if parts[2] != root.String() {
		t.Fatalf("checkpoint root %s, leaves hash to %s", parts[2], root)
	}
	if _, err := ledger.VerifyCheckpoint(text, a.Ledger.VerifierKey()); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d acknowledged, %d stored, %d leaves, root %s", len(acked), len(stored), size, root)
}

// hashReader serves tlog.TreeHash the stored hashes of a tree built from
// the raw leaves alone, with tlog.StoredHashes.
func hashReader(leaves [][]byte) tlog.HashReaderFunc {
	var all []tlog.Hash
	read := tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(idx))
		for j, x := range idx {
			out[j] = all[x]
		}
		return out, nil
	})
	for i, l := range leaves {
		h, err := tlog.StoredHashes(int64(i), l, read)
		if err != nil {
			panic(err)
		}
		all = append(all, h...)
	}
	return read
}

// reconciled picks out what a child's integrator settled at start.
func reconciled(log string) string {
	for l := range strings.Lines(log) {
		if strings.Contains(l, "ledger intents reconciled") {
			if i := strings.Index(l, "found="); i >= 0 {
				return "at start reconcile " + strings.TrimSpace(l[i:])
			}
		}
	}
	return "nothing to reconcile at start"
}
