package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func nothing(string) string { return "" }

// TestSimAndMonitorCommands runs the commands as a privacy office would:
// simulate a small hospital, explain its events, export its cases.
func TestSimAndMonitorCommands(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	var out bytes.Buffer
	if err := run(ctx, []string{"sim", "accesses", "--out", dir, "--seed", "5", "--patients", "600", "--staff", "100", "--days", "14"}, nothing, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "violations in") {
		t.Errorf("summary: %s", out.String())
	}
	truth := readLines(t, filepath.Join(dir, "truth.ndjson"))
	events := readLines(t, filepath.Join(dir, "events.ndjson"))
	if len(truth) != len(events) || len(events) < 1000 {
		t.Fatalf("%d events, %d truth lines", len(events), len(truth))
	}

	// A broken line in the feed is reported by number and skipped.
	feed := filepath.Join(dir, "feed.ndjson")
	broken := append([]string{events[0], "{not json"}, events[1:]...)
	if err := os.WriteFile(feed, []byte(strings.Join(broken, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	expl := filepath.Join(dir, "explanations.ndjson")
	var stderr bytes.Buffer
	if err := run(ctx, []string{"monitor", "explanations", "--context", dir, "--events", feed, "--out", expl}, nothing, io.Discard, &stderr); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stderr.String(), "events line 2:") || !strings.Contains(stderr.String(), "1 bad lines skipped") {
		t.Errorf("stderr: %s", stderr.String())
	}
	lines := readLines(t, expl)
	if len(lines) != len(events) {
		t.Fatalf("%d explanations for %d events", len(lines), len(events))
	}
	kinds := map[string]int{}
	for _, l := range lines {
		var e struct{ Event, Explanation string }
		if err := json.Unmarshal([]byte(l), &e); err != nil || e.Event == "" || e.Explanation == "" {
			t.Fatalf("line %q: %v", l, err)
		}
		kinds[e.Explanation]++
	}
	if kinds["encounter-participant"] == 0 || kinds["unexplained"] == 0 || kinds["no-patient"] == 0 {
		t.Errorf("explanation kinds %v", kinds)
	}

	cases := filepath.Join(dir, "cases.ndjson")
	reviews := filepath.Join(dir, "reviews.ndjson")
	if err := run(ctx, []string{"monitor", "export", "--context", dir, "--events", feed, "--out", cases, "--reviews", reviews}, nothing, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	// Every exported case names a user, patients, events of the input,
	// a score and reasons; most hold a simulated violation.
	label := map[string]string{}
	for _, l := range truth {
		var tr struct{ Event, Label string }
		if err := json.Unmarshal([]byte(l), &tr); err != nil {
			t.Fatal(err)
		}
		label[tr.Event] = tr.Label
	}
	cl := readLines(t, cases)
	if len(cl) == 0 {
		t.Fatal("no cases")
	}
	hits := 0
	for _, l := range cl {
		var c struct {
			Case, User string
			Patients   []string
			Events     []string
			Score      float64
			Reasons    []string
		}
		if err := json.Unmarshal([]byte(l), &c); err != nil {
			t.Fatal(err)
		}
		if c.Case == "" || c.User == "" || len(c.Events) == 0 || c.Score <= 0 || len(c.Reasons) == 0 {
			t.Fatalf("case %s", l)
		}
		for _, id := range c.Events {
			if _, ok := label[id]; !ok {
				t.Fatalf("case %s names event %s not in the input", c.Case, id)
			}
		}
		for _, id := range c.Events {
			if label[id] == "violation" {
				hits++
				break
			}
		}
	}
	if hits*2 < len(cl) {
		t.Errorf("only %d of %d cases hold a violation", hits, len(cl))
	}
	if len(readLines(t, reviews)) == 0 {
		t.Error("no break-the-glass reviews")
	}
}

func TestMonitorCommandErrors(t *testing.T) {
	ctx := context.Background()
	for _, args := range [][]string{
		{"sim"},
		{"sim", "accesses"},
		{"sim", "accesses", "--out", t.TempDir(), "--days", "1"},
		{"monitor"},
		{"monitor", "frobnicate"},
		{"monitor", "explanations", "--events", "x"},
		{"monitor", "export", "--context", t.TempDir(), "--events", "x"},
		{"monitor", "export", "--context", "x", "--events", "y", "--from", "yesterday"},
		{"monitor", "eval", "--seeds", "1,x"},
	} {
		err := run(ctx, args, nothing, io.Discard, io.Discard)
		if err == nil || exitCode(err) != 2 {
			t.Errorf("%v: error %v, exit %d, want usage error", args, err, exitCode(err))
		}
	}
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<22)
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" {
			out = append(out, l)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
