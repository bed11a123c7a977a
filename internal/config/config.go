// Package config owns Trustward's one Config type: its defaults, an optional
// JSON file, TRUSTWARD_* environment variables and command-line flags, in
// that order of precedence, and the validation that stops start-up with one
// clear line naming the setting that is wrong.
//
// It must never log or print a secret; String redacts them.
package config

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// Config is every setting of a Trustward process.
type Config struct {
	// DataDir holds the SQLite database, the key file and (later) the ledger.
	DataDir string `json:"data"`
	// Addr is the listen address of the web server.
	Addr string `json:"addr"`
	// DB is "sqlite" (the embedded default, in DataDir) or a postgres:// URL.
	DB string `json:"db"`
	// KeyFile is the key-encryption key file; empty means DataDir/kek.json.
	KeyFile string `json:"key_file"`
	// BreakGlassTTL is how long a break-the-glass grant lasts.
	BreakGlassTTL time.Duration `json:"break_glass_ttl"`
	// SessionTTL and SessionIdle bound clinician console sessions.
	SessionTTL  time.Duration `json:"session_ttl"`
	SessionIdle time.Duration `json:"session_idle"`
	// PortalSessionTTL and PortalSessionIdle bound patient portal sessions.
	PortalSessionTTL  time.Duration `json:"portal_session_ttl"`
	PortalSessionIdle time.Duration `json:"portal_session_idle"`
	// TLSCert and TLSKey switch the server to HTTPS (and HSTS) when both set.
	TLSCert string `json:"tls_cert"`
	TLSKey  string `json:"tls_key"`
	// Demo loads the synthetic hospital before serving when the store is empty.
	Demo     bool  `json:"demo"`
	DemoSeed int64 `json:"demo_seed"`
	// DemoPatients and DemoStaff size the synthetic hospital.
	DemoPatients int `json:"demo_patients"`
	DemoStaff    int `json:"demo_staff"`
	// DemoDate is the "today" of the demo hospital (YYYY-MM-DD); empty
	// means the current UTC date. Seed, size and date fix the hospital.
	DemoDate string `json:"demo_date"`
	// DemoAccessDays is how many days of simulated access history (with
	// injected violations) the demo hospital gets, for privacy
	// monitoring; 0 loads none.
	DemoAccessDays int `json:"demo_access_days"`
	// MonitorWarn sends a user a warning notice when a privacy case about
	// them reaches the queue (docs/monitoring.md).
	MonitorWarn bool `json:"monitor_warn"`
	// LogLevel is debug, info, warn or error.
	LogLevel string `json:"log_level"`
	// MaxBodyBytes limits request bodies.
	MaxBodyBytes int64 `json:"max_body_bytes"`
	// Org is the name of the care organisation shown in the UI.
	Org string `json:"org"`
	// LedgerCheckpointInterval is how often the transparency log signs a
	// checkpoint while it grows (100 ms to 1 h).
	LedgerCheckpointInterval time.Duration `json:"ledger_checkpoint_interval"`
	// LedgerWitnessPolicy is a file holding a C2SP witness policy
	// (docs/ledger.md): checkpoints are published only once its quorum of
	// witnesses has cosigned them. Empty: no witnesses.
	LedgerWitnessPolicy string `json:"ledger_witness_policy"`
	// ATNAListen is the TCP address of the IHE ATNA syslog listener
	// (RFC 5424, RFC 6587 octet counting); empty: no listener.
	ATNAListen string `json:"atna_listen"`
	// ATNATLSCert and ATNATLSKey make the listener speak TLS (RFC 5425);
	// with ATNAClientCA, clients must present a certificate it signed.
	ATNATLSCert  string `json:"atna_tls_cert"`
	ATNATLSKey   string `json:"atna_tls_key"`
	ATNAClientCA string `json:"atna_client_ca"`
	// SMTPAddr (host:port) is the mail server for notices; empty: notices
	// are shown in the portal only. SMTPFrom is the sender address;
	// SMTPUser and SMTPPassword authenticate (over STARTTLS).
	SMTPAddr     string `json:"smtp_addr"`
	SMTPFrom     string `json:"smtp_from"`
	SMTPUser     string `json:"smtp_user"`
	SMTPPassword string `json:"smtp_password"`
	// PublicURL is where people reach this server (links in emails);
	// empty: http://ADDR.
	PublicURL string `json:"public_url"`
	// SigninPerMinute limits password sign-in attempts per client address
	// (an IPv6 /64) after a burst of SigninBurst (decision 0036); 0: no
	// limit.
	SigninPerMinute int `json:"signin_per_minute"`
	SigninBurst     int `json:"signin_burst"`
}

