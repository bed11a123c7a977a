package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"regexp"
	"strings"
	"testing"

	"github.com/trustward/trustward/internal/app"
	"github.com/trustward/trustward/internal/audit"
	"github.com/trustward/trustward/internal/config"
	"github.com/trustward/trustward/internal/identity"
)

// The command line recovers an administrator's sign-in (the only one, who
// cannot do it in the browser): it prints a code and its link once, and the
// issue is audited with the actor "cli" and the reason; the code then sets
// a new password.
func TestUserRecoverCommand(t *testing.T) {
	dir := t.TempDir()
	base := []string{"--data", dir, "--log-level", "error", "--public-url", "https://trust.example.org"}
	cfg, _, err := config.Load("test", base, env(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	a, err := app.Open(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Identity.CreateUser(ctx, identity.User{ID: "u-adm", Username: "ada", DisplayName: "Ada Admin", Role: identity.RoleAdmin}, "quartz meadow lantern violet"); err != nil {
		t.Fatal(err)
	}
	a.Close()

	// Usage errors change nothing.
	for _, args := range [][]string{{"user"}, {"user", "delete", "ada"}, {"user", "recover", "ada"}, {"user", "recover", "--reason", "badge checked"}} {
		if err := run(ctx, append(args, base...), env(nil), io.Discard, io.Discard); exitCode(err) != 2 {
			t.Errorf("%q: exit %d (%v), want 2", args, exitCode(err), err)
		}
	}
	if err := run(ctx, append([]string{"user", "recover", "nobody", "--reason", "badge checked in person"}, base...), env(nil), io.Discard, io.Discard); exitCode(err) != 1 || !strings.Contains(errorLine(err), "no account has the username") {
		t.Errorf("unknown user: %v", err)
	}
	if err := run(ctx, append([]string{"user", "recover", "ada", "--reason", "ok"}, base...), env(nil), io.Discard, io.Discard); exitCode(err) != 2 || !strings.Contains(errorLine(err), "reason") {
		t.Errorf("a too short reason: %v", err)
	}

	var out bytes.Buffer
	if err := run(ctx, append([]string{"user", "recover", "ada", "--reason=only administrator, identity checked by the director"}, base...), env(nil), &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	link := regexp.MustCompile(`https://trust\.example\.org/recover/([0-9a-z]{5}-[0-9a-z]{5}-[0-9a-z]{5}-[0-9a-z]{5})`).FindStringSubmatch(out.String())
	if link == nil || !strings.Contains(out.String(), "Enrolment code for Ada Admin (ada)") || !strings.Contains(out.String(), "  "+link[1]+"\n") {
		t.Fatalf("output:\n%s", out.String())
	}

	a, err = app.Open(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	evs, err := a.Audit.Events(ctx, audit.Query{ActorID: "cli", Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	var issued []string
	for _, e := range evs {
		if e.Event.Subtype == identity.SubtypeRecoveryIssued {
			issued = append(issued, e.Event.Outcome+" "+e.Event.OutcomeDesc)
		}
	}
	if len(issued) != 2 || !strings.Contains(issued[1], "refused: reason") || !strings.HasPrefix(issued[0], "0 enrolment code for ada (u-adm, Administrator) issued") || !strings.HasSuffix(issued[0], "reason: only administrator, identity checked by the director") {
		t.Errorf("audit events of the command line: %q", issued)
	}
	st, err := a.Recovery.Open(ctx, link[1], identity.Client{})
	if err != nil || st.User.ID != "u-adm" || st.Kind != identity.RecoveryByAdmin {
		t.Fatalf("the printed code: %+v %v", st, err)
	}
	if _, err := a.Recovery.CompleteWithPassword(ctx, link[1], "violet anchor meadow thunder", identity.Client{}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Identity.Authenticate(ctx, "ada", "violet anchor meadow thunder", identity.Client{}); err != nil {
		t.Errorf("the new password: %v", err)
	}
}
