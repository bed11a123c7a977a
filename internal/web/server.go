package web

import (
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/trustward/trustward/internal/access"
	"github.com/trustward/trustward/internal/audit"
	"github.com/trustward/trustward/internal/audit/ingest"
	"github.com/trustward/trustward/internal/devices"
	"github.com/trustward/trustward/internal/fault"
	"github.com/trustward/trustward/internal/identity"
	"github.com/trustward/trustward/internal/ledger"
	"github.com/trustward/trustward/internal/monitor"
	"github.com/trustward/trustward/internal/monitor/cases"
	"github.com/trustward/trustward/internal/notify"
	"github.com/trustward/trustward/internal/proof"
	"github.com/trustward/trustward/internal/records"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Deps are the parts the web layer serves.
type Deps struct {
	Identity *identity.Service
	// MFA holds second factors and passkeys (nil: password sign-in only).
	MFA      *identity.MFA
	Access   *access.Service
	Records  *records.Store
	Audit    *audit.Store
	Devices  *devices.Store
	Findings *devices.Findings
	// Assessor keeps devices' SBOMs and VEX and re-evaluates findings.
	Assessor *devices.Assessor
	Reports  *monitor.Reports
	// Ingest takes access events from outside feeds (nil: the API refuses).
	Ingest *ingest.Ingester
	// LogFiles is the ledger's folder (tlog-tiles layout), LogKey its
	// checkpoint verifier key and LogLag the integrator's backlog.
	LogFiles fs.FS
	LogKey   string
	LogLag   ledgerLag
	// LogWitnesses reports the ledger's witnesses (nil: none configured).
	LogWitnesses func() []ledger.WitnessStatus
	// Notices tells patients what happened to their record (nil: none).
	Notices *notify.Service
	// Cases is privacy monitoring: explanations, alerts and the case
	// workflow (nil: not running).
	Cases *cases.Service
	// Recovery is account recovery, and LinkMail sends its links by email
	// (nil: not offered; recover.go).
	Recovery *identity.Recovery
	LinkMail linkSender
	// LogProofs gives inclusion and consistency proofs (GET /log/proof/...).
	LogProofs logProver
	// ProofBundle builds the proof bundle of an access event and returns
	// the event's patient, for the portal's access check.
	ProofBundle func(ctx context.Context, eventID string) (*proof.Bundle, string, error)
	Log         *slog.Logger
	Clock       func() time.Time
	// Health reports whether the store answers.
	Health func(ctx context.Context) error
}

// Options are the web settings.
type Options struct {
	Org          string
	TLS          bool
	SessionTTL   time.Duration
	SessionIdle  time.Duration
	MaxBodyBytes int64
	Version      string
	// SigninPerMinute and SigninBurst limit password sign-in attempts per
	// client address (ratelimit.go); SigninPerMinute 0: no limit.
	SigninPerMinute int
	SigninBurst     int
	// PublicURL is where people reach this server, for links in emails.
	PublicURL string
	// PortalSessionTTL and PortalSessionIdle bound patient portal sessions.
	PortalSessionTTL  time.Duration
	PortalSessionIdle time.Duration
}

// Server is the HTTP handler of Trustward.
type Server struct {
	Deps
	opt       Options
	pages     map[string]*template.Template
	staticMap map[string]string // logical name -> hashed path
	static    map[string][]byte // hashed path -> content
	handler   http.Handler
	// signinLimit limits password sign-ins per client address.
	signinLimit *ipLimiter
}

// New builds the server: templates are parsed once here.
func New(d Deps, opt Options) (*Server, error) {
	s := &Server{Deps: d, opt: opt, staticMap: map[string]string{}, static: map[string][]byte{}}
	s.signinLimit = newIPLimiter(opt.SigninPerMinute, opt.SigninBurst, maxLimitedAddresses, d.Clock)
	if err := s.loadStatic(); err != nil {
		return nil, err
	}
	if err := s.parseTemplates(); err != nil {
		return nil, err
	}
	s.handler = s.routes()
	return s, nil
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// loadStatic gives every static file a content-hashed name so that it can
// be cached for a year and still change with each release.
func (s *Server) loadStatic() error {
	return fs.WalkDir(staticFS, "static", func(p string, de fs.DirEntry, err error) error {
		if err != nil || de.IsDir() {
			return err
		}
		b, err := staticFS.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		name := strings.TrimPrefix(p, "static/")
		dot := strings.LastIndexByte(name, '.')
		hashed := "/static/" + name[:dot] + "." + hex.EncodeToString(sum[:6]) + name[dot:]
		s.staticMap[name] = hashed
		s.static[hashed] = b
		return nil
	})
}

func (s *Server) routes() http.Handler {
	browser := http.NewServeMux()
	s.browserRoutes(browser)
	cop := http.NewCrossOriginProtection()
	browserH := cop.Handler(s.browserHeaders(browser))

	api := http.NewServeMux()
	s.apiRoutes(api)
	fhir := http.NewServeMux()
	s.fhirRoutes(fhir)

	root := http.NewServeMux()
	root.Handle("/api/", s.apiHeaders(s.jsonOnly(api, writeProblemFn(s.Log))))
	fhirH := s.apiHeaders(s.jsonOnly(fhir, writeOutcomeFn(s.Log)))
	root.Handle("/fhir/", fhirH)
	root.Handle("/fhir", fhirH)
	root.HandleFunc("GET /healthz", s.healthz)
	s.logRoutes(root)
	s.logProofRoutes(root)
	root.HandleFunc("GET /static/", s.serveStatic)
	root.Handle("/", browserH)
	return s.recoverer(s.limitBody(s.securityHeaders(root)))
}

func writeProblemFn(log *slog.Logger) func(http.ResponseWriter, *http.Request, error) {
	return func(w http.ResponseWriter, r *http.Request, err error) { writeProblem(w, r, log, err) }
}

func writeOutcomeFn(log *slog.Logger) func(http.ResponseWriter, *http.Request, error) {
	return func(w http.ResponseWriter, r *http.Request, err error) { writeOutcome(w, r, log, err) }
}

// securityHeaders sets the headers every response carries.
func (s *Server) securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
		h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
		if s.opt.TLS {
			h.Set("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
		}
		next.ServeHTTP(w, r)
	})
}