// Default returns the settings used when nothing else is given.
func Default() Config {
	return Config{
		DataDir:                  "./trustward-data",
		Addr:                     "127.0.0.1:8080",
		DB:                       "sqlite",
		BreakGlassTTL:            24 * time.Hour,
		LedgerCheckpointInterval: 200 * time.Millisecond,
		SessionTTL:               12 * time.Hour,
		SessionIdle:              15 * time.Minute,
		PortalSessionTTL:         24 * time.Hour,
		PortalSessionIdle:        time.Hour,
		DemoSeed:                 1,
		DemoPatients:             5000,
		DemoStaff:                300,
		DemoAccessDays:           14,
		LogLevel:                 "info",
		MaxBodyBytes:             8 << 20,
		Org:                      "Riverside General Hospital",
		SigninPerMinute:          30,
		SigninBurst:              30,
	}
}

// Error is a configuration error naming the setting at fault.
type Error struct {
	Setting string
	Msg     string
}

func (e *Error) Error() string { return fmt.Sprintf("config: %s: %s", e.Setting, e.Msg) }

// Load builds a Config from defaults, the file named by --config or
// TRUSTWARD_CONFIG, the environment and the flags in args, then validates it.
// The returned FlagSet's remaining arguments are the positional ones.
func Load(name string, args []string, getenv func(string) string, output io.Writer) (Config, []string, error) {
	c := Default()
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(output)
	file := fs.String("config", getenv("TRUSTWARD_CONFIG"), "optional JSON config `file` (env TRUSTWARD_CONFIG)")
	// Flags are registered against a scratch copy so that we can apply the
	// file and environment first and the flags last.
	var f Config
	bindFlags(fs, &f)
	if err := fs.Parse(args); err != nil {
		return c, nil, err
	}
	if *file != "" {
		if err := loadFile(*file, &c); err != nil {
			return c, nil, err
		}
	}
	if err := applyEnv(&c, getenv); err != nil {
		return c, nil, err
	}
	var ferr error
	fs.Visit(func(fl *flag.Flag) {
		if ferr == nil && fl.Name != "config" { // the file, read above
			ferr = applySetting(&c, fl.Name, fl.Value.String())
		}
	})
	if ferr != nil {
		return c, nil, ferr
	}
	if err := c.Validate(); err != nil {
		return c, nil, err
	}
	return c, fs.Args(), nil
}

type setting struct {
	name, env, usage string
}

