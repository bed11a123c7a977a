package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/trustward/trustward/internal/access"
	"github.com/trustward/trustward/internal/audit"
	"github.com/trustward/trustward/internal/audit/ingest"
	"github.com/trustward/trustward/internal/config"
	"github.com/trustward/trustward/internal/db"
	"github.com/trustward/trustward/internal/devices"
	"github.com/trustward/trustward/internal/fault"
	"github.com/trustward/trustward/internal/identity"
	"github.com/trustward/trustward/internal/ledger"
	"github.com/trustward/trustward/internal/monitor"
	"github.com/trustward/trustward/internal/monitor/cases"
	"github.com/trustward/trustward/internal/notify"
	"github.com/trustward/trustward/internal/proof"
	"github.com/trustward/trustward/internal/records"
	"github.com/trustward/trustward/internal/seal"
	"github.com/trustward/trustward/internal/web"
)

// Version is set at build time with -ldflags "-X .../app.Version=...".
var Version = "dev"

// App is a running Trustward.
type App struct {
	Cfg      config.Config
	Log      *slog.Logger
	Clock    func() time.Time
	DB       *db.DB
	KEK      *seal.FileKEK
	Sealer   *seal.Sealer
	Records  *records.Store
	Recorder *audit.Recorder
	Audit    *audit.Store
	Identity *identity.Service
	// MFA holds second factors: TOTP, recovery codes and passkeys.
	MFA      *identity.MFA
	Access   *access.Service
	Devices  *devices.Store
	Findings *devices.Findings
	// Assessor turns devices' SBOMs and VEX into findings.
	Assessor *devices.Assessor
	Reports  *monitor.Reports
	// Notices tells patients what happened to their record.
	Notices *notify.Service
	Ledger  *ledger.POSIXLog
	// Integrator sequences committed access events into the ledger.
	Integrator *audit.Integrator
	// Ingest takes access events from outside feeds (API, CLI, ATNA).
	Ingest *ingest.Ingester
	// Cases is privacy monitoring: it scores every access event and keeps
	// the privacy office's cases. Serve starts its loop.
	Cases *cases.Service
	Web   *web.Server

	// Recovery is account recovery; LinkMail sends its links by email.
	Recovery *identity.Recovery
	LinkMail *notify.LinkMailer
	// PublicURL is where people reach the server (public_url, or the
	// listen address).
	PublicURL string
}

// Open builds every part from cfg: it opens and migrates the store, loads
// (or, on a new store, creates) the key file and checks that it opens the
// store's keys.
func Open(ctx context.Context, cfg config.Config, log *slog.Logger) (*App, error) {
	return OpenWithClock(ctx, cfg, log, nil)
}

