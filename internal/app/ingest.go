package app

import (
	"crypto/tls"

	"github.com/trustward/trustward/internal/audit/ingest"
)

// StartATNA starts the IHE ATNA syslog listener when atna_listen is set
// and returns the function that stops it (storing what was received); it
// does nothing otherwise.
func (a *App) StartATNA() (stop func(), err error) {
	if a.Cfg.ATNAListen == "" {
		return func() {}, nil
	}
	var tlsCfg *tls.Config
	if a.Cfg.ATNATLSCert != "" {
		if tlsCfg, err = ingest.ATNATLSConfig(a.Cfg.ATNATLSCert, a.Cfg.ATNATLSKey, a.Cfg.ATNAClientCA); err != nil {
			return nil, err
		}
	}
	l, err := a.Ingest.ListenATNA(ingest.ATNAOptions{Addr: a.Cfg.ATNAListen, TLS: tlsCfg})
	if err != nil {
		return nil, err
	}
	return func() {
		if err := l.Close(); err != nil {
			a.Log.Warn("closing the ATNA listener", "err", err)
		}
	}, nil
}