var settings = []setting{
	{"data", "TRUSTWARD_DATA", "data `folder` (SQLite database, keys)"},
	{"addr", "TRUSTWARD_ADDR", "listen `address`"},
	{"db", "TRUSTWARD_DB", "`sqlite` or a postgres:// URL"},
	{"key-file", "TRUSTWARD_KEY_FILE", "key-encryption key `file` (default DATA/kek.json)"},
	{"break-glass-ttl", "TRUSTWARD_BREAK_GLASS_TTL", "how long a break-the-glass grant lasts"},
	{"session-ttl", "TRUSTWARD_SESSION_TTL", "absolute lifetime of a console session"},
	{"session-idle", "TRUSTWARD_SESSION_IDLE", "idle timeout of a console session"},
	{"portal-session-ttl", "TRUSTWARD_PORTAL_SESSION_TTL", "absolute lifetime of a patient portal session"},
	{"portal-session-idle", "TRUSTWARD_PORTAL_SESSION_IDLE", "idle timeout of a patient portal session"},
	{"tls-cert", "TRUSTWARD_TLS_CERT", "TLS certificate `file`"},
	{"tls-key", "TRUSTWARD_TLS_KEY", "TLS private key `file`"},
	{"demo", "TRUSTWARD_DEMO", "load the synthetic demo hospital when the store is empty"},
	{"demo-seed", "TRUSTWARD_DEMO_SEED", "seed of the demo hospital"},
	{"demo-patients", "TRUSTWARD_DEMO_PATIENTS", "number of demo patients"},
	{"demo-staff", "TRUSTWARD_DEMO_STAFF", "number of demo staff"},
	{"demo-access-days", "TRUSTWARD_DEMO_ACCESS_DAYS", "days of simulated access history the demo hospital gets for privacy monitoring (0: none)"},
	{"monitor-warn", "TRUSTWARD_MONITOR_WARN", "warn a user by notice when a privacy case about them reaches the queue"},
	{"demo-date", "TRUSTWARD_DEMO_DATE", "the demo hospital's today, YYYY-MM-DD (default: the current date)"},
	{"log-level", "TRUSTWARD_LOG_LEVEL", "debug, info, warn or error"},
	{"max-body-bytes", "TRUSTWARD_MAX_BODY_BYTES", "largest request body accepted"},
	{"org", "TRUSTWARD_ORG", "name of the care organisation"},
	{"ledger-checkpoint-interval", "TRUSTWARD_LEDGER_CHECKPOINT_INTERVAL", "how often the transparency log signs a checkpoint while it grows"},
	{"smtp-addr", "TRUSTWARD_SMTP_ADDR", "mail server `host:port` for notices to patients (default: portal only)"},
	{"smtp-from", "TRUSTWARD_SMTP_FROM", "sender `address` of notices"},
	{"smtp-user", "TRUSTWARD_SMTP_USER", "SMTP user name"},
	{"smtp-password", "TRUSTWARD_SMTP_PASSWORD", "SMTP password (prefer the environment variable to the flag)"},
	{"public-url", "TRUSTWARD_PUBLIC_URL", "the `URL` people reach this server at, for links in emails"},
	{"ledger-witness-policy", "TRUSTWARD_LEDGER_WITNESS_POLICY", "`file` with the C2SP witness policy of the transparency log (default: no witnesses)"},
	{"atna-listen", "TRUSTWARD_ATNA_LISTEN", "listen `address` of the IHE ATNA syslog receiver (default: none)"},
	{"atna-tls-cert", "TRUSTWARD_ATNA_TLS_CERT", "TLS certificate `file` of the ATNA receiver"},
	{"atna-tls-key", "TRUSTWARD_ATNA_TLS_KEY", "TLS private key `file` of the ATNA receiver"},
	{"atna-client-ca", "TRUSTWARD_ATNA_CLIENT_CA", "CA `file`: ATNA clients must present a certificate it signed"},
	{"signin-per-minute", "TRUSTWARD_SIGNIN_PER_MINUTE", "password sign-in attempts a client address (IPv6: its /64) may make per minute after the burst (0: no limit)"},
	{"signin-burst", "TRUSTWARD_SIGNIN_BURST", "password sign-in attempts a client address may make at once"},
}

func bindFlags(fs *flag.FlagSet, f *Config) {
	d := Default()
	for _, s := range settings {
		usage := s.usage + " (env " + s.env + ")"
		switch s.name {
		case "demo":
			fs.Bool(s.name, d.Demo, usage)
		case "monitor-warn":
			fs.Bool(s.name, d.MonitorWarn, usage)
		default:
			fs.String(s.name, defaultString(d, s.name), usage)
		}
	}
}