func (s *Server) browserHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		next.ServeHTTP(w, r)
	})
}

func (s *Server) apiHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		next.ServeHTTP(w, r)
	})
}

// limitBody bounds every request body.
func (s *Server) limitBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, s.opt.MaxBodyBytes)
		next.ServeHTTP(w, r)
	})
}

// recoverer turns a panic into a 500 and a log line, never a crash.
func (s *Server) recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.Log.Error("panic in handler", "path", r.URL.Path, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
				http.Error(w, "internal error", http.StatusInternalServerError)
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// jsonOnly refuses state-changing API requests whose body is not JSON:
// form-encoded bodies (what a cross-site form can send) never reach the API.
func (s *Server) jsonOnly(next http.Handler, fail func(http.ResponseWriter, *http.Request, error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodPost, http.MethodPut, http.MethodPatch:
			ct := r.Header.Get("Content-Type")
			mt := strings.TrimSpace(strings.ToLower(strings.Split(ct, ";")[0]))
			switch mt {
			case "application/json", "application/fhir+json", "application/x-ndjson", "application/fhir+ndjson", "text/csv",
				// SBOM and VEX uploads (docs/api.md)
				"application/vnd.cyclonedx+json", "application/vnd.cyclonedx+xml", "application/spdx+json", "text/spdx", "application/xml", "text/xml":
			default:
				w.Header().Set("Accept-Post", "application/json, application/fhir+json")
				fail(w, r, &fault.Error{Kind: fault.Invalid, Msg: fmt.Sprintf("Content-Type %q is not accepted; send application/json or application/fhir+json", ct)})
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

func (s *Server) serveStatic(w http.ResponseWriter, r *http.Request) {
	b, ok := s.static[r.URL.Path]
	if !ok {
		http.NotFound(w, r)
		return
	}
	switch {
	case strings.HasSuffix(r.URL.Path, ".css"):
		w.Header().Set("Content-Type", "text/css; charset=utf-8")
	case strings.HasSuffix(r.URL.Path, ".js"):
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
	case strings.HasSuffix(r.URL.Path, ".svg"):
		w.Header().Set("Content-Type", "image/svg+xml")
	}
	w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	_, _ = w.Write(b)
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	if err := s.Health(ctx); err != nil {
		s.Log.Error("health check failed", "err", err)
		w.WriteHeader(http.StatusServiceUnavailable)
		_ = json.NewEncoder(w).Encode(map[string]string{"status": "unavailable"})
		return
	}
	_ = json.NewEncoder(w).Encode(map[string]string{"status": "ok", "version": s.opt.Version})
}

// clientOf describes the request's origin for audit events.
func clientOf(r *http.Request) identity.Client {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	return identity.Client{Address: host, UserAgent: r.UserAgent()}
}

func subjectOf(r *http.Request, u identity.User, source string) access.Subject {
	c := clientOf(r)
	return access.Subject{User: u, Address: c.Address, UserAgent: c.UserAgent, Source: source}
}
