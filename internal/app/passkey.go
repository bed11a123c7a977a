package app

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"strings"

	"github.com/trustward/trustward/internal/config"
	"github.com/trustward/trustward/internal/fault"
	"github.com/trustward/trustward/internal/identity"
	"github.com/trustward/trustward/internal/notify"
	"github.com/trustward/trustward/internal/seal"
)

// passkeyConfig names the WebAuthn relying party: the host of public_url,
// or, when public_url is not set (development), "localhost" at the
// listen port, since a passkey cannot be bound to an IP address. See
// docs/decisions/0029-passkeys.md.
func passkeyConfig(cfg config.Config) (identity.PasskeyConfig, error) {
	pc := identity.PasskeyConfig{RPName: cfg.Org}
	if cfg.PublicURL != "" {
		u, err := url.Parse(strings.TrimSuffix(cfg.PublicURL, "/"))
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Hostname() == "" {
			return pc, fault.InvalidField("public_url", "must be an http(s) URL such as https://trust.example.org")
		}
		pc.RPID = u.Hostname()
		pc.Origins = []string{u.Scheme + "://" + u.Host}
		return pc, nil
	}
	_, port, err := net.SplitHostPort(cfg.Addr)
	if err != nil {
		return pc, fault.InvalidField("addr", "must be host:port")
	}
	scheme := "http"
	if cfg.TLSCert != "" {
		scheme = "https"
	}
	pc.RPID = "localhost"
	pc.Origins = []string{scheme + "://localhost:" + port}
	return pc, nil
}

// recoveryCodeUsed tells a patient, in the portal and by email, that one
// of their recovery codes was used: a code they did not use means a
// stolen code sheet. Staff accounts have no notices yet (logged only).
func (a *App) recoveryCodeUsed(ctx context.Context, use identity.RecoveryCodeUse) {
	u, err := a.Identity.UserByID(ctx, use.UserID)
	if err != nil || u.PatientID == "" || a.Notices == nil {
		a.Log.Info("recovery code used", "user", use.UserID, "remaining", use.Remaining)
		return
	}
	body := fmt.Sprintf("One of your recovery codes was used to sign in on %s. You have %d left. If this was not you, make new recovery codes under Account security and tell the clinic.",
		use.At.UTC().Format("2 January 2006 at 15:04 UTC"), use.Remaining)
	if _, err := a.Notices.ToPatient(ctx, u.PatientID, seal.PatientSubject(u.PatientID), notify.KindSecurity, "A recovery code was used", body); err != nil {
		a.Log.Error("notifying a recovery code use", "err", err)
	}
}