func defaultString(d Config, name string) string {
	switch name {
	case "data":
		return d.DataDir
	case "addr":
		return d.Addr
	case "db":
		return d.DB
	case "break-glass-ttl":
		return d.BreakGlassTTL.String()
	case "session-ttl":
		return d.SessionTTL.String()
	case "session-idle":
		return d.SessionIdle.String()
	case "portal-session-ttl":
		return d.PortalSessionTTL.String()
	case "portal-session-idle":
		return d.PortalSessionIdle.String()
	case "demo-seed":
		return strconv.FormatInt(d.DemoSeed, 10)
	case "demo-patients":
		return strconv.Itoa(d.DemoPatients)
	case "demo-staff":
		return strconv.Itoa(d.DemoStaff)
	case "demo-access-days":
		return strconv.Itoa(d.DemoAccessDays)
	case "log-level":
		return d.LogLevel
	case "max-body-bytes":
		return strconv.FormatInt(d.MaxBodyBytes, 10)
	case "org":
		return d.Org
	case "ledger-checkpoint-interval":
		return d.LedgerCheckpointInterval.String()
	case "signin-per-minute":
		return strconv.Itoa(d.SigninPerMinute)
	case "signin-burst":
		return strconv.Itoa(d.SigninBurst)
	}
	return ""
}

func applyEnv(c *Config, getenv func(string) string) error {
	for _, s := range settings {
		if v := getenv(s.env); v != "" {
			if err := applySetting(c, s.name, v); err != nil {
				var ce *Error
				if errors.As(err, &ce) {
					ce.Setting = s.env
				}
				return err
			}
		}
	}
	return nil
}

func applySetting(c *Config, name, v string) error {
	bad := func(msg string) error { return &Error{Setting: "--" + name, Msg: msg} }
	switch name {
	case "data":
		c.DataDir = v
	case "addr":
		c.Addr = v
	case "db":
		c.DB = v
	case "key-file":
		c.KeyFile = v
	case "tls-cert":
		c.TLSCert = v
	case "tls-key":
		c.TLSKey = v
	case "log-level":
		c.LogLevel = v
	case "org":
		c.Org = v
	case "ledger-witness-policy":
		c.LedgerWitnessPolicy = v
	case "atna-listen":
		c.ATNAListen = v
	case "atna-tls-cert":
		c.ATNATLSCert = v
	case "atna-tls-key":
		c.ATNATLSKey = v
	case "atna-client-ca":
		c.ATNAClientCA = v
	case "smtp-addr":
		c.SMTPAddr = v
	case "smtp-from":
		c.SMTPFrom = v
	case "smtp-user":
		c.SMTPUser = v
	case "smtp-password":
		c.SMTPPassword = v
	case "public-url":
		c.PublicURL = v
	case "ledger-checkpoint-interval":
		d, err := time.ParseDuration(v)
		if err != nil {
			return bad(fmt.Sprintf("%q is not a duration such as 200ms or 1s", v))
		}
		c.LedgerCheckpointInterval = d
	case "demo-date":
		if _, err := time.Parse("2006-01-02", v); err != nil {
			return bad(fmt.Sprintf("%q is not a date YYYY-MM-DD", v))
		}
		c.DemoDate = v
	case "demo", "monitor-warn":
		b, err := strconv.ParseBool(v)
		if err != nil {
			return bad(fmt.Sprintf("%q is not true or false", v))
		}
		if name == "demo" {
			c.Demo = b
		} else {
			c.MonitorWarn = b
		}
	case "break-glass-ttl", "session-ttl", "session-idle", "portal-session-ttl", "portal-session-idle":
		d, err := time.ParseDuration(v)
		if err != nil {
			return bad(fmt.Sprintf("%q is not a duration such as 24h or 15m", v))
		}
		switch name {
		case "break-glass-ttl":
			c.BreakGlassTTL = d
		case "session-ttl":
			c.SessionTTL = d
		case "portal-session-ttl":
			c.PortalSessionTTL = d
		case "portal-session-idle":
			c.PortalSessionIdle = d
		default:
			c.SessionIdle = d
		}
	case "demo-seed", "demo-patients", "demo-staff", "demo-access-days", "max-body-bytes", "signin-per-minute", "signin-burst":
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return bad(fmt.Sprintf("%q is not a whole number", v))
		}
		switch name {
		case "demo-seed":
			c.DemoSeed = n
		case "demo-patients":
			c.DemoPatients = int(n)
		case "demo-staff":
			c.DemoStaff = int(n)
		case "demo-access-days":
			c.DemoAccessDays = int(n)
		case "signin-per-minute":
			c.SigninPerMinute = int(n)
		case "signin-burst":
			c.SigninBurst = int(n)
		default:
			c.MaxBodyBytes = n
		}
	default:
		return bad("unknown setting")
	}
	return nil
}

