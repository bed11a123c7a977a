package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/trustward/trustward/internal/ledger"
)

// The proof endpoints answer proofs that x/mod's tlog accepts against the
// published checkpoint, and reject bad parameters with problem+json.
func TestLogProofEndpoints(t *testing.T) {
	a := newApp(t, "sqlite")
	ctx := context.Background()
	c := a.browser(t)
	for range 5 {
		a.signIn(t, c, "ben") // each sign-in is an access event, hence a leaf
	}
	deadline := 0
	var cp ledger.Checkpoint
	for {
		text, err := a.Ledger.Checkpoint(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if cp, err = ledger.VerifyCheckpoint(text, a.Ledger.VerifierKey()); err != nil {
			t.Fatal(err)
		}
		if cp.Size >= 5 {
			break
		}
		if deadline++; deadline > 200 {
			t.Fatal("no checkpoint of 5 leaves")
		}
		a.Integrator.Notify()
		if _, _, err := a.Ledger.AwaitCheckpoint(ctx, 5); err != nil {
			t.Fatal(err)
		}
	}
	leaves, err := a.Ledger.Leaves(ctx, 0, cp.Size)
	if err != nil {
		t.Fatal(err)
	}
	for i := uint64(0); i < cp.Size; i++ {
		res, body := get(t, http.DefaultClient, fmt.Sprintf("%s/log/proof/inclusion?index=%d&size=%d", a.srv.URL, i, cp.Size))
		if res.StatusCode != 200 || !strings.Contains(res.Header.Get("Cache-Control"), "immutable") {
			t.Fatalf("inclusion %d: %d %s", i, res.StatusCode, body)
		}
		var p struct {
			Index, TreeSize uint64
			Proof           [][]byte
		}
		if err := json.Unmarshal([]byte(body), &p); err != nil {
			t.Fatal(err)
		}
		var rp tlog.RecordProof
		for _, h := range p.Proof {
			rp = append(rp, tlog.Hash(h))
		}
		if err := tlog.CheckRecord(rp, int64(cp.Size), cp.Hash, int64(i), tlog.RecordHash(leaves[i])); err != nil {
			t.Fatalf("x/mod rejects the served proof of leaf %d: %v", i, err)
		}
	}
	for from := uint64(1); from < cp.Size; from++ {
		res, body := get(t, http.DefaultClient, fmt.Sprintf("%s/log/proof/consistency?from=%d&to=%d", a.srv.URL, from, cp.Size))
		if res.StatusCode != 200 {
			t.Fatalf("consistency %d: %d %s", from, res.StatusCode, body)
		}
		var p struct{ Proof [][]byte }
		json.Unmarshal([]byte(body), &p)
		var tp tlog.TreeProof
		for _, h := range p.Proof {
			tp = append(tp, tlog.Hash(h))
		}
		old, err := tlog.TreeHash(int64(from), hashesOf(leaves))
		if err != nil {
			t.Fatal(err)
		}
		if err := tlog.CheckTree(tp, int64(cp.Size), cp.Hash, int64(from), old); err != nil {
			t.Fatalf("x/mod rejects the consistency proof %d..%d: %v", from, cp.Size, err)
		}
	}
	for q, want := range map[string]string{
		"inclusion?index=0":                                          "size",
		"inclusion?index=x&size=1":                                   "index",
		"inclusion?index=01&size=2":                                  "leading zeros",
		fmt.Sprintf("inclusion?index=%d&size=%d", cp.Size, cp.Size):  "is not in a tree",
		fmt.Sprintf("inclusion?index=0&size=%d", cp.Size+1000):       "larger than the published checkpoint",
		fmt.Sprintf("consistency?from=%d&to=%d", cp.Size, cp.Size-1): "larger than to",
		fmt.Sprintf("consistency?from=1&to=%d", cp.Size+1000):        "larger than the published",
		"consistency?from=-1&to=2":                                   "whole number",
	} {
		res, body := get(t, http.DefaultClient, a.srv.URL+"/log/proof/"+q)
		if res.StatusCode != 400 || res.Header.Get("Content-Type") != "application/problem+json" || !strings.Contains(body, want) {
			t.Errorf("%s: %d %s %s", q, res.StatusCode, res.Header.Get("Content-Type"), body)
		}
	}
}

func hashesOf(leaves [][]byte) tlog.HashReaderFunc {
	var all []tlog.Hash
	read := tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(idx))
		for i, x := range idx {
			out[i] = all[x]
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
