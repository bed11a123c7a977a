// Command trustward is the digital-trust platform of a care organisation:
// it parses the subcommand and hands over to internal/app.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/trustward/trustward/internal/app"
	"github.com/trustward/trustward/internal/config"
	"github.com/trustward/trustward/internal/fault"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "trustward:", errorLine(err))
		}
		os.Exit(exitCode(err))
	}
}

// errorLine is the one line a person sees when a command fails.
func errorLine(err error) string {
	var ce *config.Error
	if errors.As(err, &ce) {
		return ce.Error()
	}
	var vf errVerifyFailed
	if errors.As(err, &vf) {
		return "FAILED: " + vf.Error()
	}
	if fault.KindOf(err) != fault.Internal {
		return fault.Message(err)
	}
	return err.Error()
}

func exitCode(err error) int {
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	var vf errVerifyFailed
	var ef errFindings
	if errors.As(err, &vf) || errors.As(err, &ef) {
		return 1
	}
	var ce *config.Error
	if errors.As(err, &ce) || fault.Is(err, fault.Invalid) {
		return 2
	}
	return 1
}

const usage = `Trustward: every access to patient data recorded, inappropriate access caught.

Usage: trustward <command> [flags]

Commands:
  serve      run the web UI and API (add --demo to load the demo hospital into an empty store)
  demo       load the synthetic demo hospital into an empty data folder
  migrate    apply database migrations
  keys       manage the key-encryption key: 'keys rotate'
  sbom       check an SBOM against OSV advisories offline: 'sbom scan FILE --osv DIR'
  verify     check a proof bundle or a whole transparency log: 'verify bundle|log'
  ingest     load access events: FHIR AuditEvent JSON, Bundle or NDJSON, or CSV with --mapping
  sim        simulate a hospital's accesses with ground truth: 'sim accesses --out DIR'
  monitor    explain accesses, export cases, evaluate: 'monitor explanations|export|eval'
  user       give a person a way back in: 'user recover USERNAME --reason TEXT'
  version    print the version

Run 'trustward <command> -h' for the flags of a command. Every flag can also be
set as a TRUSTWARD_* environment variable or in a JSON file given by --config.
`

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return &config.Error{Setting: "command", Msg: "missing; see the list above"}
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "version", "--version":
		fmt.Fprintln(stdout, "trustward", app.Version)
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	case "verify":
		return runVerify(ctx, rest, stdout, stderr)
	case "sbom":
		return runSBOM(ctx, rest, stdout, stderr)
	case "ingest":
		return runIngest(ctx, rest, getenv, stdout, stderr)
	case "sim":
		return runSim(ctx, rest, stdout, stderr)
	case "monitor":
		return runMonitor(ctx, rest, stdout, stderr)
	case "user":
		return runUser(ctx, rest, getenv, stdout, stderr)
	case "serve", "demo", "migrate", "keys":
	default:
		fmt.Fprint(stderr, usage)
		return &config.Error{Setting: "command", Msg: fmt.Sprintf("%q is not a command", cmd)}
	}
	var action string
	if cmd == "keys" {
		if len(rest) == 0 || rest[0] != "rotate" {
			return &config.Error{Setting: "keys", Msg: "usage: trustward keys rotate [flags]"}
		}
		action, rest = rest[0], rest[1:]
	}
	cfg, pos, err := config.Load("trustward "+cmd, rest, getenv, stderr)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return &config.Error{Setting: cmd, Msg: fmt.Sprintf("unexpected argument %q (flags start with --)", pos[0])}
	}
	log := newLogger(stderr, cfg.LogLevel)
	log.Info("starting", "command", cmd, "version", app.Version, "config", cfg.String())
	switch cmd {
	case "serve":
		return serve(ctx, cfg, log, stdout, stderr)
	case "demo":
		a, err := app.Open(ctx, cfg, log)
		if err != nil {
			return err
		}
		defer a.Close()
		res, err := a.LoadDemo(ctx, stderr)
		if err != nil {
			return err
		}
		app.PrintDemo(stdout, res, "")
		return nil
	case "migrate":
		a, err := app.Open(ctx, cfg, log)
		if err != nil {
			return err
		}
		a.Close()
		fmt.Fprintln(stdout, "migrations applied")
		return nil
	case "keys":
		return keys(ctx, cfg, log, action, stdout)
	}
	return nil
}

func serve(ctx context.Context, cfg config.Config, log *slog.Logger, stdout, stderr io.Writer) error {
	// The live heap of a server is small (tens of MB) and every request
	// allocates; collecting at 5x the live heap instead of 2x cuts GC work
	// by a quarter of the CPU at load. GOGC in the environment overrides.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	a, err := app.Open(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer a.Close()
	var demo *app.DemoResult
	if cfg.Demo {
		n, err := a.Records.Count(ctx, "")
		if err != nil {
			return err
		}
		if n == 0 {
			res, err := a.LoadDemo(ctx, stderr)
			if err != nil {
				return err
			}
			demo = &res
		} else {
			log.Info("the store already holds data; --demo loads nothing", "resources", n)
		}
	}
	return a.Serve(ctx, func(addr string) {
		scheme := "http"
		if cfg.TLSCert != "" {
			scheme = "https"
		}
		url := scheme + "://" + addr + "/"
		if demo != nil {
			app.PrintDemo(stdout, *demo, url)
		} else {
			fmt.Fprintf(stdout, "Trustward is serving at %s\n", url)
		}
	})
}

func keys(ctx context.Context, cfg config.Config, log *slog.Logger, action string, stdout io.Writer) error {
	_ = action // "rotate" is the only action so far
	a, err := app.Open(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer a.Close()
	id, moved, retired, err := a.RotateKEK(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "new key-encryption key %s is active; %d data keys re-wrapped (data untouched); %d old keys retired\n", id, moved, retired)
	return nil
}

func newLogger(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level))
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l}))
}