func loadFile(path string, c *Config) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return &Error{Setting: "--config", Msg: err.Error()}
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return &Error{Setting: "--config", Msg: fmt.Sprintf("%s is not a JSON object: %v", path, err)}
	}
	for k, v := range raw {
		name := strings.ReplaceAll(k, "_", "-")
		known := false
		for _, s := range settings {
			if s.name == name {
				known = true
			}
		}
		if !known {
			return &Error{Setting: "--config", Msg: fmt.Sprintf("%s: unknown setting %q", path, k)}
		}
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			// Numbers and booleans are accepted as their JSON text.
			s = string(v)
		}
		if err := applySetting(c, name, s); err != nil {
			return &Error{Setting: "--config " + path + ": " + k, Msg: err.(*Error).Msg}
		}
	}
	return nil
}

// Validate checks every setting and returns the first problem found.
func (c Config) Validate() error {
	if strings.TrimSpace(c.DataDir) == "" {
		return &Error{"--data", "must name a folder"}
	}
	host, port, err := net.SplitHostPort(c.Addr)
	if err != nil {
		return &Error{"--addr", fmt.Sprintf("%q is not host:port (%v)", c.Addr, err)}
	}
	if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
		return &Error{"--addr", fmt.Sprintf("port %q is not a number from 0 to 65535", port)}
	}
	_ = host
	if c.DB != "sqlite" {
		u, err := url.Parse(c.DB)
		if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
			return &Error{"--db", "must be sqlite or a postgres:// URL"}
		}
	}
	if c.BreakGlassTTL < time.Minute || c.BreakGlassTTL > 7*24*time.Hour {
		return &Error{"--break-glass-ttl", "must be between 1m and 168h"}
	}
	if c.SessionTTL < time.Minute {
		return &Error{"--session-ttl", "must be at least 1m"}
	}
	if c.SessionIdle < time.Minute || c.SessionIdle > c.SessionTTL {
		return &Error{"--session-idle", "must be at least 1m and no longer than --session-ttl"}
	}
	if c.PortalSessionTTL < time.Minute {
		return &Error{"--portal-session-ttl", "must be at least 1m"}
	}
	if c.PortalSessionIdle < time.Minute || c.PortalSessionIdle > c.PortalSessionTTL {
		return &Error{"--portal-session-idle", "must be at least 1m and no longer than --portal-session-ttl"}
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return &Error{"--tls-cert", "--tls-cert and --tls-key must be given together"}
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		return &Error{"--log-level", fmt.Sprintf("%q is not debug, info, warn or error", c.LogLevel)}
	}
	if c.MaxBodyBytes < 1024 || c.MaxBodyBytes > 1<<30 {
		return &Error{"--max-body-bytes", "must be between 1024 and 1073741824"}
	}
	if c.DemoPatients < 1 || c.DemoPatients > 1_000_000 {
		return &Error{"--demo-patients", "must be between 1 and 1000000"}
	}
	if c.SMTPAddr != "" {
		if _, _, err := net.SplitHostPort(c.SMTPAddr); err != nil {
			return &Error{"--smtp-addr", fmt.Sprintf("%q is not host:port", c.SMTPAddr)}
		}
		if c.SMTPFrom == "" {
			return &Error{"--smtp-from", "is required with --smtp-addr"}
		}
	}
	if c.PublicURL != "" {
		if u, err := url.Parse(c.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return &Error{"--public-url", fmt.Sprintf("%q is not an http(s) URL", c.PublicURL)}
		}
	}
	if c.LedgerCheckpointInterval < 100*time.Millisecond || c.LedgerCheckpointInterval > time.Hour {
		return &Error{"--ledger-checkpoint-interval", "must be between 100ms and 1h"}
	}
	if c.DemoStaff < 10 || c.DemoStaff > 100_000 {
		return &Error{"--demo-staff", "must be between 10 and 100000"}
	}
	if c.DemoAccessDays != 0 && (c.DemoAccessDays < 4 || c.DemoAccessDays > 90) {
		return &Error{"--demo-access-days", "must be 0 (none) or between 4 and 90"}
	}
	if c.SigninPerMinute < 0 || c.SigninPerMinute > 60_000 {
		return &Error{"--signin-per-minute", "must be between 0 (no limit) and 60000"}
	}
	if c.SigninBurst < 1 || c.SigninBurst > 10_000 {
		return &Error{"--signin-burst", "must be between 1 and 10000"}
	}
	if err := c.validateATNA(); err != nil {
		return err
	}
	return nil
}

