package config

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSigninLimitSettings(t *testing.T) {
	d := Default()
	if d.SigninPerMinute != 30 || d.SigninBurst != 30 {
		t.Fatalf("defaults: %d a minute, burst %d", d.SigninPerMinute, d.SigninBurst)
	}
	file := filepath.Join(t.TempDir(), "c.json")
	if err := os.WriteFile(file, []byte(`{"signin_per_minute":12,"signin_burst":"5"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	c, _, err := Load("t", nil, func(k string) string { return map[string]string{"TRUSTWARD_CONFIG": file}[k] }, io.Discard)
	if err != nil || c.SigninPerMinute != 12 || c.SigninBurst != 5 {
		t.Fatalf("from the file: %d %d %v", c.SigninPerMinute, c.SigninBurst, err)
	}
	env := map[string]string{"TRUSTWARD_SIGNIN_PER_MINUTE": "0"}
	c, _, err = Load("t", []string{"--signin-burst", "7"}, func(k string) string { return env[k] }, io.Discard)
	if err != nil || c.SigninPerMinute != 0 || c.SigninBurst != 7 {
		t.Fatalf("environment and flag (0 turns the limit off): %d %d %v", c.SigninPerMinute, c.SigninBurst, err)
	}
	for _, bad := range []struct {
		args []string
		want string
	}{
		{[]string{"--signin-per-minute", "-1"}, "--signin-per-minute"},
		{[]string{"--signin-per-minute", "60001"}, "--signin-per-minute"},
		{[]string{"--signin-per-minute", "ten"}, "--signin-per-minute"},
		{[]string{"--signin-burst", "0"}, "--signin-burst"},
		{[]string{"--signin-burst", "10001"}, "--signin-burst"},
	} {
		_, _, err := Load("t", bad.args, func(string) string { return "" }, io.Discard)
		if err == nil || !strings.HasPrefix(err.Error(), "config: "+bad.want+":") {
			t.Errorf("%v: %v", bad.args, err)
		}
	}
}
