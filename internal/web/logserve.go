package web

import (
	"context"
	"errors"
	"io/fs"
	"net/http"
	"strings"

	"github.com/trustward/trustward/internal/audit"
)

// Transparency log, read-only, in the C2SP tlog-tiles layout: the ledger's
// folder is that layout on disk. Checkpoints change, full tiles never do,
// partial tiles are replaced as the tree grows.
func (s *Server) logRoutes(m *http.ServeMux) {
	m.HandleFunc("GET /log/checkpoint", s.serveLogFile)
	m.HandleFunc("GET /log/tile/", s.serveLogFile)
	m.HandleFunc("GET /log/key", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "public, max-age=86400")
		_, _ = w.Write([]byte(s.LogKey + "\n"))
	})
}

func (s *Server) serveLogFile(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimPrefix(r.URL.Path, "/log/")
	if s.LogFiles == nil || !fs.ValidPath(name) || !(name == "checkpoint" || strings.HasPrefix(name, "tile/")) {
		http.NotFound(w, r)
		return
	}
	b, err := fs.ReadFile(s.LogFiles, name)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrInvalid) {
		http.NotFound(w, r)
		return
	}
	if err != nil {
		s.Log.Error("reading the ledger", "path", name, "err", err)
		http.Error(w, "unavailable", http.StatusServiceUnavailable)
		return
	}
	switch {
	case name == "checkpoint":
		w.Header().Set("Cache-Control", "no-cache")
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	case strings.Contains(name, ".p/"):
		w.Header().Set("Cache-Control", "public, max-age=60")
		w.Header().Set("Content-Type", "application/octet-stream")
	default:
		w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		w.Header().Set("Content-Type", "application/octet-stream")
	}
	w.Header().Set("Access-Control-Allow-Origin", "*") // anyone may verify
	_, _ = w.Write(b)
}

// ledgerLag is what the office page shows of the integrator.
type ledgerLag = func(ctx context.Context) (audit.Lag, error)