// KeyPath returns the key file path, defaulting to DataDir/kek.json.
func (c Config) KeyPath() string {
	if c.KeyFile != "" {
		return c.KeyFile
	}
	return c.DataDir + string(os.PathSeparator) + "kek.json"
}

// String describes the configuration for the start-up log with secrets (a
// password in the database URL) redacted.
func (c Config) String() string {
	db := c.DB
	if u, err := url.Parse(db); err == nil && u.User != nil {
		if _, ok := u.User.Password(); ok {
			u.User = url.UserPassword(u.User.Username(), "REDACTED")
			db = u.String()
		}
	}
	return fmt.Sprintf("data=%s addr=%s db=%s key_file=%s break_glass_ttl=%s session_ttl=%s session_idle=%s portal_session_ttl=%s portal_session_idle=%s tls=%t demo=%t log_level=%s",
		c.DataDir, c.Addr, db, c.KeyPath(), c.BreakGlassTTL, c.SessionTTL, c.SessionIdle, c.PortalSessionTTL, c.PortalSessionIdle, c.TLSCert != "", c.Demo, c.LogLevel)
}

func (c Config) validateATNA() error {
	if c.ATNAListen == "" {
		if c.ATNATLSCert != "" || c.ATNATLSKey != "" || c.ATNAClientCA != "" {
			return &Error{"--atna-listen", "is required when the ATNA TLS settings are given"}
		}
		return nil
	}
	if _, port, err := net.SplitHostPort(c.ATNAListen); err != nil {
		return &Error{"--atna-listen", fmt.Sprintf("%q is not host:port (%v)", c.ATNAListen, err)}
	} else if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
		return &Error{"--atna-listen", fmt.Sprintf("port %q is not a number from 0 to 65535", port)}
	}
	if (c.ATNATLSCert == "") != (c.ATNATLSKey == "") {
		return &Error{"--atna-tls-cert", "--atna-tls-cert and --atna-tls-key must be given together"}
	}
	if c.ATNAClientCA != "" && c.ATNATLSCert == "" {
		return &Error{"--atna-client-ca", "client certificates need TLS: give --atna-tls-cert and --atna-tls-key too"}
	}
	return nil
}
