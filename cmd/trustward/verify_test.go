package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/trustward/trustward/internal/ledger"
)

func TestVerifyBundleCommand(t *testing.T) {
	ctx := context.Background()
	bundle := "../../internal/proof/testdata/bundle.json"
	keyFile := "../../internal/proof/testdata/bundle.key"
	var out, errb bytes.Buffer
	if err := run(ctx, []string{"verify", "bundle", bundle, "--key", keyFile}, env(nil), &out, &errb); err != nil {
		t.Fatalf("%v (%s)", err, errb.String())
	}
	if !strings.HasPrefix(out.String(), "OK: access event ") {
		t.Fatalf("output %q", out.String())
	}
	// A copy with one byte of the salt changed fails, with exit status 1,
	// and says which check.
	raw, _ := os.ReadFile(bundle)
	i := bytes.Index(raw, []byte(`"salt": "`)) + len(`"salt": "`)
	bad := bytes.Clone(raw)
	if bad[i] == 'A' {
		bad[i] = 'B'
	} else {
		bad[i] = 'A'
	}
	p := filepath.Join(t.TempDir(), "bad.json")
	os.WriteFile(p, bad, 0o644)
	err := run(ctx, []string{"verify", "bundle", p, "--key", keyFile}, env(nil), io.Discard, io.Discard)
	if err == nil || exitCode(err) != 1 || !strings.Contains(errorLine(err), "FAILED: leaf check failed") {
		t.Fatalf("tampered bundle: %v (exit %d)", err, exitCode(err))
	}
	// Usage errors: exit status 2.
	for _, args := range [][]string{{"verify"}, {"verify", "bundle", bundle}, {"verify", "bundle"}, {"verify", "frob"}} {
		if err := run(ctx, args, env(nil), io.Discard, io.Discard); err == nil || exitCode(err) != 2 {
			t.Errorf("%v: %v (exit %d)", args, err, exitCode(err))
		}
	}
}

func TestVerifyLogCommand(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "ledger")
	l, err := ledger.Open(ctx, ledger.Options{Dir: dir, Origin: ledger.OriginFor("Verify Test"), CheckpointInterval: ledger.MinCheckpointInterval,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	leaves := make([][]byte, 1000)
	for i := range leaves {
		leaves[i] = []byte(strings.Repeat("x", i%50+1))
	}
	if _, err := l.AppendBatch(ctx, leaves); err != nil {
		t.Fatal(err)
	}
	if _, _, err := l.AwaitCheckpoint(ctx, 1000); err != nil {
		t.Fatal(err)
	}
	key := l.VerifierKey()
	l.Close()
	srv := httptest.NewServer(http.StripPrefix("/log/", http.FileServer(http.Dir(dir))))
	defer srv.Close()
	state := filepath.Join(t.TempDir(), "state")
	var out bytes.Buffer
	if err := run(ctx, []string{"verify", "log", srv.URL + "/log/", "--key", key, "--state", state}, env(nil), &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "has 1000 leaves") || !strings.Contains(out.String(), "first run") {
		t.Fatalf("output %q", out.String())
	}
	out.Reset()
	if err := run(ctx, []string{"verify", "log", "--key", key, "--state", state, srv.URL + "/log/"}, env(nil), &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "consistent with the 1000 leaves") {
		t.Fatalf("second run %q", out.String())
	}
	// Tamper with the served copy: the command fails and names the check.
	p := filepath.Join(dir, "tile", "entries", "000")
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	b[10] ^= 1
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	err = run(ctx, []string{"verify", "log", srv.URL + "/log/", "--key", key, "--state", state}, env(nil), io.Discard, io.Discard)
	if err == nil || exitCode(err) != 1 || !strings.Contains(errorLine(err), "FAILED") {
		t.Fatalf("tampered log: %v", err)
	}
}

func TestVerifyLogRejectsNonHTTP(t *testing.T) {
	err := run(context.Background(), []string{"verify", "log", "ftp://example.com/log/", "--key", "x+1+AQ"}, env(nil), io.Discard, io.Discard)
	if err == nil || exitCode(err) != 2 || !strings.Contains(errorLine(err), "not an http") {
		t.Fatalf("ftp URL: %v", err)
	}
}
