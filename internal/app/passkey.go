package app

import (
	"net"
	"net/url"
	"strings"

	"github.com/trustward/trustward/internal/config"
	"github.com/trustward/trustward/internal/fault"
	"github.com/trustward/trustward/internal/identity"
)

// passkeyConfig names the WebAuthn relying party: the host of public_url,
// or, when public_url is not set (development), "localhost" at the
// listen port, since a passkey cannot be bound to an IP address. See
// docs/decisions/0021-passkeys.md.
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
