package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trustward/trustward/internal/db/dbtest"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestConfigErrorsNameTheSetting(t *testing.T) {
	cases := []struct {
		args []string
		env  map[string]string
		want string
	}{
		{[]string{"serve", "--addr", "nonsense"}, nil, "config: --addr:"},
		{[]string{"serve", "--db", "mysql://x"}, nil, "config: --db: must be sqlite or a postgres:// URL"},
		{[]string{"serve", "--break-glass-ttl", "forever"}, nil, "config: --break-glass-ttl:"},
		{[]string{"serve"}, map[string]string{"TRUSTWARD_SESSION_IDLE": "1s"}, "config: --session-idle:"},
		{[]string{"serve"}, map[string]string{"TRUSTWARD_DEMO": "maybe"}, "config: TRUSTWARD_DEMO:"},
		{[]string{"frobnicate"}, nil, `config: command: "frobnicate" is not a command`},
		{[]string{}, nil, "config: command: missing"},
	}
	for _, c := range cases {
		var out, errb bytes.Buffer
		err := run(context.Background(), c.args, env(c.env), &out, &errb)
		if err == nil || !strings.Contains(errorLine(err), c.want) || exitCode(err) != 2 {
			t.Errorf("%v %v: error %v (exit %d), want %q", c.args, c.env, err, exitCode(err), c.want)
		}
	}
	cfg := filepath.Join(t.TempDir(), "c.json")
	os.WriteFile(cfg, []byte(`{"addr":"127.0.0.1:1","colour":"blue"}`), 0o600)
	err := run(context.Background(), []string{"migrate", "--config", cfg}, env(nil), io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), `unknown setting "colour"`) {
		t.Errorf("unknown config file key: %v", err)
	}
}

func TestVersion(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), []string{"version"}, env(nil), &out, io.Discard); err != nil || !strings.HasPrefix(out.String(), "trustward ") {
		t.Fatalf("version: %q %v", out.String(), err)
	}
}

func TestDemoThenMissingKeyFileRefusesToStart(t *testing.T) {
	dir := t.TempDir()
	args := []string{"demo", "--data", dir, "--demo-patients", "60", "--demo-staff", "30", "--log-level", "error"}
	var out, errb bytes.Buffer
	if err := run(context.Background(), args, env(nil), &out, &errb); err != nil {
		t.Fatalf("demo: %v\n%s", err, errb.String())
	}
	for _, want := range []string{"60 patients", "clinician", "trustward-demo-2026"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("demo output lacks %q:\n%s", want, out.String())
		}
	}
	// A second demo into the same folder is refused, and changes nothing.
	if err := run(context.Background(), args, env(nil), io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), "only into an empty data folder") {
		t.Fatalf("second demo: %v", err)
	}
	// Losing the key file must stop start-up, never create a new key.
	if err := os.Rename(filepath.Join(dir, "kek.json"), filepath.Join(dir, "kek.bak")); err != nil {
		t.Fatal(err)
	}
	err := run(context.Background(), []string{"migrate", "--data", dir, "--log-level", "error"}, env(nil), io.Discard, io.Discard)
	if err == nil || !strings.Contains(errorLine(err), "restore the key file") {
		t.Fatalf("start without the key file: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "kek.json")); err == nil {
		t.Fatal("a new key file was created over sealed data")
	}
	// Rotation with the key file back.
	os.Rename(filepath.Join(dir, "kek.bak"), filepath.Join(dir, "kek.json"))
	out.Reset()
	if err := run(context.Background(), []string{"keys", "rotate", "--data", dir, "--log-level", "error"}, env(nil), &out, io.Discard); err != nil || !strings.Contains(out.String(), "data keys re-wrapped") {
		t.Fatalf("keys rotate: %q %v", out.String(), err)
	}
	// ... and the data still opens after rotation: serve starts and answers.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addr := "127.0.0.1:" + freePort(t)
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--data", dir, "--addr", addr, "--log-level", "error"}, env(nil), io.Discard, io.Discard)
	}()
	var res *http.Response
	for i := 0; i < 100; i++ {
		if res, err = http.Get("http://" + addr + "/healthz"); err == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("healthz after rotation: %v", err)
	}
	res.Body.Close()
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("serve did not shut down cleanly: %v", err)
	}
}