// OpenWithClock is Open with the time every part reads (nil: the system
// clock), so that tests can move it: sessions, fresh sign-ins, TOTP steps.
func OpenWithClock(ctx context.Context, cfg config.Config, log *slog.Logger, clock func() time.Time) (*App, error) {
	if clock == nil {
		clock = func() time.Time { return time.Now().UTC() }
	}
	a := &App{Cfg: cfg, Log: log, Clock: clock}
	d, err := db.Open(ctx, cfg.DB, cfg.DataDir)
	if err != nil {
		return nil, err
	}
	a.DB = d
	if _, err := d.Migrate(ctx); err != nil {
		d.Close()
		return nil, fmt.Errorf("migrate: %w", err)
	}
	if err := a.openKeys(ctx); err != nil {
		d.Close()
		return nil, err
	}
	if a.Records, err = records.NewStore(ctx, d, a.Sealer, a.Clock); err != nil {
		d.Close()
		return nil, err
	}
	a.Recorder = audit.NewRecorder(d, a.Sealer, a.Clock, log)
	lopts := ledger.Options{Dir: filepath.Join(cfg.DataDir, "ledger"), Origin: ledger.OriginFor(cfg.Org),
		CheckpointInterval: cfg.LedgerCheckpointInterval, Logger: log}
	if cfg.LedgerWitnessPolicy != "" {
		if lopts.WitnessPolicy, err = os.ReadFile(cfg.LedgerWitnessPolicy); err != nil {
			a.Close()
			return nil, fmt.Errorf("read the ledger's witness policy (--ledger-witness-policy): %w", err)
		}
	}
	if a.Ledger, err = ledger.Open(ctx, lopts); err != nil {
		a.Close()
		return nil, fmt.Errorf("open the ledger: %w", err)
	}
	actors, err := a.Sealer.Pseudonymizer(ctx, audit.ActorPseudonymPurpose)
	if err != nil {
		a.Close()
		return nil, err
	}
	a.Integrator = audit.NewIntegrator(d, a.Ledger, a.Sealer, actors, a.Clock, log, audit.IntegratorOptions{Recorder: a.Recorder})
	a.Audit = audit.NewStore(d, a.Sealer)
	// One core is kept from argon2id: with every core hashing, a burst of
	// sign-ins raised other requests' p99 from 1 ms to 60 ms on 2 cores;
	// with one left free, to 8 ms (bench/REPORT.md, Identity).
	hasher := identity.NewHasher(identity.DefaultArgon2, max(1, runtime.GOMAXPROCS(0)-1))
	if a.Identity, err = identity.NewService(ctx, d, hasher, a.Recorder, a.Clock, log, cfg.Org); err != nil {
		a.Close()
		return nil, err
	}
	pkcfg, err := passkeyConfig(cfg)
	if err != nil {
		a.Close()
		return nil, err
	}
	passkeys, err := identity.NewPasskeys(a.Identity, a.Sealer, pkcfg)
	if err != nil {
		a.Close()
		return nil, err
	}
	a.MFA = identity.NewMFA(a.Identity, identity.NewFactors(d, a.Sealer, a.Clock, identity.FactorOptions{Issuer: cfg.Org, RecoveryCodeUsed: a.recoveryCodeUsed}), passkeys)
	rules, err := access.DefaultRules()
	if err != nil {
		a.Close()
		return nil, err
	}
	a.Access = access.NewService(d, a.Records, a.Recorder, a.Sealer, rules, cfg.BreakGlassTTL, a.Clock, log)
	a.Devices = devices.NewStore(d, a.Clock)
	a.Findings = devices.NewFindings(d, a.Clock)
	a.Assessor = devices.NewAssessor(d, a.Devices, a.Findings, a.Clock, filepath.Join(cfg.DataDir, "advisories"))
	if adv, err := devices.LoadAdvisories(ctx, a.Assessor.AdvisoryDir(), a.Clock()); err == nil {
		if _, err := a.Assessor.SetAdvisories(ctx, adv, "advisories loaded at start-up"); err != nil {
			a.Close()
			return nil, err
		}
		log.Info("advisories loaded", "dir", adv.Dir, "advisories", adv.Stats().Advisories, "kev", adv.Stats().KEV, "epss", adv.Stats().EPSS)
	} else if !fault.Is(err, fault.Unavailable) {
		log.Warn("advisories not loaded", "err", err)
	}
	a.Reports = monitor.NewReports(d, a.Sealer, a.Clock)
	a.Ingest = ingest.New(a.Recorder, ingest.NewCounters(a.Clock), a.Clock, log)
	var mailer notify.Mailer
	if cfg.SMTPAddr != "" {
		mailer = &notify.SMTP{Addr: cfg.SMTPAddr, From: cfg.SMTPFrom, Username: cfg.SMTPUser, Password: cfg.SMTPPassword}
	}
	public := cfg.PublicURL
	if public == "" {
		public = "http://" + cfg.Addr
	}
	a.Notices = notify.New(d, a.Sealer, mailer, a.Clock, log, notify.Options{Org: cfg.Org, PortalURL: strings.TrimSuffix(public, "/") + "/portal"})
	a.Recovery, a.LinkMail, a.PublicURL = identity.NewRecovery(a.Identity, a.MFA, identity.RecoveryOptions{}), notify.NewLinkMailer(mailer, log), public
	var warn func(ctx context.Context, user string) error
	if cfg.MonitorWarn {
		warn = a.warnUser
	}
	a.Cases = cases.New(d, a.Sealer, a.Clock, log, cases.Options{Warn: warn})
	a.Web, err = web.New(web.Deps{Identity: a.Identity, MFA: a.MFA, Access: a.Access, Records: a.Records, Audit: a.Audit, Devices: a.Devices, Findings: a.Findings, Assessor: a.Assessor, Reports: a.Reports, Ingest: a.Ingest, Log: log,
		LogFiles: os.DirFS(a.Ledger.Dir()), LogKey: a.Ledger.VerifierKey(), LogLag: a.Integrator.Lag, LogWitnesses: a.Ledger.Witnesses, Clock: a.Clock,
		ProofBundle: a.proofBundle, LogProofs: a.Ledger, Notices: a.Notices, Cases: a.Cases, Recovery: a.Recovery, LinkMail: a.LinkMail,
		Health: func(ctx context.Context) error { _, err := a.Audit.Count(ctx); return err }},
		web.Options{Org: cfg.Org, TLS: cfg.TLSCert != "", SessionTTL: cfg.SessionTTL, SessionIdle: cfg.SessionIdle,
			PortalSessionTTL: cfg.PortalSessionTTL, PortalSessionIdle: cfg.PortalSessionIdle, MaxBodyBytes: cfg.MaxBodyBytes, Version: Version,
			SigninPerMinute: cfg.SigninPerMinute, SigninBurst: cfg.SigninBurst, PublicURL: public})
	if err != nil {
		a.Close()
		return nil, err
	}
	return a, nil
}

