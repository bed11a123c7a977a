package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/trustward/trustward/internal/app"
	"github.com/trustward/trustward/internal/config"
)

const userUsage = `Usage:
  trustward user recover USERNAME --reason TEXT
      give USERNAME a one-time enrolment code, valid 24 hours, to set a new
      password or passkey; using it removes the account's authenticator
      app, recovery codes and passkeys. For a hospital with one
      administrator, or an administrator who cannot sign in (another
      administrator can do it at /office/users). Check who the person is
      first; --reason says how ("verified in person, badge checked"). The
      code is printed once; the issue is audited with the actor "cli".

The store flags (--data, --db, --config ...) are those of serve. Exit
status: 0 issued, 1 refused or failed, 2 usage.
`

func runUser(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "recover" {
		fmt.Fprint(stderr, userUsage)
		return &config.Error{Setting: "user", Msg: "usage: trustward user recover USERNAME --reason TEXT"}
	}
	var reason string
	var rest, names []string
	start := 1
	if len(args) > 1 && !strings.HasPrefix(args[1], "-") {
		// USERNAME first, as the usage shows; the flag package stops at
		// the first argument that is not a flag.
		names, start = args[1:2], 2
	}
	for i := start; i < len(args); i++ {
		name, val, hasVal := strings.Cut(strings.TrimLeft(args[i], "-"), "=")
		if !strings.HasPrefix(args[i], "-") || name != "reason" {
			rest = append(rest, args[i])
			continue
		}
		if !hasVal {
			if i+1 >= len(args) {
				return &config.Error{Setting: "--reason", Msg: "needs a value"}
			}
			i++
			val = args[i]
		}
		reason = val
	}
	cfg, pos, err := config.Load("trustward user recover", rest, getenv, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stderr, userUsage)
		}
		return err
	}
	pos = append(names, pos...)
	if len(pos) != 1 {
		fmt.Fprint(stderr, userUsage)
		return &config.Error{Setting: "user recover", Msg: "give exactly one USERNAME"}
	}
	if strings.TrimSpace(reason) == "" {
		return &config.Error{Setting: "--reason", Msg: "say how you checked who the person is, such as --reason \"verified in person, badge checked\""}
	}
	a, err := app.Open(ctx, cfg, newLogger(stderr, cfg.LogLevel))
	if err != nil {
		return err
	}
	defer a.Close()
	en, link, err := a.RecoverUser(ctx, pos[0], reason)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Enrolment code for %s (%s), valid until %s, shown only now:\n\n  %s\n\n  %s\n\n"+
		"Hand it over in person. It works once, replaces any earlier code, and removes the account's\n"+
		"authenticator app, recovery codes and passkeys when used. The issue is in the audit log.\n",
		en.User.DisplayName, en.User.Username, en.Expires.UTC().Format("2006-01-02 15:04 UTC"), en.Code, link)
	return nil
}
