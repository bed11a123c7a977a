package config

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestPrecedenceDefaultsFileEnvFlags(t *testing.T) {
	file := filepath.Join(t.TempDir(), "c.json")
	os.WriteFile(file, []byte(`{"addr":"127.0.0.1:9001","break_glass_ttl":"2h","demo":true,"demo_patients":100,"org":"From File"}`), 0o600)
	env := map[string]string{"TRUSTWARD_CONFIG": file, "TRUSTWARD_ADDR": "127.0.0.1:9002", "TRUSTWARD_ORG": "From Env"}
	c, _, err := Load("t", []string{"--addr", "127.0.0.1:9003"}, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != "127.0.0.1:9003" || c.Org != "From Env" || c.BreakGlassTTL != 2*time.Hour || !c.Demo || c.DemoPatients != 100 || c.DataDir != "./trustward-data" {
		t.Fatalf("config: %+v", c)
	}
	if c.KeyPath() != filepath.Join("./trustward-data", "kek.json") && c.KeyPath() != "./trustward-data/kek.json" {
		t.Fatalf("key path %s", c.KeyPath())
	}
}

func TestStringRedactsDatabasePassword(t *testing.T) {
	c := Default()
	c.DB = "postgres://trustward:s3cret@db.internal:5432/tw"
	if s := c.String(); strings.Contains(s, "s3cret") || !strings.Contains(s, "REDACTED") {
		t.Fatalf("String() = %s", s)
	}
}

func TestValidation(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--addr", "localhost"}, "--addr"},
		{[]string{"--addr", "127.0.0.1:99999"}, "--addr"},
		{[]string{"--data", " "}, "--data"},
		{[]string{"--tls-cert", "c.pem"}, "--tls-cert"},
		{[]string{"--log-level", "loud"}, "--log-level"},
		{[]string{"--max-body-bytes", "10"}, "--max-body-bytes"},
		{[]string{"--demo-staff", "3"}, "--demo-staff"},
		{[]string{"--session-idle", "24h", "--session-ttl", "1h"}, "--session-idle"},
		{[]string{"--portal-session-idle", "2h", "--portal-session-ttl", "1h"}, "--portal-session-idle"},
		{[]string{"--portal-session-ttl", "30s"}, "--portal-session-ttl"},
		{[]string{"--atna-listen", "6514"}, "--atna-listen"},
		{[]string{"--atna-tls-cert", "c.pem", "--atna-tls-key", "k.pem"}, "--atna-listen"},
		{[]string{"--atna-listen", ":6514", "--atna-tls-cert", "c.pem"}, "--atna-tls-cert"},
		{[]string{"--atna-listen", ":6514", "--atna-client-ca", "ca.pem"}, "--atna-client-ca"},
	} {
		_, _, err := Load("t", c.args, func(string) string { return "" }, io.Discard)
		if err == nil || !strings.HasPrefix(err.Error(), "config: "+c.want+":") {
			t.Errorf("%v: %v", c.args, err)
		}
	}
	if _, _, err := Load("t", []string{"--config", "/nonexistent.json"}, func(string) string { return "" }, io.Discard); err == nil || !strings.Contains(err.Error(), "--config") {
		t.Errorf("missing config file: %v", err)
	}
}

// Portal sessions default to 24 h, 1 h idle, and are set like console
// sessions: from the file, the environment or a flag.
func TestPortalSessionSettings(t *testing.T) {
	none := func(string) string { return "" }
	c, _, err := Load("t", nil, none, io.Discard)
	if err != nil || c.PortalSessionTTL != 24*time.Hour || c.PortalSessionIdle != time.Hour {
		t.Fatalf("defaults: %v %v %v", c.PortalSessionTTL, c.PortalSessionIdle, err)
	}
	file := filepath.Join(t.TempDir(), "c.json")
	if err := os.WriteFile(file, []byte(`{"portal_session_ttl":"48h","portal-session-idle":"2h"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"TRUSTWARD_CONFIG": file, "TRUSTWARD_PORTAL_SESSION_IDLE": "30m"}
	c, _, err = Load("t", nil, func(k string) string { return env[k] }, io.Discard)
	if err != nil || c.PortalSessionTTL != 48*time.Hour || c.PortalSessionIdle != 30*time.Minute {
		t.Fatalf("file and environment: %v %v %v", c.PortalSessionTTL, c.PortalSessionIdle, err)
	}
	c, _, err = Load("t", []string{"--portal-session-ttl", "8h", "--portal-session-idle", "20m"}, func(k string) string { return env[k] }, io.Discard)
	if err != nil || c.PortalSessionTTL != 8*time.Hour || c.PortalSessionIdle != 20*time.Minute {
		t.Fatalf("flags: %v %v %v", c.PortalSessionTTL, c.PortalSessionIdle, err)
	}
	if s := c.String(); !strings.Contains(s, "portal_session_ttl=8h0m0s") {
		t.Errorf("String() = %s", s)
	}
}

// The file may be named by the --config flag as well as by the
// environment (the flag was refused as an unknown setting).
func TestConfigFileByFlag(t *testing.T) {
	file := filepath.Join(t.TempDir(), "c.json")
	os.WriteFile(file, []byte(`{"org":"From File","demo_patients":120}`), 0o600)
	c, rest, err := Load("t", []string{"--config", file, "extra"}, func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.Org != "From File" || c.DemoPatients != 120 || len(rest) != 1 || rest[0] != "extra" {
		t.Fatalf("config %+v, args %v", c, rest)
	}
	if _, _, err := Load("t", []string{"--config", filepath.Join(t.TempDir(), "missing.json")}, func(string) string { return "" }, io.Discard); err == nil || !strings.Contains(err.Error(), "--config") {
		t.Fatalf("missing file: %v", err)
	}
}