func (a *App) openKeys(ctx context.Context) error {
	path := a.Cfg.KeyPath()
	kek, err := seal.LoadFileKEK(path)
	if errors.Is(err, seal.ErrNoKeyFile) {
		// A new key only for a store that has no sealed data yet: never
		// silently replace a lost key.
		probe := seal.NewSealer(a.DB, nil, a.Clock)
		n, cerr := probe.StoredKeyCount(ctx)
		if cerr != nil {
			return cerr
		}
		if n > 0 {
			return fault.New(fault.Unavailable, "the key file %s is missing, but the store holds %d sealed data keys: restore the key file from your backup (a new key cannot open them)", path, n)
		}
		if kek, err = seal.CreateFileKEK(path, a.Clock()); err != nil {
			return err
		}
		a.Log.Warn("created a new key-encryption key file; keep it safe and back it up. Production keys belong in a KMS or HSM", "key_file", path)
	} else if err != nil {
		return err
	}
	a.KEK = kek
	a.Sealer = seal.NewSealer(a.DB, kek, a.Clock)
	if err := a.Sealer.CheckKeys(ctx); err != nil {
		return err
	}
	return nil
}

// Close stops the recorder and the integrator, then closes the ledger and
// the store, in that order.
func (a *App) Close() {
	if a.Recorder != nil {
		a.Recorder.Close()
	}
	if a.Integrator != nil {
		a.Integrator.Close()
	}
	if a.Notices != nil {
		a.Notices.Close()
	}
	a.LinkMail.Close()
	if a.Cases != nil {
		a.Cases.Close()
	}
	if a.Ledger != nil {
		if err := a.Ledger.Close(); err != nil {
			a.Log.Error("closing the ledger", "err", err)
		}
	}
	if a.DB != nil {
		a.DB.Close()
	}
}

// Serve runs the HTTP server until ctx ends, then shuts down gracefully.
// ready, when not nil, is called with the address once listening.
func (a *App) Serve(ctx context.Context, ready func(addr string)) error {
	a.Cases.Start()
	ln, err := net.Listen("tcp", a.Cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", a.Cfg.Addr, err)
	}
	srv := &http.Server{
		Handler:           a.Web,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      120 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(a.Log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() {
		if a.Cfg.TLSCert != "" {
			errc <- srv.ServeTLS(ln, a.Cfg.TLSCert, a.Cfg.TLSKey)
		} else {
			errc <- srv.Serve(ln)
		}
	}()
	scheme := "http"
	if a.Cfg.TLSCert != "" {
		scheme = "https"
	}
	stopATNA, err := a.StartATNA()
	if err != nil {
		srv.Close()
		return err
	}
	defer stopATNA()
	a.Log.Info("serving", "url", scheme+"://"+ln.Addr().String())
	if ready != nil {
		ready(ln.Addr().String())
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

// Progress prints a one-line progress bar to a terminal writer.
type Progress struct {
	w     io.Writer
	label string
	last  time.Time
}

// NewProgress returns a progress printer.
func NewProgress(w io.Writer, label string) *Progress { return &Progress{w: w, label: label} }

// Update redraws the bar at most ten times a second, and at the end.
func (p *Progress) Update(done, total int) {
	if p.w == nil || total <= 0 {
		return
	}
	now := time.Now()
	if done < total && now.Sub(p.last) < 100*time.Millisecond {
		return
	}
	p.last = now
	const width = 30
	filled := width * done / total
	bar := make([]byte, width)
	for i := range bar {
		if i < filled {
			bar[i] = '#'
		} else {
			bar[i] = '.'
		}
	}
	fmt.Fprintf(p.w, "\r%s [%s] %3d%% (%d/%d)", p.label, bar, 100*done/total, done, total)
	if done >= total {
		fmt.Fprintln(p.w)
	}
}

// RotateKEK makes a new key-encryption key active, re-wraps every data key
// under it (the sealed data is not touched) and retires the keys that no
// longer wrap anything. It returns the new key id and the counts.
func (a *App) RotateKEK(ctx context.Context) (string, int, int, error) {
	before := len(a.kekIDs())
	id, err := a.KEK.AddKey(a.Clock())
	if err != nil {
		return "", 0, 0, err
	}
	moved, err := a.Sealer.Rewrap(ctx)
	if err != nil {
		return id, moved, 0, fmt.Errorf("re-wrap data keys (the old key stays in the key file; run rotate again): %w", err)
	}
	inUse, err := a.Sealer.KEKsInUse(ctx)
	if err != nil {
		return id, moved, 0, err
	}
	if err := a.KEK.RetireKeys(inUse); err != nil {
		return id, moved, 0, err
	}
	return id, moved, before + 1 - len(a.kekIDs()), nil
}

func (a *App) kekIDs() []string { return a.KEK.KeyIDs() }

// proofBundle builds the proof bundle of an access event against the
// current checkpoint, and names the event's patient.
func (a *App) proofBundle(ctx context.Context, eventID string) (*proof.Bundle, string, error) {
	o, err := a.Integrator.Opening(ctx, eventID)
	if err != nil {
		// The patient is known once the event is found (an event not yet
		// in the log): the portal tells its own patient to wait and
		// anyone else that there is no such access.
		return nil, o.PatientID, err
	}
	b, err := proof.Build(ctx, o, a.Ledger)
	return b, o.PatientID, err
}

// warnUser is the warning message at detection: a notice (and email, when
// the account has an address) that names no patient and no reason, so
// that it tells the user only that the privacy office is looking.
func (a *App) warnUser(ctx context.Context, user string) error {
	_, err := a.Notices.ToUser(ctx, user, "user/"+user, notify.KindPrivacyWarning,
		"Your recent access to patient records is being reviewed",
		"The privacy office reviews accesses to patient records that no care relationship on record explains. One or more of your recent accesses is under review. "+
			"Open a patient's record only when your work requires it. If you had a reason, the privacy office will ask you about it; you do not need to do anything now.")
	return err
}
